"""The bank validator: every class of problem is reported, all at once, with its line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from exam_service.bank.loader import Problem, load_bank
from tests.conftest import FIXTURE_BANK

GOOD = """\
  - id: {id}
    type: single
    objectives: [D2.1.2]
    difficulty: easy
    source: "Comparison Tables"
    stem: Which option is right?
    options:
      - text: Right
        correct: true
        rationale: Because.
      - text: Wrong
        rationale: Because not.
    explanation: It is right.
"""


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    target = tmp_path / "bank"
    shutil.copytree(FIXTURE_BANK, target)
    return target


def problems_in(bank: Path, name: str, body: str) -> list[Problem]:
    (bank / "questions" / name).write_text(body, encoding="utf-8")
    return [p for p in load_bank(bank).problems if p.file == f"questions/{name}"]


def line_of(body: str, marker: str) -> int:
    for number, line in enumerate(body.splitlines(), 1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in the file")


def test_fixture_bank_is_valid() -> None:
    bank = load_bank(FIXTURE_BANK)
    assert bank.problems == []
    assert {q.type for q in bank.questions} == {"single", "multiple", "ordering", "matching"}
    assert any(q.case_id for q in bank.questions)
    assert [b.spec.id for b in bank.blueprints] == ["starter-mock"]


def test_every_problem_is_reported_at_once_with_its_line(bank: Path) -> None:
    body = (
        "questions:\n"
        + GOOD.format(id="fine-one")
        + """\
  - id: unknown-objective
    type: single
    objectives: [D9.9]
    difficulty: easy
    source: "Guide"
    stem: Stem?
    options:
      - text: A
        correct: true
        rationale: r
      - text: B
        rationale: r
    explanation: e
  - id: two-keys
    type: single
    objectives: [D2.1.1]
    difficulty: easy
    source: "Guide"
    stem: Stem?
    options:
      - text: A
        correct: true
        rationale: r
      - text: B
        correct: true
        rationale: r
    explanation: e
  - id: choose-mismatch
    type: multiple
    choose: 2
    objectives: [D2.1.1]
    difficulty: medium
    source: "Guide"
    stem: Pick two. (Choose two.)
    options:
      - {text: A, correct: true, rationale: r}
      - {text: B, correct: true, rationale: r}
      - {text: C, correct: true, rationale: r}
      - {text: D, rationale: r}
    explanation: e
  - id: empty-option
    type: single
    objectives: [D2.1.1]
    difficulty: easy
    source: "Guide"
    stem: Stem?
    options:
      - text: A
        correct: true
        rationale: r
      - text: ""   # EMPTY-OPTION
        rationale: r
    explanation: e
  - id: no-explanation
    type: single
    objectives: [D2.1.1]
    difficulty: easy
    source: "Guide"
    stem: Stem?
    options:
      - {text: A, correct: true, rationale: r}
      - {text: B, rationale: r}
"""
        + GOOD.format(id="fine-one")
    )
    problems = problems_in(bank, "bad.yaml", body)
    by_id = {p.question_id: p for p in problems}
    assert set(by_id) == {
        "unknown-objective",
        "two-keys",
        "choose-mismatch",
        "empty-option",
        "no-explanation",
        "fine-one",
    }
    assert "unknown objective 'D9.9'" in by_id["unknown-objective"].message
    assert by_id["unknown-objective"].line == line_of(body, "id: unknown-objective")
    assert "exactly one correct option, found 2" in by_id["two-keys"].message
    assert by_id["two-keys"].line == line_of(body, "id: two-keys")
    assert "'choose: 2' but 3 options are marked correct" in by_id["choose-mismatch"].message
    assert "length >= 1" in by_id["empty-option"].message
    assert "options[1].text" in by_id["empty-option"].message
    assert by_id["empty-option"].line == line_of(body, "EMPTY-OPTION")
    assert "missing required field `explanation`" in by_id["no-explanation"].message
    assert by_id["no-explanation"].line == line_of(body, "id: no-explanation")
    duplicate = by_id["fine-one"]
    assert "duplicate question id: already used at questions/bad.yaml:2" in duplicate.message
    assert duplicate.line == len(body.splitlines()) - len(GOOD.splitlines()) + 1
    assert str(duplicate).startswith(f"questions/bad.yaml:{duplicate.line}: [fine-one] ")


def test_duplicate_ids_across_files_name_the_first_place(bank: Path) -> None:
    problems = problems_in(
        bank, "zz-again.yaml", "questions:\n" + GOOD.format(id="churn-algorithm")
    )
    assert len(problems) == 1
    assert problems[0].line == 2
    assert "already used at questions/starter.yaml:" in problems[0].message


def test_yaml_syntax_error_has_its_line(bank: Path) -> None:
    body = "questions:\n  - id: broken\n    stem: [unclosed\n    type: single\n"
    problems = problems_in(bank, "syntax.yaml", body)
    assert len(problems) == 1
    assert problems[0].message.startswith("YAML syntax error")
    assert problems[0].line is not None and problems[0].line >= 3


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            """\
  - id: no-choose
    type: multiple
    objectives: [D2.1.1]
    difficulty: easy
    source: s
    stem: Choose. (Choose two.)
    options:
      - {text: A, correct: true, rationale: r}
      - {text: B, correct: true, rationale: r}
      - {text: C, rationale: r}
    explanation: e
""",
            "must say how many to choose: add 'choose: 2'",
        ),
        (
            """\
  - id: bad-match
    type: matching
    objectives: [D2.1.3]
    difficulty: easy
    source: s
    stem: Match.
    prompts:
      - {text: A, match: x, rationale: r}
      - {text: B, match: nowhere, rationale: r}
    choices:
      - {id: x, text: X}
      - {id: y, text: Y}
    explanation: e
""",
            "prompt 2 matches 'nowhere', which is not a choice id (x, y)",
        ),
        (
            """\
  - id: unknown-case
    type: single
    case: no-such-case
    objectives: [D2.1.1]
    difficulty: easy
    source: s
    stem: Stem?
    options:
      - {text: A, correct: true, rationale: r}
      - {text: B, rationale: r}
    explanation: e
""",
            "unknown case 'no-such-case'",
        ),
        (
            """\
  - id: short-ordering
    type: ordering
    objectives: [D2.2.4]
    difficulty: easy
    source: s
    stem: Order.
    options:
      - {text: A, rationale: r}
      - {text: B, rationale: r}
    explanation: e
""",
            "ordering question needs at least 3 options",
        ),
        (
            """\
  - id: same-options
    type: single
    objectives: [D2.1.1]
    difficulty: easy
    source: s
    stem: Stem?
    options:
      - {text: Same, correct: true, rationale: r}
      - {text: same, rationale: r}
    explanation: e
""",
            "two options have the same text",
        ),
        (
            """\
  - id: bad-difficulty
    type: single
    objectives: [D2.1.1]
    difficulty: trivial
    source: s
    stem: Stem?
    options:
      - {text: A, correct: true, rationale: r}
      - {text: B, rationale: r}
    explanation: e
""",
            "Invalid enum value 'trivial' (at difficulty)",
        ),
        (
            """\
  - id: missing-rationale
    type: single
    objectives: [D2.1.1]
    difficulty: easy
    source: s
    stem: Stem?
    options:
      - {text: A, correct: true, rationale: r}
      - {text: B}
    explanation: e
""",
            "missing required field `rationale` (at options[1])",
        ),
    ],
)
def test_rule_violations_are_explained(bank: Path, snippet: str, expected: str) -> None:
    problems = problems_in(bank, "rule.yaml", "questions:\n" + snippet)
    assert len(problems) == 1, problems
    assert expected in problems[0].message
    assert problems[0].line is not None and problems[0].line >= 2


def test_blueprint_problems(bank: Path) -> None:
    (bank / "blueprints" / "bad.yaml").write_text(
        "id: bad\nname: Bad\nmode: exam\nquestion_count: 5\nunscored_count: 5\n"
        "objective_counts: {D2.1: 2, D7: 2}\nscale: {min: 100, max: 1000, pass: 1200}\n",
        encoding="utf-8",
    )
    messages = [p.message for p in load_bank(bank).problems if p.file == "blueprints/bad.yaml"]
    text = "\n".join(messages)
    assert "unknown objective 'D7'" in text
    assert "objective_counts add up to 4, but question_count is 5" in text
    assert "unscored_count (5) must be less than question_count (5)" in text
    assert "min <= pass <= max" in text
    assert "needs time_limit_seconds" in text


def test_missing_objectives_file(tmp_path: Path) -> None:
    (tmp_path / "questions").mkdir()
    problems = load_bank(tmp_path).problems
    assert any(p.file == "objectives.yaml" and "missing" in p.message for p in problems)


def test_content_hash_ignores_formatting_but_not_content(bank: Path) -> None:
    before = {q.id: q.content_hash for q in load_bank(bank).questions}
    path = bank / "questions" / "starter.yaml"
    text = path.read_text(encoding="utf-8")
    # Re-folding whitespace and a comment change nothing a candidate sees.
    path.write_text(
        "# a comment\n"
        + text.replace("Which SageMaker built-in", "Which SageMaker  built-in".replace("  ", " ")),
        encoding="utf-8",
    )
    assert {q.id: q.content_hash for q in load_bank(bank).questions} == before
    path.write_text(
        text.replace("K-Means clusters unlabelled data", "K-Means groups unlabelled data"),
        encoding="utf-8",
    )
    after = {q.id: q.content_hash for q in load_bank(bank).questions}
    changed = {qid for qid in before if before[qid] != after[qid]}
    assert changed == {"churn-algorithm"}


def test_keys_and_default_ids(bank: Path) -> None:
    questions = {q.id: q for q in load_bank(bank).questions}
    assert questions["churn-algorithm"].content["key"] == ["b"]
    assert questions["regularization-pick-two"].content["key"] == ["a", "b"]
    assert questions["regularization-pick-two"].content["choose"] == 2
    assert questions["amt-steps"].content["key"] == ["a", "b", "c", "d"]
    assert questions["algorithm-match"].content["key"] == {"p1": "kmeans", "p2": "rcf", "p3": "pca"}
    assert questions["churn-explain"].case_scenario is not None


def test_more_options_than_letters_is_a_located_problem(bank: Path) -> None:
    """Options are shown lettered A-Z; a 27th once crashed the loader (IndexError)."""
    options = "".join(
        f"      - {{text: Option {n}, rationale: r{', correct: true' if n == 1 else ''}}}\n"
        for n in range(1, 28)
    )
    body = (
        "questions:\n  - id: too-many\n    type: single\n    objectives: [D2.1.1]\n"
        "    difficulty: easy\n    source: s\n    stem: Stem?\n    options:\n"
        + options
        + "    explanation: e\n"
    )
    problems = problems_in(bank, "many.yaml", body)
    assert len(problems) == 1, problems
    assert "length <= 26" in problems[0].message and "options" in problems[0].message
