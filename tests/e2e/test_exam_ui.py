"""A candidate takes exams in a real browser: every question type, flags, saving across a
reload, the review screen, submit, the result page; the clock running out; and question
text that looks like HTML shown as text, never run."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Page, expect

from tests.e2e.conftest import FIXTURE_BANK, Server, every_type_bank, shoot

pytestmark = pytest.mark.e2e

SCRIPT = "<script>window.pwned=1</script>"
WORDS = {"one": 1, "two": 2, "three": 3}


def wait_saved(page: Page) -> None:
    expect(page.locator("#save-status")).to_have_attribute("data-state", "saved")


def start(page: Page, name: str) -> None:
    page.get_by_role("button", name=f"Start {name}").click()
    page.wait_for_url(re.compile(r"/attempts/\d+(#q\d+)?$"))
    expect(page.locator("#q-heading")).to_contain_text("Question 1 of")


def go_to(page: Page, position: int) -> None:
    page.locator(f'#nav-list button[data-position="{position}"]').click()
    expect(page.locator("#q-heading")).to_contain_text(f"Question {position} of")


def question_type(page: Page) -> str:
    question = page.locator("#question")
    if question.locator("input[type=radio]").count():
        return "single"
    if question.locator("fieldset input[type=checkbox]").count():
        return "multiple"
    if question.locator("ol.ordering").count():
        return "ordering"
    if question.locator(".numeric input").count():
        return "numeric"
    return "matching"


def answer(page: Page, kind: str) -> Any:
    """Answer the question on screen the way a keyboard user would; return what to expect."""
    question = page.locator("#question")
    if kind == "single":
        question.locator("label.option").nth(1).click()
        return question.locator("input[type=radio]").nth(1).get_attribute("value")
    if kind == "multiple":
        words = question.locator("#instruction").inner_text().split()
        count = WORDS[words[1]]
        boxes = question.locator("fieldset input[type=checkbox]")
        for index in range(count):
            boxes.nth(index).focus()
            page.keyboard.press("Space")
        return [boxes.nth(i).get_attribute("value") for i in range(count)]
    if kind == "ordering":
        before = question.locator(".order-row .letter").all_inner_texts()
        first = before[0].rstrip(".")
        question.get_by_role("button", name=f"Move {first} down").focus()
        page.keyboard.press("Enter")
        after = question.locator(".order-row .letter").all_inner_texts()
        assert after == [before[1], before[0], *before[2:]]
        # focus follows the moved item, so pressing again moves it further
        focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
        assert focused == f"Move {first} down"
        page.keyboard.press("Enter")
        after = question.locator(".order-row .letter").all_inner_texts()
        assert after[2] == before[0]
        return after
    if kind == "numeric":
        box = question.get_by_label("Your answer")
        box.focus()
        page.keyboard.type("1,200")
        page.keyboard.press("Tab")  # leaving the box saves what was typed
        expect(question.locator(".numeric p")).to_have_text(re.compile(r"^Saved as 1200\b"))
        return "1200"
    selects = question.locator("select")
    chosen = []
    for index in range(selects.count()):
        value = selects.nth(index).locator("option").nth(index + 1).get_attribute("value")
        selects.nth(index).select_option(value)
        chosen.append(value)
    return chosen


def shown_answer(page: Page, kind: str) -> Any:
    question = page.locator("#question")
    if kind == "single":
        return question.locator("input[type=radio]:checked").get_attribute("value")
    if kind == "multiple":
        checked = question.locator("fieldset input[type=checkbox]:checked")
        return [checked.nth(i).get_attribute("value") for i in range(checked.count())]
    if kind == "ordering":
        return question.locator(".order-row .letter").all_inner_texts()
    if kind == "numeric":
        return question.get_by_label("Your answer").input_value()
    selects = question.locator("select")
    return [selects.nth(i).input_value() for i in range(selects.count())]


def submit_from_review(page: Page) -> None:
    page.get_by_role("button", name="Review and submit").click()
    expect(page.locator("#review")).to_be_visible()
    page.get_by_role("button", name="Submit exam").click()
    expect(page.locator("#confirm")).to_be_visible()
    page.get_by_role("button", name="Submit now").click()
    page.wait_for_url(re.compile(r"/attempts/\d+/result$"))


def test_take_the_starter_mock(serve: Any, page: Page, tmp_path: Path) -> None:
    server: Server = serve(every_type_bank(tmp_path / "bank", numeric=True))
    server.sign_in(page)
    start(page, "Starter mock exam")
    total = 8
    answers: dict[int, tuple[str, Any]] = {}
    skipped = None
    for position in range(1, total + 1):
        go_to(page, position)
        kind = question_type(page)
        if kind == "single" and skipped is None and any(k == "single" for k, _ in answers.values()):
            skipped = position  # leave one unanswered for the review screen
            continue
        answers[position] = (kind, answer(page, kind))
        wait_saved(page)
    kinds = {kind for kind, _ in answers.values()}
    assert kinds == {"single", "multiple", "ordering", "matching", "numeric"}
    assert skipped is not None

    flagged = next(iter(answers))
    go_to(page, flagged)
    page.get_by_label("Flag for review").check()
    wait_saved(page)
    nav = page.locator(f'#nav-list button[data-position="{flagged}"]')
    expect(nav).to_have_attribute("aria-label", f"Question {flagged}, answered, flagged")
    shoot(page, "exam")

    page.reload()
    expect(page.locator("#q-heading")).to_contain_text(f"Question {flagged} of {total}")
    expect(page.get_by_label("Flag for review")).to_be_checked()
    for position, (kind, expected) in answers.items():
        go_to(page, position)
        assert shown_answer(page, kind) == expected, f"question {position} ({kind})"
    expect(page.locator("#nav-list button.answered")).to_have_count(total - 1)
    expect(page.locator(f'#nav-list button[data-position="{skipped}"]')).to_have_attribute(
        "aria-label", f"Question {skipped}, unanswered"
    )

    page.get_by_role("button", name="Review and submit").click()
    expect(page.locator("#review-unanswered")).to_have_text(f"Question {skipped}")
    expect(page.locator("#review-flagged")).to_have_text(f"Question {flagged}")
    shoot(page, "review")
    page.get_by_role("button", name="Submit exam").click()
    expect(page.locator("#confirm-text")).to_contain_text("1 question is unanswered")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#confirm")).to_be_hidden()
    page.get_by_role("button", name="Submit exam").click()
    page.get_by_role("button", name="Submit now").click()
    page.wait_for_url(re.compile(r"/attempts/\d+/result$"))

    expect(page.locator("#scaled-score")).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator("#verdict")).to_have_text(re.compile("^(Pass|Fail)$"))
    assert page.locator("#bars svg.bar-svg").count() >= 3
    link = page.get_by_role("link", name="Download the score report (PDF)")
    assert re.search(r"/api/v1/attempts/\d+/report\.pdf$", link.get_attribute("href") or "")
    expect(page.locator("article.review-item")).to_have_count(total)
    shoot(page, "result")

    page.goto(f"{server.url}/")
    expect(page.get_by_role("link", name=re.compile("^Result"))).to_have_count(1)
    shoot(page, "dashboard")


def test_ordering_by_dragging(serve: Any, page: Page, tmp_path: Path) -> None:
    """An ordering item reordered with the mouse: the first row dropped on the third."""
    server: Server = serve(every_type_bank(tmp_path / "bank"))
    server.sign_in(page)
    start(page, "Starter mock exam")
    attempt = re.search(r"/attempts/(\d+)", page.url)
    assert attempt is not None
    position = 1
    while question_type(page) != "ordering":
        position += 1
        go_to(page, position)
    rows = page.locator("#question .order-row")
    before = [rows.nth(i).get_attribute("data-id") for i in range(rows.count())]
    assert len(before) >= 3
    rows.nth(0).drag_to(rows.nth(2))
    expected = [before[1], before[2], before[0], *before[3:]]
    expect(page.locator("#question .order-row .letter")).to_have_text([f"{i}." for i in expected])
    wait_saved(page)
    saved = page.request.get(f"{server.url}/api/v1/attempts/{attempt[1]}").json()
    assert saved["items"][position - 1]["answer"] == expected
    page.reload()
    go_to(page, position)
    expect(page.locator("#question .order-row .letter")).to_have_text([f"{i}." for i in expected])
    expect(page.locator(f'#nav-list button[data-position="{position}"]')).to_have_attribute(
        "aria-label", f"Question {position}, answered"
    )


def quick_bank(target: Path) -> Path:
    shutil.copytree(FIXTURE_BANK, target)
    blueprint = {
        "id": "quick-mock",
        "name": "Quick mock",
        "mode": "exam",
        "question_count": 2,
        "time_limit_seconds": 5,
        "grace_seconds": 0,
        "objective_weights": {"D2.2": 1},
        "scale": {"min": 100, "max": 1000, "pass": 720},
        "review_policy": "after_submit",
        "self_study": True,
    }
    (target / "blueprints" / "quick.yaml").write_text(yaml.safe_dump(blueprint), "utf-8")
    return target


def test_time_runs_out_and_the_page_submits(serve: Any, page: Page, tmp_path: Path) -> None:
    server: Server = serve(quick_bank(tmp_path / "bank"))
    server.sign_in(page)
    start(page, "Quick mock")
    # opened with the 10, 5 and 1 minute moments long past: one warning, said once
    expect(page.locator("#time-alert")).to_have_text("Under 1 minute left.")
    expect(page.locator("#time-announce")).to_have_text("Under 1 minute left.")
    kind = question_type(page)
    answer(page, kind)
    wait_saved(page)
    page.wait_for_url(re.compile(r"/attempts/\d+/result$"), timeout=20_000)
    expect(page.locator("#scaled-score")).to_be_visible()
    expect(page.locator("article.review-item")).to_have_count(2)


def scripted_bank(target: Path) -> Path:
    shutil.copytree(FIXTURE_BANK, target)
    path = target / "questions" / "starter.yaml"
    bank = yaml.safe_load(path.read_text(encoding="utf-8"))
    for question in bank["questions"]:
        question["stem"] = f"{SCRIPT} {question['stem'].strip()}"
        for option in question.get("options", []):
            option["text"] = f"<b>{option['text']}</b>"
    path.write_text(yaml.safe_dump(bank, sort_keys=False), encoding="utf-8")
    return target


def test_markup_in_questions_is_shown_not_run(serve: Any, page: Page, tmp_path: Path) -> None:
    server: Server = serve(scripted_bank(tmp_path / "bank"))
    server.sign_in(page)
    start(page, "Starter mock exam")
    expect(page.locator("#stem")).to_contain_text(SCRIPT)
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.locator("#question b").count() == 0
    submit_from_review(page)
    expect(page.locator("article.review-item").first).to_contain_text(SCRIPT)
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.locator("article.review-item b").count() == 0

    page.get_by_role("button", name="Sign out").click()
    server.sign_in(page, "instructor")
    page.goto(f"{server.url}/bank/questions/churn-algorithm")
    expect(page.locator(".revision .stem")).to_contain_text(SCRIPT)
    assert page.evaluate("typeof window.pwned") == "undefined"


def practice_bank(target: Path) -> Path:
    shutil.copytree(FIXTURE_BANK, target)
    blueprint = {
        "id": "practice-set",
        "name": "Practice set",
        "mode": "practice",
        "question_count": 2,
        "objective_weights": {"D2.2": 1},
        "scale": {"min": 0, "max": 100, "pass": 70},
        "self_study": True,
    }
    (target / "blueprints" / "practice.yaml").write_text(yaml.safe_dump(blueprint), "utf-8")
    return target


def test_practice_check_answer(serve: Any, page: Page, tmp_path: Path) -> None:
    server: Server = serve(practice_bank(tmp_path / "bank"))
    server.sign_in(page)
    start(page, "Practice set")
    expect(page.locator("#timer-box")).to_be_hidden()
    check = page.get_by_role("button", name="Check answer")
    expect(check).to_be_disabled()
    # the network drops: the change is kept, shown as not saved, and retried
    page.context.set_offline(True)
    answer(page, question_type(page))
    expect(page.locator("#save-status")).to_have_attribute("data-state", "retrying")
    page.context.set_offline(False)
    wait_saved(page)
    check.click()
    feedback = page.locator("#feedback")
    expect(feedback).to_contain_text(re.compile(r"^(Correct|Not correct)\."))
    expect(feedback.locator("p.text")).not_to_be_empty()
    assert page.locator("#question input:enabled, #question select:enabled").count() <= 1  # flag
    expect(page.get_by_role("button", name="Check answer")).to_be_disabled()


def test_instructor_reads_the_cohort_report(
    serve: Any, page: Page, tmp_path: Path, browser: Any
) -> None:
    """The candidate sits the starter mock; the instructor finds the cohort, downloads the
    cohort report as CSV and opens the item analysis."""
    server: Server = serve(FIXTURE_BANK)
    server.sign_in(page)
    start(page, "Starter mock exam")
    go_to(page, 1)
    answer(page, question_type(page))
    wait_saved(page)
    submit_from_review(page)

    teacher = browser.new_page()
    try:
        server.sign_in(teacher, "instructor")
        teacher.goto(f"{server.url}/cohorts")
        teacher.locator("main a", has_text="cohort").first.click()
        expect(teacher.locator("h1")).to_contain_text("cohort")
        shoot(teacher, "cohort")
        with teacher.expect_download() as download:
            teacher.get_by_role("link", name="CSV report for Starter mock exam").click()
        text = Path(download.value.path()).read_text(encoding="utf-8")
        lines = text.splitlines()
        assert lines[0] == "code,title,level,attempts,mean_percent,ci_low,ci_high,meeting_share"
        assert any(line.startswith("D2,ML Model Development,domain,1,") for line in lines)
        teacher.get_by_role("link", name="Item analysis for Starter mock exam").click()
        expect(teacher.locator("table")).to_contain_text("churn")
        shoot(teacher, "items")
    finally:
        teacher.close()
