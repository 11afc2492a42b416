"""Security: staff roles and record scope, field permissions with masking, remote-branch IP
allow-lists, leavers' accounts, and the automatic backup schedule with the backups it ran;
authorisation rights per role (CRM and e-shop fields, record scope, bulk export), departments'
access requests, and staff-misuse flags raised from the staff access log.

Staff accounts are the company area's ``staff_user`` rows; this area adds each account's role,
record scope and last sign-in (``staff_access``), the roles' field permissions, the backup
policy and the record of backups. Generated for the ``jewellery`` profile only, with the
weaknesses a security review finds (a leaver's admin account still active, a remote branch open
to any address, backups unencrypted and kept forever, a role that sees identity numbers); a
retail sandbox gets the tables, empty, so its data stays as it was. A scenario about
authorisation rights plants the rights set-up for either profile (``access_rights``), a
department's request (``department_access_request``) and flagged misuse (``staff_misuse``).
"""

from __future__ import annotations

from sandbox_crm.areas import Area, NavLink, Stage
from sandbox_crm.backends.upgrade import add_missing
from sandbox_crm.i18n import N_

AREA = Area(
    name="security",
    label=N_("Security"),
    # 2: the rights tables (role rights, access requests, the staff access log, misuse flags);
    # templates made before lack them.
    version="2",
    upgrades={
        "2": add_missing(
            "role_rights", "access_request", "access_request_item", "staff_activity", "misuse_flag"
        )
    },
    modules=(
        "sandbox_crm.security.models",
        "sandbox_crm.security.generation",
        "sandbox_crm.security.operations",
        "sandbox_crm.security.plants",
        "sandbox_crm.security.rights",
    ),
    views=("sandbox_crm.security.views", "sandbox_crm.security.rights_views"),
    has_templates=True,
    nav=(NavLink("crm.security", "Security", "note", active=("crm.security",)),),
    stages=(
        Stage(
            "security.access",
            "sandbox_crm.security.generation:access",
            after=("company.staff", "jewellery.branches"),
        ),
    ),
    record_pages={
        "staff_user": ("crm.security_account", "staff_id"),
        "security_role": ("crm.security_role", "role_id"),
        "access_request": ("crm.security_request", "request_id"),
        "misuse_flag": ("crm.security_misuse_flag", "flag_id"),
    },
    call_entities={
        "staff_id": "staff_user",
        "branch_id": "branch",
        "request_id": "access_request",
        "flag_id": "misuse_flag",
    },
)
