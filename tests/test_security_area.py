"""The security area: generation, operations and their refusals, checks, PDPO rules and pages."""

from __future__ import annotations

import json
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from graders.results import Status
from sandbox_crm.generator import GenerationSpec, PlantSpec
from sandbox_crm.models import AuditEvent, Branch, SandboxMeta, StaffUser
from sandbox_crm.operations import REFUSED_OPERATION, OperationError, apply_operation
from sandbox_crm.security.models import (
    BackupPolicy,
    BackupRun,
    FieldPermission,
    SecurityRole,
    StaffAccess,
)
from tests.area_fixtures import area_page_fixtures, generated, table_rows
from tests.graders_helpers import Attempt
from tests.test_crm_web import BASE

TODAY = date(2026, 9, 14)
SECURITY_TABLES = (SecurityRole, StaffAccess, FieldPermission, BackupPolicy, BackupRun)


def security_spec(customers: int = 80, **changes: object) -> GenerationSpec:
    """A small jewellery sandbox worked by an IT officer, with the security plants."""
    fields: dict[str, object] = {
        "profile": "jewellery",
        "seed": 10898,
        "customers": customers,
        "today": TODAY,
        "acting_department": "it",
        "acting_title": "IT Officer",
        "plants": (
            PlantSpec.of("leaver_admin_account", 1),
            PlantSpec.of("current_admin_account", 1),
        ),
    }
    fields.update(changes)
    return GenerationSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture
def sandbox_spec() -> GenerationSpec:
    return security_spec()


def _plant(session: Session, kind: str) -> int:
    return json.loads(session.get(SandboxMeta, "plants").value)[kind][0]


def _staff(session: Session, **where: object) -> StaffUser:
    query = select(StaffUser).where(
        *(getattr(StaffUser, name) == value for name, value in where.items())
    )
    return session.scalars(query.order_by(StaffUser.id)).first()


# --- generation -------------------------------------------------------------------------------


def test_generation_is_deterministic_with_the_weaknesses_and_leaves_retail_alone():
    spec = security_spec(plants=())
    first, second = generated(spec), generated(spec)
    retail = generated(GenerationSpec("retail", 10898, 80, TODAY))
    try:
        for model in (*SECURITY_TABLES, StaffUser, Branch):
            made = table_rows(first, model)
            assert made and made == table_rows(second, model), model.__name__
        for model in SECURITY_TABLES:
            assert not table_rows(retail, model), model.__name__
        assert not any(
            "0.0.0.0/0" in (b.ip_allow_list or "") for b in retail.scalars(select(Branch))
        )
        leavers = first.scalars(
            select(StaffUser).where(
                StaffUser.is_active.is_(True),
                StaffUser.is_admin.is_(True),
                StaffUser.left_on.is_not(None),
            )
        ).all()
        assert len(leavers) == 1 and (TODAY - leavers[0].left_on).days >= 120
        lo_wu = first.scalars(select(Branch).where(Branch.code == "LWU")).one()
        assert "0.0.0.0/0" in lo_wu.ip_allow_list
        policy = first.scalars(select(BackupPolicy)).one()
        assert policy.retention_days is None and not policy.encrypted
        marketing = first.scalars(
            select(SecurityRole).where(SecurityRole.code == "marketing")
        ).one()
        hkid = first.scalars(
            select(FieldPermission).where(
                FieldPermission.role_id == marketing.id, FieldPermission.field == "hkid"
            )
        ).one()
        assert hkid.access == "full"
        every_account = {s.id for s in first.scalars(select(StaffUser))}
        assert every_account == {a.staff_id for a in first.scalars(select(StaffAccess))}
    finally:
        for session in (first, second, retail):
            session.close()


# --- operations -------------------------------------------------------------------------------


def test_each_operation_changes_the_setting_and_is_audited(
    sandbox_session: Session, sandbox_actor: StaffUser
):
    session, actor = sandbox_session, sandbox_actor
    leaver = _plant(session, "leaver_admin_account")
    start = session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc())) or 0
    assert not apply_operation(
        session, actor, "disable_staff_account", {"staff_id": leaver, "reason": "Left"}
    ).is_active
    staff = _staff(session, title="Marketing Officer")
    apply_operation(
        session, actor, "set_staff_access", {"staff_id": staff.id, "role": "sales", "scope": "own"}
    )
    assert session.get(StaffAccess, staff.id).scope == "own"
    permission = apply_operation(
        session,
        actor,
        "set_field_permission",
        {"role": "marketing", "field": "hkid", "access": "masked"},
    )
    assert permission.access == "masked"
    branch = apply_operation(
        session,
        actor,
        "set_ip_allow_list",
        {"branch_code": "lwu", "allow_list": "203.198.64.16/29 203.198.64.16/29"},
    )
    assert branch.ip_allow_list == "203.198.64.16/29"
    policy = apply_operation(
        session,
        actor,
        "set_backup_policy",
        {"frequency": "daily", "retention_days": 30, "encrypted": True},
    )
    assert policy.encrypted and all(r.expires_on for r in session.scalars(select(BackupRun)))
    backup = apply_operation(session, actor, "run_backup", {})
    assert backup.encrypted and backup.expires_on == TODAY.fromordinal(TODAY.toordinal() + 30)
    operations = [
        e.operation
        for e in session.scalars(
            select(AuditEvent).where(AuditEvent.id > start).order_by(AuditEvent.id)
        )
    ]
    assert operations == [
        "security.disable_account",
        "security.set_access",
        "security.set_field_permission",
        "security.set_ip_allow_list",
        "security.set_backup_policy",
        "security.run_backup",
    ]


@pytest.mark.parametrize(
    ("name", "args", "fragment"),
    [
        ("set_ip_allow_list", {"branch_code": "LWU", "allow_list": "10.0.0.1/40"}, "is not an IP"),
        ("set_ip_allow_list", {"branch_code": "XYZ", "allow_list": "10.0.0.1"}, "Unknown branch"),
        (
            "set_field_permission",
            {"role": "ceo", "field": "hkid", "access": "hidden"},
            "Unknown role",
        ),
        (
            "set_backup_policy",
            {"frequency": "daily", "retention_days": 0, "encrypted": True},
            "retention_days",
        ),
        ("disable_staff_account", {"staff_id": 99999, "reason": "Left"}, "no staff account"),
    ],
)
def test_operations_refuse_what_the_data_rules_out(
    sandbox_session: Session, sandbox_actor: StaffUser, name: str, args: dict, fragment: str
):
    with pytest.raises(OperationError) as caught:
        apply_operation(sandbox_session, sandbox_actor, name, args)
    assert fragment in caught.value.message


def test_staff_outside_it_and_management_are_refused(sandbox_session: Session):
    marketer = _staff(sandbox_session, title="Marketing Officer")
    for name, args in [
        ("run_backup", {}),
        ("set_field_permission", {"role": "marketing", "field": "hkid", "access": "full"}),
        ("disable_staff_account", {"staff_id": 1, "reason": "Left"}),
    ]:
        with pytest.raises(OperationError, match="may not change security settings"):
            apply_operation(sandbox_session, marketer, name, args)


def test_an_account_cannot_disable_itself_or_be_disabled_twice(
    sandbox_session: Session, sandbox_actor: StaffUser
):
    with pytest.raises(OperationError, match="your own account"):
        apply_operation(
            sandbox_session,
            sandbox_actor,
            "disable_staff_account",
            {"staff_id": sandbox_actor.id, "reason": "x"},
        )
    leaver = _plant(sandbox_session, "leaver_admin_account")
    apply_operation(
        sandbox_session, sandbox_actor, "disable_staff_account", {"staff_id": leaver, "reason": "x"}
    )
    with pytest.raises(OperationError, match="already disabled"):
        apply_operation(
            sandbox_session,
            sandbox_actor,
            "disable_staff_account",
            {"staff_id": leaver, "reason": "x"},
        )


def _findings(result: object) -> str:
    return " ".join(f.message for f in result.findings)  # type: ignore[attr-defined]


# --- checks and rules -------------------------------------------------------------------------


def _fix_everything(attempt: Attempt, **changes: object) -> None:
    leaver = _plant(attempt.session, "leaver_admin_account")
    attempt.do("disable_staff_account", staff_id=changes.get("disable", leaver), reason="Left")
    attempt.do(
        "set_ip_allow_list", branch_code="LWU", allow_list=changes.get("lwu", "203.198.64.16/29")
    )
    attempt.do(
        "set_backup_policy",
        frequency="daily",
        retention_days=changes.get("retention", 90),
        encrypted=True,
    )
    attempt.do("run_backup")
    attempt.do("set_field_permission", role="marketing", field="hkid", access="hidden")
    attempt.do(
        "set_field_permission",
        role="marketing",
        field="date_of_birth",
        access=changes.get("dob", "hidden"),
    )


def test_leavers_disabled_passes_the_leaver_and_fails_the_wrong_account(attempt: Attempt):
    assert attempt.check("security.leavers_disabled", {}).status is Status.FAIL
    current = _plant(attempt.session, "current_admin_account")
    _fix_everything(attempt, disable=current)
    outcome = attempt.check("security.leavers_disabled", {})
    assert outcome.status is Status.FAIL and outcome.evidence["leavers_still_active"]
    leaver = _plant(attempt.session, "leaver_admin_account")
    attempt.do("disable_staff_account", staff_id=leaver, reason="Left")
    outcome = attempt.check("security.leavers_disabled", {})
    assert outcome.status is Status.FAIL and list(outcome.evidence["current_staff_disabled"]) == [
        current
    ]
    assert (
        attempt.check("security.leavers_disabled", {"keep_current_active": False}).status
        is Status.PASS
    )


@pytest.mark.parametrize(
    ("allow_list", "status"),
    [
        ("203.198.64.16/29", Status.PASS),
        ("203.198.64.16/30, 203.198.64.20/30", Status.PASS),
        ("203.198.64.16/30", Status.FAIL),
        ("192.0.2.0/26", Status.FAIL),
        ("203.198.0.0/16", Status.FAIL),
    ],
)
def test_remote_allow_lists_must_be_narrow_and_keep_the_shop(attempt: Attempt, allow_list, status):
    attempt.do("set_ip_allow_list", branch_code="LWU", allow_list=allow_list)
    assert attempt.check("security.remote_allow_lists", {}).status is status


def test_remote_allow_lists_fail_the_branch_left_open(attempt: Attempt):
    outcome = attempt.check("security.remote_allow_lists", {})
    assert outcome.status is Status.FAIL and outcome.evidence["too_open"] == ("LWU",)


@pytest.mark.parametrize(
    ("policy", "run", "status"),
    [
        ({"frequency": "daily", "retention_days": 90, "encrypted": True}, True, Status.PASS),
        ({"frequency": "daily", "retention_days": 90, "encrypted": True}, False, Status.FAIL),
        ({"frequency": "daily", "encrypted": True}, True, Status.FAIL),
        ({"frequency": "daily", "retention_days": 91, "encrypted": True}, True, Status.FAIL),
        ({"frequency": "weekly", "retention_days": 30, "encrypted": True}, True, Status.FAIL),
        ({"frequency": "daily", "retention_days": 30, "encrypted": False}, True, Status.FAIL),
    ],
)
def test_backup_policy_check(attempt: Attempt, policy, run, status):
    attempt.do("set_backup_policy", **policy)
    if run:
        attempt.do("run_backup")
    params = {"frequencies": ["daily"], "max_retention_days": 90, "backup_run": True}
    assert attempt.check("security.backup_policy", params).status is status


@pytest.mark.parametrize(("dob", "status"), [("masked", Status.PASS), ("full", Status.FAIL)])
def test_field_access_check(attempt: Attempt, dob, status):
    attempt.do("set_field_permission", role="marketing", field="hkid", access="hidden")
    if dob != "full":
        attempt.do("set_field_permission", role="marketing", field="date_of_birth", access=dob)
    params = {
        "roles": ["marketing"],
        "fields": ["hkid", "date_of_birth"],
        "allowed": ["masked", "hidden"],
    }
    assert attempt.check("security.field_access", params).status is status


def test_sec_03_fails_a_leaver_left_active_and_passes_once_disabled(attempt: Attempt):
    # Without a review, only accounts the attempt changed are judged.
    assert attempt.rule("SEC-03").status is Status.PASS
    current = _plant(attempt.session, "current_admin_account")
    attempt.do("set_staff_access", staff_id=current, role="admin", scope="region")
    leaver = _plant(attempt.session, "leaver_admin_account")
    attempt.do("set_staff_access", staff_id=leaver, role="admin", scope="branch")
    result = attempt.rule("SEC-03")
    assert result.status is Status.FAIL and "leaver" in _findings(result)
    attempt.do("disable_staff_account", staff_id=leaver, reason="Left")
    assert attempt.rule("SEC-03").status is Status.PASS


def test_sec_03_fails_an_admin_without_multi_factor_sign_in(attempt: Attempt):
    staff = _staff(attempt.session, title="Marketing Officer", is_admin=False)
    attempt.do("set_staff_access", staff_id=staff.id, role="admin", scope="all")
    result = attempt.rule("SEC-03")
    assert result.status is Status.FAIL and "multi-factor" in _findings(result)


def test_ret_02_fails_backups_kept_forever_or_unencrypted_and_passes_a_safe_policy(
    attempt: Attempt,
):
    assert attempt.rule("RET-02").status is Status.PASS
    attempt.do("set_backup_policy", frequency="daily", encrypted=True)
    assert attempt.rule("RET-02").status is Status.FAIL
    attempt.do("set_backup_policy", frequency="daily", retention_days=90, encrypted=False)
    attempt.do("run_backup")
    result = attempt.rule("RET-02")
    assert result.status is Status.FAIL and "not encrypted" in _findings(result)
    attempt.rebase()
    attempt.do("set_backup_policy", frequency="daily", retention_days=90, encrypted=True)
    attempt.do("run_backup")
    assert attempt.rule("RET-02").status is Status.PASS


def test_sec_01_fails_a_marketing_role_given_hkid_in_full(attempt: Attempt):
    attempt.do("set_field_permission", role="marketing", field="hkid", access="masked")
    assert attempt.rule("SEC-01").status is Status.PASS
    attempt.rebase()
    attempt.do("set_field_permission", role="marketing", field="hkid", access="full")
    assert attempt.rule("SEC-01").status is Status.FAIL


# --- pages ------------------------------------------------------------------------------------


client, db = area_page_fixtures()


def test_security_pages_change_each_setting_without_javascript(client: FlaskClient, db):
    listing = client.get(f"{BASE}/security")
    assert listing.status_code == 200 and "Systems Administrator" in listing.text
    leaver = _plant(db(), "leaver_admin_account")
    page = client.get(f"{BASE}/security/accounts/{leaver}")
    assert page.status_code == 200 and "Disable account" in page.text
    disabled = client.post(f"{BASE}/security/accounts/{leaver}/disable", data={"reason": "Left"})
    assert disabled.status_code == 302
    access = client.post(
        f"{BASE}/security/accounts/{leaver}/access", data={"role": "hr", "scope": "own"}
    )
    assert access.status_code == 302
    permissions = client.get(f"{BASE}/security/permissions")
    assert permissions.status_code == 200 and "HKID number" in permissions.text
    saved = client.post(
        f"{BASE}/security/permissions",
        data={"role": "marketing", "field": "hkid", "access": "hidden"},
    )
    assert saved.status_code == 302
    branches = client.get(f"{BASE}/security/branches")
    assert branches.status_code == 200 and "0.0.0.0/0" in branches.text
    lo_wu = db().scalars(select(Branch.id).where(Branch.code == "LWU")).one()
    narrowed = client.post(
        f"{BASE}/security/branches/{lo_wu}", data={"allow_list": "203.198.64.16/29"}
    )
    assert narrowed.status_code == 302
    policy = client.post(
        f"{BASE}/security/backups/policy",
        data={"frequency": "daily", "hour": "2", "retention_days": "90", "encrypted": "y"},
    )
    assert policy.status_code == 302
    ran = client.post(f"{BASE}/security/backups/run", follow_redirects=True)
    assert ran.status_code == 200 and "The backup has run." in ran.text
    session = db()
    assert not session.get(StaffUser, leaver).is_active
    assert session.get(Branch, lo_wu).ip_allow_list == "203.198.64.16/29"
    assert session.scalars(select(BackupPolicy)).one().encrypted
    assert session.scalars(select(BackupRun).order_by(BackupRun.id.desc())).first().encrypted


def test_security_pages_show_clear_errors_audit_refusals_and_404(client: FlaskClient, db):
    lo_wu = db().scalars(select(Branch.id).where(Branch.code == "LWU")).one()
    bad = client.post(f"{BASE}/security/branches/{lo_wu}", data={"allow_list": "the shop"})
    assert bad.status_code == 400 and "is not an IP address or network" in bad.text
    refusal = (
        db().scalars(select(AuditEvent).where(AuditEvent.operation == REFUSED_OPERATION)).one()
    )
    assert refusal.details["operation"] == "set_ip_allow_list"
    assert (refusal.entity_type, refusal.entity_id) == ("branch", lo_wu)
    assert client.get(f"{BASE}/security/accounts/999999").status_code == 404
    assert (
        client.post(f"{BASE}/security/branches/999999", data={"allow_list": "1.2.3.4"}).status_code
        == 404
    )
    assert client.get(f"{BASE}/security/backups?page=999").status_code == 200
