"""Production hardening: health and readiness, the gunicorn server, sign-in throttling, the
password policy, sessions that end everywhere, security headers and cookies."""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, login
from training_platform import create_app
from training_platform.accounts import AccountError, create_centre, create_user
from training_platform.db import get_engine, new_session, upgrade_database
from training_platform.models import Role, User

NEW_PASSWORD = "tram harbour lantern 88"


# Health and readiness -------------------------------------------------------------------------


def test_health_and_readiness_answer_json_without_signing_in(client):
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["status"] == "ready"
    assert set(ready.json["checks"]) == {"database", "sandboxes", "sandbox_templates"}


def test_readiness_fails_before_migrations_and_on_an_unwritable_sandbox_folder(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite'}",
            "SANDBOX_DIR": str(tmp_path / "sandboxes"),
            "TEMPLATE_CACHE_DIR": str(tmp_path / "templates"),
        }
    )
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "practicum db upgrade" in response.json["checks"]["database"]["detail"]
    upgrade_database(app)
    assert client.get("/readyz").status_code == 200

    app.config["SANDBOX_DIR"] = str(tmp_path / "no" / "such" / "folder")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["sandboxes"]["ok"] is False
    assert response.json["checks"]["database"]["ok"] is True
    get_engine(app).dispose()


# The production server ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.server
def test_gunicorn_serves_the_app_and_a_user_signs_in(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text("PREGENERATE_VARIANTS = False\n")
    database_url = f"sqlite:///{instance / 'practicum.sqlite'}"
    env = {
        **os.environ,
        "PRACTICUM_INSTANCE_PATH": str(instance),
        "PRACTICUM_DATABASE_URL": database_url,
        "PRACTICUM_SECRET_KEY": "gunicorn-test-key",
        "PRACTICUM_COOKIE_SECURE": "0",
        "PRACTICUM_WORKERS": "1",
        "PRACTICUM_THREADS": "2",
        "PORT": str(_free_port()),
    }
    setup = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "DATABASE_URL": database_url,
            "SANDBOX_DIR": str(instance / "sandboxes"),
            "TEMPLATE_CACHE_DIR": str(instance / "sandbox_templates"),
        }
    )
    upgrade_database(setup)
    with setup.app_context():
        session = new_session(setup)
        centre = create_centre(session, "gunicorn", "Gunicorn Centre")
        create_user(session, centre, "t@gunicorn.test", "T", Role.TRAINEE, PASSWORD)
        session.commit()
        session.close()
    get_engine(setup).dispose()

    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    assert gunicorn, "gunicorn is not installed beside this Python"
    base = f"http://127.0.0.1:{env['PORT']}"
    server = subprocess.Popen(  # noqa: S603 - fixed arguments
        [
            gunicorn,
            "--config",
            "python:training_platform.gunicorn_conf",
            "training_platform:create_app()",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=15) as response:
                    if response.status == 200:
                        server_header = response.headers.get("Server", "")
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, "gunicorn did not become ready in 60 s"
            time.sleep(0.2)
        assert server_header == "gunicorn"  # no version
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        with browser.open(base + "/login", timeout=10) as response:
            page = response.read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        token = token or re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, "no CSRF token on the sign-in page"
        form = {"csrf_token": token.group(1), "email": "t@gunicorn.test", "password": PASSWORD}
        body = urllib.parse.urlencode(form).encode()
        with browser.open(base + "/login", data=body, timeout=10) as response:
            assert response.status == 200
            assert urllib.parse.urlsplit(response.geturl()).path != "/login"
            assert "Sign out" in response.read().decode()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        server.stderr.close()


# Sign-in throttling ---------------------------------------------------------------------------


def test_wrong_passwords_lock_the_account_for_the_window(app, client, trainee):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 10 minutes"
    for _ in range(3):
        response = client.post("/login", data={"email": trainee.email, "password": "wrong one!"})
        assert response.status_code == 200
        assert "Email or password is incorrect." in response.text
    response = client.post("/login", data={"email": trainee.email, "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.text
    assert client.get("/attempts").status_code == 302  # still signed out


def test_the_account_limit_counts_failures_only_and_other_accounts_still_sign_in(
    app, client, trainee, other_trainee
):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 10 minutes"
    for _ in range(5):  # successes do not count
        login(app.test_client(), trainee)
    for _ in range(3):
        client.post("/login", data={"email": trainee.email, "password": "wrong one!"})
    assert (
        app.test_client()
        .post("/login", data={"email": other_trainee.email, "password": PASSWORD})
        .status_code
        == 302
    )


def test_wrong_passwords_from_one_address_lock_that_address(app, client, trainee, other_trainee):
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "4 per 10 minutes"
    for number in range(4):
        client.post("/login", data={"email": f"nobody{number}@example.test", "password": "x"})
    response = client.post("/login", data={"email": other_trainee.email, "password": PASSWORD})
    assert response.status_code == 429
    elsewhere = app.test_client()
    response = elsewhere.post(
        "/login",
        data={"email": trainee.email, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.0.7"},
    )
    assert response.status_code == 302


# Password policy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("x", "at least 10 characters"),
        ("short1234", "at least 10 characters"),
        ("qwertyuiop", "most common passwords"),
        ("Password123", "most common passwords"),
        ("chan.siuming@example.test", "email address"),
    ],
)
def test_the_password_policy_refuses_weak_passwords(db_session, centre, password, message):
    with pytest.raises(AccountError, match=message):
        create_user(db_session, centre, "chan.siuming@example.test", "C", Role.TRAINEE, password)


def test_the_password_policy_accepts_a_long_uncommon_password_and_the_demo_one(db_session, centre):
    from training_platform.commands.demo import DEMO_PASSWORD

    create_user(db_session, centre, "a@example.test", "A", Role.TRAINEE, NEW_PASSWORD)
    create_user(db_session, centre, "b@example.test", "B", Role.TRAINEE, DEMO_PASSWORD)


# Sessions -------------------------------------------------------------------------------------


def test_signing_out_ends_every_session_of_the_user(client_as, trainee):
    laptop, phone = client_as(trainee), client_as(trainee)
    saved_cookie = laptop.get_cookie("session").value
    assert phone.get("/attempts").status_code == 200
    assert laptop.post("/logout").status_code == 302
    assert phone.get("/attempts").status_code == 302  # the other browser is signed out too
    thief = phone.application.test_client()
    thief.set_cookie("session", saved_cookie)
    assert thief.get("/attempts").status_code == 302
    again = client_as(trainee)
    assert again.get("/attempts").status_code == 200


def test_changing_the_password_keeps_this_browser_and_ends_the_others(
    client_as, trainee, db_session
):
    browser, other = client_as(trainee), client_as(trainee)
    page = browser.get("/account/password")
    assert page.status_code == 200 and "New password again" in page.text
    response = browser.post(
        "/account/password",
        data={"current": PASSWORD, "new": NEW_PASSWORD, "repeated": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert browser.get("/attempts").status_code == 200
    assert other.get("/attempts").status_code == 302
    fresh = browser.application.test_client()
    assert (
        fresh.post("/login", data={"email": trainee.email, "password": PASSWORD}).status_code == 200
    )
    login(fresh, trainee, NEW_PASSWORD)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (
            {"current": "not my password", "new": NEW_PASSWORD, "repeated": NEW_PASSWORD},
            "current password is not correct",
        ),
        (
            {"current": PASSWORD, "new": NEW_PASSWORD, "repeated": NEW_PASSWORD + "x"},
            "not the same",
        ),
        ({"current": PASSWORD, "new": "abc", "repeated": "abc"}, "at least 10 characters"),
        ({"current": PASSWORD, "new": "1234567890", "repeated": "1234567890"}, "most common"),
    ],
)
def test_a_refused_password_change_says_why_and_changes_nothing(
    client_as, trainee, db_session, form, message
):
    browser, other = client_as(trainee), client_as(trainee)
    response = browser.post("/account/password", data=form)
    assert response.status_code == 200
    assert message in response.text
    assert other.get("/attempts").status_code == 200
    db_session.expire_all()
    assert db_session.get(User, trainee.id).check_password(PASSWORD)


def test_every_role_has_the_password_page_and_strangers_sign_in_first(
    client, client_as, trainee, assessor, centre_admin
):
    for user in (trainee, assessor, centre_admin):
        browser = client_as(user)
        page = browser.get("/account/password")
        assert page.status_code == 200
        assert 'href="/account/password"' in browser.get(page.request.path).text
    response = client.get("/account/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_cookie_from_before_session_versions_is_refused(app, trainee, db_session):
    browser = app.test_client()
    with browser.session_transaction() as cookie:
        cookie["_user_id"] = str(trainee.id)  # the bare id an older release stored
        cookie["_fresh"] = True
    assert browser.get("/attempts").status_code == 302


# Headers and cookies --------------------------------------------------------------------------


def test_every_response_carries_the_security_headers(client, client_as, trainee):
    for response in (
        client.get("/login"),
        client.get("/healthz"),
        client.get("/no/such/page"),
        client_as(trainee).get("/attempts"),
        client.get("/static/app.css"),
    ):
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "'unsafe-inline'" not in csp
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"


TEMPLATE_FOLDERS = ["training_platform/templates", "sandbox_crm/web/templates"]


def test_no_template_has_inline_script_or_style_that_the_policy_would_block():
    root = Path(__file__).resolve().parents[1]
    inline = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", re.IGNORECASE)
    found = [
        f"{path.relative_to(root)}: {match.group(0).strip()}"
        for folder in TEMPLATE_FOLDERS
        for path in (root / folder).rglob("*.html")
        for match in inline.finditer(path.read_text())
    ]
    assert found == []


def _session_cookie_header(app, email: str) -> str:
    browser = app.test_client()
    response = browser.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302
    return next(v for v in response.headers.getlist("Set-Cookie") if v.startswith("session="))


def test_cookies_are_secure_and_samesite_outside_testing(tmp_path, migrated_database):
    database = tmp_path / "db.sqlite"
    shutil.copyfile(migrated_database, database)
    config = {
        "SECRET_KEY": "x",
        "DATABASE_URL": f"sqlite:///{database}",
        "SANDBOX_DIR": str(tmp_path / "s"),
        "TEMPLATE_CACHE_DIR": str(tmp_path / "t"),
        "WTF_CSRF_ENABLED": False,
        "PREGENERATE_VARIANTS": False,
    }
    production = create_app(config)
    with production.app_context():
        session = new_session(production)
        centre = create_centre(session, "c", "C")
        create_user(session, centre, "p@example.test", "P", Role.TRAINEE, PASSWORD)
        session.commit()
        session.close()
    cookie = _session_cookie_header(production, "p@example.test")
    assert "Secure" in cookie and "SameSite=Lax" in cookie and "HttpOnly" in cookie
    plain = create_app({**config, "COOKIE_SECURE": False})
    cookie = _session_cookie_header(plain, "p@example.test")
    assert "Secure" not in cookie and "SameSite=Lax" in cookie
    for app in (production, plain):
        get_engine(app).dispose()


@pytest.mark.parametrize(("proxies", "locked_out"), [(0, True), (1, False)])
def test_behind_a_trusted_balancer_each_client_address_is_throttled_on_its_own(
    app, trainee, proxies, locked_out
):
    """PROXY_COUNT trusts the balancer's X-Forwarded-For; untrusted, the header changes nothing."""
    from training_platform import create_app
    from training_platform.db import get_engine

    behind = create_app(
        {**app.config, "PROXY_COUNT": proxies, "LOGIN_LIMIT_PER_ADDRESS": "4 per 10 minutes"}
    )
    try:
        balancer = behind.test_client()  # every request arrives from the balancer's address
        for number in range(4):
            balancer.post(
                "/login",
                data={"email": f"nobody{number}@example.test", "password": "x"},
                headers={"X-Forwarded-For": "203.0.113.9"},
            )
        response = balancer.post(
            "/login",
            data={"email": trainee.email, "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.4"},
        )
    finally:
        get_engine(behind).dispose()
    assert (response.status_code == 429) is locked_out
