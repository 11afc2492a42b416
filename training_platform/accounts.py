"""Account services: centres, users and password sign-in. They flush; the caller commits."""

from __future__ import annotations

from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from sandbox_crm.i18n import N_
from training_platform.errors import INVALID, ServiceError
from training_platform.models import Centre, Role, User, normalise_email

# Checked when no account matches, so that an unknown email takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


class AccountError(ServiceError):
    """An account change that was refused, with a message fit to show the user."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(INVALID, message, field=field)


@cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of leaked password lists, as shipped with zxcvbn."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str, email: str = "") -> str | None:
    """Why a password may not be used (too short, too common, the email), or None if it may."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Choose a password of at most {MAX_PASSWORD_LENGTH} characters."
    lowered = password.lower()
    if lowered in _common_passwords():
        return "This password is one of the most common passwords; choose another."
    if email and lowered in {normalise_email(email), normalise_email(email).split("@")[0]}:
        return "Do not use your email address as your password."
    return None


def check_password_policy(password: str, email: str = "") -> None:
    """Refuse a password that breaks the password policy, with the reason."""
    problem = password_problem(password, email)
    if problem is not None:
        raise AccountError(problem)


def get_centre_by_slug(session: Session, slug: str) -> Centre | None:
    """The centre with this slug, if any."""
    return session.scalars(select(Centre).where(Centre.slug == slug)).one_or_none()


def create_centre(session: Session, slug: str, name: str) -> Centre:
    """Add a training centre; the slug must be new."""
    slug = slug.strip().lower()
    if not slug or not name.strip():
        raise AccountError(N_("A centre needs a slug and a name."))
    if get_centre_by_slug(session, slug) is not None:
        raise AccountError(f"A centre with the slug {slug!r} already exists.")
    centre = Centre(slug=slug, name=name.strip())
    session.add(centre)
    session.flush()
    return centre


def get_user_by_email(session: Session, email: str) -> User | None:
    """The account with this email (compared lower-cased), if any."""
    return session.scalars(select(User).where(User.email == normalise_email(email))).one_or_none()


def create_user(
    session: Session,
    centre: Centre,
    email: str,
    display_name: str,
    role: Role | str,
    password: str,
) -> User:
    """Add an account to a centre with a hashed password; the email must be new."""
    email = normalise_email(email)
    if "@" not in email:
        raise AccountError(N_("Enter an email address."))
    if not password:
        raise AccountError(N_("Enter a password."))
    check_password_policy(password, email)
    if get_user_by_email(session, email) is not None:
        raise AccountError(f"An account with the email {email} already exists.")
    user = User(centre=centre, email=email, display_name=display_name.strip(), role=Role(role))
    user.set_password(password)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active account matching this email and password, else None (never says which failed)."""
    user = get_user_by_email(session, email)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    return user


def change_password(session: Session, user: User, current: str, new: str, repeated: str) -> None:
    """Set a new password after checking the current one; every other session of the user ends."""
    if not user.check_password(current):
        raise AccountError(N_("Your current password is not correct."))
    if new != repeated:
        raise AccountError(N_("The two new passwords are not the same."))
    if new == current:
        raise AccountError(N_("Choose a new password that differs from the current one."))
    check_password_policy(new, user.email)
    user.set_password(new)
    user.end_all_sessions()
    session.flush()


def end_sessions(session: Session, user: User) -> None:
    """Sign the user out of every browser: every session cookie issued so far stops working."""
    user.end_all_sessions()
    session.flush()
