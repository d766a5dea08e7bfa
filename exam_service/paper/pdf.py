"""Paper exam PDFs drawn with ReportLab's canvas: a form's question booklet, its answer key,
and one bubble answer sheet per candidate.

    booklet_pdf(doc, form)                      the booklet of one form (A4 or Letter)
    key_pdf(doc, form)                          question number, type and answer string
    answer_sheets_pdf(doc, form, candidates)    one answer sheet page per candidate
    render_booklets(doc, forms, processes)      several booklets, optionally in processes

Speed (DESIGN: at least 10x faster per copy than Auto Multiple Choice in the same run;
`bench/paper.py` measures both): text is measured and wrapped once per distinct text and
width (`LayoutCache`) and kept as page rows, so a question's layout is computed once per
paper exam and every later form or copy only puts its own numbers and option letters before
the cached rows. Pages are paginated by this module (so "Page x of y" is known up front)
and drawn without Platypus or the canvas's drawing methods: each page's rules and boxes as
one block of PDF operators, its text as one block of text operators (`_TextWriter`), the
operators of a line of ASCII made once per process (`_shown`). Each page's content goes to
ReportLab as bytes, and the pages share one resource dictionary (`_finish_pages`). Answer
sheets draw what all candidates share once, as a form XObject.

Safety: no text goes through a `Paragraph` (whose markup is code: CVE-2023-33733); canvas
strings are raw text, printed literally, cleaned of control characters and capped
(`clean_text`); a word wider than the line is broken between characters.

Fonts: every script prints in an embedded TrueType face chosen per character, right-to-left
lines shaped and in visual order (`exam_service.typeset`); layouts are measured in the same
faces, so wrapping, shading and pagination hold for any text.

Where things sit on an answer sheet comes from `exam_service.paper.sheet`, which the scanner
reads too: bubble rows, write-in boxes, and a numeric question's digit grid (boxes over a
minus, decimal-point and 0-9 bubbles), which the booklet tells the candidate how to fill.
"""

from __future__ import annotations

import io
import multiprocessing
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import groupby
from typing import Any, NamedTuple

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.pdfbase.pdfdoc import PDFArray, PDFResourceDictionary
from reportlab.pdfbase.pdfmetrics import getFont
from reportlab.pdfgen.canvas import Canvas

from exam_service.paper.answers import numeric_key_parts
from exam_service.paper.document import (
    PaperExamDocument,
    PaperQuestion,
    PrintedForm,
    SheetCandidate,
)
from exam_service.paper.sheet import (
    BUBBLE_PITCH,
    GRID_PITCH,
    NUMBER_DIGITS,
    NUMERIC_COLUMNS,
    SheetFrame,
    SheetLayout,
    SheetRow,
    form_sheet,
    letter,
    page_size,
    qr_payload,
)
from exam_service.typeset import (
    SANS,
    SANS_BOLD,
    SANS_ITALIC,
    clean_text,
    draw_string,
    fit_line,
    pieces,
    register,
    text_width,
    wrap,
)

FONT, BOLD, ITALIC = SANS, SANS_BOLD, SANS_ITALIC
MARGIN = 50.0
HEADER_Y, FOOTER_Y = 30.0, 28.0
"""Distances of the running header's and footer's baselines from the page edges."""
INDENT = 26.0
"""From the question number to the stem."""
GUTTER = 18.0
"""From an option letter to the option text."""

# Caps on text from data: long enough for any honest question, short enough for a page.
TITLE_TEXT = 200
STEM_TEXT = 2000
CASE_TEXT = 3000
OPTION_TEXT = 500
INSTRUCTION_TEXT = 500
INSTRUCTIONS_SHOWN = 20
NAME_TEXT = 120

INK, MUTED, FAINT, SHADE = 0.1, 0.4, 0.6, 0.93
"""Grey levels (0 black, 1 white)."""

TYPE_NAMES = {
    "single": "single choice",
    "multiple": "multiple choice",
    "ordering": "ordering",
    "matching": "matching",
    "numeric": "numeric",
}
ORDERING_HINT = (
    "Ordering: put the items in the right order and write their letters in that order on the "
    "answer sheet, one letter per box, e.g. CADB."
)
MATCHING_HINT = (
    "Matching: for each numbered prompt write the letter of its match in that prompt's box on "
    "the answer sheet."
)
NUMERIC_INSTRUCTION = (
    "Numeric: write the number in the boxes of the question's grid on the answer sheet, one "
    "digit or the decimal point per box (a minus sign in the first box if it is negative), "
    "and fill the bubble under each box: for -12.5 the minus, 1, 2, the point and 5."
)
STANDARD_INSTRUCTIONS = (
    "Mark every answer on your answer sheet: answers written in this booklet are not marked.",
    "Single choice: fill the one bubble of your answer. Multiple choice: fill every bubble "
    "that applies; the question says how many.",
    "Ordering: write the letters in the right order, e.g. CADB, one letter per box.",
    "Matching: for each numbered prompt write the letter of its match, one letter per box.",
    "Fill bubbles completely with a dark pen or soft pencil. To change an answer, erase it "
    "completely: a crossed-out or faint mark is sent to a person to read.",
)
SHEET_NOTES = (
    "Fill each bubble completely with a dark pen or soft pencil; do not tick or cross it.",
    "To change an answer, erase it completely: a crossed-out, faint or double mark is read by "
    "a person, not by the machine.",
    "Ordering questions: write the letters in the right order, one capital letter per box.",
    "Matching questions: in each prompt's box write the letter of its match.",
    "Your candidate number is printed and bubbled for you: check it. Keep the black corner "
    "squares and the code clean; do not fold the sheet.",
)
SHEET_NUMERIC_NOTE = (
    "Numeric questions: write the number, one digit or point per box, and fill the bubble "
    "under each box (a minus: the first column)."
)


class TextStyle(NamedTuple):
    """A named tuple, so that the layout caches keyed by it hash it in C."""

    font: str
    size: float
    leading: float
    grey: float = INK


STEM = TextStyle(FONT, 10.0, 13.5)
OPTION = TextStyle(FONT, 10.0, 13.0)
HINT = TextStyle(ITALIC, 8.5, 11.5, MUTED)
LABEL = TextStyle(BOLD, 8.5, 12.0, MUTED)
CASE = TextStyle(FONT, 9.5, 12.5)
CASE_TITLE = TextStyle(BOLD, 10.0, 14.0)
TITLE = TextStyle(BOLD, 20.0, 25.0)
BODY = TextStyle(FONT, 10.0, 14.0)
KEY = TextStyle(FONT, 9.5, 14.0)
KEY_BOLD = TextStyle(BOLD, 9.5, 14.0)
KEY_NOTE = TextStyle(FONT, 8.0, 14.0, MUTED)
NUMBER = TextStyle(BOLD, 10.0, 13.5)
"""A question's number, on the stem's first line."""
OPTION_LABEL = TextStyle(BOLD, 10.0, 13.0)
HEADING = TextStyle(BOLD, 16.0, 22.0)
SUBHEADING = TextStyle(BOLD, 12.0, 18.0)
RUNNING = TextStyle(FONT, 8.0, 10.0, MUTED)
"""The running header and footer."""
RUNNING_MARK = TextStyle(BOLD, 9.0, 11.0)


class LayoutCache:
    """Wrapped lines of each text at each width, computed once and reused by every form and
    copy of a paper exam (and by later exams with the same questions).

    Keyed by the raw text with its style, limit and width: a question has the same texts on
    every form, so its stem, options, prompts and case are measured once per paper exam
    whatever order a form prints them in; a revised text is a new key, so a stale layout can
    never be served (the question_key alone could not promise that). The lines are kept as
    page rows too (`rows`), so a copy only adds its question numbers and option letters.
    Bounded: emptied when `limit` entries are held.
    """

    def __init__(self, limit: int = 50_000) -> None:
        self._lines: dict[tuple[str, TextStyle, int, float], tuple[str, ...]] = {}
        self._rows: dict[tuple[str, TextStyle, int, float, float, bool], tuple[_Row, ...]] = {}
        self._limit = limit

    def lines(self, text: str, style: TextStyle, cap: int, width: float) -> tuple[str, ...]:
        key = (text, style, cap, width)
        found = self._lines.get(key)
        if found is None:
            if len(self._lines) >= self._limit:
                self._lines.clear()
            found = wrap(clean_text(text, cap), style.font, style.size, width)
            self._lines[key] = found
        return found

    def rows(
        self,
        text: str,
        style: TextStyle,
        cap: int,
        width: float,
        x: float = 0.0,
        *,
        shade: bool = False,
    ) -> tuple[_Row, ...]:
        """The `lines` of the text as rows of one run each, `x` points from the margin."""
        key = (text, style, cap, width, x, shade)
        found = self._rows.get(key)
        if found is None:
            if len(self._rows) >= self._limit:
                self._rows.clear()
            found = tuple(
                _Row(style.leading, (_Run(x, style, line),), shade)
                for line in self.lines(text, style, cap, width)
            )
            self._rows[key] = found
        return found

    def __len__(self) -> int:
        """How many texts have been laid out."""
        return len(self._lines)


LAYOUTS = LayoutCache()
"""The process's cache; each worker process of `render_booklets` warms its own."""


# ---- Rows, blocks and pages -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Run:
    """Text at `x` points from the left margin, on its row's baseline."""

    x: float
    style: TextStyle
    text: str


@dataclass(frozen=True, slots=True)
class _Row:
    """A line of the page: its height, its text runs, and boxes drawn relative to its top
    (x, y, width, height), for the booklet cover's name and number boxes."""

    height: float
    runs: tuple[_Run, ...] = ()
    shade: bool = False
    boxes: tuple[tuple[float, float, float, float], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.runs and not self.boxes and not self.shade


@dataclass
class _Block:
    """Rows kept on one page when they fit."""

    rows: list[_Row] = field(default_factory=list)
    new_page: bool = False

    def text(
        self, style: TextStyle, lines: Iterable[str], x: float = 0.0, *, shade: bool = False
    ) -> None:
        for line in lines:
            self.rows.append(_Row(style.leading, (_Run(x, style, line),), shade=shade))

    def labelled(self, label: _Run, rows: Sequence[_Row]) -> None:
        """`rows` (from `LayoutCache.rows`) with `label` before the first line."""
        first = rows[0]
        self.rows.append(_Row(first.height, (label, *first.runs), first.shade))
        self.rows.extend(rows[1:])

    def gap(self, height: float, shade: bool = False) -> None:
        self.rows.append(_gap(height, shade))


@lru_cache(maxsize=256)
def _gap(height: float, shade: bool) -> _Row:
    return _Row(height, shade=shade)


@lru_cache(maxsize=4096)
def _label(x: float, style: TextStyle, text: str) -> _Run:
    """A question number, option letter or bullet: the same few on every copy."""
    return _Run(x, style, text)


def _paginate(blocks: Sequence[_Block], body: float) -> list[list[_Row]]:
    """Rows per page: a block starts a new page when it would not fit on this one but fits
    on an empty one; a block taller than a page flows over pages row by row. Gaps are not
    carried to the top of a page."""
    pages: list[list[_Row]] = [[]]
    used = 0.0
    for block in blocks:
        if block.new_page and pages[-1]:
            pages.append([])
            used = 0.0
        height = sum(row.height for row in _trim(block.rows))
        if pages[-1] and used + height > body >= height:
            pages.append([])
            used = 0.0
        for row in block.rows:
            if not pages[-1] and row.empty:
                continue
            if pages[-1] and used + row.height > body:
                pages.append([])
                used = 0.0
            pages[-1].append(row)
            used += row.height
    return pages


def _trim(rows: list[_Row]) -> list[_Row]:
    end = len(rows)
    while end and rows[end - 1].empty:
        end -= 1
    return rows[:end]


class _Pages:
    """Draws paginated rows, with the running header and the "Page x of y" footer."""

    def __init__(
        self, canvas: Canvas, size: tuple[float, float], head: str, mark: str, foot: str
    ) -> None:
        self.canvas, (self.width, self.height) = canvas, size
        self.head, self.mark, self.foot = head, mark, foot
        self.writer = _TextWriter(canvas)

    def draw(self, pages: list[list[_Row]]) -> None:
        total = len(pages)
        for number, rows in enumerate(pages, start=1):
            graphics = ["q"]
            self._decorate(graphics, number, total, heading=number > 1)
            self._shapes(graphics, rows)
            graphics.append("Q")
            self.canvas.addLiteral("\n".join(graphics))
            self._text(rows)
            self.canvas.showPage()

    def _decorate(self, graphics: list[str], number: int, total: int, *, heading: bool) -> None:
        """The rules, and the running text with the page's text (`_text` flushes it)."""
        width, writer = self.width, self.writer
        graphics.append("0.75 G 0.5 w")
        right = width - MARGIN
        writer.write(MARGIN, FOOTER_Y, RUNNING, self.foot)
        page = f"Page {number} of {total}"
        writer.write(right - text_width(page, FONT, RUNNING.size), FOOTER_Y, RUNNING, page)
        graphics.append(_line(MARGIN, FOOTER_Y + 10, right))
        if heading:
            top = self.height - HEADER_Y
            writer.write(MARGIN, top, RUNNING, self.head)
            mark_width = text_width(self.mark, BOLD, RUNNING_MARK.size)
            writer.write(right - mark_width, top, RUNNING_MARK, self.mark)
            graphics.append(_line(MARGIN, top - 5, right))

    def _shapes(self, graphics: list[str], rows: list[_Row]) -> None:
        """Shaded bands (one per run of shaded rows) and boxes, under the text."""
        graphics.append(f"{SHADE:g} g {INK:g} G 0.8 w")
        top = self.height - MARGIN
        band: float | None = None
        for row in rows:
            if row.shade and band is None:
                band = top
            elif not row.shade and band is not None:
                graphics.append(self._band(band, top))
                band = None
            for x, y, w, h in row.boxes:
                graphics.append(f"{MARGIN + x:.2f} {top - y - h:.2f} {w:.2f} {h:.2f} re S")
            top -= row.height
        if band is not None:
            graphics.append(self._band(band, top))

    def _band(self, top: float, bottom: float) -> str:
        width = self.width - 2 * MARGIN + 12
        return f"{MARGIN - 6:.2f} {bottom:.2f} {width:.2f} {top - bottom:.2f} re f"

    def _text(self, rows: list[_Row]) -> None:
        writer = self.writer
        top = self.height - MARGIN
        for row in rows:
            for run in row.runs:
                style = run.style
                baseline = top - style.size - (row.height - style.leading) / 2 - 0.5
                writer.write(MARGIN + run.x, baseline, style, run.text)
            top -= row.height
        writer.flush()


def _line(left: float, y: float, right: float) -> str:
    """A horizontal rule, as PDF operators."""
    return f"{left:.2f} {y:.2f} m {right:.2f} {y:.2f} l S"


PDF_ESCAPES = str.maketrans(
    {
        **{code: f"\\{code:03o}" for code in range(256) if code < 32 or code > 126},
        ord("\\"): "\\\\",
        ord("("): "\\(",
        ord(")"): "\\)",
    }
)
"""Bytes (as Latin-1 characters) to the escapes of a PDF literal string."""


@lru_cache(maxsize=32768)
def _shown(line: str, font: str) -> tuple[tuple[str, int, str], ...] | None:
    """(font, subset 0, `Tj` operator) of each piece of a line, made once per line and
    style, when every piece is printable ASCII: our fonts print ASCII at its own codes in
    subset 0 in every document. None when a piece is not, since its codes depend on the
    characters a document has used before (`_TextWriter._encoded`)."""
    shown = []
    for face, piece in pieces(line, font):
        if not (piece.isascii() and piece.isprintable()):
            return None
        shown.append((face, 0, f"({piece.translate(PDF_ESCAPES)}) Tj"))
    return tuple(shown)


class _TextWriter:
    """A page's text as raw PDF text operators, in one BT..ET block that sets the font and
    grey only when they change: ReportLab's text object spends most of a booklet's time on
    per-run overhead, this about a tenth.

    A line is drawn as its `pieces` (one per face, right-to-left text already in visual
    order) from one text position: each `Tj` advances by its glyphs' widths. Our TrueType
    fonts keep ASCII at its own codes in subset 0, so ASCII needs no encoding; other text
    is encoded into the font's subsets by ReportLab (`splitString`), which also records
    which glyphs to embed."""

    def __init__(self, canvas: Canvas) -> None:
        self.canvas = canvas
        self.doc = canvas._doc
        self.code: list[str] = []
        self.font: tuple[str, float] | None = None
        self.grey: float | None = None
        self.names: dict[tuple[str, int], str] = {}

    def _name(self, font: str, subset: int) -> str:
        """The resource name of a subset of `font` in this PDF (registering it)."""
        found = self.names.get((font, subset))
        if found is None:
            found = getFont(font).getSubsetInternalName(subset, self.doc)
            self.names[font, subset] = found
        return found

    def write(self, x: float, y: float, style: TextStyle, text: str) -> None:
        code, size = self.code, style.size
        if self.grey != style.grey:
            self.grey = style.grey
            code.append(f"{style.grey:g} g")
        code.append(f"1 0 0 1 {x:.2f} {y:.2f} Tm")
        shown = _shown(text, style.font) or self._encoded(text, style.font)
        for font, subset, operator in shown:
            name = self.names.get((font, subset)) or self._name(font, subset)
            if self.font != (name, size):
                self.font = (name, size)
                code.append(f"{name} {size:g} Tf")
            code.append(operator)

    def _encoded(self, text: str, font: str) -> tuple[tuple[str, int, str], ...]:
        """(font, subset, `Tj` operator) of each piece of a line with text beyond ASCII,
        encoded into this document's subsets."""
        return tuple(
            (face, subset, f"({data.decode('latin-1').translate(PDF_ESCAPES)}) Tj")
            for face, piece in pieces(text, font)
            for subset, data in getFont(face).splitString(piece, self.doc)
        )

    def flush(self) -> None:
        if self.code:
            self.canvas.addLiteral("q BT\n" + "\n".join(self.code) + "\nET Q")
        self.code, self.font, self.grey = [], None, None


def _canvas(buffer: Any, paper: str, title: str, *, compress: bool = True) -> Canvas:
    canvas = Canvas(
        buffer,
        pagesize=page_size(paper),
        invariant=True,
        pageCompression=int(compress),
        initialFontName=FONT,
    )
    canvas.setTitle(title)
    canvas.setAuthor("exam_service")
    canvas.setCreator("exam_service")
    return canvas


def _render(
    paper: str,
    head: str,
    mark: str,
    foot: str,
    blocks: Sequence[_Block],
    *,
    compress: bool = True,
) -> bytes:
    """The pages of `blocks`, each with `head` left and `mark` right in the running header
    (not on the first page) and `foot` with "Page x of y" in the footer."""
    width, height = page_size(paper)
    pages = _paginate(blocks, height - 2 * MARGIN)
    buffer = io.BytesIO()
    canvas = _canvas(buffer, paper, f"{head} - {mark}", compress=compress)
    mark = fit_line(mark, BOLD, 9, 120)
    head = fit_line(head, FONT, 8, width - 2 * MARGIN - text_width(mark, BOLD, 9) - 12)
    foot = fit_line(foot, FONT, 8, width - 2 * MARGIN - 80)
    _Pages(canvas, (width, height), head, mark, foot).draw(pages)
    _finish_pages(canvas, (width, height))
    canvas.save()
    return buffer.getvalue()


def _finish_pages(canvas: Canvas, size: tuple[float, float]) -> None:
    """What ReportLab would write out for every page, made once per document: each page's
    content as bytes, encoded at once (ReportLab would encode it through its PDFDocEncoding
    codec character by character, a fifth of a booklet's time; it is ASCII, since
    `_TextWriter` escapes every other byte), and one resource dictionary (fonts and
    procedure sets) and one media box that every page refers to instead of a copy on each.
    These pages use no images, patterns or transparency, the other resources a page has."""
    doc = canvas._doc
    resources = PDFResourceDictionary()
    resources.basicFonts()
    resources.allProcs()
    shared = doc.Reference(resources)
    box = doc.Reference(PDFArray([0, 0, *size]))
    for page in doc.Pages.pages:
        page.stream = page.stream.encode("ascii")
        page.Resources, page.MediaBox = shared, box


# ---- Booklet ----------------------------------------------------------------------------


def booklet_pdf(
    doc: PaperExamDocument,
    form: str,
    *,
    cache: LayoutCache | None = None,
    compress: bool = False,
) -> bytes:
    """The question booklet of one form: a cover (title, form, time allowed, instructions,
    name and candidate-number boxes), then the numbered questions, each kept on one page
    when it fits and each case's scenario printed once before its questions. Nothing of
    the key. A top-level function, so process pools can run it.

    Uncompressed by default: ReportLab wraps compressed pages in ASCII85, which without its
    optional C accelerator (the `rl-accel` package) more than doubles a booklet's time (13
    against 5 ms here); a 65-question booklet is about 160 KiB uncompressed, 110 KiB
    compressed (its embedded fonts, compressed either way, are about 70 KiB)."""
    register()
    layouts = LAYOUTS if cache is None else cache
    paper_form = _form(doc, form)
    width = page_size(doc.paper)[0] - 2 * MARGIN
    blocks = [_cover(doc, paper_form, width, layouts)]
    blocks += _question_blocks(paper_form.questions, width, layouts)
    title = fit_line(doc.title, FONT, 8, 400)
    code = fit_line(form, BOLD, 8, 60)
    return _render(
        doc.paper, title, f"Form {code}", f"Form {code} - {title}", blocks, compress=compress
    )


def _form(doc: PaperExamDocument, form: str) -> PrintedForm:
    try:
        return doc.form(form)
    except KeyError:
        codes = ", ".join(f.code for f in doc.forms) or "none"
        raise ValueError(
            f"paper exam {doc.exam_id} has no form {form!r} (forms: {codes})"
        ) from None


def _cover(doc: PaperExamDocument, form: PrintedForm, width: float, cache: LayoutCache) -> _Block:
    block = _Block()
    block.text(TITLE, cache.lines(doc.title, TITLE, TITLE_TEXT, width)[:3])
    block.gap(6)
    block.text(HEADING, [fit_line(f"Form {form.code}", BOLD, 16, width)])
    block.gap(8)
    time = f"{doc.time_minutes} minutes" if doc.time_minutes else "not limited"
    block.text(BODY, [f"Time allowed: {time}", f"Questions: {len(form.questions)}"])
    block.gap(18)
    block.rows.append(_Row(14.0, (_Run(0, LABEL, "Name"),)))
    block.rows.append(_Row(32.0, boxes=((0, 2, width, 26),)))
    block.rows.append(_Row(14.0, (_Run(0, LABEL, "Candidate number"),)))
    cell = 24.0
    block.rows.append(
        _Row(34.0, boxes=tuple((i * cell, 2, cell, 28) for i in range(NUMBER_DIGITS)))
    )
    block.gap(14)
    block.rows.append(_Row(18.0, (_Run(0, SUBHEADING, "Instructions"),)))
    given = [clean_text(text, INSTRUCTION_TEXT) for text in doc.instructions[:INSTRUCTIONS_SHOWN]]
    standard = list(STANDARD_INSTRUCTIONS)
    if any(question.type == "numeric" for question in form.questions):
        standard.insert(-1, NUMERIC_INSTRUCTION)  # with the other types, before the pen
    for text in [*given, *standard]:
        block.labelled(
            _label(0, BODY, "\u2022"), cache.rows(text, BODY, INSTRUCTION_TEXT, width - 14, 14)
        )
        block.gap(3)
    block.gap(10)
    block.text(LABEL, ["Do not open this booklet until you are told to start."])
    return block


def _question_blocks(
    questions: Sequence[PaperQuestion], width: float, cache: LayoutCache
) -> list[_Block]:
    blocks: list[_Block] = []
    previous_case: str | None = None
    for index, question in enumerate(questions):
        block = _Block(new_page=index == 0)
        if question.case_id and question.case_id != previous_case:
            _case(block, questions, index, width, cache)
        previous_case = question.case_id
        _question(block, question, width, cache)
        blocks.append(block)
    return blocks


def _case(
    block: _Block,
    questions: Sequence[PaperQuestion],
    start: int,
    width: float,
    cache: LayoutCache,
) -> None:
    """The case's title and scenario, once, before the first of its consecutive questions."""
    question = questions[start]
    end = start
    while end + 1 < len(questions) and questions[end + 1].case_id == question.case_id:
        end += 1
    first, last = question.number, questions[end].number
    refer = (
        f"Question {first} refers to this case."
        if first == last
        else f"Questions {first} to {last} refer to this case."
    )
    title = f"Case: {question.case_title}" if question.case_title else "Case"
    block.gap(4, shade=True)
    block.rows += cache.rows(title, CASE_TITLE, TITLE_TEXT, width, shade=True)[:2]
    block.text(HINT, [refer], shade=True)
    block.gap(3, shade=True)
    block.rows += cache.rows(question.case_scenario or "", CASE, CASE_TEXT, width, shade=True)
    block.gap(5, shade=True)
    block.gap(8)


def _hint(question: PaperQuestion) -> str:
    if question.type == "numeric":
        unit = f", in {question.unit}" if question.unit else ""
        return (
            f"Write your answer (a number{unit}) in the grid of question {question.number} on "
            "the answer sheet: one digit or the point per box, and fill the bubble under each."
        )
    if question.type == "multiple":
        return f"Choose {question.choose}." if question.choose else "Choose all that apply."
    if question.type == "ordering":
        return ORDERING_HINT
    if question.type == "matching":
        return MATCHING_HINT
    return "Choose one."


def _question(block: _Block, question: PaperQuestion, width: float, cache: LayoutCache) -> None:
    text_width = width - INDENT
    stem = cache.rows(question.stem, STEM, STEM_TEXT, text_width, INDENT)
    block.labelled(_label(0, NUMBER, f"{question.number}."), stem)
    block.gap(2)
    block.rows += cache.rows(_hint(question), HINT, INSTRUCTION_TEXT, text_width, INDENT)
    block.gap(3)
    if question.type == "matching":
        block.text(LABEL, ["Prompts"], INDENT)
        _options(
            block,
            question.prompts,
            [str(i + 1) for i in range(len(question.prompts))],
            text_width,
            cache,
        )
        block.gap(2)
        block.text(LABEL, ["Choices"], INDENT)
        _options(
            block,
            question.choices,
            [letter(i) for i in range(len(question.choices))],
            text_width,
            cache,
        )
    else:
        _options(
            block,
            question.options,
            [letter(i) for i in range(len(question.options))],
            text_width,
            cache,
        )
    block.gap(12)


def _options(
    block: _Block, texts: Sequence[str], labels: Sequence[str], width: float, cache: LayoutCache
) -> None:
    for label, text in zip(labels, texts, strict=True):
        rows = cache.rows(text, OPTION, OPTION_TEXT, width - GUTTER, INDENT + GUTTER)
        block.labelled(_label(INDENT, OPTION_LABEL, label), rows)
        block.gap(2)


# ---- Key --------------------------------------------------------------------------------


def key_pdf(doc: PaperExamDocument, form: str) -> bytes:
    """The answer key of one form: question number, type and answer string per question
    (letters in form order, as `exam_service.paper.document` defines), and the question's
    key for cross-reference."""
    register()
    paper_form = _form(doc, form)
    if len(paper_form.key) != len(paper_form.questions):
        raise ValueError(
            f"form {paper_form.code} has {len(paper_form.questions)} questions but "
            f"{len(paper_form.key)} key entries; rebuild the paper exam"
        )
    width = page_size(doc.paper)[0] - 2 * MARGIN
    title = fit_line(doc.title, FONT, 8, 400)
    code = fit_line(form, BOLD, 10, 60)
    head = _Block()
    head.text(HEADING, [f"Answer key - Form {code}"])
    head.text(BODY, _lines_once(doc.title, BODY, width))
    head.text(HINT, ["Confidential: keep the key away from candidates."])
    head.gap(8)
    columns = (0.0, 40.0, 140.0, 330.0)
    head.rows.append(
        _Row(
            KEY.leading + 4,
            tuple(
                _Run(x, KEY_BOLD, text)
                for x, text in zip(columns, ("No.", "Type", "Answer", "Question"), strict=True)
            ),
        )
    )
    blocks = [head]
    rows = _Block()
    for question, answer in zip(paper_form.questions, paper_form.key, strict=True):
        detail = ""
        if question.type == "numeric":
            answer, detail = numeric_key_parts(answer)
            if question.unit:
                answer = f"{answer} {question.unit}"
        rows.rows.append(
            _Row(
                KEY.leading,
                (
                    _Run(columns[0], KEY_BOLD, str(question.number)),
                    _Run(columns[1], KEY, TYPE_NAMES.get(question.type, question.type)[:20]),
                    _Run(columns[2], KEY_BOLD, fit_line(answer or "-", BOLD, KEY.size, 180)),
                    _Run(
                        columns[3],
                        KEY_NOTE,
                        fit_line(question.question_key, FONT, 8.0, width - columns[3]),
                    ),
                ),
            )
        )
        if detail:
            # the accepted range, under the answer, as wide as the line allows
            shown = fit_line(f"accepted: {detail}", FONT, 8.0, width - columns[2])
            rows.rows.append(_Row(KEY_NOTE.leading - 2, (_Run(columns[2], KEY_NOTE, shown),)))
    blocks.append(rows)
    return _render(
        doc.paper,
        f"Answer key - {title}",
        f"Form {code}",
        f"Answer key - Form {code} - confidential",
        blocks,
    )


def _lines_once(text: str, style: TextStyle, width: float) -> tuple[str, ...]:
    """Wrapped lines of a one-off text, not worth caching (a title on the key)."""
    return wrap(clean_text(text, TITLE_TEXT), style.font, style.size, width)


# ---- Answer sheets ----------------------------------------------------------------------


def answer_sheets_pdf(
    doc: PaperExamDocument, form: str, candidates: Sequence[SheetCandidate]
) -> bytes:
    """One answer sheet page per candidate, all of the form's geometry from
    `exam_service.paper.sheet.form_sheet`. What every sheet shares (marks, rows, notes) is
    drawn once as a PDF form XObject; each page adds its candidate's name, number (printed
    and bubbled) and QR code `EXAM:<exam id>:<form>:<number>`. A candidate with an empty
    number gets a spare sheet to fill in by hand."""
    register()
    _form(doc, form)
    if not candidates:
        raise ValueError("no candidates given: pass at least one (a spare sheet has number '')")
    for candidate in candidates:
        number = candidate.number
        if len(number) > NUMBER_DIGITS or not (number.isascii() and number.isdigit() or not number):
            raise ValueError(
                f"candidate {candidate.username!r} has number {number!r}; a candidate number "
                f"is at most {NUMBER_DIGITS} digits"
            )
    layout = form_sheet(doc, form)
    buffer = io.BytesIO()
    canvas = _canvas(
        buffer, doc.paper, fit_line(f"Answer sheets - {doc.title} - {form}", FONT, 8, 500)
    )
    canvas.beginForm("sheet")
    _sheet_static(canvas, layout, doc, form)
    canvas.endForm()
    for candidate in candidates:
        canvas.doForm("sheet")
        _sheet_candidate(canvas, layout.frame, doc.exam_id, form, candidate)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _sheet_static(canvas: Canvas, layout: SheetLayout, doc: PaperExamDocument, form: str) -> None:
    frame, height = layout.frame, layout.frame.height
    canvas.setFillGray(0)
    for mark in frame.marks:
        canvas.rect(mark.x, height - mark.bottom, mark.width, mark.height, stroke=0, fill=1)
    heading = frame.heading
    canvas.setFillGray(INK)
    title = fit_line(doc.title, BOLD, 13, heading.width)
    draw_string(canvas, heading.x, height - heading.y - 12, title, BOLD, 13)
    subtitle = f"Answer sheet - Form {form} - {len(layout.rows)} questions"
    subtitle = fit_line(subtitle, FONT, 10, heading.width)
    draw_string(canvas, heading.x, height - heading.y - 28, subtitle, FONT, 10)
    canvas.setFont(BOLD, 8.5)
    canvas.setFillGray(MUTED)
    canvas.drawString(heading.x, height - heading.y - 48, "Name")
    first_box = frame.number_boxes[0]
    canvas.drawString(first_box.x, height - first_box.y + 5, "Candidate number")
    canvas.setStrokeGray(0.35)
    canvas.setLineWidth(0.6)
    for box in frame.number_boxes:
        canvas.rect(box.x, height - box.bottom, box.width, box.height, stroke=1, fill=0)
    for column in frame.number_grid:
        _bubbles(canvas, column, layout.bubble_radius, height)
    _sheet_notes(canvas, frame, any(row.numeric for row in layout.rows))
    canvas.setStrokeGray(0.75)
    canvas.line(
        frame.answers.x,
        height - frame.answers.y + 10,
        frame.answers.right,
        height - frame.answers.y + 10,
    )
    for pointer in layout.pointers:
        canvas.setFillGray(INK)
        canvas.setFont(BOLD, 8)
        canvas.drawRightString(pointer.x, height - pointer.y - 2.8, str(pointer.number))
        canvas.setFont(ITALIC, 7)
        canvas.setFillGray(MUTED)
        canvas.drawString(pointer.x + 6, height - pointer.y - 2.5, "grid at right \u2192")
    for row in layout.rows:
        canvas.setFillGray(INK)
        canvas.setFont(BOLD, 8)
        label_x, label_y = row.label
        if row.numeric:
            canvas.drawString(label_x, height - label_y - 2.8, f"Question {row.number}")
            _grid(canvas, row, layout.bubble_radius, height)
            continue
        canvas.drawRightString(label_x, height - label_y - 2.8, str(row.number))
        if row.bubbles:
            _bubbles(canvas, row.bubbles, layout.bubble_radius, height)
            continue
        canvas.setStrokeGray(0.35)
        canvas.setLineWidth(0.6)
        canvas.setFont(FONT, 5.5)
        canvas.setFillGray(MUTED)
        for index, box in enumerate(row.boxes, start=1):
            canvas.rect(box.x, height - box.bottom, box.width, box.height, stroke=1, fill=0)
            canvas.drawCentredString(box.centre[0], height - box.y + 2, str(index))


def _grid(canvas: Canvas, row: SheetRow, radius: float, height: float) -> None:
    """A numeric question's digit grid: a write-in box over each column, the columns'
    bubbles, and a light band behind the digit columns so the grid reads as one answer."""
    canvas.setFillGray(0.95)
    first, last = row.columns[1][0], row.columns[-1][-1]
    canvas.roundRect(
        first.x - GRID_PITCH / 2 + 0.5,
        height - last.y - BUBBLE_PITCH / 2,
        GRID_PITCH * NUMERIC_COLUMNS - 1,
        last.y - first.y + BUBBLE_PITCH,
        3,
        stroke=0,
        fill=1,
    )
    canvas.setStrokeGray(0.35)
    canvas.setLineWidth(0.6)
    for box in row.boxes:
        canvas.rect(box.x, height - box.bottom, box.width, box.height, stroke=1, fill=0)
    digits = [bubble for column in row.columns[1:] for bubble in column[1:]]
    _bubbles(canvas, digits, radius, height)
    # the minus and the points drawn as marks: a 6-point "." or "-" is too small to see
    marks = [row.columns[0][0], *(column[0] for column in row.columns[1:])]
    for bubble in marks:
        canvas.circle(bubble.x, height - bubble.y, radius, stroke=1, fill=0)
    canvas.setFillGray(MUTED)
    sign = row.columns[0][0]
    canvas.rect(sign.x - 2.4, height - sign.y - 0.45, 4.8, 0.9, stroke=0, fill=1)
    for bubble in marks[1:]:
        canvas.circle(bubble.x, height - bubble.y, 1.0, stroke=0, fill=1)


def _sheet_notes(canvas: Canvas, frame: SheetFrame, numeric: bool) -> None:
    notes = frame.notes
    size, leading = 7.5, 9.6
    top = frame.height - notes.y - size
    canvas.setFont(BOLD, 8.5)
    canvas.setFillGray(INK)
    canvas.drawString(notes.x, top, "How to mark this sheet")
    top -= leading + 3
    canvas.setFont(FONT, size)
    canvas.setFillGray(0.25)
    for note in (*SHEET_NOTES, SHEET_NUMERIC_NOTE) if numeric else SHEET_NOTES:
        lines = wrap(note, FONT, size, notes.width - 10)
        if top - leading * (len(lines) - 1) < frame.height - notes.bottom:
            return
        canvas.circle(notes.x + 2.5, top + 2.6, 1.3, stroke=0, fill=1)
        for line in lines:
            canvas.drawString(notes.x + 8, top, line)
            top -= leading
        top -= 2.5


def _bubbles(canvas: Canvas, bubbles: Iterable[Any], radius: float, height: float) -> None:
    canvas.setStrokeGray(0.35)
    canvas.setLineWidth(0.6)
    canvas.setFont(FONT, 6)
    canvas.setFillGray(FAINT)
    for bubble in bubbles:
        y = height - bubble.y
        canvas.circle(bubble.x, y, radius, stroke=1, fill=0)
        canvas.drawCentredString(bubble.x, y - 2.1, bubble.label)


def _sheet_candidate(
    canvas: Canvas, frame: SheetFrame, exam_id: int, form: str, candidate: SheetCandidate
) -> None:
    height, heading = frame.height, frame.heading
    name = candidate.display_name.strip()
    if candidate.username and name:
        name = f"{name} ({candidate.username})"
    canvas.setFillGray(INK)
    if name:
        name = fit_line(name, FONT, 11, heading.width - 30)
        draw_string(canvas, heading.x + 30, height - heading.y - 48, name, FONT, 11)
    else:
        canvas.setStrokeGray(0.35)
        canvas.line(heading.x + 30, height - heading.y - 50, heading.right, height - heading.y - 50)
    canvas.setFont(BOLD, 11)
    canvas.setFillGray(0)
    for digit, box, column in zip(
        candidate.number, frame.number_boxes, frame.number_grid, strict=False
    ):
        canvas.drawCentredString(box.centre[0], height - box.bottom + 4.5, digit)
        bubble = column[int(digit)]
        canvas.circle(bubble.x, height - bubble.y, 5.5, stroke=0, fill=1)
    _qr(canvas, frame, qr_payload(exam_id, form, candidate.number))


def _qr(canvas: Canvas, frame: SheetFrame, payload: str) -> None:
    """The QR code in its box, with a quiet zone of four modules. ReportLab's QR widget
    encodes it; its modules are drawn as one path, since the widget's own shapes cost three
    times the encoding."""
    box = frame.qr
    code = QrCodeWidget(payload, barLevel="M").qr
    code.make()
    count = code.getModuleCount()
    module = min(box.width, box.height) / (count + 8)
    left, top = box.x + 4 * module, frame.height - box.y - 4 * module
    path = canvas.beginPath()
    for row, cells in enumerate(code.modules):
        column = 0
        for dark, run in groupby(bool(cell) for cell in cells):
            length = len(list(run))
            if dark:
                path.rect(left + column * module, top - (row + 1) * module, length * module, module)
            column += length
    canvas.setFillGray(0)
    canvas.drawPath(path, stroke=0, fill=1)


# ---- Batches ----------------------------------------------------------------------------

_worker_doc: PaperExamDocument | None = None


def _start_worker(doc: PaperExamDocument) -> None:
    global _worker_doc
    _worker_doc = doc


def _worker_booklet(form: str) -> bytes:
    assert _worker_doc is not None, "the pool's initializer sets the document"
    return booklet_pdf(_worker_doc, form)


def render_booklets(
    doc: PaperExamDocument, forms: Sequence[str], processes: int = 0
) -> dict[str, bytes]:
    """The booklet of each of `forms`, by form code. `processes` 0 or 1 renders here; more
    spreads the forms over that many fresh ("spawn") worker processes, each sent the
    document once and keeping its own `LayoutCache`: worth it for batches of dozens of
    booklets, since starting a worker costs about as much as rendering ten."""
    if processes <= 1 or len(forms) <= 1:
        return {form: booklet_pdf(doc, form) for form in forms}
    context = multiprocessing.get_context("spawn")
    workers = min(processes, len(forms))
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(doc,)
    ) as pool:
        return dict(zip(forms, pool.map(_worker_booklet, forms), strict=True))
