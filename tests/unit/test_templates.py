"""Question templates without a database: drawing (seeded, constrained, redrawn), the text
rule for numbers, what the loader accepts and refuses (with the fix), and `bank lint`'s
1,000 draws of each template."""

from __future__ import annotations

import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from exam_service.bank import templates
from exam_service.bank.lint import lint_bank, template_findings
from exam_service.bank.loader import Problem, load_bank
from exam_service.exams import delivery
from exam_service.exams.assembly import ExamSpec, PoolQuestion, assemble, layout_of, serve_one
from exam_service.paper.forms import make_forms, printed_form
from tests.conftest import FIXTURE_BANK

TEMPLATES = Path(__file__).parents[1] / "fixtures" / "templates" / "templates.yaml"

RAW = {
    "variables": {
        "samples": {"min": 10000, "max": 90000, "step": 10000},
        "batch": {"choices": [16, 50, 80]},
        "rate": {"min": 0.1, "max": 0.9, "step": 0.1},
    },
    "derived": [["iterations", "samples / batch"], ["paid", "rate * 100"]],
    "constraints": ["samples % batch == 0"],
    "answer": "iterations",
    "mistakes": ["samples * batch"],
}


def test_a_seed_draws_the_same_values_and_seeds_differ() -> None:
    template = templates.compile_template(RAW)
    first = templates.draw(template, (), 7)
    assert first == templates.draw(template, (), 7)
    values = first["values"]
    assert values["samples"] % values["batch"] == 0
    assert first["key"] == values["samples"] // values["batch"] == values["iterations"]
    assert first["mistakes"] == [values["samples"] * values["batch"]]
    assert isinstance(values["samples"], int) and isinstance(values["rate"], float)
    assert round(values["rate"], 1) == values["rate"]  # 0.30000000000000004 is tidied
    drawn = {tuple(templates.draw(template, (), s)["values"].items()) for s in range(200)}
    assert len(drawn) > 50


def test_constraints_that_never_hold_are_refused_after_the_tries() -> None:
    raw = {**RAW, "constraints": ["samples < 0"]}
    with pytest.raises(templates.TemplateError) as refused:
        templates.draw(templates.compile_template(raw), (), 1)
    assert str(refused.value) == (
        "no draw satisfied the template in 100 tries (constraint 'samples < 0' failed 100 "
        "times); widen the variables' ranges or loosen the constraints"
    )


def test_draws_repeating_an_option_text_are_drawn_again() -> None:
    raw = {"variables": {"a": {"min": 1, "max": 3}, "b": {"min": 1, "max": 3}}}
    template = templates.compile_template(raw)
    for seed in range(50):
        values = templates.draw(template, ("{a}", "{b}"), seed)["values"]
        assert values["a"] != values["b"]


@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [
        (12000, None, "12,000"),
        (12000.0, None, "12,000"),
        (0.1 + 0.2, None, "0.3"),
        (1234.5, None, "1,234.5"),
        (-1500, None, "-1,500"),
        (2 / 3, None, "0.6666666667"),
        (2 / 3, 2, "0.67"),
        (1234.5, 0, "1,234"),
        ("ml.p3.2xlarge", None, "ml.p3.2xlarge"),
    ],
)
def test_numbers_in_text(value: templates.Value, decimals: int | None, text: str) -> None:
    assert templates.shown_value(value, decimals) == text


def test_interpolation() -> None:
    values = {"n": 60000, "rate": 0.25}
    assert templates.interpolate("{n} at {rate:.2f}; {{n}} {other}", values) == (
        "60,000 at 0.25; {n} {other}"
    )
    assert templates.placeholders("{n} and {rate:.1f} but not {{x}}") == {"n", "rate"}


def test_instance_puts_the_drawn_values_in_every_text() -> None:
    content = {
        "explanation": "{a} then {b}",
        "options": [
            {"id": "a", "text": "{a}", "rationale": "a is {a}"},
            {"id": "b", "text": "{b}", "rationale": "b is {b}"},
        ],
        "key": ["a"],
    }
    layout = {"options": ["b", "a"], "seed": 1, "values": {"a": 1000, "b": 2}}
    assert delivery.shown(content, layout)["options"] == [
        {"id": "A", "text": "2"},
        {"id": "B", "text": "1,000"},
    ]
    assert delivery.rationales(content, layout) == {"A": "b is 2", "B": "a is 1,000"}
    assert delivery.explanation(content, layout) == "1,000 then 2"
    assert delivery.stem("Take {a}.", layout) == "Take 1,000."
    # a plain question's braces are text
    assert delivery.stem("Take {a}.", {"options": []}) == "Take {a}."


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"variables": {}}, "a template declares at least one variable"),
        ({"variables": {"if": {"min": 1, "max": 2}}}, "'if' is reserved"),
        ({"variables": {"max": {"min": 1, "max": 2}}}, "'max' is reserved"),
        ({"variables": {"a": {"min": 1, "max": 2, "choices": [1]}}}, "not both"),
        ({"variables": {"a": {"min": 3, "max": 2}}}, "max (2) is below min (3)"),
        ({"variables": {"a": {"min": 0, "max": 1, "step": 0.3}}}, "not a whole number of steps"),
        ({"variables": {"a": {"min": 0, "max": 10**9}}}, "holds 1,000,000,001 values"),
        ({"variables": {"a": {"choices": [1, 1]}}}, "a choice is listed twice"),
        ({"variables": {"a": {"choices": ["x" * 41]}}}, "a text choice has 1 to 40"),
        (
            {"variables": {"a": {"min": 1, "max": 2}}, "derived": [["b", "c + 1"]]},
            "derived 'b': expression 'c + 1': unknown name 'c'",
        ),
        (
            {"variables": {"a": {"min": 1, "max": 2}}, "constraints": ["a.real > 0"]},
            "constraint: expression 'a.real > 0': attribute access",
        ),
        (
            {"variables": {"a": {"min": 1, "max": 2}}, "derived": [["a", "1"]]},
            "'a' is declared twice",
        ),
    ],
)
def test_template_refusals(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as refused:
        templates.compile_template(raw)
    assert message in str(refused.value)


# --- the loader and lint ---------------------------------------------------------------------


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    target = tmp_path / "bank"
    shutil.copytree(FIXTURE_BANK, target)
    shutil.copy(TEMPLATES, target / "questions" / "templates.yaml")
    return target


def test_the_fixture_templates_load_and_pass_lint(bank: Path) -> None:
    loaded = load_bank(bank)
    assert loaded.problems == []
    by_id = {q.id: q for q in loaded.questions}
    iterations = by_id["template-iterations"].content
    assert iterations["template"]["answer"] == "iterations"
    assert iterations["template"]["mistakes"] == ["product"]
    # the reference draw (seed 0) stands in for the key where one number is needed
    reference = templates.draw(templates.compile_template(iterations["template"]), (), 0)
    assert iterations["key"] == reference["key"]
    began = time.perf_counter()
    assert template_findings(loaded) == []
    assert time.perf_counter() - began < 2.0
    assert [f for f in lint_bank(loaded, min_per_objective=0) if f.rule == "template"] == []


QUESTION = """\
questions:
  - id: t
    type: {type}
    objectives: [D3]
    difficulty: easy
    source: s
    stem: {stem}
{fields}
    explanation: e
"""


def problems_in(
    bank: Path, fields: str, stem: str = "Stem {a}?", kind: str = "numeric"
) -> list[Problem]:
    (bank / "questions" / "templates.yaml").write_text(
        QUESTION.format(type=kind, stem=stem, fields=fields), encoding="utf-8"
    )
    return [p for p in load_bank(bank).problems if p.file == "questions/templates.yaml"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            "    answer: a * 2\n    rationale: r",
            "answer 'a * 2' is text: write a number (1200, not '1,200'); an expression needs "
            "a template's 'variables'",
        ),
        (
            "    answer: 2\n    rationale: r\n    constraints: [a > 1]",
            "'constraints' belongs to templates only: declare 'variables' or remove it",
        ),
        (
            "    variables: {a: {min: 1, max: 5}}\n    rationale: r",
            "a numeric template needs 'answer': a number or an expression",
        ),
        (
            "    variables: {a: {min: 1, max: 5}}\n    answer: a / b\n    rationale: r",
            "answer: expression 'a / b': unknown name 'b': declare it under variables or "
            "derived first (declared: a)",
        ),
        (
            "    variables: {a: {min: 1, max: 5}}\n    answer: a\n    rationale: '{b} is it'",
            "rationale uses {b}, which is not declared: declare it under 'variables' or "
            "'derived', or write {{ and }} for a brace",
        ),
        (
            "    variables: {a: {min: 0, max: 5}}\n    answer: 10 / a\n    rationale: r",
            "expression '10 / a': division by zero (10 / 0)",
        ),
        (
            "    variables: {a: {min: 1, max: 5}}\n    answer: a\n    tolerance: 0.5\n"
            "    rationale: r\n    mistakes:\n      - {value: a + 0.25, rationale: m}",
            "is within the tolerance of the answer",
        ),
    ],
)
def test_loader_rules_for_templates(bank: Path, fields: str, expected: str) -> None:
    problems = problems_in(bank, fields)
    assert any(expected in p.message for p in problems), problems
    assert all(p.question_id == "t" and p.line == 2 for p in problems)


def lint_of(bank: Path, fields: str, kind: str = "numeric", stem: str = "Stem {a}?") -> list[str]:
    assert problems_in(bank, fields, stem, kind) == []
    return [f.message for f in template_findings(load_bank(bank))]


def test_lint_finds_a_repeated_option(bank: Path) -> None:
    fields = (
        "    variables: {a: {min: 1, max: 40}}\n    derived: {half: a // 2 + 1}\n"
        "    options:\n"
        "      - {text: '{a}', correct: true, rationale: r}\n"
        "      - {text: '{half}', rationale: r}\n"
        "      - {text: 'none', rationale: r}"
    )
    found = lint_of(bank, fields, kind="single")
    assert len(found) == 1
    assert found[0].startswith("two options read ")
    assert "of 1,000 draws, first with a=" in found[0]


def test_lint_finds_keys_a_candidate_cannot_type_and_mistakes_scored_right() -> None:
    content = {
        "template": {
            "variables": {"a": {"min": 1, "max": 9}},
            "answer": "a / 7",
            "mistakes": ["a / 7 + 0.1 * (a > 4)"],
        },
        "tolerance": 0,
        "options": [],
    }
    found = templates.lint_draws(content)
    assert any("has more than 4 decimals and the tolerance is exact" in f for f in found), found
    found = templates.lint_draws({**content, "tolerance": 0.2})
    assert len(found) == 1, found
    assert "would score as right in " in found[0] and "first with a=" in found[0]


def test_lint_finds_constraints_that_reject_most_draws(bank: Path) -> None:
    fields = (
        "    variables: {a: {min: 1, max: 1000}}\n    constraints: [a < 50]\n    answer: a\n"
        "    rationale: r"
    )
    found = lint_of(bank, fields)
    assert len(found) == 1 and found[0].startswith("only ") and "at least 10% must" in found[0]


# --- paper forms -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Printable:
    type: str
    stem: str
    content: dict[str, Any]
    case_id: str | None = None
    case_title: str | None = None
    case_scenario: str | None = None


def test_each_paper_form_draws_its_own_numbers_and_prints_them(bank: Path) -> None:
    loaded = load_bank(bank)
    spec = next(q for q in loaded.questions if q.id == "template-global-batch")
    question = PoolQuestion(
        question_id=spec.id,
        revision_id=1,
        objective="D4",
        difficulty="easy",
        case_id=None,
        type="single",
        option_ids=tuple(o["id"] for o in spec.content["options"]),
        template=templates.drawable(spec.content),
    )
    chosen = assemble(ExamSpec(question_count=1), [question], {}, seed=5)
    forms = make_forms(chosen, [question], 6, seed=5)
    assert make_forms(chosen, [question], 6, seed=5) == forms  # reproducible
    printed = {}
    for code, items in forms.items():
        layout = layout_of(items[0])
        values = layout["values"]
        form = printed_form(code, [(1, layout)], {1: Printable("single", spec.stem, spec.content)})
        paper = form.questions[0]
        assert f"on {values['gpus']} GPUs with a batch of {values['per_gpu']} per GPU" in paper.stem
        total = f"{values['total']:,}"
        assert paper.options[ord(form.key[0]) - ord("A")] == total
        printed[code] = (values["gpus"], values["per_gpu"])
    assert len(set(printed.values())) > 1, printed


def test_adaptive_practice_draws_each_served_template_from_its_own_seed(bank: Path) -> None:
    spec = next(q for q in load_bank(bank).questions if q.id == "template-iterations")
    question = PoolQuestion(
        question_id=spec.id,
        revision_id=1,
        objective="D3",
        difficulty="easy",
        case_id=None,
        type="numeric",
        template=templates.drawable(spec.content),
    )
    served = [
        layout_of(serve_one(question, 1, "D3", True, random.Random(seed))) for seed in range(20)
    ]
    assert served[0] == layout_of(serve_one(question, 1, "D3", True, random.Random(0)))
    for layout in served:
        values = layout["values"]
        assert layout["key"] == values["samples"] // values["batch"]
    assert len({layout["seed"] for layout in served}) == 20
