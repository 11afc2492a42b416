"""A Faker provider for Hong Kong customer data: districts, phones, names, addresses and HKIDs.

Faker ships no ``en_HK``/``zh_HK`` locale, so every list here is our own and nothing depends on
locale data: add ``HongKongProvider`` to any Faker instance (``make_faker`` does it for you).

Determinism: every draw goes through ``self.generator.random`` (a ``random.Random``), using only
``choice``, ``randrange``, ``randint`` and ``random``; weighted draws bisect integer cumulative
weights. The same seed gives the same values on every machine; changing a list or the order of
draws changes the data (``tests/test_hk_provider.py`` pins a few values for one seed).

Name convention: ``HKPerson.name_en`` is ``"[English name ]Surname Given Name"`` in title case,
for example ``"Mandy Chan Ka Man"`` or ``"Chan Ka Man"`` (the usual order on HK business forms);
``name_zh`` is surname then given name with no space, for example ``"陳嘉敏"``.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from faker import Faker
from faker.providers import BaseProvider

from sandbox_crm.hkid import check_digit, format_hkid

__all__ = [
    "DISTRICTS",
    "DISTRICTS_ZH",
    "DISTRICT_POPULATION",
    "EMAIL_DOMAINS",
    "ESTATES",
    "REGIONS",
    "REGIONS_ZH",
    "SURNAMES",
    "Estate",
    "HKPerson",
    "HongKongProvider",
    "format_phone_display",
    "make_faker",
    "member_number",
    "region_of",
]

T = TypeVar("T")

HONG_KONG_ISLAND = "Hong Kong Island"
KOWLOON = "Kowloon"
NEW_TERRITORIES = "New Territories"

REGIONS: tuple[str, ...] = (HONG_KONG_ISLAND, KOWLOON, NEW_TERRITORIES)
REGIONS_ZH: dict[str, str] = {
    HONG_KONG_ISLAND: "香港島",
    KOWLOON: "九龍",
    NEW_TERRITORIES: "新界",
}

# The 18 District Council districts, district -> region.
DISTRICTS: dict[str, str] = {
    "Central and Western": HONG_KONG_ISLAND,
    "Wan Chai": HONG_KONG_ISLAND,
    "Eastern": HONG_KONG_ISLAND,
    "Southern": HONG_KONG_ISLAND,
    "Yau Tsim Mong": KOWLOON,
    "Sham Shui Po": KOWLOON,
    "Kowloon City": KOWLOON,
    "Wong Tai Sin": KOWLOON,
    "Kwun Tong": KOWLOON,
    "Kwai Tsing": NEW_TERRITORIES,
    "Tsuen Wan": NEW_TERRITORIES,
    "Tuen Mun": NEW_TERRITORIES,
    "Yuen Long": NEW_TERRITORIES,
    "North": NEW_TERRITORIES,
    "Tai Po": NEW_TERRITORIES,
    "Sha Tin": NEW_TERRITORIES,
    "Sai Kung": NEW_TERRITORIES,
    "Islands": NEW_TERRITORIES,
}

DISTRICTS_ZH: dict[str, str] = {
    "Central and Western": "中西區",
    "Wan Chai": "灣仔區",
    "Eastern": "東區",
    "Southern": "南區",
    "Yau Tsim Mong": "油尖旺區",
    "Sham Shui Po": "深水埗區",
    "Kowloon City": "九龍城區",
    "Wong Tai Sin": "黃大仙區",
    "Kwun Tong": "觀塘區",
    "Kwai Tsing": "葵青區",
    "Tsuen Wan": "荃灣區",
    "Tuen Mun": "屯門區",
    "Yuen Long": "元朗區",
    "North": "北區",
    "Tai Po": "大埔區",
    "Sha Tin": "沙田區",
    "Sai Kung": "西貢區",
    "Islands": "離島區",
}

# Approximate population in thousands (2021 census, rounded); used as sampling weights.
DISTRICT_POPULATION: dict[str, int] = {
    "Central and Western": 235,
    "Wan Chai": 167,
    "Eastern": 529,
    "Southern": 263,
    "Yau Tsim Mong": 310,
    "Sham Shui Po": 431,
    "Kowloon City": 410,
    "Wong Tai Sin": 406,
    "Kwun Tong": 673,
    "Kwai Tsing": 495,
    "Tsuen Wan": 320,
    "Tuen Mun": 506,
    "Yuen Long": 668,
    "North": 309,
    "Tai Po": 316,
    "Sha Tin": 692,
    "Sai Kung": 489,
    "Islands": 185,
}

# How the region is written on the last line of a postal address.
_POSTAL_REGION = {
    HONG_KONG_ISLAND: "Hong Kong",
    KOWLOON: "Kowloon",
    NEW_TERRITORIES: "New Territories",
}


@dataclass(frozen=True)
class Estate:
    """A residential estate or building: where it is and how its flats are numbered."""

    name: str
    area: str
    street: str | None
    blocks: int  # 0 for a single building written without a block
    floors: int
    public: bool  # public housing writes "Room 1215"; private housing "Flat B"


def _e(
    name: str, area: str, street: str | None, blocks: int, floors: int, public: bool = False
) -> Estate:
    return Estate(name, area, street, blocks, floors, public)


# A few real estates per district; every area belongs to its district.
ESTATES: dict[str, tuple[Estate, ...]] = {
    "Central and Western": (
        _e("Robinson Place", "Mid-Levels", "70 Robinson Road", 0, 43),
        _e("Island Crest", "Sai Ying Pun", "8 First Street", 3, 45),
        _e("Hollywood Terrace", "Sheung Wan", "123 Hollywood Road", 2, 40),
        _e("Kennedy Town Centre", "Kennedy Town", "23 Belcher's Street", 4, 30),
    ),
    "Wan Chai": (
        _e("Convention Plaza Apartments", "Wan Chai", "1 Harbour Road", 0, 40),
        _e("The Zenith", "Wan Chai", "258 Queen's Road East", 3, 45),
        _e("Leighton Hill", "Happy Valley", "2B Broadwood Road", 4, 40),
        _e("Lai Tak Tsuen", "Tai Hang", "2 Lai Tak Tsuen Road", 2, 25),
    ),
    "Eastern": (
        _e("City Garden", "North Point", "233 Electric Road", 14, 28),
        _e("Heng Fa Chuen", "Chai Wan", "100 Shing Tai Road", 49, 28),
        _e("Les Saisons", "Sai Wan Ho", "28 Tai On Street", 2, 48),
        _e("Yiu Tung Estate", "Shau Kei Wan", None, 10, 35, public=True),
    ),
    "Southern": (
        _e("South Horizons", "Ap Lei Chau", "South Horizons Drive", 34, 42),
        _e("Wah Fu Estate", "Pok Fu Lam", None, 18, 28, public=True),
        _e("Baguio Villa", "Pok Fu Lam", "555 Victoria Road", 8, 20),
        _e("Redhill Peninsula", "Tai Tam", "18 Pak Pat Shan Road", 10, 12),
    ),
    "Yau Tsim Mong": (
        _e("The Victoria Towers", "Tsim Sha Tsui", "188 Canton Road", 3, 60),
        _e("Sorrento", "West Kowloon", "1 Austin Road West", 5, 75),
        _e("Park Avenue", "Tai Kok Tsui", "18 Hoi Ting Road", 5, 45),
        _e("Prosperous Garden", "Yau Ma Tei", "3 Public Square Street", 5, 28),
    ),
    "Sham Shui Po": (
        _e("Mei Foo Sun Chuen", "Lai Chi Kok", "Broadway", 99, 20),
        _e("Liberté", "Cheung Sha Wan", "833 Lai Chi Kok Road", 7, 40),
        _e("Banyan Garden", "Cheung Sha Wan", "863 Lai Chi Kok Road", 8, 38),
        _e("Nam Shan Estate", "Shek Kip Mei", None, 9, 22, public=True),
        _e("Pak Tin Estate", "Shek Kip Mei", None, 14, 35, public=True),
    ),
    "Kowloon City": (
        _e("Whampoa Garden", "Hung Hom", "Tak Fung Street", 88, 16),
        _e("Laguna Verde", "Hung Hom", "8 Laguna Verde Avenue", 20, 40),
        _e("Oi Man Estate", "Ho Man Tin", None, 10, 25, public=True),
        _e("Kai Ching Estate", "Kai Tak", None, 8, 36, public=True),
    ),
    "Wong Tai Sin": (
        _e("Galaxia", "Diamond Hill", "3 Lung Poon Street", 6, 38),
        _e("Tsz Ching Estate", "Tsz Wan Shan", None, 12, 38, public=True),
        _e("Lok Fu Estate", "Lok Fu", None, 9, 25, public=True),
        _e("Choi Hung Estate", "Ngau Chi Wan", None, 11, 20, public=True),
    ),
    "Kwun Tong": (
        _e("Amoy Gardens", "Ngau Tau Kok", "77 Ngau Tau Kok Road", 19, 33),
        _e("Laguna City", "Lam Tin", "Cha Kwo Ling Road", 38, 28),
        _e("Sceneway Garden", "Lam Tin", "8 Sin Fat Road", 17, 35),
        _e("Lok Wah South Estate", "Ngau Tau Kok", None, 10, 26, public=True),
        _e("Yau Lai Estate", "Yau Tong", None, 12, 40, public=True),
    ),
    "Kwai Tsing": (
        _e("Tierra Verde", "Tsing Yi", "33 Tsing King Road", 12, 40),
        _e("Cheung Ching Estate", "Tsing Yi", None, 8, 25, public=True),
        _e("Kwai Fong Estate", "Kwai Chung", None, 8, 30, public=True),
        _e("Kwai Shing East Estate", "Kwai Chung", None, 8, 32, public=True),
    ),
    "Tsuen Wan": (
        _e("Belvedere Garden", "Tsuen Wan", "620 Castle Peak Road", 14, 38),
        _e("Discovery Park", "Tsuen Wan", "398 Castle Peak Road", 7, 40),
        _e("Tsuen Wan Centre", "Tsuen Wan", "Tsuen King Circuit", 21, 28),
        _e("Park Island", "Ma Wan", "8 Pak Lam Road", 30, 38),
    ),
    "Tuen Mun": (
        _e("Sun Tuen Mun Centre", "Tuen Mun", "2 Hoi Wing Road", 10, 36),
        _e("Tai Hing Gardens", "Tuen Mun", "Tsing Hoi Circuit", 11, 30),
        _e("Butterfly Estate", "Tuen Mun", None, 7, 30, public=True),
        _e("Leung King Estate", "Tuen Mun", None, 7, 32, public=True),
    ),
    "Yuen Long": (
        _e("Kingswood Villas", "Tin Shui Wai", "1 Tin Wu Road", 58, 40),
        _e("YOHO Town", "Yuen Long", "8 Yuen Lung Street", 6, 40),
        _e("Tin Yiu Estate", "Tin Shui Wai", None, 8, 38, public=True),
        _e("Long Ping Estate", "Yuen Long", None, 11, 27, public=True),
    ),
    "North": (
        _e("Sheung Shui Centre", "Sheung Shui", "3 Ching Hiu Road", 8, 32),
        _e("Fanling Centre", "Fanling", "33 San Wan Road", 4, 30),
        _e("Choi Yuen Estate", "Sheung Shui", None, 6, 28, public=True),
        _e("Wah Ming Estate", "Fanling", None, 7, 30, public=True),
    ),
    "Tai Po": (
        _e("Tai Po Centre", "Tai Po", "1 On Pong Road", 16, 30),
        _e("Uptown Plaza", "Tai Po", "9 Nam Wan Road", 6, 33),
        _e("Fu Heng Estate", "Tai Po", None, 6, 27, public=True),
        _e("Tai Wo Estate", "Tai Po", None, 9, 31, public=True),
    ),
    "Sha Tin": (
        _e("City One Shatin", "Sha Tin", "Ngan Shing Street", 52, 32),
        _e("Jubilee Garden", "Fo Tan", "2 Lok King Street", 11, 34),
        _e("Festival City", "Tai Wai", "1 Mei Tin Road", 12, 56),
        _e("Sunshine City", "Ma On Shan", "On Luk Street", 20, 32),
        _e("Lek Yuen Estate", "Sha Tin", None, 7, 20, public=True),
    ),
    "Sai Kung": (
        _e("Metro Town", "Tseung Kwan O", "8 King Ling Road", 8, 50),
        _e("Ocean Shores", "Tseung Kwan O", "88 O King Road", 16, 50),
        _e("Po Lam Estate", "Tseung Kwan O", None, 8, 35, public=True),
        _e("Marina Cove", "Sai Kung", "380 Hiram's Highway", 20, 3),
    ),
    "Islands": (
        _e("Caribbean Coast", "Tung Chung", "1 Kin Tung Road", 16, 50),
        _e("Coastal Skyline", "Tung Chung", "12 Tung Chung Waterfront Road", 8, 50),
        _e("Fu Tung Estate", "Tung Chung", None, 7, 35, public=True),
        _e("Yat Tung Estate", "Tung Chung", None, 15, 35, public=True),
    ),
}

# Romanised (HK government style) and Chinese surnames, with rough relative frequency. A
# romanisation may stand for several characters (Wong: 黃, 王) and vice versa (羅: Law, Lo).
SURNAMES: tuple[tuple[str, str, int], ...] = (
    ("Chan", "陳", 80), ("Wong", "黃", 60), ("Lee", "李", 45), ("Cheung", "張", 35),
    ("Lau", "劉", 30), ("Leung", "梁", 25), ("Lam", "林", 25), ("Ho", "何", 22),
    ("Ng", "吳", 22), ("Cheng", "鄭", 14), ("Chow", "周", 14), ("Tang", "鄧", 12),
    ("Yip", "葉", 12), ("Yeung", "楊", 12), ("Tsang", "曾", 10), ("Kwok", "郭", 10),
    ("Wong", "王", 10), ("Mak", "麥", 8), ("Fung", "馮", 8), ("Lo", "盧", 8),
    ("Law", "羅", 8), ("Tam", "譚", 8), ("Chu", "朱", 8), ("Lai", "黎", 8),
    ("Ma", "馬", 8), ("Hui", "許", 8), ("Choi", "蔡", 6), ("Poon", "潘", 6),
    ("Tse", "謝", 6), ("Chiu", "趙", 6), ("Yu", "余", 6), ("Ng", "伍", 6),
    ("Tsui", "徐", 6), ("Chung", "鍾", 6), ("Kwan", "關", 5), ("Siu", "蕭", 5),
    ("Yuen", "袁", 5), ("So", "蘇", 5), ("Ko", "高", 5), ("Lui", "呂", 5),
    ("Fong", "方", 5), ("Pang", "彭", 5), ("Wu", "胡", 5), ("Lo", "羅", 5),
    ("Au", "歐", 4), ("Tong", "唐", 4), ("Kong", "江", 4), ("Mok", "莫", 4),
    ("Shum", "岑", 3), ("Tai", "戴", 3),
)  # fmt: skip

# Given-name syllables (romanisation, character). A two-character given name takes one sound
# that usually comes first and one that usually comes second ("Ka Man" 嘉敏, "Chi Keung" 志強);
# a one-character given name takes a second-position sound.
_GIVEN_FIRST_F: tuple[tuple[str, str], ...] = (
    ("Ka", "嘉"), ("Wing", "詠"), ("Hoi", "凱"), ("Tsz", "紫"), ("Hiu", "曉"), ("Sze", "詩"),
    ("Mei", "美"), ("Pui", "佩"), ("Shuk", "淑"), ("Wai", "慧"), ("Suet", "雪"), ("Yuen", "婉"),
    ("Man", "敏"), ("Lok", "樂"), ("Oi", "愛"), ("Ka", "家"), ("Tsz", "芷"), ("Yan", "欣"),
)  # fmt: skip
_GIVEN_SECOND_F: tuple[tuple[str, str], ...] = (
    ("Man", "敏"), ("Yan", "欣"), ("Yee", "儀"), ("Ling", "玲"), ("Wai", "慧"), ("Kei", "琪"),
    ("Ting", "婷"), ("Ying", "瑩"), ("Ching", "晴"), ("Yi", "怡"), ("Sum", "心"), ("Lam", "琳"),
    ("Fong", "芳"), ("Kwan", "君"), ("Lai", "麗"), ("Nga", "雅"), ("Wan", "韻"), ("Tung", "彤"),
)  # fmt: skip
_GIVEN_FIRST_M: tuple[tuple[str, str], ...] = (
    ("Chi", "志"), ("Ka", "家"), ("Wing", "永"), ("Kwok", "國"), ("Tsz", "子"), ("Chun", "俊"),
    ("Ho", "浩"), ("Pak", "柏"), ("Yat", "逸"), ("Kin", "建"), ("Wai", "偉"), ("Man", "文"),
    ("Siu", "兆"), ("Yiu", "耀"), ("Kai", "啟"), ("Sai", "世"), ("Hok", "學"), ("Tsz", "梓"),
)  # fmt: skip
_GIVEN_SECOND_M: tuple[tuple[str, str], ...] = (
    ("Keung", "強"), ("Ming", "明"), ("Hung", "雄"), ("Kin", "健"), ("Ho", "豪"), ("Fai", "輝"),
    ("Wah", "華"), ("Kit", "傑"), ("Lun", "倫"), ("Hin", "軒"), ("Long", "朗"), ("Yu", "宇"),
    ("Hong", "康"), ("Sing", "昇"), ("Kwan", "鈞"), ("Tak", "德"), ("Shing", "成"), ("Leung", "亮"),
)  # fmt: skip

_GIVEN_POOLS = {
    "F": (_GIVEN_FIRST_F, _GIVEN_SECOND_F),
    "M": (_GIVEN_FIRST_M, _GIVEN_SECOND_M),
}

_ENGLISH_F: tuple[str, ...] = (
    "Mandy", "Winnie", "Karen", "Ivy", "Cindy", "Joyce", "Vivian", "Carmen", "Jessica", "Fiona",
    "Grace", "Queenie", "Phoebe", "Kitty", "Candy", "Sharon", "Yvonne", "Jennifer", "Eunice",
    "Connie", "Janice", "Priscilla", "Tiffany", "Natalie", "Chloe", "Heidi", "Agnes", "Cherry",
)  # fmt: skip
_ENGLISH_M: tuple[str, ...] = (
    "Kelvin", "Kenneth", "Raymond", "Alan", "Eric", "Jason", "Calvin", "Ivan", "Terence",
    "Wilson", "Gary", "Derek", "Stanley", "Ricky", "Tommy", "Patrick", "Vincent", "Matthew",
    "Samuel", "Jacky", "Sunny", "Marco", "Anson", "Edmond", "Brian", "Justin", "Ryan", "Ethan",
)  # fmt: skip

EMAIL_DOMAINS: dict[str, int] = {
    "gmail.com": 40,
    "yahoo.com.hk": 15,
    "hotmail.com": 14,
    "icloud.com": 12,
    "outlook.com": 10,
    "netvigator.com": 9,
}

# Realistic prefixes: mostly single letters; a few two-letter prefixes.
_HKID_PREFIXES_1 = ("A", "C", "D", "E", "G", "H", "K", "M", "P", "R", "V", "Y", "Z")
_HKID_PREFIXES_2 = ("WX", "XA", "XB", "XC")
_HKID_CHECKS = "0123456789A"

_MEMBER_DIGITS = 8
_ENGLISH_NAME_RATE = 0.55
_ONE_CHAR_GIVEN_RATE = 0.1
_TWO_LETTER_HKID_RATE = 0.03


class _Weighted(Generic[T]):
    """Items with integer weights, drawn by bisecting cumulative weights (stable everywhere)."""

    def __init__(self, pairs: Sequence[tuple[T, int]]) -> None:
        self.items = tuple(item for item, _ in pairs)
        self.cumulative = tuple(itertools.accumulate(weight for _, weight in pairs))

    def pick(self, rng: random.Random) -> T:
        index = bisect.bisect_right(self.cumulative, _below(rng, self.cumulative[-1]))
        return self.items[index]


def _below(rng: random.Random, n: int) -> int:
    """``rng.randrange(n)``: the very same draw, without its argument checks (a hot path)."""
    k = n.bit_length()
    r = rng.getrandbits(k)
    while r >= n:
        r = rng.getrandbits(k)
    return r


_DISTRICT_PICKER = _Weighted(list(DISTRICT_POPULATION.items()))
_SURNAME_PICKER = _Weighted([((en, zh), weight) for en, zh, weight in SURNAMES])
_DOMAIN_PICKER = _Weighted(list(EMAIL_DOMAINS.items()))
_MOBILE_FIRST = _Weighted([("9", 5), ("6", 4), ("5", 2)])
_LANDLINE_FIRST = _Weighted([("2", 8), ("3", 2)])


@dataclass(frozen=True)
class HKPerson:
    """A generated Hong Kong person: romanised and Chinese names, optional English name, gender."""

    surname_en: str  # "Chan"
    given_en: str  # romanised Cantonese given name, "Ka Man"
    english_name: str | None  # "Mandy", or None for people who use no English name
    surname_zh: str  # "陳"
    given_zh: str  # "嘉敏"
    gender: str  # "F" or "M"

    @property
    def name_en(self) -> str:
        """Return the English full name, e.g. "Mandy Chan Ka Man" or "Chan Ka Man"."""
        parts = [self.english_name] if self.english_name else []
        return " ".join([*parts, self.surname_en, self.given_en])

    @property
    def name_zh(self) -> str:
        """Return the Chinese full name, e.g. "陳嘉敏"."""
        return self.surname_zh + self.given_zh


def region_of(district: str) -> str:
    """Return the region (Hong Kong Island, Kowloon, New Territories) of a district."""
    try:
        return DISTRICTS[district]
    except KeyError:
        raise ValueError(f"unknown Hong Kong district: {district!r}") from None


def format_phone_display(number: str) -> str:
    """Return an 8-digit Hong Kong number written for display, e.g. "+852 9123 4567"."""
    if len(number) != 8 or not number.isascii() or not number.isdigit():
        raise ValueError(f"a Hong Kong number has 8 digits, got {number!r}")
    return f"+852 {number[:4]} {number[4:]}"


def member_number(seq: int, prefix: str = "M") -> str:
    """Return a member number such as "M00012345" from a sequence number (never from an HKID).

    Eight digits keep member numbers apart from HKIDs, which have at most seven characters
    after the letters, so ``find_partial_hkids`` never flags them.
    """
    if not 0 <= seq < 10**_MEMBER_DIGITS:
        raise ValueError(f"member sequence must be 0..{10**_MEMBER_DIGITS - 1}, got {seq}")
    if not (prefix.isascii() and prefix.isalpha() and prefix.isupper() and len(prefix) <= 2):
        raise ValueError(f"member number prefix must be one or two capital letters: {prefix!r}")
    return f"{prefix}{seq:0{_MEMBER_DIGITS}d}"


@functools.cache
def _floor_numbers(top: int, skip_unlucky: bool) -> tuple[int, ...]:
    # Private developers commonly omit floors with a 4 in them and 13.
    floors = range(1, top + 1)
    if skip_unlucky:
        return tuple(f for f in floors if "4" not in str(f) and f != 13)
    return tuple(floors)


@functools.cache
def _other_sounds(pool: tuple[tuple[str, str], ...], sound: str) -> tuple[tuple[str, str], ...]:
    return tuple(s for s in pool if s[0] != sound)


def _ascii_name(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isascii() and ch.isalnum())


class HongKongProvider(BaseProvider):
    """Faker provider for Hong Kong people, contact details, addresses and ID numbers."""

    @property
    def _rng(self) -> random.Random:
        return self.generator.random

    def hk_district(self) -> str:
        """Return one of the 18 districts, weighted by population."""
        return _DISTRICT_PICKER.pick(self._rng)

    def hk_region_of(self, district: str) -> str:
        """Return the region of a district."""
        return region_of(district)

    def hk_mobile_number(self) -> str:
        """Return an 8-digit mobile number starting 5, 6 or 9, without spaces."""
        rng = self._rng
        return _MOBILE_FIRST.pick(rng) + f"{_below(rng, 10**7):07d}"

    def hk_landline_number(self) -> str:
        """Return an 8-digit fixed-line number starting 2 or 3, without spaces."""
        return _LANDLINE_FIRST.pick(self._rng) + f"{self._rng.randrange(10**7):07d}"

    def hk_phone_display(self, number: str | None = None) -> str:
        """Return a number (a new mobile if none is given) written as "+852 9123 4567"."""
        return format_phone_display(number if number is not None else self.hk_mobile_number())

    def hk_person(self) -> HKPerson:
        """Return a person with matching romanised and Chinese names."""
        rng = self._rng
        gender = rng.choice(("F", "M"))
        surname_en, surname_zh = _SURNAME_PICKER.pick(rng)
        first_pool, second_pool = _GIVEN_POOLS[gender]
        if rng.random() < _ONE_CHAR_GIVEN_RATE:
            syllables = [rng.choice(second_pool)]
        else:
            first = first_pool[_below(rng, len(first_pool))]
            # Two different sounds: "Ka Man", never "Man Man".
            others = _other_sounds(second_pool, first[0])
            syllables = [first, others[_below(rng, len(others))]]
        english: str | None = None
        if rng.random() < _ENGLISH_NAME_RATE:
            english = rng.choice(_ENGLISH_F if gender == "F" else _ENGLISH_M)
        return HKPerson(
            surname_en=surname_en,
            given_en=" ".join(roman for roman, _ in syllables),
            english_name=english,
            surname_zh=surname_zh,
            given_zh="".join(char for _, char in syllables),
            gender=gender,
        )

    def hk_email(self, person: HKPerson | None = None) -> str:
        """Return a plausible lower-case personal e-mail address built from a person's name."""
        rng = self._rng
        if person is None:
            person = self.hk_person()
        surname = _ascii_name(person.surname_en)
        given = _ascii_name(person.given_en)
        initials = "".join(part[0].lower() for part in person.given_en.split())
        first = _ascii_name(person.english_name) if person.english_name else given
        year = f"{(60 + _below(rng, 50)) % 100:02d}"  # a birth year, 1960-2009
        number = str(1 + _below(rng, 999))
        # One of eight forms, drawn as ``rng.choice`` of the eight would, and only it is built.
        form = _below(rng, 8)
        if form == 0:
            local = f"{first}.{surname}"
        elif form == 1:
            local = f"{first}{surname}{year}"
        elif form == 2:
            local = f"{surname}{initials}"
        elif form == 3:
            local = f"{surname}{initials}{number}"
        elif form == 4:
            local = f"{given}.{surname}"
        elif form == 5:
            local = f"{first}_{surname}"
        elif form == 6:
            local = f"{surname}.{first}{year}"
        else:
            local = f"{first}{initials}{surname}"
        return f"{local}@{_DOMAIN_PICKER.pick(rng)}"

    def hk_address(self, district: str | None = None) -> str:
        """Return a residential address in the district (a random one if none is given)."""
        rng = self._rng
        if district is None:
            district = self.hk_district()
        region = region_of(district)
        estates = ESTATES[district]
        estate = estates[_below(rng, len(estates))]
        floors = _floor_numbers(estate.floors, skip_unlucky=not estate.public)
        floor = floors[_below(rng, len(floors))]
        if estate.public:
            unit = f"Room {floor:02d}{1 + _below(rng, 24):02d}"
        else:
            unit = f"Flat {rng.choice('ABCDEFGH')}"
        parts = [unit, f"{floor}/F"]
        if estate.blocks:
            parts.append(f"Block {rng.randint(1, estate.blocks)}")
        parts.append(estate.name)
        if estate.street:
            parts.append(estate.street)
        parts += [estate.area, _POSTAL_REGION[region]]
        return ", ".join(parts)

    def _hkid_parts(self) -> tuple[str, str]:
        rng = self._rng
        if rng.random() < _TWO_LETTER_HKID_RATE:
            prefix = rng.choice(_HKID_PREFIXES_2)
        else:
            prefix = rng.choice(_HKID_PREFIXES_1)
        return prefix, f"{rng.randrange(10**6):06d}"

    def hkid(self) -> str:
        """Return an HKID number with a valid check digit, e.g. "A123456(3)"."""
        return format_hkid(*self._hkid_parts())

    def hkid_invalid(self) -> str:
        """Return an HKID-shaped number whose check digit is wrong (for planted defects)."""
        prefix, digits = self._hkid_parts()
        right = check_digit(prefix, digits)
        wrong = self._rng.choice([c for c in _HKID_CHECKS if c != right])
        return f"{prefix}{digits}({wrong})"

    def member_number(self, seq: int, prefix: str = "M") -> str:
        """Return the member number for a sequence number, e.g. "M00012345"."""
        return member_number(seq, prefix)


def make_faker(seed: int | None = None) -> Faker:
    """Return a Faker instance with the Hong Kong provider added, seeded if a seed is given."""
    fake = Faker("en_US")
    fake.add_provider(HongKongProvider)
    if seed is not None:
        fake.seed_instance(seed)
    return fake
