"""Every ORM table of the service, in one module (one import for Alembic)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exam_service.db import Base, UTCDateTime, utcnow

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Objective(Base):
    """A node of the objective tree: exam -> domain -> task -> objective."""

    __tablename__ = "objectives"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    level: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("objectives.id"), index=True)
    weight: Mapped[float | None]
    position: Mapped[int] = mapped_column(default=0)

    parent: Mapped[Objective | None] = relationship(remote_side=[id])


class Question(Base):
    """A question's stable identity; its content lives in immutable revisions."""

    __tablename__ = "questions"
    # the question pool's fingerprint reads max(updated_at) on every start
    __table_args__ = (Index("ix_questions_updated_at", "updated_at"),)

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="active")
    current_revision: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    revisions: Mapped[list[QuestionRevision]] = relationship(
        back_populates="question", order_by="QuestionRevision.number"
    )


class QuestionRevision(Base):
    """One immutable version of a question's content, identified by its content hash.

    `content` holds the options (or prompts and choices), the key, the rationales and
    the explanation; the columns beside it are what the API filters on.
    """

    __tablename__ = "question_revisions"
    __table_args__ = (
        UniqueConstraint("question_id", "number"),
        Index("ix_question_revisions_content_hash", "content_hash"),
        # the question list's type and difficulty filters, and their count, from the index
        Index(
            "ix_question_revisions_listing", "type", "difficulty", "current_status", "question_id"
        ),
        # the current revisions in question order: the list's pages and its walks
        Index("ix_question_revisions_current", "current_status", "question_id", "id"),
        # what the list filters on, by revision id without reading its content (the
        # objective and text filters find revision ids first)
        Index(
            "ix_question_revisions_id_current",
            "id",
            "current_status",
            "type",
            "difficulty",
            "question_id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[str] = mapped_column(ForeignKey("questions.id"))
    number: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(20))
    difficulty: Mapped[str] = mapped_column(String(20))
    stem: Mapped[str] = mapped_column(Text)
    case_id: Mapped[str | None] = mapped_column(String(100))
    case_title: Mapped[str | None] = mapped_column(String(300))
    case_scenario: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(300))
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    current_status: Mapped[str | None] = mapped_column(String(20))
    """The question's status (`active`, `retired`) while this is its current revision, null
    for an earlier one: a copy of `questions.status` kept by the importer, so that the
    question list filters and counts current revisions from this table's indexes alone,
    without joining each one to its question."""

    question: Mapped[Question] = relationship(back_populates="revisions")
    objectives: Mapped[list[RevisionObjective]] = relationship(
        order_by="RevisionObjective.position", cascade="all, delete-orphan"
    )


class RevisionObjective(Base):
    """Tags a question revision with an objective; position 0 is the primary objective."""

    __tablename__ = "revision_objectives"
    # an objective's revisions from the index alone (the question list's objective filter)
    __table_args__ = (
        Index("ix_revision_objectives_objective_id_revision_id", "objective_id", "revision_id"),
    )

    revision_id: Mapped[int] = mapped_column(
        ForeignKey("question_revisions.id", ondelete="CASCADE"), primary_key=True
    )
    objective_id: Mapped[int] = mapped_column(ForeignKey("objectives.id"), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)

    objective: Mapped[Objective] = relationship()


class User(Base):
    """A person who signs in: `admin`, `instructor` or `candidate`."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")
    """Carried in every token issued to the user; raised to end all of the user's sign-ins
    (deactivation, a role change, a new password), so older tokens stop working."""
    access_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    """When `token_version` or `is_active` last changed; every instance re-reads the users
    changed lately (`auth/revocation.py`). Null until the first change."""


class RevokedToken(Base):
    """A token ended before its expiry by signing out, kept until it would have expired;
    every instance reads the new ones every few seconds (`auth/revocation.py`)."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Cohort(Base):
    """A group of candidates owned by one instructor, who sees their attempts and reports."""

    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User] = relationship()
    members: Mapped[list[CohortMember]] = relationship(
        cascade="all, delete-orphan", order_by="CohortMember.user_id"
    )


class CohortMember(Base):
    __tablename__ = "cohort_members"

    cohort_id: Mapped[int] = mapped_column(
        ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class SignInFailure(Base):
    """Failed sign-ins per (username, client) in the current window; shared by every
    app instance through the database, so the limit holds behind a load balancer."""

    __tablename__ = "sign_in_failures"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Blueprint(Base):
    """An exam definition, from a bank file or the API; attempts copy what grading needs."""

    __tablename__ = "blueprints"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    mode: Mapped[str] = mapped_column(String(20))
    question_count: Mapped[int]
    time_limit_seconds: Mapped[int | None]
    grace_seconds: Mapped[int] = mapped_column(default=0)
    unscored_count: Mapped[int] = mapped_column(default=0)
    objective_weights: Mapped[dict[str, float] | None] = mapped_column(JSONType)
    objective_counts: Mapped[dict[str, int] | None] = mapped_column(JSONType)
    difficulty_mix: Mapped[dict[str, float] | None] = mapped_column(JSONType)
    scale_min: Mapped[int]
    scale_max: Mapped[int]
    scale_pass: Mapped[int]
    raw_cut: Mapped[float] = mapped_column(Float, default=70.0)
    review_policy: Mapped[str] = mapped_column(String(20))
    shuffle_options: Mapped[bool] = mapped_column(Boolean, default=True)
    partial_credit: Mapped[bool] = mapped_column(Boolean, default=False)
    max_open_attempts: Mapped[int] = mapped_column(default=1)
    self_study: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Startable by any signed-in user without a sitting; otherwise candidates take it
    only in a sitting (staff may always start it, to preview)."""
    scoring: Mapped[str] = mapped_column(String(10), default="raw", server_default="raw")
    """`raw`: the scaled score maps the raw percent; `irt`: it maps the expected percent on an
    average form at the attempt's ability θ (see `exams/ability.py`)."""
    adaptive: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    """`mode: adaptive`: the stop rule as given (`target_se`, `min_items`); null for the
    defaults, and for the other modes."""
    origin: Mapped[str] = mapped_column(String(20), default="api")
    """`file` when it comes from the bank's blueprints/ folder (re-imported), else `api`."""
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    """Who made it over the API and may change it (admins may change any); null for the
    bank's file blueprints, which change through `bank import`."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Sitting(Base):
    """A blueprint scheduled for cohorts: a window (`opens_at` to `closes_at`), how many
    attempts each candidate has, an optional time limit, review policy and access code
    replacing the blueprint's, and how several attempts make one score."""

    __tablename__ = "sittings"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    blueprint_id: Mapped[str] = mapped_column(ForeignKey("blueprints.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts_allowed: Mapped[int | None]
    """Null: unlimited."""
    time_limit_seconds: Mapped[int | None]
    """Null: the blueprint's."""
    grading_method: Mapped[str] = mapped_column(String(10), default="highest")
    review_policy: Mapped[str | None] = mapped_column(String(20))
    """Null: the blueprint's."""
    access_code_hash: Mapped[str | None] = mapped_column(String(200))
    """Argon2 hash of the access code candidates send to start; null: no code."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    cohorts: Mapped[list[SittingCohort]] = relationship(
        cascade="all, delete-orphan", order_by="SittingCohort.cohort_id"
    )
    accommodations: Mapped[list[Accommodation]] = relationship(
        cascade="all, delete-orphan", order_by="Accommodation.user_id"
    )


class SittingCohort(Base):
    """A cohort whose members may sit a sitting."""

    __tablename__ = "sitting_cohorts"

    sitting_id: Mapped[int] = mapped_column(
        ForeignKey("sittings.id", ondelete="CASCADE"), primary_key=True
    )
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"), primary_key=True, index=True)


class Accommodation(Base):
    """One candidate's terms in one sitting: more time (seconds added, or the time limit
    multiplied), more attempts, and a closing time of their own."""

    __tablename__ = "accommodations"
    __table_args__ = (
        CheckConstraint(
            "extra_time_seconds IS NULL OR time_multiplier IS NULL", name="one_kind_of_extra_time"
        ),
    )

    sitting_id: Mapped[int] = mapped_column(
        ForeignKey("sittings.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    extra_time_seconds: Mapped[int | None]
    time_multiplier: Mapped[float | None] = mapped_column(Float)
    extra_attempts: Mapped[int] = mapped_column(default=0)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Replaces the sitting's closing time for this candidate (earlier or later)."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class Attempt(Base):
    """One go at a blueprint by one user, alone or in a sitting. `closes_at` is the
    deadline plus grace: the last moment a save is accepted (null for untimed practice)."""

    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_user_id_status", "user_id", "status"),
        Index("ix_attempts_status_closes_at", "status", "closes_at"),
        # two starts racing for a candidate's last attempt cannot both take its number
        UniqueConstraint("sitting_id", "user_id", "attempt_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    blueprint_id: Mapped[str] = mapped_column(ForeignKey("blueprints.id"), index=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="in_progress")
    source: Mapped[str] = mapped_column(String(20), default="online")
    mode: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """What grading and review need, copied from the blueprint at the start."""
    paper_exam_id: Mapped[int | None] = mapped_column(ForeignKey("paper_exams.id"), index=True)
    paper_form: Mapped[str | None] = mapped_column(String(1))
    sitting_id: Mapped[int | None] = mapped_column(ForeignKey("sittings.id"))
    attempt_number: Mapped[int | None]
    """In a sitting: 1, 2, ... per candidate (unique with the two columns before it)."""
    adaptive_stop: Mapped[str | None] = mapped_column(String(20))
    """Adaptive practice: why it served its last question (`length`, `precision`, `pool`),
    set once when the stop rule fires; null while it goes on, and for other modes."""

    items: Mapped[list[AttemptItem]] = relationship(
        order_by="AttemptItem.position", cascade="all, delete-orphan"
    )


class AttemptItem(Base):
    """A question as one attempt shows it: its revision, its place and its option order."""

    __tablename__ = "attempt_items"

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("question_revisions.id"), index=True)
    scored: Mapped[bool] = mapped_column(Boolean, default=True)
    layout: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """Display order of the bank's option (or prompt and choice) ids."""
    points: Mapped[float | None] = mapped_column(Float)
    """Set when the attempt is graded (0..1), for review and item analysis."""
    chosen: Mapped[str | None] = mapped_column(Text)
    """Set when the attempt is graded, on `single` and `multiple` items answered: the bank
    ids of the options chosen, sorted and joined by spaces (ids hold no spaces), so that
    distractor analysis groups by one column of the table it already reads."""
    attempt_score: Mapped[float | None] = mapped_column(Float)
    """The attempt's raw score, copied onto its items when it is graded: item analysis
    (item against the rest of the score, upper and lower groups) then reads this one table
    instead of joining every item row to `results`."""

    revision: Mapped[QuestionRevision] = relationship()


class Response(Base):
    """The candidate's saved answer to one item, in the attempt's display ids."""

    __tablename__ = "responses"

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    answer: Mapped[Any] = mapped_column(JSONType, nullable=True)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    """Practice mode: set once the answer was checked; it can no longer change."""
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Result(Base):
    """The grade of a closed attempt; the primary key makes grading happen once."""

    __tablename__ = "results"

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True
    )
    raw_score: Mapped[float] = mapped_column(Float)
    raw_possible: Mapped[int]
    raw_percent: Mapped[float] = mapped_column(Float)
    scaled_score: Mapped[int]
    passed: Mapped[bool] = mapped_column(Boolean)
    objectives: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    graded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    theta: Mapped[float | None] = mapped_column(Float)
    """The ability θ (EAP over the scored items, on the calibration's N(0, 1) scale) with the
    parameters known at grading; null for attempts graded before abilities were stored."""
    theta_se: Mapped[float | None] = mapped_column(Float)
    """θ's standard error (the posterior SD)."""


CURRENT_REVISION = (Question.id == QuestionRevision.question_id) & (
    Question.current_revision == QuestionRevision.number
)
"""Join condition: a question with its current revision."""


class PaperExam(Base):
    """A printed exam: one question set drawn to a blueprint, printed in several forms."""

    __tablename__ = "paper_exams"

    id: Mapped[int] = mapped_column(primary_key=True)
    blueprint_id: Mapped[str] = mapped_column(ForeignKey("blueprints.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    seed: Mapped[int] = mapped_column(BigInteger)
    paper: Mapped[str] = mapped_column(String(10))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """The blueprint settings grading needs, as an attempt keeps them."""
    sitting_id: Mapped[int | None] = mapped_column(
        ForeignKey("sittings.id", ondelete="SET NULL"), index=True
    )
    """The sitting it is sat in: its answer sheets default to the sitting's roster and its
    graded paper answers are attempts in the sitting; null: on its own."""

    forms: Mapped[list[PaperForm]] = relationship(
        order_by="PaperForm.code", cascade="all, delete-orphan"
    )


class PaperForm(Base):
    """One form (A, B, ...): the questions in its order, each with its option layout."""

    __tablename__ = "paper_forms"

    paper_exam_id: Mapped[int] = mapped_column(
        ForeignKey("paper_exams.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(1), primary_key=True)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    """[{revision_id, scored, layout}] in the form's numbering."""


class ResultObjective(Base):
    """One objective node's score in one graded attempt (the rows of `Result.objectives`),
    so cohort mastery is a GROUP BY over a narrow table instead of a walk up the tree."""

    __tablename__ = "result_objectives"
    __table_args__ = (Index("ix_result_objectives_objective_id", "objective_id"),)

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("results.attempt_id", ondelete="CASCADE"), primary_key=True
    )
    objective_id: Mapped[int] = mapped_column(ForeignKey("objectives.id"), primary_key=True)
    points: Mapped[float] = mapped_column(Float)
    possible: Mapped[int]
    percent: Mapped[float] = mapped_column(Float)


class ItemCalibration(Base):
    """One question revision's item response theory parameters under one model (`rasch` or
    `2pl`), from the latest calibration run of that model (`calibration/service.py`).

    Every revision with graded responses has a row; `status` says whether it was estimated
    (`estimated`) or why not (`too_few_responses`, `all_right`, `all_wrong`), and the
    parameter columns are null unless it was."""

    __tablename__ = "item_calibrations"

    revision_id: Mapped[int] = mapped_column(
        ForeignKey("question_revisions.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(10), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    responses: Mapped[int]
    """Scored responses in graded attempts that the run read."""
    facility: Mapped[float] = mapped_column(Float)
    """Their mean points (0..1): the classical difficulty, for items not estimated."""
    a: Mapped[float | None] = mapped_column(Float)
    b: Mapped[float | None] = mapped_column(Float)
    se_a: Mapped[float | None] = mapped_column(Float)
    se_b: Mapped[float | None] = mapped_column(Float)
    infit: Mapped[float | None] = mapped_column(Float)
    outfit: Mapped[float | None] = mapped_column(Float)
    misfit: Mapped[bool] = mapped_column(Boolean, default=False)
    calibrated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalibrationState(Base):
    """The one row (id 1) that app instances and the command share about calibration: who
    holds the run now (a lease, taken by a guarded UPDATE, so one instance runs it), the
    model in use, and what the last run read and did."""

    __tablename__ = "calibration_state"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    model: Mapped[str | None] = mapped_column(String(10))
    """The model of the last finished run: the parameters everything else uses."""
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """The lease: another claim waits until it has passed (or the holder releases it)."""
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the last run (or check that nothing was new) was claimed."""
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the last run stored its parameters."""
    graded_results: Mapped[int] = mapped_column(default=0)
    graded_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """The count of results and the latest `graded_at` when the last run read responses:
    equal now means nothing was graded since."""
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    """What the last run did (`calibration.service.RunSummary`)."""
