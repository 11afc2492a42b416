"""People pages of the centre admin: find, add, import from CSV, roles, deactivation, resets;
and the forgotten-password route from the sign-in page."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, login
from training_platform import users_service
from training_platform.models import AuditEntry, Cohort, CohortMember, Role, User

NEW_PASSWORD = "tidal lantern quietly folds"
BOTH = {"new": NEW_PASSWORD, "repeated": NEW_PASSWORD}


def _outbox(app) -> list:
    return app.extensions.setdefault("practicum_outbox", [])


def _link(message) -> str:
    """The path of the set-password link in an e-mail."""
    body = message.get_content()
    match = re.search(r"https?://[^/\s]+(/\S+)", body)
    assert match, body
    return match.group(1)


def _user(db_session, email: str) -> User | None:
    db_session.expire_all()
    return db_session.scalars(select(User).where(User.email == email)).one_or_none()


def _actions(db_session) -> list[str]:
    db_session.expire_all()
    return [e.action for e in db_session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


@pytest.fixture
def admin_client(client_as, centre_admin):
    return client_as(centre_admin)


@pytest.fixture
def spring(db_session, centre) -> Cohort:
    cohort = Cohort(centre_id=centre.id, name="Retail CRM 2026 Spring")
    db_session.add(cohort)
    db_session.commit()
    return cohort


# --- the list --------------------------------------------------------------------------------


def test_admin_finds_people_by_name_role_cohort_and_status(
    admin_client, trainee, other_trainee, assessor, spring, db_session
):
    db_session.add(CohortMember(cohort_id=spring.id, user_id=trainee.id))
    other_trainee.is_active = False
    db_session.commit()
    page = admin_client.get("/centre/users").get_data(as_text=True)
    assert trainee.display_name in page and assessor.display_name in page

    page = admin_client.get("/centre/users?q=chan").get_data(as_text=True)
    assert "Chan Siu Ming" in page and "Lam Ka Yan" not in page
    page = admin_client.get("/centre/users?role=assessor").get_data(as_text=True)
    assert assessor.display_name in page and trainee.display_name not in page
    page = admin_client.get(f"/centre/users?cohort={spring.id}").get_data(as_text=True)
    assert trainee.display_name in page and other_trainee.display_name not in page
    page = admin_client.get("/centre/users?status=inactive").get_data(as_text=True)
    assert other_trainee.display_name in page and trainee.display_name not in page


def test_people_of_another_centre_are_not_listed(admin_client, foreign_trainee):
    page = admin_client.get("/centre/users").get_data(as_text=True)
    assert foreign_trainee.email not in page


# --- adding one person -----------------------------------------------------------------------


def test_an_invited_person_sets_a_password_once_and_signs_in(
    app, admin_client, client, spring, db_session
):
    response = admin_client.post(
        "/centre/users/new",
        data={
            "name": "Yeung Hoi Ching",
            "email": "Hoi.Ching@Example.com",
            "role": "trainee",
            "cohorts": [str(spring.id)],
        },
    )
    assert response.status_code == 302
    user = _user(db_session, "hoi.ching@example.com")
    assert user is not None and user.role == Role.TRAINEE
    assert [m.user_id for m in spring.members] == [user.id]
    (message,) = _outbox(app)
    assert message["To"] == "hoi.ching@example.com"
    link = _link(message)
    assert link.startswith("/account/setup/")

    page = client.get(link).get_data(as_text=True)
    assert "hoi.ching@example.com" in page
    response = client.post(link, data=BOTH)
    assert response.status_code == 302
    assert (
        client.post("/login", data={"email": user.email, "password": NEW_PASSWORD}).status_code
        == 302
    )

    # The link works once.
    again = app.test_client().get(link)
    assert again.status_code == 400
    assert "already been used" in again.get_data(as_text=True)
    assert "user.created" in _actions(db_session)


@pytest.mark.parametrize(
    ("email", "name", "message"),
    [
        ("not-an-address", "Someone", "Enter a valid e-mail address."),
        ("trainee-dup@example.test", "Someone", "already exists"),
        ("fine@example.test", "", "Enter a name"),
    ],
)
def test_adding_a_person_with_bad_details_is_refused(
    app, admin_client, make_user, db_session, email, name, message
):
    make_user(Role.TRAINEE, email="trainee-dup@example.test")
    response = admin_client.post(
        "/centre/users/new", data={"name": name, "email": email, "role": "trainee"}
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _outbox(app) == []
    assert _user(db_session, "fine@example.test") is None


def test_a_link_with_a_forged_signature_is_refused(client):
    response = client.get("/account/setup/not-a-real-token")
    assert response.status_code == 400
    assert "not valid" in response.get_data(as_text=True)


# --- CSV import --------------------------------------------------------------------------------

GOOD_CSV = (
    "email,name,role,cohorts\n"
    "a.trainee@example.com,Au Ka Lok,trainee,Retail CRM 2026 Spring\n"
    "b.trainee@example.com,Bo Wai Man,Trainee,\n"
    "c.assessor@example.com,Cheung Yuk,assessor,retail crm 2026 spring\n"
)


def _upload(client, text: str | bytes, filename: str = "people.csv"):
    import io

    data = text.encode() if isinstance(text, str) else text
    return client.post(
        "/centre/users/import",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def test_csv_import_adds_everyone_with_cohorts_and_invitations(
    app, admin_client, spring, db_session
):
    response = _upload(admin_client, GOOD_CSV)
    assert response.status_code == 302
    for email in ("a.trainee@example.com", "b.trainee@example.com", "c.assessor@example.com"):
        assert _user(db_session, email) is not None
    assert _user(db_session, "c.assessor@example.com").role == Role.ASSESSOR
    db_session.refresh(spring)
    assert len(spring.members) == 2
    assert sorted(m["To"] for m in _outbox(app)) == [
        "a.trainee@example.com",
        "b.trainee@example.com",
        "c.assessor@example.com",
    ]
    assert "user.imported" in _actions(db_session)


def test_the_example_file_on_the_page_imports(admin_client, db_session, centre):
    for name in ("Retail CRM 2026 Spring", "Jewellery evening"):
        db_session.add(Cohort(centre_id=centre.id, name=name))
    db_session.commit()
    page = admin_client.get("/centre/users/import").get_data(as_text=True)
    assert "/centre/users/import/example.csv" in page and "centre_admin" in page
    example = admin_client.get("/centre/users/import/example.csv")
    assert example.mimetype == "text/csv"
    assert _upload(admin_client, example.data).status_code == 302
    assert _user(db_session, "lam.ka.yan@example.com") is not None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (GOOD_CSV.replace("b.trainee@example.com", "b.trainee@@example"), "Line 3:"),
        (GOOD_CSV + "a.trainee@example.com,Again,trainee,\n", "also on line 2"),
        (GOOD_CSV.replace("b.trainee@example.com", "existing@example.test"), "already has an"),
        (GOOD_CSV.replace("Trainee", "manager"), 'Line 3: unknown role "manager"'),
        (GOOD_CSV.replace("Retail CRM 2026 Spring", "Night class"), 'unknown cohort "Night class"'),
        ("email,name\nx@example.com,X\n", "Missing: role"),
        ("email,name,role\n", "no people in it"),
        (
            "email,name,role\n" + "".join(f"p{n}@example.com,P {n},trainee\n" for n in range(501)),
            "at most 500",
        ),
        ("email,name,role\nx@example.com,陳大文,trainee\n".encode("big5"), "not UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not"),
        ("", "empty"),
    ],
    ids=[
        "bad-email",
        "duplicate-in-file",
        "duplicate-in-platform",
        "unknown-role",
        "unknown-cohort",
        "missing-column",
        "no-rows",
        "too-many",
        "not-utf8",
        "not-csv",
        "empty",
    ],
)
def test_a_wrong_line_imports_no_one_and_is_reported_by_line(
    app, admin_client, spring, make_user, db_session, content, expected
):
    make_user(Role.TRAINEE, email="existing@example.test")
    response = _upload(admin_client, content)
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert expected in page
    assert _user(db_session, "a.trainee@example.com") is None
    assert _user(db_session, "p1@example.com") is None
    assert _outbox(app) == []


def test_every_problem_of_a_file_is_listed_at_once(admin_client, spring):
    content = GOOD_CSV.replace("a.trainee@example.com", "nope").replace("assessor,", "boss,")
    page = _upload(admin_client, content).get_data(as_text=True)
    assert "Line 2:" in page and "Line 4:" in page and "2 problem(s)" in page


# --- role, status and resets ------------------------------------------------------------------


def test_changing_a_role_is_audited_and_ends_the_persons_sessions(
    admin_client, client_as, trainee, db_session
):
    trainee_browser = client_as(trainee)
    response = admin_client.post(f"/centre/users/{trainee.id}/role", data={"role": "assessor"})
    assert response.status_code == 302
    assert _user(db_session, trainee.email).role == Role.ASSESSOR
    assert trainee_browser.get("/attempts").status_code == 302  # signed out
    entry = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "user.role_changed")
    ).one()
    assert entry.details["from"] == "trainee" and entry.details["to"] == "assessor"


def test_an_unknown_role_is_refused(admin_client, trainee, db_session):
    response = admin_client.post(
        f"/centre/users/{trainee.id}/role", data={"role": "owner"}, follow_redirects=True
    )
    assert "Choose a role." in response.get_data(as_text=True)
    assert _user(db_session, trainee.email).role == Role.TRAINEE


def test_the_only_admin_cannot_demote_or_deactivate_themselves(
    admin_client, centre_admin, db_session
):
    for url, data in (
        (f"/centre/users/{centre_admin.id}/role", {"role": "trainee"}),
        (f"/centre/users/{centre_admin.id}/deactivate", {}),
    ):
        page = admin_client.post(url, data=data, follow_redirects=True).get_data(as_text=True)
        assert "no active centre admin" in page
    user = _user(db_session, centre_admin.email)
    assert user.role == Role.CENTRE_ADMIN and user.is_active


def test_with_a_second_admin_an_admin_may_step_down(
    admin_client, centre_admin, make_user, db_session
):
    make_user(Role.CENTRE_ADMIN)
    admin_client.post(f"/centre/users/{centre_admin.id}/role", data={"role": "assessor"})
    assert _user(db_session, centre_admin.email).role == Role.ASSESSOR


def test_a_deactivated_person_is_signed_out_and_cannot_sign_in_until_reactivated(
    app, admin_client, client_as, trainee, db_session
):
    trainee_browser = client_as(trainee)
    assert admin_client.post(f"/centre/users/{trainee.id}/deactivate").status_code == 302
    assert trainee_browser.get("/attempts").status_code == 302
    fresh = app.test_client()
    assert (
        fresh.post("/login", data={"email": trainee.email, "password": PASSWORD}).status_code == 200
    )
    admin_client.post(f"/centre/users/{trainee.id}/reactivate")
    login(app.test_client(), trainee)
    assert _actions(db_session)[-2:] == ["user.deactivated", "user.reactivated"]


def test_admin_sends_a_reset_link_that_sets_a_new_password(app, admin_client, trainee, db_session):
    response = admin_client.post(f"/centre/users/{trainee.id}/password-reset")
    assert response.status_code == 302
    (message,) = _outbox(app)
    link = _link(message)
    assert link.startswith("/password/reset/")
    browser = app.test_client()
    assert browser.post(link, data=BOTH).status_code == 302
    login(app.test_client(), trainee, NEW_PASSWORD)
    assert "user.password_reset_sent" in _actions(db_session)


def test_people_of_another_centre_cannot_be_opened_or_changed(
    admin_client, foreign_trainee, db_session
):
    assert admin_client.get(f"/centre/users/{foreign_trainee.id}").status_code == 404
    response = admin_client.post(f"/centre/users/{foreign_trainee.id}/deactivate")
    assert response.status_code == 404
    assert _user(db_session, foreign_trainee.email).is_active


# --- forgotten password -------------------------------------------------------------------------


def test_sign_in_page_offers_a_forgotten_password_link(client):
    assert 'href="/password/forgot"' in client.get("/login").get_data(as_text=True)


def test_forgotten_password_says_the_same_for_known_and_unknown_addresses(app, client, trainee):
    known = client.post(
        "/password/forgot", data={"email": trainee.email}, follow_redirects=True
    ).get_data(as_text=True)
    unknown = client.post(
        "/password/forgot", data={"email": "nobody@example.test"}, follow_redirects=True
    ).get_data(as_text=True)
    sentence = "If an active account uses that address"
    assert sentence in known and sentence in unknown
    assert [m["To"] for m in _outbox(app)] == [trainee.email]


def test_a_reset_link_sets_a_new_password_once_and_ends_every_session(
    app, client, client_as, trainee
):
    signed_in = client_as(trainee)
    client.post("/password/forgot", data={"email": trainee.email})
    link = _link(_outbox(app)[0])
    weak = client.post(link, data={"new": "password123", "repeated": "password123"})
    assert weak.status_code == 400
    assert "most common passwords" in weak.get_data(as_text=True)
    mismatch = client.post(link, data={"new": NEW_PASSWORD, "repeated": NEW_PASSWORD + "x"})
    assert "not the same" in mismatch.get_data(as_text=True)

    assert client.post(link, data=BOTH).status_code == 302
    assert signed_in.get("/attempts").status_code == 302  # that browser was signed out
    login(app.test_client(), trainee, NEW_PASSWORD)
    assert client.get(link).status_code == 400  # used


def test_an_expired_reset_link_is_refused(app, client, trainee, monkeypatch):
    client.post("/password/forgot", data={"email": trainee.email})
    link = _link(_outbox(app)[0])
    monkeypatch.setitem(users_service.TOKEN_MAX_AGE, users_service.RESET, -1)
    response = client.post(link, data=BOTH)
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    login(app.test_client(), trainee)  # the old password still works


def test_a_deactivated_account_gets_no_reset_mail(app, client, trainee, db_session):
    trainee.is_active = False
    db_session.commit()
    client.post("/password/forgot", data={"email": trainee.email})
    assert _outbox(app) == []


def test_forgotten_password_requests_are_throttled(app, client, trainee):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "2 per 10 minutes"
    for _ in range(2):
        assert client.post("/password/forgot", data={"email": trainee.email}).status_code == 302
    assert client.post("/password/forgot", data={"email": trainee.email}).status_code == 429
    assert len(_outbox(app)) == 2


def test_trainees_and_assessors_cannot_manage_people(client_as, trainee, assessor):
    for user in (trainee, assessor):
        browser = client_as(user)
        assert browser.get("/centre/users").status_code == 403
        assert browser.post(f"/centre/users/{trainee.id}/deactivate").status_code == 403


# --- real mail ------------------------------------------------------------------------------------


class _Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, _server, _session, envelope):  # noqa: N802 (aiosmtpd's name)
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server(app):
    """A local SMTP server on a free port; the app sends its mail there."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    yield inbox
    controller.stop()


def test_an_invitation_arrives_by_smtp_with_a_working_link(
    app, admin_client, smtp_server, db_session
):
    admin_client.post(
        "/centre/users/new",
        data={"name": "Kwok Wing", "email": "kwok.wing@example.com", "role": "assessor"},
    )
    (message,) = smtp_server.messages
    assert message["To"] == "kwok.wing@example.com"
    assert "Kowloon Test Training Centre" in message["Subject"]
    browser = app.test_client()
    assert browser.post(_link(message), data=BOTH).status_code == 302
    user = _user(db_session, "kwok.wing@example.com")
    login(app.test_client(), user, NEW_PASSWORD)


def test_a_reset_arrives_by_smtp_with_a_working_link(app, client, trainee, smtp_server):
    client.post("/password/forgot", data={"email": trainee.email})
    (message,) = smtp_server.messages
    assert message["Subject"] == "Reset your Practicum password"
    assert client.post(_link(message), data=BOTH).status_code == 302
    login(app.test_client(), trainee, NEW_PASSWORD)


# --- the command line ---------------------------------------------------------------------------


def test_the_cli_imports_people_from_csv(app, runner, spring, tmp_path, db_session, centre):
    path = tmp_path / "people.csv"
    path.write_text(GOOD_CSV, encoding="utf-8")
    result = runner.invoke(args=["users", "import", str(path), "--centre", centre.slug])
    assert result.exit_code == 0, result.output
    assert "Imported 3 account(s)" in result.output
    assert _user(db_session, "c.assessor@example.com").role == Role.ASSESSOR
    link = _link(_outbox(app)[0])
    assert link.startswith("/account/setup/")
    assert app.test_client().get(link).status_code == 200


def test_the_cli_reports_every_wrong_line_and_imports_no_one(
    runner, spring, tmp_path, db_session, centre
):
    path = tmp_path / "people.csv"
    path.write_text(GOOD_CSV.replace("Trainee", "manager"), encoding="utf-8")
    result = runner.invoke(args=["users", "import", str(path), "--centre", centre.slug])
    assert result.exit_code == 2
    assert 'Line 3: unknown role "manager"' in result.output
    assert _user(db_session, "a.trainee@example.com") is None
    unknown = runner.invoke(args=["users", "import", str(path), "--centre", "nowhere"])
    assert unknown.exit_code != 0 and "No centre has the slug" in unknown.output


def test_posts_without_a_csrf_token_are_refused(app, admin_client, db_session):
    app.config["WTF_CSRF_ENABLED"] = True
    response = admin_client.post(
        "/centre/users/new", data={"name": "X", "email": "x@example.com", "role": "trainee"}
    )
    assert response.status_code == 400
    assert _user(db_session, "x@example.com") is None


def test_the_line_report_is_shown_in_the_readers_language(admin_client, spring):
    import io

    response = admin_client.post(
        "/centre/users/import",
        data={"file": (io.BytesIO(GOOD_CSV.replace("Trainee", "manager").encode()), "p.csv")},
        content_type="multipart/form-data",
        headers={"Accept-Language": "zh-HK"},
    )
    page = html.unescape(response.get_data(as_text=True))
    assert "第 3 行：未知的角色「manager」" in page
    assert "unknown role" not in page
