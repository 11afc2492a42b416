"""Generating customers: their contact points and their consent histories."""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sandbox_crm import catalogue_data as data
from sandbox_crm import plants as plant_registry
from sandbox_crm.company.generation import notice_at
from sandbox_crm.generator import (
    CHANNEL_CONTACT_KINDS,
    YEARS_OF_MEMBERS,
    GenerationRun,
    Rows,
    Weighted,
    below,
    chance,
    day_between,
    moment,
)
from sandbox_crm.hk_provider import DISTRICTS, HKPerson, member_number
from sandbox_crm.models import (
    Channel,
    ConsentMethod,
    ConsentPurpose,
    ConsentRecord,
    ContactPoint,
    Customer,
    CustomerStatus,
    SourceSystem,
    Tier,
)

_CHANNELS: tuple[str, ...] = tuple(c.value for c in Channel)
_TIER_PICKER = Weighted(
    [
        (Tier.CLASSIC.value, 55),
        (Tier.SILVER.value, 25),
        (Tier.GOLD.value, 14),
        (Tier.PLATINUM.value, 6),
    ]
)


_SOURCE_PICKER = Weighted(
    [
        (SourceSystem.POS.value, 45),
        (SourceSystem.ESHOP.value, 30),
        (SourceSystem.CRM.value, 15),
        (SourceSystem.EVENT.value, 10),
    ]
)


_STATUS_PICKER = Weighted(
    [
        (CustomerStatus.ACTIVE.value, 880),
        (CustomerStatus.INACTIVE.value, 80),
        (CustomerStatus.CLOSED.value, 40),
    ]
)


_SIGNUP_METHOD = {
    SourceSystem.POS.value: Weighted([("written_form", 60), ("oral", 40)]),
    SourceSystem.ESHOP.value: Weighted([("online_form", 1)]),
    SourceSystem.CRM.value: Weighted([("oral", 70), ("written_form", 30)]),
    SourceSystem.EVENT.value: Weighted([("written_form", 1)]),
}


# Per thousand, for a customer who has the channel's contact point: (given, no objection).
_CONSENT_RATES = {"email": (520, 100), "sms": (480, 100), "phone": (450, 110), "post": (470, 100)}


@dataclass(slots=True)
class Contact:
    id: int
    kind: str
    value: str
    usable: bool  # well-formed and not flagged invalid
    flagged: bool = False  # flagged invalid in the CRM
    opted_out: bool = False


_CONTACT_KINDS = ("email", "mobile", "phone", "address")
"""The kinds of contact point a member may have, in the order they are made (and written)."""

_USABLE, _FLAGGED, _OPTED_OUT = 1, 2, 4
USABLE = _USABLE
"""The flag of a contact point that is well-formed and not flagged invalid (``ContactColumn``)."""


class ContactColumn:
    """One kind of contact point for every member: id (0 for none), value and flags."""

    __slots__ = ("kind", "ids", "values", "flags")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.ids = array("q")
        self.values: list[str | None] = []
        self.flags = bytearray()

    def append(self, contact: Contact | None) -> None:
        """Add the next member's contact point of this kind (or its absence)."""
        if contact is None:
            self.ids.append(0)
            self.values.append(None)
            self.flags.append(0)
            return
        self.ids.append(contact.id)
        self.values.append(contact.value)
        self.flags.append(
            (_USABLE if contact.usable else 0)
            | (_FLAGGED if contact.flagged else 0)
            | (_OPTED_OUT if contact.opted_out else 0)
        )

    def get(self, index: int) -> StoredContact | None:
        """The contact point of member ``index``, or None."""
        return StoredContact(self, index) if self.ids[index] else None


class StoredContact:
    """A member's contact point as stored in its column: what ``Contact`` has, as a view."""

    __slots__ = ("_column", "_index")

    def __init__(self, column: ContactColumn, index: int) -> None:
        self._column = column
        self._index = index

    @property
    def id(self) -> int:
        return self._column.ids[self._index]

    @property
    def kind(self) -> str:
        return self._column.kind

    @property
    def value(self) -> str:
        return self._column.values[self._index]  # type: ignore[return-value]

    @property
    def usable(self) -> bool:
        return bool(self._column.flags[self._index] & _USABLE)

    @property
    def flagged(self) -> bool:
        return bool(self._column.flags[self._index] & _FLAGGED)

    @property
    def opted_out(self) -> bool:
        return bool(self._column.flags[self._index] & _OPTED_OUT)

    @opted_out.setter
    def opted_out(self, value: bool) -> None:
        flags = self._column.flags
        flags[self._index] = (flags[self._index] & ~_OPTED_OUT) | (_OPTED_OUT if value else 0)


_THIRD_PARTY_EMAIL = "third_party:email"

History = tuple[tuple[datetime, str, str, datetime | None], ...]
"""A consent history: (captured_at, status, method, confirmed_in_writing_at), in time order.

Histories are tuples, shared between a member's channels while they are the same; a change
is added with ``Member.add_consent``."""


class CustomerRow:
    """One member's customer row, read and written like a dict, stored in the table's columns."""

    __slots__ = ("_columns", "_index")

    def __init__(self, columns: dict[str, list[Any]], index: int) -> None:
        self._columns = columns
        self._index = index

    def __getitem__(self, key: str) -> Any:
        return self._columns[key][self._index]

    def __setitem__(self, key: str, value: Any) -> None:
        self._columns[key][self._index] = value

    def __contains__(self, key: object) -> bool:
        return key in self._columns

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` if the row has no such column."""
        column = self._columns.get(key)
        return default if column is None else column[self._index]

    def keys(self) -> Iterator[str]:
        """The column names."""
        return iter(self._columns)

    def items(self) -> Iterator[tuple[str, Any]]:
        """(column name, value) pairs, as a dict's."""
        return ((key, column[self._index]) for key, column in self._columns.items())


class Member:
    """Generation-time facts about a customer that later steps need (a view of one row).

    ``row`` is the customer row; ``contacts`` maps kind to contact point; ``consent`` maps
    channel (and ``third_party:email``) to its history (add to one with ``add_consent``).
    """

    __slots__ = ("_table", "_index")

    def __init__(self, table: MemberTable, index: int) -> None:
        self._table = table
        self._index = index

    @property
    def row(self) -> CustomerRow:
        return CustomerRow(self._table.columns, self._index)

    @property
    def contacts(self) -> dict[str, StoredContact]:
        i = self._index
        return {
            kind: StoredContact(column, i)
            for kind, column in self._table.contacts.items()
            if column.ids[i]
        }

    @property
    def consent(self) -> dict[str, History]:
        i, table = self._index, self._table
        histories = {channel: column[i] for channel, column in table.consent.items()}
        third_party = table.third_party.get(i)
        if third_party is not None:
            histories[_THIRD_PARTY_EMAIL] = third_party
        return histories

    def history(self, channel: str) -> History:
        """The direct-marketing consent history of one channel."""
        return self._table.consent[channel][self._index]

    def add_consent(
        self, channel: str, entry: tuple[datetime, str, str, datetime | None]
    ) -> History:
        """Add a later entry to a channel's history (or ``third_party:email``'s); the new one."""
        i, table = self._index, self._table
        if channel == _THIRD_PARTY_EMAIL:
            history = table.third_party[i] = table.third_party[i] + (entry,)
        else:
            column = table.consent[channel]
            history = column[i] = column[i] + (entry,)
        return history

    def reach(self, channel: str) -> StoredContact | None:
        """The contact point a channel would use (first in order of preference), if any."""
        i, contacts = self._index, self._table.contacts
        for kind in CHANNEL_CONTACT_KINDS[channel]:
            column = contacts[kind]
            if column.ids[i]:
                return StoredContact(column, i)
        return None


class MemberTable(Sequence[Member]):
    """Every member's generation-time facts, stored column by column.

    A hundred thousand members as dicts and objects cost hundreds of megabytes, mostly
    headers; as a list per field they cost little more than the values. ``run.members[i]``
    and iteration give a ``Member`` view of row ``i`` (the customer with id ``i + 1``).
    """

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {}
        self.contacts = {kind: ContactColumn(kind) for kind in _CONTACT_KINDS}
        self.consent: dict[str, list[History]] = {c: [] for c in _CHANNELS}
        self.third_party: dict[int, History] = {}

    def append(
        self, row: dict[str, Any], contacts: dict[str, Contact], consent: dict[str, History]
    ) -> None:
        """Add a member: the customer row, its contact points and its consent histories."""
        if not self.columns:
            self.columns = {key: [] for key in row}
        for key, column in self.columns.items():
            column.append(row[key])
        for kind, column in self.contacts.items():
            column.append(contacts.get(kind))
        for channel, column in self.consent.items():
            column.append(consent[channel])
        if _THIRD_PARTY_EMAIL in consent:
            self.third_party[len(self) - 1] = consent[_THIRD_PARTY_EMAIL]

    def __len__(self) -> int:
        return len(self.contacts["email"].ids)

    def __getitem__(self, index: int) -> Member:  # type: ignore[override]
        if not -len(self) <= index < len(self):
            raise IndexError("member index out of range")
        return Member(self, index % len(self))

    def __iter__(self) -> Iterator[Member]:
        return (Member(self, i) for i in range(len(self)))

    def customer_rows(self) -> Rows:
        """The customer rows, made as they are written."""
        return Rows(list(self.columns), lambda: zip(*self.columns.values(), strict=True))


_DM = ConsentPurpose.DIRECT_MARKETING.value


_ACTIVE_CONSENT = ("given", "no_objection")


def customers(run: GenerationRun) -> None:
    rng, hk = run.rng, run.hk
    first_join = run.today - timedelta(days=365 * YEARS_OF_MEMBERS)
    last_day = run.today - timedelta(days=1)
    stores_by_region: dict[str, list[int]] = {}
    for s in run.stores:
        stores_by_region.setdefault(s["region"], []).append(s["id"])
    store_ids = [s["id"] for s in run.stores]
    members = run.members = MemberTable()
    for seq in range(1, run.spec.customers + 1):
        person = hk.hk_person()
        district = hk.hk_district()
        region = DISTRICTS[district]
        source = _SOURCE_PICKER.pick(rng)
        tier = _TIER_PICKER.pick(rng)
        joined = day_between(rng, first_join, last_day)
        created = moment(rng, joined, 9, 21)
        status = _STATUS_PICKER.pick(rng)
        closed_on = None
        if status == CustomerStatus.CLOSED and (last_day - joined).days > 30:
            closed_on = day_between(rng, joined + timedelta(days=30), last_day)
        elif status == CustomerStatus.CLOSED:
            status = CustomerStatus.ACTIVE.value
        if source == SourceSystem.ESHOP and chance(rng, 500):
            home_branch = None
        elif chance(rng, 750) and region in stores_by_region:
            nearby = stores_by_region[region]
            home_branch = nearby[below(rng, len(nearby))]
        else:
            home_branch = store_ids[below(rng, len(store_ids))]
        updated_day = day_between(rng, joined, closed_on or last_day)
        updated = max(created, moment(rng, updated_day, 9, 21))
        row = {
            "id": seq,
            "member_no": member_number(seq),
            "source_system": source,
            "name_en": person.name_en,
            "name_zh": person.name_zh,
            "gender": person.gender,
            "birth_month": 1 + below(rng, 12) if chance(rng, 850) else None,
            "date_of_birth": None,
            "hkid": None,
            "hkid_basis": None,
            "district": district,
            "region": region,
            "tier": tier,
            "status": status,
            "preferred_language": "zh" if chance(rng, 600) else "en",
            "joined_on": joined,
            "closed_on": closed_on,
            "home_branch_id": home_branch,
            "collection_notice_id": notice_at(run, joined),
            "notes": rng.choice(data.CUSTOMER_NOTES) if chance(rng, 40) else "",
            "created_at": created,
            "updated_at": updated,
        }
        reached = contacts(run, person, district, source)
        consent = joining_consents(run, reached, source, created, joined)
        members.append(row, reached, consent)
    run.rows[Customer] = members.customer_rows()
    run.rows[ContactPoint] = Rows(_CONTACT_COLUMNS, lambda: _contact_rows(members))


_CONTACT_COLUMNS = ("id", "customer_id", "kind", "value", "is_primary", "is_invalid", "opted_out")


def _contact_rows(members: MemberTable) -> Iterator[tuple[Any, ...]]:
    """The contact points, made when they are written (ids follow members, then kinds)."""
    columns = list(members.contacts.values())
    for index in range(len(members)):
        for column in columns:
            id_ = column.ids[index]
            if not id_:
                continue
            flags = column.flags[index]
            yield (
                id_,
                index + 1,
                column.kind,
                column.values[index],
                True,
                bool(flags & _FLAGGED),
                bool(flags & _OPTED_OUT),
            )


def contacts(
    run: GenerationRun, person: HKPerson, district: str, source: str
) -> dict[str, Contact]:
    """A new member's contact points by kind."""
    rng, fake = run.rng, run.hk
    made: dict[str, Contact] = {}

    def add(kind: str, value: str, malformed: bool, flagged: bool) -> None:
        usable = not (malformed or flagged)
        made[kind] = Contact(next(run.ids["contact"]), kind, value, usable, flagged)

    if source == SourceSystem.ESHOP or chance(rng, 900):
        email = fake.hk_email(person)
        if chance(rng, 30):
            # Malformed; about half were caught and flagged, the rest are waiting to be found.
            add("email", plant_registry.malform_email(rng, email), True, chance(rng, 500))
        else:
            add("email", email, False, chance(rng, 10))  # bounced
    if chance(rng, 940):
        mobile = fake.hk_mobile_number()
        if chance(rng, 15):
            bad = mobile[:7] if chance(rng, 500) else mobile + str(rng.randrange(10))
            add("mobile", bad, True, chance(rng, 500))
        else:
            add("mobile", mobile, False, chance(rng, 5))
    if chance(rng, 180):
        add("phone", fake.hk_landline_number(), False, False)
    if source != SourceSystem.ESHOP and chance(rng, 700) or chance(rng, 450):
        add("address", fake.hk_address(district), False, chance(rng, 5))
    return made


def _reach(contacts: dict[str, Contact], channel: str) -> Contact | None:
    for kind in CHANNEL_CONTACT_KINDS[channel]:
        if kind in contacts:
            return contacts[kind]
    return None


def joining_consents(
    run: GenerationRun, reached: dict[str, Contact], source: str, created: datetime, day: date
) -> dict[str, History]:
    """A new member's consent histories: what they said (or were not asked) on joining."""
    rng = run.rng
    consent: dict[str, History] = {}
    said: dict[tuple[str, datetime | None], History] = {}  # one history per answer, shared
    method = _SIGNUP_METHOD[source].pick(rng)
    confirmed = None
    if method == ConsentMethod.ORAL:
        roll = below(rng, 100)
        if roll < 90:
            confirmed = created + timedelta(days=1 + below(rng, 10), hours=below(rng, 7))
        elif roll < 94:
            confirmed = created + timedelta(days=15 + below(rng, 16))
        if confirmed is not None and confirmed >= run.day0:
            confirmed = None
    for channel in _CHANNELS:
        status = "not_asked"
        if _reach(reached, channel) is not None:
            given, no_objection = _CONSENT_RATES[channel]
            roll = below(rng, 1000)
            if roll < given:
                status = "given"
            elif roll < given + no_objection:
                status = "no_objection"
        when_confirmed = confirmed if status in _ACTIVE_CONSENT else None
        consent[channel] = said.setdefault(
            (status, when_confirmed), ((created, status, method, when_confirmed),)
        )
    # Only notices after the first name partners' marketing as a class of transferee.
    if notice_at(run, day) > 1 and "email" in reached and chance(rng, 30):
        consent[_THIRD_PARTY_EMAIL] = ((created, "given", "written_form", None),)
    return consent


def later_consents(run: GenerationRun) -> None:
    """Preference changes after joining: some opt in later, some withdraw (opt out)."""
    rng = run.rng
    last_day = run.today - timedelta(days=1)
    members = run.members
    columns = members.columns
    closed_on, joined_on, updated_at = (
        columns["closed_on"],
        columns["joined_on"],
        columns["updated_at"],
    )
    # A member's view is made only for the few whose preferences change.
    for index in range(len(members)):
        end = closed_on[index] or last_day
        start = joined_on[index] + timedelta(days=7)
        if start >= end:
            continue
        if chance(rng, 60):
            member = Member(members, index)
            channel = _CHANNELS[below(rng, len(_CHANNELS))]
            if member.history(channel)[-1][1] == "not_asked" and member.reach(channel) is not None:
                when = moment(rng, day_between(rng, start, end), 8, 23)
                member.add_consent(channel, (when, "given", "online_form", None))
        if chance(rng, 80):
            member = Member(members, index)
            consent = member.consent
            active = [c for c in _CHANNELS if consent[c][-1][1] in _ACTIVE_CONSENT]
            if not active:
                continue
            latest = max(consent[c][-1][0] for c in active).date()
            first = max(start, latest + timedelta(days=7))
            if first >= end:
                continue
            when = moment(rng, day_between(rng, first, end), 8, 23)
            if "email" in active and chance(rng, 550):
                withdrawn, method = ["email"], "unsubscribe_link"
            else:
                withdrawn, method = active, "written_form"
            contacts = member.contacts
            for channel in withdrawn:
                member.add_consent(channel, (when, "withdrawn", method, None))
                for kind in CHANNEL_CONTACT_KINDS[channel]:
                    if kind in contacts:
                        contacts[kind].opted_out = True
            updated_at[index] = max(updated_at[index], when)


_KEY_EPOCH = datetime(1900, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_CUSTOMER_SPAN = 10**10  # customer id (< 10**8) x 100 + position x 10 + entry


def consent_rows(run: GenerationRun) -> None:
    later_consents(run)
    # The log is append-only: ids follow the time of capture, then customer, then the
    # history's position and entry. Each entry is one sort key (an int), not a tuple.
    keys = []
    for member in run.members:
        base = member.row["id"] * 100
        for position, history in enumerate(member.consent.values()):
            for entry, (captured, *_) in enumerate(history):
                moment_key = (captured - _KEY_EPOCH) // _MICROSECOND
                keys.append(moment_key * _CUSTOMER_SPAN + base + position * 10 + entry)
    keys.sort()
    # Once sorted, only the customer, position and entry are needed: 8 bytes an entry.
    for index, key in enumerate(keys):
        keys[index] = key % _CUSTOMER_SPAN
    written = array("q", keys)
    del keys
    run.rows[ConsentRecord] = Rows(_CONSENT_COLUMNS, lambda: _consent_rows(run, written))


_CONSENT_COLUMNS = (
    "id",
    "customer_id",
    "purpose",
    "channel",
    "status",
    "method",
    "captured_at",
    "notice_id",
    "recorded_by_id",
    "confirmed_in_writing_at",
    "note",
)


def _consent_rows(run: GenerationRun, written: array) -> Iterator[tuple[Any, ...]]:
    frontline = run.frontline or [run.trainee_id]
    members = run.members
    sources = members.columns["source_system"]
    positions = [*members.consent.values()]
    third_party = members.third_party
    tp_purpose = ConsentPurpose.THIRD_PARTY_MARKETING.value
    for id_, rest in enumerate(written, start=1):
        cid, position, entry = rest // 100, rest // 10 % 10, rest % 10
        if position < len(positions):
            purpose, channel = _DM, _CHANNELS[position]
            history = positions[position][cid - 1]
        else:
            purpose, channel = tp_purpose, _THIRD_PARTY_EMAIL[12:]
            history = third_party[cid - 1]
        captured, status, method, confirmed = history[entry]
        staff = None
        if method in ("written_form", "oral") and sources[cid - 1] != SourceSystem.ESHOP:
            staff = frontline[(cid + captured.day) % len(frontline)]
        notice = notice_at(run, captured.date())
        yield (id_, cid, purpose, channel, status, method, captured, notice, staff, confirmed, "")


def consent_active(run: GenerationRun, member: Member, channel: str, at: datetime) -> bool:
    """Whether direct-marketing consent on ``channel`` was in effect at ``at``."""
    status, method, confirmed = "not_asked", "", None
    for captured, s, m, c in member.history(channel):
        if captured > at:
            break
        status, method, confirmed = s, m, c
    if status not in _ACTIVE_CONSENT:
        return False
    if method == ConsentMethod.ORAL:
        return confirmed is not None and confirmed <= at
    return True


def opted_out_at(run: GenerationRun, member: Member, kind: str, at: datetime) -> bool:
    """Whether a contact point of ``kind`` was opted out at ``at`` (any reaching channel)."""
    for channel, kinds in CHANNEL_CONTACT_KINDS.items():
        if kind not in kinds:
            continue
        status = "not_asked"
        for captured, s, _, _ in member.history(channel):
            if captured > at:
                break
            status = s
        if status == "withdrawn":
            return True
    return False
