"""Generating customers: their contact points and their consent histories."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sandbox_crm import catalogue_data as data
from sandbox_crm import plants as plant_registry
from sandbox_crm.company.generation import notice_at
from sandbox_crm.generator import (
    CHANNEL_CONTACT_KINDS,
    YEARS_OF_MEMBERS,
    GenerationRun,
    Weighted,
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


@dataclass(slots=True)
class Member:
    """Generation-time facts about a customer that later steps need."""

    row: dict[str, Any]
    contacts: dict[str, Contact] = field(default_factory=dict)
    # channel -> [(captured_at, status, method, confirmed_in_writing_at)], in time order
    consent: dict[str, list[tuple[datetime, str, str, datetime | None]]] = field(
        default_factory=dict
    )

    def reach(self, channel: str) -> Contact | None:
        """The contact point a channel would use (first in order of preference), if any."""
        for kind in CHANNEL_CONTACT_KINDS[channel]:
            if kind in self.contacts:
                return self.contacts[kind]
        return None


_DM = ConsentPurpose.DIRECT_MARKETING.value


_ACTIVE_CONSENT = ("given", "no_objection")


def customers(run: GenerationRun) -> None:
    rng, fake = run.rng, run.fake
    first_join = run.today - timedelta(days=365 * YEARS_OF_MEMBERS)
    last_day = run.today - timedelta(days=1)
    stores_by_region: dict[str, list[int]] = {}
    for s in run.stores:
        stores_by_region.setdefault(s["region"], []).append(s["id"])
    store_ids = [s["id"] for s in run.stores]
    for seq in range(1, run.spec.customers + 1):
        person = fake.hk_person()
        district = fake.hk_district()
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
            home_branch = rng.choice(stores_by_region[region])
        else:
            home_branch = rng.choice(store_ids)
        updated_day = day_between(rng, joined, closed_on or last_day)
        updated = max(created, moment(rng, updated_day, 9, 21))
        row = {
            "id": seq,
            "member_no": member_number(seq),
            "source_system": source,
            "name_en": person.name_en,
            "name_zh": person.name_zh,
            "gender": person.gender,
            "birth_month": rng.randint(1, 12) if chance(rng, 850) else None,
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
        member = Member(row)
        contacts(run, member, person, district, source)
        joining_consents(run, member, source, created, joined)
        run.members.append(member)
    run.rows[Customer] = [m.row for m in run.members]
    run.rows[ContactPoint] = _contact_rows(run)


def _contact_rows(run: GenerationRun) -> Iterator[dict[str, Any]]:
    """The contact points, made when they are written (ids follow members, then kinds)."""
    for member in run.members:
        for contact in member.contacts.values():
            yield {
                "id": contact.id,
                "customer_id": member.row["id"],
                "kind": contact.kind,
                "value": contact.value,
                "is_primary": True,
                "is_invalid": contact.flagged,
                "opted_out": contact.opted_out,
            }


def contacts(
    run: GenerationRun, member: Member, person: HKPerson, district: str, source: str
) -> None:
    rng, fake = run.rng, run.fake

    def add(kind: str, value: str, malformed: bool, flagged: bool) -> None:
        usable = not (malformed or flagged)
        member.contacts[kind] = Contact(next(run.ids["contact"]), kind, value, usable, flagged)

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


def joining_consents(
    run: GenerationRun, member: Member, source: str, created: datetime, day: date
) -> None:
    rng = run.rng
    method = _SIGNUP_METHOD[source].pick(rng)
    confirmed = None
    if method == ConsentMethod.ORAL:
        roll = rng.randrange(100)
        if roll < 90:
            confirmed = created + timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 6))
        elif roll < 94:
            confirmed = created + timedelta(days=rng.randint(15, 30))
        if confirmed is not None and confirmed >= run.day0:
            confirmed = None
    for channel in _CHANNELS:
        status = "not_asked"
        if member.reach(channel) is not None:
            given, no_objection = _CONSENT_RATES[channel]
            roll = rng.randrange(1000)
            if roll < given:
                status = "given"
            elif roll < given + no_objection:
                status = "no_objection"
        member.consent[channel] = [
            (created, status, method, confirmed if status in _ACTIVE_CONSENT else None)
        ]
    # Only notices after the first name partners' marketing as a class of transferee.
    if notice_at(run, day) > 1 and "email" in member.contacts and chance(rng, 30):
        member.consent["third_party:email"] = [(created, "given", "written_form", None)]


def later_consents(run: GenerationRun) -> None:
    """Preference changes after joining: some opt in later, some withdraw (opt out)."""
    rng = run.rng
    last_day = run.today - timedelta(days=1)
    for member in run.members:
        row = member.row
        end = row["closed_on"] or last_day
        start = row["joined_on"] + timedelta(days=7)
        if start >= end:
            continue
        if chance(rng, 60):
            channel = rng.choice(_CHANNELS)
            history = member.consent[channel]
            if history[-1][1] == "not_asked" and member.reach(channel) is not None:
                when = moment(rng, day_between(rng, start, end), 8, 23)
                history.append((when, "given", "online_form", None))
        if chance(rng, 80):
            active = [c for c in _CHANNELS if member.consent[c][-1][1] in _ACTIVE_CONSENT]
            if not active:
                continue
            latest = max(member.consent[c][-1][0] for c in active).date()
            first = max(start, latest + timedelta(days=7))
            if first >= end:
                continue
            when = moment(rng, day_between(rng, first, end), 8, 23)
            if "email" in active and chance(rng, 550):
                withdrawn, method = ["email"], "unsubscribe_link"
            else:
                withdrawn, method = active, "written_form"
            for channel in withdrawn:
                member.consent[channel].append((when, "withdrawn", method, None))
                for kind in CHANNEL_CONTACT_KINDS[channel]:
                    if kind in member.contacts:
                        member.contacts[kind].opted_out = True
            row["updated_at"] = max(row["updated_at"], when)


def consent_rows(run: GenerationRun) -> None:
    later_consents(run)
    entries = []
    for member in run.members:
        cid = member.row["id"]
        for position, (key, history) in enumerate(member.consent.items()):
            purpose, channel = _DM, key
            if key.startswith("third_party:"):
                purpose, channel = ConsentPurpose.THIRD_PARTY_MARKETING.value, key[12:]
            for captured, status, method, confirmed in history:
                entries.append(
                    (captured, cid, position, purpose, channel, status, method, confirmed)
                )
    # The log is append-only: ids follow the time of capture.
    entries.sort(key=lambda e: (e[0], e[1], e[2]))
    run.rows[ConsentRecord] = _consent_rows(run, entries)


def _consent_rows(run: GenerationRun, entries: list[tuple]) -> Iterator[dict[str, Any]]:
    frontline = run.frontline or [run.trainee_id]
    for id_, (captured, cid, _, purpose, channel, status, method, confirmed) in enumerate(
        entries, start=1
    ):
        staff = None
        source = run.members[cid - 1].row["source_system"]
        if method in ("written_form", "oral") and source != SourceSystem.ESHOP:
            staff = frontline[(cid + captured.day) % len(frontline)]
        yield {
            "id": id_,
            "customer_id": cid,
            "purpose": purpose,
            "channel": channel,
            "status": status,
            "method": method,
            "captured_at": captured,
            "notice_id": notice_at(run, captured.date()),
            "recorded_by_id": staff,
            "confirmed_in_writing_at": confirmed,
            "note": "",
        }


def consent_active(run: GenerationRun, member: Member, channel: str, at: datetime) -> bool:
    """Whether direct-marketing consent on ``channel`` was in effect at ``at``."""
    status, method, confirmed = "not_asked", "", None
    for captured, s, m, c in member.consent[channel]:
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
        for captured, s, _, _ in member.consent[channel]:
            if captured > at:
                break
            status = s
        if status == "withdrawn":
            return True
    return False
