"""Every page through axe-core in a real browser: no serious or critical violation on any
page a candidate, an instructor or an admin sees, in every state the exam page takes (each
question type, practice feedback, adaptive practice, the review screen, the submit dialog),
the sign-in and password forms with their errors, and the pages answering a refusal.

axe-core comes from npm (`tests/e2e/axe/`, installed by `npm ci` there: `make test` does it).
It is served to the page from the page's own origin through a Playwright route, so the
pages keep their Content-Security-Policy (no inline script) while axe runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Page, expect

from tests.e2e.conftest import FIXTURE_BANK, REPO, Server, every_type_bank
from tests.e2e.test_accounts_ui import add_admin
from tests.e2e.test_adaptive_ui import adaptive_bank
from tests.e2e.test_exam_ui import answer, go_to, question_type, start, wait_saved
from tests.e2e.test_paper_ui import create_paper_exam, key_of, sheet_layout
from tests.factories import PASSWORD
from tests.unit.test_paper_scan import Pen, pdf_of, rasterise

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
    every_type_bank(target / "every", numeric=True)
    adaptive_bank(target / "adaptive")
    bank = target / "bank"
    shutil.copytree(target / "every", bank)
    shutil.copy(target / "adaptive" / "blueprints" / "adaptive.yaml", bank / "blueprints")
    practice = {
        "id": "practice-set",
        "name": "Practice set",
        "mode": "practice",
        "question_count": 8,
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
    for position in range(1, 9):
        go_to(page, position)
        kind = question_type(page)
        if kind not in seen:
            seen.add(kind)
            audit(f"exam: {kind} question")
            answer(page, kind)
            wait_saved(page)
            audit(f"exam: {kind} question answered")
            if kind == "numeric":
                box = page.get_by_label("Your answer")
                box.fill("twelve")
                box.press("Tab")
                expect(page.locator("#question .numeric p.error")).to_contain_text("not a number")
                audit("exam: numeric answer refused")
                box.fill("1200")
                box.press("Tab")
                wait_saved(page)
    assert seen == {"single", "multiple", "ordering", "matching", "numeric"}
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


def api(server: Server, method: str, path: str, token: str = "", body: Any = None) -> Any:
    """One JSON request to the server's API, as a client with a bearer token would send it."""
    request = urllib.request.Request(
        f"{server.url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def token_of(server: Server, username: str) -> str:
    body = {"username": username, "password": PASSWORD}
    return str(api(server, "POST", "/api/v1/auth/token", body=body)["access_token"])


def scanned_sheet(server: Server, exam_id: int) -> bytes:
    """The candidate's printed answer sheet of form A with one barely pressed mark, so the
    scan comes back for review."""
    layout = sheet_layout(server, exam_id, "A")
    printed = urllib.request.urlopen(  # the instructor's cookie is not needed: a token is
        urllib.request.Request(
            f"{server.url}/api/v1/paper-exams/{exam_id}/answer-sheets.pdf?form=A&candidates=candidate",
            headers={"Authorization": f"Bearer {token_of(server, 'instructor')}"},
        ),
        timeout=60,
    ).read()
    [image] = rasterise(printed, 150)
    pen = Pen(image, 150)
    row = next(r for r in layout.rows if r.bubbles)
    pen.light(row.bubbles[0].x, row.bubbles[0].y)
    return bytes(pdf_of([pen.image], 150))


def test_instructor_and_admin_pages_pass_axe(serve: Any, page: Page) -> None:
    """The pages of the people who keep the bank and run the exams, with data in them: a
    graded attempt, a sitting with a candidate sitting it now, a paper exam with refused and
    graded CSV answers and a scan to review, and the admin's users page."""
    server: Server = serve(FIXTURE_BANK)
    add_admin(server)
    candidate = token_of(server, "candidate")
    instructor = token_of(server, "instructor")
    done = api(server, "POST", "/api/v1/attempts", candidate, {"blueprint_id": "starter-mock"})
    single = next(item for item in done["items"] if item["type"] == "single")
    api(
        server,
        "PUT",
        f"/api/v1/attempts/{done['id']}/responses/{single['position']}",
        candidate,
        {"answer": [single["options"][0]["id"]], "flagged": False},
    )
    api(server, "POST", f"/api/v1/attempts/{done['id']}/submit", candidate)
    [cohort] = api(server, "GET", "/api/v1/cohorts", instructor)
    now = datetime.now(UTC)
    sitting = api(
        server,
        "POST",
        "/api/v1/sittings",
        instructor,
        {
            "blueprint_id": "starter-mock",
            "cohort_ids": [cohort["id"]],
            "name": "Morning sitting",
            "opens_at": (now - timedelta(minutes=5)).isoformat(),
            "closes_at": (now + timedelta(hours=2)).isoformat(),
        },
    )
    running = api(server, "POST", "/api/v1/attempts", candidate, {"sitting_id": sitting["id"]})
    upcoming = {
        "blueprint_id": "starter-mock",
        "cohort_ids": [cohort["id"]],
        "name": "Afternoon sitting",
        "opens_at": (now + timedelta(hours=1)).isoformat(),
        "access_code": "blue-42",
    }
    api(server, "POST", "/api/v1/sittings", instructor, upcoming)
    audit = Audit(page, server)

    server.sign_in(page, "candidate")
    expect(page.locator("#sittings")).to_contain_text("Afternoon sitting")
    audit("dashboard (candidate, a sitting open and one upcoming)")
    page.get_by_role("button", name="Sign out").click()
    server.sign_in(page, "instructor")
    audit("dashboard (instructor)")
    page.goto(f"{server.url}/bank")
    audit("bank")
    page.get_by_label("Type").select_option("ordering")
    page.get_by_role("button", name="Filter").click()
    audit("bank, filtered")
    page.goto(f"{server.url}/bank/questions/algorithm-match")
    audit("bank question (matching)")
    page.goto(f"{server.url}/bank/questions/churn-algorithm")
    audit("bank question (single, in a case)")
    page.goto(f"{server.url}/cohorts")
    audit("cohorts")
    page.goto(f"{server.url}/cohorts/{cohort['id']}")
    audit("cohort")
    page.goto(f"{server.url}/items")
    audit("item analysis, nothing chosen")
    page.get_by_label("Blueprint").select_option(label="Starter mock exam")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("table")).to_contain_text("churn")
    audit("item analysis")
    page.goto(f"{server.url}/attempts/{done['id']}/result")
    audit("result (instructor)")
    page.goto(f"{server.url}/attempts/{running['id']}")
    expect(page.locator("#q-heading")).to_contain_text("Question 1 of")
    audit("exam page, read only (instructor)")

    page.goto(f"{server.url}/sittings")
    audit("sittings")
    form = page.locator("#new")
    form.get_by_label("Opens (UTC)").fill("2026-12-01T09:00")
    form.get_by_label("Closes (UTC)").fill("2026-12-01T08:00")
    form.get_by_role("button", name="Schedule sitting").click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit("sittings, the form refused")
    page.goto(f"{server.url}/sittings/{sitting['id']}")
    audit("sitting")
    accommodations = page.locator("#accommodations")
    accommodations.get_by_label("Candidate").select_option("candidate")
    accommodations.get_by_label("Extra time (minutes)").fill("10")
    accommodations.get_by_role("button", name="Save accommodation").click()
    expect(page.locator("#accommodation-list")).to_contain_text("+10 min")
    audit("sitting with an accommodation")
    page.goto(f"{server.url}/sittings/{sitting['id']}/live")
    expect(page.locator('#live-table tr[data-username="candidate"] .status')).to_have_text(
        "sitting"
    )
    audit("sitting, live view")

    page.goto(f"{server.url}/paper")
    audit("paper exams")
    exam_id = create_paper_exam(page, server, "Spring paper", 1)
    audit("paper exam")
    page.get_by_label("Or paste the rows, header first").fill("candidate,form,1\nnobody,Z,B")
    page.get_by_role("button", name="Grade answers").click()
    expect(page.locator("#answer-errors")).to_be_visible()
    audit("paper exam, answers refused")
    key = [row["answer"] for row in key_of(page, server, exam_id, "A")]
    header = ",".join(["candidate", "form", *(str(n) for n in range(1, len(key) + 1))])
    page.get_by_label("Or paste the rows, header first").fill(
        f"{header}\n{','.join(['candidate', 'A', *key])}"
    )
    page.get_by_role("button", name="Grade answers").click()
    expect(page.locator("#answer-scores")).to_be_visible()
    audit("paper exam, answers graded")
    page.get_by_label("Scan file").set_input_files(
        files=[
            {
                "name": "room 4.pdf",
                "mimeType": "application/pdf",
                "buffer": scanned_sheet(server, exam_id),
            }
        ]
    )
    page.get_by_role("button", name="Read scans").click()
    expect(page.locator("#scan-pages li")).to_contain_text("Needs review")
    audit("paper exam, scan review")
    page.locator("#sheet-1").get_by_role("button", name="Grade page 1").click()
    expect(page.locator("#sheet-1 [role=alert]")).to_be_visible()
    audit("paper exam, scan review refused")

    page.goto(f"{server.url}/account/password")
    audit("change password (instructor)")
    page.goto(f"{server.url}/admin/users")
    audit("refused page (instructor on /admin/users)")

    page.get_by_role("button", name="Sign out").click()
    server.sign_in(page, "admin")
    audit("dashboard (admin)")
    page.goto(f"{server.url}/admin/users")
    audit("users")
    page.get_by_role("button", name="Deactivate candidate").click()
    expect(page.get_by_role("status")).to_be_visible()
    audit("users, a change made")
    page.get_by_label("Role", exact=True).select_option("candidate")
    page.get_by_role("button", name="Show").click()
    audit("users, filtered")
    page.get_by_label("New password for candidate").fill("short")
    page.get_by_label("New password for candidate").evaluate(
        "input => input.removeAttribute('minlength')"
    )
    page.get_by_role("button", name="Set the password of candidate").click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit("users, a change refused")
    page.goto(f"{server.url}/account/password?changed=1")
    audit("change password, done (admin)")
    audit.check(pages=31)
