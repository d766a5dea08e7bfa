"""Numeric questions on paper over the API on both databases: the booklet tells where to
write the number, the key gives the accepted range, the answer sheet has a digit grid per
numeric question; a sheet with the grids filled in is scanned, read to numbers and graded
like typed answers; an unclear column sends the sheet to review saying which column; a key
the grid cannot hold is refused before anything is printed."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
from litestar.testing import AsyncTestClient
from pypdf import PdfReader

from exam_service.bank.loader import load_bank
from exam_service.db import create_engine, session_factory
from exam_service.models import PaperExam
from exam_service.paper import service as paper_service
from exam_service.paper.answers import numeric_key_parts
from exam_service.paper.sheet import BUBBLE_RADIUS, MINUS, SheetLayout, form_sheet
from exam_service.settings import Settings
from tests.factories import Person, import_folder, write_questions
from tests.integration.exam_helpers import make_blueprint
from tests.integration.test_accounts import browser_sign_in
from tests.integration.test_numeric import NUMERIC_QUESTIONS

Client = AsyncTestClient  # type: ignore[type-arg]

NEGATIVE_QUESTION = """\
questions:
  - id: loss-change
    type: numeric
    objectives: [D4]
    difficulty: easy
    source: "Test: a negative answer"
    stem: The validation loss went from 4.25 to 0.75. By how much did it change?
    answer: -3.5
    tolerance: 0.05
    rationale: 0.75 - 4.25 = -3.5.
    explanation: A change is the new value minus the old one; a fall is negative.
"""
HUGE_QUESTION = """\
questions:
  - id: tokens-seen
    type: numeric
    objectives: [D1]
    difficulty: easy
    source: "Test: a number too long for the grid"
    stem: How many tokens does a run of 40,000 steps of 4,096 sequences of 2,048 tokens see?
    answer: 335544320000
    rationale: 40,000 x 4,096 x 2,048.
    explanation: Tokens per step times steps.
"""
DPI = 150


@pytest.fixture(autouse=True)
async def bank(db_url: str, bank_dir: Path, cohort_id: int) -> None:
    write_questions(bank_dir, "numeric.yaml", NUMERIC_QUESTIONS)
    write_questions(bank_dir, "negative.yaml", NEGATIVE_QUESTION)
    await import_folder(db_url, bank_dir)


@pytest.fixture
async def exam_id(client: Client, people: dict[str, Person]) -> int:
    await make_blueprint(
        client,
        people["admin"],
        "numbers-on-paper",
        question_count=4,
        objective_counts={"D3": 2, "D4": 2},
    )
    made = await client.post(
        "/api/v1/paper-exams",
        json={"blueprint_id": "numbers-on-paper", "title": "Numbers", "forms": 2, "seed": 3},
        headers=people["instructor"].headers,
    )
    assert made.status_code == 201, made.text
    identifier: int = made.json()["id"]
    return identifier


async def get(client: Client, who: Person, exam: int, printout: str, **params: Any) -> Any:
    response = await client.get(
        f"/api/v1/paper-exams/{exam}/{printout}", params=params, headers=who.headers
    )
    assert response.status_code == 200, response.text
    return response


def text_of(pdf: bytes) -> str:
    pages = PdfReader(io.BytesIO(pdf)).pages
    return " ".join(" ".join((page.extract_text() or "").split()) for page in pages)


async def key_rows(client: Client, who: Person, exam: int, form: str) -> dict[int, str]:
    response = await get(client, who, exam, "key.pdf", form=form, format="csv")
    return {int(r["question"]): r["answer"] for r in csv.DictReader(io.StringIO(response.text))}


async def layout_of(settings: Settings, exam: int, form: str) -> SheetLayout:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            paper = await session.get_one(PaperExam, exam)
            await session.refresh(paper, ["forms"])
            return form_sheet(await paper_service.document(session, paper), form)
    finally:
        await engine.dispose()


def fill(image: np.ndarray, layout: SheetLayout, number: int, text: str) -> None:
    """Bubble `text` in question `number`'s grid, from the first digit column (a minus in
    the sign column), as a candidate would with a dark pen."""
    row = next(r for r in layout.rows if r.number == number)
    sign, rest = (MINUS, text[1:]) if text.startswith("-") else ("", text)
    places = [(0, sign)] if sign else []
    places += [(column, character) for column, character in enumerate(rest, 1)]
    for column, character in places:
        bubble = next(b for b in row.columns[column] if b.label == character)
        centre = (round(bubble.x * DPI / 72), round(bubble.y * DPI / 72))
        cv2.circle(image, centre, round(BUBBLE_RADIUS * DPI / 72 * 0.92), 25, -1)


def as_png(image: np.ndarray, angle: float) -> bytes:
    turn = cv2.getRotationMatrix2D((image.shape[1] / 2, image.shape[0] / 2), angle, 0.98)
    turned = cv2.warpAffine(image, turn, image.shape[::-1], borderValue=255)
    ok, data = cv2.imencode(".png", turned)
    assert ok
    return bytes(data.tobytes())


async def test_printouts_say_where_the_number_goes_and_what_is_accepted(
    client: Client, people: dict[str, Person], exam_id: int
) -> None:
    teacher = people["instructor"]
    key = await key_rows(client, teacher, exam_id, "B")
    assert len(key) == 4
    iterations = next(n for n, text in key.items() if text.startswith("1200"))
    assert key[iterations] == "1200 (\u00b1 2%: 1176 to 1224; partial 1140 to 1260)"
    assert any(text == "-3.5 (\u00b1 0.05: -3.55 to -3.45)" for text in key.values())
    assert any(text == "256" for text in key.values())  # an exact key: the number alone

    booklet = text_of((await get(client, teacher, exam_id, "booklet.pdf", form="B")).content)
    assert (
        f"Write your answer (a number, in iterations) in the grid of question {iterations} "
        "on the answer sheet" in booklet
    )
    printed_key = text_of((await get(client, teacher, exam_id, "key.pdf", form="B")).content)
    assert f"{iterations} numeric 1200 iterations" in printed_key
    assert "accepted: \u00b1 2%: 1176 to 1224; partial 1140 to 1260" in printed_key
    sheets = await get(
        client, teacher, exam_id, "answer-sheets.pdf", form="B", candidates="candidate"
    )
    sheet_text = text_of(sheets.content)
    assert all(f"Question {n}" in sheet_text for n in key)
    assert "Numeric questions: write the number" in sheet_text


async def test_filled_grids_are_scanned_and_graded_and_an_unclear_column_is_reviewed(
    client: Client, people: dict[str, Person], exam_id: int, settings: Settings
) -> None:
    teacher = people["instructor"]
    key = {
        n: numeric_key_parts(text)[0]
        for n, text in (await key_rows(client, teacher, exam_id, "A")).items()
    }
    written = {n: "69.8" if value == "70" else value for n, value in key.items()}
    layout = await layout_of(settings, exam_id, "A")
    pdf = await get(client, teacher, exam_id, "answer-sheets.pdf", form="A", candidates="candidate")
    page = pdfium.PdfDocument(pdf.content)[0]
    blank = np.array(page.render(scale=DPI / 72, grayscale=True).to_numpy(), dtype=np.uint8)
    image = blank.copy()
    for number, text in written.items():
        fill(image, layout, number, text)

    response = await client.post(
        f"/api/v1/paper-exams/{exam_id}/scans",
        content=as_png(image, 1.5),
        headers={**teacher.headers, "content-type": "image/png"},
    )

    assert response.status_code == 200, response.text
    [sheet] = response.json()["sheets"]
    assert (sheet["status"], sheet["candidate"], sheet["form"]) == ("graded", "candidate", "A")
    assert {a["number"]: (a["status"], a["value"]) for a in sheet["answers"]} == {
        n: ("ok", text) for n, text in written.items()
    }
    result = await client.get(
        f"/api/v1/attempts/{sheet['attempt_id']}/result", headers=teacher.headers
    )
    body = result.json()
    assert body["raw_percent"] == 100
    answers = {r["question_id"]: r["answer"] for r in body["review"]}
    assert answers == {
        "iterations-per-epoch": 1200,
        "spot-saving": 69.8,
        "global-batch": 256,
        "loss-change": -3.5,
    }

    # Another copy with a second bubble in one column is not guessed: it goes to review.
    unclear = blank.copy()
    for number, text in written.items():
        fill(unclear, layout, number, text)
    negative = next(n for n, text in written.items() if text.startswith("-"))
    row = next(r for r in layout.rows if r.number == negative)
    extra = next(b for b in row.columns[2] if b.label == "7")  # digit column 2 holds the point
    cv2.circle(
        unclear,
        (round(extra.x * DPI / 72), round(extra.y * DPI / 72)),
        round(BUBBLE_RADIUS * DPI / 72 * 0.92),
        25,
        -1,
    )
    again = await client.post(
        f"/api/v1/paper-exams/{exam_id}/scans",
        content=as_png(unclear, -1.0),
        headers={**teacher.headers, "content-type": "image/png"},
    )
    [sheet] = again.json()["sheets"]
    assert sheet["status"] == "review" and "attempt_id" not in sheet or not sheet["attempt_id"]
    reviewed = next(a for a in sheet["answers"] if a["number"] == negative)
    assert (reviewed["status"], reviewed["value"]) == ("review", "")
    assert reviewed["note"] == "digit column 2: two bubbles filled (. and 7)"
    assert reviewed["crop_png_base64"]
    others = [a for a in sheet["answers"] if a["number"] != negative]
    assert all(a["status"] == "ok" and a["note"] is None for a in others)


async def test_a_key_the_grid_cannot_hold_is_refused_before_printing(
    client: Client, people: dict[str, Person], db_url: str, bank_dir: Path
) -> None:
    write_questions(bank_dir, "huge.yaml", HUGE_QUESTION)
    await import_folder(db_url, bank_dir)
    await make_blueprint(
        client, people["admin"], "huge-number", question_count=1, objective_counts={"D1": 1}
    )
    made = await client.post(
        "/api/v1/paper-exams",
        json={"blueprint_id": "huge-number", "title": "Huge", "forms": 1},
        headers=people["instructor"].headers,
    )
    assert made.status_code == 201, made.text
    for printout in ("booklet.pdf", "key.pdf", "answer-sheets.pdf"):
        refused = await client.get(
            f"/api/v1/paper-exams/{made.json()['id']}/{printout}",
            params={"form": "A", "blank": 1},
            headers=people["instructor"].headers,
        )
        assert refused.status_code == 422, printout
        detail = refused.json()["detail"]
        assert "(question tokens-seen) has the answer 335544320000, which the answer " in detail
        assert "draw the paper exam from a blueprint without this question" in detail


async def test_paper_exams_from_the_default_bank_print(
    client: Client, people: dict[str, Person], db_url: str
) -> None:
    """The default bank's mock and practice set on paper, numeric questions and all: every
    draw made without a seed is one whose answers fit the sheet, on A4 and on Letter."""
    await import_folder(db_url, Path(__file__).parents[2] / "question_bank")
    teacher = people["instructor"]
    numeric = 0
    for blueprint, paper in [("seed-mock", "a4"), ("seed-mock", "letter")] * 3 + [
        ("seed-practice", "letter")
    ]:
        made = await client.post(
            "/api/v1/paper-exams",
            json={"blueprint_id": blueprint, "title": "Mock", "forms": 2, "paper": paper},
            headers=teacher.headers,
        )
        assert made.status_code == 201, made.text
        for form in ("A", "B"):
            for printout in ("booklet.pdf", "key.pdf", "answer-sheets.pdf"):
                await get(client, teacher, made.json()["id"], printout, form=form, blank=1)
        key = await get(client, teacher, made.json()["id"], "key.pdf", form="A", format="csv")
        numeric += sum(
            1 for row in csv.DictReader(io.StringIO(key.text)) if row["type"] == "numeric"
        )
    bank = load_bank(Path(__file__).parents[2] / "question_bank")
    if sum(1 for question in bank.questions if question.type == "numeric") >= 10:
        assert numeric > 0  # the bank's numeric questions were drawn, and printed


async def test_the_review_page_takes_the_number_a_person_reads(
    client: Client, people: dict[str, Person], exam_id: int, settings: Settings
) -> None:
    """The browser's scan page: a grid with a double mark comes back for review with what
    was read and a box for the number; the number typed is graded like the others."""
    teacher = people["instructor"]
    rows = await key_rows(client, teacher, exam_id, "A")
    written = {n: numeric_key_parts(text)[0] for n, text in rows.items()}
    layout = await layout_of(settings, exam_id, "A")
    pdf = await get(client, teacher, exam_id, "answer-sheets.pdf", form="A", candidates="candidate")
    page = pdfium.PdfDocument(pdf.content)[0]
    image = np.array(page.render(scale=DPI / 72, grayscale=True).to_numpy(), dtype=np.uint8)
    for number, text in written.items():
        fill(image, layout, number, text)
    negative = next(n for n, text in written.items() if text.startswith("-"))
    fill(image, layout, negative, "-37")  # digit column 2 holds the point and a 7

    csrf = await browser_sign_in(client, "instructor")
    scanned = await client.post(
        f"/paper/{exam_id}/scans",
        files={"file": ("sheets.png", as_png(image, 1.0), "image/png")},
        data={"_csrf_token": csrf},
    )

    assert scanned.status_code == 200, scanned.text
    assert f'Question {negative} <span class="muted">(a number, in a digit grid)' in scanned.text
    assert "digit column 2: two bubbles filled (. and 7)" in scanned.text
    assert f'name="p1-q{negative}"' in scanned.text and 'inputmode="decimal"' in scanned.text
    state = re.search(r'name="state" value="([^"]*)"', scanned.text)
    assert state is not None
    graded = await client.post(
        f"/paper/{exam_id}/reviews",
        data={
            "_csrf_token": csrf,
            "state": html.unescape(state.group(1)),
            "filename": "sheets.png",
            "grade": "1",
            "p1-candidate": "candidate",
            f"p1-q{negative}": "-3.5",
        },
    )
    assert graded.status_code == 200, graded.text
    assert "Page 1 graded: candidate, form A, 100.0%" in graded.text
