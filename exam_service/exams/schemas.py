"""API shapes of blueprints, sittings, attempts, responses and results (DESIGN.md's
vocabulary)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from exam_service.bank.format import AdaptiveRule, BlueprintFile
from exam_service.grading.scoring import Scale
from exam_service.http import RowId


class BlueprintView(Struct):
    id: str
    name: str
    description: str
    mode: str
    question_count: int
    time_limit_seconds: int | None
    grace_seconds: int
    unscored_count: int
    objective_weights: dict[str, float] | None
    objective_counts: dict[str, int] | None
    difficulty_mix: dict[str, float] | None
    scale: Scale
    review_policy: str
    shuffle_options: bool
    partial_credit: bool
    max_open_attempts: int
    self_study: bool
    """Startable without a sitting (otherwise candidates take it only in a sitting)."""
    scoring: Literal["raw", "irt"]
    """`raw`: the scaled score maps the raw percent; `irt`: it maps the expected percent on
    an average form at the attempt's ability θ."""
    origin: str
    owner_id: int | None = None
    """Who made it over the API (and may change it); null for the bank's file blueprints."""
    adaptive: AdaptiveRule | None = None
    """`mode: adaptive`: when a session stops before `question_count` questions (the
    defaults filled in); null for the other modes."""


BlueprintWrite = BlueprintFile
"""POST and PUT take the same fields as a blueprint file (`id` must match on PUT)."""


class AttemptCreate(Struct):
    """Send `blueprint_id` (a self-study blueprint; staff: any, to preview) or
    `sitting_id` (with `access_code` when the sitting has one), not both."""

    blueprint_id: Annotated[str, Meta(min_length=1, max_length=100)] | None = None
    sitting_id: RowId | None = None
    access_code: Annotated[str, Meta(max_length=100)] | None = None


WEEK = 7 * 24 * 3600
Moment = Annotated[datetime, Meta(tz=True, description="ISO 8601 with a UTC offset")]
GradingMethod = Literal["highest", "first", "last", "mean"]
SittingReviewPolicy = Literal["after_submit", "after_close", "after_window_closes", "never"]
"""The blueprint's policies, and `after_window_closes`: once the sitting's closing time
(the latest of anyone's, with grace) has passed."""
TimeLimit = Annotated[int, Meta(ge=1, le=WEEK)]
AttemptsAllowed = Annotated[int, Meta(ge=1, le=1000)]
AccessCode = Annotated[str, Meta(min_length=4, max_length=100)]
SittingName = Annotated[str, Meta(max_length=200)]


class SittingCreate(Struct, forbid_unknown_fields=True):
    """A new sitting: the blueprint, your cohorts, the window and the rules."""

    blueprint_id: Annotated[str, Meta(min_length=1, max_length=100)]
    cohort_ids: Annotated[list[RowId], Meta(min_length=1, max_length=100)]
    opens_at: Moment
    closes_at: Moment | None = None
    """None: open-ended."""
    name: SittingName = ""
    """Empty: the blueprint's name."""
    attempts_allowed: AttemptsAllowed | None = 1
    """None: unlimited."""
    time_limit_seconds: TimeLimit | None = None
    """None: the blueprint's."""
    grading_method: GradingMethod = "highest"
    review_policy: SittingReviewPolicy | None = None
    """None: the blueprint's."""
    access_code: AccessCode | None = None
    """Write-only; stored hashed. Candidates send it as `access_code` to start."""


class SittingChange(Struct, forbid_unknown_fields=True):
    """The fields to change; a field left out stays as it is, null clears it."""

    blueprint_id: Annotated[str, Meta(min_length=1, max_length=100)] | UnsetType = UNSET
    cohort_ids: Annotated[list[RowId], Meta(min_length=1, max_length=100)] | UnsetType = UNSET
    opens_at: Moment | UnsetType = UNSET
    closes_at: Moment | None | UnsetType = UNSET
    name: SittingName | UnsetType = UNSET
    attempts_allowed: AttemptsAllowed | None | UnsetType = UNSET
    time_limit_seconds: TimeLimit | None | UnsetType = UNSET
    grading_method: GradingMethod | UnsetType = UNSET
    review_policy: SittingReviewPolicy | None | UnsetType = UNSET
    access_code: AccessCode | None | UnsetType = UNSET


class AccommodationWrite(Struct, forbid_unknown_fields=True):
    """One candidate's terms in a sitting; `extra_time_seconds` or `time_multiplier`, not
    both."""

    extra_time_seconds: Annotated[int, Meta(ge=0, le=WEEK)] | None = None
    time_multiplier: Annotated[float, Meta(ge=1, le=10)] | None = None
    extra_attempts: Annotated[int, Meta(ge=0, le=1000)] = 0
    closes_at: Moment | None = None
    """Replaces the sitting's closing time for this candidate (earlier or later)."""


class AccommodationView(Struct):
    user_id: int
    username: str
    display_name: str
    extra_time_seconds: int | None
    time_multiplier: float | None
    extra_attempts: int
    closes_at: datetime | None


class SittingView(Struct):
    """A sitting as its owner and admins see it."""

    id: int
    name: str
    blueprint_id: str
    owner_id: int
    cohort_ids: list[int]
    opens_at: datetime
    closes_at: datetime | None
    attempts_allowed: int | None
    time_limit_seconds: int | None
    """The sitting's own; null: the blueprint's."""
    grading_method: str
    review_policy: str | None
    """The sitting's own; null: the blueprint's."""
    access_code_set: bool
    state: Literal["upcoming", "open", "closed"]
    attempts_started: int
    accommodations: list[AccommodationView]
    created_at: datetime
    updated_at: datetime


class SittingAttempt(Struct):
    """One of the candidate's attempts in a sitting."""

    id: int
    attempt_number: int
    status: str
    started_at: datetime
    deadline: datetime | None
    submitted_at: datetime | None
    scaled_score: int | None
    passed: bool | None
    review_available: bool
    """Whether the review policy shows the keys and explanations now."""


class Standing(Struct):
    """Where the signed-in candidate stands in a sitting."""

    attempts_used: int
    attempts_left: int | None
    """Null: unlimited."""
    can_start: bool
    start_note: str
    """Why a start would be refused now, or what a start would be."""
    open_attempt_id: int | None
    counted_score: float | None
    """The scaled score that counts under the sitting's grading method."""
    attempts: list[SittingAttempt]


class SittingEntry(Struct):
    """A sitting in `GET /api/v1/sittings`. For a candidate the window, time limit and
    attempts are their own (accommodations applied) and `standing` says where they are;
    for staff `cohort_ids` lists the sitting's cohorts."""

    id: int
    name: str
    blueprint_id: str
    state: Literal["upcoming", "open", "closed"]
    opens_at: datetime
    closes_at: datetime | None
    seconds_until_open: int | None
    """Upcoming only."""
    seconds_left: int | None
    """Open with a closing time only: the time left in the window."""
    server_time: datetime
    time_limit_seconds: int | None
    attempts_allowed: int | None
    grading_method: str
    review_policy: str
    access_code_required: bool
    cohort_ids: list[int] | None = None
    standing: Standing | None = None


class Choice(Struct):
    id: str
    text: str


class ItemView(Struct):
    """An item as the candidate sees it: never a key, a rationale or an explanation."""

    position: int
    type: str
    stem: str
    case: str | None
    case_title: str | None
    options: list[Choice]
    choose: int | None
    prompts: list[Choice]
    choices: list[Choice]
    answer: Any
    flagged: bool
    locked: bool
    unit: str | None = None
    """`numeric`: the unit shown after the answer box (the answer is a number)."""


StopReason = Literal["length", "precision", "pool"]


class AdaptiveProgress(Struct):
    """Where an adaptive attempt stands: `POST .../next` serves its next question."""

    served: int
    """Questions served so far (the attempt's `items`)."""
    max_items: int
    """The most it serves (the blueprint's `question_count`)."""
    target_se: float
    min_items: int
    complete: bool
    """True once the stop rule fired: no more questions; submit to see the result."""
    stop_reason: StopReason | None
    """`length` (served `max_items`), `precision` (the ability's standard error fell below
    `target_se` after `min_items`) or `pool` (no question left to serve); null while it
    goes on."""
    note: str
    """What to do now, in a sentence."""


class AttemptView(Struct):
    id: int
    status: str
    blueprint_id: str
    mode: str
    user_id: int
    started_at: datetime
    deadline: datetime | None
    server_time: datetime
    seconds_left: int | None
    submitted_at: datetime | None
    answered: int
    flagged: int
    items: list[ItemView]
    sitting_id: int | None = None
    """The sitting it was started in; null outside sittings."""
    attempt_number: int | None = None
    """In a sitting: 1, 2, ... for this candidate."""
    adaptive: AdaptiveProgress | None = None
    """Adaptive practice only: progress and whether it is complete."""


class NextItemView(Struct):
    """`POST /api/v1/attempts/{id}/next`: the question to answer now (the last one served
    while it has no answer, else a new one), or none when the session is complete."""

    attempt_id: int
    item: ItemView | None
    """Null when `progress.complete`."""
    progress: AdaptiveProgress
    theta: float
    """The ability estimate from the answers so far (EAP, N(0, 1) scale)."""
    theta_se: float
    """Its standard error; the session stops once it is below `progress.target_se`."""
    objective: str | None = None
    """The blueprint objective `item` was chosen to practise (one of its weights' or
    counts' codes; `*` for a blueprint without them)."""
    objective_title: str | None = None


class AttemptSummary(Struct):
    id: int
    status: str
    blueprint_id: str
    mode: str
    user_id: int
    started_at: datetime
    deadline: datetime | None
    submitted_at: datetime | None
    scaled_score: int | None
    passed: bool | None
    sitting_id: int | None = None
    attempt_number: int | None = None


class ResponseSave(Struct):
    answer: Any = None
    flagged: bool = False


class ResponseSaved(Struct):
    position: int
    answer: Any
    flagged: bool
    saved_at: datetime
    server_time: datetime
    seconds_left: int | None


class CheckView(Struct):
    """Practice mode's "check answer": the item's verdict, and the key, rationales and
    explanation when the attempt's review policy shows them during the attempt
    (`after_submit`); under `after_close` and `never` only the verdict (see `feedback`)."""

    position: int
    answer: Any
    correct: bool
    points: float
    feedback: Literal["verdict", "full"]
    """`full`: key, rationales and explanation follow; `verdict`: right or wrong only."""
    feedback_note: str
    key: Any = None
    rationales: dict[str, str] | None = None
    explanation: str | None = None
    mistake: str | None = None
    """`numeric`, with `full` feedback: why the answer is a known mistake, when it is one."""


class ObjectiveScore(Struct):
    code: str
    title: str
    level: str
    points: float
    possible: int
    percent: float
    ci_low: float
    ci_high: float
    label: str


class ReviewItem(Struct):
    position: int
    question_id: str
    type: str
    scored: bool
    stem: str
    case: str | None
    options: list[Choice]
    prompts: list[Choice]
    choices: list[Choice]
    answer: Any
    key: Any
    points: float
    rationales: dict[str, str]
    """Display id -> rationale; `numeric`: the right answer's under "key"."""
    explanation: str
    objectives: list[str]
    source: str
    unit: str | None = None
    """`numeric`: the unit of the answer and the key."""
    mistake: str | None = None
    """`numeric`: why the candidate's answer is a known mistake, when it is one."""


class ResultView(Struct):
    attempt_id: int
    status: str
    submitted_at: datetime | None
    raw_score: float
    raw_possible: int
    raw_percent: float
    scaled_score: int
    passed: bool
    scale: Scale
    objectives: list[ObjectiveScore]
    review_available: bool
    review_note: str
    review: list[ReviewItem] | None
    scoring: Literal["raw", "irt"] = "raw"
    """How `scaled_score` and `passed` were made: from the raw percent, or from θ (the
    expected percent on an average form of the blueprint at θ)."""
    theta: float | None = None
    """The ability estimate (EAP over the scored items, on the N(0, 1) scale of the item
    calibration); null for attempts graded before abilities were stored."""
    theta_se: float | None = None
    """θ's standard error (the posterior SD)."""


StatusFilter = Literal["in_progress", "submitted", "expired"]


class AccommodationTerms(Struct):
    """A candidate's accommodation as the sitting's report and live view show it."""

    extra_time_seconds: int | None
    time_multiplier: float | None
    extra_attempts: int
    closes_at: datetime | None
    """The candidate's own closing time (replacing the sitting's)."""


class LiveCandidate(Struct):
    """One candidate of a sitting's roster in the live view: their latest attempt."""

    user_id: int
    username: str
    display_name: str
    state: Literal["not_started", "in_progress", "submitted", "expired"]
    """The latest attempt's status, or `not_started`."""
    attempts_used: int
    attempts_allowed: int | None
    """With their extra attempts; null: unlimited."""
    attempt_id: int | None
    attempt_number: int | None
    source: str | None
    """`online` or `paper`."""
    started_at: datetime | None
    deadline: datetime | None
    seconds_left: int | None
    """In progress with a deadline: until the deadline (grace not counted)."""
    submitted_at: datetime | None
    scaled_score: int | None
    passed: bool | None
    accommodation: AccommodationTerms | None
    on_roster: bool = True
    """False: no longer in the sitting's cohorts, listed for the attempts they made."""


class SittingProgress(Struct):
    """`GET /api/v1/sittings/{id}/progress`: the live view of a sitting, for its owner."""

    sitting_id: int
    name: str
    blueprint_id: str
    state: Literal["upcoming", "open", "closed"]
    opens_at: datetime
    closes_at: datetime | None
    seconds_until_open: int | None
    seconds_left: int | None
    """Open with a closing time: the time left in the sitting's window."""
    server_time: datetime
    time_limit_seconds: int | None
    roster: int
    not_started: int
    in_progress: int
    finished: int
    """Candidates whose latest attempt is submitted or expired."""
    candidates: list[LiveCandidate]
