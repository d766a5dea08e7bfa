"""Question templates through the HTTP API on both databases: starting an attempt draws the
numbers, which the stem, options and review show; two attempts differ; the drawn key scores
right and a drawn mistake gets its rationale with its numbers; the practice check uses the
drawn key; grading again gives the same result, and a later change to the template leaves
an attempt's numbers as they were drawn; each paper form prints, keys and grades its own
numbers."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pypdf import PdfReader
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from exam_service.exams.closing import grade_attempt
from exam_service.models import Result, ResultObjective
from exam_service.settings import Settings
from tests.factories import Person, import_folder, make_cohort, make_people
from tests.integration.exam_helpers import make_blueprint, start

Client = AsyncTestClient  # type: ignore[type-arg]

TEMPLATES = Path(__file__).parents[1] / "fixtures" / "templates" / "templates.yaml"
ITERATIONS = re.compile(r"has ([\d,]+) samples and the batch size is (\d+)\.")
GPUS = re.compile(r"on (\d+) GPUs with a batch of (\d+) per GPU")


@pytest.fixture(autouse=True)
async def bank(db_url: str, bank_dir: Path, cohort_id: int) -> None:
    shutil.copy(TEMPLATES, bank_dir / "questions" / "templates.yaml")
    await import_folder(db_url, bank_dir)


async def template_blueprint(client: Client, admin: Person, identifier: str, **fields: Any) -> None:
    await make_blueprint(
        client, admin, identifier, question_count=2, objective_counts={"D3": 1, "D4": 1}, **fields
    )


def drawn(attempt: dict[str, Any]) -> dict[str, Any]:
    """What a candidate reads in the stems: the numbers of each template, the right
    answers worked out from them, and the positions."""
    out: dict[str, Any] = {}
    for item in attempt["items"]:
        assert "{" not in item["stem"], item["stem"]
        if match := ITERATIONS.search(item["stem"]):
            samples, batch = int(match[1].replace(",", "")), int(match[2])
            out["iterations"] = {
                "position": item["position"],
                "samples": samples,
                "batch": batch,
                "key": samples // batch,
                "mistake": samples * batch,
            }
        elif match := GPUS.search(item["stem"]):
            gpus, per_gpu = int(match[1]), int(match[2])
            total = f"{gpus * per_gpu:,}"
            letter = next(o["id"] for o in item["options"] if o["text"] == total)
            out["batch"] = {
                "position": item["position"],
                "gpus": gpus,
                "per_gpu": per_gpu,
                "letter": letter,
                "texts": sorted(o["text"] for o in item["options"]),
            }
    assert set(out) == {"iterations", "batch"}, attempt["items"]
    return out


async def save(client: Client, who: Person, attempt_id: int, position: int, answer: Any) -> Any:
    response = await client.put(
        f"/api/v1/attempts/{attempt_id}/responses/{position}",
        json={"answer": answer, "flagged": False},
        headers=who.headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_each_attempt_draws_its_numbers_and_is_graded_on_them(
    client: Client, people: dict[str, Person], db_url: str, bank_dir: Path
) -> None:
    candidate = people["candidate"]
    await template_blueprint(client, people["admin"], "templates")
    attempts = [await start(client, candidate, "templates") for _ in range(3)]
    values = [drawn(a) for a in attempts]
    # 54 instances of one template, 32 of the other: three attempts alike would be a fault
    shown = [(v["iterations"]["samples"], v["iterations"]["batch"], v["batch"]["gpus"],
              v["batch"]["per_gpu"]) for v in values]  # fmt: skip
    assert len(set(shown)) > 1, shown
    for v in values:
        assert v["batch"]["texts"] == sorted(
            f"{int(n):,}" if float(n).is_integer() else f"{n:,.10g}"
            for n in (
                v["batch"]["gpus"] * v["batch"]["per_gpu"],
                v["batch"]["per_gpu"],
                v["batch"]["per_gpu"] / v["batch"]["gpus"],
                2 * v["batch"]["gpus"] * v["batch"]["per_gpu"],
            )
        )

    # the first attempt answers both drawn keys ("1,200" style text too), the second
    # types the drawn mistake and picks one GPU's batch
    first, second = attempts[0], attempts[1]
    one, two = values[0], values[1]
    assert (
        await save(
            client, candidate, first["id"], one["iterations"]["position"],
            f"{one['iterations']['key']:,}",
        )
    )["answer"] == one["iterations"]["key"]  # fmt: skip
    await save(client, candidate, first["id"], one["batch"]["position"], [one["batch"]["letter"]])
    await save(
        client, candidate, second["id"], two["iterations"]["position"], two["iterations"]["mistake"]
    )
    per_gpu = f"{two['batch']['per_gpu']:,}"
    pick = next(
        o["id"]
        for i in second["items"]
        if i["position"] == two["batch"]["position"]
        for o in i["options"]
        if o["text"] == per_gpu
    )
    await save(client, candidate, second["id"], two["batch"]["position"], [pick])

    results = []
    for attempt in (first, second):
        submitted = await client.post(
            f"/api/v1/attempts/{attempt['id']}/submit", headers=candidate.headers
        )
        assert submitted.status_code == 200, submitted.text
        results.append(submitted.json())
    assert [r["raw_score"] for r in results] == [2.0, 0.0]

    review = {r["question_id"]: r for r in results[0]["review"]}
    it = one["iterations"]
    iterations = review["template-iterations"]
    samples, batch = f"{it['samples']:,}", f"{it['batch']:,}"
    assert f"has {samples} samples and the batch size is {batch}." in iterations["stem"]
    assert iterations["key"]["value"] == it["key"] and iterations["points"] == 1.0
    assert iterations["rationales"] == {
        "key": f"{samples} samples / {batch} samples per batch = {it['key']:,} iterations."
    }
    global_batch = review["template-global-batch"]
    assert global_batch["key"] == [one["batch"]["letter"]]
    total = one["batch"]["gpus"] * one["batch"]["per_gpu"]
    assert global_batch["rationales"][one["batch"]["letter"]] == (
        f"{one['batch']['gpus']} GPUs x {one['batch']['per_gpu']} = {total:,}."
    )

    wrong = {r["question_id"]: r for r in results[1]["review"]}["template-iterations"]
    assert wrong["key"]["value"] == two["iterations"]["key"] and wrong["points"] == 0.0
    assert wrong["mistake"] == (
        f"{two['iterations']['mistake']:,} multiplies the samples by the batch size; divide them."
    )

    # the result page and the score report print the drawn numbers
    page = await client.get(f"/attempts/{first['id']}/result", headers=candidate.headers)
    assert page.status_code == 200 and f"has {samples} samples" in page.text
    report = await client.get(
        f"/api/v1/attempts/{first['id']}/report.pdf", headers=candidate.headers
    )
    assert report.status_code == 200

    # a changed template makes a new revision; the attempts keep the numbers they drew
    text = (bank_dir / "questions" / "templates.yaml").read_text(encoding="utf-8")
    (bank_dir / "questions" / "templates.yaml").write_text(
        text.replace("max: 90000", "max: 190000"), encoding="utf-8"
    )
    await import_folder(db_url, bank_dir)
    again = (
        await client.get(f"/api/v1/attempts/{first['id']}/result", headers=candidate.headers)
    ).json()
    assert again["review"] == results[0]["review"]

    # grading again from the stored attempt gives the same points and result
    engine = create_async_engine(db_url, poolclass=NullPool)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            for attempt, before in zip((first, second), results, strict=True):
                await session.execute(
                    delete(ResultObjective).where(ResultObjective.attempt_id == attempt["id"])
                )
                await session.execute(delete(Result).where(Result.attempt_id == attempt["id"]))
                regraded = await grade_attempt(session, attempt["id"])
                assert (regraded.raw_score, regraded.scaled_score) == (
                    before["raw_score"],
                    before["scaled_score"],
                )
            await session.commit()
    finally:
        await engine.dispose()
    for attempt, before in zip((first, second), results, strict=True):
        after = (
            await client.get(f"/api/v1/attempts/{attempt['id']}/result", headers=candidate.headers)
        ).json()
        assert after["review"] == before["review"]
        assert after["raw_score"] == before["raw_score"]


async def test_the_practice_check_uses_the_drawn_key(
    client: Client, people: dict[str, Person]
) -> None:
    candidate = people["candidate"]
    await template_blueprint(client, people["admin"], "template-practice", mode="practice")
    attempt = await start(client, candidate, "template-practice")
    values = drawn(attempt)
    it = values["iterations"]
    await save(client, candidate, attempt["id"], it["position"], it["key"] + 1)
    checked = await client.post(
        f"/api/v1/attempts/{attempt['id']}/responses/{it['position']}/check",
        headers=candidate.headers,
    )
    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert (body["correct"], body["key"]["value"]) == (False, it["key"])
    samples = f"{it['samples']:,}"
    assert body["rationales"]["key"].startswith(f"{samples} samples / {it['batch']:,} samples")


def pdf_text(pdf: bytes) -> str:
    pages = PdfReader(io.BytesIO(pdf)).pages
    return " ".join(" ".join((page.extract_text() or "").split()) for page in pages)


async def test_each_paper_form_prints_and_grades_its_own_numbers(
    client: Client, people: dict[str, Person], settings: Settings
) -> None:
    teacher = people["instructor"]
    sitters = await make_people(settings, *((f"sitter-{f}", "candidate") for f in "abcd"))
    await make_cohort(settings, teacher, list(sitters.values()))
    await template_blueprint(client, people["admin"], "template-paper")
    made = await client.post(
        "/api/v1/paper-exams",
        json={"blueprint_id": "template-paper", "title": "Numbers", "forms": 4, "seed": 11},
        headers=teacher.headers,
    )
    assert made.status_code == 201, made.text
    url = f"/api/v1/paper-exams/{made.json()['id']}"
    printed = {}
    for form in "ABCD":
        booklet = await client.get(
            f"{url}/booklet.pdf", params={"form": form}, headers=teacher.headers
        )
        assert booklet.status_code == 200, booklet.text
        text = pdf_text(booklet.content)
        assert "{" not in text
        found = re.search(r"has ([\d,]+) samples and the batch size is (\d+)\.", text)
        assert found is not None, text
        samples, batch = int(found[1].replace(",", "")), int(found[2])
        key = await client.get(
            f"{url}/key.pdf", params={"form": form, "format": "csv"}, headers=teacher.headers
        )
        rows = {int(r["question"]): r for r in csv.DictReader(io.StringIO(key.text))}
        numeric_row = next(n for n, r in rows.items() if r["type"] == "numeric")
        single_row = next(n for n, r in rows.items() if r["type"] == "single")
        assert rows[numeric_row]["answer"].split(" ")[0] == str(samples // batch)
        printed[form] = (samples, batch)

        answers = {numeric_row: str(samples // batch), single_row: rows[single_row]["answer"]}
        who = f"sitter-{form.lower()}"
        body = f"candidate,form,1,2\n{who},{form},{answers[1]},{answers[2]}\n"
        graded = await client.post(
            f"{url}/responses",
            content=body.encode(),
            headers={**teacher.headers, "content-type": "text/csv"},
        )
        assert graded.status_code == 200, graded.text
        attempt_id = graded.json()["imported"][0]["attempt_id"]
        result = (
            await client.get(f"/api/v1/attempts/{attempt_id}/result", headers=teacher.headers)
        ).json()
        assert result["raw_score"] == 2.0, result["review"]
        review = {r["question_id"]: r for r in result["review"]}
        assert f"has {samples:,} samples" in review["template-iterations"]["stem"]
    assert len(set(printed.values())) > 1, printed
