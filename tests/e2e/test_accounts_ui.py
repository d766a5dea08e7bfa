"""Accounts in a real browser: an admin deactivates a candidate on the users page while the
candidate is signed in elsewhere, and the candidate's next page is the sign-in form, which
then says the account is deactivated; reactivated, the candidate changes their password and
stays signed in; signing out ends the session. The pages run under the strict CSP (the
`page` fixtures fail the test on any violation)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from exam_service.settings import Settings
from tests.e2e.conftest import FIXTURE_BANK, REPORT_CSP_VIOLATIONS, Server, shoot
from tests.factories import PASSWORD, make_people

pytestmark = pytest.mark.e2e
NEW_PASSWORD = "a brand new passphrase"


def add_admin(server: Server) -> None:
    """An admin in the server's database (in another thread: Playwright's sync API keeps an
    event loop running in this one)."""
    settings = Settings(database_url=server.database_url)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, make_people(settings, ("admin", "admin"))).result()


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


def sign_in_as(page: Page, server: Server, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_an_admin_takes_access_away_and_gives_it_back(
    serve: Any, page: Page, second_tab: Page
) -> None:
    server: Server = serve(FIXTURE_BANK)
    add_admin(server)
    admin, candidate = page, second_tab
    server.sign_in(candidate, "candidate")
    expect(candidate.get_by_role("heading", level=1)).to_be_visible()

    server.sign_in(admin, "admin")
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(admin.get_by_role("heading", name="Users")).to_be_visible()
    shoot(admin, "admin-users")
    admin.get_by_role("button", name="Deactivate candidate").click()
    expect(admin.get_by_role("status")).to_have_text(
        "candidate is deactivated; their sign-ins have ended."
    )
    expect(admin.get_by_role("button", name="Reactivate candidate")).to_be_visible()

    # the candidate's session ended on the server: the next page is the sign-in form
    candidate.reload()
    expect(candidate).to_have_url(f"{server.url}/login?next=/")
    sign_in_as(candidate, server, "candidate")
    expect(candidate.get_by_role("alert")).to_have_text(
        "the account 'candidate' is deactivated; ask an admin to reactivate it"
    )

    admin.get_by_role("button", name="Reactivate candidate").click()
    expect(admin.get_by_role("status")).to_have_text("candidate is active again and can sign in.")

    sign_in_as(candidate, server, "candidate")
    expect(candidate).to_have_url(f"{server.url}/")
    candidate.get_by_role("link", name="Change password").click()
    candidate.get_by_label("Current password").fill(PASSWORD)
    candidate.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    candidate.get_by_label("New password again").fill(NEW_PASSWORD)
    shoot(candidate, "change-password")
    candidate.get_by_role("button", name="Change password").click()
    expect(candidate.get_by_role("status")).to_contain_text("Your password was changed")
    candidate.goto(f"{server.url}/")  # still signed in, with the new cookie
    expect(candidate).to_have_url(f"{server.url}/")

    candidate.get_by_role("button", name="Sign out").click()
    expect(candidate).to_have_url(f"{server.url}/login")
    candidate.goto(f"{server.url}/")
    expect(candidate).to_have_url(f"{server.url}/login?next=/")
    sign_in_as(candidate, server, "candidate", NEW_PASSWORD)
    expect(candidate).to_have_url(f"{server.url}/")
