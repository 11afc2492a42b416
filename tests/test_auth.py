"""Signing in and out, role checks, CSRF, error pages, the demo accounts and the migrations."""

from __future__ import annotations

import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Blueprint
from sqlalchemy import func, inspect, select
from werkzeug.security import check_password_hash

import training_platform.models  # noqa: F401
from tests.conftest import PASSWORD
from training_platform import _env_int, _stored_secret_key, create_app
from training_platform.accounts import create_user
from training_platform.db import PlatformBase, get_engine
from training_platform.errors import CSRF_MESSAGE
from training_platform.models import Role, User
from training_platform.security import role_required

LOGIN_FAILED = "Email or password is incorrect."


LANDING = {"trainee": "/units", "assessor": "/review", "centre_admin": "/authoring"}


@pytest.fixture
def assessor_page(app):
    """URL of a page only assessors may open."""
    bp = Blueprint("evidence", __name__)

    @bp.route("/evidence")
    @role_required(Role.ASSESSOR)
    def evidence():
        return "assessor evidence"

    app.register_blueprint(bp)
    return "/evidence"


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert 'name="email"' in response.text and 'name="password"' in response.text


def test_login_with_right_password_signs_in(client, trainee):
    response = client.post("/login", data={"email": trainee.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/units"
    home = client.get("/", follow_redirects=True)
    assert home.status_code == 200
    assert home.request.path == "/units"
    assert "Chan Siu Ming" in home.text
    assert "Kowloon Test Training Centre" in home.text


def test_login_email_is_case_insensitive(client, trainee):
    response = client.post(
        "/login", data={"email": f"  {trainee.email.upper()} ", "password": PASSWORD}
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    "email, password",
    [("trainee-email", "wrong password"), ("nobody@example.test", PASSWORD)],
    ids=["wrong-password", "unknown-email"],
)
def test_failed_login_says_the_same_and_changes_nothing(
    client, trainee, db_session, email, password
):
    email = trainee.email if email == "trainee-email" else email
    hash_before = trainee.password_hash
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 200
    assert LOGIN_FAILED in response.text
    assert client.get("/").status_code == 302  # still signed out
    db_session.expire_all()
    assert db_session.get(User, trainee.id).password_hash == hash_before
    assert db_session.scalar(select(func.count()).select_from(User)) == 1


def test_empty_form_shows_field_errors(client):
    response = client.post("/login", data={"email": "", "password": ""})
    assert response.status_code == 200
    assert "This field is required." in response.text


def test_inactive_account_cannot_sign_in(client, trainee, db_session):
    trainee.is_active = False
    db_session.commit()
    response = client.post("/login", data={"email": trainee.email, "password": PASSWORD})
    assert LOGIN_FAILED in response.text


def test_password_is_stored_hashed(db_session, centre):
    user = create_user(
        db_session, centre, "New.Person@Example.test", "New Person", "trainee", "s3cret-pass"
    )
    db_session.commit()
    assert user.email == "new.person@example.test"
    assert "s3cret-pass" not in user.password_hash
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))
    assert check_password_hash(user.password_hash, "s3cret-pass")
    assert not check_password_hash(user.password_hash, "other")


def test_logout_signs_out(client_as, trainee):
    client = client_as(trainee)
    response = client.post("/logout")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert client.get("/").status_code == 302


def test_logout_needs_post(client_as, trainee):
    client = client_as(trainee)
    assert client.get("/logout").status_code == 405
    assert client.get("/units").status_code == 200


def test_anonymous_visitor_is_sent_to_login(client, assessor_page):
    response = client.get(assessor_page + "?tab=checks")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/evidence?tab%3Dchecks"
    assert "Please sign in to continue." in client.get(response.headers["Location"]).text


@pytest.mark.parametrize(
    "role, status", [("trainee", 403), ("assessor", 200), ("centre_admin", 403)]
)
def test_role_required(client_as, make_user, assessor_page, role, status):
    client = client_as(make_user(role))
    response = client.get(assessor_page)
    assert response.status_code == status
    if status == 403:
        assert "Your account does not have access to this page." in response.text
        assert 'class="sidebar"' in response.text  # rendered in the layout


@pytest.mark.parametrize("role, landing", sorted(LANDING.items()))
def test_sign_in_lands_on_the_role_page(client, make_user, role, landing):
    user = make_user(role)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == landing
    followed = client.get("/", follow_redirects=True)
    assert followed.status_code == 200
    assert followed.request.path == landing


@pytest.mark.parametrize(
    "next_url, expected",
    [
        ("/evidence?tab=checks", "/evidence?tab=checks"),
        ("https://evil.example/", "/units"),
        ("//evil.example/path", "/units"),
        ("/\\evil.example", "/units"),
        ("javascript:alert(1)", "/units"),
        ("evil.example", "/units"),
    ],
)
def test_next_only_accepts_local_paths(client, trainee, next_url, expected):
    response = client.post(
        "/login",
        query_string={"next": next_url},
        data={"email": trainee.email, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_csrf_token_is_required_when_enabled(app, client, trainee):
    app.config["WTF_CSRF_ENABLED"] = True
    data = {"email": trainee.email, "password": PASSWORD}

    rejected = client.post("/login", data=data)
    assert rejected.status_code == 400
    assert CSRF_MESSAGE in rejected.text
    assert client.get("/").status_code == 302

    page = client.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    assert token, "the sign-in form has no CSRF token"
    accepted = client.post("/login", data={**data, "csrf_token": token.group(1)})
    assert accepted.status_code == 302
    assert client.get("/units").status_code == 200

    # Signing out is a POST too, and needs the token.
    assert client.post("/logout").status_code == 400
    assert client.get("/units").status_code == 200


def test_unknown_page_gets_404_in_the_layout(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert "app.css" in response.text


def test_too_large_request_gets_413_with_the_limit_in_force(app, client):
    response = client.post("/login", data={"email": "x@example.test", "password": "p" * 300_000})
    assert response.status_code == 413
    assert "The request is larger than the 256 KiB limit." in response.text
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    response = client.post("/login", data={"email": "x@example.test", "password": "p" * 70_000})
    assert response.status_code == 413
    assert "The request is larger than the 64 KiB limit." in response.text


def test_secret_key_is_generated_once(tmp_path):
    path = tmp_path / "secret_key"
    key = _stored_secret_key(path)
    assert len(key) == 64
    assert _stored_secret_key(path) == key
    assert path.stat().st_mode & 0o077 == 0


def test_a_whole_number_setting_is_read_or_refused_with_its_name(monkeypatch):
    monkeypatch.setenv("PRACTICUM_SANDBOX_SPARES", " 12 ")
    assert _env_int("PRACTICUM_SANDBOX_SPARES") == 12
    monkeypatch.setenv("PRACTICUM_SANDBOX_SPARES", "")
    assert _env_int("PRACTICUM_SANDBOX_SPARES") is None
    monkeypatch.setenv("PRACTICUM_SANDBOX_SPARES", "many")
    with pytest.raises(ValueError, match="PRACTICUM_SANDBOX_SPARES must be a whole number"):
        _env_int("PRACTICUM_SANDBOX_SPARES")


def test_seed_demo_is_idempotent(runner, client, db_session):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    for text in (
        "Harbour Skills Training Centre",
        "trainee@demo.practicum.hk",
        "assessor@demo.practicum.hk",
        "admin@demo.practicum.hk",
        "practicum-demo",
        "http://127.0.0.1:5000/",
    ):
        assert text in first.output
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert "already there" in second.output
    users = db_session.scalars(select(User).order_by(User.email)).all()
    assert [(u.email, u.role) for u in users] == [
        ("admin@demo.practicum.hk", Role.CENTRE_ADMIN),
        ("assessor@demo.practicum.hk", Role.ASSESSOR),
        ("moderator@demo.practicum.hk", Role.ASSESSOR),
        ("trainee@demo.practicum.hk", Role.TRAINEE),
    ]
    assert {u.centre.slug for u in users} == {"harbour"}
    response = client.post(
        "/login", data={"email": "assessor@demo.practicum.hk", "password": "practicum-demo"}
    )
    assert response.status_code == 302


def test_seed_demo_restores_a_changed_demo_password(runner, client, db_session):
    runner.invoke(args=["seed-demo"])
    user = db_session.scalars(select(User).where(User.email == "trainee@demo.practicum.hk")).one()
    user.set_password("changed")
    db_session.commit()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    response = client.post(
        "/login", data={"email": "trainee@demo.practicum.hk", "password": "practicum-demo"}
    )
    assert response.status_code == 302


def test_db_upgrade_command_creates_the_tables(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'new' / 'db.sqlite'}",
            "SANDBOX_DIR": str(tmp_path / "s"),
            "TEMPLATE_CACHE_DIR": str(tmp_path / "t"),
        }
    )
    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code != 0
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    tables = set(inspect(get_engine(app)).get_table_names())
    assert {"alembic_version", "centre", "app_user", "attempt", "review"} <= tables
    get_engine(app).dispose()


def test_migrations_match_the_models(app):
    with get_engine(app).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, PlatformBase.metadata) == []
