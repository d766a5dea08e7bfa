"""API shapes of paper exams, paper answers and scans."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

from exam_service.http import RowId


class PaperExamCreate(Struct):
    """`blueprint_id`, or `sitting_id` for a paper exam sat in one of your sittings (its
    blueprint; its roster gets the answer sheets; its paper answers are attempts in it)."""

    title: Annotated[str, Meta(min_length=1, max_length=200)]
    blueprint_id: Annotated[str, Meta(min_length=1, max_length=100)] | None = None
    forms: Annotated[int, Meta(ge=1, le=26)] = 1
    seed: Annotated[int, Meta(ge=0, lt=2**62)] | None = None
    paper: Literal["a4", "letter"] = "a4"
    sitting_id: RowId | None = None


class PaperExamView(Struct):
    id: int
    blueprint_id: str
    title: str
    forms: list[str]
    seed: int
    paper: str
    question_count: int
    time_limit_seconds: int | None
    created_at: datetime
    sitting_id: int | None = None
    """The sitting it is sat in; null: on its own."""


class PaperResponse(Struct):
    candidate: str
    """The candidate's username."""
    form: str
    answers: list[str]
    """One answer string per question in the form's numbering ("B", "AC", "CADB", "")."""


class PaperResponses(Struct):
    responses: list[PaperResponse]


class RowError(Struct):
    row: int
    """1-based: the JSON list entry, or the CSV line (the header is line 1)."""
    column: str
    message: str


class GradedPaper(Struct):
    row: int
    candidate: str
    form: str
    attempt_id: int
    raw_percent: float
    scaled_score: int
    passed: bool


class PaperImportReport(Struct):
    imported: list[GradedPaper]
    errors: list[RowError]


class ScanAnswer(Struct):
    number: int
    value: str
    confidence: float
    status: str
    """`ok`, `blank` or `review`."""
    crop_png_base64: str | None = None
    """For `review`: the row as scanned, to read the answer from."""
    note: str | None = None
    """For a numeric question's digit grid under `review`: what is unclear, naming the
    column ("digit column 3: two bubbles filled (2 and 7)")."""


class ScanSheet(Struct):
    page: int
    status: str
    """`graded`, `review` (a person must settle some answers, then send them to
    /responses), `unreadable` or `refused` (read, but it cannot be graded: see problems)."""
    exam_id: int | None
    form: str | None
    candidate_number: str | None
    candidate: str | None
    answers: list[ScanAnswer]
    problems: list[str]
    attempt_id: int | None = None
    scaled_score: int | None = None
    passed: bool | None = None


class ScanReport(Struct):
    sheets: list[ScanSheet]
    graded: int
    review: int
    unreadable: int
