"""Marking text for translation without Flask: the marker is the identity at runtime.

Operations and graders run without the web framework, so they cannot translate. They mark their
user-facing text with ``N_`` (so that extraction finds it) and keep any values apart from it;
the page that shows the text translates the marked template and then fills in the values.
"""

from __future__ import annotations

from typing import Any


def N_(text: str) -> str:  # noqa: N802 (the conventional name extraction looks for)
    """Mark `text` for extraction; returns it unchanged."""
    return text


class Message(str):
    """English text with values filled in that remembers its marked template and values.

    It is a plain string wherever text is expected (audit records, logs, English pages); a page
    that shows it passes it to ``translated``, which translates the template and fills it in.
    Values that are themselves Messages are translated too.
    """

    template: str
    values: dict[str, Any]

    def __new__(cls, template: str, **values: Any) -> Message:
        """``template % values``, keeping both (``template`` should be marked with ``N_``)."""
        text = super().__new__(cls, template % values if values else template)
        text.template = template
        text.values = values
        return text
