"""What readiness rests on and what it says (exam_service/reports/readiness_rules.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exam_service.reports import readiness_rules as rules
from exam_service.reports.readiness_rules import Answer

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def answer(question: str, points: float, days_ago: float, revision: int = 1) -> Answer:
    return Answer(question, revision, points, NOW - timedelta(days=days_ago), "attempt")


def test_each_question_counts_once_by_its_latest_answer_most_recent_first() -> None:
    answers = [
        answer("q1", 0.0, 10),
        answer("q1", 1.0, 2, revision=2),  # the same question, a later revision
        answer("q2", 1.0, 0),
        answer("elsewhere", 1.0, 0),  # not drawn by the blueprint
    ]
    basis = rules.basis(answers, {"q1": 5, "q2": 7}, NOW)
    assert basis.evidence.item.tolist() == [7, 5]
    assert basis.evidence.score.tolist() == [1.0, 1.0]
    assert (basis.counted, basis.left_out, basis.too_old) == (2, 1, 0)
    assert basis.latest == NOW


def test_older_answers_weigh_less_and_the_oldest_not_at_all() -> None:
    answers = [
        answer("today", 1.0, 0.4),
        answer("two-months", 1.0, rules.HALF_LIFE_DAYS),
        answer("too-old", 1.0, rules.MAX_AGE_DAYS + 1),
    ]
    basis = rules.basis(answers, {"today": 0, "two-months": 1, "too-old": 2}, NOW)
    assert basis.evidence.weight.tolist() == [1.0, 0.5]
    assert (basis.counted, basis.too_old) == (2, 1)
    assert basis.evidence.answered == 1.5


def test_only_the_most_recent_answers_count() -> None:
    many = [answer(f"q{k}", 1.0, k / 10) for k in range(rules.RECENT_ANSWERS + 20)]
    basis = rules.basis(many, {a.question_id: k for k, a in enumerate(many)}, NOW)
    assert basis.counted == rules.RECENT_ANSWERS and basis.too_old == 20
    assert basis.evidence.item.tolist() == list(range(rules.RECENT_ANSWERS))


def test_no_answers_is_empty_evidence() -> None:
    basis = rules.basis([], {"q": 0}, NOW)
    assert basis.counted == 0 and basis.latest is None and basis.evidence.item.size == 0


@pytest.mark.parametrize(
    ("count", "said"), [(1, "1"), (19, "19"), (97, "97"), (176, "180"), (1234, "1,200")]
)
def test_counts_are_rounded_as_estimates(count: int, said: str) -> None:
    assert rules.about(count) == said


def test_chances_and_intervals_read_as_whole_percents() -> None:
    assert rules.chance(0.723) == "about 72%"
    assert rules.chance(0.001) == "less than 1%" and rules.chance(0.999) == "more than 99%"
    assert rules.between(0.551, 0.853) == "between 55% and 86%"  # rounded outwards
    assert rules.between(0.0, 0.0) == "between 0% and 1%"
    assert rules.between(1.0, 1.0) == "between 99% and 100%"


def test_a_useful_estimate_says_the_chance_and_what_to_practise() -> None:
    said = rules.summary("the mock exam", 0.72, 0.55, 0.85, 80, 0, ["D2.2.4", "D2.3.2"])
    assert said == (
        "You would pass the mock exam with a probability of about 72% (between 55% and 85%). "
        "Practise D2.2.4 and D2.3.2 first."
    )
    calm = rules.summary("the mock exam", 0.97, 0.92, 0.99, 80, 0, [])
    assert calm.endswith("(between 92% and 99%). No objective holds you back.")
    many = rules.summary("x", 0.2, 0.1, 0.3, 80, 0, ["A", "B", "C", "D"])
    assert many.endswith("Practise A, B and C first.")


def test_too_little_data_is_said_honestly() -> None:
    nothing = rules.summary("the mock exam", 0.4, 0.0, 0.99, 0, 97, [])
    assert nothing == (
        "You have not answered any of the questions the mock exam draws from yet, so there "
        "is nothing to go on. Answer about 97 more questions for an estimate within ±15 points."
    )
    few = rules.summary("the mock exam", 0.69, 0.1, 0.998, 12, 176, ["D2.1.1"])
    assert few == (
        "There is too little to go on yet: from your 12 answers, your chance of passing the "
        "mock exam is about 69%, but it could be anywhere between 10% and 100%. Answer about "
        "180 more questions for an estimate within ±15 points. Practise D2.1.1 first."
    )
    at_the_cut = rules.summary("the mock exam", 0.5, 0.2, 0.8, 300, None, [])
    assert "however many more questions you answer" in at_the_cut
    assert not rules.enough(0.2, 0.8) and rules.enough(0.55, 0.85)
