"""The bank loader on numeric questions: the content it builds, and each rule it enforces,
reported with the question's line and a fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from exam_service.bank.formats import yaml_export
from exam_service.bank.loader import Problem, load_bank
from tests.conftest import FIXTURE_BANK

HEAD = """\
questions:
  - id: filler
    type: single
    objectives: [D2.1.1]
    difficulty: easy
    source: s
    stem: Filler?
    options:
      - {text: A, correct: true, rationale: r}
      - {text: B, rationale: r}
    explanation: e
"""
NUMERIC = """\
  - id: {id}
    type: numeric
    objectives: [D2.2.1]
    difficulty: easy
    source: "Worked Examples: iterations per epoch"
    stem: 60,000 samples, a batch size of 50. How many iterations make one epoch?
{fields}
    explanation: One epoch passes every sample once; each iteration takes one batch.
"""
GOOD_FIELDS = """\
    answer: 1200
    tolerance: 2%
    unit: iterations
    partial: {tolerance: 5%, credit: 0.5}
    rationale: 60,000 samples / 50 per batch = 1,200 iterations.
    mistakes:
      - {value: 3000000, rationale: That multiplies the samples by the batch size.}"""


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    target = tmp_path / "bank"
    shutil.copytree(FIXTURE_BANK, target)
    return target


def problems_in(bank: Path, fields: str, qid: str = "iterations") -> list[Problem]:
    body = HEAD + NUMERIC.format(id=qid, fields=fields)
    (bank / "questions" / "numeric.yaml").write_text(body, encoding="utf-8")
    return [p for p in load_bank(bank).problems if p.file == "questions/numeric.yaml"]


def test_a_numeric_question_loads_with_its_bands_and_feedback(bank: Path) -> None:
    assert problems_in(bank, GOOD_FIELDS) == []
    question = next(q for q in load_bank(bank).questions if q.id == "iterations")
    assert question.type == "numeric"
    assert question.content == {
        "key": 1200,
        "tolerance": "2%",
        "unit": "iterations",
        "partial": {"tolerance": "5%", "credit": 0.5},
        "rationale": "60,000 samples / 50 per batch = 1,200 iterations.",
        "mistakes": [
            {"value": 3000000, "rationale": "That multiplies the samples by the batch size."}
        ],
        "explanation": "One epoch passes every sample once; each iteration takes one batch.",
        "tags": [],
    }


def test_the_smallest_numeric_question_is_exact(bank: Path) -> None:
    fields = "    answer: 7.5\n    rationale: Half of 15."
    assert problems_in(bank, fields) == []
    question = next(q for q in load_bank(bank).questions if q.id == "iterations")
    assert question.content["tolerance"] == 0 and question.content["partial"] is None


def test_yaml_export_reads_back_to_the_same_revision(bank: Path, tmp_path: Path) -> None:
    problems_in(bank, GOOD_FIELDS)
    loaded = load_bank(bank)
    again = tmp_path / "again"
    shutil.copytree(bank, again)
    for path in (again / "questions").glob("*.yaml"):
        path.unlink()
    (again / "questions" / "all.yaml").write_text(yaml_export.export(loaded.questions))
    reloaded = load_bank(again)
    assert reloaded.problems == []
    assert {q.id: q.content_hash for q in reloaded.questions} == {
        q.id: q.content_hash for q in loaded.questions
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            "    rationale: r",
            "a numeric question needs 'answer: <number>', the right answer",
        ),
        (
            "    answer: 1200",
            "a numeric question needs 'rationale': how the right answer is worked out",
        ),
        (
            "    answer: 1200\n    rationale: r\n    options:\n      - {text: A, rationale: r}",
            "a numeric question has 'answer' (a number), not 'options', 'prompts', 'choices' "
            "or 'choose'",
        ),
        (
            "    answer: 1200\n    rationale: r\n    tolerance: two",
            "tolerance 'two' is not a number or a percent: write 0.5 (plus or minus 0.5) "
            "or '2%' (plus or minus 2% of the answer)",
        ),
        (
            "    answer: 1200\n    rationale: r\n    tolerance: 120%",
            "a relative tolerance is more than 0% and below 100%, not 120%",
        ),
        (
            "    answer: 1200\n    rationale: r\n    tolerance: -1",
            "Expected `float` >= 0.0 (at tolerance)",
        ),
        (
            "    answer: 0\n    rationale: r\n    tolerance: 5%",
            "a relative tolerance (5%) of an answer of 0 accepts only 0: give an absolute "
            "tolerance (tolerance: 0.5)",
        ),
        (
            "    answer: 1200\n    rationale: r\n    tolerance: 5%\n"
            "    partial: {tolerance: 50, credit: 0.5}",
            "the partial band (\u00b1 50) must be wider than the tolerance (\u00b1 5%) around the "
            "answer 1200: widen it or remove 'partial'",
        ),
        (
            "    answer: 1200\n    rationale: r\n    partial: {tolerance: 5%, credit: 1}",
            "Expected `float` < 1.0 (at partial.credit)",
        ),
        (
            "    answer: 1200\n    rationale: r\n    partial: {tolerance: 5%, credit: 0.5}\n"
            "    mistakes: [{value: 12, rationale: r}, {value: 12.0, rationale: r}]",
            "mistake 2 repeats the value 12: list each value once",
        ),
        (
            "    answer: 1200\n    rationale: r\n    tolerance: 10\n"
            "    mistakes: [{value: 1205, rationale: r}]",
            "mistake 1 (1205) is within the tolerance of the answer 1200 (\u00b1 10), so it would "
            "score as right: remove it or narrow the tolerance",
        ),
        (
            "    answer: 1200\n    rationale: r\n    unit: ' '",
            "'unit' is blank: name the unit ('s', 'GB') or remove it",
        ),
        (
            "    answer: .nan\n    rationale: r",
            "answer nan is not a finite number: give the right answer",
        ),
        (
            "    answer: '1,200'\n    rationale: r",
            "answer '1,200' is text: write a number (1200, not '1,200'); an expression "
            "needs a template's 'variables'",
        ),
    ],
)
def test_numeric_rules_are_explained(bank: Path, fields: str, expected: str) -> None:
    problems = problems_in(bank, fields)
    assert [p.message for p in problems] == [expected]
    assert problems[0].question_id == "iterations"
    assert problems[0].line is not None and problems[0].line >= 12  # the question's first line


@pytest.mark.parametrize("field", ["answer: 3", "unit: s", "rationale: r", "tolerance: 1"])
def test_numeric_fields_on_other_types_are_refused(bank: Path, field: str) -> None:
    body = HEAD.replace("    explanation: e\n", f"    {field}\n    explanation: e\n")
    (bank / "questions" / "numeric.yaml").write_text(body, encoding="utf-8")
    problems = [p for p in load_bank(bank).problems if p.file == "questions/numeric.yaml"]
    name = field.split(":")[0]
    assert [p.message for p in problems] == [
        f"'{name}' belongs to numeric questions only: remove it"
    ]
    assert problems[0].line == 2
