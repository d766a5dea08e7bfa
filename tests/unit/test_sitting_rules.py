"""The pure rules of a sitting: a candidate's terms, the deadline rule, the window's state
and refusals at its edges, and the score each grading method counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exam_service.exams.sitting_rules import (
    Counted,
    Extra,
    Terms,
    attempts_left,
    counted,
    deadline,
    extended_limit,
    refusal,
    span,
    state,
    terms,
)

NINE = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ELEVEN = NINE + timedelta(hours=2)


def sitting_terms(extra: Extra | None = None, **changes: object) -> Terms:
    values: dict[str, object] = {
        "opens_at": NINE,
        "closes_at": ELEVEN,
        "time_limit_seconds": 3600,
        "attempts_allowed": 2,
    }
    values.update(changes)
    return terms(extra=extra, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("extra", "limit"),
    [
        (None, 3600),
        (Extra(), 3600),
        (Extra(extra_time_seconds=900), 4500),
        (Extra(time_multiplier=1.5), 5400),
        (Extra(time_multiplier=1.25), 4500),
        (Extra(extra_time_seconds=0), 3600),
    ],
)
def test_extra_time_is_added_or_multiplied(extra: Extra | None, limit: int) -> None:
    assert sitting_terms(extra).time_limit_seconds == limit


def test_a_multiplied_limit_rounds_up_to_the_second() -> None:
    assert extended_limit(100, Extra(time_multiplier=1.333)) == 134


def test_an_untimed_sitting_stays_untimed_with_extra_time() -> None:
    assert (
        sitting_terms(Extra(extra_time_seconds=600), time_limit_seconds=None).time_limit_seconds
        is None
    )


def test_extra_attempts_add_to_a_limit_and_unlimited_stays_unlimited() -> None:
    assert sitting_terms(Extra(extra_attempts=1)).attempts_allowed == 3
    assert sitting_terms(Extra(extra_attempts=1), attempts_allowed=None).attempts_allowed is None


def test_a_personal_close_replaces_the_sittings_earlier_or_later() -> None:
    later, earlier = ELEVEN + timedelta(hours=1), ELEVEN - timedelta(hours=1)
    assert sitting_terms(Extra(closes_at=later)).closes_at == later
    assert sitting_terms(Extra(closes_at=earlier)).closes_at == earlier
    assert sitting_terms(Extra(closes_at=later), closes_at=None).closes_at == later
    assert sitting_terms(Extra(extra_attempts=1)).closes_at == ELEVEN


@pytest.mark.parametrize(
    ("started", "limit", "close", "expected"),
    [
        (NINE, 3600, ELEVEN, NINE + timedelta(hours=1)),  # the time limit comes first
        (NINE + timedelta(minutes=90), 3600, ELEVEN, ELEVEN),  # the close comes first
        (NINE, 3600, None, NINE + timedelta(hours=1)),  # open-ended window
        (NINE, None, ELEVEN, ELEVEN),  # untimed, in a window
        (NINE, None, None, None),  # untimed, open-ended
    ],
)
def test_the_deadline_is_the_sooner_of_the_limit_and_the_close(
    started: datetime, limit: int | None, close: datetime | None, expected: datetime | None
) -> None:
    assert deadline(started, limit, close) == expected


def test_the_deadline_rule_with_extra_time_and_a_close() -> None:
    """Ana has 50% extra time: 90 minutes, but the window still ends at 11:00 for her."""
    ana = sitting_terms(Extra(time_multiplier=1.5))
    assert deadline(NINE, ana.time_limit_seconds, ana.closes_at) == NINE + timedelta(minutes=90)
    late = NINE + timedelta(minutes=45)
    assert deadline(late, ana.time_limit_seconds, ana.closes_at) == ELEVEN
    with_own_close = sitting_terms(
        Extra(time_multiplier=1.5, closes_at=ELEVEN + timedelta(hours=1))
    )
    assert deadline(late, with_own_close.time_limit_seconds, with_own_close.closes_at) == (
        late + timedelta(minutes=90)
    )


def test_the_window_opens_at_opens_at_and_is_closed_at_closes_at() -> None:
    rules = sitting_terms()
    second = timedelta(seconds=1)
    assert state(rules, NINE - second) == "upcoming"
    assert state(rules, NINE) == "open"
    assert state(rules, ELEVEN - second) == "open"
    assert state(rules, ELEVEN) == "closed"
    assert state(sitting_terms(closes_at=None), ELEVEN + timedelta(days=400)) == "open"


def test_refusals_say_what_and_when() -> None:
    rules = sitting_terms()
    second = timedelta(seconds=1)
    assert refusal(7, rules, NINE - second, 0) == (
        "sitting 7 opens at 2026-12-07T09:00:00Z (in 1 second); start it then"
    )
    assert refusal(7, rules, NINE, 0) is None
    assert refusal(7, rules, NINE + second, 1) is None
    closed = refusal(7, rules, ELEVEN, 0)
    assert closed is not None and closed.startswith("sitting 7 closed at 2026-12-07T11:00:00Z;")
    used_up = refusal(7, rules, NINE + second, 2)
    assert used_up == "you have used 2 of 2 attempts at sitting 7; no more can be started"
    one = refusal(7, sitting_terms(attempts_allowed=1), NINE, 1)
    assert one is not None and "used 1 of 1 attempt at" in one
    assert refusal(7, sitting_terms(attempts_allowed=None), NINE, 500) is None


def test_attempts_left() -> None:
    assert attempts_left(sitting_terms(), 0) == 2
    assert attempts_left(sitting_terms(), 3) == 0  # the allowance was lowered after use
    assert attempts_left(sitting_terms(attempts_allowed=None), 9) is None


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "0 seconds"),
        (0.2, "1 second"),
        (59, "59 seconds"),
        (61, "1 minute 1 second"),
        (3600, "1 hour"),
        (3 * 86400 + 7200 + 5, "3 days 2 hours"),
    ],
)
def test_span_reads_in_its_two_largest_units(seconds: float, said: str) -> None:
    assert span(seconds) == said


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("highest", Counted(810.0, 12)),
        ("first", Counted(640.0, 11)),
        ("last", Counted(700.0, 14)),
        ("mean", Counted(740.0, None)),
    ],
)
def test_each_grading_method_counts_its_score(method: str, expected: Counted) -> None:
    graded = [(11, 640.0), (12, 810.0), (13, 810.0), (14, 700.0)]  # in the order started
    assert counted(method, graded) == expected


def test_nothing_graded_counts_nothing_and_an_unknown_method_is_an_error() -> None:
    assert counted("highest", []) is None
    with pytest.raises(ValueError, match="unknown grading method 'best'"):
        counted("best", [(1, 1.0)])
