"""The candidate's dashboard in a real browser says how likely they are to pass each exam
open to them, with its chart, under the pages' Content-Security-Policy (the `page` fixture
fails on any violation), before and after an exam is taken."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import FIXTURE_BANK, Server, shoot
from tests.e2e.test_exam_ui import answer, go_to, question_type, start, submit_from_review

pytestmark = pytest.mark.e2e


def test_the_dashboard_says_how_ready_the_candidate_is(serve: Any, page: Page) -> None:
    server: Server = serve(FIXTURE_BANK)
    server.sign_in(page)
    section = page.locator("#readiness")
    expect(section.get_by_role("heading", name="Starter mock exam")).to_be_visible()
    expect(section).to_contain_text(
        "You have not answered any of the questions Starter mock exam draws from yet, so "
        "there is nothing to go on."
    )
    expect(section.locator("svg.readiness-svg")).to_have_count(1)
    shoot(page, "dashboard-readiness-empty")

    start(page, "Starter mock exam")
    total = int(re.findall(r"of (\d+)", page.locator("#q-heading").inner_text())[0])
    for position in range(1, total + 1):
        go_to(page, position)
        answer(page, question_type(page))
    submit_from_review(page)

    page.goto(f"{server.url}/")
    summary = section.locator(".readiness-summary")
    expect(summary).to_contain_text(
        re.compile(
            rf"(There is too little to go on yet: from your {total} answers, your chance of "
            r"passing Starter mock exam is|You would pass Starter mock exam with a probability)"
        )
    )
    label = section.locator("svg.readiness-svg").get_attribute("aria-label") or ""
    assert re.fullmatch(r"Chance of passing \d+%, 90% interval \d+ to \d+%.*", label), label
    shoot(page, "dashboard-readiness")
