"""`practicum seed-demo`: a demo centre with one account per role."""

from __future__ import annotations

import os
from datetime import timedelta

import click
from flask import Flask
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from training_platform import cohorts_service
from training_platform.accounts import (
    create_centre,
    create_user,
    get_centre_by_slug,
    get_user_by_email,
)
from training_platform.db import get_engine, get_session
from training_platform.models import (
    AssessmentWindow,
    Centre,
    Cohort,
    CohortMember,
    Role,
    User,
    utcnow,
)

DEMO_CENTRE_SLUG = "harbour"
DEMO_CENTRE_NAME = "Harbour Skills Training Centre"
DEMO_COHORT = "Demo cohort"
DEMO_WINDOW_DAYS = 90
DEMO_PASSWORD = "practicum-demo"  # noqa: S105 (published in the README on purpose)
DEMO_ACCOUNTS = [
    (Role.TRAINEE, "trainee@demo.practicum.hk", "Chan Tai Man"),
    (Role.ASSESSOR, "assessor@demo.practicum.hk", "Wong Mei Ling"),
    # A second assessor: moderation and appeals need someone other than the deciding assessor.
    (Role.ASSESSOR, "moderator@demo.practicum.hk", "Ho Wing Sze"),
    (Role.CENTRE_ADMIN, "admin@demo.practicum.hk", "Lee Ka Wai"),
]


def seed_demo_accounts(session: Session) -> list[tuple[Role, str, bool]]:
    """Ensure the demo centre and accounts exist and sign in with the demo password.

    Returns (role, email, created) per account. Flushes; the caller commits.
    """
    centre = get_centre_by_slug(session, DEMO_CENTRE_SLUG)
    if centre is None:
        centre = create_centre(session, DEMO_CENTRE_SLUG, DEMO_CENTRE_NAME)
    seeded = []
    for role, email, display_name in DEMO_ACCOUNTS:
        user = get_user_by_email(session, email)
        if user is None:
            create_user(session, centre, email, display_name, role, DEMO_PASSWORD)
            seeded.append((role, email, True))
            continue
        # Put a changed demo account back, so that the printed credentials always work.
        user.role, user.is_active, user.centre = role, True, centre
        if not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
        seeded.append((role, email, False))
    session.flush()
    seed_demo_cohort(session, centre)
    return seeded


def seed_demo_cohort(session: Session, centre: Centre) -> Cohort:
    """Ensure the demo cohort holds the demo trainee and assessors, with a window open for the next
    90 days for each published assessment-mode scenario (105077L3's integrated assessment ships)."""
    cohort = session.scalars(
        select(Cohort).where(Cohort.centre_id == centre.id, Cohort.name == DEMO_COHORT)
    ).one_or_none()
    if cohort is None:
        cohort = Cohort(centre_id=centre.id, name=DEMO_COHORT)
        session.add(cohort)
        session.flush()
    cohort.archived = False
    demo = [email for role, email, _name in DEMO_ACCOUNTS if role != Role.CENTRE_ADMIN]
    inside = set(
        session.scalars(select(CohortMember.user_id).where(CohortMember.cohort_id == cohort.id))
    )
    for user in session.scalars(select(User).where(User.email.in_(demo))):
        if user.id not in inside:
            session.add(CohortMember(cohort_id=cohort.id, user_id=user.id))
    now = utcnow()
    for key, _title in cohorts_service.assessment_scenarios(session, centre.id):
        window = session.scalars(
            select(AssessmentWindow).where(
                AssessmentWindow.cohort_id == cohort.id, AssessmentWindow.scenario_key == key
            )
        ).first()
        if window is None:
            window = AssessmentWindow(cohort_id=cohort.id, scenario_key=key, opens_at=now)
            session.add(window)
        window.closes_at = max(window.closes_at or now, now + timedelta(days=DEMO_WINDOW_DAYS))
    session.flush()
    return cohort


def register(app: Flask) -> None:
    """Add `seed-demo` to the app's CLI."""

    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Create the demo centre and one account per role (safe to run again)."""
        if not inspect(get_engine()).has_table("app_user"):
            raise click.ClickException(
                "The database has no tables yet: run `practicum db upgrade`."
            )
        session = get_session()
        seeded = seed_demo_accounts(session)
        session.commit()
        centre = get_centre_by_slug(session, DEMO_CENTRE_SLUG)
        assessments = cohorts_service.assessment_scenarios(session, centre.id) if centre else []

        click.echo(f"Demo centre: {DEMO_CENTRE_NAME} ({DEMO_CENTRE_SLUG})")
        click.echo(f"Demo cohort: {DEMO_COHORT} (the demo trainee and assessors)")
        for _key, title in assessments:
            click.echo(f"Assessment window open for the next {DEMO_WINDOW_DAYS} days: {title}")
        if not assessments:
            click.echo(
                "No assessment-mode scenario is published yet: run `practicum sync-definitions`."
            )
        click.echo("")
        rows = [("Role", "Email", "Password", "")] + [
            (role.label, email, DEMO_PASSWORD, "created" if created else "already there")
            for role, email, created in seeded
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for index, row in enumerate(rows):
            cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
            click.echo("  ".join([*cells, row[3]]).rstrip())
            if index == 0:
                click.echo("  ".join("-" * width for width in widths))
        port = os.environ.get("PORT", "5000")
        click.echo("")
        click.echo(f"Open http://127.0.0.1:{port}/ and sign in with one of these accounts.")
