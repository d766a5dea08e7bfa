"""How fast paper exam booklets are drawn, against Auto Multiple Choice in the same run.

What is measured (issues #7 and #21): the time per extra copy of a 65-question paper exam,
ours (`exam_service.paper.pdf.booklet_pdf`, one process) against Auto Multiple Choice (AMC,
the Debian package `auto-multiple-choice`, a LaTeX-based generator) measured in the same run
on the same machine; also WeasyPrint (HTML to PDF) and a naive ReportLab Platypus booklet.
Target (DESIGN): at least 10x faster per copy than AMC, the booklets complete and readable.
The ratio must hold in wall time and in CPU time (this process and its waited-for children):
other jobs on a shared machine slow AMC's chain of processes more than one Python loop.

The document is built without a database, the way `exam_service.paper.service.document`
builds it: the default bank is loaded (`load_bank`), its choice questions (not numeric:
AMC's exam here is four-option multiple choice) become `PoolQuestion`s
(revision ids numbered in bank order), `assemble` draws N questions with a fixed seed (one
whose draw includes cases, so case scenarios are printed too), `make_forms` lays them out in
26 forms (A-Z), and each form's questions get their display texts (`shown`) and key
(`display_key` + `answer_text`). Booklet `i` is form `i mod 26`: every booklet is drawn in
full, none copied.

Per extra copy, both measured the same way, `--rounds` times each, the fastest kept:

- AMC: a LaTeX source written here (`amc_source`) with the same drawn questions, four
  options each (`four_options`), one `\\element` per question in one group, inserted with
  `\\insertgroup` into `\\onecopy` under a header (title, time, `\\namefield`, the
  instructions); AMC shuffles the questions of a group per copy when it inserts it (its
  `\\shufflegroup`) and the choices of every question (no `noshuffle`). Built with AMC's
  own command line, `auto-multiple-choice prepare --mode s --with pdflatex --n-copies N`
  (the subject with its positions file, plus a solution and a catalog that do not grow with
  N), in a subprocess, for N1 and N2 copies: per copy (t(N2) - t(N1)) / (N2 - N1), so
  start-up and the fixed documents cancel out. AMC is installed with apt-get when missing
  and run as root, as WeasyPrint is. It typesets less than our booklets print: no case
  scenarios, hints, matching prompts or options beyond the fourth.
- ours: N1, then N2 booklets in this process, each batch from an empty `LayoutCache`;
  per copy (t(N2) - t(N1)) / (N2 - N1).

Also timed, for context:

1. cold: the first booklet with an empty `LayoutCache` (every text measured and wrapped);
2. warm, one process: `--booklets` booklets in a loop with the now-warm cache (each timed,
   so the median and slowest are printed too);
3. `render_booklets(doc, codes, processes=P)`: the same booklets spread over P fresh
   ("spawn") worker processes, wall time including the workers' start-up and cold caches.
   (It returns one PDF per form code, so the N booklets are rendered but 26 come back.)
4. naive Platypus: `--platypus` booklets (forms A, B, ...; at most 26), every question a
   `KeepTogether` of `Paragraph`s wrapped anew per copy by `SimpleDocTemplate`, no layout
   cache;
5. WeasyPrint: form A's booklet as a simple HTML page (cover, instructions, case scenarios,
   numbered questions with lettered options; all text through `html.escape`) converted once
   by the `weasyprint` command of the Debian package (installed with apt-get when missing
   and run as root), in a subprocess. A one-line HTML page is converted too, to show how
   much of it is start-up.

Wall times are printed with CPU times (this process plus the child processes it waited
for, from getrusage) and the load average: on a small shared machine other jobs inflate
wall times, CPU times much less.

Checked: pypdf reads booklet A, its page count is plausible (a cover and at least one page
of questions, at most one page per question plus two) and agrees with the "Page x of y"
footer, and its cover says "Form A"; every booklet starts with %PDF; the warm booklet A is
byte-identical to the cold one and the worker processes' booklets to the in-process ones
(ReportLab runs in invariant mode); WeasyPrint's PDF is readable. AMC: each run exits 0,
pypdf reads its subject, and its positions file (`calage.xy`, AMC's own record of where it
put every box) shows N copies of all the questions, in different question orders, with
shuffled choices.

Under `make bench` the headline figures also go to the table it ends with
(`common.summary_row`; `bench/summary.py` prints it).

Run: `.venv/bin/python bench/paper.py` (options `--copies 1,51 --rounds 2 --booklets 300
--questions 65 --processes 2 --platypus 10`). The exit code is 0 whatever the timings; 1
if something broke (a check failed, AMC or WeasyPrint could not be installed or failed).
"""

from __future__ import annotations

import argparse
import html
import io
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from pypdf import PdfReader
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.platypus import KeepTogether, PageBreak, Paragraph, SimpleDocTemplate, Spacer

from exam_service.bank.loader import QuestionSpec, load_bank
from exam_service.exams import assembly
from exam_service.exams.assembly import layout_of
from exam_service.paper.document import INSTRUCTIONS, PaperExamDocument, PaperQuestion
from exam_service.paper.forms import form_codes, make_forms, printed_form
from exam_service.paper.pdf import STANDARD_INSTRUCTIONS, LayoutCache, booklet_pdf, render_booklets
from exam_service.paper.sheet import letter
from exam_service.settings import ROOT

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import summary_row  # noqa: E402  (the bench folder is not a package)

SEED = 2
"""A draw with three cases (10 of its questions), so case scenarios are printed too."""
FORMS = 26
TITLE = "Practice exam - paper sitting"
TIME_MINUTES = 90
TARGET_RATIO = 10.0
"""DESIGN: at least this many times faster per copy than AMC in the same run."""
# --- the document -------------------------------------------------------------------------


def pool_question(spec: QuestionSpec, revision_id: int) -> assembly.PoolQuestion:
    """As `exam_service.exams.service.question_pool` makes one from a stored revision."""
    content = spec.content
    return assembly.PoolQuestion(
        question_id=spec.id,
        revision_id=revision_id,
        objective=spec.objectives[0],
        difficulty=spec.difficulty,
        case_id=spec.case_id,
        type=spec.type,
        option_ids=tuple(o["id"] for o in content.get("options", [])),
        prompt_ids=tuple(p["id"] for p in content.get("prompts", [])),
        choice_ids=tuple(c["id"] for c in content.get("choices", [])),
    )


@dataclass(frozen=True)
class Draw:
    """The drawn questions: revisions by id, and the chosen items in bank order."""

    revisions: dict[int, QuestionSpec]
    pool: list[assembly.PoolQuestion]
    chosen: list[assembly.DrawnItem]

    @property
    def specs(self) -> list[QuestionSpec]:
        return [self.revisions[item.revision_id] for item in self.chosen]


def draw(question_count: int) -> Draw:
    bank = load_bank(ROOT / "question_bank")
    if not bank.ok:
        raise RuntimeError(f"the default bank has problems: {bank.problems[:3]}")
    # Choice questions only: AMC's exam here is 4-option multiple choice, so both sides
    # print the same questions (numeric ones would be digit grids on our side alone).
    choice = [spec for spec in bank.questions if spec.type != "numeric"]
    revisions = {number: spec for number, spec in enumerate(choice, 1)}
    pool = [pool_question(spec, number) for number, spec in revisions.items()]
    chosen = assembly.assemble(assembly.ExamSpec(question_count=question_count), pool, {}, SEED)
    return Draw(revisions, pool, list(chosen))


def build_document(drawn: Draw) -> PaperExamDocument:
    laid_out = make_forms(drawn.chosen, drawn.pool, FORMS, SEED)
    return PaperExamDocument(
        exam_id=1,
        title=TITLE,
        paper="a4",
        time_minutes=TIME_MINUTES,
        forms=tuple(
            printed_form(code, [(i.revision_id, layout_of(i)) for i in items], drawn.revisions)
            for code, items in laid_out.items()
        ),
        instructions=INSTRUCTIONS,
    )


# --- our renderer ---------------------------------------------------------------------------


@dataclass
class Batch:
    seconds: float
    count: int
    each_ms: list[float]
    """Per-booklet times, when the batch was timed booklet by booklet."""
    cpu_seconds: float
    """CPU time of this process and of the child processes it waited for during the batch:
    less disturbed than wall time when other jobs share the cores."""

    @property
    def ms_per_booklet(self) -> float:
        return self.seconds * 1000 / self.count

    @property
    def cpu_ms_per_booklet(self) -> float:
        return self.cpu_seconds * 1000 / self.count


def cpu_now() -> float:
    """CPU seconds used so far by this process and its waited-for children."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def warm_batch(
    doc: PaperExamDocument, codes: Sequence[str], cache: LayoutCache
) -> tuple[Batch, dict[str, bytes]]:
    """Every booklet in turn in this process; the first PDF of each form is kept."""
    each: list[float] = []
    first: dict[str, bytes] = {}
    bad = 0
    cpu = cpu_now()
    for code in codes:
        started = time.perf_counter()
        pdf = booklet_pdf(doc, code, cache=cache)
        each.append((time.perf_counter() - started) * 1000)
        bad += not pdf.startswith(b"%PDF-")
        first.setdefault(code, pdf)
    if bad:
        raise RuntimeError(f"{bad} booklets do not start with %PDF-")
    return Batch(sum(each) / 1000, len(codes), each, cpu_now() - cpu), first


def pool_batch(
    doc: PaperExamDocument, codes: Sequence[str], processes: int
) -> tuple[Batch, dict[str, bytes]]:
    cpu, started = cpu_now(), time.perf_counter()
    pdfs = render_booklets(doc, codes, processes=processes)  # waits for its workers to exit
    return Batch(time.perf_counter() - started, len(codes), [], cpu_now() - cpu), pdfs


@dataclass(frozen=True)
class Copies:
    """Wall and CPU seconds to make N1 and N2 copies, the fastest of the rounds each."""

    counts: tuple[int, int]
    seconds: tuple[float, float]
    cpu_seconds: tuple[float, float]

    @property
    def ms_per_copy(self) -> float:
        return _per_copy(self.seconds, self.counts)

    @property
    def cpu_ms_per_copy(self) -> float:
        return _per_copy(self.cpu_seconds, self.counts)


def _per_copy(seconds: tuple[float, float], counts: tuple[int, int]) -> float:
    return (seconds[1] - seconds[0]) * 1000 / (counts[1] - counts[0])


def fastest(counts: tuple[int, int], runs: Sequence[tuple[float, float, float, float]]) -> Copies:
    """`runs`: (wall N1, CPU N1, wall N2, CPU N2) per round."""
    return Copies(
        counts,
        (min(r[0] for r in runs), min(r[2] for r in runs)),
        (min(r[1] for r in runs), min(r[3] for r in runs)),
    )


def time_our_copies(doc: PaperExamDocument, copies: int) -> tuple[float, float]:
    """Wall and CPU seconds to draw `copies` booklets (forms A-Z in turn) in this process
    from an empty `LayoutCache`, as AMC makes its copies from its source."""
    cache = LayoutCache()
    codes = [form_codes(FORMS)[i % FORMS] for i in range(copies)]
    cpu, started = cpu_now(), time.perf_counter()
    for code in codes:
        booklet_pdf(doc, code, cache=cache)
    return time.perf_counter() - started, cpu_now() - cpu


# --- naive Platypus -----------------------------------------------------------------------


def platypus_booklet(doc: PaperExamDocument, code: str) -> bytes:
    """A naive booklet: every text a `Paragraph` (escaped: its markup is code), each
    question kept together, wrapped and paginated by Platypus anew for every copy."""
    form = doc.form(code)
    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    stem = ParagraphStyle("stem", parent=body, leftIndent=26, firstLineIndent=-26)
    option = ParagraphStyle("option", parent=body, leftIndent=44, firstLineIndent=-18)
    hint = ParagraphStyle("hint", parent=body, leftIndent=26, fontName="Helvetica-Oblique")
    case = ParagraphStyle("case", parent=body, backColor="#eeeeee", fontSize=9.5)
    story: list[Any] = [
        Paragraph(xml_escape(doc.title), styles["Title"]),
        Paragraph(f"Form {xml_escape(code)}", styles["Heading2"]),
        Paragraph(f"Time allowed: {doc.time_minutes} minutes", body),
        Paragraph(f"Questions: {len(form.questions)}", body),
        Paragraph("Name: ____________________  Candidate number: ________", body),
        Paragraph("Instructions", styles["Heading3"]),
    ]
    for text in [*doc.instructions, *STANDARD_INSTRUCTIONS]:
        story.append(Paragraph(xml_escape(text), body, bulletText="\u2022"))
    story.append(PageBreak())
    previous_case: str | None = None
    for question in form.questions:
        parts: list[Any] = []
        if question.case_id and question.case_id != previous_case:
            parts.append(Paragraph(f"<b>Case: {xml_escape(question.case_title or '')}</b>", case))
            parts.append(Paragraph(xml_escape(question.case_scenario or ""), case))
            parts.append(Spacer(0, 6))
        previous_case = question.case_id
        parts.append(Paragraph(f"<b>{question.number}.</b> {xml_escape(question.stem)}", stem))
        parts.append(Paragraph(xml_escape(hint_text(question)), hint))
        for label, text in labelled(question):
            parts.append(Paragraph(f"<b>{label}</b>&nbsp;&nbsp;{xml_escape(text)}", option))
        parts.append(Spacer(0, 10))
        story.append(KeepTogether(parts))
    buffer = io.BytesIO()

    def footer(canvas: Any, template: Any) -> None:
        canvas.setFont("Helvetica", 8)
        canvas.drawString(50, 28, f"Form {code} - {doc.title}")
        canvas.drawRightString(A4[0] - 50, 28, f"Page {template.page}")

    SimpleDocTemplate(buffer, pagesize=A4, invariant=True, title=doc.title).build(
        story, onFirstPage=footer, onLaterPages=footer
    )
    return buffer.getvalue()


def hint_text(question: PaperQuestion) -> str:
    if question.type == "multiple":
        return f"Choose {question.choose}." if question.choose else "Choose all that apply."
    if question.type == "ordering":
        return "Put the items in the right order."
    if question.type == "matching":
        return "Match each numbered prompt with a lettered choice."
    return "Choose one."


def labelled(question: PaperQuestion) -> list[tuple[str, str]]:
    """(label, text) of every option, or of the prompts (1, 2, ...) then the choices."""
    if question.type == "matching":
        prompts = [(f"{i}.", text) for i, text in enumerate(question.prompts, 1)]
        return prompts + [(letter(i), text) for i, text in enumerate(question.choices)]
    return [(letter(i), text) for i, text in enumerate(question.options)]


def time_platypus(doc: PaperExamDocument, codes: Sequence[str]) -> tuple[Batch, bytes]:
    each: list[float] = []
    first = b""
    cpu = cpu_now()
    for code in codes:
        started = time.perf_counter()
        pdf = platypus_booklet(doc, code)
        each.append((time.perf_counter() - started) * 1000)
        first = first or pdf
    return Batch(sum(each) / 1000, len(codes), each, cpu_now() - cpu), first


# --- WeasyPrint -----------------------------------------------------------------------------

CSS = """
@page { size: A4; margin: 50pt;
        @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 8pt; }
        @bottom-left { content: string(foot); font-size: 8pt; } }
body { font-family: Helvetica, Arial, sans-serif; font-size: 10pt; line-height: 1.35; }
h1 { font-size: 20pt; margin: 0 0 6pt; string-set: foot content(); }
h2 { font-size: 16pt; margin: 0 0 8pt; }
.boxes div { border: 0.8pt solid #222; height: 26pt; margin: 2pt 0 8pt; }
.cover { page-break-after: always; }
.case { background: #eee; padding: 4pt 6pt; margin: 8pt 0; }
.question { page-break-inside: avoid; margin: 0 0 12pt; }
.question .stem { margin: 0; }
.hint { font-style: italic; font-size: 8.5pt; color: #666; margin: 2pt 0 3pt 26pt; }
ol { margin: 0 0 0 26pt; padding-left: 18pt; }
ol.letters { list-style-type: upper-alpha; }
li { margin: 0 0 2pt; }
"""


def booklet_html(doc: PaperExamDocument, code: str) -> str:
    """Form `code`'s booklet as one simple HTML page, every text escaped."""
    form = doc.form(code)
    esc = html.escape
    out = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(doc.title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<section class='cover'><h1>{esc(doc.title)}</h1><h2>Form {esc(code)}</h2>",
        f"<p>Time allowed: {doc.time_minutes} minutes<br>Questions: {len(form.questions)}</p>",
        "<div class='boxes'><b>Name</b><div></div><b>Candidate number</b><div></div></div>",
        "<h3>Instructions</h3><ul>",
        *(f"<li>{esc(text)}</li>" for text in [*doc.instructions, *STANDARD_INSTRUCTIONS]),
        "</ul><p><b>Do not open this booklet until you are told to start.</b></p></section>",
    ]
    previous_case: str | None = None
    for question in form.questions:
        if question.case_id and question.case_id != previous_case:
            out.append(
                f"<div class='case'><b>Case: {esc(question.case_title or '')}</b>"
                f"<p>{esc(question.case_scenario or '')}</p></div>"
            )
        previous_case = question.case_id
        out.append(
            f"<div class='question'><p class='stem'><b>{question.number}.</b> "
            f"{esc(question.stem)}</p><p class='hint'>{esc(hint_text(question))}</p>"
        )
        if question.type == "matching":
            out.append("<ol>" + "".join(f"<li>{esc(t)}</li>" for t in question.prompts))
            out.append("</ol><ol class='letters'>")
            out.append("".join(f"<li>{esc(t)}</li>" for t in question.choices) + "</ol>")
        else:
            out.append(
                "<ol class='letters'>"
                + "".join(f"<li>{esc(t)}</li>" for t in question.options)
                + "</ol>"
            )
        out.append("</div>")
    out.append("</body></html>")
    return "\n".join(out)


def ensure_weasyprint() -> str | None:
    """The `weasyprint` command, installing the Debian package if needed (as root)."""
    found = shutil.which("weasyprint")
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        print("installing WeasyPrint: apt-get install -y weasyprint", flush=True)
        subprocess.run(["apt-get", "install", "-y", "weasyprint"], capture_output=True, check=False)
        found = shutil.which("weasyprint")
    return found


@dataclass
class Weasy:
    version: str
    seconds: float
    cpu_seconds: float
    startup_seconds: float
    pages: int


def time_weasyprint(command: str, page: str, folder: Path) -> Weasy:
    source, target = folder / "booklet.html", folder / "booklet.pdf"
    source.write_text(page, encoding="utf-8")
    tiny, tiny_pdf = folder / "tiny.html", folder / "tiny.pdf"
    tiny.write_text("<!DOCTYPE html><p>start-up</p>", encoding="utf-8")
    version = subprocess.run(
        [command, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()

    def convert(html_file: Path, pdf_file: Path) -> tuple[float, float]:
        cpu, started = cpu_now(), time.perf_counter()
        subprocess.run(
            [command, str(html_file), str(pdf_file)], capture_output=True, text=True, check=True
        )
        return time.perf_counter() - started, cpu_now() - cpu

    seconds, cpu_seconds = convert(source, target)
    startup, _ = convert(tiny, tiny_pdf)
    pages = len(PdfReader(io.BytesIO(target.read_bytes())).pages)
    return Weasy(version, seconds, cpu_seconds, startup, pages)


# --- Auto Multiple Choice -------------------------------------------------------------------

AMC_COMMAND = "auto-multiple-choice"
AMC_PACKAGE = "auto-multiple-choice"
AMC_SEED = 1527384
AMC_OPTIONS = 4
LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\textasciitilde{}",
}


def tex(text: str) -> str:
    """Bank text as LaTeX that prints it literally: specials escaped, white space joined
    (a blank line would end a paragraph), characters beyond Latin-1, which pdflatex's T1
    fonts lack, as '?'."""
    return "".join(
        LATEX_SPECIALS.get(char, char if ord(char) < 256 else "?")
        for char in " ".join(text.split())
    )


def four_options(spec: QuestionSpec) -> list[tuple[str, bool]]:
    """(text, right) of four of the question's options, in bank order: the right ones
    first chosen (at most three), then the others. Single and multiple questions keep
    their key; an ordering question's first item and a matching question's match for its
    first prompt (among its choices) count as right, so that every question is one AMC
    can print."""
    content = spec.content
    if spec.type == "matching":
        texts = {choice["id"]: choice["text"] for choice in content["choices"]}
        right = [content["key"][content["prompts"][0]["id"]]]
    else:
        texts = {option["id"]: option["text"] for option in content["options"]}
        right = list(content["key"])[: 1 if spec.type == "ordering" else 3]
    kept = set((right + [key for key in texts if key not in right])[:AMC_OPTIONS])
    return [(text, key in right) for key, text in texts.items() if key in kept]


def amc_source(specs: Sequence[QuestionSpec], instructions: Sequence[str]) -> str:
    """An AMC LaTeX source: every question an `\\element` of the group `exam` (a
    `questionmult` when more than one option is right), one copy inserting the group under
    a header. `box` keeps each question on one page, as our booklets do."""
    lines = [
        r"\documentclass[a4paper]{article}",
        r"\usepackage[utf8]{inputenc}",
        r"\usepackage[T1]{fontenc}",
        r"\usepackage[box]{automultiplechoice}",
        r"\begin{document}",
        rf"\AMCrandomseed{{{AMC_SEED}}}",
        r"\setdefaultgroupmode{withoutreplacement}",
    ]
    for number, spec in enumerate(specs, 1):
        options = four_options(spec)
        kind = "questionmult" if sum(right for _, right in options) > 1 else "question"
        lines += [
            rf"\element{{exam}}{{\begin{{{kind}}}{{q{number}}}",
            tex(spec.stem),
            r"\begin{choices}",
            *(
                (r"\correctchoice{" if right else r"\wrongchoice{") + tex(text) + "}"
                for text, right in options
            ),
            # The paragraph ends after each question: boxed questions would otherwise be
            # set side by side on one line.
            rf"\end{{choices}}\end{{{kind}}}\par}}",
        ]
    lines += [
        r"\onecopy{1}{",
        rf"\noindent{{\bf {tex(TITLE)}}}\hfill Time allowed: {TIME_MINUTES} minutes",
        "",
        r"\namefield{\fbox{\begin{minipage}{.5\linewidth}Name:\\[3mm]\namefielddots"
        r"\end{minipage}}}",
        "",
        r"\begin{itemize}",
        *(rf"\item {tex(text)}" for text in [*instructions, *STANDARD_INSTRUCTIONS]),
        r"\end{itemize}",
        r"\insertgroup{exam}",
        r"\AMCcleardoublepage",
        "}",
        r"\end{document}",
    ]
    return "\n".join(lines) + "\n"


def ensure_amc() -> str | None:
    """The `auto-multiple-choice` command, installing the Debian package if needed (as
    root; it brings a TeX Live of about 300 packages, so the first run takes minutes)."""
    found = shutil.which(AMC_COMMAND)
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        print(f"installing Auto Multiple Choice: apt-get install -y {AMC_PACKAGE}", flush=True)
        subprocess.run(
            ["apt-get", "install", "-y", AMC_PACKAGE],
            capture_output=True,
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = shutil.which(AMC_COMMAND)
    return found


def amc_version() -> str:
    """The Debian package's version, as AMC's command line does not print one."""
    if shutil.which("dpkg-query") is None:
        return "version unknown"
    shown = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", AMC_PACKAGE],
        capture_output=True,
        text=True,
        check=False,
    )
    return shown.stdout.strip() or "version unknown"


@dataclass(frozen=True)
class AmcRun:
    seconds: float
    cpu_seconds: float
    pages: int
    orders: dict[int, list[str]]
    """Per copy, its question ids in printed order (from the positions file)."""
    choices: dict[tuple[int, str], list[str]]
    """Per (copy, question id), its choices' numbers in printed order."""


BOX = re.compile(r"\\tracepos\{(\d+)/\d+:case:([^:]+):\d+,(\d+)\}")
"""A check box in AMC's positions file: copy, question id, the choice's number in the
source. Each box is traced twice (two corners)."""


def run_amc(command: str, source: Path, folder: Path, copies: int) -> AmcRun:
    """`auto-multiple-choice prepare --mode s` for `copies` copies in a new project folder."""
    project = folder / f"amc-{copies}-{time.monotonic_ns()}"
    (project / "data").mkdir(parents=True)
    cpu, started = cpu_now(), time.perf_counter()
    subprocess.run(
        [
            *(command, "prepare", "--mode", "s", "--with", "pdflatex"),
            *("--prefix", f"{project}/", "--data", str(project / "data")),
            *("--n-copies", str(copies), str(source)),
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, cpu_seconds = time.perf_counter() - started, cpu_now() - cpu
    pages = len(PdfReader(project / "sujet.pdf").pages)
    orders: dict[int, list[str]] = {}
    choices: dict[tuple[int, str], list[str]] = {}
    for match in BOX.finditer((project / "calage.xy").read_text(encoding="utf-8")):
        copy, question, choice = int(match[1]), match[2], match[3]
        order = orders.setdefault(copy, [])
        if question not in order:
            order.append(question)
        shown = choices.setdefault((copy, question), [])
        if choice not in shown:
            shown.append(choice)
    shutil.rmtree(project)
    return AmcRun(seconds, cpu_seconds, pages, orders, choices)


def check_amc(run: AmcRun, copies: int, questions: int) -> list[str]:
    """What is wrong with an AMC run's copies, read from its positions file."""
    problems = []
    if sorted(run.orders) != list(range(1, copies + 1)):
        problems.append(f"AMC made copies {sorted(run.orders)[:5]}..., not 1 to {copies}")
    short = [copy for copy, order in run.orders.items() if len(order) != questions]
    if short:
        problems.append(f"AMC copies {short[:5]} do not hold {questions} questions")
    if copies > 1 and len({tuple(order) for order in run.orders.values()}) < 2:
        problems.append("AMC printed every copy's questions in the same order")
    if not any(shown != sorted(shown, key=int) for shown in run.choices.values()):
        problems.append("AMC printed every question's choices in source order")
    return problems


# --- checks and report ------------------------------------------------------------------------


def check_booklet(pdf: bytes, question_count: int) -> tuple[int, list[str]]:
    """Page count and what is wrong with the booklet, read back by pypdf."""
    reader = PdfReader(io.BytesIO(pdf))
    pages = len(reader.pages)
    problems = []
    if not 2 <= pages <= question_count + 2:
        problems.append(f"{pages} pages for {question_count} questions")
    first, last = reader.pages[0].extract_text(), reader.pages[-1].extract_text()
    if "Form A" not in first:
        problems.append("the cover does not say 'Form A'")
    if f"Page {pages} of {pages}" not in last:
        problems.append(f"the last page's footer does not say 'Page {pages} of {pages}'")
    return pages, problems


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def describe(batch: Batch) -> str:
    text = (
        f"{batch.seconds:.2f} s, {batch.ms_per_booklet:.1f} ms per booklet, "
        f"CPU {batch.cpu_ms_per_booklet:.1f} ms"
    )
    if batch.each_ms:
        text += (
            f" (median {statistics.median(batch.each_ms):.1f}, slowest {max(batch.each_ms):.1f})"
        )
    return text


def describe_copies(copies: Copies) -> str:
    (n1, n2), (t1, t2) = copies.counts, copies.seconds
    return (
        f"{plural(n1, 'copy', 'copies')} {t1:.2f} s, {plural(n2, 'copy', 'copies')} {t2:.2f} s: "
        f"{copies.ms_per_copy:.1f} ms per extra copy (CPU {copies.cpu_ms_per_copy:.1f})"
    )


def plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def parse_copies(text: str) -> tuple[int, int]:
    try:
        first, second = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"give two copy counts as N1,N2 (e.g. 1,51), not {text!r}"
        ) from None
    if not 1 <= first < second:
        raise argparse.ArgumentTypeError(f"need 1 <= N1 < N2, not {first},{second}")
    return first, second


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--copies",
        type=parse_copies,
        default=(1, 51),
        help="N1,N2: copies made by AMC and by us, per copy from the difference",
    )
    parser.add_argument("--rounds", type=int, default=2, help="of the per-copy timing")
    parser.add_argument("--booklets", type=int, default=300, help="booklets per timed batch")
    parser.add_argument("--questions", type=int, default=65, help="questions per booklet")
    parser.add_argument("--processes", type=int, default=2, help="for render_booklets")
    parser.add_argument(
        "--platypus", type=int, default=10, help=f"naive Platypus booklets, 1-{FORMS}"
    )
    args = parser.parse_args(argv)
    if args.booklets < 1 or args.questions < 1 or args.rounds < 1:
        parser.error("--booklets, --questions and --rounds must be at least 1")
    if not 1 <= args.platypus <= FORMS:
        parser.error(f"--platypus must be between 1 and {FORMS}")
    return args


def per_copy(
    doc: PaperExamDocument, drawn: Draw, counts: tuple[int, int], rounds: int, broken: list[str]
) -> tuple[Copies | None, Copies, int]:
    """AMC's and our time per extra copy, measured in turn in each round; and AMC's pages
    per copy. AMC is None when it is missing or failed (said in `broken`)."""
    command = ensure_amc()
    if command is None:
        broken.append("Auto Multiple Choice is not installed and could not be installed")
    amc_runs: list[tuple[float, float, float, float]] = []
    our_runs: list[tuple[float, float, float, float]] = []
    amc_pages = 0
    with tempfile.TemporaryDirectory(prefix="exam-bench-amc-") as tmp:
        source = Path(tmp) / "exam.tex"
        source.write_text(amc_source(drawn.specs, doc.instructions), encoding="utf-8")
        for _ in range(rounds):
            if command is not None:
                try:
                    first, second = (run_amc(command, source, Path(tmp), n) for n in counts)
                except (subprocess.CalledProcessError, OSError) as exc:
                    detail = getattr(exc, "stdout", "") or ""
                    broken.append(f"Auto Multiple Choice failed: {exc} {detail.strip()[-300:]}")
                    command = None
                else:
                    if not amc_runs:
                        for run, copies in ((first, counts[0]), (second, counts[1])):
                            broken += check_amc(run, copies, len(drawn.chosen))
                        amc_pages = round(second.pages / counts[1])
                    amc_runs.append(
                        (first.seconds, first.cpu_seconds, second.seconds, second.cpu_seconds)
                    )
            ours = [time_our_copies(doc, n) for n in counts]
            our_runs.append((*ours[0], *ours[1]))
    amc = fastest(counts, amc_runs) if amc_runs else None
    return amc, fastest(counts, our_runs), amc_pages


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    drawn = draw(args.questions)
    doc = build_document(drawn)
    codes = [form_codes(FORMS)[i % FORMS] for i in range(args.booklets)]
    form_a = doc.form("A")
    cases = len({q.case_id for q in form_a.questions if q.case_id})
    print(
        f"paper booklets of {args.questions} questions against Auto Multiple Choice\n"
        f"document: default bank ({len(form_a.questions)} of its questions drawn, seed {SEED}, "
        f"{cases} cases), {FORMS} forms, A4; {os.cpu_count()} CPUs; Python "
        f"{sys.version.split()[0]}; load average {os.getloadavg()[0]:.1f} (other jobs inflate "
        "wall times; CPU times are steadier)",
        flush=True,
    )
    broken: list[str] = []

    cache = LayoutCache()
    cold_seconds, cold_pdf = timed(lambda: booklet_pdf(doc, "A", cache=cache))
    pages, problems = check_booklet(cold_pdf, args.questions)
    broken += problems

    n1, n2 = args.copies
    amc, ours, amc_pages = per_copy(doc, drawn, args.copies, args.rounds, broken)
    rounds = plural(args.rounds, "round", "rounds")
    print(f"\nper extra copy, same run ({n1} and {n2} copies, fastest of {rounds})")
    if amc is not None:
        print(
            f"  Auto Multiple Choice {amc_version()} (prepare --mode s, pdflatex, subprocess):\n"
            f"    {describe_copies(amc)}; {amc_pages} pages a copy",
            flush=True,
        )
    print(
        f"  ours (booklet_pdf, one process, from an empty LayoutCache):\n"
        f"    {describe_copies(ours)}; {pages} pages a copy",
        flush=True,
    )

    print(
        f"\nours (exam_service.paper.pdf, ReportLab canvas)\n"
        f"  cold first booklet (empty LayoutCache):  {cold_seconds * 1000:.1f} ms, "
        f"{len(cache)} texts laid out; {pages} pages, {len(cold_pdf) / 1024:.0f} KiB",
        flush=True,
    )
    warm, first = warm_batch(doc, codes, cache)
    print(f"  warm, one process:       {args.booklets} booklets {describe(warm)}", flush=True)
    if first["A"] != cold_pdf:
        broken.append("the warm booklet A differs from the cold one")
    spread, spread_pdfs = pool_batch(doc, codes, args.processes)
    print(
        f"  render_booklets, processes={args.processes}: {args.booklets} booklets "
        f"{describe(spread)} (wall, incl. worker start-up)",
        flush=True,
    )
    differing = [code for code, pdf in spread_pdfs.items() if pdf != first.get(code)]
    if differing:
        broken.append(f"worker booklets differ from in-process ones: forms {differing}")
    best = min(warm.ms_per_booklet, spread.ms_per_booklet)

    platypus_codes = form_codes(FORMS)[: args.platypus]
    platypus, platypus_pdf = time_platypus(doc, platypus_codes)
    platypus_pages = len(PdfReader(io.BytesIO(platypus_pdf)).pages)
    print(
        f"\nnaive Platypus (Paragraph per text, wrapped per copy), one process\n"
        f"  {len(platypus_codes)} booklets {describe(platypus)}; form A {platypus_pages} pages",
        flush=True,
    )

    weasy: Weasy | None = None
    command = ensure_weasyprint()
    if command is None:
        broken.append("WeasyPrint is not installed and could not be installed")
    else:
        with tempfile.TemporaryDirectory(prefix="exam-bench-paper-") as tmp:
            try:
                weasy = time_weasyprint(command, booklet_html(doc, "A"), Path(tmp))
            except (subprocess.CalledProcessError, OSError) as exc:
                detail = getattr(exc, "stderr", "") or ""
                broken.append(f"WeasyPrint failed: {exc} {detail.strip()[-300:]}")
    if weasy is not None:
        print(
            f"\nWeasyPrint ({weasy.version}, Debian package, subprocess), form A once\n"
            f"  {weasy.seconds * 1000:.0f} ms, CPU {weasy.cpu_seconds * 1000:.0f} ms, "
            f"{weasy.pages} pages; of which start-up about "
            f"{weasy.startup_seconds * 1000:.0f} ms (a one-line page)",
            flush=True,
        )

    print("\nverdict")
    copies_scenario = f"{args.questions} questions, {n1} and {n2} copies"
    if amc is not None:
        ratio = amc.ms_per_copy / ours.ms_per_copy
        cpu_ratio = amc.cpu_ms_per_copy / ours.cpu_ms_per_copy
        met = min(ratio, cpu_ratio) >= TARGET_RATIO
        print(
            f"  per extra copy: ours {ours.ms_per_copy:.1f} ms, AMC {amc.ms_per_copy:.1f} ms: "
            f"{ratio:.1f}x faster (CPU {cpu_ratio:.1f}x), "
            f"{'meets' if met else 'misses'} the {TARGET_RATIO:g}x target (in both)"
        )
        summary_row(
            "paper",
            copies_scenario,
            "AMC per extra copy",
            f"{amc.ms_per_copy:.1f} ms (CPU {amc.cpu_ms_per_copy:.1f})",
        )
    summary_row(
        "paper",
        copies_scenario,
        "ours per extra copy, one process",
        f"{ours.ms_per_copy:.1f} ms (CPU {ours.cpu_ms_per_copy:.1f})",
    )
    if amc is not None:
        summary_row(
            "paper",
            copies_scenario,
            "faster per copy than AMC, same run",
            f"{ratio:.1f}x (CPU {cpu_ratio:.1f}x)",
            f">= {TARGET_RATIO:g}x, both",
            met,
        )
    scenario = f"{args.booklets} booklets of {args.questions} questions"
    for name, batch in (("one process", warm), (f"processes={args.processes}", spread)):
        ms = batch.ms_per_booklet
        print(f"  {name}: {ms:.1f} ms per booklet (CPU {batch.cpu_ms_per_booklet:.1f})")
        summary_row(
            "paper",
            scenario,
            f"per booklet, {name}",
            f"{ms:.1f} ms (CPU {batch.cpu_ms_per_booklet:.1f})",
        )
    summary_row(
        "paper", scenario, "faster than naive Platypus", f"{platypus.ms_per_booklet / best:.1f}x"
    )
    print(
        f"  naive Platypus measured {platypus.ms_per_booklet:.0f} ms per booklet: ours is "
        f"{platypus.ms_per_booklet / best:.1f}x faster"
    )
    if weasy is not None:
        print(
            f"  WeasyPrint / ours per booklet: {weasy.seconds * 1000 / best:.0f}x "
            f"({weasy.seconds * 1000:.0f} ms / {best:.1f} ms); without its start-up "
            f"{(weasy.seconds - weasy.startup_seconds) * 1000 / best:.0f}x; "
            f"in CPU time {weasy.cpu_seconds / warm.cpu_seconds * warm.count:.0f}x "
            f"(one process)"
        )
        summary_row(
            "paper", scenario, "faster than WeasyPrint", f"{weasy.seconds * 1000 / best:.0f}x"
        )
    summary_row("paper", scenario, "checks", "failed" if broken else "passed", "passed", not broken)
    print(f"  output: pypdf reads booklet A, {pages} pages", end="")
    if broken:
        print("\nBROKEN:")
        for problem in broken:
            print(f"  - {problem}")
        return 1
    print("; all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
