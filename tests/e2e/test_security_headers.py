"""The pages' Content-Security-Policy in a real browser: the exam page and the Swagger UI
page send their headers and run without a single violation (the `page` fixture fails
every browser test on any), and the browser really refuses what the policy forbids."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from exam_service.headers import PAGE_POLICY
from tests.e2e.conftest import FIXTURE_BANK, Server
from tests.e2e.test_exam_ui import answer, question_type, start, wait_saved

pytestmark = pytest.mark.e2e


def reported(violations: list[str], page: Page, seconds: float = 5) -> list[str]:
    """The violations, once at least one has arrived (the browser reports them async)."""
    until = time.monotonic() + seconds
    while not violations and time.monotonic() < until:
        page.wait_for_timeout(50)
    return list(violations)


def test_exam_page_runs_under_its_policy(serve: Any, page: Page, csp_violations: list[str]) -> None:
    server: Server = serve(FIXTURE_BANK)
    server.sign_in(page)
    start(page, "Starter mock exam")
    exam_page = page.reload()
    assert exam_page is not None
    headers = exam_page.headers
    policy = headers["content-security-policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"

    expect(page.locator("#q-heading")).to_contain_text("Question 1 of")
    answer(page, question_type(page))
    wait_saved(page)
    assert csp_violations == []

    # the check can fail: an inline script is refused, and the refusal is reported
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.inlineRan = true";
          document.head.append(script);
        }"""
    )
    assert page.evaluate("window.inlineRan") is None
    assert any(
        re.match(r"script-src(-elem)? refused inline", v) for v in reported(csp_violations, page)
    )
    csp_violations.clear()


def test_swagger_ui_runs_under_its_policy(serve: Any, page: Page) -> None:
    """Swagger UI from /schema-assets: listing, expanding and calling an operation, and
    the authorize dialog all work without loosening the pages' policy."""
    server: Server = serve(FIXTURE_BANK)
    response = page.goto(f"{server.url}/schema")
    assert response is not None
    assert response.headers["content-security-policy"] == PAGE_POLICY
    health = page.locator(".opblock-summary", has_text="/health")
    health.click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    expect(page.locator(".live-responses-table tbody .response-col_status").first).to_have_text(
        "200"
    )
    page.get_by_role("button", name=re.compile("Authorize")).first.click()
    expect(page.get_by_text("BearerToken")).to_be_visible()
