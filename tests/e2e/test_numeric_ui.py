"""A numeric question in Chromium: "1,200" is read as 1200 and saved (a reload shows it);
"twelve" is refused with what to type, and the 1200 saved before is kept; the result page
shows the answer, the key with the range it accepts, and the working."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Page, expect

from tests.e2e.conftest import FIXTURE_BANK, NUMERIC_QUESTION, Server
from tests.e2e.test_exam_ui import start, submit_from_review, wait_saved

pytestmark = pytest.mark.e2e


def numeric_bank(target: Path) -> Path:
    shutil.copytree(FIXTURE_BANK, target)
    (target / "questions" / "numeric.yaml").write_text(NUMERIC_QUESTION, encoding="utf-8")
    blueprint = {
        "id": "epoch-check",
        "name": "Epoch check",
        "mode": "exam",
        "question_count": 1,
        "time_limit_seconds": 600,
        "objective_counts": {"D2.2.1": 1},
        "scale": {"min": 0, "max": 100, "pass": 70},
        "review_policy": "after_submit",
        "self_study": True,
    }
    (target / "blueprints" / "epoch.yaml").write_text(yaml.safe_dump(blueprint), "utf-8")
    return target


def test_a_numeric_answer_in_the_browser(serve: Any, page: Page, tmp_path: Path) -> None:
    server: Server = serve(numeric_bank(tmp_path / "bank"))
    server.sign_in(page)
    start(page, "Epoch check")
    found = re.search(r"/attempts/(\d+)", page.url)
    assert found is not None
    attempt = f"{server.url}/api/v1/attempts/{found[1]}"
    question = page.locator("#question")
    expect(question.locator("#stem")).to_contain_text("60,000 samples")
    expect(question.locator("#instruction")).to_contain_text("(in iterations)")
    box = question.get_by_label("Your answer")
    note = question.locator(".numeric p")

    box.press_sequentially("1,200")
    box.press("Tab")
    expect(note).to_have_text("Saved as 1200 iterations.")
    wait_saved(page)
    assert page.request.get(attempt).json()["items"][0]["answer"] == 1200
    page.reload()
    expect(box).to_have_value("1200")
    expect(page.locator('#nav-list button[data-position="1"]')).to_have_attribute(
        "aria-label", "Question 1, answered"
    )

    box.fill("")
    box.press_sequentially("twelve")
    box.press("Tab")
    expect(note).to_have_text(
        "'twelve' is not a number: type digits, e.g. 1200, 1,200, 1.5 or 1.2e3 (the answer is"
        " in iterations; typing the unit is optional)"
    )
    expect(note).to_have_class("error")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#save-status")).to_have_attribute("data-state", "error")
    # the refused text replaced nothing: the server keeps 1200, the navigator counts it
    assert page.request.get(attempt).json()["items"][0]["answer"] == 1200
    expect(page.locator('#nav-list button[data-position="1"]')).to_have_attribute(
        "aria-label", "Question 1, answered"
    )
    page.reload()
    expect(box).to_have_value("1200")

    submit_from_review(page)
    expect(page.locator("#verdict")).to_have_text("Pass")
    review = page.locator("article.review-item")
    expect(review.locator(".verdict")).to_have_text("correct")
    expect(review).to_contain_text(
        "Your answer: 1200 iterations; key: 1200 iterations (accepted: 1176 to 1224 iterations)"
    )
    expect(review.locator(".rationale")).to_have_text(
        "Working: 60,000 samples / 50 samples per batch = 1,200 iterations."
    )
    expect(review.locator(".explanation")).to_have_text(
        "One epoch passes every sample once, and each iteration takes one batch."
    )
