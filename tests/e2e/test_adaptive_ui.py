"""A candidate takes adaptive practice in a real browser: one question at a time, "Next
question" once the answer is saved, feedback per question, no navigator entry for a
question not yet served, the stop, then submit and the result."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Page, expect

from tests.e2e.conftest import FIXTURE_BANK, Server, shoot
from tests.e2e.test_exam_ui import answer, question_type, wait_saved

pytestmark = pytest.mark.e2e
LENGTH = 4


def adaptive_bank(target: Path) -> Path:
    shutil.copytree(FIXTURE_BANK, target)
    blueprint = {
        "id": "adaptive-set",
        "name": "Adaptive set",
        "mode": "adaptive",
        "scoring": "irt",
        "question_count": LENGTH,
        "adaptive": {"target_se": 0.1, "min_items": 1},  # unreachable: it stops at LENGTH
        "scale": {"min": 100, "max": 1000, "pass": 720},
        "self_study": True,
    }
    (target / "blueprints" / "adaptive.yaml").write_text(yaml.safe_dump(blueprint), "utf-8")
    return target


def test_take_adaptive_practice_to_its_stop(serve: Any, page: Page, tmp_path: Path) -> None:
    server: Server = serve(adaptive_bank(tmp_path / "bank"))
    server.sign_in(page)
    page.get_by_role("button", name="Start Adaptive set").click()
    page.wait_for_url(re.compile(r"/attempts/\d+(#q\d+)?$"))
    heading = page.locator("#q-heading")
    next_button = page.locator("#next")
    stems = []
    for position in range(1, LENGTH + 1):
        expect(heading).to_have_text(f"Question {position}")
        expect(page.locator("#nav-list button")).to_have_count(position)
        expect(page.locator("#adaptive-status")).to_contain_text(
            f"{position} of at most {LENGTH} questions so far"
        )
        expect(next_button).to_have_text("Next question")
        expect(next_button).to_be_disabled()  # nothing answered yet
        stems.append(page.locator("#stem").inner_text())
        answer(page, question_type(page))
        wait_saved(page)
        if position == 1:  # feedback per question, as in practice mode
            page.get_by_role("button", name="Check answer").click()
            expect(page.locator("#feedback")).to_contain_text(
                re.compile(r"^(Correct|Not correct)\.")
            )
            shoot(page, "adaptive")
        expect(next_button).to_be_enabled()
        next_button.click()

    done = page.locator("#adaptive-done")
    expect(done).to_be_visible()
    expect(page.locator("#adaptive-done-text")).to_contain_text(
        f"you reached the most questions this practice serves ({LENGTH})"
    )
    expect(page.locator("#adaptive-status")).to_contain_text("the practice is complete")
    expect(next_button).to_be_disabled()
    expect(page.locator("#nav-list button")).to_have_count(LENGTH)
    assert len(set(stems)) == LENGTH  # never the same question twice
    shoot(page, "adaptive-done")

    # a reload keeps the state: the questions served, and the stop
    page.reload()
    expect(done).to_be_visible()
    expect(page.locator("#nav-list button.answered")).to_have_count(LENGTH)
    page.locator('#nav-list button[data-position="2"]').click()
    expect(heading).to_have_text("Question 2")
    expect(next_button).to_have_text("Next \u2192")

    page.get_by_role("button", name="Review and submit").first.click()
    expect(page.locator("#review-summary")).to_contain_text(f"{LENGTH} of {LENGTH} questions")
    page.get_by_role("button", name="Submit exam").click()
    page.get_by_role("button", name="Submit now").click()
    page.wait_for_url(re.compile(r"/attempts/\d+/result$"))
    expect(page.locator("#scaled-score")).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator("article.review-item")).to_have_count(LENGTH)
