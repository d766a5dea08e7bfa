"""Where everything on an answer sheet is: the one geometry the sheet renderer draws and the
scanner reads, so the two cannot drift apart.

All lengths are PDF points (1/72 inch) with the origin at the page's TOP-LEFT corner and y
growing downwards, as in a scanned image (the renderer flips y for ReportLab). A sheet has a
form-independent frame (`sheet_frame`: corner marks, QR code, candidate name and number grid,
notes) and one row per question below it (`sheet_layout`): a row of bubbles lettered A, B, ...
for `single` and `multiple` questions, a row of write-in boxes (one per position or prompt)
for `ordering` and `matching`, and a digit grid for `numeric`: the grids stand in columns
of their own at the right of the answer area, and the question's place among the rows holds
a pointer to its grid.

The digit grid (`numeric_row`): a sign column and `NUMERIC_COLUMNS` character columns, each
under a write-in box. The sign column has one bubble, the minus sign; every character column
has a decimal-point bubble on top of the bubbles 0-9, as on the grid-in answers of printed
tests. The candidate writes the number in the boxes, one character per box, from any box
(blank boxes before and after it are allowed; a minus sign goes in the sign box), and fills
the bubble of each character under its box: -12.5 is the minus bubble, then 1, 2, the point
and 5. A paper exam whose numeric key cannot be written in the grid is refused before
printing (`grid_text`). Pure: no I/O, no ReportLab, no OpenCV.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

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
NUMERIC_COLUMNS = 7
"""Character columns of a numeric answer's grid (digits or the point), after its sign
column: 9999999, 123.4567 or -0.00125 fit."""
POINTER_WIDTH = 60.0
"""The text of a pointer row, "grid at right"."""
MINUS, POINT = "\u2212", "."
"""The labels of the sign column's bubble and of each column's decimal-point bubble."""
GRID_TOP = 12.0
"""From the top of a digit grid to its write-in boxes: the question number goes above."""
GRID_PITCH = 14.0
"""From one column of a digit grid to the next (rows are `BUBBLE_PITCH` apart)."""
GRID_WIDTH = GRID_PITCH * (NUMERIC_COLUMNS + 1)
GRID_HEIGHT = GRID_TOP + BOX_HEIGHT + 4 + BUBBLE_PITCH * 11
"""A digit grid: number, boxes, the point (and minus) bubbles, the digits 0-9."""
GRID_GAP = 12.0
"""Between two digit grids one above the other."""
GRID_COLUMN_GAP = 10.0
"""Between two columns of digit grids, and between the rows and the grids."""

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
    `matching` rows have boxes, `numeric` rows both (a digit grid: see `columns`)."""
    label: tuple[float, float]
    """Where the question number ends (right edge) and its row's vertical centre; for a
    digit grid, where the number above it starts (left edge)."""
    bubbles: tuple[Bubble, ...]
    boxes: tuple[Box, ...]
    area: Box
    """The whole row, number included: what a person reviewing the row is shown."""
    columns: tuple[tuple[Bubble, ...], ...] = ()
    """`numeric`: the grid's columns, left to right, each under its box in `boxes`: the
    sign column (one bubble, `MINUS`), then `NUMERIC_COLUMNS` columns of `POINT` and 0-9.
    `bubbles` holds the same bubbles in this order."""

    @property
    def single(self) -> bool:
        return self.type == "single"

    @property
    def numeric(self) -> bool:
        return self.type == "numeric"


@dataclass(frozen=True)
class Pointer:
    """Where a numeric question's number stands among the rows, pointing to its grid:
    the number's right edge and the row's vertical centre, as `SheetRow.label`."""

    number: int
    x: float
    y: float


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
    pointers: tuple[Pointer, ...] = ()
    """A pointer row per numeric question, where its row would be (its grid is aside)."""


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
    as wide as its widest row. Numeric questions' digit grids stand in columns of their own
    at the right of the area, in question order (`grid_places`); their place in the rows
    holds a pointer row ("4 grid at right"), so the other rows are where they would be if
    it were a one-line row, unless the rows only fit without the pointers. Raises
    ValueError when a row or the whole form does not fit.
    """
    frame = sheet_frame(paper)
    numbers = [question.number for question in questions if question.type == "numeric"]
    grids = grid_places(numbers, frame.answers)
    try:
        return _flow(frame, questions, grids, pointers=True)
    except ValueError:
        if not grids:
            raise
        return _flow(frame, questions, grids, pointers=False)


def _flow(
    frame: SheetFrame,
    questions: Sequence[PaperQuestion],
    grids: dict[int, SheetRow],
    *,
    pointers: bool,
) -> SheetLayout:
    area = frame.answers
    right = min((row.area.x - GRID_COLUMN_GAP for row in grids.values()), default=area.right)
    rows: list[SheetRow] = []
    pointed: list[Pointer] = []
    x, y, column_width, in_column = area.x, area.y, 0.0, 0
    for question in questions:
        if question.type == "numeric":
            rows.append(grids[question.number])
            if not pointers:
                continue
            cells, row_width, row_height = 0, LABEL_WIDTH + POINTER_WIDTH, ROW_PITCH
        else:
            cells = cell_count(question)
            if not 1 <= cells <= MAX_CELLS:
                raise ValueError(
                    f"question {question.number} has {cells} options or prompts; an answer "
                    f"sheet row holds 1 to {MAX_CELLS}"
                )
            boxed = uses_boxes(question.type)
            row_width = LABEL_WIDTH + (BOX_PITCH if boxed else BUBBLE_PITCH) * cells
            row_height = BOX_ROW_PITCH if boxed else ROW_PITCH
        if y + row_height > area.bottom:
            x, y, column_width, in_column = x + column_width + COLUMN_GAP, area.y, 0.0, 0
        if x + row_width > right:
            grids_too = f" and {len(grids)} numeric answer grids" if grids else ""
            raise ValueError(
                f"form has {len(questions)} questions{grids_too}; the answer sheet is full at "
                f"question {question.number}: use fewer questions, fewer options or fewer "
                "numeric questions per paper exam"
            )
        if question.type == "numeric":
            pointed.append(Pointer(question.number, x + LABEL_WIDTH - 5, y + row_height / 2))
        else:
            rows.append(_row(question.number, question.type, cells, x, y, row_height))
        column_width = max(column_width, row_width)
        in_column += 1
        y += row_height + (GROUP_GAP if in_column % GROUP == 0 else 0.0)
    return SheetLayout(frame=frame, rows=tuple(rows), pointers=tuple(pointed))


def grid_places(numbers: Sequence[int], area: Box) -> dict[int, SheetRow]:
    """The digit grids of the numeric questions `numbers`, by number: as many one above
    the other as the area's height holds, in columns right-aligned in the area, the first
    question top left. ValueError when they are too many for the width."""
    if not numbers:
        return {}
    per_column = max(1, int((area.height + GRID_GAP) // (GRID_HEIGHT + GRID_GAP)))
    columns = -(-len(numbers) // per_column)
    width = columns * GRID_WIDTH + (columns - 1) * GRID_COLUMN_GAP
    if width > area.width:
        most = per_column * int((area.width + GRID_COLUMN_GAP) // (GRID_WIDTH + GRID_COLUMN_GAP))
        raise ValueError(
            f"form has {len(numbers)} numeric questions; an answer sheet holds at most {most} "
            "digit grids: use fewer numeric questions per paper exam"
        )
    left = area.right - width
    return {
        number: numeric_row(
            number,
            left + (index // per_column) * (GRID_WIDTH + GRID_COLUMN_GAP),
            area.y + (index % per_column) * (GRID_HEIGHT + GRID_GAP),
        )
        for index, number in enumerate(numbers)
    }


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


def numeric_row(number: int, x: float, y: float) -> SheetRow:
    """The digit grid of a numeric question with its top-left corner at (x, y), its
    number above it: see the module docstring."""
    box_top = y + GRID_TOP
    boxes = tuple(
        Box(x + GRID_PITCH * index + 1, box_top, GRID_PITCH - 2, BOX_HEIGHT)
        for index in range(NUMERIC_COLUMNS + 1)
    )
    top = box_top + BOX_HEIGHT + 4 + BUBBLE_PITCH / 2
    sign = (Bubble(MINUS, boxes[0].centre[0], top),)
    labels = (POINT, *"0123456789")
    digits = tuple(
        tuple(
            Bubble(label, box.centre[0], top + BUBBLE_PITCH * index)
            for index, label in enumerate(labels)
        )
        for box in boxes[1:]
    )
    columns = (sign, *digits)
    return SheetRow(
        number=number,
        type="numeric",
        label=(x + 1, y + GRID_TOP / 2),
        bubbles=tuple(bubble for column in columns for bubble in column),
        boxes=boxes,
        area=Box(x, y, GRID_WIDTH, GRID_HEIGHT),
        columns=columns,
    )


def grid_text(value: Decimal | int | float, low: float, high: float) -> str | None:
    """How a candidate writes a number in the digit grid: the shortest plain decimal
    ("-12.5", "0.125", "1200") that is within `low`..`high` (the key's accepted range) and
    takes at most `NUMERIC_COLUMNS` characters after its sign; None when there is none
    (the answer is too large or needs too many decimals for the grid)."""
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    for places in range(NUMERIC_COLUMNS):
        rounded = round(exact, places)
        text = f"{rounded:f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text in ("-0", ""):
            text = "0"
        digits = text.removeprefix("-")
        if len(digits) <= NUMERIC_COLUMNS and Decimal(str(low)) <= rounded <= Decimal(str(high)):
            return text
    return None


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
