"""Paper answers and scans graded from the browser: the outcome of a CSV upload, and the
review of scanned sheets the reader could not settle.

A scan upload becomes a `ScanState` (sheets done, sheets pending review with what the
reader saw of each unclear row); the review form carries that state in a hidden field,
so the server keeps nothing between posts. Each reviewed sheet is graded through the same
checks as paper answers sent to POST /api/v1/paper-exams/{id}/responses.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.auth.schemas import CurrentUser
from exam_service.exams.delivery import LETTERS
from exam_service.heavy import HeavyWork
from exam_service.models import PaperExam
from exam_service.paper import service
from exam_service.paper.document import PaperExamDocument, PaperQuestion
from exam_service.paper.scan import BLANK, FILLED, AnswerReading, SheetReading
from exam_service.paper.schemas import (
    GradedPaper,
    PaperResponse,
    RowError,
    ScanReport,
    ScanSheet,
)
from exam_service.paper.sheet import MINUS, POINT


class Form(Protocol):
    """The posted review form: its fields by name (Litestar's FormMultiDict is one)."""

    def get(self, key: str, default: Any, /) -> Any: ...

    def getall(self, key: str, default: Any, /) -> Any: ...


@dataclass
class AnswersOutcome:
    """What became of one upload of paper answers."""

    filename: str = ""
    pasted: str = ""
    partial: bool = False
    error: str | None = None
    """The upload as a whole was refused (no rows, or problems and not partial)."""
    errors: list[RowError] = field(default_factory=list)
    graded: list[GradedPaper] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return self.error is not None


async def grade_answer_upload(
    session: AsyncSession,
    heavy: HeavyWork,
    me: CurrentUser,
    exam: PaperExam,
    outcome: AnswersOutcome,
    data: bytes,
) -> AnswersOutcome:
    """Grade a CSV of paper answers uploaded as a file (`data`, named in
    `outcome.filename`) or pasted (`outcome.pasted`), as POST /responses grades it; the
    outcome says what became of it in words for the page."""
    if outcome.filename and outcome.pasted.strip():
        outcome.error = (
            "You chose a file and also pasted rows: send one of them (empty the box, or "
            "choose the file again without pasting)."
        )
    elif outcome.filename and not data:
        outcome.error = f"{outcome.filename} is empty: choose the CSV file with the answers."
    elif not outcome.filename and not outcome.pasted.strip():
        outcome.error = (
            "Choose a CSV file or paste its rows: the header candidate,form,1,2,... then one "
            "row per candidate."
        )
    if outcome.error:
        return outcome
    rows, errors = await heavy.run(service.parse_csv, data or outcome.pasted.encode("utf-8"))
    checked, row_errors = await service.check_rows(session, me, exam, rows)
    outcome.errors = errors + row_errors
    if not rows and not outcome.errors:
        outcome.error = "There are no answer rows under the header: add one row per candidate."
    elif outcome.errors and not outcome.partial:
        outcome.error = (
            f"{len(outcome.errors)} problem{'s' if len(outcome.errors) != 1 else ''} in the "
            "answers; nothing was imported. Fix the lines listed below and upload again, or "
            "tick 'Grade the good rows' to grade the rest now."
        )
    else:
        outcome.graded = await service.grade_rows(session, exam, checked)
    return outcome


class ReviewAnswer(msgspec.Struct):
    """One answer the scan reader could not settle."""

    number: int
    reading: str
    """What the reader saw, in words."""
    suggested: str = ""
    """The letters clearly marked: where the form's controls start."""
    crop: str = ""
    """The scanned row as base64 PNG."""

    @property
    def crop_size(self) -> tuple[int, int]:
        """The crop's width and height in pixels, from its PNG header; (0, 0) if unknown."""
        head = base64.b64decode(self.crop[:32]) if len(self.crop) >= 32 else b""
        if not head.startswith(b"\x89PNG"):
            return 0, 0
        width, height = struct.unpack(">II", head[16:24])
        return int(width), int(height)


class PendingSheet(msgspec.Struct):
    """A scanned sheet waiting for a person."""

    page: int
    form: str
    candidate: str
    candidate_number: str | None
    problems: list[str]
    answers: list[str]
    """Every answer as read, in the form's numbering; "" where under review."""
    reviews: list[ReviewAnswer]

    @property
    def status(self) -> str:
        return "review"


class ScanState(msgspec.Struct):
    """The outcome of one scan upload while it is being reviewed. The review form carries
    it in a hidden field, so the server keeps nothing between posts; it is only ever shown
    back to the instructor who sent it, and what is graded goes through check_rows."""

    done: list[ScanSheet]
    """Sheets graded, unreadable or refused (their answers left out)."""
    pending: list[PendingSheet]


def _grid_reading(answer: AnswerReading) -> str:
    """The reader's view of a digit grid, e.g. "read - 1 2 ? 5 _ _ _ (digit column 3: two
    bubbles filled (. and 7))": each column's character, ? where unclear, _ where blank."""
    shown, start = [], 0
    for size in (1, *[11] * (len(answer.fills) // 11)):
        fills = answer.fills[start : start + size]
        labels = [MINUS] if size == 1 else [POINT, *"0123456789"]
        start += size
        marked = [label for label, f in zip(labels, fills, strict=True) if f > FILLED]
        unclear = any(BLANK <= f <= FILLED for f in fills)
        shown.append("?" if unclear or len(marked) > 1 else marked[0] if marked else "_")
    return f"read {' '.join(shown)} ({answer.note or 'unclear'}): type the number you see"


def _reading(answer: AnswerReading, question_type: str) -> str:
    """The reader's view of a review answer, e.g. "A empty, B filled, C unclear"."""
    if question_type == "numeric":
        return _grid_reading(answer)
    if question_type in ("ordering", "matching"):
        return "writing in the boxes (handwriting is not read): type the letters you see"
    words = [
        f"{LETTERS[i]} {'filled' if f > FILLED else 'empty' if f < BLANK else 'unclear'}"
        for i, f in enumerate(answer.fills)
    ]
    marked = sum(1 for f in answer.fills if f > FILLED)
    why = (
        "two marks on a one-answer row"
        if question_type == "single" and marked > 1
        else "a light, partial or crossed-out mark"
    )
    return f"{', '.join(words)} ({why})"


def scan_state(
    report: ScanReport, readings: Sequence[SheetReading], doc: PaperExamDocument
) -> ScanState:
    """The report of a scan upload split into finished sheets and a review list; the
    readings (one per sheet, in the same order) add what the reader saw of each bubble."""
    state = ScanState(done=[], pending=[])
    for sheet, reading in zip(report.sheets, readings, strict=True):
        if sheet.status != "review" or sheet.form is None:
            state.done.append(msgspec.structs.replace(sheet, answers=[]))
            continue
        questions = doc.form(sheet.form).questions
        reviews = []
        for shown, read in zip(sheet.answers, reading.answers, strict=True):
            if shown.status != "review":
                continue
            kind = questions[shown.number - 1].type
            marked = ""  # write-in boxes, digit grids, two marks on a one-answer row: no guess
            if kind in ("single", "multiple"):
                marked = "".join(LETTERS[i] for i, f in enumerate(read.fills) if f > FILLED)
                if kind == "single" and len(marked) > 1:
                    marked = ""
            reviews.append(
                ReviewAnswer(
                    number=shown.number,
                    reading=_reading(read, kind),
                    suggested=marked,
                    crop=shown.crop_png_base64 or "",
                )
            )
        state.pending.append(
            PendingSheet(
                page=sheet.page,
                form=sheet.form,
                candidate=sheet.candidate or "",
                candidate_number=sheet.candidate_number,
                problems=sheet.problems,
                answers=[a.value for a in sheet.answers],
                reviews=reviews,
            )
        )
    return state


@dataclass
class ReviewEntry:
    """One review answer as the form shows it."""

    review: ReviewAnswer
    question: PaperQuestion
    chosen: list[str]
    """`single`/`multiple`: the letters chosen; `ordering`: [the letters typed];
    `numeric`: [the number typed];
    `matching`: the letter chosen for each prompt ("" for none)."""
    answer: str
    """The choice in paper notation ("B", "AC", "CADB", "BAC"; "" unanswered)."""
    error: str = ""


@dataclass
class SheetReview:
    sheet: PendingSheet
    entries: list[ReviewEntry]
    errors: list[str] = field(default_factory=list)


@dataclass
class ScanOutcome:
    """What became of one scan upload, or of one sheet graded from its review form."""

    filename: str = ""
    error: str | None = None
    state: ScanState | None = None
    reviews: list[SheetReview] = field(default_factory=list)
    graded: GradedPaper | None = None
    """The sheet just graded from the review form."""

    @property
    def state_json(self) -> str:
        return msgspec.json.encode(self.state).decode() if self.state else ""

    @property
    def pages(self) -> list[ScanSheet | PendingSheet]:
        if self.state is None:
            return []
        return sorted([*self.state.done, *self.state.pending], key=lambda s: s.page)


BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _choice(
    question: PaperQuestion, review: ReviewAnswer, page: int, form: Form | None
) -> tuple[list[str], str, str]:
    """The reviewer's choice for one question: (chosen, paper answer, problem). Before the
    first post (`form` None) the choice is what the reader saw clearly marked."""
    name = f"p{page}-q{question.number}"
    if question.type == "matching":
        count = len(question.prompts)
        if form is None:
            return [""] * count, "", ""
        chosen = [str(form.get(f"{name}-{k}", "")).strip().upper() for k in range(1, count + 1)]
        if any(chosen) and not all(chosen):
            problem = f"Choose a match for each of the {count} prompts, or 'No answer' for all."
            return chosen, "", problem
        return chosen, "".join(chosen), ""
    if question.type == "ordering":
        text = "" if form is None else "".join(str(form.get(name, "")).split()).upper()
        return [text], text, ""
    if question.type == "numeric":
        text = "" if form is None else str(form.get(name, "")).strip()
        return [text], text, ""
    if form is None:
        return list(review.suggested), review.suggested, ""
    sent = {str(v).strip().upper() for v in form.getall(name, [])}
    if question.type == "single" and not sent:
        return [], "", "Choose the answer you read on the sheet, or 'No answer'."
    # "" is the single-answer "No answer" button: kept in `chosen` to show it chosen
    chosen = sorted(sent if question.type == "single" else sent - {""})
    return chosen, "".join(chosen), ""


def review_views(state: ScanState, doc: PaperExamDocument, form: Form | None) -> list[SheetReview]:
    """The review form's sheets, with the choices posted in `form` (if any) kept, so a
    sheet that is not graded yet keeps what the reviewer chose. KeyError or IndexError when
    the state names a form or question the paper exam does not have."""
    views = []
    for sheet in state.pending:
        questions = doc.form(sheet.form).questions
        if form is not None:
            sheet.candidate = str(form.get(f"p{sheet.page}-candidate", "")).strip()
        entries = []
        for review in sheet.reviews:
            if not BASE64.fullmatch(review.crop):
                review.crop = ""
            if not 1 <= review.number <= len(questions):
                raise IndexError(review.number)
            question = questions[review.number - 1]
            chosen, answer, error = _choice(question, review, sheet.page, form)
            entries.append(ReviewEntry(review, question, chosen, answer, error))
        views.append(SheetReview(sheet, entries))
    return views


async def grade_reviewed(
    session: AsyncSession,
    me: CurrentUser,
    exam: PaperExam,
    review: SheetReview,
    outcome: ScanOutcome,
) -> None:
    """Grade one reviewed sheet like a row sent to /responses, or say what to fix."""
    sheet = review.sheet
    if any(entry.error for entry in review.entries):
        review.errors.append("Some answers are not settled yet: see the questions marked below.")
        return
    if not sheet.candidate:
        review.errors.append("Type the candidate's username, then grade the sheet again.")
        return
    answers = list(sheet.answers)
    for entry in review.entries:
        answers[entry.question.number - 1] = entry.answer
    row = PaperResponse(sheet.candidate, sheet.form, answers)
    checked, errors = await service.check_rows(session, me, exam, [(sheet.page, row)])
    if errors:
        entries = {str(entry.question.number): entry for entry in review.entries}
        for problem in errors:
            if problem.column in entries:
                entries[problem.column].error = f"{problem.message}."
            else:
                review.errors.append(f"{problem.message[:1].upper()}{problem.message[1:]}.")
        return
    [graded] = await service.grade_rows(session, exam, checked)
    assert outcome.state is not None
    outcome.state.pending.remove(sheet)
    outcome.state.done.append(
        ScanSheet(
            page=sheet.page,
            status="graded",
            exam_id=exam.id,
            form=sheet.form,
            candidate_number=sheet.candidate_number,
            candidate=graded.candidate,
            answers=[],
            problems=[],
            attempt_id=graded.attempt_id,
            scaled_score=graded.scaled_score,
            passed=graded.passed,
        )
    )
    outcome.reviews.remove(review)
    outcome.graded = graded
