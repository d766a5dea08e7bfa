"""API shapes of the reports; the PDF and CSV renderers take these same structs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from msgspec import Struct

from exam_service.exams.schemas import AccommodationTerms, ResultView
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
    sitting_id: int | None = None
    """Only the attempts made in this sitting (`?sitting_id=`); null: every attempt."""


class OptionShare(Struct):
    option_id: str
    text: str
    correct: bool
    share: float
    upper_share: float | None
    lower_share: float | None


class NumericValue(Struct):
    """A value candidates gave to a numeric question that was not right."""

    value: str
    """The number as the service writes it ("1150", "0.25", "1e+20")."""
    band: str
    """`partial` (within the partial band) or `wrong`."""
    count: int
    share: float
    """Of the item's responses."""
    known_mistake: bool
    """One of the question's listed mistakes (within its tolerance of the value)."""


class NumericShares(Struct):
    """How a numeric item's responses fell: right (within the tolerance), in the partial
    band, wrong, or unanswered (shares of the responses), and the most common values that
    were not right."""

    right: float
    partial: float
    wrong: float
    unanswered: float
    common_wrong: list[NumericValue]
    """Up to 5, the most frequent first (ties by value)."""


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
    """Classical flags, and `misfit: ...` when the item response theory model fits it badly."""
    calibration: str | None = None
    """The last calibration run's verdict on this revision: `estimated`, `too_few_responses`,
    `all_right` or `all_wrong`; null when no run has seen it. The parameters below come
    from every graded attempt, not only those this report counts."""
    model: str | None = None
    """The model of the parameters (`rasch` or `2pl`: the model in use)."""
    a: float | None = None
    """Discrimination (slope); under the Rasch model the one slope every item shares."""
    se_a: float | None = None
    b: float | None = None
    """Difficulty: the ability θ at which a candidate has a 50% chance (N(0, 1) scale)."""
    se_b: float | None = None
    infit: float | None = None
    """Information-weighted mean square (1 when the model fits; 0.7-1.3 is acceptable)."""
    outfit: float | None = None
    """Unweighted mean square (sensitive to surprising answers far from the item's b)."""
    misfit: bool = False
    """Infit or outfit outside 0.7-1.3, or (2PL) a slope below 0.3."""
    numeric: NumericShares | None = None
    """`numeric` questions: where the answers fell and the most common wrong values."""


class ItemReport(Struct):
    blueprint_id: str
    cohort_id: int | None
    attempts: int
    group_share: float
    """The share of attempts in each of the upper and lower groups (0.27)."""
    items: list[ItemStats]
    sitting_id: int | None = None
    """Only the attempts made in this sitting (`?sitting_id=`); null: every attempt."""
    calibration_model: str | None = None
    """The model of the items' parameters; null before the first calibration run."""
    calibrated_at: datetime | None = None
    """When the last calibration run finished."""


class CandidateAttempt(Struct):
    attempt_id: int
    blueprint_id: str
    blueprint_name: str
    submitted_at: datetime | None
    raw_percent: float
    scaled_score: int
    passed: bool
    scoring: str = "raw"
    """`raw` or `irt`: what the scaled score was made from."""
    theta: float | None = None
    """The ability estimate (null for attempts graded before abilities were stored)."""
    theta_se: float | None = None


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


class ObjectiveReadiness(Struct):
    """One objective a blueprint draws from, as readiness sees the candidate on it."""

    code: str
    title: str
    mastery: float
    """The percent of this objective's questions the candidate is expected to get right."""
    low: float
    high: float
    """The 90% interval of `mastery`."""
    below_cut: float
    """The probability (0-1) that mastery is below the blueprint's raw cut."""
    answered: float
    """The answers on this objective that count, weighted by their age."""
    right: float
    """Of those, the points earned (weighted alike)."""
    on_form: int
    """Scored questions a form draws from this objective."""
    shortfall: float
    """Questions a form's share of this objective is expected to lose against the cut
    (negative: to spare)."""
    holding_back: bool
    """Answered, and more likely below the cut than not: practise it first."""


class ReadinessReport(Struct):
    """`GET /api/v1/reports/candidates/{id}/readiness?blueprint_id=B`: the chance that the
    candidate passes a sitting of B, from their recent answers (see the README,
    "Calibration and ability")."""

    user_id: int
    blueprint_id: str
    blueprint_name: str
    summary: str
    """What a person reads: the chance with its interval, or that there is too little to go
    on and how many more answers would tell; then the objectives to practise first."""
    probability: float
    """The predicted probability (0-1) of passing a random form of the blueprint."""
    low: float
    high: float
    """Its interval at `level` (0.9)."""
    level: float
    enough_data: bool
    """Whether the interval is at most `target_width` wide; if not, `probability` is little
    better than a guess and `summary` says so."""
    target_width: float
    more_questions: int | None
    """About how many more answers would make the interval at most `target_width` wide (0:
    it already is; null: no number would, as for a candidate right at the cut)."""
    expected_percent: float
    """The percent right the candidate is expected to score on a random form."""
    expected_scaled_score: int
    """That percent on the blueprint's scale."""
    scale: Scale
    theta: float
    theta_se: float
    """The ability estimate from the counted answers and its standard error."""
    cut_theta: float | None
    """The ability at which a random form's expected percent is the raw cut."""
    answers_counted: int
    """Questions whose latest answer counts (each question once)."""
    answers_weighted: float
    """The same, weighted by age (an answer counts half after 60 days)."""
    answers_left_out: int
    """Questions answered that the blueprint does not draw (retired, other objectives)."""
    answers_too_old: int
    """Questions of the blueprint whose latest answer is too old or beyond the most recent
    500."""
    last_answer_at: datetime | None
    holding_back: list[str]
    """The codes of the objectives to practise first, the largest shortfall first."""
    objectives: list[ObjectiveReadiness]
    """Every objective the blueprint draws from, the largest shortfall first."""
    pool_items: int
    calibrated_items: int
    """Pool questions with calibrated parameters; the others use their classical
    difficulty until they have enough answers."""


class CandidateReport(Struct):
    user_id: int
    username: str
    display_name: str
    attempts: list[CandidateAttempt]
    objectives: list[ObjectiveTrend]
    """Weakest first."""
    readiness: list[ReadinessReport] = []
    """For each blueprint open to the candidate (self-study, and those of their sittings
    still to come or open): the chance of passing it."""


class ScoreReport(Struct):
    """What the candidate's score report PDF shows for one attempt."""

    candidate: str
    blueprint_name: str
    result: ResultView
    study: dict[str, list[str]]
    """Objective code -> study-guide sections to revisit."""
    generated_at: datetime


class CohortName(Struct):
    id: int
    name: str


CandidateStatus = Literal["not_started", "in_progress", "finished"]


class SittingCandidate(Struct):
    """One candidate in a sitting's report: their attempts and the score that counts."""

    user_id: int
    username: str
    display_name: str
    on_roster: bool
    """False: no longer in the sitting's cohorts, listed for the attempts they made."""
    status: CandidateStatus
    """`finished`: every attempt they started is closed and graded."""
    attempts_used: int
    attempts_allowed: int | None
    """With their extra attempts; null: unlimited."""
    graded_attempts: int
    open_attempt_id: int | None
    first_started_at: datetime | None
    last_finished_at: datetime | None
    counted_score: float | None
    """The scaled score under the sitting's grading method; null: nothing graded yet."""
    counted_attempt_id: int | None
    """The attempt whose score counts; null under `mean`, where every graded one does."""
    passed: bool | None
    """The counted attempt's verdict; under `mean`, the mean against the passing score."""
    accommodation: AccommodationTerms | None


class SittingReport(Struct):
    """`GET /api/v1/reports/sittings/{id}`: every candidate of the sitting with the score
    that counts under its grading method, and the cohort report's figures over those
    scores (mastery and reliability over the counted attempts: each candidate's counted
    one, or every graded one under `mean`)."""

    sitting_id: int
    sitting_name: str
    blueprint_id: str
    blueprint_name: str
    state: Literal["upcoming", "open", "closed"]
    opens_at: datetime
    closes_at: datetime | None
    time_limit_seconds: int | None
    """The sitting's, else the blueprint's; null: untimed."""
    attempts_allowed: int | None
    grading_method: str
    review_policy: str
    cohorts: list[CohortName]
    roster: int
    """Candidates in the sitting's cohorts."""
    not_started: int
    in_progress: int
    finished: int
    attempts: int
    """Attempts started in the sitting (online and paper)."""
    attempts_counted: str
    """Which attempts the mastery, reliability and raw figures are over."""
    candidates_counted: int
    """Candidates with a counted score: the n of mean, median, sd and pass rate."""
    scale: Scale
    mean: float | None
    median: float | None
    sd: float | None
    pass_rate: float | None
    histogram: list[Bin]
    """Of the counted scores, one per candidate."""
    objectives: list[NodeMastery]
    reliability: float | None
    reliability_method: str
    sem_raw: float | None
    mean_raw: float | None
    sd_raw: float | None
    items_per_attempt: float | None
    candidates: list[SittingCandidate]
    """By username."""
    generated_at: datetime
