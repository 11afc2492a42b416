"""The CRM's pages in the reader's language: translation and the locale, with or without Babel.

The platform sets up Flask-Babel; a CRM mounted in a bare Flask app (as some tests do) shows
English, the text as written.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, has_request_context

from sandbox_crm.i18n import N_, Message

DEFAULT_LOCALE = "en"

# Stored values the CRM shows through `label()`, marked so that they are translated.
VALUE_WORDS = (
    N_("Classic"),
    N_("Silver"),
    N_("Gold"),
    N_("Platinum"),
    N_("Active"),
    N_("Inactive"),
    N_("Closed"),
    N_("Pending"),
    N_("Paid"),
    N_("Shipped"),
    N_("Completed"),
    N_("Cancelled"),
    N_("Refunded"),
    N_("Given"),
    N_("Withdrawn"),
    N_("Public"),
    N_("Internal"),
    N_("Personal"),
    N_("Sensitive"),
    N_("Promotional"),
    N_("Service"),
    N_("Email"),
    N_("Phone"),
    N_("Post"),
    N_("Oral"),
    N_("Store"),
    N_("Event"),
    N_("Analytics"),
    N_("Migration"),
    N_("Male"),
    N_("Female"),
    N_("Marketing"),
    N_("Finance"),
    N_("Sales"),
    N_("Management"),
    N_("Human resources"),
    N_("Customer service"),
    N_("Store operations"),
)


def _babel_ready() -> bool:
    return has_request_context() and "babel" in current_app.extensions


def current_locale() -> str:
    """The request's locale code (`en`, `zh_Hant_HK`); English outside a Babel app."""
    if not _babel_ready():
        return DEFAULT_LOCALE
    from flask_babel import get_locale

    return str(get_locale() or DEFAULT_LOCALE)


def translate(text: str, **values: Any) -> str:
    """`text` in the reader's language, with `values` filled into its %(name)s placeholders."""
    if _babel_ready():
        from flask_babel import gettext

        return gettext(text, **values)
    return text % values if values else text


def html_lang() -> str:
    """The BCP 47 tag of the page language for `<html lang>`: `en`, `zh-Hant-HK`."""
    return current_locale().replace("_", "-")


def install(app: Flask) -> None:
    """Let CRM templates use `_()` even in an app without Flask-Babel (English as written)."""
    app.jinja_env.globals.setdefault("crm_html_lang", html_lang)
    app.jinja_env.filters.setdefault("translated", translated)
    app.jinja_env.filters.setdefault("number", lambda value: f"{value:,}")
    if "babel" in app.extensions:
        return
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]


def translate_plural(singular: str, plural: str, count: int, **values: Any) -> str:
    """The form of a counted message for `count`, translated; `%(num)d` is the count."""
    if _babel_ready():
        from flask_babel import ngettext

        return ngettext(singular, plural, count, **values)
    return (singular if count == 1 else plural) % {"num": count, **values}


def L_(text: str) -> Any:  # noqa: N802 (a marker, named like gettext's)
    """`text` translated when shown, not when defined: for form labels made at import time."""
    from flask_babel.speaklater import LazyString

    return LazyString(translate, text)


def lazy_call(function: Any, *args: Any) -> Any:
    """`function(*args)` evaluated when shown, so that it sees the reader's language."""
    from flask_babel.speaklater import LazyString

    return LazyString(function, *args)


def translated(text: Any) -> str:
    """Stored or computed text in the reader's language when it was marked; as it is otherwise."""
    if not text:
        return ""
    if isinstance(text, Message):
        values = {k: translated(v) if isinstance(v, Message) else v for k, v in text.values.items()}
        return translate(text.template, **values)
    if _babel_ready():
        from flask_babel import gettext

        return gettext(str(text))
    return str(text)
