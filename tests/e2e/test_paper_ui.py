"""An instructor grades a paper exam in a real browser: creates it, uploads paper answers as
CSV (a refused batch first, with its problems listed by line and column), then uploads a
scan whose unclear marks and written boxes are settled on the review form and graded."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from exam_service.db import create_engine, session_factory
from exam_service.models import PaperExam
from exam_service.paper import service as paper_service
from exam_service.paper.sheet import SheetLayout, form_sheet
from tests.e2e.conftest import FIXTURE_BANK, Server, every_type_bank, shoot
from tests.unit.test_paper_scan import Pen, pdf_of, rasterise

pytestmark = pytest.mark.e2e

DPI = 150


def create_paper_exam(page: Page, server: Server, title: str, forms: int) -> int:
    """Through the /paper form; returns the new exam's id from the page it lands on."""
    page.goto(f"{server.url}/paper")
    page.get_by_label("Blueprint").select_option(label="Starter mock exam")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Forms").fill(str(forms))
    page.get_by_role("button", name="Create paper exam").click()
    page.wait_for_url(re.compile(r"/paper/\d+$"))
    expect(page.locator("h1")).to_have_text(title)
    found = re.search(r"/paper/(\d+)$", page.url)
    assert found is not None
    return int(found[1])


def key_of(page: Page, server: Server, exam_id: int, form: str) -> list[dict[str, str]]:
    url = f"{server.url}/api/v1/paper-exams/{exam_id}/key.pdf?form={form}&format=csv"
    response = page.request.get(url)
    assert response.ok, response.text()
    return list(csv.DictReader(io.StringIO(response.text())))


def sheet_layout(server: Server, exam_id: int, form: str) -> SheetLayout:
    """Where the bubbles and boxes of a form's answer sheet are, from the server's database
    (in another thread: Playwright's sync API keeps an event loop running in this one)."""

    async def load() -> SheetLayout:
        engine = create_engine(server.database_url)
        try:
            async with session_factory(engine)() as session:
                exam = await session.get_one(PaperExam, exam_id)
                await session.refresh(exam, ["forms"])
                return form_sheet(await paper_service.document(session, exam), form)
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, load()).result()


def test_instructor_grades_a_csv_of_paper_answers(serve: Any, page: Page, tmp_path: Path) -> None:
    server: Server = serve(FIXTURE_BANK)
    server.sign_in(page, "instructor")
    exam_id = create_paper_exam(page, server, "Spring <b>paper</b>", 2)
    assert page.locator("h1 b").count() == 0
    key = [row["answer"] for row in key_of(page, server, exam_id, "B")]
    good = ",".join(["candidate", "B", "", *key[1:]])

    # Pasted, with two bad lines and no "grade the good rows": nothing is imported.
    pasted = "\n".join(
        [f"candidate,form,{','.join(str(n) for n in range(1, len(key) + 1))}", good]
        + [f"nobody,B,{','.join(key)}", f"candidate,Z,{','.join(key)}"]
    )
    page.get_by_label("Or paste the rows, header first").fill(pasted)
    page.get_by_role("button", name="Grade answers").click()
    expect(page.locator("#answers-outcome [role=alert]")).to_contain_text("nothing was imported")
    problems = page.locator("#answer-errors tbody tr")
    expect(problems.filter(has_text="nobody")).to_contain_text(re.compile(r"^3\s*candidate"))
    expect(problems.filter(has_text="form 'Z' does not exist")).to_contain_text(
        re.compile(r"^4\s*form")
    )
    expect(page.locator("#answer-scores")).to_have_count(0)
    expect(page.get_by_label("Or paste the rows, header first")).to_have_value(pasted)
    shoot(page, "paper-answers-refused")

    # The good line as a file whose name looks like markup: graded, the name shown as text.
    page.get_by_label("Or paste the rows, header first").fill("")
    header = f"candidate,form,{','.join(str(n) for n in range(1, len(key) + 1))}"
    page.get_by_label("CSV file").set_input_files(
        files=[
            {
                "name": "<i>spring</i>.csv",
                "mimeType": "text/csv",
                "buffer": f"{header}\n{good}\n".encode(),
            }
        ]
    )
    page.get_by_role("button", name="Grade answers").click()
    expect(page.locator("#answers-outcome h3")).to_have_text("Result for <i>spring</i>.csv")
    expect(page.locator("#answers-outcome [role=status]")).to_have_text("1 sheet graded.")
    score = page.locator("#answer-scores tbody tr")
    expect(score).to_have_count(1)
    percent = round(100 * (len(key) - 1) / len(key), 1)
    expect(score).to_contain_text(re.compile(rf"candidate\s*B\s*{percent}%"))
    assert page.locator("#answers-outcome i").count() == 0
    shoot(page, "paper-answers-graded")
    score.get_by_role("link", name="details for candidate").click()
    expect(page.locator("#verdict")).to_have_text(re.compile("^(Pass|Fail)$"))


def test_instructor_reviews_a_scanned_sheet(serve: Any, page: Page, tmp_path: Path) -> None:
    """A sheet with a light mark, an ordering and a matching written in boxes (all three
    go to review) and an empty second page (unreadable) in one PDF."""
    server: Server = serve(every_type_bank(tmp_path / "bank"))
    server.sign_in(page, "instructor")
    exam_id = create_paper_exam(page, server, "Scanned mock", 1)
    key = {
        int(row["question"]): (row["type"], row["answer"])
        for row in key_of(page, server, exam_id, "A")
    }
    layout = sheet_layout(server, exam_id, "A")
    printed = page.request.get(
        f"{server.url}/api/v1/paper-exams/{exam_id}/answer-sheets.pdf?form=A&candidates=candidate"
    )
    assert printed.ok
    [image] = rasterise(printed.body(), DPI)
    pen = Pen(image, DPI)
    light = next(n for n, (kind, _) in sorted(key.items()) if kind == "single")
    for row in layout.rows:
        kind, answer = key[row.number]
        if kind in ("ordering", "matching"):
            for box, letter in zip(row.boxes, answer, strict=True):
                pen.write(box.x, box.bottom, letter)
            continue
        for bubble in row.bubbles:
            if bubble.label in answer:
                (pen.light if row.number == light else pen.solid)(bubble.x, bubble.y)
    scan = pdf_of([pen.image, np.full_like(pen.image, 255)], DPI)

    page.get_by_label("Scan file").set_input_files(
        files=[{"name": "room 4.pdf", "mimeType": "application/pdf", "buffer": scan}]
    )
    page.get_by_role("button", name="Read scans").click()
    pages = page.locator("#scan-pages li")
    expect(pages).to_have_count(2)
    expect(pages.nth(0)).to_contain_text("Needs review")
    expect(pages.nth(1)).to_contain_text("Unreadable")
    expect(pages.nth(1)).to_contain_text("no answer sheet found")
    sheet = page.locator("#sheet-1")
    written = [n for n, (kind, _) in key.items() if kind in ("ordering", "matching")]
    entries = sheet.locator("fieldset.review-entry")
    expect(entries).to_have_count(1 + len(written))
    single = page.locator(f"#p1-q{light}-set")
    expect(single.locator(".reading")).to_contain_text(f"{key[light][1]} unclear")
    for entry in range(entries.count()):
        image_width = entries.nth(entry).locator("img").evaluate("img => img.naturalWidth")
        assert image_width > 100
    expect(sheet.get_by_label("Candidate username")).to_have_value("candidate")
    shoot(page, "paper-scan-review")

    # Enter in a text box does not grade a sheet (it would grade the first one on the form).
    posts: list[str] = []
    page.on(
        "request", lambda request: posts.append(request.url) if request.method == "POST" else None
    )
    sheet.get_by_label("Candidate username").press("Enter")
    page.wait_for_timeout(300)
    assert posts == []

    # Graded without choosing the light mark's answer: refused, saying what to do.
    sheet.get_by_role("button", name="Grade page 1").click()
    expect(page.locator("#sheet-1 [role=alert]")).to_contain_text("not settled")
    expect(page.locator(f"#p1-q{light}-set .error")).to_contain_text("Choose the answer")
    expect(page.locator("#review-graded")).to_have_count(0)

    single.get_by_label(re.compile(rf"^{key[light][1]}\.")).check()
    for number in written:
        kind, answer = key[number]
        entry = page.locator(f"#p1-q{number}-set")
        if kind == "ordering":
            entry.get_by_label("Letters in the order written").fill(answer.lower())
        else:
            for index, letter in enumerate(answer, 1):
                entry.locator(f"#p1-q{number}-{index}").select_option(letter)
    page.locator("#sheet-1").get_by_role("button", name="Grade page 1").click()
    graded = page.locator("#review-graded")
    expect(graded).to_contain_text("Page 1 graded: candidate, form A, 100.0%")
    expect(page.locator("#sheet-1")).to_have_count(0)
    expect(pages.nth(0)).to_contain_text("Graded")
    expect(pages.nth(1)).to_contain_text("Unreadable")
    shoot(page, "paper-scan-graded")
    link = graded.get_by_role("link", name="details for candidate").get_attribute("href")
    attempt = re.search(r"/attempts/(\d+)/result$", link or "")
    assert attempt is not None
    result = page.request.get(f"{server.url}/api/v1/attempts/{attempt[1]}/result").json()
    assert result["raw_percent"] == 100.0
