"""The scan-review workflow: a scan's report split into finished sheets and a review list,
what the reviewer is shown of each unclear row, and their choices read back from the form."""

from __future__ import annotations

import msgspec
import pytest
from litestar.datastructures import FormMultiDict

from exam_service.paper.document import PaperExamDocument, PaperQuestion, PrintedForm
from exam_service.paper.review import ScanState, review_views, scan_state
from exam_service.paper.scan import AnswerReading, SheetReading
from exam_service.paper.schemas import ScanAnswer, ScanReport, ScanSheet

QUESTIONS = (
    PaperQuestion(number=1, question_key="q1", stem="One", type="single", options=tuple("abcd")),
    PaperQuestion(
        number=2, question_key="q2", stem="Two", type="multiple", options=tuple("abcde"), choose=2
    ),
    PaperQuestion(number=3, question_key="q3", stem="Three", type="ordering", options=tuple("abc")),
    PaperQuestion(
        number=4,
        question_key="q4",
        stem="Four",
        type="matching",
        prompts=("1", "2"),
        choices=tuple("xyz"),
    ),
)
DOC = PaperExamDocument(
    exam_id=7,
    title="Review",
    paper="a4",
    time_minutes=30,
    forms=(PrintedForm(code="A", questions=QUESTIONS, key=("B", "AC", "CAB", "AB")),),
)
CROP = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAADCAYAAAC56t6BAAAAAElFTkSuQmCC"  # a 2x3 PNG header


def answer(number: int, status: str, value: str = "") -> ScanAnswer:
    crop = CROP if status == "review" else None
    return ScanAnswer(number, value, 0.0 if status == "review" else 1.0, status, crop)


def reading(number: int, fills: tuple[float, ...]) -> AnswerReading:
    return AnswerReading(number, "", 0.0, "review", None, fills)


def sheet(page: int, status: str, answers: list[ScanAnswer]) -> ScanSheet:
    return ScanSheet(page, status, 7, "A", "00000012", "ana", answers, [])


def uploaded() -> tuple[ScanReport, list[SheetReading]]:
    graded = sheet(1, "graded", [answer(n, "ok", "A") for n in range(1, 5)])
    unclear = sheet(
        2,
        "review",
        [answer(1, "review"), answer(2, "ok", "AC"), answer(3, "review"), answer(4, "ok", "AB")],
    )
    readings = [
        SheetReading(1, 7, "A", "00000012"),
        SheetReading(
            2,
            7,
            "A",
            "00000012",
            answers=[
                reading(1, (0.9, 0.8, 0.05, 0.0)),  # two marks on a one-answer row
                reading(2, (0.9, 0.0, 0.9, 0.0, 0.0)),
                reading(3, (0.3, 0.0, 0.0)),  # ink in the write-in boxes
                reading(4, (0.9, 0.9)),
            ],
        ),
    ]
    report = ScanReport(sheets=[graded, unclear], graded=1, review=1, unreadable=0)
    return report, readings


def test_a_scan_splits_into_done_sheets_and_sheets_to_review() -> None:
    report, readings = uploaded()
    state = scan_state(report, readings, DOC)
    assert [s.page for s in state.done] == [1] and state.done[0].answers == []
    [pending] = state.pending
    assert pending.answers == ["", "AC", "", "AB"]
    assert [r.number for r in pending.reviews] == [1, 3]
    single, ordering = pending.reviews
    assert single.reading == (
        "A filled, B filled, C empty, D empty (two marks on a one-answer row)"
    )
    assert single.suggested == ""  # two marks: no guess
    assert "handwriting is not read" in ordering.reading
    assert single.crop_size == (2, 3)


def test_the_state_survives_the_hidden_form_field() -> None:
    report, readings = uploaded()
    state = scan_state(report, readings, DOC)
    again = msgspec.json.decode(msgspec.json.encode(state), type=ScanState)
    assert again == state


def test_the_reviewers_choices_become_paper_answers() -> None:
    report, readings = uploaded()
    state = scan_state(report, readings, DOC)
    form = FormMultiDict([("p2-q1", "B"), ("p2-q3", " c a b "), ("p2-candidate", " ana ")])
    [view] = review_views(state, DOC, form)
    assert view.sheet.candidate == "ana"
    assert [(e.question.number, e.answer, e.error) for e in view.entries] == [
        (1, "B", ""),
        (3, "CAB", ""),
    ]


def test_a_single_answer_row_left_unsettled_says_what_to_do() -> None:
    report, readings = uploaded()
    state = scan_state(report, readings, DOC)
    [view] = review_views(state, DOC, FormMultiDict([("p2-q3", "CAB")]))
    assert view.entries[0].error == "Choose the answer you read on the sheet, or 'No answer'."


def test_before_the_first_post_the_form_offers_what_was_clearly_marked() -> None:
    report, readings = uploaded()
    state = scan_state(report, readings, DOC)
    state.pending[0].reviews[0].suggested = "A"
    [view] = review_views(state, DOC, None)
    assert view.entries[0].chosen == ["A"] and view.entries[0].answer == "A"


def test_a_tampered_crop_is_dropped_and_an_unknown_question_refused() -> None:
    report, readings = uploaded()
    state = scan_state(report, readings, DOC)
    state.pending[0].reviews[0].crop = '"><script>alert(1)</script>'
    [view] = review_views(state, DOC, None)
    assert view.entries[0].review.crop == ""
    state.pending[0].reviews[0].number = 9
    with pytest.raises(IndexError):
        review_views(state, DOC, None)
