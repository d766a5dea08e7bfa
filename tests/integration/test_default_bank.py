"""The default bank passes validation and every quality check, and the README shows it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from exam_service.bank.lint import lint_bank
from exam_service.bank.loader import load_bank
from exam_service.bank.stats import stats_table
from exam_service.cli import main
from tests.factories import Person, import_folder

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
    blueprints = {b.spec.id: b.spec for b in bank.blueprints}
    assert set(blueprints) == {"seed-mock", "seed-practice", "seed-adaptive"}
    adaptive = blueprints["seed-adaptive"]
    assert (adaptive.mode, adaptive.scoring, adaptive.self_study) == ("adaptive", "irt", True)
    assert adaptive.objective_weights == blueprints["seed-mock"].objective_weights
    full = bank.example_blueprints[0].spec
    assert (full.question_count, full.unscored_count, full.time_limit_seconds) == (65, 15, 7800)
    assert lint_bank(bank) == []


async def test_the_adaptive_practice_serves_from_the_default_bank(
    client: AsyncTestClient,
    db_url: str,
    people: dict[str, Person],  # type: ignore[type-arg]
) -> None:
    """seed-adaptive before any calibration: a first question, and a next one after it."""
    await import_folder(db_url, DEFAULT_BANK)
    who = people["candidate"].headers
    started = await client.post(
        "/api/v1/attempts", json={"blueprint_id": "seed-adaptive"}, headers=who
    )
    assert started.status_code == 201, started.text
    attempt = started.json()
    assert attempt["adaptive"]["max_items"] == 30 and len(attempt["items"]) == 1
    url = f"/api/v1/attempts/{attempt['id']}"
    first = attempt["items"][0]
    answer: Any = [o["id"] for o in first["options"]]
    if first["type"] in ("single", "multiple"):
        answer = answer[: first["choose"] or 1]
    elif first["type"] == "matching":
        answer = {"1": "A"}
    elif first["type"] == "numeric":
        answer = "1"
    saved = await client.put(f"{url}/responses/1", json={"answer": answer}, headers=who)
    assert saved.status_code == 200, saved.text
    following = await client.post(f"{url}/next", headers=who)
    assert following.status_code == 200, following.text
    body = following.json()
    assert body["item"]["position"] == 2 and body["item"]["stem"] != first["stem"]
    assert body["objective"] in {"D2.1.1", "D2.1.2", "D2.1.3", "D2.1.4", "D2.1.5"} | {
        f"D2.2.{n}" for n in range(1, 9)
    } | {f"D2.3.{n}" for n in range(1, 5)}


def test_readme_table_is_the_stats_output() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- bank-stats:start -->\n(.*?)<!-- bank-stats:end -->", readme, re.S)
    assert match, "README.md lost its bank-stats markers"
    assert match.group(1) == stats_table(load_bank(DEFAULT_BANK)), (
        "README's bank table is stale: paste `exam-service bank stats` between the markers"
    )
