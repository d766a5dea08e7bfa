"""The pure parts of adaptive practice: the blueprint rules (`format.adaptive_problems`)
and one question served on its own (`assembly.serve_one`)."""

from __future__ import annotations

import random

import msgspec
import pytest

from exam_service.bank.format import AdaptiveRule, BlueprintFile, adaptive_problems
from exam_service.exams.assembly import PoolQuestion, layout_of, serve_one

BASE = {
    "id": "adaptive",
    "name": "Adaptive",
    "mode": "adaptive",
    "scoring": "irt",
    "question_count": 20,
    "scale": {"min": 100, "max": 1000, "pass": 720},
}


def blueprint(**fields: object) -> BlueprintFile:
    return msgspec.convert({**BASE, **fields}, BlueprintFile)


def test_a_sound_adaptive_blueprint_has_no_problems() -> None:
    assert adaptive_problems(blueprint()) == []
    assert adaptive_problems(blueprint(adaptive={"target_se": 0.3, "min_items": 20})) == []
    assert blueprint().adaptive is None  # the defaults apply
    assert AdaptiveRule() == AdaptiveRule(target_se=0.4, min_items=5)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"scoring": "raw"}, "needs scoring: irt"),
        ({"unscored_count": 2}, "set unscored_count to 0"),
        ({"difficulty_mix": {"easy": 1}}, "remove difficulty_mix"),
        ({"adaptive": {"min_items": 21}}, "min_items (21) is more than question_count (20)"),
        ({"mode": "practice", "adaptive": {}}, "applies to mode: adaptive only"),
    ],
)
def test_each_problem_says_what_to_change(fields: dict[str, object], says: str) -> None:
    problems = adaptive_problems(blueprint(**fields))
    assert len(problems) == 1 and says in problems[0]


def test_the_stop_rule_is_bounded() -> None:
    for wrong in ({"target_se": 0.05}, {"target_se": 1.5}, {"min_items": 0}, {"colour": 1}):
        with pytest.raises(msgspec.ValidationError):
            blueprint(adaptive=wrong)


def test_a_served_ordering_question_is_never_shown_in_its_key_order() -> None:
    question = PoolQuestion(
        "steps", 7, "D2.2.4", "medium", None, "ordering", option_ids=("a", "b", "c")
    )
    for seed in range(50):
        item = serve_one(question, 3, "D2.2", True, random.Random(seed))
        assert (item.position, item.revision_id, item.objective, item.scored) == (
            3,
            7,
            "D2.2",
            True,
        )
        assert sorted(item.option_order) == ["a", "b", "c"]
        assert item.option_order != ("a", "b", "c")
    single = PoolQuestion("pick", 8, "D2.1.1", "easy", None, "single", option_ids=("x", "y"))
    unshuffled = serve_one(single, 1, "*", False, random.Random(1))
    assert layout_of(unshuffled) == {"options": ["x", "y"]}
