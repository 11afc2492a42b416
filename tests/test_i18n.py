"""Languages: choosing one, switching without JavaScript, formatting, a complete catalogue."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.conftest import login
from training_platform import i18n
from training_platform.models import User

ZH = {"Accept-Language": "zh-HK,zh;q=0.9,en;q=0.5"}
PO_FILE = i18n.TRANSLATIONS_DIR / "zh_Hant_HK" / "LC_MESSAGES" / "messages.po"


def _text(html: str) -> str:
    """The words a reader sees: tags removed, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _translations() -> dict[str, str]:
    with PO_FILE.open("rb") as handle:
        return {m.id: m.string for m in read_po(handle) if m.id and isinstance(m.id, str)}


# --- choosing the language ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("zh-HK", "zh-Hant-HK"),
        ("zh-TW,en;q=0.5", "zh-Hant-HK"),
        ("zh-Hant", "zh-Hant-HK"),
        ("en-GB", "en"),
        ("fr-FR,de;q=0.8", "en"),
        ("zh-CN", "en"),
        ("", "en"),
    ],
)
def test_accept_language_chooses_the_page_language(client, header, lang):
    response = client.get("/login", headers={"Accept-Language": header} if header else {})
    assert f'<html lang="{lang}">' in response.get_data(as_text=True)


def test_browser_asking_for_hong_kong_chinese_gets_the_sign_in_page_in_chinese(client):
    page = client.get("/login", headers=ZH).get_data(as_text=True)
    assert "登入" in page
    assert "Use the account your training centre gave you." not in page


def test_profile_setting_beats_accept_language(client, trainee: User, db_session):
    trainee.language = "en"
    db_session.commit()
    login(client, trainee)
    page = client.get("/attempts", headers=ZH).get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "My attempts" in page


def test_no_profile_setting_follows_the_browser(client, trainee: User):
    login(client, trainee)
    page = client.get("/attempts", headers=ZH).get_data(as_text=True)
    assert '<html lang="zh-Hant-HK">' in page
    assert "我的作答" in page


# --- the switcher --------------------------------------------------------------------------------


def test_switcher_is_a_plain_form_in_the_header(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'action="/language"' in page
    assert 'name="language" value="zh_Hant_HK"' in page
    assert "<script" not in page


def test_switching_before_sign_in_keeps_the_choice_in_the_session(client):
    response = client.post("/language", data={"language": "zh_Hant_HK", "next": "/login"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    page = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="zh-Hant-HK">' in page


def test_switching_when_signed_in_saves_the_profile(client, trainee: User, db_session):
    login(client, trainee)
    client.post("/language", data={"language": "zh_Hant_HK", "next": "/attempts"})
    db_session.expire_all()
    assert db_session.get(User, trainee.id).language == "zh_Hant_HK"
    # Another browser, English by its header, follows the profile once signed in.
    other = client.application.test_client()
    login(other, trainee)
    assert "我的作答" in other.get("/attempts", headers={"Accept-Language": "en"}).text


def test_switching_to_an_unknown_language_is_refused_plainly(client, trainee: User, db_session):
    login(client, trainee)
    response = client.post(
        "/language", data={"language": "xx", "next": "/attempts"}, follow_redirects=True
    )
    assert response.status_code == 200
    assert "That language is not available." in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(User, trainee.id).language is None


def test_switcher_does_not_redirect_off_site(client):
    response = client.post("/language", data={"language": "en", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"


# --- formatting ----------------------------------------------------------------------------------


def test_money_and_dates_follow_the_locale(app):
    moment = datetime(2026, 3, 16, 14, 5)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        english = (i18n.format_money(1234.5), i18n.format_datetime(moment))
        english_number = i18n.format_number(1234567)
    with app.test_request_context(headers=ZH):
        chinese = (i18n.format_money(1234.5), i18n.format_datetime(moment))
    assert english[0].startswith("HK$") and "1,234.50" in english[0]
    assert chinese[0].startswith("HK$") and "1,234.50" in chinese[0]
    assert english_number == "1,234,567"
    assert english[1] == "16 Mar 2026 14:05"
    assert chinese[1] == "2026年3月16日 14:05"


# --- pages in Chinese ---------------------------------------------------------------------------


def _untranslated_on(english_page: str, chinese_page: str) -> list[str]:
    """Marked messages shown in the English page that still show in English in the Chinese one."""
    shown = _text(english_page)
    chinese = _text(chinese_page)
    return sorted(
        msgid
        for msgid, msgstr in _translations().items()
        if msgstr != msgid and len(msgid) > 3 and " " in msgid
        if msgid in shown and msgid in chinese
    )


def test_sign_in_page_in_chinese_has_no_english_ui_text(client):
    english = client.get("/login").get_data(as_text=True)
    chinese = client.get("/login", headers=ZH).get_data(as_text=True)
    assert _untranslated_on(english, chinese) == []


def test_trainee_pages_in_chinese_have_no_english_ui_text(client, trainee: User, graded_attempt):
    login(client, trainee)
    for path in ("/attempts", f"/attempts/{graded_attempt.id}/result"):
        english = client.get(path).get_data(as_text=True)
        chinese = client.get(path, headers=ZH).get_data(as_text=True)
        assert _untranslated_on(english, chinese) == [], path


def test_crm_pages_in_chinese_have_no_english_ui_text(client, trainee: User, started_attempt):
    login(client, trainee)
    for page in ("/", "/customers"):
        path = f"/attempts/{started_attempt.id}/crm{page}"
        english = client.get(path).get_data(as_text=True)
        chinese = client.get(path, headers=ZH).get_data(as_text=True)
        assert "客戶" in chinese, path
        assert _untranslated_on(english, chinese) == [], path


def test_empty_states_are_shown_in_the_readers_language(client, trainee: User, started_attempt):
    login(client, trainee)
    path = f"/attempts/{started_attempt.id}/crm/customers?q=zzzz-nobody"
    assert "No customers match" in client.get(path, headers={"Accept-Language": "en"}).text
    chinese = client.get(path, headers=ZH).text
    assert "沒有符合的客戶" in chinese and "No customers match" not in chinese


# --- the catalogue -------------------------------------------------------------------------------


def test_every_marked_message_has_a_chinese_translation():
    assert i18n.untranslated(PO_FILE) == []


def test_template_is_up_to_date_with_the_sources():
    in_sources = i18n.extracted_msgids()
    in_template = i18n.catalogue_msgids(i18n.TEMPLATE_FILE)
    assert sorted(in_sources - in_template) == [], "run scripts/i18n.sh extract, then update"
    assert sorted(in_template - in_sources) == [], "run scripts/i18n.sh extract, then update"
    assert i18n.catalogue_msgids(PO_FILE) == in_template, "run scripts/i18n.sh update"


def test_completeness_check_lists_empty_and_fuzzy_messages(tmp_path: Path):
    copy = tmp_path / "messages.po"
    shutil.copyfile(PO_FILE, copy)
    text = copy.read_text(encoding="utf-8")
    text = text.replace('msgstr "登出"', 'msgstr ""', 1)
    text = text.replace('msgid "Sign in"', '#, fuzzy\nmsgid "Sign in"', 1)
    copy.write_text(text, encoding="utf-8")
    assert i18n.untranslated(copy) == ["fuzzy: Sign in", "empty: Sign out"]


def test_compiled_catalogue_matches_the_po_file(tmp_path: Path):
    po_dir = tmp_path / "zh_Hant_HK" / "LC_MESSAGES"
    po_dir.mkdir(parents=True)
    shutil.copyfile(PO_FILE, po_dir / "messages.po")
    (mo_file,) = i18n.compile_catalogues(tmp_path)
    assert mo_file.stat().st_size > 0


# --- customers' names in the CRM -----------------------------------------------------------------


def test_crm_names_customers_in_their_preferred_language(app, client, trainee, started_attempt):
    from sqlalchemy import select

    from sandbox_crm.customers.models import Customer
    from training_platform import sandboxes

    with sandboxes.get_store(app).session(started_attempt.sandbox_key) as sandbox:
        chinese, english = (
            sandbox.scalars(
                select(Customer)
                .where(Customer.preferred_language == language, Customer.name_zh.is_not(None))
                .order_by(Customer.id)
                .limit(1)
            ).one()
            for language in ("zh", "en")
        )
        chinese.name_en, chinese.name_zh = "Zed Chinese-Preferring", "甲乙丙"
        english.name_en, english.name_zh = "Abe English-Preferring", "丁戊己"
        ids = (chinese.id, english.id)
        sandbox.commit()
    login(client, trainee)
    base = f"/attempts/{started_attempt.id}/crm/customers"
    record = client.get(f"{base}/{ids[0]}").get_data(as_text=True)
    heading = re.search(r"<h1>(.*?)</h1>", record, re.S).group(1)
    assert heading.index("甲乙丙") < heading.index("Zed Chinese-Preferring")
    record = client.get(f"{base}/{ids[1]}").get_data(as_text=True)
    heading = re.search(r"<h1>(.*?)</h1>", record, re.S).group(1)
    assert heading.index("Abe English-Preferring") < heading.index("丁戊己")
    listing = _text(client.get(f"{base}?q=Preferring").get_data(as_text=True))
    assert "甲乙丙 Zed Chinese-Preferring" in listing
    assert "Abe English-Preferring 丁戊己" in listing


def test_account_page_sets_and_clears_the_language(client, trainee: User, db_session):
    login(client, trainee)
    page = client.get("/account/password").get_data(as_text=True)
    assert 'name="language" value="browser" checked' in page
    client.post("/language", data={"language": "zh_Hant_HK", "next": "/account/password"})
    page = client.get("/account/password", headers={"Accept-Language": "en"}).text
    assert 'value="zh_Hant_HK" checked' in page and "語言" in page
    client.post("/language", data={"language": "browser", "next": "/account/password"})
    db_session.expire_all()
    assert db_session.get(User, trainee.id).language is None
    assert (
        '<html lang="en">'
        in client.get("/account/password", headers={"Accept-Language": "en"}).text
    )


def test_service_refusals_are_shown_in_the_readers_language(client, trainee: User):
    login(client, trainee)
    form = {"current": "not my password", "new": "x" * 20, "repeated": "x" * 20}
    chinese = client.post("/account/password", data=form, headers=ZH).get_data(as_text=True)
    assert "你的現有密碼不正確。" in chinese
    english = client.post("/account/password", data=form).get_data(as_text=True)
    assert "Your current password is not correct." in english
