"""The language the current request reads definition texts in (titles, briefs, questions)."""

from __future__ import annotations

DEFAULT_LANGUAGE = "en"
"""The language used when nothing chooses another."""


def current_language() -> str:
    """The current user's language, e.g. "en" or "zh-Hant"; the one place it is chosen."""
    return DEFAULT_LANGUAGE
