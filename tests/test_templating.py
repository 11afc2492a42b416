"""The layout and the shared macros: sorting links, pagination, badges, the sidebar."""

from __future__ import annotations

from flask import Blueprint, render_template_string
from sqlalchemy import select

from training_platform.models import Role, User
from training_platform.navigation import add_nav_item
from training_platform.pagination import paginate
from training_platform.templating import badge_tone

MACROS = '{% import "_macros.html" as m %}'


def test_sort_header_keeps_other_arguments_and_toggles_direction(app):
    template = MACROS + '{{ m.sort_header("Name", "name") }}|{{ m.sort_header("Date", "date") }}'
    with app.test_request_context("/list?q=chan&tier=gold&sort=name&dir=asc&page=4"):
        name, date = render_template_string(template).split("|")
    assert 'href="/list?q=chan&amp;tier=gold&amp;sort=name&amp;dir=desc"' in name
    assert 'aria-sort="ascending"' in name
    assert 'href="/list?q=chan&amp;tier=gold&amp;sort=date&amp;dir=asc"' in date
    assert "aria-sort" not in date


def test_pagination_links_keep_the_filters(app, db_session, make_user):
    for _ in range(7):
        make_user(Role.TRAINEE)
    page = paginate(db_session, select(User).order_by(User.id), page=2, per_page=3)
    assert (page.page, page.pages, page.total, len(page.items)) == (2, 3, 7, 3)
    assert page.has_prev and page.has_next
    assert paginate(db_session, select(User), page=99, per_page=3).page == 3
    with app.test_request_context("/list?q=chan&page=2"):
        html = render_template_string(MACROS + "{{ m.pagination(page) }}", page=page)
    assert "7 results · page 2 of 3" in html
    assert 'href="/list?q=chan&amp;page=1" rel="prev"' in html
    assert 'href="/list?q=chan&amp;page=3" rel="next"' in html


def test_badge_tones():
    assert [badge_tone(s) for s in ("pass", "FAIL", "error", "warn", "skipped")] == [
        "pass",
        "fail",
        "warn",
        "warn",
        "info",
    ]


def test_user_text_is_escaped_in_the_layout(client_as, make_user):
    user = make_user(Role.TRAINEE, display_name="<script>alert(1)</script>")
    html = client_as(user).get("/units").text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_layout_shows_the_user_and_a_sign_out_form(client_as, trainee):
    html = client_as(trainee).get("/units").text
    assert "Chan Siu Ming" in html and "Trainee" in html and "Kowloon Test Training Centre" in html
    assert 'action="/logout"' in html and 'name="csrf_token"' in html


def test_sidebar_shows_only_the_links_of_the_role(app, client_as, trainee, assessor):
    bp = Blueprint("queue_demo", __name__)
    bp.add_url_rule("/queue-demo", "queue", lambda: "queue")
    add_nav_item(bp, "queue_demo.queue", "Assessment queue", roles=(Role.ASSESSOR,))
    app.register_blueprint(bp)
    assert "Assessment queue" in client_as(assessor).get("/review").text
    assert "Assessment queue" not in client_as(trainee).get("/units").text
