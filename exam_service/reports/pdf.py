"""PDF renderers of the score, cohort and candidate reports, drawn with ReportLab directly.

Pure functions from the report structs to PDF bytes. ReportLab parses a `Paragraph`'s text
as markup (and versions before 3.6.13 evaluated some attribute values as code:
CVE-2023-33733), so every string that comes from the bank or the database reaches a
`Paragraph` only through `_markup`, which caps and escapes it (`exam_service.typeset.markup`).
Graphics `String`s and canvas text do not parse markup; they take raw text shortened to fit
by `fit_line`.

Every script prints in an embedded face chosen per character (`exam_service.typeset`).
Right-to-left text in a Paragraph is broken into lines before ReportLab sees it, at the
room `_markup` is told: the page's text width on the narrower paper (A4) less the style's
indents, a table column less its padding, the first line less the label before it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reportlab.graphics.shapes import (
    Circle,
    Drawing,
    Group,
    Line,
    Polygon,
    PolyLine,
    Rect,
    String,
)
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    HRFlowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from exam_service.exams.schemas import Choice, ObjectiveScore, ResultView, ReviewItem
from exam_service.grading import numeric
from exam_service.grading.scoring import MEETS
from exam_service.reports.schemas import (
    Bin,
    CandidateReport,
    CohortReport,
    ItemReport,
    ItemStats,
    ObjectiveTrend,
    ReadinessReport,
    ScoreReport,
)
from exam_service.typeset import (
    SANS,
    SANS_BOLD,
    SANS_ITALIC,
    draw_string,
    fit_line,
    markup,
    placed,
    register,
    text_width,
)

PAPERS = {"a4": A4, "letter": LETTER}
MARGIN = 50.0
FONT, BOLD, ITALIC = SANS, SANS_BOLD, SANS_ITALIC
FRAME_PADDING = 6.0
"""The padding inside a page's frame on each side (ReportLab's default)."""
TEXT_WIDTH = min(size[0] for size in PAPERS.values()) - 2 * (MARGIN + FRAME_PADDING)
"""Where right-to-left text is broken into lines: a paragraph's width on the narrower paper."""
CELL_PADDING = 12.0
"""A table cell's left and right padding (ReportLab's default of 6 points each)."""

# Caps on text from data: long enough for any honest question, short enough for one page.
LONG_TEXT = 2000
CASE_TEXT = 700
OPTION_TEXT = 500
SHORT_TEXT = 200
STEM_IN_TABLE = 90
STUDY_SHOWN = 6

INK = colors.HexColor("#1b1f24")
MUTED = colors.HexColor("#5f6b7a")
RULE = colors.HexColor("#c9d1db")
SHADE = colors.HexColor("#f2f4f7")
BRAND = colors.HexColor("#1f3a5f")
GOOD = colors.HexColor("#2e7d32")
WEAK = colors.HexColor("#c2571a")
FAIL = colors.HexColor("#b3261e")
FLAGGED = colors.HexColor("#fdecea")
CUT = colors.HexColor("#8e1b1b")

LEVEL_DEPTH = {"exam": 0, "domain": 1, "task": 2, "objective": 3}
COUNTED = {
    "first": "first attempt per candidate",
    "last": "last attempt per candidate",
    "all": "all attempts",
}


def _style(name: str, size: float = 9.5, font: str = FONT, **extra: Any) -> ParagraphStyle:
    settings: dict[str, Any] = {"leading": size * 1.3, "textColor": INK, **extra}
    return ParagraphStyle(name, fontName=font, fontSize=size, **settings)


STYLES = {
    "title": _style("title", 22, BOLD, textColor=BRAND, spaceAfter=2),
    "subtitle": _style("subtitle", 13, textColor=INK, spaceAfter=8),
    "h2": _style("h2", 13, BOLD, textColor=BRAND, spaceBefore=12, spaceAfter=5, keepWithNext=1),
    "h2_chart": _style("h2_chart", 13, BOLD, textColor=BRAND, spaceBefore=12, spaceAfter=5),
    "h3": _style("h3", 10.5, BOLD, spaceBefore=8, spaceAfter=2, keepWithNext=1),
    "body": _style("body", spaceAfter=3),
    "small": _style("small", 8, textColor=MUTED),
    "cell": _style("cell", 8),
    "cell_right": _style("cell_right", 8, alignment=TA_RIGHT),
    "head": _style("head", 8, BOLD, textColor=colors.white),
    "head_right": _style("head_right", 8, BOLD, textColor=colors.white, alignment=TA_RIGHT),
    "case": _style(
        "case",
        8.5,
        leftIndent=8,
        rightIndent=8,
        backColor=SHADE,
        borderPadding=5,
        spaceBefore=4,
        spaceAfter=8,
    ),
    "option": _style("option", 9, leftIndent=14, spaceAfter=1),
    "rationale": _style("rationale", 8, ITALIC, leftIndent=26, textColor=MUTED, spaceAfter=2),
    "score": _style("score", 40, BOLD, textColor=BRAND),
    "verdict": _style("verdict", 22, BOLD, textColor=colors.white, alignment=TA_CENTER),
}


# ---- Text from data ---------------------------------------------------------------------


def _markup(
    text: str,
    limit: int = LONG_TEXT,
    style: str = "body",
    *,
    width: float | None = None,
    label: str = "",
) -> str:
    """Text from data as safe Paragraph markup: capped, escaped, line breaks kept.

    The only helper through which data reaches a `Paragraph`: after escaping, `<`, `>` and
    `&` are plain characters, so tags, entities and CVE-2023-33733 payloads print literally.
    `style` is the paragraph's, `width` its room when narrower than the page (a table
    column less `CELL_PADDING`), `label` the bold text before it on its first line: what
    right-to-left text is broken to fit.
    """
    chosen = STYLES[style]
    room = TEXT_WIDTH - chosen.leftIndent - chosen.rightIndent if width is None else width
    lead = text_width(label, BOLD, chosen.fontSize) if label else 0.0
    return markup(text, limit, font=chosen.fontName, size=chosen.fontSize, width=room, lead=lead)


def _para(
    text: str, style: str = "body", limit: int = LONG_TEXT, width: float | None = None
) -> Paragraph:
    return Paragraph(_markup(text, limit, style, width=width), STYLES[style])


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "not submitted"
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _or_na(value: float | None, pattern: str = "{:.1f}") -> str:
    return "n/a" if value is None else pattern.format(value)


# ---- Document, pages and footers --------------------------------------------------------


class _NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no type hints
    """Holds every page until the document ends so each footer can say "Page x of y"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._held.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        if self._code:
            self.showPage()
        total = len(self._held)
        for number, page in enumerate(self._held, start=1):
            self.__dict__.update(page)
            width = self._pagesize[0]
            self.setFont(FONT, 8)
            self.setFillColor(MUTED)
            self.drawRightString(width - MARGIN, MARGIN * 0.5, f"Page {number} of {total}")
            Canvas.showPage(self)
        Canvas.save(self)


def _page_size(paper: str) -> tuple[float, float]:
    try:
        return PAPERS[paper]  # type: ignore[no-any-return]
    except KeyError:
        raise ValueError(f"paper must be 'a4' or 'letter', not {paper!r}") from None


def _decorate(heading: str, footer: str) -> Callable[[Canvas, Any], None]:
    """Draws the running header (after page 1) and the left footer on each page."""

    def on_page(canvas: Canvas, doc: Any) -> None:
        width, height = doc.pagesize
        canvas.saveState()
        canvas.setStrokeColor(RULE)
        canvas.setFillColor(MUTED)
        canvas.line(MARGIN, MARGIN * 0.8, width - MARGIN, MARGIN * 0.8)
        foot = fit_line(footer, FONT, 8, width - 2 * MARGIN - 80)
        draw_string(canvas, MARGIN, MARGIN * 0.5, foot, FONT, 8)
        if doc.page > 1:
            head = fit_line(heading, FONT, 8, width / 1.5)
            draw_string(canvas, MARGIN, height - MARGIN * 0.6, head, FONT, 8)
            canvas.line(MARGIN, height - MARGIN * 0.7, width - MARGIN, height - MARGIN * 0.7)
        canvas.restoreState()

    return on_page


def _render(story: list[Flowable], paper: str, title: str, footer: str) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=_page_size(paper),
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=fit_line(title, FONT, 10, 2000),
        author="exam_service",
        creator="exam_service",
        invariant=True,
        initialFontName=FONT,
    )
    decorate = _decorate(title, footer)
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate, canvasmaker=_NumberedCanvas)
    return buffer.getvalue()


def _width(paper: str) -> float:
    return _page_size(paper)[0] - 2 * MARGIN


def _grid(rows: list[list[Any]], widths: list[float], *, header: bool = True) -> Table:
    """A table of small text; the header row repeats on every page the table spans."""
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    commands: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("FONT", (0, 0), (-1, -1), FONT, 8),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        commands += [("BACKGROUND", (0, 0), (-1, 0), BRAND), ("VALIGN", (0, 0), (-1, 0), "BOTTOM")]
    table.setStyle(TableStyle(commands))
    return table


def _facts(facts: Sequence[tuple[str, str]], width: float) -> Table:
    """Label and value pairs (values from data), two pairs to a row."""
    shares = (0.19, 0.31, 0.19, 0.31)
    room = width * shares[1] - CELL_PADDING
    cells = [
        [Paragraph(f"<b>{label}</b>", STYLES["cell"]), _para(value, "cell", SHORT_TEXT, room)]
        for label, value in facts
    ]
    if len(cells) % 2:
        cells.append(["", ""])
    rows = [cells[i] + cells[i + 1] for i in range(0, len(cells), 2)]
    return _grid(rows, [width * share for share in shares], header=False)


def _head(*labels: str, numeric: Sequence[str] = ()) -> list[Paragraph]:
    """A header row; the columns named in `numeric` are right-aligned like their numbers."""
    return [
        Paragraph(label, STYLES["head_right" if label in numeric else "head"]) for label in labels
    ]


# ---- Charts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bar:
    label: str
    depth: int
    percent: float
    low: float
    high: float
    note: str
    good: bool


class _BarChart(Flowable):  # type: ignore[misc]  # reportlab ships no type hints
    """Horizontal percent bars with 95% whiskers and a dashed cut line; splits by rows
    across pages, each part with its own axis."""

    ROW, TOP, AXIS = 17.0, 14.0, 18.0

    def __init__(self, bars: Sequence[_Bar], cut: float) -> None:
        super().__init__()
        self.bars, self.cut = list(bars), cut
        self.width = self.height = 0.0

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        self.height = self.TOP + self.AXIS + self.ROW * len(self.bars)
        return self.width, self.height

    def split(self, available_width: float, available_height: float) -> list[Flowable]:
        fit = int((available_height - self.TOP - self.AXIS) // self.ROW)
        if fit >= len(self.bars):
            return [self]
        fit = min(fit, len(self.bars) - 3)  # no part of fewer than three rows
        if fit < 3:
            return []
        return [_BarChart(self.bars[:fit], self.cut), _BarChart(self.bars[fit:], self.cut)]

    def draw(self) -> None:
        _bar_drawing(self.bars, self.cut, self.width).drawOn(self.canv, 0, 0)


def _label(
    x: float,
    y: float,
    text: str,
    *,
    size: float = 7,
    color: Any = MUTED,
    anchor: str = "start",
    font: str = FONT,
) -> Group:
    """A chart label: raw text (a `String` parses no markup), already shortened to fit, one
    `String` per face it needs."""
    return Group(
        *(
            String(left, y, piece, fontName=name, fontSize=size, fillColor=color)
            for left, name, piece in placed(x, text, font, size, anchor)
        )
    )


def _cut_line(x: float, bottom: float, top: float) -> Line:
    return Line(x, bottom, x, top, strokeColor=CUT, strokeWidth=1, strokeDashArray=[3, 2])


def _bar_drawing(bars: Sequence[_Bar], cut: float, width: float) -> Drawing:
    row, top, axis = _BarChart.ROW, _BarChart.TOP, _BarChart.AXIS
    height = top + axis + row * len(bars)
    label_w, x0, span = width * 0.37, width * 0.38, width * 0.37
    drawing = Drawing(width, height, initialFontName=FONT)

    def x(percent: float) -> float:
        return x0 + span * max(0.0, min(100.0, percent)) / 100

    for index, bar in enumerate(bars):
        centre = height - top - row * (index + 0.5)
        if index % 2 == 0:
            drawing.add(Rect(0, centre - row / 2, width, row, fillColor=SHADE, strokeColor=None))
        _draw_bar(drawing, bar, centre, x, label_w, x0 + span + 8)
    for tick in (0, 25, 50, 75, 100):
        drawing.add(Line(x(tick), axis, x(tick), height - top, strokeColor=RULE, strokeWidth=0.5))
        drawing.add(_label(x(tick), axis - 10, f"{tick}%", anchor="middle"))
    drawing.add(_cut_line(x(cut), axis, height - top + 2))
    drawing.add(
        _label(
            x(cut), height - top + 4, f"cut {_number(cut)}%", color=CUT, font=BOLD, anchor="middle"
        )
    )
    return drawing


def _draw_bar(
    drawing: Drawing,
    bar: _Bar,
    centre: float,
    x: Callable[[float], float],
    label_w: float,
    note_x: float,
) -> None:
    indent = 9.0 * bar.depth
    font = BOLD if bar.depth <= 1 else FONT
    label = fit_line(bar.label, font, 8, label_w - indent - 2)
    drawing.add(_label(indent + 2, centre - 3, label, size=8, color=INK, font=font))
    tone = GOOD if bar.good else WEAK
    drawing.add(Rect(x(0), centre - 5, x(bar.percent) - x(0), 10, fillColor=tone, strokeColor=None))
    low, high = x(bar.low), x(bar.high)
    for x1, y1, x2, y2 in (
        (low, centre, high, centre),
        (low, centre - 3, low, centre + 3),
        (high, centre - 3, high, centre + 3),
    ):
        drawing.add(Line(x1, y1, x2, y2, strokeColor=INK, strokeWidth=0.8))
    percent = f"{bar.percent:.0f}%"
    drawing.add(
        _label(note_x + 24, centre - 3, percent, size=8, color=INK, font=BOLD, anchor="end")
    )
    drawing.add(
        _label(note_x + 29, centre - 3, fit_line(bar.note, FONT, 7.5, 100), size=7.5, color=tone)
    )


def _node_label(code: str, title: str, level: str) -> str:
    return title if level == "exam" else f"{code}  {title}"


def _chart_legend(cut: float) -> Paragraph:
    return Paragraph(
        "Bars: percent of points earned; whiskers: 95% interval; dashed line: the cut "
        f"({_number(cut)}%). Few questions on a node make its interval wide.",
        STYLES["small"],
    )


def _chart_heading(text: str) -> list[Flowable]:
    """A heading that may sit above a chart that splits: a page break only when fewer than a
    few rows would fit, instead of `keepWithNext`, which moves the whole chart on."""
    return [CondPageBreak(130), Paragraph(text, STYLES["h2_chart"])]


def _histogram(bins: Sequence[Bin], pass_: int, width: float) -> Drawing:
    height, left, bottom, top = 170.0, 34.0, 30.0, 16.0
    drawing = Drawing(width, height, initialFontName=FONT)
    low, high = bins[0].low, bins[-1].high
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max(1, max(b.count for b in bins))
    step = _nice_step(peak)
    ceiling = step * math.ceil(peak / step)

    def x(value: float) -> float:
        return left + plot_w * (value - low) / (high - low or 1)

    def y(count: float) -> float:
        return bottom + plot_h * count / ceiling

    for tick in range(0, int(ceiling) + 1, step):
        drawing.add(Line(left, y(tick), left + plot_w, y(tick), strokeColor=RULE, strokeWidth=0.5))
        drawing.add(_label(left - 4, y(tick) - 2.5, str(tick), anchor="end"))
    for b in bins:
        bar_w = max(0.5, x(b.high) - x(b.low) - 1)
        drawing.add(
            Rect(x(b.low) + 0.5, y(0), bar_w, y(b.count) - y(0), fillColor=BRAND, strokeColor=None)
        )
        if b.count:
            middle = (x(b.low) + x(b.high)) / 2
            drawing.add(
                _label(middle, y(b.count) + 2, str(b.count), size=6.5, color=INK, anchor="middle")
            )
    _histogram_axis(drawing, bins, x, bottom, left + plot_w)
    if low <= pass_ <= high:
        drawing.add(_cut_line(x(pass_), bottom, height - top + 4))
        drawing.add(
            _label(
                x(pass_),
                height - top + 6,
                f"pass {pass_}",
                color=CUT,
                font=BOLD,
                anchor="middle",
            )
        )
    drawing.add(_label(left - 4, height - 9, "Attempts", anchor="end"))
    return drawing


def _histogram_axis(
    drawing: Drawing,
    bins: Sequence[Bin],
    x: Callable[[float], float],
    bottom: float,
    right: float,
) -> None:
    left = x(bins[0].low)
    drawing.add(Line(left, bottom, right, bottom, strokeColor=INK, strokeWidth=0.8))
    edges = [bins[0].low] + [b.high for b in bins]
    every = max(1, math.ceil(len(edges) * 26 / max(1.0, right - left)))
    for edge in edges[::every]:
        drawing.add(_label(x(edge), bottom - 10, _number(edge), anchor="middle"))
    drawing.add(_label((left + right) / 2, bottom - 22, "Scaled score", size=7.5, anchor="middle"))


def _nice_step(peak: int) -> int:
    """A 1-2-5 tick step that gives about four grid lines up to `peak`."""
    raw = max(1.0, peak / 4)
    magnitude = 10 ** math.floor(math.log10(raw))
    return int(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw))


def _sparkline(percents: Sequence[float | None]) -> Drawing:
    """Percents over attempts on a 0-100 band; untouched attempts leave a gap in x."""
    width, height = 64.0, 22.0
    drawing = Drawing(width, height, initialFontName=FONT)
    drawing.add(Rect(0, 1, width, height - 2, fillColor=SHADE, strokeColor=None))
    spread = max(1, len(percents) - 1)
    points = [
        (3 + (width - 6) * i / spread, 3 + (height - 6) * p / 100)
        for i, p in enumerate(percents)
        if p is not None
    ]
    if len(points) > 1:
        flat = [coordinate for point in points for coordinate in point]
        drawing.add(PolyLine(flat, strokeColor=BRAND, strokeWidth=1.2))
    if points:
        drawing.add(Circle(*points[-1], 2, fillColor=BRAND, strokeColor=None))
    return drawing


def _scale_strip(result: ResultView, width: float) -> Drawing:
    """The score scale from min to max with the passing mark and the candidate's score."""
    scale, height = result.scale, 40.0
    drawing = Drawing(width, height, initialFontName=FONT)
    left, span = 30.0, width - 60.0

    def x(value: float) -> float:
        return left + span * (value - scale.min) / ((scale.max - scale.min) or 1)

    tone = GOOD if result.passed else FAIL
    score = x(max(scale.min, min(scale.max, result.scaled_score)))
    drawing.add(Rect(left, 14, span, 6, fillColor=SHADE, strokeColor=RULE, strokeWidth=0.5))
    drawing.add(Rect(left, 14, score - left, 6, fillColor=tone, strokeColor=None))
    drawing.add(
        Polygon([score - 4, 27, score + 4, 27, score, 21], fillColor=tone, strokeColor=None)
    )
    drawing.add(Line(x(scale.pass_), 9, x(scale.pass_), 25, strokeColor=CUT, strokeWidth=1.5))
    drawing.add(_label(x(scale.min), 2, str(scale.min)))
    drawing.add(_label(x(scale.max), 2, str(scale.max), anchor="end"))
    drawing.add(
        _label(x(scale.pass_), 2, f"pass {scale.pass_}", color=CUT, font=BOLD, anchor="middle")
    )
    drawing.add(
        _label(
            score,
            30,
            f"your score {result.scaled_score}",
            size=8,
            color=tone,
            font=BOLD,
            anchor="middle",
        )
    )
    return drawing


# ---- Score report -----------------------------------------------------------------------


def score_report_pdf(report: ScoreReport, *, paper: str = "a4") -> bytes:
    """The candidate's score report for one attempt: the scaled score and verdict, every
    objective node as a bar with its interval, where to focus, and the missed questions
    (only when the review policy has released them)."""
    register()
    result, width = report.result, _width(paper)
    story: list[Flowable] = [
        *_score_header(report, width),
        *_score_panel(result, width),
        *_chart_heading("Performance by objective"),
        *_objective_chart(result),
        Paragraph("Where to focus", STYLES["h2"]),
        *_focus(result.objectives, report.study),
        Paragraph("Questions you missed", STYLES["h2"]),
        *_missed(result),
    ]
    title = f"Score report - {report.blueprint_name}"
    footer = f"Score report - {report.candidate} - attempt {result.attempt_id}"
    return _render(story, paper, title, footer)


def _score_header(report: ScoreReport, width: float) -> list[Flowable]:
    result = report.result
    facts = [
        ("Candidate", report.candidate),
        ("Submitted", _when(result.submitted_at)),
        ("Attempt", str(result.attempt_id)),
        ("Report generated", _when(report.generated_at)),
    ]
    return [
        Paragraph("Score report", STYLES["title"]),
        _para(report.blueprint_name, "subtitle", SHORT_TEXT),
        _facts(facts, width),
        Spacer(1, 10),
    ]


def _score_panel(result: ResultView, width: float) -> list[Flowable]:
    scale = result.scale
    verdict = "PASS" if result.passed else "FAIL"
    if result.scoring == "irt":
        cut = (
            f"the scaled score comes from your ability, as the percent you would be expected "
            f"to score on an average form of this exam; the cut is {_number(scale.raw_cut)}% "
            "of an average form, so easier and harder forms count the same."
        )
    else:
        cut = f"the cut is {_number(scale.raw_cut)}% of the points."
    details = [
        Paragraph(
            f"<b>{scale.pass_}</b> to pass on a scale of {scale.min}-{scale.max}", STYLES["body"]
        ),
        Paragraph(
            f"Raw score <b>{_number(result.raw_score)}</b> of {result.raw_possible} "
            f"({result.raw_percent:.1f}%); {cut}",
            STYLES["body"],
        ),
    ]
    if result.theta is not None:
        details.append(Paragraph(_markup(_ability(result.theta, result.theta_se)), STYLES["body"]))
    panel = Table(
        [
            [
                [
                    Paragraph(str(result.scaled_score), STYLES["score"]),
                    Paragraph("scaled score", STYLES["small"]),
                ],
                Paragraph(verdict, STYLES["verdict"]),
                details,
            ]
        ],
        colWidths=[width * 0.24, width * 0.2, width * 0.56],
    )
    panel.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (1, 0), (1, 0), "CENTER"),
                ("BACKGROUND", (1, 0), (1, 0), GOOD if result.passed else FAIL),
                ("BOX", (0, 0), (-1, -1), 0.8, RULE),
                ("TOPPADDING", (0, 0), (-1, -1), 8),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 10),
                ("LEFTPADDING", (0, 0), (-1, -1), 10),
            ]
        )
    )
    return [panel, Spacer(1, 6), _scale_strip(result, width)]


def _objective_chart(result: ResultView) -> list[Flowable]:
    if not result.objectives:
        return [Paragraph("No scored questions touched an objective.", STYLES["body"])]
    bars = [
        _Bar(
            label=_node_label(node.code, node.title, node.level),
            depth=LEVEL_DEPTH.get(node.level, 3),
            percent=node.percent,
            low=node.ci_low,
            high=node.ci_high,
            note=node.label,
            good=node.label == MEETS,
        )
        for node in result.objectives
    ]
    return [_BarChart(bars, result.scale.raw_cut), _chart_legend(result.scale.raw_cut)]


def _weakest(objectives: Sequence[ObjectiveScore], count: int = 5) -> list[ObjectiveScore]:
    """The weakest leaves, lowest percent first; only those needing improvement if any.

    Leaves are the `objective` level; a tree without it falls back to its deepest level."""
    present = [node for node in objectives if node.level != "exam"]
    if not present:
        return []
    deepest = max(LEVEL_DEPTH.get(node.level, 3) for node in present)
    leaves = [node for node in present if LEVEL_DEPTH.get(node.level, 3) == deepest]
    needing = [node for node in leaves if node.label != MEETS]
    return sorted(needing or leaves, key=lambda node: (node.percent, node.code))[:count]


def _focus(objectives: Sequence[ObjectiveScore], study: dict[str, list[str]]) -> list[Flowable]:
    weakest = _weakest(objectives)
    if not weakest:
        return [Paragraph("No objective scores to report.", STYLES["body"])]
    story: list[Flowable] = []
    if all(node.label == MEETS for node in weakest):
        story.append(
            Paragraph(
                "You met the competencies on every objective; these are your lowest scores.",
                STYLES["body"],
            )
        )
    for node in weakest:
        story.append(
            Paragraph(
                f"{_markup(node.code, SHORT_TEXT, 'h3')} "
                f"{_markup(node.title, SHORT_TEXT, 'h3', label=node.code + ' ')}: "
                f"{node.percent:.0f}% <font color='#5f6b7a'>({_markup(node.label, 40)}, "
                f"{_number(node.points)} of {node.possible} points)</font>",
                STYLES["h3"],
            )
        )
        sections = study.get(node.code, [])
        story += [
            _para(f"\u2022 {section}", "option", SHORT_TEXT) for section in sections[:STUDY_SHOWN]
        ]
        if not sections:
            story.append(
                Paragraph(
                    "No study-guide sections are recorded for this objective.", STYLES["option"]
                )
            )
    return story


def _missed(result: ResultView) -> list[Flowable]:
    if result.review is None:
        note = _markup(result.review_note, SHORT_TEXT)
        return [Paragraph(f"The questions are not shown on this report: {note}.", STYLES["body"])]
    missed = [item for item in result.review if item.scored and item.points < 1]
    if not missed:
        return [Paragraph("You answered every scored question correctly.", STYLES["body"])]
    scored = sum(1 for item in result.review if item.scored)
    story: list[Flowable] = [
        Paragraph(
            f"You did not earn full points on {len(missed)} of "
            f"{_count(scored, 'scored question')}.",
            STYLES["body"],
        )
    ]
    for item in missed:
        story += _missed_item(item)
    return story


TYPE_NAMES = {
    "single": "single choice",
    "multiple": "multiple choice",
    "ordering": "ordering",
    "matching": "matching",
    "numeric": "numeric",
}


def _missed_item(item: ReviewItem) -> list[Flowable]:
    kind = TYPE_NAMES.get(item.type, item.type)
    heading = Paragraph(
        f"Question {item.position} <font size='8' color='#5f6b7a'>{_markup(kind, 40)} - "
        f"{_number(item.points)} of 1 point - {_markup(', '.join(item.objectives), 80)}</font>",
        STYLES["h3"],
    )
    story: list[Flowable] = [HRFlowable(width="100%", color=RULE, thickness=0.5), heading]
    if item.case:
        case = _markup(item.case, CASE_TEXT, "case", label="Case: ")
        story.append(Paragraph(f"<b>Case</b>: {case}", STYLES["case"]))
    story.append(_para(item.stem))
    story = [KeepTogether(story[:3]), *story[3:]]
    if item.type == "numeric":
        story += _numeric_lines(item)
    else:
        for title, given, why in (
            ("Your answer", item.answer, False),
            ("Correct answer", item.key, True),
        ):
            block = [Paragraph(f"<b>{title}</b>", STYLES["body"])]
            story.append(KeepTogether(block + _answer_lines(item, given, rationales=why)))
    explanation = _markup(item.explanation, label="Explanation: ")
    story.append(Paragraph(f"<b>Explanation</b>: {explanation}", STYLES["body"]))
    if item.source:
        source = _markup(item.source, SHORT_TEXT, "small", label="Study: ")
        story.append(Paragraph(f"<b>Study</b>: {source}", STYLES["small"]))
    return story


def _numeric_lines(item: ReviewItem) -> list[Flowable]:
    """A numeric item's answer and key as numbers with the unit, the working, and the known
    mistake's rationale when the answer is one."""
    given = "(no answer)" if item.answer is None else numeric.shown_text(item.answer, item.unit)
    story: list[Flowable] = [
        Paragraph(f"<b>Your answer</b>: {_markup(given, SHORT_TEXT)}", STYLES["body"])
    ]
    if item.mistake:
        story.append(_para(f"A common mistake: {item.mistake}", "rationale", OPTION_TEXT))
    key = numeric.shown_text(item.key, item.unit)
    story.append(Paragraph(f"<b>Correct answer</b>: {_markup(key, SHORT_TEXT)}", STYLES["body"]))
    working = item.rationales.get("key")
    if working:
        story.append(_para(working, "rationale", OPTION_TEXT))
    return story


def _texts(choices: Sequence[Choice]) -> dict[str, str]:
    return {choice.id: choice.text for choice in choices}


def _answer_lines(item: ReviewItem, given: Any, *, rationales: bool) -> list[Flowable]:
    """Display ids with their texts: one line per option, or per prompt for matching."""
    if not given:
        return [Paragraph("(no answer)", STYLES["option"])]
    if isinstance(given, dict):
        prompts, choices = _texts(item.prompts), _texts(item.choices)
        pairs = [(str(p), str(c)) for p, c in given.items()]
        lines = [
            (p, f"{_option(p, prompts)} <i>matched to</i> {_option(c, choices)}") for p, c in pairs
        ]
    elif isinstance(given, list):
        options = _texts(item.options)
        lines = [(str(i), _option(str(i), options)) for i in given]
    else:
        return [_para(str(given), "option", OPTION_TEXT)]
    story: list[Flowable] = []
    for key, line in lines:
        story.append(Paragraph(line, STYLES["option"]))
        why = item.rationales.get(key) if rationales else None
        if why:
            story.append(_para(why, "rationale", OPTION_TEXT))
    return story


def _option(display_id: str, texts: dict[str, str]) -> str:
    text = texts.get(display_id)
    label = f"<b>{_markup(display_id, 10, 'option')}.</b>"
    if text is None:
        return label
    return f"{label} {_markup(text, OPTION_TEXT, 'option', label=display_id + '. ')}"


# ---- Cohort report ----------------------------------------------------------------------


def cohort_report_pdf(report: CohortReport, items: ItemReport, *, paper: str = "a4") -> bytes:
    """The instructor's cohort report: summary statistics, the score histogram, mastery per
    objective, and the item analysis table with flagged items highlighted."""
    register()
    width = _width(paper)
    story: list[Flowable] = [
        Paragraph("Cohort report", STYLES["title"]),
        _para(f"{report.cohort_name} - {report.blueprint_name}", "subtitle", SHORT_TEXT),
        _cohort_summary(report, width),
        Paragraph("Scaled scores", STYLES["h2"]),
        *_cohort_histogram(report, width),
        *_chart_heading("Mastery by objective"),
        *_mastery_chart(report),
        Paragraph("Items", STYLES["h2"]),
        *_item_table(items, width),
    ]
    title = f"Cohort report - {report.cohort_name} - {report.blueprint_name}"
    return _render(story, paper, title, title)


def _cohort_summary(report: CohortReport, width: float) -> Table:
    reliability = (
        "n/a"
        if report.reliability is None
        else f"{report.reliability_method} {report.reliability:.2f}"
    )
    facts = [
        ("Cohort", report.cohort_name),
        ("Blueprint", f"{report.blueprint_name} ({report.blueprint_id})"),
        ("Attempts counted", COUNTED.get(report.attempts_counted, report.attempts_counted)),
        ("Candidates", str(report.candidates)),
        ("Attempts", str(report.attempts)),
        ("Mean scaled score", _or_na(report.mean)),
        ("Median scaled score", _or_na(report.median)),
        ("Standard deviation", _or_na(report.sd)),
        (
            "Pass rate",
            _or_na(None if report.pass_rate is None else 100 * report.pass_rate, "{:.1f}%"),
        ),
        ("Reliability", reliability),
        ("SEM", _or_na(report.sem_raw, "{:.2f} raw points")),
        (
            "Mean raw score",
            _or_na(report.mean_raw, "{:.2f} points")
            + (f" (sd {report.sd_raw:.2f})" if report.sd_raw is not None else ""),
        ),
        (
            "Scale",
            f"{report.scale.pass_} to pass on {report.scale.min}-{report.scale.max}, "
            f"cut {_number(report.scale.raw_cut)}%",
        ),
    ]
    return _facts(facts, width)


def _cohort_histogram(report: CohortReport, width: float) -> list[Flowable]:
    if not report.histogram:
        return [Paragraph("No submitted attempts to chart.", STYLES["body"])]
    return [_histogram(report.histogram, report.scale.pass_, width)]


def _mastery_chart(report: CohortReport) -> list[Flowable]:
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
        "Bars: mean percent of points per attempt; whiskers: 95% interval of the mean; "
        f'dashed line: the cut ({_number(cut)}%); "meeting": share of attempts at or above '
        "the cut on that objective.",
        STYLES["small"],
    )
    return [_BarChart(bars, cut), legend]


ITEM_COLUMNS = ("Question", "Type", "Objective", "Resp.", "Facility", "Pt-bis.", "U-L", "Flags")


def _item_table(items: ItemReport, width: float) -> list[Flowable]:
    intro = Paragraph(
        f"{len(items.items)} items over {items.attempts} attempts. Facility: share of points "
        f"earned; upper-lower index: facility in the top {100 * items.group_share:.0f}% minus "
        "the bottom group. Flagged items are shaded.",
        STYLES["small"],
    )
    if not items.items:
        return [intro]
    shares = [0.33, 0.08, 0.1, 0.07, 0.08, 0.08, 0.08, 0.18]
    header = _head(*ITEM_COLUMNS, numeric=ITEM_COLUMNS[3:7])
    widths = [width * share for share in shares]
    rows = [header] + [_item_row(item, widths) for item in items.items]
    table = _grid(rows, widths)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, index), (-1, index), FLAGGED)
                for index, item in enumerate(items.items, start=1)
                if item.flags
            ]
        )
    )
    return [intro, Spacer(1, 4), table]


def _item_row(item: ItemStats, widths: Sequence[float]) -> list[Paragraph]:
    def number(value: float | None) -> Paragraph:
        return Paragraph(_or_na(value, "{:.2f}"), STYLES["cell_right"])

    room = [width - CELL_PADDING for width in widths]
    flags = _markup(", ".join(item.flags), SHORT_TEXT, "cell", width=room[7])
    return [
        Paragraph(
            f"<b>{_markup(item.question_id, 100, 'cell', width=room[0])}</b> r{item.revision}"
            f"<br/>{_markup(item.stem, STEM_IN_TABLE, 'cell', width=room[0])}",
            STYLES["cell"],
        ),
        _para(item.type, "cell", 20, room[1]),
        _para(item.objective, "cell", 40, room[2]),
        Paragraph(str(item.responses), STYLES["cell_right"]),
        number(item.facility),
        number(item.point_biserial),
        number(item.discrimination_index),
        Paragraph(f"<font color='#b3261e'><b>{flags}</b></font>" if flags else "-", STYLES["cell"]),
    ]


# ---- Candidate report -------------------------------------------------------------------


def candidate_report_pdf(report: CandidateReport, *, paper: str = "a4") -> bytes:
    """A candidate's history: every attempt, and each objective's trend, weakest first."""
    register()
    width = _width(paper)
    name = f"{report.display_name} ({report.username})"
    story: list[Flowable] = [
        Paragraph("Candidate report", STYLES["title"]),
        _para(name, "subtitle", SHORT_TEXT),
        *_readiness(report.readiness, width),
        Paragraph("Attempts", STYLES["h2"]),
        *_attempt_summary(report),
        *_attempt_table(report, width),
        Paragraph("Objectives, weakest first", STYLES["h2"]),
        *_trend_table(report.objectives, width),
    ]
    title = f"Candidate report - {report.display_name}"
    return _render(story, paper, title, f"Candidate report - {name}")


def _readiness(chances: Sequence[ReadinessReport], width: float) -> list[Flowable]:
    """Per blueprint open to the candidate: the sentence, the chance of passing with its
    interval, and the objectives holding them back with theirs and the cut."""
    if not chances:
        return []
    story: list[Flowable] = [
        Paragraph("Readiness", STYLES["h2"]),
        Paragraph(
            "The chance of passing each exam open to the candidate, from their answers of the "
            "last six months (each question once, by the latest answer; older answers count "
            "less). Bars: the chance, and the percent expected right on each objective that "
            "holds them back; whiskers: 90% intervals; dashed line: the cut.",
            STYLES["small"],
        ),
    ]
    for chance in chances:
        holding = [o for o in chance.objectives if o.holding_back][:READINESS_OBJECTIVES]
        parts: list[Flowable] = [
            _para(chance.blueprint_name, "h3", SHORT_TEXT),
            _para(chance.summary, "body", LONG_TEXT),
            _chance_strip(chance, width - 2 * FRAME_PADDING),
        ]
        if holding:
            bars = [
                _Bar(
                    label=_node_label(o.code, o.title, "objective"),
                    depth=3,
                    percent=o.mastery,
                    low=o.low,
                    high=o.high,
                    note="holds back",
                    good=False,
                )
                for o in holding
            ]
            parts.append(_BarChart(bars, chance.scale.raw_cut))
        story.append(KeepTogether(parts))
    return story


READINESS_OBJECTIVES = 5
"""The objectives holding a candidate back drawn under each chance of passing."""


def _chance_strip(chance: ReadinessReport, width: float) -> Drawing:
    """The chance of passing on a 0-100% strip with its interval (grey with too little
    data), laid out like the bar charts' rows (`width` is theirs, the frame's inside) so
    that the two line up."""
    height = 30.0
    drawing = Drawing(width, height, initialFontName=FONT)
    x0, span = width * 0.38, width * 0.37

    def x(share: float) -> float:
        return x0 + span * max(0.0, min(1.0, share))

    centre = height - 10
    tone = GOOD if chance.probability >= 0.5 else FAIL
    tone = tone if chance.enough_data else MUTED
    drawing.add(_label(2, centre - 3, "Chance of passing", size=8, color=INK, font=BOLD))
    track = Rect(x(0), centre - 5, span, 10, fillColor=SHADE, strokeColor=RULE, strokeWidth=0.5)
    drawing.add(track)
    drawing.add(
        Rect(x(0), centre - 5, x(chance.probability) - x(0), 10, fillColor=tone, strokeColor=None)
    )
    low, high = x(chance.low), x(chance.high)
    for x1, y1, x2, y2 in (
        (low, centre, high, centre),
        (low, centre - 3, low, centre + 3),
        (high, centre - 3, high, centre + 3),
    ):
        drawing.add(Line(x1, y1, x2, y2, strokeColor=INK, strokeWidth=0.8))
    for tick in (0.0, 0.5, 1.0):
        drawing.add(_label(x(tick), 1, f"{tick:.0%}", anchor="middle"))
    note_x = x0 + span + 8
    value = f"{chance.probability:.0%}"
    drawing.add(_label(note_x + 24, centre - 3, value, size=8, color=INK, font=BOLD, anchor="end"))
    interval = f"{chance.low:.0%}-{chance.high:.0%}" + ("" if chance.enough_data else ", too wide")
    drawing.add(_label(note_x + 29, centre - 3, interval, size=7.5, color=tone))
    return drawing


def _attempt_summary(report: CandidateReport) -> list[Flowable]:
    if not report.attempts:
        return []
    passed = sum(1 for attempt in report.attempts if attempt.passed)
    best = max(attempt.scaled_score for attempt in report.attempts)
    latest = report.attempts[-1]
    verdict = "PASS" if latest.passed else "FAIL"
    return [
        Paragraph(
            f"{_count(len(report.attempts), 'attempt')}, {passed} passed. "
            f"Best scaled score {best}; "
            f"latest {latest.scaled_score} ({verdict}).",
            STYLES["body"],
        )
    ]


ABILITY_HEAD = "Ability \u03b8 (SE)"


def _ability(theta: float, se: float | None) -> str:
    """One sentence on θ for a candidate."""
    error = f" (standard error {se:.2f})" if se is not None else ""
    return (
        f"Ability \u03b8 = {theta:.2f}{error}, on a scale where 0 is the average candidate "
        "and most lie between -2 and 2."
    )


def _attempt_table(report: CandidateReport, width: float) -> list[Flowable]:
    if not report.attempts:
        return [Paragraph("No submitted attempts yet.", STYLES["body"])]
    header = _head(
        "Attempt",
        "Submitted",
        "Exam",
        "Raw %",
        "Scaled",
        "Result",
        ABILITY_HEAD,
        numeric=("Raw %", "Scaled", ABILITY_HEAD),
    )
    rows: list[list[Any]] = [header]
    shares = [0.09, 0.2, 0.3, 0.09, 0.1, 0.09, 0.13]
    for attempt in report.attempts:
        tone = "#2e7d32" if attempt.passed else "#b3261e"
        theta = "-"
        if attempt.theta is not None:
            theta = f"{attempt.theta:.2f}"
            if attempt.theta_se is not None:
                theta += f" ({attempt.theta_se:.2f})"
        scaled = str(attempt.scaled_score) + (" IRT" if attempt.scoring == "irt" else "")
        rows.append(
            [
                Paragraph(str(attempt.attempt_id), STYLES["cell"]),
                Paragraph(_when(attempt.submitted_at), STYLES["cell"]),
                _para(attempt.blueprint_name, "cell", SHORT_TEXT, width * 0.3 - CELL_PADDING),
                Paragraph(f"{attempt.raw_percent:.1f}%", STYLES["cell_right"]),
                Paragraph(scaled, STYLES["cell_right"]),
                Paragraph(
                    f"<font color='{tone}'><b>{'PASS' if attempt.passed else 'FAIL'}</b></font>",
                    STYLES["cell"],
                ),
                Paragraph(theta, STYLES["cell_right"]),
            ]
        )
    note = Paragraph(
        _markup(
            "Ability \u03b8 is estimated from the scored answers and the questions' calibrated "
            "difficulty, so it compares across forms: 0 is the average candidate, most lie "
            "between -2 and 2, and the standard error is in brackets. IRT marks a scaled score "
            "made from \u03b8 (the percent expected on an average form) rather than the raw "
            "percent.",
            style="small",
        ),
        STYLES["small"],
    )
    return [_grid(rows, [width * share for share in shares]), Spacer(1, 3), note]


def _trend_table(objectives: Sequence[ObjectiveTrend], width: float) -> list[Flowable]:
    if not objectives:
        return [Paragraph("No objective scores yet.", STYLES["body"])]
    header = _head(
        "Code",
        "Title",
        "Latest",
        "Mean",
        "Trend (oldest first)",
        "Label",
        "Study sections",
        numeric=("Latest", "Mean"),
    )
    shares = [0.09, 0.21, 0.08, 0.08, 0.16, 0.13, 0.25]
    widths = [width * share for share in shares]
    rows = [header] + [_trend_row(node, widths) for node in objectives]
    return [_grid(rows, widths)]


def _trend_row(node: ObjectiveTrend, widths: Sequence[float]) -> list[Any]:
    recent = node.percents[-12:]  # a table cell holds about twelve attempts legibly
    trend = " ".join("-" if p is None else f"{p:.0f}" for p in recent)
    tone = "#2e7d32" if node.label == MEETS else "#c2571a"
    room = [width - CELL_PADDING for width in widths]
    bullet = "\u2022 "
    sections = "<br/>".join(
        bullet + _markup(section, 150, "cell", width=room[6], label=bullet)
        for section in node.study[:STUDY_SHOWN]
    )
    if len(node.study) > STUDY_SHOWN:
        sections += f"<br/>and {len(node.study) - STUDY_SHOWN} more"
    return [
        _para(node.code, "cell", 40, room[0]),
        _para(node.title, "cell", SHORT_TEXT, room[1]),
        Paragraph(_or_na(node.latest, "{:.0f}%"), STYLES["cell_right"]),
        Paragraph(f"{node.mean:.0f}%", STYLES["cell_right"]),
        [_sparkline(recent), Paragraph(trend, STYLES["small"])],
        Paragraph(
            f"<font color='{tone}'>{_markup(node.label, 40, 'cell', width=room[5])}</font>",
            STYLES["cell"],
        ),
        Paragraph(sections or "-", STYLES["cell"]),
    ]
