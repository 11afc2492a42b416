"""Checks on data subject requests: an access request answered in time (or properly extended),
after verifying the requester, with a copy of that person's data only, for a fair fee."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sqlalchemy import select

from graders.checks.common import Params
from graders.context import GradingContext
from graders.pdpo.requests import others_in_copy
from graders.registry import check
from graders.results import Outcome
from sandbox_crm.i18n import N_
from sandbox_crm.requests.bridge import subject_requests
from sandbox_crm.requests.models import (
    ACCESS_COPY_DIRECT_COST_HKD,
    DataItem,
    DataRequest,
    RequestCopyItem,
    RequestOutcome,
)

Aspect = Literal["deadline", "identity", "copy", "fee"]


class AccessRequestParams(Params):
    """Parameters of requests.access_request."""

    reference: str = Field(min_length=1)
    """The request's reference (planted requests have known references)."""
    require: list[Aspect] = Field(min_length=1)
    """What is judged: ``deadline`` (answered by day 40, or a written notice with reasons by
    then), ``identity`` (verified, and before any release), ``copy`` (a compiled copy holding
    ``items`` and no other person's data), ``fee`` (no more than the direct cost)."""
    items: list[DataItem] = Field(default_factory=list)
    """The data items the copy must hold (for ``copy``)."""


@check("requests.access_request", params=AccessRequestParams)
def access_request(ctx: GradingContext, params: AccessRequestParams) -> Outcome:
    """The named access request was handled as the law and the task require."""
    found = ctx.final.scalar(select(DataRequest).where(DataRequest.reference == params.reference))
    if found is None:
        return Outcome.failed(
            {"request": params.reference, "reason": "no such request"},
            note=N_("The request named in the task is missing."),
        )
    item = next(
        r
        for r in subject_requests(ctx.final, found.kind)
        if r.entity_type == "data_request" and r.id == found.id
    )
    released = found.outcome == RequestOutcome.COPY_PROVIDED.value
    answered_in_time = (
        found.outcome in (RequestOutcome.COPY_PROVIDED.value, RequestOutcome.NO_DATA_HELD.value)
        and found.responded_on is not None
        and found.responded_on <= found.due_on
    )
    noticed = (
        found.extension_sent_on is not None
        and found.extension_sent_on <= found.due_on
        and bool(found.extension_reason.strip())
    )
    items = sorted(
        set(
            ctx.final.scalars(
                select(RequestCopyItem.item).where(RequestCopyItem.request_id == found.id)
            )
        )
    )
    others = others_in_copy(ctx, item)
    verified = found.identity_verified_at
    problems = []
    if "deadline" in params.require and not (answered_in_time or noticed):
        problems.append("deadline")
    if "identity" in params.require and (
        verified is None
        or (released and found.responded_at is not None and verified > found.responded_at)
    ):
        problems.append("identity")
    if "copy" in params.require:
        missing = [i.value for i in params.items if i.value not in items]
        if found.copy_compiled_at is None or missing or others:
            problems.append("copy")
    if "fee" in params.require and found.fee_hkd > ACCESS_COPY_DIRECT_COST_HKD:
        problems.append("fee")
    evidence = {
        "request": params.reference,
        "record_id": found.id,
        "expected": {
            "require": list(params.require),
            "items": [i.value for i in params.items],
            "day_40": found.due_on.isoformat(),
            "max_fee_hkd": ACCESS_COPY_DIRECT_COST_HKD,
        },
        "found": {
            "outcome": found.outcome,
            "answered_on": found.responded_on.isoformat() if found.responded_on else None,
            "notice_sent_on": found.extension_sent_on.isoformat()
            if found.extension_sent_on
            else None,
            "identity_verified": verified is not None,
            "copy_items": items,
            "other_customers_in_copy": others,
            "fee_hkd": found.fee_hkd,
        },
        "problems": problems,
    }
    return Outcome.judge(not problems, evidence)
