"""A sitting's report (JSON, CSV, PDF), its live view, the cohort and item reports limited
to one sitting, and all its score reports as one ZIP, on both databases."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pypdf import PdfReader
from sqlalchemy import update

from exam_service.db import create_engine, session_factory
from exam_service.exams.sittings import counted_scores
from exam_service.models import Attempt, Sitting, User
from exam_service.settings import Settings
from tests.factories import Person, import_folder, make_cohort, make_people
from tests.integration.exam_helpers import (
    bank_by_stem,
    from_now,
    make_blueprint,
    make_sitting,
    right_answer,
    start_in,
    wrong_answer,
)

Client = AsyncTestClient  # type: ignore[type-arg]
CROWD = ("ana", "ben", "cleo", "dev")


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
async def crowd(
    client: Client, db_url: str, bank_dir: Path, settings: Settings, people: dict[str, Person]
) -> dict[str, Any]:
    """The test bank, `sat-mock` (taken only in sittings) and a cohort of the instructor's
    with four candidates; Ana's display name carries markup, which must print as text."""
    await import_folder(db_url, bank_dir)
    await make_blueprint(client, people["admin"], "sat-mock", self_study=False, grace_seconds=0)
    members = await make_people(settings, *((name, "candidate") for name in CROWD))
    cohort_id = await make_cohort(settings, people["instructor"], list(members.values()))
    await _sql(settings, update(User).where(User.username == "ana").values(display_name="Ana <b>"))
    bank = await bank_by_stem(client, people["instructor"])
    return {"cohort_id": cohort_id, "people": members, "bank": bank}


async def _sql(settings: Settings, statement: Any) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(statement)
    finally:
        await engine.dispose()


async def sit(
    client: Client,
    crowd: dict[str, Any],
    name: str,
    sitting_id: int,
    answer: Any,
    *,
    submit: bool = True,
) -> dict[str, Any]:
    """`name` of the crowd starts an attempt in the sitting, answers every item with
    `answer(item, question)` (right_answer or wrong_answer) and submits it; returns the
    result (with `submit=False`, the attempt)."""
    who, bank = crowd["people"][name], crowd["bank"]
    started = await start_in(client, who, sitting_id)
    assert started.status_code == 201, started.text
    attempt = started.json()
    for item in attempt["items"]:
        saved = await client.put(
            f"/api/v1/attempts/{attempt['id']}/responses/{item['position']}",
            json={"answer": answer(item, bank[item["stem"]])},
            headers=who.headers,
        )
        assert saved.status_code == 200, saved.text
    if not submit:
        return attempt
    done = await client.post(f"/api/v1/attempts/{attempt['id']}/submit", headers=who.headers)
    assert done.status_code == 200, done.text
    result: dict[str, Any] = done.json()
    return result


async def scheduled(
    client: Client, people: dict[str, Person], crowd: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    return await make_sitting(
        client, people["instructor"], "sat-mock", [crowd["cohort_id"]], **fields
    )


async def report_of(client: Client, who: Person, sitting_id: int, **params: Any) -> Any:
    return await client.get(
        f"/api/v1/reports/sittings/{sitting_id}", params=params, headers=who.headers
    )


# --- the report ---------------------------------------------------------------------------


async def test_the_report_shows_every_candidate_by_the_grading_method(
    client: Client, people: dict[str, Person], crowd: dict[str, Any], settings: Settings
) -> None:
    """Ana sits twice (wrong, then right: the highest counts), Ben once, Cleo is still
    sitting, Dev has not started; Ben has extra time and an extra attempt."""
    made = await scheduled(client, people, crowd, attempts_allowed=2, closes_at=from_now(3600))
    teacher = people["instructor"].headers
    given = await client.put(
        f"/api/v1/sittings/{made['id']}/accommodations/ben",
        json={"extra_time_seconds": 600, "extra_attempts": 1},
        headers=teacher,
    )
    assert given.status_code == 200
    ana_first = await sit(client, crowd, "ana", made["id"], wrong_answer)
    ana_second = await sit(client, crowd, "ana", made["id"], right_answer)
    ben = await sit(client, crowd, "ben", made["id"], right_answer)
    cleo = await sit(client, crowd, "cleo", made["id"], wrong_answer, submit=False)

    response = await report_of(client, people["instructor"], made["id"])
    assert response.status_code == 200, response.text
    report = response.json()
    rows = {c["username"]: c for c in report["candidates"]}
    assert list(rows) == sorted(CROWD)
    assert (rows["ana"]["status"], rows["ana"]["attempts_used"]) == ("finished", 2)
    assert rows["ana"]["counted_score"] == ana_second["scaled_score"]
    assert rows["ana"]["counted_attempt_id"] == ana_second["attempt_id"]
    assert ana_first["scaled_score"] < ana_second["scaled_score"]
    assert rows["ana"]["passed"] is True and rows["ana"]["display_name"] == "Ana <b>"
    assert rows["ben"]["attempts_allowed"] == 3  # 2 + 1 extra
    assert rows["ben"]["accommodation"] == {
        "extra_time_seconds": 600,
        "time_multiplier": None,
        "extra_attempts": 1,
        "closes_at": None,
    }
    assert rows["cleo"]["status"] == "in_progress"
    assert rows["cleo"]["open_attempt_id"] == cleo["id"]
    assert rows["cleo"]["counted_score"] is None and rows["cleo"]["passed"] is None
    assert rows["dev"]["status"] == "not_started" and rows["dev"]["attempts_used"] == 0
    assert rows["dev"]["accommodation"] is None

    assert (report["roster"], report["not_started"], report["in_progress"]) == (4, 1, 1)
    assert (report["finished"], report["attempts"], report["candidates_counted"]) == (2, 4, 2)
    assert report["grading_method"] == "highest"
    counted = [ana_second["scaled_score"], ben["scaled_score"]]
    assert report["mean"] == round(sum(counted) / 2, 1)
    assert report["median"] == sum(counted) / 2
    assert report["pass_rate"] == 1.0
    assert sum(b["count"] for b in report["histogram"]) == 2
    assert report["histogram"][-1]["count"] == 2  # both right on every question: the maximum
    # mastery over the counted attempts: every answer right, so 100% everywhere
    assert report["objectives"] and all(n["mean_percent"] == 100 for n in report["objectives"])
    assert report["attempts_counted"] == "each candidate's highest-scoring attempt"
    assert report["cohorts"] == [{"id": crowd["cohort_id"], "name": "instructor's cohort"}]

    async with _session(settings) as session:
        row = await session.get(Sitting, made["id"])
        assert row is not None
        by_python = await counted_scores(session, row)
    ids = {c["user_id"]: c for c in report["candidates"]}
    assert {u: (ids[u]["counted_score"], ids[u]["counted_attempt_id"]) for u in by_python} == {
        u: (c.score, c.attempt_id) for u, c in by_python.items()
    }


def _session(settings: Settings) -> Any:
    class Scope:
        async def __aenter__(self) -> Any:
            self.engine = create_engine(settings.database_url)
            self.session = session_factory(self.engine)()
            return self.session

        async def __aexit__(self, *exc: object) -> None:
            await self.session.close()
            await self.engine.dispose()

    return Scope()


@pytest.mark.parametrize("method", ["highest", "first", "last", "mean"])
async def test_each_grading_method_counts_as_the_candidates_standing_says(
    client: Client, people: dict[str, Person], crowd: dict[str, Any], method: str
) -> None:
    cast = crowd["people"]
    made = await scheduled(client, people, crowd, attempts_allowed=3, grading_method=method)
    first = await sit(client, crowd, "ana", made["id"], right_answer)
    second = await sit(client, crowd, "ana", made["id"], wrong_answer)
    third = await sit(client, crowd, "ana", made["id"], right_answer)
    await sit(client, crowd, "ben", made["id"], wrong_answer)
    standing = next(
        e
        for e in (await client.get("/api/v1/sittings", headers=cast["ana"].headers)).json()
        if e["id"] == made["id"]
    )["standing"]
    report = (await report_of(client, people["instructor"], made["id"])).json()
    ana = next(c for c in report["candidates"] if c["username"] == "ana")
    assert ana["counted_score"] == round(standing["counted_score"], 2)
    scores = [first["scaled_score"], second["scaled_score"], third["scaled_score"]]
    expected = {
        "highest": (max(scores), first["attempt_id"]),  # the earliest of equal highest
        "first": (scores[0], first["attempt_id"]),
        "last": (scores[2], third["attempt_id"]),
        "mean": (round(sum(scores) / 3, 2), None),
    }[method]
    assert (ana["counted_score"], ana["counted_attempt_id"]) == expected
    assert ana["passed"] is (expected[0] >= report["scale"]["pass"])
    # mastery and reliability: over the counted attempts, or every graded one under mean
    attempts_over = 4 if method == "mean" else 2
    top = next(n for n in report["objectives"] if n["level"] == "exam")
    assert top["attempts"] == attempts_over


async def test_csv_and_pdf(
    client: Client, people: dict[str, Person], crowd: dict[str, Any]
) -> None:
    made = await scheduled(client, people, crowd, name="Mock <i>B</i>")
    await client.put(
        f"/api/v1/sittings/{made['id']}/accommodations/dev",
        json={"time_multiplier": 1.5},
        headers=people["instructor"].headers,
    )
    await sit(client, crowd, "ana", made["id"], right_answer)
    await sit(client, crowd, "ben", made["id"], wrong_answer)

    sheet = await report_of(client, people["instructor"], made["id"], format="csv")
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("text/csv")
    rows = {r["username"]: r for r in csv.DictReader(io.StringIO(sheet.text))}
    assert set(rows) == set(CROWD)
    assert rows["ana"]["status"] == "finished" and rows["ana"]["passed"] == "True"
    assert rows["ben"]["passed"] == "False"
    assert rows["dev"]["status"] == "not_started" and rows["dev"]["time_multiplier"] == "1.5"
    assert rows["dev"]["counted_score"] == ""

    printed = await report_of(client, people["instructor"], made["id"], format="pdf")
    assert printed.status_code == 200
    assert printed.headers["content-type"] == "application/pdf"
    text = pdf_text(printed.content)
    assert "Sitting report" in text and "Mock <i>B</i>" in text  # markup printed as text
    assert "Ana <b>" in text and "not started" in text and "x1.5 time" in text
    assert "highest score" in text and "Pass rate 50.0%" in " ".join(text.split())
    letter = await report_of(client, people["instructor"], made["id"], format="pdf", paper="letter")
    assert PdfReader(io.BytesIO(letter.content)).pages[0].mediabox.width == 612


async def test_only_the_owner_and_admins_see_it(
    client: Client, people: dict[str, Person], crowd: dict[str, Any]
) -> None:
    made = await scheduled(client, people, crowd)
    for who, status in (
        ("other-instructor", 404),
        ("admin", 200),
        ("candidate", 403),
    ):
        assert (await report_of(client, people[who], made["id"])).status_code == status, who
    hidden = await report_of(client, people["other-instructor"], made["id"])
    missing = await report_of(client, people["other-instructor"], made["id"] + 1000)
    assert hidden.json()["detail"] == missing.json()["detail"].replace(
        str(made["id"] + 1000), str(made["id"])
    )


async def test_attempts_whose_time_is_up_are_closed_before_reporting(
    client: Client, people: dict[str, Person], crowd: dict[str, Any], settings: Settings
) -> None:
    made = await scheduled(client, people, crowd)
    running = await sit(client, crowd, "cleo", made["id"], right_answer, submit=False)
    past = datetime.now(UTC) - timedelta(seconds=5)
    await _sql(
        settings,
        update(Attempt).where(Attempt.id == running["id"]).values(deadline=past, closes_at=past),
    )
    report = (await report_of(client, people["instructor"], made["id"])).json()
    cleo = next(c for c in report["candidates"] if c["username"] == "cleo")
    assert cleo["status"] == "finished" and cleo["counted_score"] is not None
    assert cleo["last_finished_at"] is not None


# --- cohort and item reports of one sitting ------------------------------------------------


async def test_cohort_and_item_reports_of_one_sitting(
    client: Client, people: dict[str, Person], crowd: dict[str, Any]
) -> None:
    """Ana sits the blueprint in two sittings: the whole-blueprint reports count both
    attempts, each sitting's only its own."""
    teacher = people["instructor"]
    monday = await scheduled(client, people, crowd)
    friday = await scheduled(client, people, crowd)
    await sit(client, crowd, "ana", monday["id"], right_answer)
    await sit(client, crowd, "ana", friday["id"], wrong_answer)
    await sit(client, crowd, "ben", friday["id"], wrong_answer)
    url = f"/api/v1/reports/cohorts/{crowd['cohort_id']}"

    whole = await client.get(url, params={"blueprint_id": "sat-mock"}, headers=teacher.headers)
    assert whole.json()["attempts"] == 3 and whole.json()["sitting_id"] is None
    one = await client.get(url, params={"sitting_id": monday["id"]}, headers=teacher.headers)
    assert one.status_code == 200, one.text
    assert (one.json()["attempts"], one.json()["sitting_id"]) == (1, monday["id"])
    assert one.json()["pass_rate"] == 1.0
    both = await client.get(
        url,
        params={"sitting_id": friday["id"], "blueprint_id": "sat-mock", "format": "pdf"},
        headers=teacher.headers,
    )
    assert both.status_code == 200 and "Cohort report" in pdf_text(both.content)
    assert f"sitting-{friday['id']}" in both.headers["content-disposition"]

    items = await client.get(
        "/api/v1/reports/items", params={"sitting_id": friday["id"]}, headers=teacher.headers
    )
    assert items.status_code == 200
    assert (items.json()["attempts"], items.json()["sitting_id"]) == (2, friday["id"])
    assert sum(i["responses"] for i in items.json()["items"]) == 2 * 5  # five items each
    everything = await client.get(
        "/api/v1/reports/items", params={"blueprint_id": "sat-mock"}, headers=teacher.headers
    )
    assert everything.json()["attempts"] == 3

    wrong = await client.get(
        url,
        params={"sitting_id": monday["id"], "blueprint_id": "starter-mock"},
        headers=teacher.headers,
    )
    assert wrong.status_code == 422 and "is of blueprint 'sat-mock'" in wrong.json()["detail"]
    neither = await client.get(url, headers=teacher.headers)
    assert neither.status_code == 422 and "blueprint_id" in neither.json()["detail"]
    hidden = await client.get(
        "/api/v1/reports/items",
        params={"sitting_id": monday["id"]},
        headers=people["other-instructor"].headers,
    )
    assert hidden.status_code == 404


# --- the live view ------------------------------------------------------------------------


async def test_the_live_view(
    client: Client, people: dict[str, Person], crowd: dict[str, Any]
) -> None:
    made = await scheduled(client, people, crowd, closes_at=from_now(1800), time_limit_seconds=300)
    await client.put(
        f"/api/v1/sittings/{made['id']}/accommodations/cleo",
        json={"extra_time_seconds": 60},
        headers=people["instructor"].headers,
    )
    done = await sit(client, crowd, "ana", made["id"], right_answer)
    running = await sit(client, crowd, "cleo", made["id"], wrong_answer, submit=False)
    response = await client.get(
        f"/api/v1/sittings/{made['id']}/progress", headers=people["instructor"].headers
    )
    assert response.status_code == 200, response.text
    live = response.json()
    assert (live["state"], live["roster"], live["not_started"]) == ("open", 4, 2)
    assert (live["in_progress"], live["finished"]) == (1, 1)
    assert 1790 <= live["seconds_left"] <= 1800
    rows = {c["username"]: c for c in live["candidates"]}
    assert rows["ana"]["state"] == "submitted"
    assert rows["ana"]["scaled_score"] == done["scaled_score"]
    assert rows["ana"]["submitted_at"] is not None and rows["ana"]["seconds_left"] is None
    assert rows["cleo"]["state"] == "in_progress" and rows["cleo"]["attempt_id"] == running["id"]
    assert 350 <= rows["cleo"]["seconds_left"] <= 360  # 300 + 60 extra
    assert rows["cleo"]["accommodation"]["extra_time_seconds"] == 60
    assert rows["ben"]["state"] == "not_started" and rows["ben"]["started_at"] is None
    assert (rows["ben"]["attempts_used"], rows["ben"]["attempts_allowed"]) == (0, 1)
    other = await client.get(
        f"/api/v1/sittings/{made['id']}/progress", headers=people["other-instructor"].headers
    )
    assert other.status_code == 404


# --- the ZIP of score reports --------------------------------------------------------------


async def test_every_counted_score_report_in_one_zip(
    client: Client, people: dict[str, Person], crowd: dict[str, Any]
) -> None:
    """Each PDF is the candidate's own report: under review policy `never` it shows no
    question, while the instructor's copy of the same report does."""
    made = await scheduled(client, people, crowd, attempts_allowed=2, review_policy="never")
    await sit(client, crowd, "ana", made["id"], right_answer)
    ana_best = await sit(client, crowd, "ana", made["id"], right_answer)
    ben = await sit(client, crowd, "ben", made["id"], wrong_answer)
    response = await client.get(
        f"/api/v1/sittings/{made['id']}/score-reports.zip", headers=people["instructor"].headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert f"sitting-{made['id']}-score-reports.zip" in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    names = archive.namelist()
    assert names == ["index.csv", "ana-attempt-1.pdf", "ben-attempt-1.pdf"]  # highest: the first
    index = {
        r["username"]: r for r in csv.DictReader(io.StringIO(archive.read("index.csv").decode()))
    }
    assert index["ana"]["score_reports"] == "ana-attempt-1.pdf"
    assert index["dev"]["status"] == "not_started" and index["dev"]["score_reports"] == ""
    ben_pdf = pdf_text(archive.read("ben-attempt-1.pdf"))
    assert "Score report" in ben_pdf and f"attempt {ben['attempt_id']}" in ben_pdf
    assert "review policy never shows the answers" in ben_pdf
    staff_copy = await client.get(
        f"/api/v1/attempts/{ben['attempt_id']}/report.pdf", headers=people["instructor"].headers
    )
    assert "review policy never" not in pdf_text(staff_copy.content)
    assert float(index["ana"]["counted_score"]) == ana_best["scaled_score"]

    empty = await scheduled(client, people, crowd)
    nothing = await client.get(
        f"/api/v1/sittings/{empty['id']}/score-reports.zip", headers=people["instructor"].headers
    )
    only_index = zipfile.ZipFile(io.BytesIO(nothing.content))
    assert only_index.namelist() == ["index.csv"]
    hidden = await client.get(
        f"/api/v1/sittings/{made['id']}/score-reports.zip",
        headers=people["other-instructor"].headers,
    )
    assert hidden.status_code == 404


async def test_the_zip_holds_every_graded_attempt_under_mean(
    client: Client, people: dict[str, Person], crowd: dict[str, Any]
) -> None:
    made = await scheduled(client, people, crowd, attempts_allowed=2, grading_method="mean")
    await sit(client, crowd, "cleo", made["id"], right_answer)
    await sit(client, crowd, "cleo", made["id"], wrong_answer)
    response = await client.get(
        f"/api/v1/sittings/{made['id']}/score-reports.zip",
        params={"paper": "letter"},
        headers=people["instructor"].headers,
    )
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["index.csv", "cleo-attempt-1.pdf", "cleo-attempt-2.pdf"]
    page = PdfReader(io.BytesIO(archive.read("cleo-attempt-2.pdf"))).pages[0]
    assert page.mediabox.width == 612
