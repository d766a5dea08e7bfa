"""API shapes of the bank: objectives with counts, questions with keys (instructors only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgspec import Struct


class ObjectiveView(Struct):
    code: str
    title: str
    level: str
    weight: float | None
    question_count: int
    """Active questions tagged with this node or any node below it."""
    children: list[ObjectiveView]


class CaseView(Struct):
    id: str
    title: str
    scenario: str


class Option(Struct):
    id: str
    text: str
    rationale: str


class Choice(Struct):
    id: str
    text: str


class NumericMistake(Struct):
    value: float
    rationale: str


class NumericPartial(Struct):
    tolerance: float | str
    credit: float


class NumericDetail(Struct):
    """A numeric question's bands and feedback; its answer is the question's `key`."""

    tolerance: float | str
    """0.5 (plus or minus 0.5) or "2%" (of the answer); 0: exactly the answer."""
    unit: str | None
    partial: NumericPartial | None
    rationale: str
    """How the right answer is worked out."""
    mistakes: list[NumericMistake]


class QuestionView(Struct):
    """A question's current revision with its key: for authors, never for candidates."""

    id: str
    status: str
    revision: int
    content_hash: str
    type: str
    difficulty: str
    objectives: list[str]
    source: str
    case: CaseView | None
    stem: str
    options: list[Option]
    prompts: list[Option]
    choices: list[Choice]
    choose: int | None
    key: list[str] | dict[str, str] | float
    """Option ids; prompt id -> choice id for matching; the number for numeric."""
    explanation: str
    tags: list[str]
    created_at: datetime
    numeric: NumericDetail | None = None
    """`numeric` questions only."""


class QuestionPage(Struct):
    items: list[QuestionView]
    total: int
    limit: int
    offset: int


class QuestionDetail(Struct):
    """The current revision plus every revision, oldest first."""

    id: str
    status: str
    current_revision: int
    retired_at: datetime | None
    current: QuestionView
    revisions: list[QuestionView]


def question_view(revision: Any, status: str) -> QuestionView:
    content: dict[str, Any] = revision.content
    case = (
        CaseView(revision.case_id, revision.case_title or "", revision.case_scenario or "")
        if revision.case_id
        else None
    )
    return QuestionView(
        id=revision.question_id,
        status=status,
        revision=revision.number,
        content_hash=revision.content_hash,
        type=revision.type,
        difficulty=revision.difficulty,
        objectives=[link.objective.code for link in revision.objectives],
        source=revision.source,
        case=case,
        stem=revision.stem,
        options=[Option(**o) for o in content.get("options", [])],
        prompts=[Option(**p) for p in content.get("prompts", [])],
        choices=[Choice(**c) for c in content.get("choices", [])],
        choose=content.get("choose"),
        key=content["key"],
        explanation=content["explanation"],
        tags=list(content.get("tags", [])),
        created_at=revision.created_at,
        numeric=_numeric_detail(content) if revision.type == "numeric" else None,
    )


def _numeric_detail(content: dict[str, Any]) -> NumericDetail:
    partial = content.get("partial")
    return NumericDetail(
        tolerance=content.get("tolerance") or 0,
        unit=content.get("unit"),
        partial=NumericPartial(**partial) if partial else None,
        rationale=content["rationale"],
        mistakes=[NumericMistake(**m) for m in content.get("mistakes", [])],
    )


class ImportReport(Struct):
    """What an uploaded quiz file did (or, with dry_run, would do) to the bank."""

    file: str
    format: str
    dry_run: bool
    created: int
    updated: int
    unchanged: int
    questions: list[str]
    errors: list[str]
    skipped: list[str]
    warnings: list[str]
