"""Languages: which one a request is shown in, the switcher, and locale-aware formatting.

A page is shown in the signed-in user's chosen language, else the one chosen with the switcher
before signing in (kept in the session), else the best match of the browser's Accept-Language,
else English. Dates, numbers and money are formatted for that locale by Babel.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Blueprint, Flask, flash, redirect, request, session
from flask_babel import Babel, get_locale, gettext, lazy_gettext
from flask_babel import format_currency as babel_currency
from flask_babel import format_date as babel_date
from flask_babel import format_datetime as babel_datetime
from flask_babel import format_decimal as babel_decimal
from flask_login import current_user
from werkzeug.wrappers import Response

from sandbox_crm.i18n import Message
from training_platform.db import get_session
from training_platform.security import is_safe_next

DEFAULT_LOCALE = "en"
CHINESE = "zh_Hant_HK"
# Locale code -> the language's own name, as the switcher shows it.
LANGUAGES = {DEFAULT_LOCALE: "English", CHINESE: "繁體中文"}
# Accept-Language subtags that mean Traditional Chinese as read in Hong Kong.
TRADITIONAL_SUBTAGS = {"hk", "tw", "mo", "hant"}
SESSION_KEY = "language"
FOLLOW_BROWSER = "browser"  # the switcher's value for "no setting: follow the browser"
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
PACKAGE_DIR_ROOT = Path(__file__).resolve().parent.parent

bp = Blueprint("i18n", __name__)


def normalise_language(value: str | None) -> str | None:
    """A supported locale code for a stored or submitted choice; None when unsupported."""
    if not value:
        return None
    return value if value in LANGUAGES else None


def locale_for_tag(tag: str) -> str | None:
    """The locale an Accept-Language tag asks for (`zh-HK` -> zh_Hant_HK); None if unsupported."""
    parts = tag.strip().lower().replace("_", "-").split("-")
    if parts[0] == "en":
        return DEFAULT_LOCALE
    if parts[0] == "zh" and TRADITIONAL_SUBTAGS.intersection(parts[1:]):
        return CHINESE
    return None


def browser_locale() -> str:
    """The first supported language in the request's Accept-Language, by preference; else en."""
    for tag, _quality in request.accept_languages:
        locale = locale_for_tag(tag)
        if locale:
            return locale
    return DEFAULT_LOCALE


def select_locale() -> str:
    """The request's locale: profile setting, then the session's choice, then the browser."""
    if current_user and current_user.is_authenticated:
        chosen = normalise_language(getattr(current_user, "language", None))
        if chosen:
            return chosen
    return normalise_language(session.get(SESSION_KEY)) or browser_locale()


DEFINITION_LANGUAGES = {DEFAULT_LOCALE: "en", CHINESE: "zh-Hant"}
"""Locale code -> the language code that unit and scenario YAML use for the same language."""


def current_language() -> str:
    """The language definition texts (titles, briefs, questions) are read in: en or zh-Hant.

    The request's locale, mapped to the codes of the YAML; English outside a request.
    """
    try:
        locale = str(get_locale() or DEFAULT_LOCALE)
    except RuntimeError:  # no app or request context
        return DEFINITION_LANGUAGES[DEFAULT_LOCALE]
    return DEFINITION_LANGUAGES.get(locale, DEFINITION_LANGUAGES[DEFAULT_LOCALE])


def html_lang() -> str:
    """The BCP 47 tag for `<html lang>`: `en` or `zh-Hant-HK`."""
    return str(get_locale() or DEFAULT_LOCALE).replace("_", "-")


def format_date(value: date | datetime | None, fmt: str = "medium") -> str:
    """A date for the current locale; empty for None."""
    return babel_date(value, fmt) if value else ""


def format_datetime(value: datetime | None, fmt: str | None = None) -> str:
    """A timestamp for the current locale (UTC as stored); seconds with `fmt="seconds"`."""
    if not value:
        return ""
    english = str(get_locale()) == DEFAULT_LOCALE
    if fmt == "seconds" or (fmt and "%S" in fmt):
        pattern = "dd MMM yyyy HH:mm:ss" if english else "yyyy年M月d日 HH:mm:ss"
    else:
        pattern = "dd MMM yyyy HH:mm" if english else "yyyy年M月d日 HH:mm"
    return babel_datetime(value, pattern)


def format_number(value: int | float | Decimal | None) -> str:
    """A number with the locale's grouping (1,234.5); empty for None."""
    return "" if value is None else babel_decimal(value)


def format_money(value: int | float | Decimal | None) -> str:
    """An amount in Hong Kong dollars for the current locale (HK$1,234.50); empty for None."""
    return "" if value is None else babel_currency(value, "HKD")


def translated(text: str | None) -> str:
    """Stored text (a grader's note, a refusal) in the reader's language when it was marked.

    A ``Message`` (text with values) is translated from its template, then filled in.
    """
    if isinstance(text, Message):
        values = {k: translated(v) if isinstance(v, Message) else v for k, v in text.values.items()}
        return gettext(text.template, **values)
    return gettext(text) if text else ""


@bp.post("/language")
def choose_language() -> Response:
    """Switch language: saved on the profile when signed in, in the session before that.

    The value `browser` removes the setting, so that the browser's Accept-Language decides.
    """
    wanted = request.form.get("language", "")
    chosen = normalise_language(wanted)
    next_url = request.form.get("next")
    if not is_safe_next(next_url):
        next_url = "/"
    if wanted == FOLLOW_BROWSER:
        session.pop(SESSION_KEY, None)
        if current_user.is_authenticated:
            current_user.language = None
            get_session().commit()
        return redirect(next_url)
    if chosen is None:
        flash(gettext("That language is not available."), "error")
        return redirect(next_url)
    session[SESSION_KEY] = chosen
    if current_user.is_authenticated:
        db = get_session()
        current_user.language = chosen
        db.commit()
    return redirect(next_url)


def init_app(app: Flask) -> None:
    """Set up Flask-Babel with this module's locale selector and the formatting filters."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    if Path(app.config["BABEL_TRANSLATION_DIRECTORIES"]) == TRANSLATIONS_DIR:
        compile_stale_catalogues()
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(languages=LANGUAGES, html_lang=html_lang)
    app.jinja_env.filters.update(
        datetime=format_datetime,
        date=format_date,
        number=format_number,
        money=format_money,
        translated=translated,
    )
    app.register_blueprint(bp)


def compile_catalogues(directory: Path = TRANSLATIONS_DIR) -> list[Path]:
    """Compile every messages.po under `directory` to messages.mo beside it; the files written."""
    written = []
    for po_path in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        with po_path.open("rb") as handle:
            catalogue = read_po(handle)
        mo_path = po_path.with_suffix(".mo")
        with mo_path.open("wb") as handle:
            write_mo(handle, catalogue)
        written.append(mo_path)
    return written


def compile_stale_catalogues(directory: Path = TRANSLATIONS_DIR) -> None:
    """Compile the catalogues whose .mo is missing or older than the .po (a fresh clone)."""
    for po_path in directory.glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if not mo_path.exists() or mo_path.stat().st_mtime < po_path.stat().st_mtime:
            try:
                compile_catalogues(directory)
            except OSError:
                pass  # a read-only install: scripts/start.sh compiled them beforehand
            return


def lazy(text: str, **values: Any) -> Any:
    """A translatable string resolved when shown (for module-level labels and messages)."""
    return lazy_gettext(text, **values)


# How messages are found: babel.cfg names the files, these markers the calls (see the README).
EXTRACT_KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "lazy_gettext": None,
    "N_": None,
    "lazy": None,
    "translate": None,
    "translate_plural": (1, 2),
    "L_": None,
    "column_field": (2,),  # a CRM data source's field: its label
    "Field": (2,),
    "lookup_field": (5,),
}
TEMPLATE_FILE = TRANSLATIONS_DIR / "messages.pot"


def extracted_msgids(root: Path = PACKAGE_DIR_ROOT) -> set[str]:
    """Every message marked in the sources under `root`, as `pybabel extract` finds them."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with (root / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(root), method_map, options_map, keywords=EXTRACT_KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def catalogue_msgids(path: Path) -> set[str]:
    """The messages a .pot or .po file lists (the singular of plural ones)."""
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    return {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalogue if m.id}


def untranslated(po_path: Path) -> list[str]:
    """The messages of a .po file without a usable translation: empty or marked fuzzy."""
    with po_path.open("rb") as handle:
        catalogue = read_po(handle)
    problems = []
    for message in catalogue:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        if message.fuzzy:
            problems.append(f"fuzzy: {msgid}")
        elif not all(strings):
            problems.append(f"empty: {msgid}")
    return problems
