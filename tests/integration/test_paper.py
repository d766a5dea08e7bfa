"""Paper exams over the API on both databases: forms, printouts, paper answers graded."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pypdf import PdfReader

from exam_service.settings import Settings
from tests.factories import Person, import_folder, make_cohort, make_people

Client = AsyncTestClient  # type: ignore[type-arg]


@pytest.fixture
async def paper(
    client: Client, db_url: str, bank_dir: Path, people: dict[str, Person], cohort_id: int
) -> dict[str, Any]:
    await import_folder(db_url, bank_dir)
    response = await client.post(
        "/api/v1/paper-exams",
        json={
            "blueprint_id": "starter-mock",
            "title": "Spring mock",
            "forms": 3,
            "seed": 42,
            "paper": "letter",
        },
        headers=people["instructor"].headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def key_of(client: Client, who: Person, exam_id: int, form: str) -> list[dict[str, str]]:
    response = await client.get(
        f"/api/v1/paper-exams/{exam_id}/key.pdf",
        params={"form": form, "format": "csv"},
        headers=who.headers,
    )
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.text)))


def pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages)


async def test_forms_are_reproducible_and_differ(
    client: Client, people: dict[str, Person], paper: dict[str, Any]
) -> None:
    teacher = people["instructor"]
    assert paper["forms"] == ["A", "B", "C"] and paper["question_count"] == 5
    assert paper["paper"] == "letter" and paper["seed"] == 42
    keys = {f: await key_of(client, teacher, paper["id"], f) for f in paper["forms"]}
    assert [row["question"] for row in keys["A"]] == ["1", "2", "3", "4", "5"]
    assert all(row["answer"] for form in keys.values() for row in form)
    again = await client.post(
        "/api/v1/paper-exams",
        json={"blueprint_id": "starter-mock", "title": "Again", "forms": 3, "seed": 42},
        headers=teacher.headers,
    )
    assert again.status_code == 201
    assert await key_of(client, teacher, again.json()["id"], "B") == keys["B"]
    assert len({tuple((r["type"], r["answer"]) for r in k) for k in keys.values()}) > 1


async def test_printouts(client: Client, people: dict[str, Person], paper: dict[str, Any]) -> None:
    teacher = people["instructor"]
    booklet = await client.get(
        f"/api/v1/paper-exams/{paper['id']}/booklet.pdf",
        params={"form": "B"},
        headers=teacher.headers,
    )
    assert booklet.status_code == 200 and booklet.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(booklet.content))
    assert (float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)) == (
        612,
        792,
    )
    text = pdf_text(booklet.content)
    assert "Spring mock" in text and "Form B" in text
    sheets = await client.get(
        f"/api/v1/paper-exams/{paper['id']}/answer-sheets.pdf",
        params={"form": "A", "candidates": "candidate", "blank": 2},
        headers=teacher.headers,
    )
    assert sheets.status_code == 200 and len(PdfReader(io.BytesIO(sheets.content)).pages) == 3
    stranger = await client.get(
        f"/api/v1/paper-exams/{paper['id']}/answer-sheets.pdf",
        params={"candidates": "other-candidate"},
        headers=teacher.headers,
    )
    assert stranger.status_code == 422 and "other-candidate" in stranger.json()["detail"]
    no_form = await client.get(
        f"/api/v1/paper-exams/{paper['id']}/booklet.pdf",
        params={"form": "Q"},
        headers=teacher.headers,
    )
    assert no_form.status_code == 404 and "its forms are A, B, C" in no_form.json()["detail"]
    other = await client.get(
        f"/api/v1/paper-exams/{paper['id']}", headers=people["other-instructor"].headers
    )
    assert other.status_code == 404


async def test_paper_answers_are_graded_like_online(
    client: Client, people: dict[str, Person], paper: dict[str, Any]
) -> None:
    teacher = people["instructor"]
    key = [row["answer"] for row in await key_of(client, teacher, paper["id"], "B")]
    url = f"/api/v1/paper-exams/{paper['id']}/responses"
    graded = await client.post(
        url,
        json={"responses": [{"candidate": "candidate", "form": "b", "answers": key}]},
        headers=teacher.headers,
    )
    assert graded.status_code == 200, graded.text
    report = graded.json()
    assert report["errors"] == []
    [row] = report["imported"]
    assert (row["candidate"], row["form"], row["scaled_score"], row["passed"]) == (
        "candidate",
        "B",
        1000,
        True,
    )
    result = await client.get(
        f"/api/v1/attempts/{row['attempt_id']}/result", headers=teacher.headers
    )
    body = result.json()
    assert body["raw_percent"] == 100 and {"D2", "MLA-C01"} <= {
        o["code"] for o in body["objectives"]
    }
    assert all(r["answer"] == r["key"] for r in body["review"])
    listed = await client.get("/api/v1/attempts", headers=people["candidate"].headers)
    assert [a["id"] for a in listed.json()] == [row["attempt_id"]]

    again = await client.post(
        url,
        json={"responses": [{"candidate": "candidate", "form": "B", "answers": key}]},
        headers=teacher.headers,
    )
    assert again.status_code == 422
    assert "already has a graded paper attempt" in again.json()["errors"][0]["message"]


async def test_bad_rows_name_row_and_column(
    client: Client, people: dict[str, Person], paper: dict[str, Any], settings: Settings
) -> None:
    teacher = people["instructor"]
    crowd = await make_people(settings, ("pat", "candidate"), ("sam", "candidate"))
    await make_cohort(settings, teacher, list(crowd.values()))
    rows_a = await key_of(client, teacher, paper["id"], "A")
    key = [row["answer"] for row in rows_a]
    single = next(int(r["question"]) for r in rows_a if r["type"] == "single")
    wrong = [("Z" if n == single else answer) for n, answer in enumerate(key, 1)]
    rows = [
        {"candidate": "pat", "form": "A", "answers": key},
        {"candidate": "sam", "form": "A", "answers": wrong},
        {"candidate": "nobody", "form": "D", "answers": key[:2]},
    ]
    url = f"/api/v1/paper-exams/{paper['id']}/responses"
    refused = await client.post(url, json={"responses": rows}, headers=teacher.headers)
    assert refused.status_code == 422
    problems = {(e["row"], e["column"]) for e in refused.json()["errors"]}
    assert (2, str(single)) in problems
    assert (3, "candidate") in problems and (3, "form") in problems
    assert "nothing was imported" in refused.json()["detail"]
    first = next(e for e in refused.json()["errors"] if e["row"] == 2)
    assert f"question {single}: unknown option 'Z'" in first["message"]

    partial = await client.post(
        url, json={"responses": rows}, params={"partial": "true"}, headers=teacher.headers
    )
    assert partial.status_code == 200
    assert [r["candidate"] for r in partial.json()["imported"]] == ["pat"]
    assert len(partial.json()["errors"]) == 3


async def test_csv_answers(
    client: Client, people: dict[str, Person], paper: dict[str, Any]
) -> None:
    teacher = people["instructor"]
    key = [row["answer"] for row in await key_of(client, teacher, paper["id"], "C")]
    blank_some = ["", *key[1:]]
    text = "candidate,form,1,2,3,4,5\n" + "candidate,C," + ",".join(blank_some) + "\n"
    response = await client.post(
        f"/api/v1/paper-exams/{paper['id']}/responses",
        content=text.encode(),
        headers={**teacher.headers, "content-type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["imported"][0]["raw_percent"] == 80.0
    bad_header = await client.post(
        f"/api/v1/paper-exams/{paper['id']}/responses",
        content=b"who,form,1\nx,A,B\n",
        headers={**teacher.headers, "content-type": "text/csv"},
    )
    assert bad_header.status_code == 422
    assert bad_header.json()["errors"][0]["column"] == "header"
    # a quote never closed swallows the rest of the file into one cell over 128 KiB
    runaway = 'candidate,form,1\nana,C,B\nbo,C,"' + "A" * 200_000 + "\n"
    too_long = await client.post(
        f"/api/v1/paper-exams/{paper['id']}/responses",
        content=runaway.encode(),
        headers={**teacher.headers, "content-type": "text/csv"},
    )
    assert too_long.status_code == 422, too_long.text
    problem = next(e for e in too_long.json()["errors"] if e["column"] == "file")
    assert "longer than 128 KiB" in problem["message"] and problem["row"] == 3


async def test_scanned_sheets_are_read_and_graded(
    client: Client, people: dict[str, Person], paper: dict[str, Any], settings: Settings
) -> None:
    """An answer sheet printed by the API, marked with the key's letters on its bubbles,
    scanned at 150 dpi with a slight turn: read, identified and graded; a sheet with a
    light mark is sent to review instead."""
    import cv2
    import numpy as np
    import pypdfium2 as pdfium

    from exam_service.db import create_engine, session_factory
    from exam_service.models import PaperExam
    from exam_service.paper import service as paper_service
    from exam_service.paper.sheet import BUBBLE_RADIUS, form_sheet

    teacher = people["instructor"]
    exam_id = paper["id"]
    sheet_pdf = await client.get(
        f"/api/v1/paper-exams/{exam_id}/answer-sheets.pdf",
        params={"form": "A", "candidates": "candidate"},
        headers=teacher.headers,
    )
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            exam = await session.get_one(PaperExam, exam_id)
            await session.refresh(exam, ["forms"])
            layout = form_sheet(await paper_service.document(session, exam), "A")
    finally:
        await engine.dispose()
    key = {
        int(r["question"]): (r["type"], r["answer"])
        for r in await key_of(client, teacher, exam_id, "A")
    }
    dpi = 150
    page = pdfium.PdfDocument(sheet_pdf.content)[0]
    image = np.array(page.render(scale=dpi / 72, grayscale=True).to_numpy(), dtype=np.uint8)
    rows = {row.number: row for row in layout.rows}
    chosen = {n: answer for n, (kind, answer) in key.items() if kind in ("single", "multiple")}

    def fill(picture: np.ndarray, number: int, letter: str, ink: int) -> None:
        bubble = next(b for b in rows[number].bubbles if b.label == letter)
        centre = (round(bubble.x * dpi / 72), round(bubble.y * dpi / 72))
        cv2.circle(picture, centre, round(BUBBLE_RADIUS * dpi / 72 * 0.92), ink, -1)

    for number, letters in chosen.items():
        for letter in letters:
            fill(image, number, letter, 25)
    turn = cv2.getRotationMatrix2D((image.shape[1] / 2, image.shape[0] / 2), 1.5, 0.98)
    scanned = cv2.warpAffine(image, turn, image.shape[::-1], borderValue=255)
    ok, png = cv2.imencode(".png", scanned)
    assert ok

    response = await client.post(
        f"/api/v1/paper-exams/{exam_id}/scans",
        content=png.tobytes(),
        headers={**teacher.headers, "content-type": "image/png"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    [sheet] = report["sheets"]
    assert (sheet["status"], sheet["candidate"], sheet["form"]) == ("graded", "candidate", "A")
    read = {a["number"]: a["value"] for a in sheet["answers"]}
    assert {n: read[n] for n in chosen} == chosen
    expected = round(100 * len(chosen) / len(key), 1)
    result = await client.get(
        f"/api/v1/attempts/{sheet['attempt_id']}/result", headers=teacher.headers
    )
    assert result.json()["raw_percent"] == expected

    # The same sheet for another candidate with one faint mark goes to review, ungraded.
    faint = image.copy()
    first = min(chosen)
    fill(faint, first, "ABCDE"[("ABCDE".index(chosen[first][0]) + 1) % 4], 170)
    ok, png = cv2.imencode(".png", faint)
    again = await client.post(
        f"/api/v1/paper-exams/{exam_id}/scans",
        content=png.tobytes(),
        headers={**teacher.headers, "content-type": "image/png"},
    )
    sheet = again.json()["sheets"][0]
    assert sheet["status"] in ("review", "refused")
    if sheet["status"] == "review":
        assert any(a["status"] == "review" and a["crop_png_base64"] for a in sheet["answers"])
    junk = await client.post(
        f"/api/v1/paper-exams/{exam_id}/scans",
        content=b"not an image",
        headers={**teacher.headers, "content-type": "image/png"},
    )
    assert junk.status_code == 422 and "cannot be read" in junk.json()["detail"]
