"""Hong Kong Identity Card (HKID) numbers: check digit, validation and detection in text.

Format (see PDPO.md, "HKID number format and check digit"): one or two capital letters, six
digits and a check character (0-9 or A), usually written ``A123456(3)``.

The module is pure standard library so that graders can use it without the sandbox stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "HKIDMatch",
    "check_digit",
    "find_hkids",
    "find_partial_hkids",
    "format_hkid",
    "is_valid_hkid",
]

_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)
_SPACE_VALUE = 36

# Chinese text often writes the brackets full width: A123456（3）.
_FULLWIDTH_BRACKETS = str.maketrans({"（": "(", "）": ")"})

_PREFIX_RE = re.compile(r"[A-Z]{1,2}")
_DIGITS_RE = re.compile(r"[0-9]{6}")
_FULL_RE = re.compile(r"([A-Z]{1,2})([0-9]{6})(?:\(([0-9A])\)|([0-9A]))")

# Matched case-insensitively on the original text (rather than on an upper-cased copy) so that
# start/end stay valid offsets even when upper-casing would change the length ("ß" -> "SS").
# re.ASCII keeps [A-Z] from matching look-alikes such as the Kelvin sign under IGNORECASE.
# Only ASCII letters and digits extend a token, so an HKID right after Chinese text is found.
_TEXT_RE = re.compile(
    r"(?<![A-Z0-9])"
    r"([A-Z]{1,2})([0-9]{6})"
    r"(?:[ ]?[(（][ ]?([0-9A])[ ]?[)）]|([0-9A]))"
    r"(?![A-Z0-9])",
    re.ASCII | re.IGNORECASE,
)

# A full or partial HKID in an ID field: the letters, at least the first three digits, then up to
# three more digits or mask characters (A123XXX), then an optional bare or bracketed check
# character (which may itself be masked). At most seven characters follow the letters, so a
# member number with eight digits (M00012345) is not taken for an HKID.
_PARTIAL_RE = re.compile(r"[A-Z]{1,2}[0-9]{3}[0-9*X#]{0,3}(?:\([0-9A*X#?]\)|[0-9A*X#])?")


@dataclass(frozen=True)
class HKIDMatch:
    """An HKID number found in text: the normalised value and its span in the original text."""

    value: str
    start: int
    end: int


def _char_value(char: str) -> int:
    if char == " ":
        return _SPACE_VALUE
    if char.isdigit():
        return int(char)
    return ord(char) - ord("A") + 10


def _check_parts(prefix: str, digits: str) -> str:
    prefix = prefix.upper()
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(f"HKID prefix must be one or two letters A-Z, got {prefix!r}")
    if not _DIGITS_RE.fullmatch(digits):
        raise ValueError(f"HKID must have exactly six digits 0-9, got {digits!r}")
    return prefix


def check_digit(prefix: str, digits: str) -> str:
    """Return the check character ("0"-"9" or "A") for an HKID prefix and its six digits."""
    prefix = _check_parts(prefix, digits)
    padded = (prefix + digits).rjust(8)
    total = sum(w * _char_value(c) for w, c in zip(_WEIGHTS, padded, strict=True))
    value = (11 - total % 11) % 11
    return "A" if value == 10 else str(value)


def format_hkid(prefix: str, digits: str) -> str:
    """Return the HKID in its usual written form, e.g. ``A123456(3)``."""
    prefix = _check_parts(prefix, digits)
    return f"{prefix}{digits}({check_digit(prefix, digits)})"


def _compact(text: str) -> str | None:
    """Upper-case, drop whitespace and normalise brackets; None if anything non-ASCII remains."""
    compact = "".join(text.translate(_FULLWIDTH_BRACKETS).split())
    if not compact.isascii():
        return None
    return compact.upper()


def is_valid_hkid(text: str) -> bool:
    """Return True if text is a whole HKID number (bracketed or bare check) with a valid check."""
    if not isinstance(text, str):
        return False
    compact = _compact(text)
    if compact is None:
        return False
    match = _FULL_RE.fullmatch(compact)
    if match is None:
        return False
    prefix, digits, bracketed, bare = match.groups()
    return check_digit(prefix, digits) == (bracketed or bare)


def find_hkids(text: str) -> list[HKIDMatch]:
    """Return the HKID numbers with a valid check character found in free text, in order."""
    found: list[HKIDMatch] = []
    for match in _TEXT_RE.finditer(text):
        prefix, digits, bracketed, bare = match.groups()
        prefix = prefix.upper()
        check = (bracketed or bare).upper()
        if check_digit(prefix, digits) == check:
            found.append(HKIDMatch(f"{prefix}{digits}({check})", match.start(), match.end()))
    return found


def find_partial_hkids(value: str) -> bool:
    """Return True if an ID-field value looks like a full or partial HKID (e.g. "A123")."""
    if not isinstance(value, str):
        return False
    compact = _compact(value)
    if compact is None:
        return False
    return _PARTIAL_RE.fullmatch(compact) is not None
