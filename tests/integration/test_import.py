"""Importing a bank: idempotent, a new revision only on a content change, retire not delete."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import Person, import_folder, write_questions


@pytest.fixture
def client(client: AsyncTestClient, people: dict[str, Person]) -> AsyncTestClient:  # type: ignore[type-arg]
    """The app's client, signed in as the instructor (the bank with keys is staff-only)."""
    client.headers["Authorization"] = people["instructor"].headers["Authorization"]
    return client


EXTRA = """\
questions:
  - id: extra-question
    type: single
    objectives: [D2.2.5]
    difficulty: hard
    source: "Tip: Managed Spot Training"
    stem: How much can Managed Spot Training save on training compute?
    options:
      - {text: Up to 90%, correct: true, rationale: The guide's tip quotes up to 90%.}
      - {text: Up to 10%, rationale: Far below what the guide quotes.}
    explanation: Spot capacity is spare AWS capacity, sold at a steep discount.
"""


async def test_import_is_idempotent(db_url: str, bank_dir: Path) -> None:
    first = await import_folder(db_url, bank_dir)
    assert (first.created, first.updated, first.unchanged, first.retired) == (7, 0, 0, 0)
    second = await import_folder(db_url, bank_dir)
    assert (second.created, second.updated, second.unchanged, second.retired) == (0, 0, 7, 0)


async def test_edit_makes_a_revision_and_keeps_the_old(
    db_url: str,
    bank_dir: Path,
    client: AsyncTestClient,  # type: ignore[type-arg]
) -> None:
    await import_folder(db_url, bank_dir)
    path = bank_dir / "questions" / "starter.yaml"
    path.write_text(
        path.read_text().replace(
            "Which SageMaker built-in algorithm is the best first choice",
            "Which SageMaker built-in algorithm should the team try first",
        ),
        encoding="utf-8",
    )
    counts = await import_folder(db_url, bank_dir)
    assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 6)

    body = (await client.get("/api/v1/questions/churn-algorithm")).json()
    assert body["current_revision"] == 2
    assert [r["revision"] for r in body["revisions"]] == [1, 2]
    assert "best first choice" in body["revisions"][0]["stem"]
    assert "should the team try first" in body["current"]["stem"]
    assert body["revisions"][0]["content_hash"] != body["revisions"][1]["content_hash"]


async def test_removed_question_is_retired_then_reactivated(
    db_url: str,
    bank_dir: Path,
    client: AsyncTestClient,  # type: ignore[type-arg]
) -> None:
    write_questions(bank_dir, "extra.yaml", EXTRA)
    assert (await import_folder(db_url, bank_dir)).created == 8

    (bank_dir / "questions" / "extra.yaml").unlink()
    counts = await import_folder(db_url, bank_dir)
    assert (counts.retired, counts.unchanged) == (1, 7)
    retired = (await client.get("/api/v1/questions/extra-question")).json()
    assert retired["status"] == "retired" and retired["retired_at"] is not None
    listed = (await client.get("/api/v1/questions", params={"limit": 200})).json()
    assert "extra-question" not in [q["id"] for q in listed["items"]]
    only_retired = (await client.get("/api/v1/questions", params={"status": "retired"})).json()
    assert [q["id"] for q in only_retired["items"]] == ["extra-question"]

    write_questions(bank_dir, "extra.yaml", EXTRA)
    counts = await import_folder(db_url, bank_dir)
    assert (counts.created, counts.updated, counts.retired) == (0, 1, 0)
    back = (await client.get("/api/v1/questions/extra-question")).json()
    assert back["status"] == "active" and back["current_revision"] == 1
