"""What a screen reader hears on the exam page, under Playwright's fake clock (so a
15-minute exam runs in seconds): the time left at 10, 5 and 1 minutes and when time is up,
nothing else of the countdown; the save status only when a save fails and is retried, is
slow, is refused, or recovers, never the Saving/Saved of each change."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Page, Route, expect

from tests.e2e.conftest import FIXTURE_BANK, NUMERIC_QUESTION, Server
from tests.e2e.test_exam_ui import answer, question_type, start, wait_saved

pytestmark = pytest.mark.e2e

LISTEN = """
document.addEventListener("DOMContentLoaded", () => {
  window.heard = [];
  for (const id of ["time-announce", "save-announce"]) {
    const region = document.getElementById(id);
    if (!region) continue;
    new MutationObserver(() => {
      const text = region.textContent.trim();
      if (text) window.heard.push([id === "time-announce" ? "time" : "save", text]);
    }).observe(region, {childList: true, characterData: true, subtree: true});
  }
});
"""
"""Every text the page puts into its two announcing regions, in order."""


def timed_bank(target: Path) -> Path:
    """A 15-minute mock of two questions: one single-choice question and the numeric one."""
    shutil.copytree(FIXTURE_BANK, target)
    (target / "questions" / "numeric.yaml").write_text(NUMERIC_QUESTION, encoding="utf-8")
    blueprint = {
        "id": "timed-mock",
        "name": "Timed mock",
        "mode": "exam",
        "question_count": 2,
        "time_limit_seconds": 900,
        "grace_seconds": 0,
        "objective_counts": {"D2.1.2": 1, "D2.2.1": 1},
        "shuffle_options": False,
        "scale": {"min": 100, "max": 1000, "pass": 720},
        "review_policy": "after_submit",
        "self_study": True,
    }
    (target / "blueprints" / "timed.yaml").write_text(yaml.safe_dump(blueprint), "utf-8")
    return target


def heard(page: Page, region: str) -> list[str]:
    return [text for where, text in page.evaluate("window.heard") if where == region]


def seconds_left(page: Page) -> int:
    minutes, seconds = page.locator("#timer").inner_text().split(":")
    return int(minutes) * 60 + int(seconds)


def run_until(page: Page, left: int) -> None:
    """Let the fake clock run (every timer of the page firing in turn) until `left` seconds
    remain on the countdown."""
    page.clock.run_for((seconds_left(page) - left) * 1000)
    assert seconds_left(page) == left


def test_what_a_screen_reader_hears(serve: Any, page: Page, tmp_path: Path) -> None:
    server: Server = serve(timed_bank(tmp_path / "bank"))
    page.clock.install()
    page.context.add_init_script(LISTEN)
    server.sign_in(page)
    start(page, "Timed mock")
    expect(page.locator("#timer")).to_have_text(re.compile(r"^1[45]:\d\d$"))
    assert page.locator("#timer").get_attribute("aria-live") in (None, "off")
    numeric = 1 if question_type(page) == "numeric" else 2
    page.locator(f'#nav-list button[data-position="{3 - numeric}"]').press("Enter")
    assert question_type(page) == "single"

    # ordinary saves are shown, not announced
    answer(page, "single")
    wait_saved(page)
    page.locator("#question label.option").nth(2).click()
    wait_saved(page)
    assert heard(page, "save") == []

    # the network drops: announced once, however many retries; then saved again, once
    page.context.set_offline(True)
    page.locator("#question label.option").nth(0).click()
    expect(page.locator("#save-status")).to_have_attribute("data-state", "retrying")
    page.clock.run_for(20_000)  # several retries
    assert heard(page, "save") == ["Not saved: no connection, retrying\u2026"]
    page.context.set_offline(False)
    page.clock.run_for(10_000)
    wait_saved(page)
    page.clock.run_for(100)
    assert heard(page, "save")[1:] == ["All answers saved"]

    # a slow save: "Saving" after 3 seconds, then "saved"
    held: list[Route] = []
    page.route("**/responses/*", lambda route: held.append(route))
    page.locator("#question label.option").nth(1).click()
    expect(page.locator("#save-status")).to_have_attribute("data-state", "saving")
    page.clock.run_for(2000)
    assert len(heard(page, "save")) == 2
    page.clock.run_for(1500)
    assert heard(page, "save")[2:] == ["Saving\u2026"]
    held[0].continue_()
    page.unroute("**/responses/*")
    wait_saved(page)
    page.clock.run_for(100)
    assert heard(page, "save")[3:] == ["All answers saved"]

    # a numeric answer that is not a number: the refusal is heard once, with what to type
    page.locator(f'#nav-list button[data-position="{numeric}"]').press("Enter")
    box = page.get_by_label("Your answer")
    box.fill("1200")
    box.press("Tab")
    wait_saved(page)
    box.fill("twelve")
    box.press("Tab")
    expect(page.locator("#save-status")).to_have_attribute("data-state", "error")
    page.clock.run_for(100)
    [refused] = heard(page, "save")[4:]
    assert refused.startswith(f"Not saved (question {numeric}): 'twelve' is not a number")
    box.fill("1200")
    box.press("Tab")
    wait_saved(page)
    page.clock.run_for(100)
    assert heard(page, "save")[5:] == ["All answers saved"]
    assert heard(page, "time") == []  # a fresh 15-minute exam says nothing of the time yet

    # the countdown: heard at 10, 5 and 1 minutes and when time is up, nothing in between
    run_until(page, 601)
    assert heard(page, "time") == []
    run_until(page, 599)
    assert heard(page, "time") == ["10 minutes left."]
    run_until(page, 301)
    assert heard(page, "time") == ["10 minutes left."]
    run_until(page, 299)
    run_until(page, 61)
    assert heard(page, "time") == ["10 minutes left.", "5 minutes left."]
    run_until(page, 59)
    assert heard(page, "time")[2:] == ["1 minute left."]
    expect(page.locator("#time-alert")).to_have_text("1 minute left.")

    held.clear()
    # the submit is held, so the page stays while it is out
    page.route("**/submit", lambda route: held.append(route))
    run_until(page, 1)
    page.clock.run_for(1500)
    expect(page.locator("#timer")).to_have_text("0:00")
    assert heard(page, "time") == [
        "10 minutes left.",
        "5 minutes left.",
        "1 minute left.",
        "Time is up. Your answers are being submitted.",
    ]
    assert len(heard(page, "save")) == 6  # nothing more was said of saving meanwhile
    held[0].continue_()
    page.unroute("**/submit")
    page.wait_for_url(re.compile(r"/attempts/\d+/result$"))
    expect(page.locator("article.review-item")).to_have_count(2)
