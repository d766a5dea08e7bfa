"""What an attempt shows and accepts: display ids, keys in display ids, answer checks."""

from __future__ import annotations

import pytest

from exam_service.exams.delivery import (
    AnswerRejected,
    AnswerSpec,
    check_answer,
    display_key,
    rationales,
    shown,
)

ORDERING = {
    "options": [
        {"id": "a", "text": "first", "rationale": "r1"},
        {"id": "b", "text": "second", "rationale": "r2"},
        {"id": "c", "text": "third", "rationale": "r3"},
    ],
    "key": ["a", "b", "c"],
    "explanation": "e",
}
MATCHING = {
    "prompts": [
        {"id": "p1", "text": "cluster", "rationale": "k"},
        {"id": "p2", "text": "anomaly", "rationale": "r"},
    ],
    "choices": [
        {"id": "km", "text": "K-Means"},
        {"id": "rcf", "text": "RCF"},
        {"id": "x", "text": "X"},
    ],
    "key": {"p1": "km", "p2": "rcf"},
    "explanation": "e",
}


def test_ordering_shows_letters_in_layout_order_and_key_follows() -> None:
    layout = {"options": ["c", "a", "b"]}
    assert shown(ORDERING, layout)["options"] == [
        {"id": "A", "text": "third"},
        {"id": "B", "text": "first"},
        {"id": "C", "text": "second"},
    ]
    assert display_key("ordering", ORDERING, layout) == ["B", "C", "A"]
    assert rationales(ORDERING, layout) == {"A": "r3", "B": "r1", "C": "r2"}


def test_matching_shows_numbers_and_letters() -> None:
    layout = {"prompts": ["p2", "p1"], "choices": ["x", "rcf", "km"]}
    view = shown(MATCHING, layout)
    assert view["prompts"] == [{"id": "1", "text": "anomaly"}, {"id": "2", "text": "cluster"}]
    assert view["choices"][2] == {"id": "C", "text": "K-Means"}
    assert display_key("matching", MATCHING, layout) == {"1": "B", "2": "C"}
    assert "rationale" not in str(view) and "key" not in view


SINGLE = AnswerSpec("single", ("A", "B", "C", "D"))
MULTIPLE = AnswerSpec("multiple", ("A", "B", "C", "D", "E"), choose=2)
ORDER = AnswerSpec("ordering", ("A", "B", "C"))
MATCH = AnswerSpec("matching", prompt_ids=("1", "2"), choice_ids=("A", "B", "C"))


@pytest.mark.parametrize(
    ("spec", "answer", "stored"),
    [
        (SINGLE, ["C"], ["C"]),
        (SINGLE, [], None),
        (SINGLE, None, None),
        (MULTIPLE, ["E", "A"], ["A", "E"]),
        (MULTIPLE, ["B"], ["B"]),
        (ORDER, ["C", "A", "B"], ["C", "A", "B"]),
        (MATCH, {"2": "C", "1": "A"}, {"1": "A", "2": "C"}),
        (MATCH, {"2": "B"}, {"2": "B"}),
    ],
)
def test_accepted_answers(spec: AnswerSpec, answer: object, stored: object) -> None:
    assert check_answer(spec, answer) == stored


@pytest.mark.parametrize(
    ("spec", "answer", "message"),
    [
        (SINGLE, ["Z"], "unknown option 'Z'; use options A, B, C, D"),
        (SINGLE, ["A", "B"], "this question takes one option"),
        (SINGLE, "A", "a list of option ids"),
        (MULTIPLE, ["A", "B", "C"], "choose at most 2 options; 3 were sent"),
        (MULTIPLE, ["A", "A"], "appears twice"),
        (ORDER, ["A", "B"], "lists every option once in your order: all of A, B, C (2 of 3 sent)"),
        (ORDER, ["A", "B", "B"], "appears twice"),
        (MATCH, {"3": "A"}, "prompt '3' is not in this question; use prompts 1, 2"),
        (MATCH, {"1": "Q"}, "choice 'Q' for prompt 1 is not in this question; use choices A, B, C"),
        (MATCH, ["A"], "an object from prompt id to choice id"),
    ],
)
def test_rejected_answers_say_what_to_send(spec: AnswerSpec, answer: object, message: str) -> None:
    with pytest.raises(AnswerRejected) as caught:
        check_answer(spec, answer)
    assert message in str(caught.value)
