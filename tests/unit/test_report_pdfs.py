"""The report PDFs: what a reader relies on is in the extracted text, on the right paper,
and text from the bank prints literally instead of being run as ReportLab markup."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from exam_service.exams.schemas import Choice, ObjectiveScore, ResultView, ReviewItem
from exam_service.grading.scoring import Scale
from exam_service.reports.pdf import candidate_report_pdf, cohort_report_pdf, score_report_pdf
from exam_service.reports.schemas import (
    Bin,
    CandidateAttempt,
    CandidateReport,
    CohortReport,
    ItemReport,
    ItemStats,
    NodeMastery,
    ObjectiveTrend,
    OptionShare,
    ScoreReport,
)
from tests.unit.pdf_checks import SCRIPTS, assert_faces, assert_prints

SCALE = Scale(min=100, max=1000, pass_=720, raw_cut=70.0)
WHEN = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
MARKUP = '<b>bold</b> <font color="red">x</font> <a href="javascript:alert(1)">y</a> &amp; <para>'
PWNED = Path("/tmp/pwned")
EXPLOIT = (
    "<para><font color=\"[[[getattr(pow, Word('__globals__'))['os'].system('touch /tmp/pwned')"
    ']]]">exploit</font></para>'
)
PAPER_SIZES = {"a4": (595, 842), "letter": (612, 792)}
ARABIC = (
    "هذا شرح طويل عن تدريب النماذج في الحوسبة السحابية ويجب أن يلتف على عدة أسطر "
    "بالترتيب الصحيح من اليمين إلى اليسار"
)
"""Wraps over lines in a report's paragraphs and table cells."""


# ---- factories --------------------------------------------------------------------------


def objective(
    code: str, title: str, level: str = "objective", percent: float = 80.0
) -> ObjectiveScore:
    label = "meets competencies" if percent >= 70 else "needs improvement"
    return ObjectiveScore(
        code=code,
        title=title,
        level=level,
        points=percent / 10,
        possible=10,
        percent=percent,
        ci_low=max(0.0, percent - 20),
        ci_high=min(100.0, percent + 15),
        label=label,
    )


def review_item(position: int, points: float, **overrides: object) -> ReviewItem:
    fields: dict[str, object] = {
        "position": position,
        "question_id": f"q-{position}",
        "type": "single",
        "scored": True,
        "stem": f"Which service stores objects durably? (question {position})",
        "case": None,
        "options": [
            Choice("A", "Block storage volumes"),
            Choice("B", "Object storage buckets"),
            Choice("C", "An in-memory cache"),
        ],
        "prompts": [],
        "choices": [],
        "answer": ["A"],
        "key": ["B"],
        "points": points,
        "rationales": {"A": "Volumes attach to one machine.", "B": "Buckets are durable."},
        "explanation": f"Object storage keeps eleven nines of durability (question {position}).",
        "objectives": ["1.1"],
        "source": "Guide 2.3 Storage",
    }
    fields.update(overrides)
    return ReviewItem(**fields)  # type: ignore[arg-type]


def result(
    *,
    passed: bool = False,
    objectives: list[ObjectiveScore] | None = None,
    review: list[ReviewItem] | None = None,
    review_note: str = "the answers are shown because the attempt is closed",
) -> ResultView:
    nodes = objectives or [
        objective("exam", "Cloud Practitioner", "exam", 64.0),
        objective("1", "Cloud concepts", "domain", 72.0),
        objective("1.1", "Storage services", "objective", 45.0),
        objective("1.2", "Compute services", "objective", 90.0),
        objective("2", "Security", "domain", 55.0),
        objective("2.1", "Shared responsibility", "objective", 55.0),
    ]
    return ResultView(
        attempt_id=4242,
        status="submitted",
        submitted_at=WHEN,
        raw_score=32.0 if not passed else 45.0,
        raw_possible=50,
        raw_percent=64.0 if not passed else 90.0,
        scaled_score=683 if not passed else 910,
        passed=passed,
        scale=SCALE,
        objectives=nodes,
        review_available=review is not None,
        review_note=review_note,
        review=review,
    )


def score_report(view: ResultView, study: dict[str, list[str]] | None = None) -> ScoreReport:
    return ScoreReport(
        candidate="Ada Lovelace",
        blueprint_name="Cloud Practitioner Practice Exam",
        result=view,
        study=study
        if study is not None
        else {
            "1.1": ["Guide 2.3 Storage", "Guide 2.4 Object lifecycle"],
            "2.1": ["Guide 5.1 The shared responsibility model"],
        },
        generated_at=WHEN,
    )


def mastery(code: str, title: str, mean: float, level: str = "objective") -> NodeMastery:
    return NodeMastery(
        code=code,
        title=title,
        level=level,
        attempts=40,
        mean_percent=mean,
        ci_low=mean - 8,
        ci_high=min(100.0, mean + 8),
        meeting_share=mean / 120,
    )


def cohort_report(**overrides: object) -> CohortReport:
    fields: dict[str, object] = {
        "cohort_id": 7,
        "cohort_name": "Spring evening class",
        "blueprint_id": "clf-practice",
        "blueprint_name": "Cloud Practitioner Practice Exam",
        "attempts_counted": "last",
        "candidates": 38,
        "attempts": 40,
        "scale": SCALE,
        "mean": 731.5,
        "median": 740.0,
        "sd": 88.2,
        "pass_rate": 0.575,
        "histogram": [
            Bin(100 + 90 * i, 190 + 90 * i, c)
            for i, c in enumerate([0, 0, 1, 2, 3, 6, 9, 10, 6, 3])
        ],
        "objectives": [
            mastery("1", "Cloud concepts", 74.0, "domain"),
            mastery("1.1", "Storage services", 61.0),
            mastery("1.2", "Compute services", 83.0),
        ],
        "reliability": 0.81,
        "reliability_method": "KR-20",
        "sem_raw": 2.46,
        "mean_raw": 35.1,
        "sd_raw": 5.6,
        "items_per_attempt": 50.0,
    }
    fields.update(overrides)
    return CohortReport(**fields)  # type: ignore[arg-type]


def item_stats(index: int, flags: list[str] | None = None, stem: str | None = None) -> ItemStats:
    return ItemStats(
        question_id=f"item-{index:03d}",
        revision_id=index,
        revision=1,
        type="single",
        stem=stem or f"Stem of item {index}: which option is the most cost-effective choice?",
        objective="1.1",
        responses=40,
        scored_responses=40,
        facility=0.62,
        point_biserial=0.31 if index % 5 else None,
        discrimination_index=0.4,
        options=[OptionShare("A", "An option", True, 0.62, 0.9, 0.3)],
        flags=flags or [],
    )


def item_report(items: list[ItemStats]) -> ItemReport:
    return ItemReport(
        blueprint_id="clf-practice", cohort_id=7, attempts=40, group_share=0.27, items=items
    )


def candidate_report(**overrides: object) -> CandidateReport:
    fields: dict[str, object] = {
        "user_id": 3,
        "username": "ada",
        "display_name": "Ada Lovelace",
        "attempts": [
            CandidateAttempt(11, "clf-practice", "Cloud Practitioner", WHEN, 58.0, 610, False),
            CandidateAttempt(12, "clf-practice", "Cloud Practitioner", WHEN, 78.0, 790, True),
        ],
        "objectives": [
            ObjectiveTrend(
                "2.1",
                "Shared responsibility",
                "objective",
                [40.0, 55.0],
                55.0,
                47.5,
                "needs improvement",
                ["Guide 5.1 The shared responsibility model"],
            ),
            ObjectiveTrend(
                "1.1",
                "Storage services",
                "objective",
                [None, 90.0],
                90.0,
                90.0,
                "meets competencies",
                ["Guide 2.3 Storage"],
            ),
        ],
    }
    fields.update(overrides)
    return CandidateReport(**fields)  # type: ignore[arg-type]


# ---- helpers ----------------------------------------------------------------------------


def pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def text_of(data: bytes) -> str:
    return "\n".join(pages(data))


def body_text(data: bytes) -> str:
    """The text without running headers and footers, so text split over pages joins up."""
    running = re.compile(r"^(Page \d+ of \d+|(Score|Cohort|Candidate) report - .*)$")
    lines = "\n".join(pages(data)).splitlines()
    return "\n".join(line for line in lines if not running.match(line))


def squashed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def assert_footers(data: bytes) -> None:
    texts = pages(data)
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {len(texts)}" in text


# ---- score report -----------------------------------------------------------------------


def test_score_report_shows_score_verdict_objectives_and_focus() -> None:
    data = score_report_pdf(score_report(result(review=None)))
    text = text_of(data)

    assert data.startswith(b"%PDF")
    assert "Score report" in text
    assert "Cloud Practitioner Practice Exam" in text
    assert "Ada Lovelace" in text
    assert "683" in text
    assert "FAIL" in text and "PASS" not in text
    assert "720 to pass on a scale of 100-1000" in text
    assert "Raw score 32 of 50 (64.0%)" in text
    for title in ("Cloud concepts", "Storage services", "Compute services", "Security"):
        assert title in text
    assert "needs improvement" in text and "meets competencies" in text
    focus = text.split("Where to focus", 1)[1].split("Questions you missed", 1)[0]
    assert "Storage services" in focus and "Shared responsibility" in focus
    assert "Compute services" not in focus  # it meets the cut
    assert focus.index("Storage services") < focus.index("Shared responsibility")  # weakest first
    for section in ("Guide 2.3 Storage", "Guide 2.4 Object lifecycle", "Guide 5.1"):
        assert section in focus
    assert PdfReader(io.BytesIO(data)).metadata.title == (  # type: ignore[union-attr]
        "Score report - Cloud Practitioner Practice Exam"
    )
    assert_footers(data)


def test_score_report_says_pass_when_passed() -> None:
    text = text_of(score_report_pdf(score_report(result(passed=True, review=None))))

    assert "PASS" in text and "FAIL" not in text
    assert "910" in text


def test_score_report_lists_missed_questions_with_answers_keys_and_explanations() -> None:
    review = [
        review_item(1, 0.0, case="Acme runs a photo site with a million uploads a day."),
        review_item(2, 1.0),
        review_item(
            3,
            0.0,
            type="matching",
            options=[],
            prompts=[Choice("1", "Archive for years"), Choice("2", "Serve hot files")],
            choices=[Choice("A", "Cold tier"), Choice("B", "Standard tier")],
            answer={"1": "B", "2": "A"},
            key={"1": "A", "2": "B"},
            rationales={"1": "Archives belong in the cold tier."},
        ),
        review_item(4, 0.0, scored=False),
    ]
    text = text_of(score_report_pdf(score_report(result(review=review))))
    missed = squashed(text.split("Questions you missed", 1)[1])

    assert squashed("Which service stores objects durably? (question 1)") in missed
    assert squashed("eleven nines of durability (question 1)") in missed
    assert squashed("Acme runs a photo site") in missed
    assert squashed("A. Block storage volumes") in missed  # the candidate's answer
    assert squashed("B. Object storage buckets") in missed  # the key
    assert squashed("1. Archive for years matched to A. Cold tier") in missed
    assert squashed("Archives belong in the cold tier.") in missed
    assert "(question2)" not in missed  # full points
    assert "(question4)" not in missed  # unscored
    assert squashed("2 of 3 scored questions") in missed


def test_score_report_without_review_shows_the_note_and_no_keys() -> None:
    note = "the answers are shown after the exam closes at 2025-03-20 18:00 UTC"
    data = score_report_pdf(score_report(result(review=None, review_note=note)))
    text = squashed(body_text(data))

    assert squashed(note) in text
    for secret in ("Whichservice", "elevennines", "Objectstoragebuckets", "Correctanswer"):
        assert secret not in text


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_every_report_uses_the_paper_asked_for(paper: str) -> None:
    width, height = PAPER_SIZES[paper]
    for data in (
        score_report_pdf(score_report(result(review=[review_item(1, 0.0)])), paper=paper),
        cohort_report_pdf(cohort_report(), item_report([item_stats(1)]), paper=paper),
        candidate_report_pdf(candidate_report(), paper=paper),
    ):
        box = PdfReader(io.BytesIO(data)).pages[0].mediabox
        assert (round(float(box.width)), round(float(box.height))) == (width, height)


def test_unknown_paper_is_rejected() -> None:
    with pytest.raises(ValueError, match="'a4' or 'letter'"):
        score_report_pdf(score_report(result()), paper="a3")


# ---- markup in data prints literally --------------------------------------------------


def test_score_report_prints_every_script() -> None:
    PWNED.unlink(missing_ok=True)
    item = review_item(
        1,
        0.0,
        stem=f"Stem {SCRIPTS} {EXPLOIT}",
        case=ARABIC,
        options=[Choice("A", f"Option {SCRIPTS}"), Choice("B", ARABIC)],
        rationales={"B": f"{ARABIC} {ARABIC}"},
        explanation=f"{ARABIC} {ARABIC}",
        source=f"Guide {SCRIPTS}",
    )
    nodes = [objective("exam", f"Exam {SCRIPTS}", "exam", 64.0), objective("1.1", ARABIC)]
    view = result(review=[item], objectives=nodes)
    report = ScoreReport(
        candidate=f"Łukasz {SCRIPTS}",
        blueprint_name=f"Blueprint {SCRIPTS}",
        result=view,
        study={"1.1": [f"Section {SCRIPTS}"]},
        generated_at=WHEN,
    )
    data = score_report_pdf(report)
    assert_prints(
        data,
        f"Blueprint {SCRIPTS}",
        f"Candidate Łukasz {SCRIPTS}",
        f"Stem {SCRIPTS} {EXPLOIT}",
        f"Case: {ARABIC}",
        f"A. Option {SCRIPTS}",
        f"B. {ARABIC} {ARABIC} {ARABIC}",  # the option, then its rationale
        f"Explanation: {ARABIC} {ARABIC}",
        f"Guide {SCRIPTS}",
    )
    assert_faces(data)
    assert not PWNED.exists()


def test_cohort_and_candidate_reports_print_every_script() -> None:
    cohort = cohort_report(
        cohort_name=f"Cohort {SCRIPTS}",
        objectives=[mastery("1.1", f"Storage {SCRIPTS}", 61.0)],
    )
    data = cohort_report_pdf(cohort, item_report([item_stats(1, stem=ARABIC)]))
    assert_prints(data, f"Cohort {SCRIPTS}", f"1.1 Storage {SCRIPTS}", ARABIC[:60])
    assert_faces(data)
    candidate = candidate_report(
        display_name=f"Łukasz {SCRIPTS}",
        objectives=[
            ObjectiveTrend(
                "1.1", ARABIC, "objective", [40.0], 40.0, 40.0, "needs improvement", [ARABIC]
            )
        ],
    )
    data = candidate_report_pdf(candidate)
    assert_prints(data, f"Łukasz {SCRIPTS} (ada)", f"1.1 {ARABIC}", f"\u2022 {ARABIC}")
    assert_faces(data)


def test_markup_in_question_text_prints_literally_and_never_runs() -> None:
    PWNED.unlink(missing_ok=True)
    item = review_item(
        1,
        0.0,
        stem=f"Stem {MARKUP} {EXPLOIT}",
        options=[Choice("A", f"Option {MARKUP}"), Choice("B", EXPLOIT)],
        answer=["A"],
        key=["B"],
        explanation=f"Explanation {EXPLOIT} {MARKUP}",
    )
    view = result(review=[item], objectives=[objective("1.1", f"Title {MARKUP}", percent=40)])
    text = squashed(body_text(score_report_pdf(score_report(view, {"1.1": [EXPLOIT]}))))

    assert text.count(squashed(MARKUP)) >= 3  # stem, option, explanation (and focus title)
    assert text.count(squashed(EXPLOIT)) >= 4  # stem, option, explanation, study section
    assert squashed(f"Stem {MARKUP} {EXPLOIT}") in text
    assert squashed(f"A. Option {MARKUP}") in text
    assert squashed(f"Explanation {EXPLOIT} {MARKUP}") in text
    assert not PWNED.exists()


def test_markup_in_cohort_and_candidate_data_prints_literally() -> None:
    PWNED.unlink(missing_ok=True)
    cohort = cohort_report(cohort_name=f"Cohort {MARKUP}", reliability_method=EXPLOIT)
    items = item_report([item_stats(1, flags=[EXPLOIT], stem=MARKUP)])
    candidate = candidate_report(
        display_name=f"Name {MARKUP}",
        objectives=[
            ObjectiveTrend(
                "1.1", EXPLOIT, "objective", [50.0], 50.0, 50.0, "needs improvement", [MARKUP]
            )
        ],
    )
    cohort_text = squashed(body_text(cohort_report_pdf(cohort, items)))
    candidate_text = squashed(body_text(candidate_report_pdf(candidate)))

    assert squashed(f"Cohort {MARKUP}") in cohort_text
    assert cohort_text.count(squashed(EXPLOIT)) >= 2  # reliability method and the flag
    assert squashed(MARKUP[:60]) in cohort_text  # the stem, shortened in the item table
    assert squashed(f"Name {MARKUP}") in candidate_text
    assert squashed(EXPLOIT) in candidate_text and squashed(MARKUP) in candidate_text
    assert not PWNED.exists()


# ---- long and large inputs ------------------------------------------------------------


def test_huge_unbroken_word_and_long_text_wrap_and_are_capped() -> None:
    word = "x" * 5000
    item = review_item(
        1,
        0.0,
        stem=word,
        explanation="why " * 3000,
        case=word,
        options=[Choice("A", word), Choice("B", "ok")],
    )
    view = result(review=[item], objectives=[objective("1.1", word, percent=30)])
    data = score_report_pdf(score_report(view, {"1.1": [word]}))
    text = squashed(body_text(data))

    assert "x" * 1900 in text  # wrapped, not lost
    assert "x" * 2001 not in text  # capped at 2,000 characters
    assert "why" * 490 in text and "why" * 501 not in text  # 2,000 characters
    for page in PdfReader(io.BytesIO(data)).pages:
        assert "x" * 200 not in page.extract_text()  # split into lines that fit the page
    assert_footers(data)


def test_twenty_five_objectives_split_across_pages() -> None:
    nodes = [objective("exam", "Whole exam", "exam", 66.0)] + [
        objective(
            f"{d}.{o}",
            f"Objective title {d}.{o}",
            "objective" if o else "domain",
            30.0 + 2.5 * (5 * d + o),
        )
        for d in range(1, 6)
        for o in range(0, 5)
    ][:24]
    data = score_report_pdf(score_report(result(objectives=nodes, review=None)))
    text = text_of(data)

    assert len(pages(data)) >= 2
    for node in nodes:
        assert node.title in text
    assert_footers(data)


def test_cohort_report_summary_histogram_mastery_and_flagged_items() -> None:
    items = [item_stats(i) for i in range(1, 90)]
    items[4] = item_stats(5, flags=["too hard", "negative discrimination"])
    data = cohort_report_pdf(cohort_report(), item_report(items))
    text = text_of(data)
    flat = squashed(text)

    for fact in (
        "Spring evening class",
        "last attempt per candidate",
        "731.5",
        "740.0",
        "88.2",
        "57.5%",
        "KR-20 0.81",
        "2.46 raw points",
    ):
        assert fact in text
    assert "Scaled scores" in text and "pass 720" in text
    for title in ("Cloud concepts", "Storage services", "Compute services"):
        assert title in text
    assert "51% meeting" in text  # 61 / 120
    assert squashed("too hard, negative discrimination") in flat
    assert "item-089" in text and "n/a" in text
    assert len(pages(data)) >= 3
    assert all("Question" in page for page in pages(data)[-2:])  # the header row repeats
    assert PdfReader(io.BytesIO(data)).metadata.title.startswith("Cohort report")  # type: ignore[union-attr]
    assert_footers(data)


def test_cohort_report_with_no_attempts_says_n_a() -> None:
    empty = cohort_report(
        mean=None,
        median=None,
        sd=None,
        pass_rate=None,
        reliability=None,
        sem_raw=None,
        mean_raw=None,
        sd_raw=None,
        histogram=[],
        objectives=[],
    )
    text = text_of(cohort_report_pdf(empty, item_report([])))

    assert text.count("n/a") >= 7
    assert "No submitted attempts to chart." in text


def test_candidate_report_lists_attempts_and_objectives_weakest_first() -> None:
    data = candidate_report_pdf(candidate_report())
    text = text_of(data)

    assert "Candidate report" in text and "Ada Lovelace" in text
    assert "2025-03-14 09:30 UTC" in text
    assert "610" in text and "790" in text and "PASS" in text and "FAIL" in text
    assert "2 attempts, 1 passed. Best scaled score 790; latest 790 (PASS)." in text
    assert text.index("Shared responsibility") < text.index("Storage services")
    assert "40 55" in text and "- 90" in text  # the trend, oldest first
    assert "needsimprovement" in squashed(text)
    assert squashed("Guide 5.1 The shared responsibility model") in squashed(text)
    assert_footers(data)
