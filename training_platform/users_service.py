"""A centre's people: find, invite, import from CSV, set roles, deactivate, reset passwords.

Services flush and never commit; every change an admin makes is written to the audit log in
the same transaction. Set-password links are signed, expire, and stop working once used: the
token carries a fingerprint of the password hash, which setting a password changes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import force_locale, gettext
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from sandbox_crm.i18n import N_, Message
from training_platform import audit_service, cohorts_service, mail
from training_platform.accounts import (
    AccountError,
    check_password_policy,
    get_user_by_email,
)
from training_platform.errors import INVALID, NOT_ALLOWED, ServiceError
from training_platform.models import Centre, Cohort, CohortMember, Role, User, normalise_email

INVITE = "invite"
RESET = "reset"
# How long a link works, in seconds: a week to accept an invitation, an hour to reset.
TOKEN_MAX_AGE = {INVITE: 7 * 24 * 3600, RESET: 3600}

MAX_IMPORT_ROWS = 500
CSV_COLUMNS = ("email", "name", "role", "cohorts")
REQUIRED_COLUMNS = ("email", "name", "role")
ROLE_WORDS = {role.value: role for role in Role} | {"admin": Role.CENTRE_ADMIN}
EXAMPLE_CSV = (
    "email,name,role,cohorts\r\n"
    "chan.siu.ming@example.com,Chan Siu Ming,trainee,Retail CRM 2026 Spring\r\n"
    "lam.ka.yan@example.com,Lam Ka Yan,trainee,Retail CRM 2026 Spring; Jewellery evening\r\n"
    "ho.wing.sze@example.com,Ho Wing Sze,assessor,Retail CRM 2026 Spring\r\n"
)

TOKEN_INVALID = N_(
    "This link is not valid or has already been used. Ask for a new one from the sign-in page "
    "or from your centre admin."
)
TOKEN_EXPIRED = N_("This link has expired. Ask for a new one.")


# --- finding people ---------------------------------------------------------------------------


def users_query(
    centre_id: int,
    *,
    search: str = "",
    role: str = "",
    cohort_id: int | None = None,
    status: str = "",
) -> Select:
    """The centre's users matching a search (name or e-mail) and filters, sorted by name."""
    stmt = select(User).where(User.centre_id == centre_id)
    search = search.strip()
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                User.display_name.ilike(pattern, escape="\\"),
                User.email.ilike(pattern.lower(), escape="\\"),
            )
        )
    if role in {r.value for r in Role}:
        stmt = stmt.where(User.role == Role(role))
    if cohort_id is not None:
        stmt = stmt.where(
            User.id.in_(select(CohortMember.user_id).where(CohortMember.cohort_id == cohort_id))
        )
    if status == "active":
        stmt = stmt.where(User.is_active.is_(True))
    elif status == "inactive":
        stmt = stmt.where(User.is_active.is_(False))
    return stmt.order_by(User.display_name, User.id)


def centre_user(session: Session, centre_id: int, user_id: int) -> User | None:
    """The user with this id if they belong to the centre; None otherwise."""
    user = session.get(User, user_id)
    if user is None or user.centre_id != centre_id:
        return None
    return user


# --- set-password links ------------------------------------------------------------------------


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=f"practicum-password-{purpose}")


def _fingerprint(user: User) -> str:
    """Changes whenever the password does, so a link works once."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def make_token(user: User, purpose: str) -> str:
    """A signed link token for setting the user's password (an invitation or a reset)."""
    return _serializer(purpose).dumps({"u": user.id, "p": _fingerprint(user)})


def user_for_token(session: Session, token: str, purpose: str) -> User:
    """The active user a set-password token was made for; refused if forged, used or expired."""
    try:
        data = _serializer(purpose).loads(token[:1000], max_age=TOKEN_MAX_AGE[purpose])
    except SignatureExpired as exc:
        raise ServiceError(INVALID, TOKEN_EXPIRED) from exc
    except BadSignature as exc:
        raise ServiceError(INVALID, TOKEN_INVALID) from exc
    user = session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or not user.is_active or data.get("p") != _fingerprint(user):
        raise ServiceError(INVALID, TOKEN_INVALID)
    return user


def set_password_with_token(
    session: Session, token: str, purpose: str, new: str, repeated: str
) -> User:
    """Set a new password through a link; the link stops working and every session ends."""
    user = user_for_token(session, token, purpose)
    if new != repeated:
        raise AccountError(N_("The two new passwords are not the same."))
    check_password_policy(new, user.email)
    user.set_password(new)
    user.end_all_sessions()
    session.flush()
    return user


def account_for_reset(session: Session, email: str) -> User | None:
    """The active account a forgotten-password request names, if there is one."""
    user = get_user_by_email(session, email)
    if user is None or not user.is_active:
        return None
    return user


# --- creating people ---------------------------------------------------------------------------


def _unusable_password() -> str:
    return secrets.token_urlsafe(32)


def _check_email(email: str) -> str | None:
    """Why an e-mail address is not acceptable, or None."""
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        return N_("Enter a valid e-mail address.")
    if len(email) > 254 or any(char.isspace() for char in email) or "@" in domain:
        return N_("Enter a valid e-mail address.")
    return None


def _cohorts_by_id(session: Session, centre_id: int, cohort_ids: Sequence[int]) -> list[Cohort]:
    cohorts = []
    for cohort_id in cohort_ids:
        cohort = cohorts_service.centre_cohort(session, centre_id, cohort_id)
        if cohort is None or cohort.archived:
            raise ServiceError(INVALID, N_("Choose cohorts of your centre."), field="cohorts")
        cohorts.append(cohort)
    return cohorts


def invite_user(
    session: Session,
    actor: User,
    *,
    email: str,
    display_name: str,
    role: Role | str,
    cohort_ids: Sequence[int] = (),
) -> User:
    """Add an account to the actor's centre; it has no password until the invitation is used."""
    email = normalise_email(email)
    display_name = display_name.strip()
    problem = _check_email(email)
    if problem:
        raise ServiceError(INVALID, problem, field="email")
    if not display_name or len(display_name) > 200:
        raise ServiceError(INVALID, N_("Enter a name of up to 200 characters."), field="name")
    try:
        role = Role(role)
    except ValueError as exc:
        raise ServiceError(INVALID, N_("Choose a role."), field="role") from exc
    if get_user_by_email(session, email) is not None:
        raise ServiceError(
            INVALID, N_("An account with this e-mail address already exists."), field="email"
        )
    cohorts = _cohorts_by_id(session, actor.centre_id, cohort_ids)
    user = User(centre_id=actor.centre_id, email=email, display_name=display_name, role=role)
    user.set_password(_unusable_password())
    session.add(user)
    session.flush()
    for cohort in cohorts:
        session.add(CohortMember(cohort=cohort, user=user))
    audit_service.record(
        session,
        centre_id=actor.centre_id,
        actor=actor,
        action="user.created",
        target_type="user",
        target_id=user.id,
        details={"email": email, "role": role.value, "cohorts": [c.name for c in cohorts]},
    )
    session.flush()
    return user


@dataclass
class ImportRow:
    """One valid line of an import file."""

    line: int
    email: str
    name: str
    role: Role
    cohorts: list[Cohort] = field(default_factory=list)


def parse_import(session: Session, centre_id: int, data: bytes) -> list[ImportRow]:
    """Read and check every line of a user CSV; any problem refuses the whole file, by line."""
    if not data.strip():
        raise ServiceError(INVALID, N_("The file is empty."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ServiceError(
            INVALID, N_("The file is not UTF-8 text. Save it as CSV UTF-8 and upload it again.")
        ) from exc
    if "\x00" in text:
        raise ServiceError(INVALID, N_("The file is not a CSV file."))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ServiceError(INVALID, N_("The file is not a CSV file.")) from exc
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ServiceError(
            INVALID,
            Message(
                N_("The first line must name the columns: %(columns)s. Missing: %(missing)s."),
                columns=", ".join(CSV_COLUMNS),
                missing=", ".join(missing),
            ),
        )
    body = [(number, row) for number, row in enumerate(rows[1:], start=2) if any(row)]
    if len(body) > MAX_IMPORT_ROWS:
        raise ServiceError(
            INVALID,
            Message(
                N_("The file has %(count)d people; import at most %(limit)d at a time."),
                count=len(body),
                limit=MAX_IMPORT_ROWS,
            ),
        )
    if not body:
        raise ServiceError(INVALID, N_("The file has no people in it, only the column names."))
    cohorts = {
        c.name.strip().lower(): c
        for c in cohorts_service.list_cohorts(session, centre_id, include_archived=False)
    }
    problems: list[Message] = []
    seen: dict[str, int] = {}
    parsed = []
    for number, row in body:
        if len(row) > len(header):
            problems.append(
                Message(
                    N_("Line %(line)d: %(problem)s"),
                    line=number,
                    problem=Message(N_("more values than columns.")),
                )
            )
            continue
        values = dict(zip(header, (cell.strip() for cell in row), strict=False))
        email = normalise_email(values.get("email", ""))
        name = values.get("name", "")
        role_word = values.get("role", "").lower().replace(" ", "_")
        line_problems = []
        if not email:
            line_problems.append(N_("the e-mail address is missing."))
        elif _check_email(email):
            line_problems.append(
                Message(N_("%(email)s is not a valid e-mail address."), email=email)
            )
        elif email in seen:
            line_problems.append(
                Message(N_("%(email)s is also on line %(other)d."), email=email, other=seen[email])
            )
        elif get_user_by_email(session, email) is not None:
            line_problems.append(
                Message(N_("%(email)s already has an account on the platform."), email=email)
            )
        if email:
            seen.setdefault(email, number)
        if not name or len(name) > 200:
            line_problems.append(N_("the name is missing or longer than 200 characters."))
        role = ROLE_WORDS.get(role_word)
        if role is None:
            line_problems.append(
                Message(
                    N_('unknown role "%(role)s" (use trainee, assessor or centre_admin).'),
                    role=values.get("role", ""),
                )
            )
        row_cohorts = []
        for cohort_name in filter(None, (n.strip() for n in values.get("cohorts", "").split(";"))):
            cohort = cohorts.get(cohort_name.lower())
            if cohort is None:
                line_problems.append(
                    Message(N_('unknown cohort "%(cohort)s".'), cohort=cohort_name)
                )
            else:
                row_cohorts.append(cohort)
        for problem in line_problems:
            problems.append(
                Message(
                    N_("Line %(line)d: %(problem)s"),
                    line=number,
                    problem=problem if isinstance(problem, Message) else Message(problem),
                )
            )
        if not line_problems and role is not None:
            parsed.append(ImportRow(number, email, name, role, row_cohorts))
    if problems:
        raise ServiceError(
            INVALID,
            Message(
                N_("Nothing was imported: %(count)d problem(s) to correct."), count=len(problems)
            ),
            problems=problems,
        )
    return parsed


def import_users(session: Session, actor: User | None, centre: Centre, data: bytes) -> list[User]:
    """Create every account a CSV file lists, or none of them when any line is wrong."""
    rows = parse_import(session, centre.id, data)
    users = []
    for row in rows:
        user = User(centre_id=centre.id, email=row.email, display_name=row.name, role=row.role)
        user.set_password(_unusable_password())
        session.add(user)
        for cohort in row.cohorts:
            session.add(CohortMember(cohort=cohort, user=user))
        users.append(user)
    session.flush()
    audit_service.record(
        session,
        centre_id=centre.id,
        actor=actor,
        action="user.imported",
        target_type="centre",
        target_id=centre.id,
        details={"count": len(users), "emails": [u.email for u in users][:50]},
    )
    session.flush()
    return users


# --- changing people ---------------------------------------------------------------------------


def _active_admins(session: Session, centre_id: int) -> list[User]:
    return list(
        session.scalars(
            select(User).where(
                User.centre_id == centre_id,
                User.role == Role.CENTRE_ADMIN,
                User.is_active.is_(True),
            )
        )
    )


def _keep_an_admin(session: Session, user: User) -> None:
    """Refuse a change that would leave the user's centre without an active admin."""
    others = [u for u in _active_admins(session, user.centre_id) if u.id != user.id]
    if user.role == Role.CENTRE_ADMIN and user.is_active and not others:
        raise ServiceError(
            NOT_ALLOWED,
            N_(
                "The centre would have no active centre admin. Make someone else a centre admin "
                "first."
            ),
        )


def set_role(session: Session, actor: User, user: User, role: Role | str) -> None:
    """Change a user's role; the centre always keeps an active centre admin."""
    try:
        role = Role(role)
    except ValueError as exc:
        raise ServiceError(INVALID, N_("Choose a role."), field="role") from exc
    if role == user.role:
        return
    if role != Role.CENTRE_ADMIN:
        _keep_an_admin(session, user)
    before = user.role
    user.role = role
    user.end_all_sessions()  # pages open under the old role stop working
    audit_service.record(
        session,
        centre_id=user.centre_id,
        actor=actor,
        action="user.role_changed",
        target_type="user",
        target_id=user.id,
        details={"email": user.email, "from": before.value, "to": role.value},
    )
    session.flush()


def set_active(session: Session, actor: User, user: User, active: bool) -> None:
    """Deactivate (they cannot sign in, their sessions end) or reactivate a user."""
    if active == user.is_active:
        return
    if not active:
        _keep_an_admin(session, user)
        user.end_all_sessions()
    user.is_active = active
    audit_service.record(
        session,
        centre_id=user.centre_id,
        actor=actor,
        action="user.reactivated" if active else "user.deactivated",
        target_type="user",
        target_id=user.id,
        details={"email": user.email},
    )
    session.flush()


def set_user_cohorts(session: Session, actor: User, user: User, cohort_ids: Sequence[int]) -> None:
    """Put a user in exactly these cohorts of their centre (archived ones are left as they are)."""
    wanted = {c.id: c for c in _cohorts_by_id(session, user.centre_id, cohort_ids)}
    current = {
        m.cohort_id: m
        for m in session.scalars(select(CohortMember).where(CohortMember.user_id == user.id))
    }
    for cohort_id, cohort in wanted.items():
        if cohort_id not in current:
            cohorts_service.add_member(session, actor, cohort, user)
    for cohort_id, member in current.items():
        if cohort_id not in wanted and not member.cohort.archived:
            cohorts_service.remove_member(session, actor, member.cohort, user)
    session.flush()


def record_reset_sent(session: Session, actor: User, user: User) -> None:
    """Note in the audit log that an admin sent a user a password reset link."""
    audit_service.record(
        session,
        centre_id=user.centre_id,
        actor=actor,
        action="user.password_reset_sent",
        target_type="user",
        target_id=user.id,
        details={"email": user.email},
    )
    session.flush()


def user_cohorts(session: Session, user: User) -> list[Cohort]:
    """The cohorts a user is in, by name."""
    return list(
        session.scalars(
            select(Cohort)
            .join(CohortMember, CohortMember.cohort_id == Cohort.id)
            .where(CohortMember.user_id == user.id)
            .order_by(Cohort.name)
        )
    )


def send_set_password_mail(user: User, purpose: str, url: str) -> None:
    """E-mail a user their invitation or password reset link, in their language."""
    hours = TOKEN_MAX_AGE[purpose] // 3600
    with force_locale(user.language or "en"):
        if purpose == INVITE:
            subject = gettext("Your Practicum account at %(centre)s", centre=user.centre.name)
            body = gettext(
                "Hello %(name)s,\n\n%(centre)s has made you a Practicum account (%(email)s). "
                "Choose your password here:\n\n%(url)s\n\nThe link works once, within "
                "%(hours)d hours.\n",
                name=user.display_name,
                centre=user.centre.name,
                email=user.email,
                url=url,
                hours=hours,
            )
        else:
            subject = gettext("Reset your Practicum password")
            body = gettext(
                "Hello %(name)s,\n\nSomeone asked to reset the password of your Practicum "
                "account (%(email)s). Choose a new password here:\n\n%(url)s\n\nThe link works "
                "once, within %(hours)d hour(s). If you did not ask, ignore this message; your "
                "password stays as it is.\n",
                name=user.display_name,
                email=user.email,
                url=url,
                hours=hours,
            )
    mail.send_mail(user.email, subject, body)
