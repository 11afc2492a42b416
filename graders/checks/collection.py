"""Checks on the online sign-up forms, their notices, and the tracking settings.

The expectations come from what the trainee cannot alter: the planted forms (read from the
template), the field catalogue and the company's written collection and tracking procedures.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator
from sqlalchemy import func, select

from graders.checks.common import Params, judged_problems
from graders.context import GradingContext
from graders.registry import check
from graders.results import Outcome
from sandbox_crm.collection.models import (
    FormKind,
    FormStatus,
    Obligation,
    SignupForm,
    TrackingPurge,
    TrackingRecord,
    TrackingSetting,
)
from sandbox_crm.collection.operations import current_pics, form_fields
from sandbox_crm.collection.procedures import FIELDS, TRACKING_KINDS, TRACKING_STANDARD
from sandbox_crm.i18n import N_


def _known_fields(values: list[str]) -> list[str]:
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}; known: {', '.join(FIELDS)}")
    return values


class FormFieldsParams(Params):
    """Parameters of collection.form_fields: what the planted forms of a kind end up collecting."""

    form_kind: FormKind = FormKind.MEMBERSHIP
    """Which planted forms are judged."""
    forbidden: list[str] = Field(default_factory=list)
    """Fields the forms must not collect at all, obligatory or voluntary."""
    not_obligatory: list[str] = Field(default_factory=list)
    """Fields the forms may keep only as voluntary (or drop)."""
    needed: list[str] = Field(default_factory=list)
    """Fields the purpose genuinely needs: still collected, and obligatory."""

    @field_validator("forbidden", "not_obligatory", "needed")
    @classmethod
    def _known(cls, values: list[str]) -> list[str]:
        return _known_fields(values)


def _planted_forms(ctx: GradingContext, kind: str) -> list[SignupForm]:
    ids = ctx.planted().get("signup_forms", ())
    forms = [ctx.final.get(SignupForm, i) for i in ids]
    return [f for f in forms if f is not None and f.kind == kind]


@check("collection.form_fields", params=FormFieldsParams)
def form_fields_check(ctx: GradingContext, params: FormFieldsParams) -> Outcome:
    """The planted forms stay live and collect what their purpose needs, and nothing forbidden."""
    forms = _planted_forms(ctx, params.form_kind)
    if not forms:
        return Outcome.failed({"reason": "the sandbox has no planted forms of this kind"})
    problems: list[dict[str, Any]] = []
    for form in forms:
        rows = {r.field: r.obligation for r in form_fields(ctx.final, form.id)}
        if form.status != FormStatus.LIVE:
            problems.append({"form": form.code, "problem": "retired"})
            continue
        for key in params.forbidden:
            if key in rows:
                problems.append({"form": form.code, "field": key, "problem": "still collected"})
        for key in params.not_obligatory:
            if rows.get(key) == Obligation.OBLIGATORY:
                problems.append({"form": form.code, "field": key, "problem": "still obligatory"})
        for key in params.needed:
            if rows.get(key) != Obligation.OBLIGATORY:
                found = "voluntary" if key in rows else "dropped"
                problems.append({"form": form.code, "field": key, "problem": found})
    evidence = {"forms": [f.code for f in forms], "problems": problems}
    return judged_problems(
        evidence,
        problems,
        {
            "still collected": N_(
                "The form still asks for something its purpose never needs, even if only as a"
                " voluntary field."
            ),
            "still obligatory": N_(
                "The form still makes people give something its purpose does not need."
            ),
            "retired": N_("The form was retired: the company still needs it to sign people up."),
        },
        otherwise=N_(
            "The form no longer requires something the company genuinely needs to provide the"
            " service."
        ),
    )


class NoticeCurrentParams(Params):
    """Parameters of collection.notice_current."""

    form_kind: FormKind = FormKind.MEMBERSHIP
    """Which planted forms are judged."""


@check("collection.notice_current", params=NoticeCurrentParams)
def notice_current(ctx: GradingContext, params: NoticeCurrentParams) -> Outcome:
    """Each planted form's PICS in force was published in the attempt, states the form's fields
    as it collects them now, and names its purposes, transferees and access contact."""
    forms = _planted_forms(ctx, params.form_kind)
    if not forms:
        return Outcome.failed({"reason": "the sandbox has no planted forms of this kind"})
    published = {e.entity_id for e in ctx.events_of("collection.pics_publish")}
    problems: list[dict[str, Any]] = []
    for form in forms:
        pics = current_pics(ctx.final, form.id)
        if pics is None or pics.id not in published:
            problems.append({"form": form.code, "problem": "not republished"})
            continue
        rows = {r.field: r.obligation for r in form_fields(ctx.final, form.id)}
        stated = {f: Obligation.OBLIGATORY.value for f in pics.obligatory_fields}
        stated.update({f: Obligation.VOLUNTARY.value for f in pics.voluntary_fields})
        if stated != rows:
            problems.append({"form": form.code, "version": pics.version, "problem": "outdated"})
        if not (pics.access_contact or "").strip() or not pics.access_rights_stated:
            problems.append({"form": form.code, "version": pics.version, "problem": "no contact"})
        if not pics.purposes or not pics.transferee_classes:
            problems.append({"form": form.code, "version": pics.version, "problem": "incomplete"})
    evidence = {"forms": [f.code for f in forms], "problems": problems}
    return judged_problems(
        evidence,
        problems,
        {
            "not republished": N_(
                "The form's collection statement was not published again after the review."
            ),
            "outdated": N_(
                "The collection statement in force does not describe what the form now collects."
            ),
            "no contact": N_(
                "The collection statement does not tell people whom to ask for access to or"
                " correction of their data."
            ),
        },
        otherwise=N_("The collection statement leaves out its purposes or transferees."),
    )


class TrackingParams(Params):
    """Parameters of tracking.follows_procedure."""

    kinds: list[str] = Field(default_factory=lambda: list(TRACKING_KINDS))
    """The kinds of tracking data judged."""

    @field_validator("kinds")
    @classmethod
    def _known(cls, values: list[str]) -> list[str]:
        unknown = sorted(set(values) - set(TRACKING_KINDS))
        if unknown or not values:
            raise ValueError(f"kinds must be some of {', '.join(TRACKING_KINDS)}")
        return values


@check("tracking.follows_procedure", params=TrackingParams)
def follows_procedure(ctx: GradingContext, params: TrackingParams) -> Outcome:
    """The tracking settings keep data no longer than the procedure says and ask consent where
    it says so, and a purge since the last change left nothing older than the procedure allows."""
    settings = {s.kind: s for s in ctx.final.scalars(select(TrackingSetting))}
    if not settings:
        return Outcome.failed({"reason": "the sandbox keeps no tracking data"})
    problems: list[dict[str, Any]] = []
    for kind in params.kinds:
        standard, setting = TRACKING_STANDARD[kind], settings.get(kind)
        if setting is None:
            continue
        if setting.retention_days > standard.retention_days:
            problems.append(
                {"kind": kind, "problem": "kept too long", "found": setting.retention_days}
            )
        if standard.consent_required and not setting.consent_required:
            problems.append({"kind": kind, "problem": "no consent"})
    last_change = max(s.changed_at for s in settings.values())
    purge = ctx.final.scalars(
        select(TrackingPurge)
        .where(TrackingPurge.run_at >= last_change)
        .order_by(TrackingPurge.run_at.desc())
    ).first()
    old: dict[str, int] = {}
    if purge is None:
        problems.append({"problem": "not purged"})
    else:
        for kind in params.kinds:
            cutoff = purge.run_at - timedelta(days=TRACKING_STANDARD[kind].retention_days)
            count = ctx.final.scalar(
                select(func.count()).where(
                    TrackingRecord.kind == kind, TrackingRecord.occurred_at < cutoff
                )
            )
            if count:
                old[kind] = int(count)
        if old:
            problems.append({"problem": "older data remain", "records": old})
    evidence = {"problems": problems}
    return judged_problems(
        evidence,
        problems,
        {
            "kept too long": N_(
                "A kind of tracking data is still kept longer than the procedure allows."
            ),
            "no consent": N_(
                "Tracking the procedure allows only with consent is set without asking for it."
            ),
            "not purged": N_("The retention settings were not applied to the data already held."),
        },
        otherwise=N_("Tracking data older than the procedure allows are still held."),
    )
