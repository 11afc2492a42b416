"""Generating the company: branches, departments, staff and collection notices."""

from __future__ import annotations

import bisect
from datetime import date, timedelta
from typing import Any

from sandbox_crm import catalogue_data as data
from sandbox_crm.generator import (
    YEARS_OF_MEMBERS,
    GenerationRun,
    chance,
)
from sandbox_crm.hk_provider import DISTRICTS, REGIONS, HKPerson
from sandbox_crm.models import (
    Branch,
    CollectionNotice,
    Department,
    Profile,
    StaffUser,
)


def _username(person: HKPerson) -> str:
    initials = "".join(part[0] for part in person.given_en.split())
    return (initials + person.surname_en).lower().replace(" ", "")


def branches(run: GenerationRun) -> None:
    rng = run.rng
    picked: list[data.Site] = []
    by_region = {r: [s for s in data.STORE_SITES if DISTRICTS[s.district] == r] for r in REGIONS}
    for region in REGIONS:
        sites = by_region[region]
        if any(s.outlying for s in sites):
            # One store far from the city: it connects remotely through an allow-list.
            picked.append(rng.choice([s for s in sites if s.outlying]))
            picked.append(rng.choice([s for s in sites if not s.outlying]))
        else:
            picked.extend(rng.sample(sites, 2))
    rest = [s for s in data.STORE_SITES if s not in picked]
    picked.extend(rng.sample(rest, rng.randint(0, 4)))
    picked.sort(key=data.STORE_SITES.index)
    noun = "Shop" if run.profile == Profile.JEWELLERY else "Store"
    rows: list[dict[str, Any]] = []
    remote_done = False
    for index, site in enumerate(picked, start=1):
        remote = site.outlying and not remote_done
        remote_done = remote_done or remote
        allow = f"{data.IP_RANGES[0]}.{8 * index}/29"
        if remote:
            allow += f", {data.IP_RANGES[1]}.{rng.randint(2, 250)}/32"
        rows.append(_branch(index, site.code, f"{site.place} {noun}", "store", site, remote, allow))
    warehouse = data.WAREHOUSE_SITE
    rows.append(
        _branch(
            len(rows) + 1,
            warehouse.code,
            f"{warehouse.place} Warehouse",
            "warehouse",
            warehouse,
            True,
            f"{data.IP_RANGES[1]}.{rng.randint(2, 250)}/32",
        )
    )
    office = data.HEAD_OFFICE_SITES[run.profile]
    rows.append(
        _branch(
            len(rows) + 1,
            office.code,
            f"{office.place} Head Office",
            "office",
            office,
            False,
            f"{data.IP_RANGES[2]}.0/26",
        )
    )
    run.rows[Branch] = rows
    run.stores = [r for r in rows if r["kind"] == "store"]
    run.warehouse_id = rows[-2]["id"]
    run.office_id = rows[-1]["id"]


def _branch(
    id_: int, code: str, name: str, kind: str, site: data.Site, remote: bool, allow: str
) -> dict[str, Any]:
    return {
        "id": id_,
        "code": code,
        "name": name,
        "kind": kind,
        "district": site.district,
        "region": DISTRICTS[site.district],
        "is_remote": remote,
        "ip_allow_list": allow,
    }


def departments(run: GenerationRun) -> None:
    run.dept_ids = {code: i for i, (code, _) in enumerate(data.DEPARTMENTS, start=1)}
    run.rows[Department] = [
        {"id": i, "code": code, "name": name}
        for i, (code, name) in enumerate(data.DEPARTMENTS, start=1)
    ]


def staff(run: GenerationRun) -> None:
    rng, fake = run.rng, run.fake
    rows: list[dict[str, Any]] = []
    used: set[str] = set()

    def add(person: HKPerson, dept: str, title: str, branch_id: int | None) -> dict[str, Any]:
        base = _username(person)
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}{n}"
        used.add(name)
        row = {
            "id": len(rows) + 1,
            "username": name,
            "full_name": person.name_en,
            "title": title,
            "email": f"{name}@{run.domain}",
            "department_id": run.dept_ids[dept],
            "branch_id": branch_id,
            "is_active": True,
            "is_admin": False,
            "mfa_enabled": False,
            "left_on": None,
            "is_trainee": False,
        }
        rows.append(row)
        return row

    store_ids = [s["id"] for s in run.stores]
    store_cursor = 0
    for dept, count, titles in data.STAFF_PLAN:
        extra = 0 if dept == "management" else rng.randint(0, 1)
        for i in range(count + extra):
            title = titles[0] if i == 0 else rng.choice(titles[1:] or titles)
            branch_id: int | None = run.office_id
            if dept == "store_operations" and i > 0:
                branch_id = store_ids[store_cursor % len(store_ids)]
                store_cursor += 1
            elif dept == "it" and i == count + extra - 1:
                branch_id = run.warehouse_id
            row = add(fake.hk_person(), dept, title, branch_id)
            if (dept == "it" and i < 2) or (dept == "management" and i == 0):
                row["is_admin"] = True
                row["mfa_enabled"] = True
            elif dept in ("it", "finance") or row["branch_id"] in (run.warehouse_id,):
                row["mfa_enabled"] = chance(rng, 500)
    # One or two people have left; their accounts were disabled on their last day.
    candidates = [
        r
        for r in rows
        if not r["is_admin"]
        and not r["title"].endswith("Manager")
        and r["title"] not in ("Managing Director", "Operations Director", "Area Manager")
    ]
    for row in rng.sample(candidates, rng.randint(1, 2)):
        row["is_active"] = False
        row["left_on"] = run.today - timedelta(days=rng.randint(20, 400))
    trainee = add(
        fake.hk_person(), run.spec.acting_department, run.spec.acting_title, run.office_id
    )
    trainee["is_trainee"] = True
    run.trainee_id = trainee["id"]
    run.rows[StaffUser] = rows

    def active(dept: str) -> list[int]:
        return [
            r["id"]
            for r in rows
            if r["department_id"] == run.dept_ids[dept] and r["is_active"] and not r["is_trainee"]
        ]

    run.staff_by_dept = {code: active(code) for code, _ in data.DEPARTMENTS}
    run.staff_by_branch: dict[int, list[int]] = {}
    for r in rows:
        if r["branch_id"] is not None and r["is_active"] and not r["is_trainee"]:
            run.staff_by_branch.setdefault(r["branch_id"], []).append(r["id"])
    run.frontline = run.staff_by_dept["store_operations"] + run.staff_by_dept["customer_service"]


def notices(run: GenerationRun) -> None:
    rng = run.rng
    first_join = run.today - timedelta(days=365 * YEARS_OF_MEMBERS)
    starts = [first_join - timedelta(days=rng.randint(30, 200))]
    if rng.randint(2, 3) == 3:
        starts.append(run.today - timedelta(days=rng.randint(900, 1300)))
        starts.append(run.today - timedelta(days=rng.randint(200, 500)))
    else:
        starts.append(run.today - timedelta(days=rng.randint(400, 1100)))
    classes = list(data.MARKETING_CLASSES[run.profile])
    office = data.HEAD_OFFICE_SITES[run.profile]
    officer = f"Data Protection Officer, {run.company}, {office.place} (dpo@{run.domain})"
    reply = (
        f"tick the box on the form, reply to any message, or email optout@{run.domain};"
        " free of charge"
    )
    rows = []
    for index, start in enumerate(starts, start=1):
        purposes = list(data.NOTICE_PURPOSES[: 3 if index == 1 else 4])
        transferees = list(data.NOTICE_TRANSFEREES)
        if index > 1:
            transferees.append(
                "business partners for their own marketing, only with your written consent"
            )
        text = (
            f"{run.company} collects your personal data for: {'; '.join(purposes)}. "
            f"Name and mobile number are obligatory; other fields are voluntary. Your data "
            f"may be transferred to: {'; '.join(transferees)}. We intend to use your name, "
            f"email, mobile number and address for direct marketing of "
            f"{' and '.join(classes)}, and may not do so without your consent. You may "
            f"request access to and correction of your data from the {officer}."
        )
        rows.append(
            {
                "id": index,
                "version": f"PICS-{start.year}-{index:02d}",
                "effective_from": start,
                "purposes": purposes,
                "transferee_classes": transferees,
                "obligatory_fields": list(data.OBLIGATORY_FIELDS),
                "voluntary_fields": list(data.VOLUNTARY_FIELDS),
                "states_access_rights": True,
                "data_access_officer": officer,
                "dm_intent_stated": True,
                "dm_data_kinds": list(data.DM_DATA_KINDS),
                "dm_marketing_classes": classes,
                "dm_reply_channel": reply,
                "text": text,
            }
        )
    run.rows[CollectionNotice] = rows
    run.notice_starts = [r["effective_from"] for r in rows]


def notice_at(run: GenerationRun, day: date) -> int:
    """Id of the collection notice in force on ``day``."""
    return bisect.bisect_right(run.notice_starts, day)
