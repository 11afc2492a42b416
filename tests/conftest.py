"""Fixtures shared by every test: an app on a fresh SQLite file, clients, and one user per role."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from training_platform import create_app
from training_platform.db import get_engine, new_session, upgrade_database
from training_platform.models import Centre, Role, User

# Every fixture module is registered here, once, for the whole suite.
pytest_plugins = ["tests.sandbox_fixtures", "tests.graders_helpers", "tests.platform_fixtures"]

PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = generate_password_hash(PASSWORD)  # hashed once: scrypt is slow on purpose
_user_numbers = itertools.count(1)


def _config(tmp_path: Path, database_file: Path) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": f"sqlite:///{database_file}",
        "SANDBOX_DIR": str(tmp_path / "sandboxes"),
        "TEMPLATE_CACHE_DIR": str(tmp_path / "sandbox_templates"),
        "WTF_CSRF_ENABLED": False,
    }


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every migration applied once; each test gets a copy of it."""
    tmp_path = tmp_path_factory.mktemp("migrated")
    database_file = tmp_path / "practicum.sqlite"
    app = create_app(_config(tmp_path, database_file))
    upgrade_database(app)
    get_engine(app).dispose()
    return database_file


@pytest.fixture
def app(tmp_path: Path, migrated_database: Path) -> Iterator[Flask]:
    """The app on its own migrated SQLite file, with CSRF off and sandboxes under tmp_path."""
    database_file = tmp_path / "practicum.sqlite"
    shutil.copyfile(migrated_database, database_file)
    app = create_app(_config(tmp_path, database_file))
    yield app
    get_engine(app).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """An anonymous browser."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """Runs `practicum` commands against the app."""
    return app.test_cli_runner()


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    """A session on the app's database for arranging and checking data outside requests.

    Commit what a request must see. Rows a request changed may be cached here: call
    `db_session.expire_all()` before reading them back.
    """
    session = new_session(app)
    yield session
    session.close()


@pytest.fixture
def centre(db_session: Session) -> Centre:
    """A training centre."""
    centre = Centre(slug="kowloon-test", name="Kowloon Test Training Centre")
    db_session.add(centre)
    db_session.commit()
    return centre


@pytest.fixture
def make_user(db_session: Session, centre: Centre) -> Callable[..., User]:
    """Factory: `make_user(role, email=None, centre=None, display_name=None)`; password PASSWORD."""
    default_centre = centre

    def make(
        role: Role | str,
        email: str | None = None,
        centre: Centre | None = None,
        display_name: str | None = None,
    ) -> User:
        number = next(_user_numbers)
        role = Role(role)
        user = User(
            centre=centre or default_centre,
            email=email or f"{role.value}{number}@example.test",
            display_name=display_name or f"{role.label} {number}",
            role=role,
            password_hash=_PASSWORD_HASH,
        )
        db_session.add(user)
        db_session.commit()
        return user

    return make


@pytest.fixture
def trainee(make_user: Callable[..., User]) -> User:
    """A trainee of `centre`."""
    return make_user(Role.TRAINEE, display_name="Chan Siu Ming")


@pytest.fixture
def other_trainee(make_user: Callable[..., User]) -> User:
    """A second trainee of the same centre, to test that trainees cannot see each other's work."""
    return make_user(Role.TRAINEE, display_name="Lam Ka Yan")


@pytest.fixture
def assessor(make_user: Callable[..., User]) -> User:
    """An assessor of `centre`."""
    return make_user(Role.ASSESSOR, display_name="Ho Wing Sze")


@pytest.fixture
def centre_admin(make_user: Callable[..., User]) -> User:
    """A centre admin of `centre`."""
    return make_user(Role.CENTRE_ADMIN, display_name="Tsang Chi Keung")


def login(client: FlaskClient, user: User, password: str = PASSWORD) -> FlaskClient:
    """Sign `client` in as `user` through the sign-in form (CSRF must be off, as in `app`)."""
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, f"sign-in as {user.email} failed"
    return client


@pytest.fixture
def client_as(app: Flask) -> Callable[[User], FlaskClient]:
    """Factory: `client_as(user)` is a new browser signed in as that user."""

    def make(user: User) -> FlaskClient:
        return login(app.test_client(), user)

    return make
