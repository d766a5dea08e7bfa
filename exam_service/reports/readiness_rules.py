"""Readiness as plain functions: which of a candidate's answers an estimate rests on, how
much each counts, and the sentences a person reads (issue 17, item 3).

What counts (`basis`):
- every scored item of the candidate's closed attempts (online and paper, exams and
  practice, any blueprint) with the points grading gave it, dated when the attempt ended;
- every answer checked in practice mode ("check answer") in an attempt still in progress,
  with the points grading will give it, dated when it was saved (a checked answer is
  locked, so it can no longer change; answers saved but not checked do not count);
- each question once, by its latest answer: answering the same question again shows that
  one remembers it as much as what one knows;
- an answer to an older revision of a question counts as an answer to its current
  revision (an edit rewords a question; it stays on its objective);
- only questions the blueprint draws (active, on its objectives): answers to retired
  questions and to other objectives are left out and counted as such;
- the `RECENT_ANSWERS` most recent of those, none older than `MAX_AGE_DAYS`, each weighted
  by its age, 0.5 ** (whole days / `HALF_LIFE_DAYS`): what a candidate knew two months
  ago counts half as much as what they showed today.

The wording (`summary`) says the chance of passing with its 90% interval when that interval
is at most `TARGET_WIDTH` wide (±15 points), and otherwise says honestly that there is too
little to go on and about how many more answers would make it that narrow.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np

from exam_service.grading import irt

RECENT_ANSWERS = 500
"""At most this many answers (the most recent, one per question) count."""
MAX_AGE_DAYS = 180
"""Answers older than this do not count (at the half-life below they would weigh 1/8)."""
HALF_LIFE_DAYS = 60
"""An answer's weight halves with every this many days of age."""
TARGET_WIDTH = 0.3
"""An estimate is useful when its 90% interval is at most this wide: ±15 points."""
ADVICE_SHOWN = 3
"""The summary names at most this many objectives to practise first."""

Source = Literal["attempt", "practice"]


@dataclass(frozen=True)
class Answer:
    """One scored answer of the candidate: the question and revision it answered, its
    points (0-1) and when it was given."""

    question_id: str
    revision_id: int
    points: float
    at: datetime
    source: Source


@dataclass(frozen=True, eq=False)
class Basis:
    """What an estimate rests on: the evidence for `irt.readiness` and how it was chosen."""

    evidence: irt.Evidence
    counted: int
    """Answers counted (each question once)."""
    left_out: int
    """Questions answered that the blueprint does not draw (retired, other objectives)."""
    too_old: int
    """Questions answered whose latest answer is older than `MAX_AGE_DAYS` or beyond the
    `RECENT_ANSWERS` most recent."""
    latest: datetime | None
    """When the most recent counted answer was given."""


def weight(at: datetime, now: datetime) -> float:
    """0.5 ** (whole days of age / `HALF_LIFE_DAYS`): whole days, so that an estimate stays
    the same (and cached) until the candidate's next answer or the next day."""
    days = max(0, (now - at).days)
    return float(0.5 ** (days / HALF_LIFE_DAYS))


def basis(answers: Iterable[Answer], pool_index: Mapping[str, int], now: datetime) -> Basis:
    """The evidence from `answers` (module docstring); `pool_index` maps a question id to
    its current revision's index in the blueprint's pool (absent: not drawn)."""
    latest: dict[str, Answer] = {}
    for answer in answers:
        seen = latest.get(answer.question_id)
        if seen is None or answer.at > seen.at:
            latest[answer.question_id] = answer
    drawn = [a for a in latest.values() if a.question_id in pool_index]
    drawn.sort(key=lambda a: (a.at, a.question_id), reverse=True)
    fresh = [a for a in drawn if (now - a.at).days <= MAX_AGE_DAYS][:RECENT_ANSWERS]
    evidence = irt.Evidence.of(
        np.array([pool_index[a.question_id] for a in fresh], dtype=np.int64),
        np.clip([a.points for a in fresh], 0.0, 1.0),
        np.array([weight(a.at, now) for a in fresh]),
    )
    return Basis(
        evidence=evidence,
        counted=len(fresh),
        left_out=len(latest) - len(drawn),
        too_old=len(drawn) - len(fresh),
        latest=fresh[0].at if fresh else None,
    )


# --- wording ------------------------------------------------------------------------------


def chance(share: float) -> str:
    """A probability as a person says it: "about 72%", "less than 1%", "more than 99%"."""
    if share < 0.005:
        return "less than 1%"
    if share > 0.995:
        return "more than 99%"
    return f"about {round(100 * share)}%"


def between(low: float, high: float) -> str:
    """An interval in whole percents, rounded outwards and at least a point wide: "between
    55% and 86%", "between 0% and 1%"."""
    lo, hi = math.floor(100 * low + 1e-9), math.ceil(100 * high - 1e-9)
    if hi <= lo:
        lo, hi = (lo, lo + 1) if lo < 100 else (99, 100)
    return f"between {lo}% and {hi}%"


def about(count: int) -> str:
    """A count rounded as an estimate is (to two significant figures from 20 on)."""
    if count < 20:
        return str(count)
    digits = len(str(count)) - 2
    return f"{round(count, -digits):,}"


def listing(codes: Sequence[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    if len(codes) <= 1:
        return "".join(codes)
    return f"{', '.join(codes[:-1])} and {codes[-1]}"


def enough(low: float, high: float) -> bool:
    """Whether the interval is narrow enough to state the chance as an estimate."""
    return high - low <= TARGET_WIDTH + 1e-9


def summary(
    name: str,
    probability: float,
    low: float,
    high: float,
    counted: int,
    more_questions: int | None,
    holding_back: Sequence[str],
) -> str:
    """The sentences of the dashboard and the candidate report: the chance of passing
    `name` with its 90% interval, or why it cannot be told yet and what would tell it,
    and the objectives to practise first."""
    margin = round(50 * TARGET_WIDTH)
    advice = f" Practise {listing(holding_back[:ADVICE_SHOWN])} first." if holding_back else ""
    if enough(low, high):
        estimate = (
            f"You would pass {name} with a probability of {chance(probability)} "
            f"({between(low, high)})."
        )
        return estimate + (advice or " No objective holds you back.")
    more = ""
    if more_questions is not None and more_questions > 0:
        noun = "question" if more_questions == 1 else "questions"
        more = (
            f" Answer about {about(more_questions)} more {noun} for an estimate within "
            f"±{margin} points."
        )
    if counted == 0:
        return (
            f"You have not answered any of the questions {name} draws from yet, so there is "
            f"nothing to go on.{more}"
        )
    if more_questions is None:
        more = (
            " It stays this uncertain while you are this close to the pass mark, however many "
            "more questions you answer: practise until you are clearly above it."
        )
    answers = "answer" if counted == 1 else "answers"
    return (
        f"There is too little to go on yet: from your {counted} {answers}, your chance of "
        f"passing {name} is {chance(probability)}, but it could be anywhere "
        f"{between(low, high)}.{more}{advice}"
    )
