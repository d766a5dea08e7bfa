"""A candidate takes a whole exam with the keyboard alone: Tab and Shift+Tab to move, Space
and Enter to press, arrow keys in a radio group and on a closed list box, typing in the
numeric box; no mouse and no element.click(). Each control reached shows a visible focus
outline; the submit dialog keeps focus inside it and gives it back when closed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server, every_type_bank
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return "body";
  const kind = e.tagName === "INPUT" ? "input:" + e.type : e.tagName.toLowerCase();
  const label = (e.labels && e.labels[0] ? e.labels[0].textContent : "") || "";
  const name = e.getAttribute("aria-label") || label || e.textContent || "";
  return kind + " " + name.replace(/\\s+/g, " ").trim();
}"""
"""What has the focus, as "button Next →", "input:radio B. text", "select A. text"."""

OUTLINED = """() => {
  const e = document.activeElement;
  const luminance = (rgb) => {
    const [r, g, b] = rgb.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const drawn = (n) => {
    const style = getComputedStyle(n);
    const contrast = 1.05 / (luminance(style.outlineColor) + 0.05);  // against white
    return style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2 && contrast >= 3;
  };
  return drawn(e) || (e.closest("label.option") !== null && drawn(e.closest("label.option")));
}"""
"""Whether the focused control (or the option row around a radio or checkbox) draws a
visible outline, at least 3:1 against the white of the cards (WCAG 1.4.11)."""


def focused(page: Page) -> str:
    return str(page.evaluate(FOCUSED))


def tab_to(page: Page, pattern: str, shift: bool = False, limit: int = 60) -> str:
    """Press Tab (or Shift+Tab) until the focused control's description matches `pattern`;
    every control passed on the way must show where the focus is."""
    key = "Shift+Tab" if shift else "Tab"
    passed = []
    for _ in range(limit):
        page.keyboard.press(key)
        now = focused(page)
        passed.append(now)
        # the browser's own stop between the end of the page and its start shows nothing
        assert now == "body" or page.evaluate(OUTLINED), f"no visible focus on {now}"
        if re.search(pattern, now):
            return now
    raise AssertionError(f"{pattern!r} not reached with {key}; passed {passed}")


def heading(page: Page, position: int) -> None:
    expect(page.locator("#q-heading")).to_have_text(f"Question {position} of 8")
    assert focused(page).startswith(f"h2 Question {position}"), focused(page)


def answer_by_keyboard(page: Page, kind: str) -> None:
    """From the question's heading, answer it with the keyboard."""
    question = page.locator("#question")
    if kind == "single":
        tab_to(page, r"^input:radio ")
        page.keyboard.press("ArrowDown")  # moves to the second option and chooses it
        expect(question.locator("input[type=radio]").nth(1)).to_be_checked()
    elif kind == "multiple":
        words = question.locator("#instruction").inner_text().split()
        count = {"two": 2, "three": 3}[words[1]]
        for index in range(count):
            tab_to(page, r"^input:checkbox (?!Flag)")
            page.keyboard.press("Space")
            expect(question.locator("fieldset input[type=checkbox]").nth(index)).to_be_checked()
    elif kind == "ordering":
        before = question.locator(".order-row").evaluate_all("rows => rows.map(r => r.dataset.id)")
        # keeping the shown order answers it; the button goes, the focus to the first row
        tab_to(page, r"^button Keep this order as my answer$")
        page.keyboard.press("Enter")
        expect(question.locator("#keep-order")).to_have_count(0)
        assert focused(page) == f"button Move {before[0]} down", focused(page)
        page.keyboard.press("Enter")
        assert focused(page) == f"button Move {before[0]} down"  # focus follows the row
        page.keyboard.press("Enter")
        expect(question.locator(".order-row").nth(2)).to_have_attribute("data-id", before[0])
    elif kind == "matching":
        selects = question.locator("select")
        for index in range(selects.count()):
            tab_to(page, r"^select ")
            for _ in range(index + 1):
                page.keyboard.press("ArrowDown")  # a closed list box steps through its choices
            expect(selects.nth(index)).not_to_have_value("")
    else:
        tab_to(page, r"^input:text Your answer")
        page.keyboard.type("1,200")
        page.keyboard.press("Tab")  # leaving the box saves what was typed
        expect(question.locator(".numeric p")).to_have_text("Saved as 1200 iterations.")


def kind_of(page: Page) -> str:
    """The question type, read from the page (reading is not pointing)."""
    question = page.locator("#question")
    for kind, selector in (
        ("single", "input[type=radio]"),
        ("multiple", "fieldset input[type=checkbox]"),
        ("ordering", "ol.ordering"),
        ("numeric", ".numeric input"),
        ("matching", "select"),
    ):
        if question.locator(selector).count():
            return kind
    raise AssertionError("unknown question type")


def test_a_whole_exam_with_the_keyboard_alone(serve: Any, page: Page, tmp_path: Path) -> None:
    server: Server = serve(every_type_bank(tmp_path / "bank", numeric=True))

    page.goto(f"{server.url}/login")
    tab_to(page, r"^input:text Username")
    page.keyboard.type("candidate")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/")

    tab_to(page, r"^button Start Starter mock exam$")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/attempts/\d+$"))
    expect(page.locator("#q-heading")).to_have_text("Question 1 of 8")

    kinds = []
    tab_to(page, r"^input|^select|^button Move")  # into the first question's answer
    page.keyboard.press("Shift+Tab")  # and back: the heading is not in the Tab order
    for position in range(1, 9):
        kind = kind_of(page)
        kinds.append(kind)
        answer_by_keyboard(page, kind)
        expect(page.locator("#save-status")).to_have_attribute("data-state", "saved")
        if position == 2:
            tab_to(page, r"^input:checkbox Flag for review$")
            page.keyboard.press("Space")
            expect(page.locator("#flag")).to_be_checked()
        if position == 3:
            # back to question 2 with Previous (Shift+Tab from Next), then on again
            tab_to(page, r"^button Next")
            tab_to(page, r"^button ← Previous$", shift=True)
            page.keyboard.press("Enter")
            heading(page, 2)
            expect(page.locator("#flag")).to_be_checked()
            tab_to(page, r"^button Next")
            page.keyboard.press("Enter")
            heading(page, 3)
        if position < 8:
            tab_to(page, r"^button Next")
            page.keyboard.press("Enter")
            heading(page, position + 1)
    assert set(kinds) == {"single", "multiple", "ordering", "matching", "numeric"}, kinds

    # the navigator: question 5 through its button, focus then on its heading
    tab_to(page, r"^button Question 5, answered$", shift=True, limit=80)
    page.keyboard.press("Enter")
    heading(page, 5)
    expect(page.locator("#nav-list button.answered")).to_have_count(8)

    tab_to(page, r"^button Review and submit$")
    page.keyboard.press("Enter")
    expect(page.locator("#review-heading")).to_be_focused()
    expect(page.locator("#review-summary")).to_have_text("8 of 8 questions answered; 1 flagged.")
    expect(page.locator("#review-flagged")).to_have_text("Question 2")

    tab_to(page, r"^button Submit exam$")
    page.keyboard.press("Enter")
    dialog = page.locator("#confirm")
    expect(dialog).to_be_visible()
    assert focused(page) == "button Cancel"
    for key in ("Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab"):  # focus stays in the dialog
        page.keyboard.press(key)
        assert focused(page) in ("button Cancel", "button Submit now"), focused(page)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert focused(page) == "button Submit exam"  # given back to the button that opened it

    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    tab_to(page, r"^button Submit now$", limit=4)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/attempts/\d+/result$"))
    expect(page.locator("#verdict")).to_have_text(re.compile("^(Pass|Fail)$"))
    expect(page.locator("article.review-item")).to_have_count(8)
