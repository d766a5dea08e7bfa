"""Every page through axe-core in a real browser: no serious or critical violation on any
page a candidate, an instructor or an admin sees, in every state the exam page takes (each
question type, practice feedback, adaptive practice, the review screen, the submit dialog),
the sign-in and password forms with their errors, and the pages answering a refusal.

axe-core comes from npm (`tests/e2e/axe/`, installed by `npm ci` there: `make test` does it).
It is served to the page from the page's own origin through a Playwright route, so the
pages keep their Content-Security-Policy (no inline script) while axe runs."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Page, expect

from tests.e2e.conftest import REPO, Server, every_type_bank
from tests.e2e.test_adaptive_ui import adaptive_bank
from tests.e2e.test_exam_ui import answer, go_to, question_type, start, wait_saved

pytestmark = pytest.mark.e2e

AXE = REPO / "tests" / "e2e" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
AXE_PATH = "/__axe__/axe.min.js"
"""Where the page loads axe from: a path of its own origin that the test's route answers."""
BLOCKING = ("serious", "critical")


def axe_source() -> Path:
    if not AXE.exists():
        message = f"{AXE} is missing: run `npm ci` in tests/e2e/axe (make test does)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it (make test); a skip there would hide a gap
        pytest.skip(message)
    return AXE


class Audit:
    """Runs axe on the page as it is now and keeps what it finds, by page name."""

    def __init__(self, page: Page, server: Server) -> None:
        self.page = page
        self.found: dict[str, list[str]] = {}
        self.minor: dict[str, list[str]] = {}
        self.names: list[str] = []
        source = axe_source()
        page.context.route(
            f"{server.url}{AXE_PATH}",
            lambda route: route.fulfill(path=source, content_type="text/javascript"),
        )
        self.url = f"{server.url}{AXE_PATH}"

    def __call__(self, name: str) -> None:
        page = self.page
        if not page.evaluate("typeof window.axe === 'object'"):
            page.add_script_tag(url=self.url)
        violations: list[dict[str, Any]] = page.evaluate(
            """async () => {
              const result = await axe.run(document, {resultTypes: ["violations"]});
              return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => n.target.join(" ") + ": " + n.failureSummary),
              }));
            }"""
        )
        self.names.append(name)
        for violation in violations:
            line = (
                f"{violation['id']} ({violation['impact']}): {violation['help']} - "
                + " | ".join(violation["nodes"][:3])
            )
            kept = self.found if violation["impact"] in BLOCKING else self.minor
            kept.setdefault(name, []).append(line)

    def check(self, pages: int) -> None:
        report = "\n".join(
            f"{name}:\n  " + "\n  ".join(lines) for name, lines in self.found.items()
        )
        minor = "\n".join(f"{name}:\n  " + "\n  ".join(lines) for name, lines in self.minor.items())
        print(f"axe ran on {len(self.names)} page states; moderate or minor:\n{minor or 'none'}")
        assert len(self.names) >= pages, self.names
        assert not self.found, f"serious or critical axe violations:\n{report}"


def candidate_bank(target: Path) -> Path:
    """Every question type in the starter mock, plus a practice set and adaptive practice."""
    every_type_bank(target / "every")
    adaptive_bank(target / "adaptive")
    bank = target / "bank"
    shutil.copytree(target / "every", bank)
    shutil.copy(target / "adaptive" / "blueprints" / "adaptive.yaml", bank / "blueprints")
    practice = {
        "id": "practice-set",
        "name": "Practice set",
        "mode": "practice",
        "question_count": 7,
        "scale": {"min": 0, "max": 100, "pass": 70},
        "self_study": True,
    }
    (bank / "blueprints" / "practice.yaml").write_text(yaml.safe_dump(practice), "utf-8")
    return bank


def test_candidate_pages_pass_axe(serve: Any, page: Page, tmp_path: Path) -> None:
    server: Server = serve(candidate_bank(tmp_path))
    audit = Audit(page, server)

    page.goto(f"{server.url}/login")
    audit("login")
    page.get_by_label("Username").fill("candidate")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit("login with an error")

    server.sign_in(page)
    audit("dashboard (candidate)")

    start(page, "Starter mock exam")
    seen: set[str] = set()
    for position in range(1, 8):
        go_to(page, position)
        kind = question_type(page)
        if kind not in seen:
            seen.add(kind)
            audit(f"exam: {kind} question")
            answer(page, kind)
            wait_saved(page)
            audit(f"exam: {kind} question answered")
    assert seen == {"single", "multiple", "ordering", "matching"}
    page.get_by_label("Flag for review").check()
    wait_saved(page)
    audit("exam: flagged question")
    page.get_by_role("button", name="Review and submit").click()
    expect(page.locator("#review")).to_be_visible()
    audit("exam: review screen")
    page.get_by_role("button", name="Submit exam").click()
    expect(page.locator("#confirm")).to_be_visible()
    audit("exam: submit dialog")
    page.get_by_role("button", name="Submit now").click()
    page.wait_for_url(re.compile(r"/attempts/\d+/result$"))
    audit("result")

    page.goto(f"{server.url}/")
    start(page, "Practice set")
    kind = question_type(page)
    answer(page, kind)
    wait_saved(page)
    page.get_by_role("button", name="Check answer").click()
    expect(page.locator("#feedback")).to_contain_text(re.compile(r"^(Correct|Not correct)\."))
    audit("exam: practice check")

    page.goto(f"{server.url}/")
    page.get_by_role("button", name="Start Adaptive set").click()
    page.wait_for_url(re.compile(r"/attempts/\d+(#q\d+)?$"))
    expect(page.locator("#q-heading")).to_have_text("Question 1")
    audit("exam: adaptive practice")
    answer(page, question_type(page))
    wait_saved(page)
    page.get_by_role("button", name="Next question").click()
    expect(page.locator("#q-heading")).to_have_text("Question 2")
    audit("exam: adaptive practice, second question")

    page.goto(f"{server.url}/account/password")
    audit("change password")
    page.get_by_label("Current password").fill("wrong")
    page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    page.get_by_label("New password again").fill("a brand new passphrase")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit("change password with an error")

    page.goto(f"{server.url}/bank")
    audit("refused page (candidate on /bank)")
    page.goto(f"{server.url}/attempts/99999")
    audit("missing page (/attempts/99999)")
    audit.check(pages=20)
