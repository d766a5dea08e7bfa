"""Scanning answer sheets: sheets rendered by the service, rasterised, marked by "candidates"
on the image, then turned, shrunk and made noisy like a real scan, read back to the marks
that were made, with everything ambiguous sent to review and unreadable pages reported."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import pypdfium2 as pdfium
import pytest
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from exam_service.paper.document import (
    PaperExamDocument,
    PaperQuestion,
    PrintedForm,
    SheetCandidate,
)
from exam_service.paper.pdf import answer_sheets_pdf
from exam_service.paper.scan import (
    BLANK,
    FILLED,
    SheetReading,
    read_page,
    read_scans,
)
from exam_service.paper.sheet import BUBBLE_RADIUS, SheetLayout, form_sheet, page_size

Image = npt.NDArray[np.uint8]
EXAM_ID = 42
PNG = b"\x89PNG\r\n\x1a\n"


# ---- factories --------------------------------------------------------------------------


def question(number: int) -> PaperQuestion:
    """A realistic mix: every tenth question from the third multiple choice, from the sixth
    ordering, from the ninth matching; 20-22 share a case; the rest single choice with four
    or five options."""
    common = {"number": number, "question_key": f"q{number}", "stem": f"Stem {number}"}
    if 20 <= number <= 22:
        common |= {"case_id": "c1", "case_title": "Ward", "case_scenario": "A patient."}
    kind = number % 10
    if kind == 3:
        return PaperQuestion(type="multiple", options=tuple("vwxyz"), choose=2, **common)
    if kind == 6:
        return PaperQuestion(type="ordering", options=tuple("wxyz"), **common)
    if kind == 9:
        return PaperQuestion(
            type="matching", prompts=("1", "2", "3"), choices=tuple("pqr"), **common
        )
    return PaperQuestion(type="single", options=tuple("vwxyz"[: 4 + number % 2]), **common)


def paper_exam(paper: str = "a4", questions: int = 65) -> PaperExamDocument:
    items = tuple(question(number) for number in range(1, questions + 1))
    form = PrintedForm(code="A", questions=items, key=tuple("A" for _ in items))
    return PaperExamDocument(
        exam_id=EXAM_ID, title="Scan test", paper=paper, time_minutes=60, forms=(form,)
    )


def lookup(doc: PaperExamDocument) -> Callable[[int, str], SheetLayout | None]:
    def sheets(exam_id: int, form: str) -> SheetLayout | None:
        if exam_id != doc.exam_id or form not in {f.code for f in doc.forms}:
            return None
        return form_sheet(doc, form)

    return sheets


def person(number: str = "12345678") -> SheetCandidate:
    return SheetCandidate(username=f"u{number}", display_name=f"Candidate {number}", number=number)


def rasterise(pdf: bytes, dpi: int) -> list[Image]:
    document = pdfium.PdfDocument(pdf)
    try:
        pages = []
        for page in document:
            pixels = page.render(scale=dpi / 72, grayscale=True).to_numpy()
            pages.append(np.array(pixels, dtype=np.uint8))
        return pages
    finally:
        document.close()


@dataclass
class Pen:
    """Marks a rasterised sheet the way candidates do, in the sheet's own coordinates."""

    image: Image
    dpi: int

    @property
    def scale(self) -> float:
        return self.dpi / 72

    def _centre(self, x: float, y: float) -> tuple[int, int]:
        return round(x * self.scale), round(y * self.scale)

    def _radius(self) -> int:
        return round(BUBBLE_RADIUS * self.scale * 0.92)

    def solid(self, x: float, y: float) -> None:
        cv2.circle(self.image, self._centre(x, y), self._radius(), 25, -1, cv2.LINE_AA)

    def light(self, x: float, y: float) -> None:
        """A 35% grey fill: a pencil barely pressed."""
        cv2.circle(self.image, self._centre(x, y), self._radius(), 166, -1, cv2.LINE_AA)

    def half(self, x: float, y: float) -> None:
        radius = self._radius()
        cv2.ellipse(self.image, self._centre(x, y), (radius, radius), 0, 0, 180, 25, -1)

    def cross(self, x: float, y: float) -> None:
        """An X through the bubble, with a pen line of about 1.2 pt."""
        cx, cy = self._centre(x, y)
        reach, width = round(BUBBLE_RADIUS * self.scale), max(1, round(1.2 * self.scale))
        for dx in (-reach, reach):
            cv2.line(
                self.image, (cx - dx, cy - reach), (cx + dx, cy + reach), 25, width, cv2.LINE_AA
            )

    def write(self, x: float, y: float, text: str) -> None:
        origin = (round((x + 3) * self.scale), round((y - 3) * self.scale))
        cv2.putText(
            self.image,
            text,
            origin,
            cv2.FONT_HERSHEY_SIMPLEX,
            0.16 * self.scale,
            30,
            max(1, round(self.scale * 0.8)),
            cv2.LINE_AA,
        )


def scanned(image: Image, angle: float, scale: float, noise: float, seed: int = 7) -> Image:
    """As a scanner returns it: turned by `angle` degrees, scaled, with sensor noise."""
    height, width = image.shape
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale)
    turned = cv2.warpAffine(image, turn, (width, height), borderValue=255)
    grain = np.random.default_rng(seed).normal(0, noise, turned.shape)
    return np.clip(turned + grain, 0, 255).astype(np.uint8)


def png(image: Image) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok
    return bytes(data.tobytes())


def jpeg(image: Image, quality: int = 85) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(data.tobytes())


def pdf_of(images: list[Image | None], dpi: int) -> bytes:
    """A scanner's multi-page PDF: each image on an A4 page; None is an empty page."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=page_size("a4"))
    width, height = page_size("a4")
    for image in images:
        if image is not None:
            canvas.drawImage(ImageReader(io.BytesIO(png(image))), 0, 0, width, height)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# What the candidate did on each question of the marked sheet, and what must be read.
SOLID = {1: "B", 3: "AD", 11: "C", 12: "D", 13: "BCE", 21: "D", 30: "A", 65: "B"}
LIGHT, HALF, CROSSED = {5: "C"}, {8: "A"}, {4: "A"}
CROSSED_AND_SOLID = {14: ("B", "D")}
DOUBLE = {7: "AC"}
WRITTEN = {6: "CADB", 19: "BAC"}


def mark(image: Image, dpi: int, layout: SheetLayout) -> Image:
    pen, rows = Pen(image.copy(), dpi), {row.number: row for row in layout.rows}

    def bubble(number: int, letter: str) -> tuple[float, float]:
        found = next(b for b in rows[number].bubbles if b.label == letter)
        return found.x, found.y

    for number, letters in {**SOLID, **DOUBLE}.items():
        for letter in letters:
            pen.solid(*bubble(number, letter))
    for marks, draw in ((LIGHT, pen.light), (HALF, pen.half), (CROSSED, pen.cross)):
        for number, letter in marks.items():
            draw(*bubble(number, letter))
    for number, (crossed, solid) in CROSSED_AND_SOLID.items():
        pen.cross(*bubble(number, crossed))
        pen.solid(*bubble(number, solid))
    for number, letters in WRITTEN.items():
        for box, letter in zip(rows[number].boxes, letters, strict=True):
            pen.write(box.x, box.bottom, letter)
    return pen.image


def assert_read_as_marked(reading: SheetReading, number: str = "12345678") -> None:
    assert reading.problems == []
    assert (reading.exam_id, reading.form, reading.candidate_number) == (EXAM_ID, "A", number)
    assert [answer.number for answer in reading.answers] == list(range(1, 66))
    review = {**LIGHT, **HALF, **CROSSED, **CROSSED_AND_SOLID, **DOUBLE, **WRITTEN}
    for answer in reading.answers:
        if answer.number in SOLID:
            assert (answer.status, answer.value) == ("ok", SOLID[answer.number]), answer
            assert answer.confidence >= 0.75
        elif answer.number in review:
            assert (answer.status, answer.value) == ("review", ""), answer
            assert answer.crop_png is not None and answer.crop_png.startswith(PNG)
        else:
            assert (answer.status, answer.value) == ("blank", ""), answer
            assert answer.crop_png is None
    assert {answer.number for answer in reading.reviews} == set(review)


# ---- tests ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dpi", "angle", "scale", "noise"),
    [(150, 2.0, 0.97, 6.0), (150, -3.0, 1.0, 10.0), (300, -2.5, 0.97, 8.0), (300, 3.0, 1.02, 4.0)],
)
def test_marked_sheet_reads_back_through_a_rough_scan(
    dpi: int, angle: float, scale: float, noise: float
) -> None:
    doc = paper_exam()
    layout = form_sheet(doc, "A")
    (sheet,) = rasterise(answer_sheets_pdf(doc, "A", [person()]), dpi)
    image = scanned(mark(sheet, dpi, layout), angle, scale, noise)

    (reading,) = read_scans(png(image), "image/png", lookup(doc))

    assert reading.page == 1
    assert_read_as_marked(reading)


def test_crossed_out_and_light_marks_read_lighter_than_solid_fills() -> None:
    doc = paper_exam()
    layout = form_sheet(doc, "A")
    (sheet,) = rasterise(answer_sheets_pdf(doc, "A", [person()]), 150)
    reading = read_page(scanned(mark(sheet, 150, layout), 1.0, 0.98, 6.0), 1, lookup(doc))
    answers = {answer.number: answer for answer in reading.answers}
    solid = answers[1].fills[1]  # B, filled
    crossed = answers[4].fills[0]  # A, an X through it
    light = answers[5].fills[2]  # C, 35% grey
    half = answers[8].fills[0]  # A, half filled
    assert solid > 0.8
    for unclear in (crossed, light, half):
        assert BLANK < unclear < FILLED
    assert max(answers[10].fills) < BLANK  # untouched


def test_a_jpeg_letter_sheet_reads_the_same() -> None:
    doc = paper_exam("letter")
    layout = form_sheet(doc, "A")
    (sheet,) = rasterise(answer_sheets_pdf(doc, "A", [person("90210")]), 200)
    image = scanned(mark(sheet, 200, layout), -1.5, 0.97, 5.0)

    (reading,) = read_scans(jpeg(image), "image/jpeg", lookup(doc))

    assert_read_as_marked(reading, "90210")


def test_an_upside_down_or_sideways_scan_is_turned_the_right_way() -> None:
    doc = paper_exam()
    layout = form_sheet(doc, "A")
    (sheet,) = rasterise(answer_sheets_pdf(doc, "A", [person()]), 150)
    marked = scanned(mark(sheet, 150, layout), 1.0, 0.98, 5.0)
    for turn in (cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE):
        turned = np.asarray(cv2.rotate(marked, turn), dtype=np.uint8)
        assert_read_as_marked(read_page(turned, 1, lookup(doc)))


def test_a_pdf_of_two_sheets_and_a_blank_page_reports_every_page() -> None:
    doc = paper_exam()
    layout = form_sheet(doc, "A")
    first, second = rasterise(answer_sheets_pdf(doc, "A", [person(), person("777")]), 150)
    upload = pdf_of(
        [scanned(mark(first, 150, layout), 1.5, 0.98, 5.0), None, scanned(second, -2, 1, 5)],
        150,
    )

    readings = read_scans(upload, "application/pdf", lookup(doc))

    assert [reading.page for reading in readings] == [1, 2, 3]
    assert_read_as_marked(readings[0])
    blank = readings[1]
    assert (blank.exam_id, blank.form, blank.candidate_number, blank.answers) == (
        None,
        None,
        None,
        [],
    )
    assert "corner squares" in blank.problems[0]
    untouched = readings[2]
    assert untouched.problems == [] and untouched.candidate_number == "777"
    assert {answer.status for answer in untouched.answers} == {"blank"}


def test_a_spare_sheet_takes_the_candidate_number_from_the_bubbles() -> None:
    doc = paper_exam()
    (sheet,) = rasterise(answer_sheets_pdf(doc, "A", [person("")]), 150)
    pen = Pen(sheet.copy(), 150)
    frame = form_sheet(doc, "A").frame
    for column, digit in zip(frame.number_grid, "31415", strict=False):
        bubble = column[int(digit)]
        pen.solid(bubble.x, bubble.y)

    reading = read_page(scanned(pen.image, 1.0, 1.0, 5.0), 1, lookup(doc))

    assert (reading.exam_id, reading.form, reading.candidate_number) == (EXAM_ID, "A", "31415")
    assert reading.problems == []


def test_number_bubbles_that_contradict_the_qr_code_are_reported() -> None:
    doc = paper_exam()
    (sheet,) = rasterise(answer_sheets_pdf(doc, "A", [person("1234")]), 150)
    pen = Pen(sheet.copy(), 150)
    extra = form_sheet(doc, "A").frame.number_grid[4][9]
    pen.solid(extra.x, extra.y)

    reading = read_page(pen.image, 1, lookup(doc))

    assert reading.candidate_number is None
    assert any("QR code says candidate 1234" in problem for problem in reading.problems)
    assert len(reading.answers) == 65  # the answers are still read


def test_a_sheet_without_a_readable_qr_code_still_gives_its_number() -> None:
    doc = paper_exam()
    (sheet,) = rasterise(answer_sheets_pdf(doc, "A", [person("55")]), 150)
    qr = form_sheet(doc, "A").frame.qr
    scale = 150 / 72
    top_left = (round((qr.x - 2) * scale), round((qr.y - 2) * scale))
    bottom_right = (round((qr.right + 2) * scale), round((qr.bottom + 2) * scale))
    cv2.rectangle(sheet, top_left, bottom_right, 255, -1)

    reading = read_page(sheet, 4, lookup(doc))

    assert reading.page == 4
    assert (reading.exam_id, reading.form, reading.candidate_number) == (None, None, "55")
    assert any("QR code could not be read" in problem for problem in reading.problems)


def test_a_sheet_of_an_unknown_exam_is_reported() -> None:
    doc = paper_exam()
    (sheet,) = rasterise(answer_sheets_pdf(doc, "A", [person()]), 150)

    reading = read_page(sheet, 1, lambda exam_id, form: None)

    assert reading.exam_id == EXAM_ID and reading.answers == []
    assert "does not exist" in reading.problems[0]


def test_uploads_that_are_not_scans_are_refused() -> None:
    doc = paper_exam(questions=5)
    with pytest.raises(ValueError, match="not a PNG, JPEG or PDF"):
        read_scans(b"hello", "text/plain", lookup(doc))
    with pytest.raises(ValueError, match="sent as 'image/png'"):
        read_scans(b"%PDF-1.4 ...", "image/png", lookup(doc))
    with pytest.raises(ValueError, match="could not be opened"):
        read_scans(b"%PDF-1.4 broken", "application/pdf", lookup(doc))
    huge = PNG + b"\x00\x00\x00\rIHDR" + (40000).to_bytes(4, "big") * 2 + b"\x08\x00\x00\x00\x00"
    with pytest.raises(ValueError, match="megapixels"):
        read_scans(huge, "image/png", lookup(doc))
