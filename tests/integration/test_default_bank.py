"""The default bank passes validation and every quality check, and the README shows it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exam_service.bank.lint import lint_bank
from exam_service.bank.loader import load_bank
from exam_service.bank.stats import stats_table
from exam_service.cli import main

ROOT = Path(__file__).parents[2]
DEFAULT_BANK = ROOT / "question_bank"


def test_default_bank_validates_and_lints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bank", "validate", str(DEFAULT_BANK)]) == 0
    assert main(["bank", "lint", str(DEFAULT_BANK)]) == 0, capsys.readouterr().err


def test_default_bank_meets_the_content_targets() -> None:
    bank = load_bank(DEFAULT_BANK)
    assert bank.problems == []
    types = [q.type for q in bank.questions]
    assert len(types) >= 150
    assert types.count("multiple") >= 20
    assert types.count("ordering") >= 10
    assert types.count("matching") >= 10
    assert types.count("single") > len(types) / 2
    per_case: dict[str, int] = {}
    for q in bank.questions:
        if q.case_id:
            per_case[q.case_id] = per_case.get(q.case_id, 0) + 1
    assert len([n for n in per_case.values() if n >= 3]) >= 3
    assert {b.spec.id for b in bank.blueprints} == {"seed-mock", "seed-practice"}
    full = bank.example_blueprints[0].spec
    assert (full.question_count, full.unscored_count, full.time_limit_seconds) == (65, 15, 7800)
    assert lint_bank(bank) == []


def test_readme_table_is_the_stats_output() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- bank-stats:start -->\n(.*?)<!-- bank-stats:end -->", readme, re.S)
    assert match, "README.md lost its bank-stats markers"
    assert match.group(1) == stats_table(load_bank(DEFAULT_BANK)), (
        "README's bank table is stale: paste `exam-service bank stats` between the markers"
    )
