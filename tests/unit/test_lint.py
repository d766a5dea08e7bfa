"""Each quality rule of `bank lint` catches a bank that breaks it, and passes one that doesn't."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from exam_service.bank.lint import Finding, lint_bank
from exam_service.bank.loader import load_bank
from exam_service.bank.stats import stats_table
from tests.conftest import FIXTURE_BANK

OPTIONS = ["Alpha choice", "Bravo choice", "Gamma choice", "Delta choice"]


def single(qid: str, key: int, stem: str, texts: list[str] | None = None) -> str:
    options = []
    for index, text in enumerate(texts or OPTIONS):
        correct = "\n        correct: true" if index == key else ""
        options.append(
            f"      - text: {text}{correct}\n        rationale: Says why option {index} is so."
        )
    return (
        f"  - id: {qid}\n    type: single\n    objectives: [D2.1.1]\n    difficulty: easy\n"
        f"    source: Comparison Tables\n    stem: {stem}\n    options:\n"
        + "\n".join(options)
        + "\n    explanation: Because the guide says so.\n"
    )


STEMS = [
    "A retailer forecasts weekly demand for ten thousand products",
    "A hospital classifies chest images into four conditions",
    "A bank scores loan applications for default risk",
    "A factory detects defects on a moving assembly line",
    "A streaming service recommends films from viewing history",
    "A logistics firm groups depots by delivery patterns",
    "An insurer flags unusual claims for manual review",
    "A publisher tags articles by topic automatically",
]


def bank_with(tmp_path: Path, body: str) -> Path:
    root = tmp_path / "bank"
    shutil.copytree(FIXTURE_BANK, root)
    (root / "questions" / "starter.yaml").unlink()
    (root / "questions" / "lint.yaml").write_text("questions:\n" + body, encoding="utf-8")
    bank = load_bank(root)
    assert bank.problems == [], bank.problems
    return root


def rules(root: Path) -> list[Finding]:
    return [f for f in lint_bank(load_bank(root), min_per_objective=0)]


def balanced(tmp_path: Path, extra: str = "") -> Path:
    body = "".join(single(f"q{i}", i % 4, STEMS[i]) for i in range(len(STEMS)))
    return bank_with(tmp_path, body + extra)


def test_a_balanced_bank_passes(tmp_path: Path) -> None:
    assert rules(balanced(tmp_path)) == []


def test_key_position(tmp_path: Path) -> None:
    body = "".join(single(f"q{i}", 0 if i < 4 else i % 4, STEMS[i]) for i in range(len(STEMS)))
    findings = rules(bank_with(tmp_path, body))
    assert [f.rule for f in findings] == ["key-position"]
    assert "position 1 holds the key in 5 of 8" in findings[0].message


def test_key_longest(tmp_path: Path) -> None:
    body = ""
    for i, stem in enumerate(STEMS):
        texts = list(OPTIONS)
        if i < 4:  # the key made the longest in half of the questions
            texts[i % 4] = texts[i % 4] + " with a much longer and more careful wording"
        body += single(f"q{i}", i % 4, stem, texts)
    findings = rules(bank_with(tmp_path, body))
    assert [f.rule for f in findings] == ["key-longest"]
    assert "longest option in 4 of 8" in findings[0].message


def test_near_duplicate_stems(tmp_path: Path) -> None:
    copy = single("q-copy", 1, "A retailer forecasts the weekly demand for ten thousand products")
    findings = rules(balanced(tmp_path, copy))
    assert [f.rule for f in findings] == ["near-duplicate"]
    assert findings[0].question_id == "q0" and "'q-copy'" in findings[0].message


def test_all_or_none_of_the_above(tmp_path: Path) -> None:
    texts = ["Alpha choice", "Bravo choice", "Gamma choice", "None of the above"]
    findings = rules(balanced(tmp_path, single("q-above", 2, "A telco predicts churn", texts)))
    assert [(f.rule, f.question_id) for f in findings] == [("above", "q-above")]


def test_multiple_must_state_how_many(tmp_path: Path) -> None:
    multiple = """\
  - id: q-multi
    type: multiple
    choose: 2
    objectives: [D2.2.3]
    difficulty: medium
    source: Key Terms & Glossary
    stem: Which techniques reduce overfitting? (Choose three.)
    options:
      - {text: Dropout, correct: true, rationale: Dropout regularizes the network.}
      - {text: L2 penalty, correct: true, rationale: L2 shrinks the weights smoothly.}
      - {text: More epochs, rationale: Training longer overfits more.}
    explanation: Both regularize; more epochs do the opposite.
"""
    findings = rules(balanced(tmp_path, multiple))
    assert [(f.rule, f.question_id) for f in findings] == [("choose-stated", "q-multi")]
    assert "(Choose two.)" in findings[0].message


def test_rationale_must_explain(tmp_path: Path) -> None:
    extra = single("q-lazy", 3, "A telco predicts churn").replace(
        "rationale: Says why option 1 is so.", "rationale: Wrong."
    )
    findings = rules(balanced(tmp_path, extra))
    assert [(f.rule, f.question_id) for f in findings] == [("rationale", "q-lazy")]


def test_coverage_per_leaf_objective(tmp_path: Path) -> None:
    bank = load_bank(balanced(tmp_path))
    findings = [f for f in lint_bank(bank, min_per_objective=10) if f.rule == "coverage"]
    codes = {f.message.split()[1] for f in findings}
    assert "D2.1.1" in codes  # has 8 of the 10 it needs
    assert any("D2.1.1" in f.message and "write at least 2 more" in f.message for f in findings)
    assert "D2.1" not in codes and "D1" not in codes  # tasks and uncovered domains are exempt
    assert len(codes) == 14


@pytest.mark.parametrize("code", ["D2.1.3", "D2.2.4"])
def test_stats_counts_each_question_once_under_its_primary_objective(code: str) -> None:
    table = stats_table(load_bank(FIXTURE_BANK))
    rows = {
        line.split("|")[1].strip().strip("*"): line
        for line in table.splitlines()[2:]
        if "|" in line
    }
    assert rows[code].endswith("| 1 |")
    assert rows["MLA-C01"].split("|")[3:8] == [" 4 ", " 1 ", " 1 ", " 1 ", " 7 "]
    assert table.endswith("7 questions, 1 cases.\n")
