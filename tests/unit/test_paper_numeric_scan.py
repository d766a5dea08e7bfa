"""Numeric answers on paper: the answer sheet's digit grid rendered by the service, numbers
written in its boxes and bubbled by "candidates" on the rasterised sheet, scanned roughly
and read back; unclear columns sent to review saying which column; the booklet and the key
say what a candidate and a marker need."""

from __future__ import annotations

import io

import pytest
from litestar.datastructures import FormMultiDict
from pypdf import PdfReader

from exam_service.grading.numeric import numeric_key
from exam_service.paper.answers import answer_text, numeric_key_parts
from exam_service.paper.document import PaperExamDocument, PaperQuestion, PrintedForm
from exam_service.paper.pdf import answer_sheets_pdf, booklet_pdf, key_pdf
from exam_service.paper.review import review_views, scan_state
from exam_service.paper.scan import AnswerReading, SheetReading, read_page, read_scans
from exam_service.paper.schemas import ScanAnswer, ScanReport, ScanSheet
from exam_service.paper.sheet import (
    MINUS,
    NUMERIC_COLUMNS,
    POINT,
    SheetLayout,
    SheetRow,
    form_sheet,
    grid_text,
    sheet_layout,
)
from tests.unit.test_paper_scan import (
    EXAM_ID,
    PNG,
    Image,
    Pen,
    lookup,
    person,
    png,
    question,
    rasterise,
    scanned,
)

NUMERIC = {4: "iterations", 12: None, 25: "%", 27: "m/s"}
"""Question number -> unit of the numeric questions of the test exam."""


def numeric_exam(paper: str = "a4", questions: int = 30) -> PaperExamDocument:
    items = tuple(
        PaperQuestion(
            number=number,
            type="numeric",
            stem=f"How many iterations make one epoch? ({number})",
            unit=NUMERIC[number],
            question_key=f"q{number}",
        )
        if number in NUMERIC
        else question(number)
        for number in range(1, questions + 1)
    )
    key = numeric_key(
        {"key": 1200, "tolerance": "2%", "partial": {"tolerance": "5%", "credit": 0.5}}
    )
    keys = tuple(answer_text("numeric", key) if q.type == "numeric" else "A" for q in items)
    form = PrintedForm(code="A", questions=items, key=keys)
    return PaperExamDocument(
        exam_id=EXAM_ID, title="Numbers on paper", paper=paper, time_minutes=60, forms=(form,)
    )


def write_number(pen: Pen, row: SheetRow, text: str, start: int, *, bubble: bool = True) -> None:
    """`text` ("-12.5") written in the grid's boxes from digit column `start` (1-based; a
    minus goes in the sign column) and, with `bubble`, each character's bubble filled."""
    sign, rest = (text[0], text[1:]) if text.startswith("-") else ("", text)
    places = [(0, MINUS)] if sign else []
    places += [(start + offset, character) for offset, character in enumerate(rest)]
    for column, character in places:
        box = row.boxes[column]
        pen.write(box.x - 1, box.bottom - 1, "-" if character == MINUS else character)
        if bubble:
            found = next(b for b in row.columns[column] if b.label == character)
            pen.solid(found.x, found.y)


def numeric_rows(layout: SheetLayout) -> dict[int, SheetRow]:
    return {row.number: row for row in layout.rows if row.numeric}


def sheet_image(doc: PaperExamDocument, dpi: int) -> Image:
    (image,) = rasterise(answer_sheets_pdf(doc, "A", [person()]), dpi)
    return image


# ---- the grid ---------------------------------------------------------------------------


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_a_sheet_with_numeric_questions_has_a_digit_grid_per_question(paper: str) -> None:
    doc = numeric_exam(paper)
    layout = form_sheet(doc, "A")
    rows = numeric_rows(layout)
    assert sorted(rows) == sorted(NUMERIC)
    for row in rows.values():
        sign, *digits = row.columns
        assert [b.label for b in sign] == [MINUS]
        assert len(digits) == NUMERIC_COLUMNS == len(row.boxes) - 1
        assert all([b.label for b in column] == [POINT, *"0123456789"] for column in digits)
        assert row.bubbles == tuple(b for column in row.columns for b in column)
        # each column under its box, the grid inside the answer area
        for box, column in zip(row.boxes, row.columns, strict=True):
            assert all(abs(b.x - box.centre[0]) < 0.01 and b.y > box.bottom for b in column)
        assert row.area.right <= layout.frame.answers.right
        assert row.area.bottom <= layout.frame.answers.bottom
    # nothing overlaps: every other row is beside or below the grids
    for row in layout.rows:
        for grid in rows.values():
            if row is not grid:
                apart = (
                    row.area.right <= grid.area.x
                    or grid.area.right <= row.area.x
                    or row.area.bottom <= grid.area.y
                    or grid.area.bottom <= row.area.y
                )
                assert apart, (row.number, grid.number)
    (page,) = PdfReader(io.BytesIO(answer_sheets_pdf(doc, "A", [person()]))).pages
    assert "Numeric questions: write the number" in (page.extract_text() or "")


def test_choice_rows_keep_their_places_without_numeric_questions() -> None:
    """The rows of a sheet without numeric questions are where they always were: the first
    column's rows 15 points apart from the top of the answer area."""
    doc = numeric_exam()
    plain = [question(n) for n in range(1, 31)]
    layout = sheet_layout("a4", plain)
    top = layout.frame.answers.y
    assert [row.area.y - top for row in layout.rows[:5]] == [0, 15, 30, 45, 60]
    assert not any(row.numeric for row in layout.rows)
    assert [r.area for r in form_sheet(doc, "A").rows[:3]] == [r.area for r in layout.rows[:3]]


def test_too_many_numeric_questions_for_one_sheet_are_refused_saying_what_to_do() -> None:
    many = [
        PaperQuestion(number=n, type="numeric", stem="x", question_key=str(n)) for n in range(1, 13)
    ]
    with pytest.raises(ValueError, match="holds at most 8 digit grids: use fewer numeric"):
        sheet_layout("letter", many)
    crowded = [*many[:6], *(question(n) for n in range(7, 66))]
    with pytest.raises(ValueError, match="fewer options or fewer numeric questions"):
        sheet_layout("a4", crowded)


@pytest.mark.parametrize(
    ("value", "low", "high", "written"),
    [
        (1200, 1176, 1224, "1200"),
        (-12.5, -12.5, -12.5, "-12.5"),
        (0.125, 0.125, 0.125, "0.125"),
        (1 / 3, 0.33, 0.34, "0.33"),  # the shortest within the range
        (1234567.891, 1234567, 1234568, "1234568"),
        (12345678, 12345678, 12345678, None),  # eight digits
        (0.0000125, 0.0000125, 0.0000125, None),  # needs more decimals than the grid has
    ],
)
def test_the_grid_holds_a_key_when_some_number_in_its_range_fits(
    value: float, low: float, high: float, written: str | None
) -> None:
    assert grid_text(value, low, high) == written


# ---- scanning ---------------------------------------------------------------------------

WRITTEN = {4: ("1200", 4), 12: ("0.125", 1), 25: ("-12.5", 2)}
"""Question -> (number, first digit column): right-aligned, left-aligned, in the middle."""


@pytest.mark.parametrize(("dpi", "angle", "noise"), [(150, 2.0, 6.0), (300, -2.5, 8.0)])
def test_filled_grids_scan_to_their_numbers(dpi: int, angle: float, noise: float) -> None:
    doc = numeric_exam()
    layout = form_sheet(doc, "A")
    rows = numeric_rows(layout)
    pen = Pen(sheet_image(doc, dpi), dpi)
    for number, (text, start) in WRITTEN.items():
        write_number(pen, rows[number], text, start)
    image = scanned(pen.image, angle, 0.98, noise)

    (reading,) = read_scans(png(image), "image/png", lookup(doc))

    assert reading.problems == [] and reading.candidate_number == "12345678"
    answers = {a.number: a for a in reading.answers}
    for number, (text, _) in WRITTEN.items():
        assert (answers[number].status, answers[number].value) == ("ok", text), answers[number]
        assert answers[number].confidence >= 0.75
    assert (answers[27].status, answers[27].value, answers[27].note) == ("blank", "", "")
    assert {a.status for n, a in answers.items() if n not in NUMERIC} == {"blank"}


def unclear_sheet() -> SheetReading:
    doc = numeric_exam()
    rows = numeric_rows(form_sheet(doc, "A"))
    pen = Pen(sheet_image(doc, 150), 150)
    write_number(pen, rows[4], "1200", 1)
    extra = next(b for b in rows[4].columns[3] if b.label == "7")
    pen.solid(extra.x, extra.y)  # two bubbles in digit column 3: 0 and 7
    write_number(pen, rows[12], "35", 1)
    faint = next(b for b in rows[12].columns[3] if b.label == "5")
    pen.light(faint.x, faint.y)  # a third digit pencilled in too lightly
    for column, character in ((1, "4"), (3, "2")):  # digit column 2 left blank
        found = next(b for b in rows[25].columns[column] if b.label == character)
        pen.solid(found.x, found.y)
    write_number(pen, rows[27], "98", 2, bubble=False)  # written, never bubbled
    return read_page(scanned(pen.image, 1.0, 0.99, 5.0), 1, lookup(doc))


def test_unclear_columns_go_to_review_saying_which_column() -> None:
    reading = unclear_sheet()

    answers = {a.number: a for a in reading.answers}
    assert {a.number for a in reading.reviews} == set(NUMERIC)
    for number in NUMERIC:
        assert (answers[number].value, answers[number].confidence) == ("", 0.0)
        assert answers[number].crop_png is not None and answers[number].crop_png.startswith(PNG)
    assert answers[4].note == "digit column 3: two bubbles filled (0 and 7)"
    assert answers[12].note == "digit column 3: a light, partial or crossed-out mark"
    assert answers[25].note == "digit column 2 is blank between characters"
    assert answers[27].note == (
        "digit column 2: written in the box but no bubble filled; "
        "digit column 3: written in the box but no bubble filled"
    )


def test_a_reviewer_is_told_what_was_read_and_types_the_number() -> None:
    doc = numeric_exam()
    reading = unclear_sheet()
    shown = [
        ScanAnswer(
            a.number, a.value, a.confidence, a.status, "iVBORw0KGgo=" if a.crop_png else None
        )
        for a in reading.answers
    ]
    sheet = ScanSheet(1, "review", EXAM_ID, "A", "12345678", "ana", shown, [])
    report = ScanReport(sheets=[sheet], graded=0, review=1, unreadable=0)

    state = scan_state(report, [reading], doc)

    reviews = {r.number: r for r in state.pending[0].reviews}
    assert reviews[4].reading == (
        "read _ 1 2 ? 0 _ _ _ (digit column 3: two bubbles filled (0 and 7)): type the number "
        "you see"
    )
    assert reviews[4].suggested == ""
    form = FormMultiDict([("p1-q4", " 1200 "), ("p1-q12", "0.355"), ("p1-candidate", "ana")])
    [view] = review_views(state, doc, form)
    entries = {e.question.number: e for e in view.entries}
    assert (entries[4].answer, entries[12].answer, entries[25].answer) == ("1200", "0.355", "")


def test_a_blank_grid_with_only_a_sign_or_two_points_is_not_a_number() -> None:
    doc = numeric_exam()
    rows = numeric_rows(form_sheet(doc, "A"))
    pen = Pen(sheet_image(doc, 150), 150)
    sign = rows[4].columns[0][0]
    pen.solid(sign.x, sign.y)
    for column in (2, 4):
        point = rows[12].columns[column][0]
        pen.solid(point.x, point.y)
    one = next(b for b in rows[12].columns[3] if b.label == "1")
    pen.solid(one.x, one.y)

    reading = read_page(pen.image, 1, lookup(doc))

    answers = {a.number: a for a in reading.answers}
    assert answers[4].note == "a minus sign but no digits"
    assert answers[12].note == "two decimal points (digit columns 2 and 4)"


# ---- booklet and key --------------------------------------------------------------------


def text_of(pdf: bytes) -> str:
    return " ".join(
        " ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages
    )


def test_the_booklet_says_where_and_how_to_write_the_number() -> None:
    text = text_of(booklet_pdf(numeric_exam(), "A"))
    assert (
        "Write your answer (a number, in iterations) in the grid of question 4 on the answer "
        "sheet" in text
    )
    assert "Write your answer (a number) in the grid of question 12 on the answer sheet" in text
    assert "Numeric: write the number in the boxes of the question's grid" in text  # cover


def test_the_key_prints_the_number_with_its_unit_and_accepted_range() -> None:
    text = text_of(key_pdf(numeric_exam(), "A"))
    assert "4 numeric 1200 iterations" in text
    assert "accepted: \u00b1 2%: 1176 to 1224; partial 1140 to 1260" in text
    assert numeric_key_parts("256") == ("256", "")


def test_a_review_reading_of_a_grid_without_a_note_still_reads() -> None:
    fills = (0.0,) + (0.0,) * 11 * NUMERIC_COLUMNS
    answer = AnswerReading(1, "", 0.0, "review", None, fills)
    doc = PaperExamDocument(
        exam_id=1,
        title="t",
        paper="a4",
        time_minutes=None,
        forms=(
            PrintedForm(
                "A", (PaperQuestion(number=1, type="numeric", stem="s", question_key="q"),), ("1",)
            ),
        ),
    )
    sheet = ScanSheet(1, "review", 1, "A", "1", "ana", [ScanAnswer(1, "", 0.0, "review")], [])
    state = scan_state(ScanReport([sheet], 0, 1, 0), [SheetReading(1, 1, "A", "1", [answer])], doc)
    assert state.pending[0].reviews[0].reading.startswith("read _ _ _ _ _ _ _ _ (unclear)")


def test_rows_leave_out_the_pointers_to_the_grids_only_when_they_would_not_fit() -> None:
    def exam(numeric: set[int]) -> list[PaperQuestion]:
        return [
            PaperQuestion(number=n, type="numeric", stem="s", question_key=str(n))
            if n in numeric
            else question(n)
            for n in range(1, 31)
        ]

    three = sheet_layout("a4", exam({2, 7, 12}))
    assert [p.number for p in three.pointers] == [2, 7, 12]
    six = sheet_layout("a4", exam({2, 7, 12, 17, 22, 27}))  # one column of rows is left
    assert six.pointers == ()
    assert [r.number for r in six.rows if r.numeric] == [2, 7, 12, 17, 22, 27]
    assert [r.number for r in six.rows] == list(range(1, 31))
