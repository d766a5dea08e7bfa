"""API shapes of blueprints, attempts, responses and results (DESIGN.md's vocabulary)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from exam_service.bank.format import BlueprintFile
from exam_service.grading.scoring import Scale


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
    origin: str
    owner_id: int | None = None
    """Who made it over the API (and may change it); null for the bank's file blueprints."""


BlueprintWrite = BlueprintFile
"""POST and PUT take the same fields as a blueprint file (`id` must match on PUT)."""


class AttemptCreate(Struct):
    blueprint_id: Annotated[str, Meta(min_length=1, max_length=100)]


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
    explanation: str
    objectives: list[str]
    source: str


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


StatusFilter = Literal["in_progress", "submitted", "expired"]
