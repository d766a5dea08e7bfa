"""Where everything on an answer sheet is: the one geometry the sheet renderer draws and the
scanner reads, so the two cannot drift apart.

All lengths are PDF points (1/72 inch) with the origin at the page's TOP-LEFT corner and y
growing downwards, as in a scanned image (the renderer flips y for ReportLab). A sheet has a
form-independent frame (`sheet_frame`: corner marks, QR code, candidate name and number grid,
notes) and one row per question below it (`sheet_layout`): a row of bubbles lettered A, B, ...
for `single` and `multiple` questions, a row of write-in boxes (one per position or prompt)
for `ordering` and `matching`. Pure: no I/O, no ReportLab, no OpenCV.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from exam_service.paper.document import PaperExamDocument, PaperQuestion

PAGE_SIZES: dict[str, tuple[float, float]] = {
    "a4": (595.2756, 841.8898),
    "letter": (612.0, 792.0),
}

MARK_SIZE = 16.0
"""Side of the solid square registration marks."""
MARK_INSET = 22.0
"""From the page edge to a mark's outer edge: inside every printer's unprintable border."""
EDGE = 46.0
"""From the page edge to the printed content."""
QR_SIZE = 88.0
NUMBER_DIGITS = 8
BUBBLE_RADIUS = 5.5
BUBBLE_PITCH = 15.0
ROW_PITCH = 15.0
GROUP_GAP = 5.0
"""Extra space after every fifth row, so a candidate keeps their place."""
GROUP = 5
LABEL_WIDTH = 22.0
BOX_WIDTH, BOX_HEIGHT, BOX_PITCH = 14.0, 17.0, 17.0
BOX_ROW_PITCH = 30.0
BOX_LABEL_HEIGHT = 8.0
COLUMN_GAP = 16.0
MAX_CELLS = 12
"""Most bubbles or boxes one row holds."""

QR_PREFIX = "EXAM"
QR_PATTERN = re.compile(
    rf"{QR_PREFIX}:([0-9]{{1,12}}):(.+):([0-9]{{0,{NUMBER_DIGITS}}})", re.DOTALL
)


@dataclass(frozen=True)
class Box:
    """A rectangle: top-left corner and size."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x + self.width / 2, self.y + self.height / 2)


@dataclass(frozen=True)
class Bubble:
    """A bubble's centre and the letter (or digit) printed in it."""

    label: str
    x: float
    y: float


@dataclass(frozen=True)
class SheetRow:
    """One question's answer row."""

    number: int
    type: str
    """The question's type: `single` and `multiple` rows have bubbles, `ordering` and
    `matching` rows have boxes."""
    label: tuple[float, float]
    """Where the question number ends (right edge) and its row's vertical centre."""
    bubbles: tuple[Bubble, ...]
    boxes: tuple[Box, ...]
    area: Box
    """The whole row, number included: what a person reviewing the row is shown."""

    @property
    def single(self) -> bool:
        return self.type == "single"


@dataclass(frozen=True)
class SheetFrame:
    """The part of a sheet that is the same for every form on one paper size."""

    paper: str
    width: float
    height: float
    marks: tuple[Box, Box, Box, Box]
    """Top-left, top-right, bottom-right, bottom-left."""
    heading: Box
    """Exam title, form and candidate name (left of the QR code)."""
    qr: Box
    number_boxes: tuple[Box, ...]
    """Where the candidate number's digits are printed (or written), one box per column."""
    number_grid: tuple[tuple[Bubble, ...], ...]
    """One column of bubbles 0..9 per digit of the candidate number."""
    notes: Box
    """Instructions to the candidate."""
    answers: Box
    """The area the question rows fill, in columns."""

    @property
    def mark_centres(self) -> tuple[tuple[float, float], ...]:
        return tuple(mark.centre for mark in self.marks)


@dataclass(frozen=True)
class SheetLayout:
    """A whole answer sheet of one form: the frame and a row per question, in form order."""

    frame: SheetFrame
    rows: tuple[SheetRow, ...]
    bubble_radius: float = BUBBLE_RADIUS


def page_size(paper: str) -> tuple[float, float]:
    try:
        return PAGE_SIZES[paper]
    except KeyError:
        raise ValueError(f"paper must be 'a4' or 'letter', not {paper!r}") from None


def sheet_frame(paper: str) -> SheetFrame:
    """The frame of a sheet on `paper` (`a4` or `letter`)."""
    width, height = page_size(paper)
    near, far_x, far_y = MARK_INSET, width - MARK_INSET - MARK_SIZE, height - MARK_INSET - MARK_SIZE
    marks = (
        Box(near, near, MARK_SIZE, MARK_SIZE),
        Box(far_x, near, MARK_SIZE, MARK_SIZE),
        Box(far_x, far_y, MARK_SIZE, MARK_SIZE),
        Box(near, far_y, MARK_SIZE, MARK_SIZE),
    )
    top = 40.0
    qr = Box(width - EDGE - QR_SIZE, top, QR_SIZE, QR_SIZE)
    heading = Box(EDGE, top, qr.x - 12 - EDGE, 62.0)
    boxes_top = 114.0
    number_boxes = tuple(
        Box(EDGE + BUBBLE_PITCH * column + 1, boxes_top, BUBBLE_PITCH - 2, BOX_HEIGHT)
        for column in range(NUMBER_DIGITS)
    )
    grid_top = boxes_top + BOX_HEIGHT + 4 + BUBBLE_PITCH / 2
    number_grid = tuple(
        tuple(
            Bubble(str(digit), box.centre[0], grid_top + BUBBLE_PITCH * digit)
            for digit in range(10)
        )
        for box in number_boxes
    )
    grid_bottom = grid_top + BUBBLE_PITCH * 9.5
    notes_x = EDGE + BUBBLE_PITCH * NUMBER_DIGITS + 24
    notes = Box(notes_x, qr.bottom + 10, width - EDGE - notes_x, grid_bottom - qr.bottom - 10)
    answers_top = grid_bottom + 22
    answers = Box(EDGE, answers_top, width - 2 * EDGE, height - EDGE - answers_top)
    return SheetFrame(
        paper=paper,
        width=width,
        height=height,
        marks=marks,
        heading=heading,
        qr=qr,
        number_boxes=number_boxes,
        number_grid=number_grid,
        notes=notes,
        answers=answers,
    )


def cell_count(question: PaperQuestion) -> int:
    """Bubbles (single, multiple) or boxes (ordering: one per option; matching: one per
    prompt) in the question's row."""
    return len(question.prompts) if question.type == "matching" else len(question.options)


def uses_boxes(question_type: str) -> bool:
    return question_type in ("ordering", "matching")


def sheet_layout(paper: str, questions: Sequence[PaperQuestion]) -> SheetLayout:
    """The sheet of a form whose questions are `questions` (in form order).

    Rows fill the answer area top to bottom, then the next column to the right; a column is
    as wide as its widest row. Raises ValueError when a row or the whole form does not fit.
    """
    frame = sheet_frame(paper)
    area = frame.answers
    rows: list[SheetRow] = []
    x, y, column_width, in_column = area.x, area.y, 0.0, 0
    for question in questions:
        cells = cell_count(question)
        if not 1 <= cells <= MAX_CELLS:
            raise ValueError(
                f"question {question.number} has {cells} options or prompts; an answer sheet "
                f"row holds 1 to {MAX_CELLS}"
            )
        boxed = uses_boxes(question.type)
        row_width = LABEL_WIDTH + (BOX_PITCH if boxed else BUBBLE_PITCH) * cells
        row_height = BOX_ROW_PITCH if boxed else ROW_PITCH
        if y + row_height > area.bottom:
            x, y, column_width, in_column = x + column_width + COLUMN_GAP, area.y, 0.0, 0
        if x + row_width > area.right:
            raise ValueError(
                f"form has {len(questions)} questions; the answer sheet is full at question "
                f"{question.number}: use fewer questions or fewer options per paper exam"
            )
        rows.append(_row(question.number, question.type, cells, x, y, row_height))
        column_width = max(column_width, row_width)
        in_column += 1
        y += row_height + (GROUP_GAP if in_column % GROUP == 0 else 0.0)
    return SheetLayout(frame=frame, rows=tuple(rows))


def _row(number: int, kind: str, cells: int, x: float, y: float, height: float) -> SheetRow:
    first = x + LABEL_WIDTH
    if uses_boxes(kind):
        box_top = y + BOX_LABEL_HEIGHT
        boxes = tuple(
            Box(first + BOX_PITCH * index, box_top, BOX_WIDTH, BOX_HEIGHT) for index in range(cells)
        )
        return SheetRow(
            number=number,
            type=kind,
            label=(first - 5, box_top + BOX_HEIGHT / 2),
            bubbles=(),
            boxes=boxes,
            area=Box(x, y, LABEL_WIDTH + BOX_PITCH * cells, height),
        )
    centre = y + height / 2
    bubbles = tuple(
        Bubble(letter(index), first + BUBBLE_PITCH * (index + 0.5), centre)
        for index in range(cells)
    )
    return SheetRow(
        number=number,
        type=kind,
        label=(first - 5, centre),
        bubbles=bubbles,
        boxes=(),
        area=Box(x, y, LABEL_WIDTH + BUBBLE_PITCH * cells, height),
    )


def form_sheet(doc: PaperExamDocument, form: str) -> SheetLayout:
    """The sheet of one form of a paper exam (KeyError for an unknown form)."""
    return sheet_layout(doc.paper, doc.form(form).questions)


def letter(index: int) -> str:
    """The option letter of a 0-based index: A, B, C, ..."""
    return chr(ord("A") + index)


def qr_payload(exam_id: int, form: str, number: str) -> str:
    """What a sheet's QR code says: `EXAM:<exam id>:<form>:<candidate number>` (the number
    is empty on a spare sheet)."""
    return f"{QR_PREFIX}:{exam_id}:{form}:{number}"


def parse_qr_payload(text: str) -> tuple[int, str, str] | None:
    """(exam id, form, candidate number) from a QR payload, or None if it is not ours."""
    match = QR_PATTERN.fullmatch(text)
    if match is None:
        return None
    return int(match[1]), match[2], match[3]
