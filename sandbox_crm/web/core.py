"""The CRM blueprint, the per-request sandbox context and the helpers every CRM view shares."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from sandbox_crm.areas import enabled_areas, nav_links
from sandbox_crm.clock import sandbox_now, sandbox_today
from sandbox_crm.customers.facts import ensure_current as ensure_read_models
from sandbox_crm.i18n import N_
from sandbox_crm.info import SandboxInfo, sandbox_info
from sandbox_crm.models import StaffUser
from sandbox_crm.operations import OperationError, record_refusal
from sandbox_crm.query import RowPage, select_rows
from sandbox_crm.sources import get_source
from sandbox_crm.web import i18n as crm_i18n
from sandbox_crm.web.presentation import day, helpers

READ_ONLY_MESSAGE = N_("This sandbox is read-only: the attempt has been submitted.")
RESOLVER_KEY = "sandbox_crm.resolver"

T = TypeVar("T")


@dataclass(frozen=True)
class CrmContext:
    """What the platform tells the CRM about the current request's attempt and trainee."""

    session: Session
    actor_id: int
    read_only: bool
    attempt_label: str
    back_url: str
    user_label: str = ""


Resolver = Callable[[int], CrmContext]

bp = Blueprint(
    "crm",
    __name__,
    url_prefix="/attempts/<int:attempt_id>/crm",
    template_folder="templates",
    static_folder="static",
)


class CrmNotFound(NotFound):
    """A sandbox-local record (customer, report, export) that does not exist."""

    def __init__(self, what: str) -> None:
        super().__init__(
            crm_i18n.translate("There is no %(what)s with this number in this CRM.", what=what)
        )
        self.what = what


def register(app: Flask, resolver: Resolver) -> None:
    """Mount the CRM under /attempts/<id>/crm; ``resolver`` maps an attempt id to its context."""
    app.extensions[RESOLVER_KEY] = resolver
    crm_i18n.install(app)
    app.register_blueprint(bp)
    for area in enabled_areas():
        if area.has_templates:
            # A blueprint without routes: it only adds the area's templates/ folder.
            templates = Blueprint(
                f"crm_{area.name}", f"sandbox_crm.{area.name}", template_folder="templates"
            )
            app.register_blueprint(templates)


@bp.url_value_preprocessor
def _pull_attempt_id(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    g.crm_attempt_id = values.pop("attempt_id") if values else None


@bp.url_defaults
def _add_attempt_id(_endpoint: str, values: dict[str, Any]) -> None:
    if "attempt_id" not in values and g.get("crm_attempt_id") is not None:
        values["attempt_id"] = g.crm_attempt_id


@bp.before_request
def _load_context() -> Response | None:
    """Resolve the attempt once per request; refuse every POST to a frozen sandbox."""
    if request.endpoint == "crm.static":
        return None
    resolver: Resolver = current_app.extensions[RESOLVER_KEY]
    g.crm = resolver(g.crm_attempt_id)
    if request.method == "POST" and g.crm.read_only:
        flash(crm_i18n.translate(READ_ONLY_MESSAGE), "error")
        return redirect(_safe_referrer())
    return None


def _safe_referrer() -> str:
    """The page the refused form was on, if it is inside this CRM; the CRM home otherwise."""
    home = url_for("crm.home")
    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    if parts.netloc == request.host and parts.path.startswith(home):
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return home


@bp.errorhandler(CrmNotFound)
def _not_found(error: CrmNotFound) -> tuple[str, int]:
    return render_template("crm/not_found.html", what=error.what, message=error.description), 404


def ctx() -> CrmContext:
    """The current request's CRM context."""
    return g.crm


def db() -> Session:
    """The current attempt's sandbox session."""
    return g.crm.session


def actor() -> StaffUser:
    """The staff user the trainee acts as (loaded once per request)."""
    if "crm_actor" not in g:
        user = g.crm.session.get(StaffUser, g.crm.actor_id)
        if user is None:
            raise CrmNotFound("staff user")
        g.crm_actor = user
    return g.crm_actor


def get_or_404(model: type[T], record_id: int, what: str) -> T:
    """The record with this id in the sandbox, or the CRM's own 404 page."""
    record = db().get(model, record_id)
    if record is None or getattr(record, "is_deleted", False):
        raise CrmNotFound(what)
    return record


def url_with_args(**changes: Any) -> str:
    """The current page's URL with some query arguments replaced (None removes one)."""
    args = request.args.copy()
    for key, value in changes.items():
        args.pop(key, None)
        if value is not None and value != "":
            args[key] = str(value)
    query = urlencode(list(args.items(multi=True)))
    return f"{request.path}?{query}" if query else request.path


def done(message: str, endpoint: str, **values: Any) -> Response:
    """Commit the operation's changes, flash a success message and redirect (post/redirect/get)."""
    db().commit()
    flash(message, "success")
    return redirect(url_for(endpoint, **values))


def failed(template: str, error: str | None = None, **context: Any) -> tuple[str, int]:
    """Roll back a refused change and re-render its form, with the reason, as HTTP 400."""
    db().rollback()
    return render_template(template, error=crm_i18n.translated(error) or None, **context), 400


def refused(
    operation: str,
    refusal: OperationError,
    template: str,
    error: str | None = None,
    *,
    entity: tuple[str, int | None] | None = None,
    **context: Any,
) -> tuple[str, int]:
    """Like ``failed`` for a change an operation refused: the refusal is audited and committed.

    ``operation`` is the operation's registered name (e.g. share_report), ``entity`` what it was
    attempted on; the assessor sees the refused action in the attempt's timeline.
    """
    session = db()
    record_refusal(session, actor(), operation, refusal, entity)
    session.commit()
    return render_template(template, error=crm_i18n.translated(error) or None, **context), 400


@dataclass(frozen=True)
class RecordPage:
    """A record's page whose small forms each post one step: one operation on the record.

    ``context(record_id, **forms)`` builds the page (forms passed in replace the fresh ones);
    ``entity`` is the record's type in the audit trail; ``endpoint`` and ``id_arg`` lead back to
    the page after a step.
    """

    template: str
    context: Callable[..., dict[str, Any]]
    entity: str
    endpoint: str
    id_arg: str

    def render(self, record_id: int) -> str:
        """The page with fresh forms."""
        return render_template(self.template, **self.context(record_id))

    def post_step(
        self,
        record_id: int,
        operation: str,
        forms: Mapping[str, Any],
        run: Callable[[], Any],
        message: str,
    ) -> Response | tuple[str, int]:
        """Validate the posted form, ``run`` the operation and go back to the page.

        ``forms`` is the posted form under its name in the page.
        """
        return submit_form(
            next(iter(forms.values())),
            operation,
            run,
            message,
            template=self.template,
            context=lambda: self.context(record_id, **forms),
            entity=(self.entity, record_id),
            endpoint=self.endpoint,
            **{self.id_arg: record_id},
        )


def submit_form(
    form: Any,
    operation: str,
    run: Callable[[], Any],
    message: str,
    *,
    template: str,
    context: Callable[[], dict[str, Any]],
    endpoint: str,
    entity: tuple[str, int | None] | None = None,
    **values: Any,
) -> Response | tuple[str, int]:
    """Validate ``form``, ``run`` the operation and redirect to ``endpoint`` with ``message``.

    A form that fails its own checks shows ``template`` again with ``context()`` (400); an
    operation's refusal is audited (against ``entity``) and shown there the same way.
    """
    if not form.validate_on_submit():
        return failed(template, **context())
    try:
        run()
    except OperationError as exc:
        page = context()
        return refused(operation, exc, template, exc.message, entity=entity, **page)
    return done(crm_i18n.translate(message), endpoint, **values)


MAX_PAGE = 1_000_000
"""No list has more pages; a larger ?page= shows the last page instead of overflowing SQL."""


def page_number(text: str | None) -> int:
    """A page number from a query string: 1 for anything not a positive whole number, capped."""
    text = (text or "").strip()
    if not text.isascii() or not text.isdigit():
        return 1
    if len(text) > len(str(MAX_PAGE)):
        return MAX_PAGE
    return min(max(int(text), 1), MAX_PAGE)


COUNT_CAP = 10_000
"""Lists count matching rows up to this many; past it they say "more than 10,000"."""


@dataclass(frozen=True)
class Pager:
    """Page numbers for a list of ``total`` rows shown ``per_page`` at a time.

    ``capped``: counting stopped at ``total`` (more rows match); the pages run on past the last
    one counted, each reached by "Next".
    """

    page: int
    per_page: int
    total: int
    capped: bool = False

    @staticmethod
    def requested_page() -> int:
        """The page number in ``?page=`` (1 if missing or not a number)."""
        return page_number(request.args.get("page"))

    @property
    def pages(self) -> int:
        """How many pages there are (at least one); with a capped count, the pages counted."""
        return max(1, -(-self.total // self.per_page), self.page if self.capped else 1)

    @property
    def has_next(self) -> bool:
        """Whether a page follows this one."""
        return self.page < self.pages or self.capped

    @property
    def offset(self) -> int:
        """Rows to skip before this page."""
        return (self.page - 1) * self.per_page

    @property
    def first_row(self) -> int:
        """1-based number of the first row shown (0 when there are none)."""
        return 0 if self.total == 0 else self.offset + 1

    @property
    def last_row(self) -> int:
        """1-based number of the last row shown."""
        return min(self.offset + self.per_page, self.total)

    def window(self, around: int = 2) -> list[int | None]:
        """Page numbers to link, with None for a gap: 1 … 4 5 [6] 7 8 … 20."""
        wanted = {1, self.pages, *range(self.page - around, self.page + around + 1)}
        numbers = sorted(n for n in wanted if 1 <= n <= self.pages)
        result: list[int | None] = []
        for number in numbers:
            if result and number - (result[-1] or 0) > 1:
                result.append(None)
            result.append(number)
        return result


def keep_read_models_current(session: Session) -> None:
    """Bring the sandbox's read models to today's date if the clock has moved (not if frozen)."""
    if not ctx().read_only and ensure_read_models(session):
        session.commit()


def page_of_rows(
    source: str,
    *,
    where: Any,
    columns: list[str],
    sort: list[tuple[str, str]],
    per_page: int,
    restrict: Any = None,
) -> tuple[RowPage, Pager]:
    """One page of a source's rows for a list view (only that page is loaded) and its pager.

    An unfiltered list is counted exactly (one pass over an index); a filtered one up to
    COUNT_CAP rows, unless the page asked for lies past it.
    """
    session = db()
    keep_read_models_current(session)
    as_of = sandbox_today(session)
    number = Pager.requested_page()
    filtered = where is not None or restrict is not None

    def fetch(page: int) -> RowPage:
        offset = (page - 1) * per_page
        cap = COUNT_CAP if filtered and offset + per_page <= COUNT_CAP else None
        return select_rows(
            session,
            source,
            where=where,
            columns=columns,
            sort=sort,
            as_of=as_of,
            limit=per_page,
            offset=offset,
            restrict=restrict,
            count_limit=cap,
        )

    rows = fetch(number)
    pager = Pager(number, per_page, rows.total, rows.total_capped)
    if number > pager.pages:
        pager = Pager(pager.pages, per_page, rows.total)
        rows = fetch(pager.page)
    if rows.total_capped:
        pager = Pager(pager.page, per_page, COUNT_CAP, capped=True)
    return rows, pager


def sort_from_request(allowed: tuple[str, ...], default: tuple[str, str]) -> tuple[str, str]:
    """The (field, direction) asked for by ``?sort=&dir=``, if sortable; the default otherwise."""
    field = request.args.get("sort", "")
    direction = request.args.get("dir", "asc")
    if field not in allowed:
        return default
    return field, "desc" if direction == "desc" else "asc"


@dataclass(frozen=True)
class ListFilter:
    """A select filter of a list page: its query argument, label, choices and current value."""

    arg: str
    label: str
    choices: tuple[str, ...]
    value: str


def choice_filters(
    source_name: str, fields: Mapping[str, str], labels: Mapping[str, str] | None = None
) -> tuple[list[ListFilter], list[dict[str, Any]]]:
    """The select filters (query argument -> field) with the values asked for, and their conditions.

    A value that is not one of the field's choices is ignored. The label is the field's own
    unless ``labels`` gives a shorter one for the argument.
    """
    source = get_source(source_name)
    filters: list[ListFilter] = []
    conditions: list[dict[str, Any]] = []
    for arg, field_name in fields.items():
        field = source.fields[field_name]
        value = request.args.get(arg, "")
        if value not in field.choices:
            value = ""
        label = crm_i18n.translated((labels or {}).get(arg, field.label))
        filters.append(ListFilter(arg, label, field.choices, value))
        if value:
            conditions.append({"field": field_name, "op": "eq", "value": value})
    return filters, conditions


def search_text() -> str:
    """The list's search text ``?q=``: control characters dropped, trimmed to 100 characters.

    No name, number or address holds a control character, and the search index cannot take a
    NUL in its query text.
    """
    text = "".join(c for c in request.args.get("q", "") if c.isprintable() or c == " ")
    return text.strip()[:100]


@dataclass(frozen=True)
class ListPage:
    """What a list page shows: one page of rows, its pager and the sort in force."""

    rows: list[dict[str, Any]]
    pager: Pager
    sort_field: str
    sort_dir: str


def list_page(
    source: str,
    conditions: list[dict[str, Any]],
    *,
    columns: list[str],
    sortable: tuple[str, ...],
    default_sort: tuple[str, str],
    per_page: int,
    restrict: Any = None,
) -> ListPage:
    """The page of a source's rows matching all ``conditions``, sorted as ``?sort=&dir=`` asks.

    ``restrict`` is an extra SQL condition (e.g. a search index's matches).
    """
    sort_field, sort_dir = sort_from_request(sortable, default_sort)
    page, pager = page_of_rows(
        source,
        where={"all": conditions} if conditions else None,
        columns=columns,
        sort=[(sort_field, sort_dir)],
        per_page=per_page,
        restrict=restrict,
    )
    return ListPage(page.rows, pager, sort_field, sort_dir)


def search_condition(q: str, fields: Iterable[str]) -> dict[str, Any]:
    """The condition "any of ``fields`` contains ``q``" of a list's search box."""
    return {"any": [{"field": name, "op": "contains", "value": q} for name in fields]}


@dataclass(frozen=True)
class ListView:
    """A list page over one source: select filters, columns, sortable fields and default sort.

    ``filters`` maps a query argument to the field it filters (see ``choice_filters``).
    """

    source: str
    filters: Mapping[str, str]
    columns: Sequence[str]
    sortable: tuple[str, ...]
    default_sort: tuple[str, str]
    per_page: int = 50

    def context(self, extra: Iterable[dict[str, Any]] = (), restrict: Any = None) -> dict[str, Any]:
        """The template's ``listing``, ``filters`` and ``filtered`` for the filters asked for.

        ``extra`` conditions (the page's other filters, its search) and ``restrict`` (an SQL
        condition, e.g. a search index's matches) narrow the rows as well.
        """
        filters, conditions = choice_filters(self.source, self.filters)
        conditions.extend(extra)
        listing = list_page(
            self.source,
            conditions,
            columns=list(self.columns),
            sortable=self.sortable,
            default_sort=self.default_sort,
            per_page=self.per_page,
            restrict=restrict,
        )
        filtered = bool(conditions) or restrict is not None
        return {"listing": listing, "filters": filters, "filtered": filtered}


def clock_reading(info: SandboxInfo | None = None) -> tuple[str, str]:
    """The sandbox clock as (date, time) for the top bar; a stepped clock shows only the date.

    Reading a stepped clock would advance it, so a page view uses ``sandbox_today`` there.
    """
    session = db()
    info = info if info is not None else sandbox_info(session)
    if info.clock_mode == "stepped":
        return day(sandbox_today(session)), ""
    now = sandbox_now(session)
    return day(now), f"{now:%H:%M}"


@bp.context_processor
def _template_context() -> dict[str, Any]:
    if "crm" not in g:
        return {}
    info = sandbox_info(db())
    clock_date, clock_time = clock_reading(info)
    return {
        "crm": g.crm,
        "company": info.company or "Sandbox CRM",
        "crm_nav": nav_links(),
        "clock_date": clock_date,
        "clock_time": clock_time,
        "staff": actor(),
        "url_with_args": url_with_args,
        **helpers(),
    }
