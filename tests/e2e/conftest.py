"""Browser tests: the real app served by uvicorn in a subprocess on a free port, over a
fresh migrated SQLite file, driven by Debian's Chromium through Playwright.

The server runs in its own process so that Playwright's sync API (which refuses to run
inside an asyncio loop) and the app's event loop never meet.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Browser, Page, sync_playwright

from exam_service.migrate import upgrade
from exam_service.settings import Settings
from tests.factories import PASSWORD, import_folder, make_cohort, make_people

FIXTURE_BANK = Path(__file__).parent.parent / "fixtures" / "bank"
REPO = Path(__file__).parent.parent.parent
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("EXAM_UI_SCREENSHOTS", REPO / "test-output" / "screenshots"))
"""Where the browser tests save a screenshot of each main page (desktop and phone width)."""
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shoot(page: Page, name: str) -> None:
    """Save the page at desktop and phone width; fail if anything but a scrolling table
    makes it wider than the screen."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        wide = page.evaluate(
            "w => [...document.querySelectorAll('body *')]"
            ".filter(e => e.getBoundingClientRect().right > w && !e.closest('.scroll'))"
            ".map(e => e.tagName + '.' + e.className).slice(0, 5)",
            size["width"],
        )
        assert width <= size["width"], f"{name} is {width}px wide at {label} width: {wide}"
    page.set_viewport_size(DESKTOP)


@dataclass
class Server:
    url: str
    bank: Path
    database_url: str

    def sign_in(self, page: Page, username: str = "candidate") -> None:
        page.goto(f"{self.url}/login")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{self.url}/")


NUMERIC_QUESTION = """\
questions:
  - id: iterations-per-epoch
    type: numeric
    objectives: [D2.2.1]
    difficulty: easy
    source: "Worked Examples: iterations per epoch"
    stem: >
      A training set has 60,000 samples and the batch size is 50. How many iterations make
      one epoch?
    answer: 1200
    tolerance: 2%
    unit: iterations
    rationale: 60,000 samples / 50 samples per batch = 1,200 iterations.
    mistakes:
      - {value: 3000000, rationale: That multiplies the samples by the batch size; divide them.}
    explanation: One epoch passes every sample once, and each iteration takes one batch.
"""
"""A numeric question on an objective the fixture bank leaves empty (D2.2.1)."""


def every_type_bank(target: Path, numeric: bool = False) -> Path:
    """A copy of the fixture bank whose starter mock draws all seven questions, so every
    question type (single, multiple, ordering, matching) and the case appear; with
    `numeric`, an eighth, numeric question too (left out by default: paper printouts refuse
    numeric questions until their digit grid lands)."""
    shutil.copytree(FIXTURE_BANK, target)
    path = target / "blueprints" / "starter.yaml"
    blueprint = yaml.safe_load(path.read_text(encoding="utf-8"))
    blueprint.pop("objective_weights", None)
    blueprint.pop("difficulty_mix", None)
    blueprint["question_count"] = 7
    blueprint["objective_counts"] = {
        "D2.1.1": 1,
        "D2.1.2": 1,
        "D2.1.3": 1,
        "D2.2.3": 2,
        "D2.2.4": 1,
        "D2.3.1": 1,
    }
    if numeric:
        (target / "questions" / "numeric.yaml").write_text(NUMERIC_QUESTION, encoding="utf-8")
        blueprint["question_count"] = 8
        blueprint["objective_counts"]["D2.2.1"] = 1
    path.write_text(yaml.safe_dump(blueprint, sort_keys=False), encoding="utf-8")
    return target


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[Path], Server]]:
    """Start the app over a new database holding `bank`, with a candidate and an
    instructor whose cohort holds the candidate."""
    processes: list[tuple[subprocess.Popen[bytes], object]] = []

    def start(bank: Path) -> Server:
        home = tmp_path / f"server{len(processes)}"
        home.mkdir()
        database_url = f"sqlite+aiosqlite:///{home / 'exam.sqlite3'}"
        settings = Settings(database_url=database_url, bank_path=bank, data_dir=home / "var")

        async def seed() -> None:
            await import_folder(database_url, bank)
            people = await make_people(
                settings, ("candidate", "candidate"), ("instructor", "instructor")
            )
            await make_cohort(settings, people["instructor"], [people["candidate"]])

        def prepare() -> None:
            upgrade(database_url)
            asyncio.run(seed())

        # Playwright's sync API keeps an event loop running in this thread; the database
        # is made in another one.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(prepare).result()
        port = free_port()
        env = {
            **os.environ,
            "EXAM_DATABASE_URL": database_url,
            "EXAM_BANK_PATH": str(bank),
            "EXAM_DATA_DIR": str(home / "var"),
            "EXAM_ENV": "development",
            "EXAM_LOG_LEVEL": "warning",
            "EXAM_SWEEP_INTERVAL_SECONDS": "0",
        }
        log = (home / "server.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "exam_service", "serve", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append((process, log))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((home / "server.log").read_text(errors="replace"))
            time.sleep(0.1)
        return Server(url, bank, database_url)

    yield start
    for process, log in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()  # type: ignore[attr-defined]


@pytest.fixture
def browser() -> Iterator[Browser]:
    """One browser per test: Playwright's sync API keeps an event loop running in the
    main thread while it is open, which the async tests that may follow cannot share."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is not installed: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it (.ci/run); a skip there would hide a gap
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(
    `${event.effectiveDirective} refused ${event.blockedURI || "inline"} on ${event.documentURI}`
  );
});
"""
"""Run in every document before its own scripts: each Content-Security-Policy violation
is reported to the test."""


@pytest.fixture
def csp_violations() -> list[str]:
    """The Content-Security-Policy violations that the browser reported during the test."""
    return []


@pytest.fixture
def page(browser: Browser, csp_violations: list[str]) -> Iterator[Page]:
    """A tab in a fresh context; the test fails if any page it opened broke its CSP."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)

    def report(violation: str) -> None:
        csp_violations.append(violation)

    context.expose_function("reportCspViolation", report)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    tab = context.new_page()
    yield tab
    context.close()
    assert csp_violations == [], "the pages broke their Content-Security-Policy"
