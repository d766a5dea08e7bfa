"""The rules of a sitting as plain functions over plain values: one candidate's terms (the
sitting's window, time limit and attempts with their accommodation applied), the deadline
of an attempt, whether a start is allowed now and why not, and the score that counts
under each grading method.

The deadline rule (as Moodle's quiz applies its overrides):

    time limit = the sitting's time limit, else the blueprint's (none: untimed)
                 + the candidate's extra_time_seconds, or x the candidate's time_multiplier
    close      = the candidate's own closes_at, else the sitting's (none: open-ended)
    deadline   = min(started_at + time limit, close), leaving out what is absent

Saves are accepted until the deadline plus the blueprint's grace; an attempt that ends by
its deadline finishes at the deadline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, NamedTuple

GRADING_METHODS = ("highest", "first", "last", "mean")
State = Literal["upcoming", "open", "closed"]


@dataclass(frozen=True)
class Extra:
    """A candidate's accommodation in a sitting (all optional)."""

    extra_time_seconds: int | None = None
    time_multiplier: float | None = None
    extra_attempts: int = 0
    closes_at: datetime | None = None


@dataclass(frozen=True)
class Terms:
    """What one candidate's attempts in one sitting are held to."""

    opens_at: datetime
    closes_at: datetime | None
    """The candidate's own closing time if they have one, else the sitting's."""
    time_limit_seconds: int | None
    """With the candidate's extra time; None: untimed."""
    attempts_allowed: int | None
    """With the candidate's extra attempts; None: unlimited."""


def extended_limit(limit: int | None, extra: Extra | None) -> int | None:
    """The time limit with extra seconds added, or multiplied (rounded up to a second)."""
    if limit is None or extra is None:
        return limit
    if extra.extra_time_seconds is not None:
        return limit + extra.extra_time_seconds
    if extra.time_multiplier is not None:
        return math.ceil(limit * extra.time_multiplier)
    return limit


def terms(
    *,
    opens_at: datetime,
    closes_at: datetime | None,
    time_limit_seconds: int | None,
    attempts_allowed: int | None,
    extra: Extra | None,
) -> Terms:
    """A candidate's terms: the sitting's values (`time_limit_seconds` already the
    sitting's or else the blueprint's) with the accommodation `extra` applied."""
    allowed = attempts_allowed
    if allowed is not None and extra is not None:
        allowed += extra.extra_attempts
    own_close = extra.closes_at if extra is not None else None
    return Terms(
        opens_at=opens_at,
        closes_at=own_close or closes_at,
        time_limit_seconds=extended_limit(time_limit_seconds, extra),
        attempts_allowed=allowed,
    )


def deadline(started_at: datetime, limit: int | None, close: datetime | None) -> datetime | None:
    """min(started_at + limit, close), leaving out what is None (the module's rule)."""
    ends = [] if limit is None else [started_at + timedelta(seconds=limit)]
    if close is not None:
        ends.append(close)
    return min(ends) if ends else None


def state(rules: Terms, now: datetime) -> State:
    """Upcoming before `opens_at`, open from it until the close, closed from the close on."""
    if now < rules.opens_at:
        return "upcoming"
    if rules.closes_at is not None and now >= rules.closes_at:
        return "closed"
    return "open"


def attempts_left(rules: Terms, used: int) -> int | None:
    """None when unlimited."""
    if rules.attempts_allowed is None:
        return None
    return max(0, rules.attempts_allowed - used)


def iso(moment: datetime) -> str:
    """A UTC moment as people and clients read it: 2026-12-07T09:00:00Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def span(seconds: float) -> str:
    """A duration in its two largest units: "2 days 3 hours", "5 minutes 2 seconds"."""
    whole = max(0, math.ceil(seconds))
    parts: list[str] = []
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, whole = divmod(whole, size)
        if count or (size == 1 and not parts):
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
    return " ".join(parts[:2])


def refusal(sitting_id: int, rules: Terms, now: datetime, used: int) -> str | None:
    """Why a start in the sitting is refused now (what and when), or None if it may start."""
    if now < rules.opens_at:
        wait = (rules.opens_at - now).total_seconds()
        return (
            f"sitting {sitting_id} opens at {iso(rules.opens_at)} (in {span(wait)}); start it then"
        )
    if rules.closes_at is not None and now >= rules.closes_at:
        return (
            f"sitting {sitting_id} closed at {iso(rules.closes_at)}; attempts can no longer "
            "be started (your instructor can give you a later closing time)"
        )
    if rules.attempts_allowed is not None and used >= rules.attempts_allowed:
        noun = "attempt" if rules.attempts_allowed == 1 else "attempts"
        return (
            f"you have used {used} of {rules.attempts_allowed} {noun} at sitting {sitting_id}; "
            "no more can be started"
        )
    return None


class Counted(NamedTuple):
    """A candidate's score in a sitting under its grading method."""

    score: float
    attempt_id: int | None
    """The attempt whose score counts; None for `mean`, where every graded one does."""


def counted(method: str, graded: Sequence[tuple[int, float]]) -> Counted | None:
    """The score that counts for a candidate in a sitting, from (attempt id, score) of their
    graded attempts in the order they were started: `highest` the maximum (the earliest of
    equal ones), `first` the first, `last` the last, `mean` the arithmetic mean of all.
    None when nothing is graded yet."""
    if not graded:
        return None
    if method == "highest":
        best = max(graded, key=lambda pair: pair[1])  # max keeps the first of equals
        return Counted(best[1], best[0])
    if method == "first":
        return Counted(graded[0][1], graded[0][0])
    if method == "last":
        return Counted(graded[-1][1], graded[-1][0])
    if method == "mean":
        return Counted(sum(score for _, score in graded) / len(graded), None)
    raise ValueError(f"unknown grading method {method!r}; use one of {', '.join(GRADING_METHODS)}")
