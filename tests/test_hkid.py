"""HKID check digit, validation and detection (PDPO.md, "HKID number format and check digit")."""

import pytest

from sandbox_crm.hkid import (
    HKIDMatch,
    check_digit,
    find_hkids,
    find_partial_hkids,
    format_hkid,
    is_valid_hkid,
)

VALID = ["A123456(3)", "AB123456(9)", "D288754(2)", "G123456(A)"]
INVALID = ["A123456(4)", "C876300(0)"]


@pytest.mark.parametrize("hkid", VALID)
def test_reference_vectors_are_valid(hkid: str) -> None:
    assert is_valid_hkid(hkid)


@pytest.mark.parametrize("hkid", INVALID)
def test_reference_vectors_are_invalid(hkid: str) -> None:
    assert not is_valid_hkid(hkid)


@pytest.mark.parametrize(
    ("prefix", "digits", "expected"),
    [
        ("A", "123456", "3"),
        ("AB", "123456", "9"),
        ("D", "288754", "2"),
        ("G", "123456", "A"),
        ("a", "123456", "3"),
    ],
)
def test_check_digit(prefix: str, digits: str, expected: str) -> None:
    assert check_digit(prefix, digits) == expected


def test_check_digit_worked_example() -> None:
    # " A123456": 36*9 + 10*8 + 1*7 + 2*6 + 3*5 + 4*4 + 5*3 + 6*2 = 481; 481 mod 11 = 8; 11-8 = 3
    assert check_digit("A", "123456") == "3"


def test_c876300_check_is_not_zero() -> None:
    assert check_digit("C", "876300") != "0"


def test_check_digit_covers_every_check_character() -> None:
    checks = {check_digit("A", f"{n:06d}") for n in range(200)}
    assert checks == set("0123456789A")


@pytest.mark.parametrize(
    ("prefix", "digits"),
    [("", "123456"), ("ABC", "123456"), ("1", "123456"), ("A", "12345"), ("A", "12345a"),
     ("A", "1234567"), ("Ä", "123456"), ("A", "١٢٣٤٥٦")],
)  # fmt: skip
def test_check_digit_rejects_malformed_parts(prefix: str, digits: str) -> None:
    with pytest.raises(ValueError):
        check_digit(prefix, digits)


def test_format_hkid() -> None:
    assert format_hkid("a", "123456") == "A123456(3)"
    assert format_hkid("G", "123456") == "G123456(A)"


@pytest.mark.parametrize(
    "text",
    ["A1234563", "a123456(3)", " A 123456 (3) ", "AB1234569", "ab123456(9)", "g123456a",
     "G123456(a)", "A123456（3）"],
)  # fmt: skip
def test_is_valid_hkid_accepts_written_forms(text: str) -> None:
    assert is_valid_hkid(text)


@pytest.mark.parametrize(
    "text",
    ["", "A123456", "A12345(3)", "A1234567(3)", "ABC123456(3)", "123456(3)", "A123456(B)",
     "A123456(3", "A123456(3))", "A123456(33)", "A-123456(3)", "Ａ123456(3)"],
)  # fmt: skip
def test_is_valid_hkid_rejects_other_formats(text: str) -> None:
    assert not is_valid_hkid(text)


def test_is_valid_hkid_rejects_non_strings() -> None:
    assert not is_valid_hkid(None)  # type: ignore[arg-type]


def test_find_hkids_in_free_text() -> None:
    text = "Customer A123456(3) called"
    assert find_hkids(text) == [HKIDMatch("A123456(3)", 9, 19)]
    assert text[9:19] == "A123456(3)"


@pytest.mark.parametrize(
    "text",
    ["ref XA123456(3)9", "XA123456(3)", "A123456(3)9", "9A123456(3)", "A12345634", "ZZA1234563"],
)
def test_find_hkids_ignores_numbers_inside_longer_tokens(text: str) -> None:
    assert find_hkids(text) == []


def test_find_hkids_matches_lower_case_and_normalises() -> None:
    text = "customer a123456(3) and g123456a"
    assert [m.value for m in find_hkids(text)] == ["A123456(3)", "G123456(A)"]
    assert [text[m.start : m.end] for m in find_hkids(text)] == ["a123456(3)", "g123456a"]


def test_find_hkids_does_not_report_invalid_check_digits() -> None:
    assert find_hkids("HKID A123456(4), old card C876300(0)") == []


def test_find_hkids_does_not_report_numbers_without_check_character() -> None:
    assert find_hkids("ID A123456 on file") == []


def test_find_hkids_two_letter_prefix() -> None:
    assert find_hkids("id: AB123456(9).") == [HKIDMatch("AB123456(9)", 4, 15)]


def test_find_hkids_bare_and_spaced_check() -> None:
    assert [m.value for m in find_hkids("A1234563; D288754 (2)")] == ["A123456(3)", "D288754(2)"]


def test_find_hkids_next_to_chinese_text_and_full_width_brackets() -> None:
    text = "身份證號碼D288754（2），已核實"
    (match,) = find_hkids(text)
    assert match.value == "D288754(2)"
    assert text[match.start : match.end] == "D288754（2）"


def test_find_hkids_offsets_refer_to_the_original_text() -> None:
    # Upper-casing "ß" gives "SS"; offsets must still point into the text as given.
    text = "Straße 5, HKID (A123456(3))"
    (match,) = find_hkids(text)
    assert text[match.start : match.end] == "A123456(3)"


def test_find_hkids_returns_all_in_order() -> None:
    text = "G123456(A) then A123456(4) then AB123456(9)"
    assert [m.value for m in find_hkids(text)] == ["G123456(A)", "AB123456(9)"]


@pytest.mark.parametrize(
    "value",
    ["A123", "a1234", "A123456", "AB123", "A1234567", "A123456(3)", "A123456(4)", " A 123 456 ",
     "A123XXX(X)", "A123***(*)", "Z123456（A）"],
)  # fmt: skip
def test_find_partial_hkids_positives(value: str) -> None:
    assert find_partial_hkids(value)


@pytest.mark.parametrize(
    "value",
    ["", "A", "A12", "ABC123", "123456", "M00012345", "MB00012345", "A12345678",
     "A1234567(3)", "Chan Ka Man", "91234567", "A12X"],
)  # fmt: skip
def test_find_partial_hkids_negatives(value: str) -> None:
    assert not find_partial_hkids(value)


def test_find_partial_hkids_rejects_non_strings() -> None:
    assert not find_partial_hkids(None)  # type: ignore[arg-type]
