"""The sitting report as PDF: the sitting's terms and summary figures, the histogram of
counted scores, mastery per objective, and one row per candidate (who has not started,
attempts, the counted score and verdict, accommodations). Pure, like `pdf.py`, and drawn
with its building blocks (page template, tables, charts, and `_markup`/`_para`, the only
way text from data reaches a Paragraph)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reportlab.platypus import Flowable, Paragraph, Spacer, TableStyle

from exam_service.exams.schemas import AccommodationTerms
from exam_service.reports.pdf import (
    CELL_PADDING,
    LEVEL_DEPTH,
    SHADE,
    SHORT_TEXT,
    STYLES,
    _Bar,
    _BarChart,
    _chart_heading,
    _facts,
    _grid,
    _head,
    _histogram,
    _markup,
    _node_label,
    _number,
    _or_na,
    _para,
    _render,
    _when,
    _width,
)
from exam_service.reports.schemas import SittingCandidate, SittingReport
from exam_service.typeset import register

METHODS = {
    "highest": "highest score",
    "first": "first attempt",
    "last": "last attempt",
    "mean": "mean of the attempts",
}
STATUS = {"not_started": "not started", "in_progress": "in progress", "finished": "finished"}
CANDIDATE_COLUMNS = ("Candidate", "Status", "Attempts", "Counted", "Result", "Accommodation")


def sitting_report_pdf(report: SittingReport, *, paper: str = "a4") -> bytes:
    """The instructor's report of one sitting (see the module docstring)."""
    register()
    width = _width(paper)
    story: list[Flowable] = [
        Paragraph("Sitting report", STYLES["title"]),
        _para(f"{report.sitting_name} - {report.blueprint_name}", "subtitle", SHORT_TEXT),
        _summary(report, width),
        Paragraph("Counted scores", STYLES["h2"]),
        *_scores(report, width),
        *_chart_heading("Mastery by objective"),
        *_mastery(report),
        Paragraph("Candidates", STYLES["h2"]),
        *_candidates(report, width),
    ]
    title = f"Sitting report - {report.sitting_name}"
    footer = f"{title} - generated {_when(report.generated_at)}"
    return _render(story, paper, title, footer)


def _summary(report: SittingReport, width: float) -> Flowable:
    window = f"{_when(report.opens_at)} to " + (
        _when(report.closes_at) if report.closes_at else "no closing time"
    )
    limit = report.time_limit_seconds
    reliability = (
        "n/a"
        if report.reliability is None
        else f"{report.reliability_method} {report.reliability:.2f}"
    )
    allowed = report.attempts_allowed
    facts = [
        ("Sitting", f"{report.sitting_name} (sitting {report.sitting_id}, {report.state})"),
        ("Blueprint", f"{report.blueprint_name} ({report.blueprint_id})"),
        ("Window", window),
        ("Time limit", "untimed" if limit is None else f"{_number(limit / 60)} minutes"),
        ("Attempts allowed", "unlimited" if allowed is None else str(allowed)),
        ("Score that counts", METHODS.get(report.grading_method, report.grading_method)),
        ("Review", report.review_policy.replace("_", " ")),
        ("Cohorts", ", ".join(c.name for c in report.cohorts) or "none"),
        ("Candidates", str(report.roster)),
        (
            "Not started / running / finished",
            f"{report.not_started} / {report.in_progress} / {report.finished}",
        ),
        ("Attempts started", str(report.attempts)),
        ("Candidates with a score", str(report.candidates_counted)),
        ("Mean counted score", _or_na(report.mean)),
        ("Median counted score", _or_na(report.median)),
        ("Standard deviation", _or_na(report.sd)),
        (
            "Pass rate",
            _or_na(None if report.pass_rate is None else 100 * report.pass_rate, "{:.1f}%"),
        ),
        ("Reliability", reliability),
        ("SEM", _or_na(report.sem_raw, "{:.2f} raw points")),
        ("Figures over", report.attempts_counted),
        (
            "Scale",
            f"{report.scale.pass_} to pass on {report.scale.min}-{report.scale.max}, "
            f"cut {_number(report.scale.raw_cut)}%",
        ),
    ]
    return _facts(facts, width)


def _scores(report: SittingReport, width: float) -> list[Flowable]:
    if not report.candidates_counted:
        return [Paragraph("No graded attempts yet.", STYLES["body"])]
    return [
        _histogram(report.histogram, report.scale.pass_, width),
        Paragraph(
            "One score per candidate: the score that counts under the sitting's grading method.",
            STYLES["small"],
        ),
    ]


def _mastery(report: SittingReport) -> list[Flowable]:
    if not report.objectives:
        return [Paragraph("No objective scores yet.", STYLES["body"])]
    cut = report.scale.raw_cut
    bars = [
        _Bar(
            label=_node_label(node.code, node.title, node.level),
            depth=LEVEL_DEPTH.get(node.level, 3),
            percent=node.mean_percent,
            low=node.ci_low,
            high=node.ci_high,
            note=f"{100 * node.meeting_share:.0f}% meeting (n={node.attempts})",
            good=node.mean_percent >= cut,
        )
        for node in report.objectives
    ]
    legend = Paragraph(
        f"Over {report.attempts_counted}. Bars: mean percent of points per attempt; "
        f"whiskers: 95% interval of the mean; dashed line: the cut ({_number(cut)}%).",
        STYLES["small"],
    )
    return [_BarChart(bars, cut), legend]


def _candidates(report: SittingReport, width: float) -> list[Flowable]:
    if not report.candidates:
        return [Paragraph("Nobody is in the sitting's cohorts.", STYLES["body"])]
    waiting = [c for c in report.candidates if c.status == "not_started"]
    intro = Paragraph(
        f"{len(report.candidates)} candidates, {len(waiting)} not started (shaded).",
        STYLES["small"],
    )
    shares = [0.27, 0.13, 0.11, 0.11, 0.1, 0.28]
    widths = [width * share for share in shares]
    header = _head(*CANDIDATE_COLUMNS, numeric=("Attempts", "Counted"))
    rows: list[list[Any]] = [header] + [_row(c, widths) for c in report.candidates]
    table = _grid(rows, widths)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, index), (-1, index), SHADE)
                for index, candidate in enumerate(report.candidates, start=1)
                if candidate.status == "not_started"
            ]
        )
    )
    return [intro, Spacer(1, 4), table]


def _row(candidate: SittingCandidate, widths: Sequence[float]) -> list[Paragraph]:
    room = [width - CELL_PADDING for width in widths]
    name = _markup(candidate.display_name, SHORT_TEXT, "cell", width=room[0])
    username = _markup(candidate.username, 80, "cell", width=room[0])
    left = "" if candidate.on_roster else "<br/>(no longer in the cohorts)"
    allowed = candidate.attempts_allowed
    used = f"{candidate.attempts_used} of {'-' if allowed is None else allowed}"
    if candidate.passed is None:
        verdict = "-"
    else:
        tone, word = ("#2e7d32", "PASS") if candidate.passed else ("#b3261e", "FAIL")
        verdict = f"<font color='{tone}'><b>{word}</b></font>"
    return [
        Paragraph(f"<b>{name}</b><br/>{username}{left}", STYLES["cell"]),
        Paragraph(STATUS[candidate.status], STYLES["cell"]),
        Paragraph(used, STYLES["cell_right"]),
        Paragraph(
            "-" if candidate.counted_score is None else f"{candidate.counted_score:g}",
            STYLES["cell_right"],
        ),
        Paragraph(verdict, STYLES["cell"]),
        Paragraph(accommodation_text(candidate.accommodation), STYLES["cell"]),
    ]


def accommodation_text(terms: AccommodationTerms | None) -> str:
    """An accommodation in words: "+10 min, x1.5, +1 attempt, closes 2026-12-07 12:00 UTC"."""
    if terms is None:
        return "-"
    parts = []
    if terms.extra_time_seconds:
        parts.append(f"+{_number(terms.extra_time_seconds / 60)} min")
    if terms.time_multiplier:
        parts.append(f"x{_number(terms.time_multiplier)} time")
    if terms.extra_attempts:
        noun = "attempt" if terms.extra_attempts == 1 else "attempts"
        parts.append(f"+{terms.extra_attempts} {noun}")
    if terms.closes_at:
        parts.append(f"closes {_when(terms.closes_at)}")
    return ", ".join(parts) or "none"
