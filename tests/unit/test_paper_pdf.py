"""Paper exam PDFs: the booklet prints every question of its form on the right paper with
its form and page numbers and nothing of the key; the key prints the answers; answer
sheets print one page per candidate; text from the bank prints literally."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import pytest
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth

from exam_service.paper.document import (
    PaperExamDocument,
    PaperQuestion,
    PrintedForm,
    SheetCandidate,
)
from exam_service.paper.pdf import (
    LayoutCache,
    answer_sheets_pdf,
    booklet_pdf,
    key_pdf,
    render_booklets,
)
from exam_service.paper.sheet import form_sheet, sheet_layout
from tests.unit.pdf_checks import ARABIC_SHAPED, SCRIPTS, assert_faces, assert_prints

PAPER_SIZES = {"a4": (595, 842), "letter": (612, 792)}
MARKUP = '<b>x</b> <font color="red">y</font>'
PWNED = Path("/tmp/pwned")
EXPLOIT = (
    "<para><font color=\"[[[getattr(pow, Word('__globals__'))['os'].system('touch /tmp/pwned')"
    ']]]">exploit</font></para>'
)
ARABIC = (
    "هذا سؤال طويل عن تدريب النماذج في الحوسبة السحابية ويجب أن يلتف على عدة أسطر "
    "بالترتيب الصحيح من اليمين إلى اليسار"
)
"""Wraps over more than one line of a booklet when printed twice."""
KEY_MARKER = "qkey"
"""Starts every question_key: printed on the key, never in a booklet."""


# ---- factories --------------------------------------------------------------------------


def bank_question(index: int) -> tuple[PaperQuestion, tuple[int, ...]]:
    """The index-th question (0-based) of a realistic mix, with its correct options (for
    ordering the right order, for matching the choice of each prompt), numbered as in
    form A. Questions 20-22 share a case."""
    number = index + 1
    case: dict[str, str | None] = {}
    if 19 <= index <= 21:
        case = {
            "case_id": "case-1",
            "case_title": "Ward round",
            "case_scenario": "A 64-year-old man is admitted with chest pain. " * 4,
        }
    common = {"number": number, "question_key": f"{KEY_MARKER}-{number}", **case}
    if index % 10 == 2:
        options = tuple(f"Option {letter} of question {number}" for letter in "vwxyz")
        question = PaperQuestion(
            type="multiple",
            stem=f"Stem {number}: which two apply?",
            options=options,
            choose=2,
            **common,
        )
        return question, (0, 3)
    if index % 10 == 5:
        options = tuple(f"Step {step} of question {number}" for step in range(1, 5))
        question = PaperQuestion(
            type="ordering",
            stem=f"Stem {number}: put the steps in order.",
            options=options,
            **common,
        )
        return question, (2, 0, 3, 1)
    if index % 10 == 8:
        question = PaperQuestion(
            type="matching",
            stem=f"Stem {number}: match each drug to its class.",
            prompts=tuple(f"Prompt {p} of question {number}" for p in range(1, 4)),
            choices=tuple(f"Choice {c} of question {number}" for c in "pqr"),
            **common,
        )
        return question, (1, 0, 2)
    options = tuple(f"Option {letter} of question {number}" for letter in "vwxyz"[: 4 + index % 2])
    stem = f"Stem {number}: which one is right? " + ("A longer stem. " * (index % 7) * 6)
    question = PaperQuestion(type="single", stem=stem, options=options, **common)
    return question, (index % len(options),)


def answer_string(question: PaperQuestion, correct: tuple[int, ...]) -> str:
    letters = "ABCDEFGHIJKL"
    if question.type == "multiple":
        return "".join(letters[i] for i in sorted(correct))
    return "".join(letters[i] for i in correct)


def reversed_options(
    question: PaperQuestion, correct: tuple[int, ...]
) -> tuple[PaperQuestion, tuple[int, ...]]:
    """The question with its options (or choices) in reverse order, as another form prints it."""
    if question.type == "matching":
        last = len(question.choices) - 1
        return replace(question, choices=question.choices[::-1]), tuple(last - c for c in correct)
    last = len(question.options) - 1
    if question.type == "ordering":
        return replace(question, options=question.options[::-1]), tuple(last - c for c in correct)
    return replace(question, options=question.options[::-1]), tuple(last - c for c in correct)


def paper_exam(
    questions: int = 65,
    *,
    paper: str = "a4",
    stems: dict[int, str] | None = None,
    title: str = "Cardiology practice exam",
) -> PaperExamDocument:
    """Forms A (bank order) and B (questions reversed, options reversed); `stems` replaces
    the stems of some questions by 1-based number."""
    bank = [bank_question(index) for index in range(questions)]
    if stems:
        bank = [(replace(q, stem=stems.get(q.number, q.stem)), correct) for q, correct in bank]
    form_a = PrintedForm(
        code="A",
        questions=tuple(q for q, _ in bank),
        key=tuple(answer_string(q, correct) for q, correct in bank),
    )
    shuffled = [reversed_options(q, correct) for q, correct in reversed(bank)]
    renumbered = [(replace(q, number=n), c) for n, (q, c) in enumerate(shuffled, start=1)]
    form_b = PrintedForm(
        code="B",
        questions=tuple(q for q, _ in renumbered),
        key=tuple(answer_string(q, correct) for q, correct in renumbered),
    )
    return PaperExamDocument(
        exam_id=42,
        title=title,
        paper=paper,
        time_minutes=90,
        forms=(form_a, form_b),
        instructions=("Calculators are not allowed.",),
    )


def candidate(number: str = "12345678", name: str = "Ada Lovelace") -> SheetCandidate:
    return SheetCandidate(username=name.split()[0].lower(), display_name=name, number=number)


def pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(text: str) -> str:
    return " ".join(text.split())


# ---- booklet ----------------------------------------------------------------------------


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_booklet_prints_every_question_of_its_form_on_the_paper(paper: str) -> None:
    doc = paper_exam(paper=paper)
    pdf = booklet_pdf(doc, "B")

    reader = PdfReader(io.BytesIO(pdf))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == PAPER_SIZES[paper]
    texts = pages(pdf)
    text = flat(" ".join(texts))
    form = doc.form("B")
    for question in form.questions:
        assert flat(question.stem) in text
        for option in (*question.options, *question.prompts, *question.choices):
            assert option in text
    assert "Form B" in texts[0] and "Time allowed: 90 minutes" in texts[0]
    assert "Calculators are not allowed." in flat(texts[0])
    for number, page_text in enumerate(texts, start=1):
        assert f"Page {number} of {len(texts)}" in page_text
        assert "Form B" in page_text


def test_booklet_numbers_questions_and_letters_options_in_form_order() -> None:
    doc = paper_exam()
    text = flat(" ".join(pages(booklet_pdf(doc, "B"))))
    first = doc.form("B").questions[0]
    assert f"1. {first.stem}" in text
    assert f"A {first.options[0]}" in text
    assert f"B {first.options[1]}" in text
    positions = [text.index(f"{q.number}. {q.stem}") for q in doc.form("B").questions]
    assert positions == sorted(positions)


def test_booklet_explains_the_ordering_and_matching_formats() -> None:
    text = flat(" ".join(pages(booklet_pdf(paper_exam(), "A"))))
    assert "write their letters in that order" in text and "e.g. CADB" in text
    assert "for each numbered prompt write the letter of its match" in text.lower()
    assert "Choose 2." in text


def test_a_case_scenario_is_printed_once_before_its_questions() -> None:
    doc = paper_exam()
    text = flat(" ".join(pages(booklet_pdf(doc, "A"))))
    assert text.count("Case: Ward round") == 1
    assert "Questions 20 to 22 refer to this case." in text
    assert text.index("Case: Ward round") < text.index("20. Stem 20")


def test_booklet_holds_nothing_of_the_key() -> None:
    doc = paper_exam()
    booklet = " ".join(pages(booklet_pdf(doc, "A")))
    key = " ".join(pages(key_pdf(doc, "A")))
    assert KEY_MARKER in key and "Answer key" in key
    assert KEY_MARKER not in booklet
    assert "answer key" not in booklet.lower()
    assert "confidential" not in booklet.lower()


def test_a_question_is_kept_on_one_page() -> None:
    doc = paper_exam()
    for page_text in pages(booklet_pdf(doc, "A"))[1:]:
        numbers = [int(n) for n in re.findall(r"Option [vwxyz] of question (\d+)", page_text)]
        stems = {int(n) for n in re.findall(r"Stem (\d+):", page_text)}
        assert set(numbers) <= stems


def test_markup_in_data_prints_literally_and_runs_nothing() -> None:
    PWNED.unlink(missing_ok=True)
    doc = paper_exam(stems={1: f"Which is it? {MARKUP}", 2: EXPLOIT}, title=f"Exam {MARKUP}")
    booklet = flat(" ".join(pages(booklet_pdf(doc, "A"))))
    assert MARKUP in booklet
    assert EXPLOIT in booklet
    key = flat(" ".join(pages(key_pdf(doc, "A"))))
    assert MARKUP in key
    sheets = flat(" ".join(pages(answer_sheets_pdf(doc, "A", [candidate(name=EXPLOIT)]))))
    assert '<para><font color="[[[getattr(pow' in sheets  # the name, cut to fit its line
    assert not PWNED.exists()


def test_booklet_key_and_sheets_print_every_script() -> None:
    PWNED.unlink(missing_ok=True)
    arabic = f"{ARABIC} {ARABIC}"
    doc = paper_exam(
        12,
        stems={1: f"Which is it? {SCRIPTS}", 2: arabic, 3: f"{EXPLOIT} {SCRIPTS}"},
        title=f"Exam {SCRIPTS}",
    )
    booklet = booklet_pdf(doc, "A")
    text = assert_prints(booklet, f"Exam {SCRIPTS}", f"1. Which is it? {SCRIPTS}", arabic)
    assert_prints(booklet, f"3. {EXPLOIT} {SCRIPTS}")
    assert ARABIC_SHAPED in text
    assert sum(1 for line in text.splitlines() if "\ufe8d" <= line[-1:] <= "\ufefc") >= 2
    assert_faces(booklet)
    key = key_pdf(doc, "A")
    assert_prints(key, f"Answer key - Form A Exam {SCRIPTS}")
    assert_faces(key)
    sheets = answer_sheets_pdf(doc, "A", [candidate(name=f"Łukasz {SCRIPTS}")])
    assert_prints(sheets, f"Exam {SCRIPTS}", f"Łukasz {SCRIPTS} (łukasz)")
    assert_faces(sheets)
    assert not PWNED.exists()


def test_a_stem_in_every_script_wraps_within_the_margins() -> None:
    doc = paper_exam(3, stems={1: f"{SCRIPTS} " * 40})
    lines = [
        line
        for line in " ".join(pages(booklet_pdf(doc, "A"))).splitlines()
        if "Łukasz" in line or "\u4e2d" in line
    ]
    assert len(lines) > 10
    assert_prints(booklet_pdf(doc, "A"), f"{SCRIPTS} " * 40)


def test_very_long_texts_are_wrapped_capped_and_kept_on_the_page() -> None:
    word = "x" * 5000
    doc = paper_exam(stems={1: word, 2: "long " * 3000, 3: "caf\u00e9 \u2264 \u65e5\u672c"})
    pdf = booklet_pdf(doc, "A")
    texts = pages(pdf)
    joined = "".join("".join(text.split()) for text in texts)
    assert "x" * 1500 in joined
    assert "x" * 2001 not in joined
    long_lines = [
        line
        for text in texts
        for line in text.splitlines()
        if "x" * 20 in line or "long long" in line
    ]
    assert len(long_lines) > 20
    widest = max(stringWidth(line, "Helvetica", 10) for line in long_lines)
    assert widest <= 595 - 2 * 50  # wrapped within the margins
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) < 40


def test_layout_cache_measures_each_text_once_for_all_forms() -> None:
    doc = paper_exam()
    cache = LayoutCache()
    booklet_pdf(doc, "A", cache=cache)
    measured = len(cache)
    booklet_pdf(doc, "B", cache=cache)
    assert len(cache) == measured


def test_unknown_form_is_rejected_with_the_forms_there_are() -> None:
    with pytest.raises(ValueError, match=r"no form 'Z' \(forms: A, B\)"):
        booklet_pdf(paper_exam(5), "Z")


def test_render_booklets_in_processes_matches_rendering_here() -> None:
    doc = paper_exam(12)
    here = render_booklets(doc, ["A", "B"])
    assert render_booklets(doc, ["A", "B"], processes=2) == here
    assert here["A"] == booklet_pdf(doc, "A")


# ---- key --------------------------------------------------------------------------------


def test_key_lists_number_type_and_answer_of_each_question() -> None:
    doc = paper_exam()
    text = flat(" ".join(pages(key_pdf(doc, "B"))))
    form = doc.form("B")
    for question, answer in zip(form.questions, form.key, strict=True):
        kind = {"single": "single choice", "multiple": "multiple choice"}.get(
            question.type, question.type
        )
        row = rf"(?<!\d){question.number} {kind} {answer} {question.question_key}(?!\d)"
        assert re.search(row, text), row
    assert "Answer key - Form B" in text


# ---- answer sheets ----------------------------------------------------------------------


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_answer_sheets_print_one_page_per_candidate(paper: str) -> None:
    doc = paper_exam(paper=paper)
    people = [candidate("12345678", "Ada Lovelace"), candidate("7", "Alan Turing")]
    pdf = answer_sheets_pdf(doc, "A", people)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == PAPER_SIZES[paper]
    first, second = (page.extract_text() for page in reader.pages)
    assert "Ada Lovelace (ada)" in first and "Alan Turing (alan)" in second
    assert "Form A" in first


def test_answer_sheet_rows_follow_the_form() -> None:
    doc = paper_exam()
    layout = form_sheet(doc, "A")
    assert [row.number for row in layout.rows] == list(range(1, 66))
    for row, question in zip(layout.rows, doc.form("A").questions, strict=True):
        if question.type in ("single", "multiple"):
            assert [b.label for b in row.bubbles] == list("ABCDE"[: len(question.options)])
        elif question.type == "ordering":
            assert len(row.boxes) == len(question.options)
        else:
            assert len(row.boxes) == len(question.prompts)


def test_a_form_too_long_for_one_sheet_is_rejected() -> None:
    doc = paper_exam(200)
    with pytest.raises(ValueError, match="answer sheet is full at question"):
        sheet_layout("a4", doc.form("A").questions)


def test_candidate_numbers_are_checked() -> None:
    with pytest.raises(ValueError, match="at most 8 digits"):
        answer_sheets_pdf(paper_exam(5), "A", [candidate("123456789")])
    with pytest.raises(ValueError, match="at most 8 digits"):
        answer_sheets_pdf(paper_exam(5), "A", [candidate("12a")])
