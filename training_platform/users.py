"""Centre admin pages for people: find, invite, import from CSV, change role, deactivate, reset."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user

from sandbox_crm.i18n import N_
from training_platform import cohorts_service, users_service
from training_platform.db import get_session
from training_platform.errors import ServiceError
from training_platform.i18n import translated
from training_platform.models import Role, User
from training_platform.navigation import add_nav_item
from training_platform.pagination import paginate
from training_platform.security import role_required

bp = Blueprint("users", __name__, url_prefix="/centre/users")
add_nav_item(bp, "users.index", N_("People"), (Role.CENTRE_ADMIN,), section=N_("Centre"), order=60)

MAX_CSV_BYTES = 200 * 1024


def _user_or_404(user_id: int) -> User:
    user = users_service.centre_user(get_session(), current_user.centre_id, user_id)
    if user is None:
        abort(404)
    return user


def _open_cohorts(session) -> list:
    return cohorts_service.list_cohorts(session, current_user.centre_id, include_archived=False)


def _cohort_ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit() and len(v) < 18]


def _errors(error: ServiceError) -> list[str]:
    return [translated(message) for message in error.messages]


def set_password_url(user: User, purpose: str) -> str:
    """The full address of a user's set-password link, to put in an e-mail."""
    token = users_service.make_token(user, purpose)
    endpoint = "auth.setup" if purpose == users_service.INVITE else "auth.reset"
    return url_for(endpoint, token=token, _external=True)


@bp.get("")
@role_required(Role.CENTRE_ADMIN)
def index():
    """The centre's people, searchable and filtered by role, cohort and status."""
    session = get_session()
    cohort_arg = request.args.get("cohort", "")
    cohort_id = int(cohort_arg) if cohort_arg.isdigit() and len(cohort_arg) < 18 else None
    stmt = users_service.users_query(
        current_user.centre_id,
        search=request.args.get("q", "")[:200],
        role=request.args.get("role", ""),
        cohort_id=cohort_id,
        status=request.args.get("status", ""),
    )
    page = paginate(session, stmt, request.args.get("page", 1, type=int) or 1, per_page=25)
    return render_template(
        "centre/users/index.html",
        page=page,
        roles=list(Role),
        cohorts=cohorts_service.list_cohorts(session, current_user.centre_id),
        filters={
            "q": request.args.get("q", "")[:200],
            "role": request.args.get("role", ""),
            "cohort": cohort_id,
            "status": request.args.get("status", ""),
        },
    )


@bp.route("/new", methods=["GET", "POST"])
@role_required(Role.CENTRE_ADMIN)
def new():
    """Add one person; they get an e-mail with a link to choose their password."""
    session = get_session()
    cohorts = cohorts_service.list_cohorts(session, current_user.centre_id, include_archived=False)
    errors: list[str] = []
    values = {"email": "", "name": "", "role": Role.TRAINEE.value, "cohorts": []}
    if request.method == "POST":
        values = {
            "email": request.form.get("email", "")[:300],
            "name": request.form.get("name", "")[:300],
            "role": request.form.get("role", ""),
            "cohorts": _cohort_ids(request.form.getlist("cohorts")),
        }
        try:
            user = users_service.invite_user(
                session,
                current_user,
                email=values["email"],
                display_name=values["name"],
                role=values["role"],
                cohort_ids=values["cohorts"],
            )
        except ServiceError as exc:
            session.rollback()
            errors = _errors(exc)
        else:
            session.commit()
            users_service.send_set_password_mail(
                user, users_service.INVITE, set_password_url(user, users_service.INVITE)
            )
            flash(
                gettext("%(name)s was added and sent an invitation.", name=user.display_name),
                "success",
            )
            return redirect(url_for("users.show", user_id=user.id))
    return render_template(
        "centre/users/new.html",
        roles=list(Role),
        cohorts=cohorts,
        values=values,
        errors=errors,
    ), (400 if errors else 200)


@bp.route("/import", methods=["GET", "POST"])
@role_required(Role.CENTRE_ADMIN)
def import_csv():
    """Import people from a CSV file: all of them, or none with every problem by line."""
    session = get_session()
    errors: list[str] = []
    summary = ""
    if request.method == "POST":
        upload = request.files.get("file")
        data = upload.read(MAX_CSV_BYTES + 1) if upload else b""
        if not upload or not upload.filename:
            errors = [gettext("Choose a CSV file to import.")]
        elif len(data) > MAX_CSV_BYTES:
            errors = [gettext("The file is larger than 200 KiB. Import it in parts.")]
        else:
            try:
                users = users_service.import_users(session, current_user, current_user.centre, data)
            except ServiceError as exc:
                session.rollback()
                errors = _errors(exc)
                summary = translated(exc.message) if len(errors) > 1 else ""
            else:
                session.commit()
                for user in users:
                    users_service.send_set_password_mail(
                        user, users_service.INVITE, set_password_url(user, users_service.INVITE)
                    )
                flash(
                    gettext(
                        "%(count)d people were imported and sent an invitation.",
                        count=len(users),
                    ),
                    "success",
                )
                return redirect(url_for("users.index"))
    return render_template(
        "centre/users/import.html",
        errors=errors,
        summary=summary,
        columns=users_service.CSV_COLUMNS,
        limit=users_service.MAX_IMPORT_ROWS,
        cohorts=_open_cohorts(session),
    ), (400 if errors else 200)


@bp.get("/import/example.csv")
@role_required(Role.CENTRE_ADMIN)
def example_csv():
    """A CSV file to start an import from."""
    return Response(
        users_service.EXAMPLE_CSV,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="people-example.csv"'},
    )


@bp.get("/<int:user_id>")
@role_required(Role.CENTRE_ADMIN)
def show(user_id: int):
    """One person: role, cohorts, status and password reset."""
    session = get_session()
    user = _user_or_404(user_id)
    return render_template(
        "centre/users/show.html",
        user=user,
        roles=list(Role),
        cohorts=_open_cohorts(session),
        member_of={c.id for c in users_service.user_cohorts(session, user)},
        all_cohorts=users_service.user_cohorts(session, user),
    )


def _change(user_id: int, change, done: str):
    """Run one change to a user, commit it and say so; show the refusal otherwise."""
    session = get_session()
    user = _user_or_404(user_id)
    try:
        change(session, user)
    except ServiceError as exc:
        session.rollback()
        flash(translated(exc.message), "error")
    else:
        session.commit()
        flash(gettext(done), "success")
    return redirect(url_for("users.show", user_id=user_id))


@bp.post("/<int:user_id>/role")
@role_required(Role.CENTRE_ADMIN)
def set_role(user_id: int):
    """Change a person's role."""
    role = request.form.get("role", "")
    return _change(
        user_id,
        lambda s, u: users_service.set_role(s, current_user, u, role),
        N_("The role is saved."),
    )


@bp.post("/<int:user_id>/cohorts")
@role_required(Role.CENTRE_ADMIN)
def set_cohorts(user_id: int):
    """Put a person in the chosen cohorts."""
    ids = _cohort_ids(request.form.getlist("cohorts"))
    return _change(
        user_id,
        lambda s, u: users_service.set_user_cohorts(s, current_user, u, ids),
        N_("The cohorts are saved."),
    )


@bp.post("/<int:user_id>/deactivate")
@role_required(Role.CENTRE_ADMIN)
def deactivate(user_id: int):
    """Stop a person from signing in; their open sessions end."""
    return _change(
        user_id,
        lambda s, u: users_service.set_active(s, current_user, u, False),
        N_("The account is deactivated: it cannot sign in."),
    )


@bp.post("/<int:user_id>/reactivate")
@role_required(Role.CENTRE_ADMIN)
def reactivate(user_id: int):
    """Let a deactivated person sign in again."""
    return _change(
        user_id,
        lambda s, u: users_service.set_active(s, current_user, u, True),
        N_("The account is active again."),
    )


@bp.post("/<int:user_id>/password-reset")
@role_required(Role.CENTRE_ADMIN)
def send_reset(user_id: int):
    """E-mail a person a link to choose a new password."""
    session = get_session()
    user = _user_or_404(user_id)
    if not user.is_active:
        flash(gettext("Reactivate the account before sending a reset link."), "error")
        return redirect(url_for("users.show", user_id=user_id))
    users_service.record_reset_sent(session, current_user, user)
    session.commit()
    users_service.send_set_password_mail(
        user, users_service.RESET, set_password_url(user, users_service.RESET)
    )
    flash(gettext("A password reset link was sent to %(email)s.", email=user.email), "success")
    return redirect(url_for("users.show", user_id=user_id))
