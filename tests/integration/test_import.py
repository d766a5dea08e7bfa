"""Importing a bank: idempotent, a new revision only on a content change, retire not delete;
an uploaded file replaces a bank question only when told to (overwrite)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from exam_service.bank.service import ImportCounts
from exam_service.cli import main
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

    # the list shows the current revision only, whatever the status filter
    for status in ("active", "all"):
        params = {"text": "should the team try first", "status": status}
        listed = (await client.get("/api/v1/questions", params=params)).json()
        assert [(q["id"], q["revision"]) for q in listed["items"]] == [("churn-algorithm", 2)]
        assert listed["total"] == 1
    old = {"text": "best first choice", "status": "all"}
    assert (await client.get("/api/v1/questions", params=old)).json()["total"] == 0


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
    listed = (await client.get("/api/v1/questions", params={"text": "spot training"})).json()
    assert [q["id"] for q in listed["items"]] == ["extra-question"] and listed["total"] == 1
    retired = (await client.get("/api/v1/questions", params={"status": "retired"})).json()
    assert retired["items"] == [] and retired["total"] == 0


async def retire_extra(db_url: str, bank_dir: Path) -> ImportCounts:
    """Import EXTRA's questions, then the bank without its file: they are retired. Returns
    the second import's counts."""
    write_questions(bank_dir, "extra.yaml", EXTRA)
    await import_folder(db_url, bank_dir)
    (bank_dir / "questions" / "extra.yaml").unlink()
    return await import_folder(db_url, bank_dir)


async def test_a_retired_question_back_with_new_content_is_listed_once(
    db_url: str,
    bank_dir: Path,
    client: AsyncTestClient,  # type: ignore[type-arg]
) -> None:
    await retire_extra(db_url, bank_dir)
    write_questions(bank_dir, "extra.yaml", EXTRA.replace("Up to 90%", "Up to 90 percent"))
    assert (await import_folder(db_url, bank_dir)).updated == 1

    for status in ("active", "all"):
        params = {"objective": "D2.2.5", "status": status}
        listed = (await client.get("/api/v1/questions", params=params)).json()
        assert [(q["id"], q["revision"], q["status"]) for q in listed["items"]] == [
            ("extra-question", 2, "active")
        ]
    retired = (await client.get("/api/v1/questions", params={"status": "retired"})).json()
    assert retired["total"] == 0


async def test_text_search_folds_the_case_of_any_letter(
    db_url: str,
    bank_dir: Path,
    client: AsyncTestClient,  # type: ignore[type-arg]
) -> None:
    """Both databases find "über" in "ÜBER" (SQLite through its trigram index, whose case
    folding is Unicode's; its own lower() and LIKE fold ASCII letters only)."""
    write_questions(bank_dir, "extra.yaml", EXTRA.replace("How much", "ÜBER-SPOT, how much"))
    await import_folder(db_url, bank_dir)
    for text in ("über-spot", "Über-Spot", "ÜBER-SPOT"):
        listed = (await client.get("/api/v1/questions", params={"text": text})).json()
        assert [q["id"] for q in listed["items"]] == ["extra-question"], text


# --- uploads that reuse a bank question's id ------------------------------------------------

CHANGED = (
    b"::churn-algorithm::Which algorithm suits churn on tabular data best?"
    b"{=XGBoost#Boosted trees suit tables. ~K-Means#It clusters. ####Churn is supervised.}\n"
)


async def upload(client: AsyncTestClient, body: bytes, name: str, **params: str) -> Any:  # type: ignore[type-arg]
    return await client.post(
        "/api/v1/bank/imports",
        files={"file": (name, body)},
        params={"default_objective": "D2.1.2", **params},
    )


async def test_an_upload_that_would_replace_a_question_is_refused_without_overwrite(
    db_url: str,
    bank_dir: Path,
    client: AsyncTestClient,  # type: ignore[type-arg]
) -> None:
    await import_folder(db_url, bank_dir)
    for params in ({}, {"dry_run": "true"}):  # a dry run says what the real one would do
        refused = await upload(client, CHANGED, "quiz.gift", **params)
        assert refused.status_code == 409, refused.text
        problem = refused.json()
        assert problem["detail"].startswith(
            "1 question(s) in quiz.gift have the id of a question already in the bank with "
            "other content or retired: 'churn-algorithm' (other content). Nothing was imported."
        )
        assert "send the file again with overwrite=true" in problem["detail"]
        assert problem["errors"] == [
            "quiz.gift [churn-algorithm]: 'churn-algorithm' (other content)"
        ]
    kept = (await client.get("/api/v1/questions/churn-algorithm")).json()
    assert kept["current_revision"] == 1

    replaced = await upload(client, CHANGED, "quiz.gift", overwrite="true")
    assert replaced.status_code == 200, replaced.text
    report = replaced.json()
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 1, 0)
    assert (
        "quiz.gift [churn-algorithm]: replaces the bank's question 'churn-algorithm' "
        "(overwrite=true); its earlier revisions are kept"
    ) in report["warnings"]
    now = (await client.get("/api/v1/questions/churn-algorithm")).json()
    assert now["current_revision"] == 2 and "suits churn" in now["current"]["stem"]

    # The same file again changes nothing, so it needs no flag.
    again = await upload(client, CHANGED, "quiz.gift")
    assert again.status_code == 200, again.text
    assert (again.json()["updated"], again.json()["unchanged"]) == (0, 1)


async def test_an_upload_that_would_bring_back_a_retired_question_needs_overwrite(
    db_url: str,
    bank_dir: Path,
    client: AsyncTestClient,  # type: ignore[type-arg]
) -> None:
    assert (await retire_extra(db_url, bank_dir)).retired == 1

    refused = await upload(client, EXTRA.encode(), "extra.yaml")
    assert refused.status_code == 409
    assert "'extra-question' (retired)" in refused.json()["detail"]
    back = await upload(client, EXTRA.encode(), "extra.yaml", overwrite="true")
    assert back.status_code == 200 and back.json()["updated"] == 1
    assert (await client.get("/api/v1/questions/extra-question")).json()["status"] == "active"


async def test_the_cli_refuses_to_replace_a_question_without_overwrite(
    db_url: str,
    bank_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await import_folder(db_url, bank_dir)
    monkeypatch.setenv("EXAM_DATABASE_URL", db_url)
    quiz = tmp_path / "quiz.gift"
    quiz.write_bytes(CHANGED)
    command = ["bank", "import", str(quiz), "--default-objective", "D2.1.2"]

    assert await asyncio.to_thread(main, command) == 1
    err = capsys.readouterr().err
    assert "'churn-algorithm' (other content). Nothing was imported." in err
    assert "--overwrite" in err

    assert await asyncio.to_thread(main, [*command, "--overwrite"]) == 0
    out, err = capsys.readouterr()
    assert "created 0, updated 1, unchanged 0" in out
    assert "quiz.gift [churn-algorithm]: replaces the bank's question 'churn-algorithm'" in err
    assert await asyncio.to_thread(main, command) == 0
    assert "created 0, updated 0, unchanged 1" in capsys.readouterr().out
