"""Does instructors' heavy work slow candidates' saves, or refuse on-time answers?

What is measured: for each backend, one app instance (`python -m exam_service serve`)
with the default bank and a timed blueprint. C candidates (default 24) each save random
valid answers to their own attempt, one save every 100 ms, through
`PUT /api/v1/attempts/{id}/responses/{position}`.

1. Idle: the saves alone for S seconds (default 20), after 3 s of warm-up: save latency
   p50 and p99.
2. Heavy: the same saves for S seconds while three instructors repeat, back to back:
   - an import of a hostile 2 MiB file (`POST /api/v1/bank/imports`): a Moodle XML
     question whose HTML is `<a<a<a...` (quadratic in the old HTML reader), or a GIFT file
     of thousands of questions with one title (quadratic in the old renaming), in turn;
   - a scan upload of a 100-page PDF (`POST /api/v1/paper-exams/{id}/scans`): the paper
     exam's own answer sheets, 100 blank pages, drawn by the app in the setup;
   - the cohort report as PDF (`GET /api/v1/reports/cohorts/{id}?format=pdf`).
   Save latency p50 and p99 again, and what the instructors got (status counts; a 503
   means the instance's heavy-work pool was full and said when to come back).
3. The deadline: the attempts' deadline falls a few seconds after the heavy phase starts
   plus grace; every save sent before deadline plus grace must be stored (200). A save
   refused as late (409) although it was sent in time is counted and fails the run.

Target: heavy save p99 within 2x of the idle p99, and no on-time save refused. The exit
code is 1 when a target is missed (or a run failed).

Run: `.venv/bin/python bench/heavy.py` (SQLite and PostgreSQL, about 2 minutes), or
`.venv/bin/python bench/heavy.py --quick --backends sqlite`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402  (the bench folder is not a package)
    DEFAULT_POSTGRES,
    Server,
    bench_settings,
    each_backend,
    insert_blueprint,
    make_candidates,
    new_database,
    percentile,
    prepare,
    random_answer,
    summary_row,
)

from exam_service.auth.passwords import hash_password  # noqa: E402
from exam_service.auth.schemas import CurrentUser  # noqa: E402
from exam_service.auth.security import issue_token, jwt_auth  # noqa: E402
from exam_service.auth.service import create_user  # noqa: E402
from exam_service.db import one_session  # noqa: E402
from exam_service.settings import Settings  # noqa: E402

BLUEPRINT = "heavy-mock"
SAVE_PATH = "/api/v1/attempts/{attempt_id}/responses/{position}"
UPLOAD_LIMIT = 2 * 1024 * 1024 - 4096  # under EXAM_MAX_BODY_BYTES with the multipart framing


@dataclass
class Saver:
    token: str
    attempt_id: int
    items: list[dict[str, Any]]
    deadline: float
    """The attempt's deadline, as a Unix time."""


@dataclass
class Phase:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    late_refused: int = 0
    """409s for saves sent at least a second before deadline plus grace."""
    instructors: Counter[str] = field(default_factory=Counter)


@dataclass
class Outcome:
    backend: str
    idle: Phase
    heavy: Phase

    @property
    def ratio(self) -> float:
        return percentile(self.heavy.latencies_ms, 0.99) / percentile(self.idle.latencies_ms, 0.99)

    @property
    def refused(self) -> int:
        return self.idle.late_refused + self.heavy.late_refused


def hostile_files() -> list[tuple[str, bytes, str]]:
    """(file name, body, content type): two imports whose old readers were quadratic."""
    tags = "<a" * ((UPLOAD_LIMIT - 400) // 2)
    moodle = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<quiz><question type="multichoice">'
        "<name><text>hostile</text></name>"
        f'<questiontext format="html"><text><![CDATA[{tags}]]></text></questiontext>'
        '<answer fraction="100"><text>yes</text></answer>'
        '<answer fraction="0"><text>no</text></answer></question></quiz>\n'
    ).encode()
    one = "::same:: Pick one {=yes ~no}\n\n"
    gift = (one * (UPLOAD_LIMIT // len(one))).encode()
    return [("hostile.xml", moodle, "application/xml"), ("hostile.gift", gift, "text/plain")]


async def setup_staff(settings: Settings, base: str, candidates: int) -> tuple[str, int, int]:
    """An instructor's token, a cohort of the candidates, and a paper exam of the mock."""
    async with one_session(settings.database_url) as session:
        digest = hash_password(uuid.uuid4().hex)
        user = await create_user(
            session, "bench-teacher", "unused", "instructor", password_hash=digest
        )
        await session.commit()
        me = CurrentUser(user.id, user.username, user.role, user.display_name)
    token = issue_token(jwt_auth(settings), me, settings.token_ttl_seconds)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=120, headers=headers) as client:
        cohort = (await client.post("/api/v1/cohorts", json={"name": "Bench cohort"})).json()
        names = [f"heavy-{n:04d}" for n in range(candidates)]
        added = await client.post(
            f"/api/v1/cohorts/{cohort['id']}/members", json={"usernames": names}
        )
        added.raise_for_status()
        exam = await client.post(
            "/api/v1/paper-exams", json={"blueprint_id": "seed-mock", "title": "Bench scans"}
        )
        exam.raise_for_status()
    return token, cohort["id"], exam.json()["id"]


async def sheets_pdf(base: str, token: str, exam_id: int, pages: int) -> bytes:
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        reply = await client.get(
            f"/api/v1/paper-exams/{exam_id}/answer-sheets.pdf",
            params={"form": "A", "blank": pages},
            headers={"Authorization": f"Bearer {token}"},
        )
        reply.raise_for_status()
        return reply.content


async def start_attempts(base: str, tokens: list[str]) -> list[Saver]:
    savers = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for token in tokens:
            reply = await client.post(
                "/api/v1/attempts",
                json={"blueprint_id": BLUEPRINT},
                headers={"Authorization": f"Bearer {token}"},
            )
            reply.raise_for_status()
            attempt = reply.json()
            deadline = datetime.fromisoformat(attempt["deadline"]).timestamp()
            savers.append(Saver(token, attempt["id"], attempt["items"], deadline))
    return savers


async def save_loop(
    client: httpx.AsyncClient,
    saver: Saver,
    grace: float,
    phase: Phase,
    until: float,
    rng: random.Random,
) -> None:
    headers = {"Authorization": f"Bearer {saver.token}"}
    while time.time() < until:
        item = rng.choice(saver.items)
        url = SAVE_PATH.format(attempt_id=saver.attempt_id, position=item["position"])
        sent_at = time.time()
        if sent_at > saver.deadline + grace - 1:
            return  # a second before deadline plus grace: a save now may arrive too late
        began = time.perf_counter()
        reply = await client.put(
            url, json={"answer": random_answer(item, rng), "flagged": False}, headers=headers
        )
        phase.statuses[reply.status_code] += 1
        if reply.status_code == 200:
            phase.latencies_ms.append((time.perf_counter() - began) * 1000)
        elif reply.status_code == 409:
            phase.late_refused += 1
        await asyncio.sleep(max(0.0, 0.1 - (time.perf_counter() - began)))


async def instructor(
    client: httpx.AsyncClient, phase: Phase, until: float, name: str, call: Any
) -> None:
    turn = 0
    while time.time() < until:
        try:
            reply = await call(turn)
            phase.instructors[f"{name} {reply.status_code}"] += 1
            if reply.status_code == 503:
                await asyncio.sleep(float(reply.headers.get("retry-after", "1")))
        except httpx.HTTPError as exc:
            phase.instructors[f"{name} {type(exc).__name__}"] += 1
        turn += 1


async def run_phase(
    base: str,
    savers: list[Saver],
    grace: float,
    seconds: float,
    heavy: dict[str, Any] | None,
) -> Phase:
    phase = Phase()
    until = time.time() + seconds
    rng = random.Random(7)
    limits = httpx.Limits(max_connections=len(savers) + 8)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        tasks = [
            asyncio.create_task(
                save_loop(client, s, grace, phase, until, random.Random(rng.random()))
            )
            for s in savers
        ]
        if heavy is not None:
            headers = {"Authorization": f"Bearer {heavy['token']}"}
            files = hostile_files()

            def imports(turn: int) -> Any:
                name, body, media = files[turn % len(files)]
                return client.post(
                    "/api/v1/bank/imports",
                    files={"file": (name, body, media)},
                    data={"default_objective": "D2.1.1"},
                    headers=headers,
                )

            def scans(_turn: int) -> Any:
                return client.post(
                    f"/api/v1/paper-exams/{heavy['exam_id']}/scans",
                    content=heavy["scan"],
                    headers={**headers, "content-type": "application/pdf"},
                )

            def cohort_pdf(_turn: int) -> Any:
                return client.get(
                    f"/api/v1/reports/cohorts/{heavy['cohort_id']}",
                    params={"blueprint_id": BLUEPRINT, "format": "pdf"},
                    headers=headers,
                )

            tasks += [
                asyncio.create_task(instructor(client, phase, until, "import", imports)),
                asyncio.create_task(instructor(client, phase, until, "scan", scans)),
                asyncio.create_task(instructor(client, phase, until, "cohort-pdf", cohort_pdf)),
            ]
        await asyncio.gather(*tasks)
    return phase


def run_backend(backend: str, args: argparse.Namespace, folder: Path) -> Outcome:
    database = new_database(backend, folder, args.postgres_url)
    server: Server | None = None
    try:
        settings = bench_settings(database.url, folder)
        prepare(settings)
        # the deadline lands just after the heavy phase begins; saves go on through grace
        time_limit = int(args.seconds + 18 + args.seconds / 2)
        asyncio.run(
            insert_blueprint(settings, BLUEPRINT, "Heavy-load mock", time_limit, args.grace)
        )
        tokens = asyncio.run(make_candidates(settings, args.candidates, prefix="heavy"))
        server = Server(settings, folder / "server.log")
        server.start()
        server.wait_ready(60)
        token, cohort_id, exam_id = asyncio.run(setup_staff(settings, server.base, len(tokens)))
        scan = asyncio.run(sheets_pdf(server.base, token, exam_id, args.pages))
        print(f"  setup: scan PDF of {args.pages} pages, {len(scan) / 1e6:.1f} MB", flush=True)
        savers = asyncio.run(start_attempts(server.base, tokens))
        asyncio.run(run_phase(server.base, savers, args.grace, 3.0, None))  # warm-up, not counted
        idle = asyncio.run(run_phase(server.base, savers, args.grace, args.seconds, None))
        heavy = {"token": token, "cohort_id": cohort_id, "exam_id": exam_id, "scan": scan}
        loaded = asyncio.run(
            run_phase(server.base, savers, args.grace, args.seconds + args.grace + 5, heavy)
        )
        return Outcome(backend, idle, loaded)
    finally:
        if server is not None:
            server.stop()
        database.drop()


def print_outcome(outcome: Outcome) -> None:
    for label, phase in (("idle", outcome.idle), ("heavy", outcome.heavy)):
        lat = phase.latencies_ms
        print(
            f"  {label:<6} saves {len(lat):>6}  p50 {percentile(lat, 0.5):7.1f} ms  "
            f"p99 {percentile(lat, 0.99):7.1f} ms  statuses {dict(phase.statuses)}  "
            f"on-time saves refused {phase.late_refused}",
            flush=True,
        )
    print(f"  instructors: {dict(outcome.heavy.instructors)}")
    print(f"  heavy p99 / idle p99 = {outcome.ratio:.2f} (target <= 2)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--candidates", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--grace", type=int, default=10, help="grace seconds of the blueprint")
    parser.add_argument("--pages", type=int, default=100, help="pages of the scan upload")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--quick", action="store_true", help="8 candidates, 10 s phases")
    args = parser.parse_args(argv)
    if args.quick:
        args.candidates, args.seconds = 8, 10.0
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backend(s) {sorted(unknown)}; use sqlite and/or postgresql")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"heavy: {args.candidates} candidates saving every 100 ms, {args.seconds:g} s idle, "
        f"then as long again while instructors import hostile files, upload a "
        f"{args.pages}-page scan and pull cohort PDFs",
        flush=True,
    )
    outcomes = each_backend(
        "exam-bench-heavy-",
        args.backends,
        lambda backend, folder: run_backend(backend, args, folder),
        print_outcome,
    )
    failed = False
    for backend, result in outcomes.items():
        scenario = f"{backend}, {args.candidates} candidates"
        if isinstance(result, Exception):
            summary_row("heavy", scenario, "run", f"failed: {type(result).__name__}", "", False)
            failed = True
            continue
        idle = percentile(result.idle.latencies_ms, 0.99)
        busy = percentile(result.heavy.latencies_ms, 0.99)
        ok = result.ratio <= 2.0
        summary_row(
            "heavy",
            scenario,
            "save p99 under heavy work / idle",
            f"{result.ratio:.2f} ({busy:.0f} / {idle:.0f} ms)",
            "<= 2",
            ok,
        )
        summary_row(
            "heavy",
            scenario,
            "on-time saves refused",
            str(result.refused),
            "0",
            result.refused == 0,
        )
        failed = failed or not ok or result.refused > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
