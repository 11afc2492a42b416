"""DPP2 (accuracy, retention), DPP3 (use) and Part 5 (access and correction requests).

None of these can be judged on the sandbox yet; each says why, so a scenario author sees what is
missing rather than a silent pass.
"""

from __future__ import annotations

from graders.pdpo.base import register_not_applicable

_NO_REQUESTS = "The sandbox does not yet record data access requests."
_NO_CORRECTIONS = "The sandbox does not yet record data correction requests."

register_not_applicable(
    "ACC-01",
    title="Inaccurate contact data used",
    basis="DPP2(1)(b)",
    severity="low",
    checks="Contact data flagged invalid or disputed is not used for sending or exporting until "
    "corrected.",
    reason="Not graded yet: contact points carry an invalid flag, but the sandbox keeps no "
    "history of when a flag was set or cleared, so use 'before correction' cannot be told apart.",
)
register_not_applicable(
    "ACC-02",
    title="Correction not passed on to recipients",
    basis="s23(1)(c)",
    severity="medium",
    checks="After a correction, recipients from the previous 12 months are sent the correction.",
    reason="The sandbox does not record to whom a customer's data was disclosed, nor notices "
    "of corrections sent to them.",
)
register_not_applicable(
    "RET-01",
    title="Customer kept past retention",
    basis="DPP2(2); s26",
    severity="medium",
    checks="No customer kept past the retention schedule once a purge is due.",
    reason="The sandbox has no retention schedule and no purge operation.",
)
register_not_applicable(
    "RET-02",
    title="Unsafe or over-kept backups",
    basis="DPP2(2); DPP4",
    severity="medium",
    checks="Backups holding personal data are encrypted, expire per policy, and do not "
    "resurrect erased customers.",
    reason="The sandbox does not model backups.",
)
register_not_applicable(
    "USE-01",
    title="Use outside the notified purposes",
    basis="DPP3",
    severity="high",
    checks="Every use (campaign, report run, export, transfer) states a purpose within the "
    "notified purposes, or a new-purpose consent exists before it.",
    reason="Report runs and exports record their purpose as free text and the collection "
    "notice lists its purposes as free text; matching one to the other cannot be done "
    "reliably, so only the presence of a purpose is checked (SEC-02).",
)
register_not_applicable(
    "USE-02",
    title="Sharing with affiliates or other companies",
    basis="DPP3; EC Healthcare 2022",
    severity="high",
    checks="No sharing with affiliated brands or other companies unless the notice named that "
    "class of transferee, or consent exists.",
    reason="The sandbox has no affiliated brands and no operation that transfers data to "
    "another company.",
)
register_not_applicable(
    "USE-03",
    title="New-purpose use after withdrawal",
    basis="s2(3)",
    severity="high",
    checks="No new-purpose use after the consent was withdrawn in writing.",
    reason="No operation uses data for a purpose that needs its own consent (analytics or "
    "third-party marketing); direct marketing after an opt-out is judged by DM-06.",
)
register_not_applicable(
    "DAR-01",
    title="Access request not completed in 40 days",
    basis="s19(1)",
    severity="high",
    checks="Each access request is completed within 40 days.",
    reason=_NO_REQUESTS,
)
register_not_applicable(
    "DAR-02",
    title="No written notice by day 40",
    basis="s19(2)",
    severity="high",
    checks="If not completed by day 40, a written notice with reasons is sent by day 40.",
    reason=_NO_REQUESTS,
)
register_not_applicable(
    "DAR-03",
    title="Refusal without ground, writing or log entry",
    basis="s20, s21, s27",
    severity="high",
    checks="A refusal cites an s20 ground, is sent in writing within 40 days, and is logged.",
    reason=_NO_REQUESTS,
)
register_not_applicable(
    "DAR-04",
    title="Release without identity check or with others' data",
    basis="s20(1)",
    severity="high",
    checks="Identity verified before release; the copy contains no other person's data.",
    reason=_NO_REQUESTS,
)
register_not_applicable(
    "DAR-05",
    title="Excessive or improper fee",
    basis="s28",
    severity="medium",
    checks="No fee for correction; an access fee no more than the direct cost.",
    reason=_NO_REQUESTS,
)
register_not_applicable(
    "DCR-01",
    title="Correction request not handled in 40 days",
    basis="s23, s25",
    severity="high",
    checks="Each correction request is corrected or refused in writing with reasons within "
    "40 days.",
    reason=_NO_CORRECTIONS,
)
