"""An instructor schedules a sitting in a real browser and a candidate takes it: the
instructor fills in the sitting form (window, one attempt, an access code), gives the
candidate extra time, and watches the live view, which follows the candidate from not
started to sitting to submitted without a reload; the candidate finds the sitting on the
dashboard (the blueprint itself is not startable there), starts it with the access code,
answers, submits, and is then told their one attempt is used."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from exam_service.db import create_engine, session_factory
from exam_service.exams import blueprints
from tests.e2e.conftest import FIXTURE_BANK, REPORT_CSP_VIOLATIONS, Server, shoot

pytestmark = pytest.mark.e2e


def room_blueprint(server: Server) -> None:
    """`room-mock`: the starter mock, taken only in sittings (in another thread: Playwright's
    sync API keeps an event loop running in this one)."""

    async def make() -> None:
        engine = create_engine(server.database_url)
        try:
            async with session_factory(engine)() as session:
                starter = await blueprints.get_blueprint(session, "starter-mock")
                spec = msgspec.structs.replace(
                    blueprints.blueprint_file(starter),
                    id="room-mock",
                    name="Room mock",
                    self_study=False,
                )
                await blueprints.create_blueprint(session, spec, owner_id=None)
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, make()).result()


def minute(offset: timedelta) -> str:
    """A `datetime-local` value in UTC, `offset` from now."""
    return (datetime.now(UTC) + offset).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def second_tab(browser: Browser, csp_violations: list[str]) -> Iterator[Page]:
    """A tab in a context of its own (another person's cookies), its CSP watched too."""
    context: BrowserContext = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)

    def report(violation: str) -> None:
        csp_violations.append(violation)

    context.expose_function("reportCspViolation", report)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    yield context.new_page()
    context.close()


def test_an_instructor_schedules_a_sitting_and_a_candidate_takes_it(
    serve: Any, page: Page, second_tab: Page
) -> None:
    server: Server = serve(FIXTURE_BANK)
    room_blueprint(server)
    teacher, candidate = page, second_tab

    # --- the instructor schedules it ------------------------------------------------------
    server.sign_in(teacher, "instructor")
    teacher.get_by_role("navigation", name="Main").get_by_role("link", name="Sittings").click()
    teacher.wait_for_url(f"{server.url}/sittings")
    form = teacher.locator("#new")
    form.get_by_label("Name").fill("Room mock, cohort A")
    form.get_by_label("Blueprint").select_option(label="Room mock")
    form.get_by_label("Opens (UTC)").fill(minute(timedelta(minutes=-1)))
    form.get_by_label("Closes (UTC)").fill(minute(timedelta(hours=2)))
    form.get_by_label("Attempts allowed").fill("1")
    form.get_by_label("Access code").fill("blue-42")
    form.get_by_label("instructor's cohort").check()
    form.get_by_role("button", name="Schedule sitting").click()
    teacher.wait_for_url(re.compile(r"/sittings/\d+#main$"))
    expect(teacher.locator("h1")).to_have_text("Room mock, cohort A")
    expect(teacher.locator(".meta")).to_contain_text("access code set")
    sitting_url = teacher.url.removesuffix("#main")
    shoot(teacher, "sitting")

    accommodations = teacher.locator("#accommodations")
    accommodations.get_by_label("Candidate").select_option("candidate")
    accommodations.get_by_label("Extra time (minutes)").fill("10")
    accommodations.get_by_role("button", name="Save accommodation").click()
    expect(teacher.locator("#accommodation-list")).to_contain_text("+10 min")

    teacher.goto(f"{server.url}/sittings")
    expect(teacher.locator("#sittings")).to_contain_text("Room mock, cohort A")
    shoot(teacher, "sittings")

    teacher.goto(f"{sitting_url}/live")
    row = teacher.locator('#live-table tr[data-username="candidate"]')
    expect(row.locator(".status")).to_have_text("not started")
    expect(row).to_contain_text("+10 min")
    expect(teacher.locator("#count-waiting")).to_have_text("1")

    # --- the candidate finds it and starts it ---------------------------------------------
    server.sign_in(candidate)
    sittings = candidate.locator("#sittings")
    expect(sittings).to_contain_text("Room mock, cohort A")
    start_blueprint = candidate.get_by_role("button", name="Start Room mock", exact=True)
    expect(start_blueprint).to_have_count(0)  # taken only in sittings
    shoot(candidate, "dashboard-sittings")
    sittings.get_by_label("Access code").fill("blue-41")
    sittings.get_by_role("button", name="Start Room mock, cohort A").click()
    expect(candidate.locator(".error")).to_contain_text("access code")
    candidate.locator("#sittings").get_by_label("Access code").fill("blue-42")
    candidate.locator("#sittings").get_by_role("button", name="Start Room mock, cohort A").click()
    candidate.wait_for_url(re.compile(r"/attempts/\d+$"))
    expect(candidate.locator("#q-heading")).to_contain_text("Question 1 of")

    # --- the live view follows without a reload -------------------------------------------
    expect(row.locator(".status")).to_have_text("sitting", timeout=12_000)
    left = row.locator(".left")
    first = left.inner_text()
    assert re.fullmatch(r"\d+:\d\d", first), first  # minutes:seconds, counting down
    teacher.wait_for_timeout(1500)
    assert left.inner_text() != first
    shoot(teacher, "sitting-live")

    options = candidate.locator("#question label.option")
    if options.count():  # a single or multiple question: tick one option
        options.first.click()
        expect(candidate.locator("#save-status")).to_have_attribute("data-state", "saved")
    candidate.get_by_role("button", name="Review and submit").click()
    candidate.get_by_role("button", name="Submit exam").click()
    candidate.get_by_role("button", name="Submit now").click()
    candidate.wait_for_url(re.compile(r"/attempts/\d+/result$"))

    expect(row.locator(".status")).to_have_text("submitted", timeout=12_000)
    expect(teacher.locator("#count-done")).to_have_text("1")

    candidate.goto(f"{server.url}/")
    expect(candidate.locator("#sittings")).to_contain_text("you have used 1 of 1 attempt")
