"""The platform's tables: centres, accounts, published definitions, attempts and their review."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.mutable import MutableDict
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from werkzeug.security import check_password_hash, generate_password_hash

from sandbox_crm.i18n import N_
from training_platform.db import PlatformBase


def utcnow() -> datetime:
    """The current time in UTC, naive: how every timestamp column stores time."""
    return datetime.now(UTC).replace(tzinfo=None)


def _enum_values(enum_class: type[enum.Enum]) -> list[str]:
    return [member.value for member in enum_class]


def enum_column(enum_class: type[enum.StrEnum]) -> Enum:
    """A portable string column holding a StrEnum's values (not its member names)."""
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=_enum_values,
        validate_strings=True,
    )


class Role(enum.StrEnum):
    """What an account may do on the platform."""

    TRAINEE = "trainee"
    ASSESSOR = "assessor"
    CENTRE_ADMIN = "centre_admin"

    @property
    def label(self) -> str:
        """A human-readable name."""
        return {
            "trainee": N_("Trainee"),
            "assessor": N_("Assessor"),
            "centre_admin": N_("Centre admin"),
        }[self.value]


class DefinitionKind(enum.StrEnum):
    """What a stored definition describes."""

    UNIT = "unit"
    SCENARIO = "scenario"


class AttemptStatus(enum.StrEnum):
    """Where an attempt is in its life: worked on, handed in, graded, decided by an assessor."""

    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    GRADED = "graded"
    DECIDED = "decided"


class JobStatus(enum.StrEnum):
    """Where a background job is: waiting for a worker, being run, given up on, finished."""

    QUEUED = "queued"
    RUNNING = "running"
    FAILED = "failed"
    DONE = "done"


class Decision(enum.StrEnum):
    """An assessor's decision on an attempt."""

    COMPETENT = "competent"
    NOT_YET_COMPETENT = "not_yet_competent"


class OverrideTarget(enum.StrEnum):
    """Which automatic verdict an assessor overrides."""

    CHECK = "check"
    ITEM = "item"
    PDPO = "pdpo"
    REQUIREMENT = "requirement"


class Centre(PlatformBase):
    """A training centre: the tenant that users, custom definitions and results belong to."""

    __tablename__ = "centre"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="centre")

    def __repr__(self) -> str:
        return f"<Centre {self.slug}>"


class User(UserMixin, PlatformBase):
    """A person who signs in: trainee, assessor or centre admin of one centre."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centre.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    # Part of the id kept in every session cookie; raising it signs the user out everywhere.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The language pages are shown in ("en", "zh_Hant_HK"); None follows the browser.
    language: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)

    centre: Mapped[Centre] = relationship(back_populates="users")

    @validates("email")
    def _lower_email(self, _key: str, value: str) -> str:
        return normalise_email(value)

    def set_password(self, password: str) -> None:
        """Store a salted hash of the password, never the password."""
        self.password_hash = generate_password_hash(password)

    def get_id(self) -> str:
        """Flask-Login's session id: the user's id and session version ("12.3")."""
        return f"{self.id}.{self.session_version or 1}"

    def end_all_sessions(self) -> None:
        """Make every session cookie issued so far for this user invalid."""
        self.session_version = (self.session_version or 1) + 1

    def check_password(self, password: str) -> bool:
        """Whether the password matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


def normalise_email(value: str) -> str:
    """Emails are compared and stored trimmed and lower-cased."""
    return value.strip().lower()


class DefinitionVersion(PlatformBase):
    """One published version of a unit or scenario YAML file, kept verbatim with its hash."""

    __tablename__ = "definition_version"
    __table_args__ = (
        UniqueConstraint("centre_id", "kind", "key", "version"),
        Index("ix_definition_version_kind_key", "kind", "key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: built in, shipped with the platform; otherwise the centre that published it.
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("centre.id"))
    kind: Mapped[DefinitionKind] = mapped_column(enum_column(DefinitionKind))
    key: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    source_text: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(String(300))
    unit_code: Mapped[str] = mapped_column(String(32))
    published_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    # A scenario version: the unit version it was last validated against, which attempts bind.
    # None for units, and for scenario versions published before this was recorded.
    validated_unit_id: Mapped[int | None] = mapped_column(ForeignKey("definition_version.id"))
    # A scenario version published from an upload: "preparing" while jobs generate its
    # templates and run its reference solution and counterexamples, "refused" (with the
    # problems, one per line) if they did not behave. None: ready to start attempts on.
    preparation: Mapped[str | None] = mapped_column(String(16), default=None)
    preparation_problems: Mapped[str | None] = mapped_column(Text, default=None)

    centre: Mapped[Centre | None] = relationship()
    published_by: Mapped[User | None] = relationship()
    validated_unit: Mapped[DefinitionVersion | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<DefinitionVersion {self.kind} {self.key} v{self.version}>"


class Attempt(PlatformBase):
    """A trainee's attempt at one scenario version, worked in its own sandbox."""

    __tablename__ = "attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    scenario_version_id: Mapped[int] = mapped_column(
        ForeignKey("definition_version.id"), index=True
    )
    unit_version_id: Mapped[int] = mapped_column(ForeignKey("definition_version.id"))
    status: Mapped[AttemptStatus] = mapped_column(
        enum_column(AttemptStatus), default=AttemptStatus.IN_PROGRESS, index=True
    )
    # Which data variant of the scenario's pool (0 .. crm.variants - 1) the sandbox holds.
    variant: Mapped[int] = mapped_column(Integer)
    # The template the sandbox was cloned from (its cache key) and the generator that built it;
    # grading compares against exactly that template. None for attempts started before the
    # baseline was recorded.
    template_key: Mapped[str | None] = mapped_column(String(64), index=True)
    generator_version: Mapped[str | None] = mapped_column(String(32))
    faker_version: Mapped[str | None] = mapped_column(String(32))
    # File name of the attempt's sandbox under SANDBOX_DIR.
    sandbox_key: Mapped[str] = mapped_column(String(128), unique=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime())
    graded_at: Mapped[datetime | None] = mapped_column(DateTime())
    # deliverable id -> entity id in the sandbox
    deliverables: Mapped[dict[str, Any]] = mapped_column(MutableDict.as_mutable(JSON), default=dict)
    # item id -> the trainee's answer
    answers: Mapped[dict[str, Any]] = mapped_column(MutableDict.as_mutable(JSON), default=dict)

    trainee: Mapped[User] = relationship()
    scenario_version: Mapped[DefinitionVersion] = relationship(foreign_keys=[scenario_version_id])
    unit_version: Mapped[DefinitionVersion] = relationship(foreign_keys=[unit_version_id])
    grades: Mapped[list[GradeRecord]] = relationship(
        back_populates="attempt", order_by="GradeRecord.id", cascade="all, delete-orphan"
    )
    review: Mapped[Review | None] = relationship(
        back_populates="attempt", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Attempt {self.id} {self.status}>"


class GradeRecord(PlatformBase):
    """One grading run of an attempt; regrading adds a record and keeps the old ones."""

    __tablename__ = "grade_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    overall: Mapped[str] = mapped_column(String(32))
    # The full serialised grading result.
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    grader_version: Mapped[str] = mapped_column(String(64))
    # A regrade: who asked for it (None for the grading at submission).
    regraded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    # A regrade whose verdict differs from the record before it, made after a decision: the
    # decision version it puts in question (flagged until the decision is amended).
    flagged_decision_id: Mapped[int | None] = mapped_column(ForeignKey("decision_version.id"))

    attempt: Mapped[Attempt] = relationship(back_populates="grades")
    regraded_by: Mapped[User | None] = relationship()


class Review(PlatformBase):
    """An assessor's review of an attempt; the decision, once made, is the record."""

    __tablename__ = "review"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"), unique=True)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    # None while the review is a draft (rubric scored, no decision yet).
    decision: Mapped[Decision | None] = mapped_column(enum_column(Decision))
    comment: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None] = mapped_column(DateTime())

    attempt: Mapped[Attempt] = relationship(back_populates="review")
    assessor: Mapped[User] = relationship()
    overrides: Mapped[list[VerdictOverride]] = relationship(
        back_populates="review", order_by="VerdictOverride.id", cascade="all, delete-orphan"
    )
    rubric_scores: Mapped[list[RubricScore]] = relationship(
        back_populates="review", order_by="RubricScore.id", cascade="all, delete-orphan"
    )


class VerdictOverride(PlatformBase):
    """An assessor's change of one automatic verdict, kept beside the automatic status."""

    __tablename__ = "verdict_override"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id"), index=True)
    target_kind: Mapped[OverrideTarget] = mapped_column(enum_column(OverrideTarget))
    target_id: Mapped[str] = mapped_column(String(128))
    automatic_status: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    # The assessor who recorded it (any assessor of the centre may); None for overrides
    # recorded before this column existed, whose author was not kept.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    review: Mapped[Review] = relationship(back_populates="overrides")
    created_by: Mapped[User | None] = relationship()


class RubricScore(PlatformBase):
    """Points an assessor gave for one rubric criterion of a written item."""

    __tablename__ = "rubric_score"
    __table_args__ = (UniqueConstraint("review_id", "item_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id"))
    item_id: Mapped[str] = mapped_column(String(128))
    criterion_id: Mapped[str] = mapped_column(String(128))
    points: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")

    review: Mapped[Review] = relationship(back_populates="rubric_scores")


class Cohort(PlatformBase):
    """A class of one centre: the trainees who take it and the assessors who assess it."""

    __tablename__ = "cohort"
    __table_args__ = (UniqueConstraint("centre_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centre.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    # An archived cohort keeps its records but is no longer offered for new work.
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    centre: Mapped[Centre] = relationship()
    members: Mapped[list[CohortMember]] = relationship(
        back_populates="cohort", cascade="all, delete-orphan", order_by="CohortMember.id"
    )

    def __repr__(self) -> str:
        return f"<Cohort {self.id} {self.name}>"


class CohortMember(PlatformBase):
    """A trainee or assessor in a cohort (their role on the platform says which)."""

    __tablename__ = "cohort_member"
    __table_args__ = (UniqueConstraint("cohort_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)

    cohort: Mapped[Cohort] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class AuditEntry(PlatformBase):
    """One thing an admin or assessor did on the platform, kept for the centre admin to read."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_centre_created", "centre_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centre.id"))
    # None when the platform itself acted (a scheduled purge, a command).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    # A dotted name such as "user.role_changed", "review.decided", "review.amended".
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int | None] = mapped_column(Integer)
    # What changed, as plain values (e.g. {"from": "trainee", "to": "assessor"}).
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)

    actor: Mapped[User | None] = relationship()


class RetentionPolicy(PlatformBase):
    """How long a centre keeps attempts' sandboxes and evidence after the decision.

    None keeps them until the platform-wide sandbox retention (``practicum purge``) applies.
    The grading record (GradeRecord) and the decision are always kept.
    """

    __tablename__ = "retention_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centre.id"), unique=True)
    # Days after the decision that the attempt's frozen sandbox is deleted.
    sandbox_days: Mapped[int | None] = mapped_column(Integer)
    # Days after the decision that the trainee's answers and deliverables (and the sandbox) go.
    evidence_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    centre: Mapped[Centre] = relationship()
    updated_by: Mapped[User | None] = relationship()


class CohortOffering(PlatformBase):
    """A unit or scenario that a cohort takes (a scenario is named by its stable key)."""

    __tablename__ = "cohort_offering"
    __table_args__ = (UniqueConstraint("cohort_id", "kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id"), index=True)
    kind: Mapped[DefinitionKind] = mapped_column(enum_column(DefinitionKind))
    # A unit code or a scenario id: the key every version of the definition shares.
    key: Mapped[str] = mapped_column(String(128))
    added_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)

    cohort: Mapped[Cohort] = relationship()


class AssessmentWindow(PlatformBase):
    """When a cohort may take an assessment-mode scenario, how often, and for how long."""

    __tablename__ = "assessment_window"
    __table_args__ = (Index("ix_assessment_window_cohort_scenario", "cohort_id", "scenario_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id"))
    scenario_key: Mapped[str] = mapped_column(String(128))
    # UTC, naive like every timestamp; pages show Hong Kong time.
    opens_at: Mapped[datetime] = mapped_column(DateTime())
    closes_at: Mapped[datetime] = mapped_column(DateTime())
    # Attempts each trainee may start in this window; None: the scenario's own limit applies.
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    # Minutes an attempt may be worked on; None: no time limit.
    time_limit_minutes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    cohort: Mapped[Cohort] = relationship()
    extensions: Mapped[list[WindowExtension]] = relationship(
        back_populates="window", cascade="all, delete-orphan", order_by="WindowExtension.id"
    )


class WindowExtension(PlatformBase):
    """More time or more attempts in a window for one trainee, with the reason."""

    __tablename__ = "window_extension"
    __table_args__ = (UniqueConstraint("window_id", "trainee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("assessment_window.id"), index=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    # The trainee's own closing time (UTC); None keeps the window's.
    closes_at: Mapped[datetime | None] = mapped_column(DateTime())
    extra_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    window: Mapped[AssessmentWindow] = relationship(back_populates="extensions")
    trainee: Mapped[User] = relationship(foreign_keys=[trainee_id])


class WindowAttempt(PlatformBase):
    """An attempt started in an assessment window, and when its time limit runs out."""

    __tablename__ = "window_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"), unique=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("assessment_window.id"), index=True)
    # None: the window has no time limit.
    due_at: Mapped[datetime | None] = mapped_column(DateTime())

    window: Mapped[AssessmentWindow] = relationship()


class DecisionSource(enum.StrEnum):
    """How a version of a decision came about."""

    DECISION = "decision"
    AMENDMENT = "amendment"
    APPEAL = "appeal"


class DecisionVersion(PlatformBase):
    """One version of an attempt's decision; amendments add versions and keep the earlier ones.

    ``Review.decision``/``decided_at`` always hold the current (highest) version.
    """

    __tablename__ = "decision_version"
    __table_args__ = (UniqueConstraint("attempt_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    decision: Mapped[Decision] = mapped_column(enum_column(Decision))
    comment: Mapped[str] = mapped_column(Text, default="")
    # Why an amendment was made ("" for the first decision).
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[DecisionSource] = mapped_column(enum_column(DecisionSource))
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    decided_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)

    attempt: Mapped[Attempt] = relationship()
    decided_by: Mapped[User] = relationship()


class Allocation(PlatformBase):
    """Which assessor an assessment attempt is allocated to (one allocation per attempt)."""

    __tablename__ = "review_allocation"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"), unique=True)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    allocated_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    allocated_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)

    attempt: Mapped[Attempt] = relationship()
    assessor: Mapped[User] = relationship(foreign_keys=[assessor_id])
    allocated_by: Mapped[User] = relationship(foreign_keys=[allocated_by_id])


class AssessmentSettings(PlatformBase):
    """A centre's assessing settings: the moderation sample and the appeal period."""

    __tablename__ = "assessment_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centre.id"), unique=True)
    # Share of each assessor's decisions per unit sent to internal verification.
    moderation_percent: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    # Days after a decision within which the trainee may appeal it.
    appeal_days: Mapped[int] = mapped_column(Integer, default=14, server_default="14")


class LeadAssessor(PlatformBase):
    """An assessor who may allocate work, amend any decision and settle referred moderations."""

    __tablename__ = "lead_assessor"

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centre.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), unique=True)

    user: Mapped[User] = relationship()


class ModerationStatus(enum.StrEnum):
    """Where a sampled decision is in internal verification."""

    PENDING = "pending"
    AGREED = "agreed"
    DISAGREED = "disagreed"


class Moderation(PlatformBase):
    """A decision sampled for internal verification by a second assessor."""

    __tablename__ = "moderation"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"), index=True)
    decision_version_id: Mapped[int] = mapped_column(ForeignKey("decision_version.id"), unique=True)
    # The assessor whose decision is verified; never the moderator.
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    unit_code: Mapped[str] = mapped_column(String(32), index=True)
    # Why it was selected: "sample", "borderline" or "overridden".
    basis: Mapped[str] = mapped_column(String(16))
    status: Mapped[ModerationStatus] = mapped_column(
        enum_column(ModerationStatus), default=ModerationStatus.PENDING, index=True
    )
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    comment: Mapped[str] = mapped_column(Text, default="")
    # After a disagreement: "assessor" (back to the deciding assessor) or "lead".
    referred_to: Mapped[str | None] = mapped_column(String(16))
    selected_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    moderated_at: Mapped[datetime | None] = mapped_column(DateTime())
    # When the decision was amended after a disagreement.
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime())

    attempt: Mapped[Attempt] = relationship()
    decision_version: Mapped[DecisionVersion] = relationship()
    decided_by: Mapped[User] = relationship(foreign_keys=[decided_by_id])
    moderator: Mapped[User | None] = relationship(foreign_keys=[moderator_id])


class AppealStatus(enum.StrEnum):
    """Where a trainee's appeal is."""

    OPEN = "open"
    UPHELD = "upheld"
    CHANGED = "changed"


class Appeal(PlatformBase):
    """A trainee's appeal against one version of a decision (one appeal per version)."""

    __tablename__ = "appeal"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"), index=True)
    decision_version_id: Mapped[int] = mapped_column(ForeignKey("decision_version.id"), unique=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    lodged_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    status: Mapped[AppealStatus] = mapped_column(
        enum_column(AppealStatus), default=AppealStatus.OPEN, index=True
    )
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    outcome_comment: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime())

    attempt: Mapped[Attempt] = relationship()
    decision_version: Mapped[DecisionVersion] = relationship()
    trainee: Mapped[User] = relationship(foreign_keys=[trainee_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])


class Job(PlatformBase):
    """A piece of background work (grading, generating templates, a purge) and how it went.

    ``key`` names the work itself ("grade:attempt:42"), so queueing the same work twice finds
    the one row; a worker claims it by moving it from queued to running in one UPDATE.
    """

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_centre_status", "centre_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    # "grade", "pregenerate", "purge".
    kind: Mapped[str] = mapped_column(String(32))
    # What it works on: an attempt id for grading, a definition version id for generating.
    target_id: Mapped[int | None] = mapped_column(Integer)
    # None for the platform's own work (built-in scenarios, the purge).
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("centre.id"))
    status: Mapped[JobStatus] = mapped_column(enum_column(JobStatus), default=JobStatus.QUEUED)
    # How many times a worker has started it.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    queued_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime())
    # Who asked for it, where a person did (a regrade); None for the platform's own work.
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    def __repr__(self) -> str:
        return f"<Job {self.key} {self.status}>"


class ClassPreparation(PlatformBase):
    """Spare sandboxes made ready for a class about to start a scenario, and until when.

    One per assessment window (made when it opens) or per centre and scenario by hand; the
    retention purge drops the spares beyond the backend's default once ``expires_at`` passes.
    """

    __tablename__ = "class_preparation"

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centre.id"), index=True)
    scenario_key: Mapped[str] = mapped_column(String(128))
    # None for a preparation by hand (the command line); a window's goes with the window.
    window_id: Mapped[int | None] = mapped_column(
        ForeignKey("assessment_window.id", ondelete="CASCADE"), unique=True
    )
    trainees: Mapped[int] = mapped_column(Integer)
    # Spare clones wanted beyond the backend's default, per template key (empty on SQLite).
    spares: Mapped[dict[str, Any]] = mapped_column(MutableDict.as_mutable(JSON), default=dict)
    # Which sandbox backend the last run found: "postgres" or "sqlite_files"; None before.
    backend: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime())
    # When the job last sized it; starts since then count against its spares.
    prepared_at: Mapped[datetime | None] = mapped_column(DateTime())
    # When the purge dropped its extra spares; None while it holds them.
    released_at: Mapped[datetime | None] = mapped_column(DateTime())
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    window: Mapped[AssessmentWindow | None] = relationship()

    def __repr__(self) -> str:
        return f"<ClassPreparation {self.id} {self.scenario_key} x{self.trainees}>"
