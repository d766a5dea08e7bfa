"""The reports as CSV files: one row per objective, item or attempt."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from exam_service.reports.schemas import (
    CandidateReport,
    CohortReport,
    ItemReport,
    NumericShares,
    SittingReport,
)


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
    """Per question revision: the classical figures, the item response theory parameters
    (empty where not estimated) and the flags."""
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
            "irt_model",
            "calibration",
            "a",
            "se_a",
            "b",
            "se_b",
            "infit",
            "outfit",
            "misfit",
            "flags",
            "numeric_right",
            "numeric_partial",
            "numeric_wrong",
            "numeric_common_wrong",
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
                i.model,
                i.calibration,
                i.a,
                i.se_a,
                i.b,
                i.se_b,
                i.infit,
                i.outfit,
                i.misfit,
                "; ".join(i.flags),
                *_numeric_cells(i.numeric),
                i.stem,
            ]
            for i in report.items
        ),
    )


def _numeric_cells(shares: NumericShares | None) -> list[Any]:
    """Right, partial and wrong shares and the common wrong values ("1150 x12; 3e+06 x5");
    empty for other types."""
    if shares is None:
        return ["", "", "", ""]
    common = "; ".join(f"{v.value} x{v.count}" for v in shares.common_wrong)
    return [shares.right, shares.partial, shares.wrong, common]


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


def sitting_csv(report: SittingReport, files: dict[int, list[str]] | None = None) -> bytes:
    """Per candidate of the sitting: attempts, the counted score and verdict, the
    accommodation; with `files` (user id -> file names) a last column naming each
    candidate's score reports (the score-report ZIP's index)."""
    header = [
        "username",
        "display_name",
        "on_roster",
        "status",
        "attempts_used",
        "attempts_allowed",
        "graded_attempts",
        "counted_score",
        "counted_attempt_id",
        "passed",
        "first_started_at",
        "last_finished_at",
        "extra_time_seconds",
        "time_multiplier",
        "extra_attempts",
        "own_closes_at",
    ]
    rows = []
    for c in report.candidates:
        extra = c.accommodation
        row = [
            c.username,
            c.display_name,
            c.on_roster,
            c.status,
            c.attempts_used,
            c.attempts_allowed,
            c.graded_attempts,
            c.counted_score,
            c.counted_attempt_id,
            c.passed,
            _moment(c.first_started_at),
            _moment(c.last_finished_at),
            extra.extra_time_seconds if extra else None,
            extra.time_multiplier if extra else None,
            extra.extra_attempts if extra else None,
            _moment(extra.closes_at) if extra else None,
        ]
        if files is not None:
            row.append(" ".join(files.get(c.user_id, [])))
        rows.append(row)
    return _csv([*header, "score_reports"] if files is not None else header, rows)


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")
