"""The Hong Kong Faker provider: districts, phones, names, e-mails, addresses and HKIDs."""

import re
from collections import Counter

import pytest
from faker import Faker

from sandbox_crm.hk_provider import (
    DISTRICT_POPULATION,
    DISTRICTS,
    DISTRICTS_ZH,
    EMAIL_DOMAINS,
    ESTATES,
    REGIONS,
    REGIONS_ZH,
    SURNAMES,
    HKPerson,
    HongKongProvider,
    format_phone_display,
    make_faker,
    member_number,
    region_of,
)
from sandbox_crm.hkid import find_hkids, find_partial_hkids, is_valid_hkid

POSTAL_REGION = {"Hong Kong Island": "Hong Kong", "Kowloon": "Kowloon",
                 "New Territories": "New Territories"}  # fmt: skip
HKID_SHAPE = re.compile(r"[A-Z]{1,2}[0-9]{6}\([0-9A]\)")


@pytest.fixture
def fake() -> Faker:
    return make_faker(20240601)


def gen_sample(fake: Faker, size: int = 200) -> list[tuple[object, ...]]:
    """Draw persons, e-mails, phones, addresses and HKIDs in a fixed order."""
    rows: list[tuple[object, ...]] = []
    for _ in range(size):
        person = fake.hk_person()
        district = fake.hk_district()
        rows.append((
            person,
            fake.hk_email(person),
            fake.hk_mobile_number(),
            fake.hk_landline_number(),
            district,
            fake.hk_address(district),
            fake.hkid(),
            fake.hkid_invalid(),
        ))  # fmt: skip
    return rows


def test_same_seed_gives_identical_data() -> None:
    assert gen_sample(make_faker(7)) == gen_sample(make_faker(7))


def test_different_seeds_give_different_data() -> None:
    first, second = gen_sample(make_faker(7)), gen_sample(make_faker(8))
    assert first != second
    # Not just one differing value: most rows differ.
    assert sum(a != b for a, b in zip(first, second, strict=True)) > 190


def test_seeded_instances_do_not_share_state() -> None:
    alone = gen_sample(make_faker(7), 50)
    a, b = make_faker(7), make_faker(8)
    interleaved = []
    for _ in range(50):
        interleaved += gen_sample(a, 1)
        gen_sample(b, 1)
    assert interleaved == alone


def test_plain_faker_with_provider_added_matches_make_faker() -> None:
    fake = Faker()
    fake.add_provider(HongKongProvider)
    fake.seed_instance(7)
    assert gen_sample(fake, 20) == gen_sample(make_faker(7), 20)


def test_known_values_for_a_seed() -> None:
    # Byte-identical output per seed is a promise; update these only for a deliberate change.
    fake = make_faker(2024)
    assert fake.hkid() == "Y606446(7)"
    assert fake.hk_mobile_number() == "93358827"
    assert fake.hk_person() == HKPerson("Leung", "Sai Yu", "Edmond", "梁", "世宇", "M")
    assert fake.hk_address("Sham Shui Po") == (
        "Room 1410, 14/F, Block 9, Pak Tin Estate, Shek Kip Mei, Kowloon"
    )


def test_hkids_are_always_valid(fake: Faker) -> None:
    values = [fake.hkid() for _ in range(1000)]
    assert all(HKID_SHAPE.fullmatch(v) and is_valid_hkid(v) for v in values)
    prefixes = Counter(re.match(r"[A-Z]+", v).group() for v in values)  # type: ignore[union-attr]
    assert any(len(p) == 2 for p in prefixes)
    assert sum(n for p, n in prefixes.items() if len(p) == 1) > 900


def test_invalid_hkids_are_well_formed_but_fail_the_check(fake: Faker) -> None:
    for _ in range(1000):
        value = fake.hkid_invalid()
        assert HKID_SHAPE.fullmatch(value)
        assert not is_valid_hkid(value)
        assert find_hkids(f"note {value}") == []


def test_mobile_numbers(fake: Faker) -> None:
    numbers = [fake.hk_mobile_number() for _ in range(1000)]
    assert all(re.fullmatch(r"[569][0-9]{7}", n) for n in numbers)
    assert {n[0] for n in numbers} == {"5", "6", "9"}


def test_landline_numbers(fake: Faker) -> None:
    numbers = [fake.hk_landline_number() for _ in range(1000)]
    assert all(re.fullmatch(r"[23][0-9]{7}", n) for n in numbers)
    assert {n[0] for n in numbers} == {"2", "3"}


def test_phone_display(fake: Faker) -> None:
    assert format_phone_display("91234567") == "+852 9123 4567"
    assert fake.hk_phone_display("21234567") == "+852 2123 4567"
    assert re.fullmatch(r"\+852 [569][0-9]{3} [0-9]{4}", fake.hk_phone_display())


@pytest.mark.parametrize("number", ["9123456", "912345678", "9123 4567", "9123456a"])
def test_phone_display_rejects_other_lengths(number: str) -> None:
    with pytest.raises(ValueError):
        format_phone_display(number)


def test_eighteen_districts_in_three_regions() -> None:
    assert len(DISTRICTS) == 18
    assert set(DISTRICTS.values()) == set(REGIONS)
    assert Counter(DISTRICTS.values()) == {
        "Hong Kong Island": 4, "Kowloon": 5, "New Territories": 9,
    }  # fmt: skip
    assert region_of("Sham Shui Po") == "Kowloon"
    assert region_of("Islands") == "New Territories"
    assert region_of("Southern") == "Hong Kong Island"
    assert set(REGIONS_ZH) == set(REGIONS)


def test_every_district_has_chinese_name_weight_and_estates() -> None:
    assert set(DISTRICTS_ZH) == set(DISTRICTS) == set(DISTRICT_POPULATION) == set(ESTATES)
    assert DISTRICTS_ZH["Central and Western"] == "中西區"
    assert DISTRICTS_ZH["Wan Chai"] == "灣仔區"
    assert all(name.endswith("區") for name in DISTRICTS_ZH.values())
    assert len(set(DISTRICTS_ZH.values())) == 18
    assert all(len(estates) >= 3 for estates in ESTATES.values())


def test_region_of_unknown_district() -> None:
    with pytest.raises(ValueError):
        region_of("Kowloon Tong")


def test_all_districts_drawn_and_have_regions(fake: Faker) -> None:
    drawn = Counter(fake.hk_district() for _ in range(5000))
    assert set(drawn) == set(DISTRICTS)
    assert all(fake.hk_region_of(d) in REGIONS for d in drawn)
    # Weighted by population: Sha Tin (about 690k) well ahead of Wan Chai (about 170k).
    assert drawn["Sha Tin"] > 2 * drawn["Wan Chai"]


def test_each_area_belongs_to_one_district() -> None:
    owners: dict[str, set[str]] = {}
    for district, estates in ESTATES.items():
        for estate in estates:
            owners.setdefault(estate.area, set()).add(district)
    assert {area: d for area, d in owners.items() if len(d) > 1} == {}


@pytest.mark.parametrize("district", list(DISTRICTS))
def test_addresses_are_in_their_district(fake: Faker, district: str) -> None:
    areas = {e.area for e in ESTATES[district]}
    names = {e.name for e in ESTATES[district]}
    for _ in range(30):
        address = fake.hk_address(district)
        parts = address.split(", ")
        assert parts[-1] == POSTAL_REGION[DISTRICTS[district]]
        assert parts[-2] in areas
        assert names & set(parts)
        assert re.fullmatch(r"(Flat [A-H]|Room [0-9]{4})", parts[0])
        assert re.fullmatch(r"[0-9]+/F", parts[1])


def test_private_buildings_skip_unlucky_floors(fake: Faker) -> None:
    floors = []
    for _ in range(2000):
        parts = fake.hk_address().split(", ")
        if parts[0].startswith("Flat"):
            floors.append(int(parts[1].removesuffix("/F")))
    assert floors
    assert not [f for f in floors if "4" in str(f) or f == 13]


def test_address_without_district_uses_a_real_district(fake: Faker) -> None:
    all_regions = set(POSTAL_REGION.values())
    assert all(fake.hk_address().split(", ")[-1] in all_regions for _ in range(100))


def test_person_names_are_consistent(fake: Faker) -> None:
    surnames = {(en, zh) for en, zh, _ in SURNAMES}
    people = [fake.hk_person() for _ in range(1000)]
    for p in people:
        assert p.gender in ("F", "M")
        assert (p.surname_en, p.surname_zh) in surnames
        assert len(p.given_zh) == len(p.given_en.split()) in (1, 2)
        assert p.name_zh == p.surname_zh + p.given_zh
        assert p.name_en.endswith(f"{p.surname_en} {p.given_en}")
        if p.english_name:
            assert p.name_en == f"{p.english_name} {p.surname_en} {p.given_en}"
        else:
            assert p.name_en == f"{p.surname_en} {p.given_en}"
    assert {p.gender for p in people} == {"F", "M"}
    with_english = sum(p.english_name is not None for p in people)
    assert 300 < with_english < 800
    assert len({p.surname_en for p in people}) >= 30


def test_name_convention_example() -> None:
    person = HKPerson("Chan", "Ka Man", "Mandy", "陳", "嘉敏", "F")
    assert person.name_en == "Mandy Chan Ka Man"
    assert person.name_zh == "陳嘉敏"
    assert HKPerson("Chan", "Ka Man", None, "陳", "嘉敏", "F").name_en == "Chan Ka Man"


def test_emails_are_plausible(fake: Faker) -> None:
    domains = Counter()
    for _ in range(500):
        person = fake.hk_person()
        email = fake.hk_email(person)
        local, _, domain = email.partition("@")
        assert email == email.lower()
        assert re.fullmatch(r"[a-z][a-z0-9._]*[a-z0-9]", local)
        assert person.surname_en.lower() in local
        domains[domain] += 1
    assert set(domains) == set(EMAIL_DOMAINS)
    assert domains.most_common(1)[0][0] == "gmail.com"
    assert "@" in fake.hk_email()


def test_member_number_format() -> None:
    assert member_number(12345) == "M00012345"
    assert member_number(7, prefix="VP") == "VP00000007"
    assert make_faker(1).member_number(12345) == "M00012345"


@pytest.mark.parametrize(("seq", "prefix"), [(-1, "M"), (10**8, "M"), (1, "m"), (1, "VIP"),
                                             (1, ""), (1, "M1")])  # fmt: skip
def test_member_number_rejects_bad_input(seq: int, prefix: str) -> None:
    with pytest.raises(ValueError):
        member_number(seq, prefix)


@pytest.mark.parametrize("seq", [0, 1, 123, 12345, 1234563, 99999999])
def test_member_numbers_are_not_taken_for_hkids(seq: int) -> None:
    # Eight digits after the letters: one more than any HKID (six digits plus a bare check).
    number = member_number(seq)
    assert not find_partial_hkids(number)
    assert not is_valid_hkid(number)
    assert find_hkids(f"member {number}") == []


def test_partial_hkid_boundary_is_seven_characters_after_the_letters() -> None:
    assert find_partial_hkids("M1234567")
    assert not find_partial_hkids("M12345678")
