"""API shapes of the reports; the PDF and CSV renderers take these same structs."""

from __future__ import annotations

from datetime import datetime

from msgspec import Struct

from exam_service.exams.schemas import ResultView
from exam_service.grading.scoring import Scale


class Bin(Struct):
    """A histogram bin of scaled scores: low <= score < high (the last bin includes high)."""

    low: float
    high: float
    count: int


class NodeMastery(Struct):
    code: str
    title: str
    level: str
    attempts: int
    """Attempts whose scored items touch this node."""
    mean_percent: float
    ci_low: float
    ci_high: float
    """95% interval of the mean percent (normal approximation over attempts)."""
    meeting_share: float
    """Share (0..1) of those attempts at or above the raw cut on this node."""


class CohortReport(Struct):
    cohort_id: int
    cohort_name: str
    blueprint_id: str
    blueprint_name: str
    attempts_counted: str
    """`first`, `last` or `all` attempts per candidate."""
    candidates: int
    attempts: int
    scale: Scale
    mean: float | None
    median: float | None
    sd: float | None
    pass_rate: float | None
    histogram: list[Bin]
    objectives: list[NodeMastery]
    reliability: float | None
    reliability_method: str
    """`KR-20` for all-or-nothing scoring, `Cronbach's alpha` with partial credit."""
    sem_raw: float | None
    """Standard error of measurement in raw points: sd_raw * sqrt(1 - reliability)."""
    mean_raw: float | None
    sd_raw: float | None
    items_per_attempt: float | None


class OptionShare(Struct):
    option_id: str
    text: str
    correct: bool
    share: float
    upper_share: float | None
    lower_share: float | None


class ItemStats(Struct):
    question_id: str
    revision_id: int
    revision: int
    type: str
    stem: str
    objective: str
    responses: int
    scored_responses: int
    facility: float
    point_biserial: float | None
    discrimination_index: float | None
    options: list[OptionShare]
    flags: list[str]


class ItemReport(Struct):
    blueprint_id: str
    cohort_id: int | None
    attempts: int
    group_share: float
    """The share of attempts in each of the upper and lower groups (0.27)."""
    items: list[ItemStats]


class CandidateAttempt(Struct):
    attempt_id: int
    blueprint_id: str
    blueprint_name: str
    submitted_at: datetime | None
    raw_percent: float
    scaled_score: int
    passed: bool


class ObjectiveTrend(Struct):
    code: str
    title: str
    level: str
    percents: list[float | None]
    """One per attempt in `CandidateReport.attempts` (oldest first); None when untouched."""
    latest: float | None
    mean: float
    label: str
    study: list[str]
    """Study-guide sections to revisit (the `source` of this objective's questions)."""


class CandidateReport(Struct):
    user_id: int
    username: str
    display_name: str
    attempts: list[CandidateAttempt]
    objectives: list[ObjectiveTrend]
    """Weakest first."""


class ScoreReport(Struct):
    """What the candidate's score report PDF shows for one attempt."""

    candidate: str
    blueprint_name: str
    result: ResultView
    study: dict[str, list[str]]
    """Objective code -> study-guide sections to revisit."""
    generated_at: datetime
