"""The reports as CSV files: one row per objective, item or attempt."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from exam_service.reports.schemas import CandidateReport, CohortReport, ItemReport


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else _cell(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def _cell(value: Any) -> Any:
    # A leading =, +, - or @ makes spreadsheets evaluate the cell: quote it as text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def cohort_csv(report: CohortReport) -> bytes:
    """Per objective node: attempts, mean percent with its interval, share meeting the cut."""
    return _csv(
        [
            "code",
            "title",
            "level",
            "attempts",
            "mean_percent",
            "ci_low",
            "ci_high",
            "meeting_share",
        ],
        (
            [
                n.code,
                n.title,
                n.level,
                n.attempts,
                n.mean_percent,
                n.ci_low,
                n.ci_high,
                n.meeting_share,
            ]
            for n in report.objectives
        ),
    )


def items_csv(report: ItemReport) -> bytes:
    return _csv(
        [
            "question_id",
            "revision",
            "type",
            "objective",
            "responses",
            "scored_responses",
            "facility",
            "point_biserial",
            "discrimination_index",
            "flags",
            "stem",
        ],
        (
            [
                i.question_id,
                i.revision,
                i.type,
                i.objective,
                i.responses,
                i.scored_responses,
                i.facility,
                i.point_biserial,
                i.discrimination_index,
                "; ".join(i.flags),
                i.stem,
            ]
            for i in report.items
        ),
    )


def candidate_csv(report: CandidateReport) -> bytes:
    """Per objective, weakest first, with one column per attempt (oldest first)."""
    attempt_columns = [f"attempt_{a.attempt_id}" for a in report.attempts]
    return _csv(
        ["code", "title", "level", "latest", "mean", "label", *attempt_columns, "study"],
        (
            [t.code, t.title, t.level, t.latest, t.mean, t.label, *t.percents, "; ".join(t.study)]
            for t in report.objectives
        ),
    )
