"""Account services: centres, users and password sign-in. They flush; the caller commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from training_platform.models import Centre, Role, User, normalise_email

# Checked when no account matches, so that an unknown email takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


class AccountError(ValueError):
    """An account change that was refused, with a message fit to show the user."""


def get_centre_by_slug(session: Session, slug: str) -> Centre | None:
    """The centre with this slug, if any."""
    return session.scalars(select(Centre).where(Centre.slug == slug)).one_or_none()


def create_centre(session: Session, slug: str, name: str) -> Centre:
    """Add a training centre; the slug must be new."""
    slug = slug.strip().lower()
    if not slug or not name.strip():
        raise AccountError("A centre needs a slug and a name.")
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
        raise AccountError("Enter an email address.")
    if not password:
        raise AccountError("Enter a password.")
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
