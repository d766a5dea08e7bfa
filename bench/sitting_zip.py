"""All score reports of a sitting as one ZIP: how long, and does the server's memory stay
flat?

What is measured, per backend: one app instance (`python -m exam_service serve`, its
heavy-work pool as configured: EXAM_HEAVY_WORKERS, by default one fewer than the CPUs)
over the default bank. N candidates (default 500) in one cohort sit a sitting of
`seed-mock` (30 questions) whose review policy is `after_submit`, so each candidate's
report lists the questions they missed with the explanations (random answers: most of
them), the longest a score report gets. Set-up (not timed): attempts started over the
API, random valid answers written to the database in one batch, attempts submitted over
the API (graded by the server).

Then `GET /api/v1/sittings/{id}/score-reports.zip` is read as a stream and written to a
file, while a thread samples the resident memory (VmRSS in /proc) of the server process
and of its heavy-work processes every 20 ms. The server's peak (VmHWM) is reset (clear_refs)
just before the request, so the peak is the download's. Printed: the time to the first
byte and to the last, per report; the ZIP's size and entries (checked: one index and one
PDF per candidate, every CRC right); the server's RSS before, at its peak, and after the
first 10% and at the end of the stream, and the heavy workers' largest RSS.

Target: the server's memory does not grow with the reports: its RSS at the end of the
stream is within 8 MiB of its RSS after the first 10% of it (a server that held the ZIP in
memory would grow by the ZIP's size, tens of MiB), and its peak rise stays under a fifth
of the ZIP's size. The exit code is 1 when a target is missed (or a run failed).

Run: `.venv/bin/python bench/sitting_zip.py` (SQLite and PostgreSQL, about 3 minutes on 2
cores), or `.venv/bin/python bench/sitting_zip.py --quick --backends sqlite` (100).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402  (the bench folder is not a package)
    DEFAULT_POSTGRES,
    Server,
    bench_settings,
    each_backend,
    make_candidates,
    new_database,
    prepare,
    random_answer,
    summary_row,
)

from exam_service.auth.passwords import hash_password  # noqa: E402
from exam_service.auth.schemas import CurrentUser  # noqa: E402
from exam_service.auth.security import issue_token, jwt_auth  # noqa: E402
from exam_service.auth.service import create_user  # noqa: E402
from exam_service.db import one_session  # noqa: E402
from exam_service.models import Response  # noqa: E402
from exam_service.settings import Settings  # noqa: E402

MIB = 1024 * 1024
STEPS = (0.1, 0.25, 0.5, 0.75, 1.0)
FLAT_MIB = 8.0
PREFIX = "zip"


def rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    """A memory figure of a process in KiB from /proc (0 once it has gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (the fork server and the heavy-work processes)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        kids = []
        # a child is listed under the thread that started it (the pool starts from a thread)
        for listing in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                kids += [int(k) for k in listing.read_text(encoding="ascii").split()]
            except OSError:
                continue
        found += kids
        todo += kids
    return found


@dataclass
class Sampler:
    """Samples the server's and its children's RSS every 20 ms, with the bytes read so far."""

    pid: int
    received: int = 0
    samples: list[tuple[float, int, int]] = field(default_factory=list)
    """(seconds since start, bytes received, server RSS KiB)."""
    workers_peak_kib: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        began = time.perf_counter()
        while not self.stop.is_set():
            server = rss_kib(self.pid)
            self.samples.append((time.perf_counter() - began, self.received, server))
            for child in descendants(self.pid):
                self.workers_peak_kib = max(self.workers_peak_kib, rss_kib(child))
            time.sleep(0.02)

    def rss_at(self, share: float) -> int:
        """The server's RSS at the first sample where `share` of the bytes had arrived."""
        total = self.samples[-1][1] or 1
        return next((rss for _, got, rss in self.samples if got >= share * total), 0)


@dataclass
class Outcome:
    backend: str
    candidates: int
    seconds: float
    first_byte: float
    zip_bytes: int
    entries: int
    rss_before_kib: int
    peak_kib: int
    rss_tenth_kib: int
    rss_end_kib: int
    workers_peak_kib: int
    rss_steps_kib: list[int]
    """The server's RSS after 10%, 25%, 50%, 75% and 100% of the stream."""

    @property
    def growth_mib(self) -> float:
        return (self.rss_end_kib - self.rss_tenth_kib) / 1024

    @property
    def rise_mib(self) -> float:
        return (self.peak_kib - self.rss_before_kib) / 1024

    @property
    def ok(self) -> bool:
        return self.growth_mib <= FLAT_MIB and self.rise_mib <= self.zip_bytes / MIB / 5


async def setup(settings: Settings, base: str, count: int) -> tuple[str, int]:
    """An instructor, a cohort of `count` candidates and a sitting of the mock, open now,
    whose candidates have each submitted one attempt of random answers; returns the
    instructor's token and the sitting's id."""
    tokens = await make_candidates(settings, count, prefix=PREFIX)
    async with one_session(settings.database_url) as session:
        digest = hash_password(uuid.uuid4().hex)
        user = await create_user(
            session, "zip-teacher", "unused", "instructor", password_hash=digest
        )
        await session.commit()
        me = CurrentUser(user.id, user.username, user.role, user.display_name)
    teacher = issue_token(jwt_auth(settings), me, settings.token_ttl_seconds)
    headers = {"Authorization": f"Bearer {teacher}"}
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        cohort = (
            await client.post("/api/v1/cohorts", json={"name": "Zip"}, headers=headers)
        ).json()
        names = [f"{PREFIX}-{n:04d}" for n in range(count)]
        added = await client.post(
            f"/api/v1/cohorts/{cohort['id']}/members", json={"usernames": names}, headers=headers
        )
        added.raise_for_status()
        sitting = await client.post(
            "/api/v1/sittings",
            json={
                "blueprint_id": "seed-mock",
                "cohort_ids": [cohort["id"]],
                "opens_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
                "review_policy": "after_submit",
                "name": f"Bench sitting of {count}",
            },
            headers=headers,
        )
        sitting.raise_for_status()
        sitting_id = sitting.json()["id"]
        gate = asyncio.Semaphore(8)
        rng = random.Random(18)

        async def post(url: str, token: str, body: Any = None) -> dict[str, Any]:
            """POST, sent again while the server answers 503 (SQLite's write lock was
            busy for too long: nothing was written)."""
            for _ in range(20):
                async with gate:
                    reply = await client.post(
                        url, json=body, headers={"Authorization": f"Bearer {token}"}
                    )
                if reply.status_code != 503:
                    reply.raise_for_status()
                    answer: dict[str, Any] = reply.json()
                    return answer
                await asyncio.sleep(float(reply.headers.get("retry-after", "1")))
            reply.raise_for_status()
            return {}

        attempts = await asyncio.gather(
            *(post("/api/v1/attempts", t, {"sitting_id": sitting_id}) for t in tokens)
        )
        now = datetime.now(UTC)
        rows = [
            {
                "attempt_id": attempt["id"],
                "position": item["position"],
                "answer": random_answer(item, rng),
                "flagged": False,
                "locked": False,
                "saved_at": now,
            }
            for attempt in attempts
            for item in attempt["items"]
        ]
        async with one_session(settings.database_url) as session:
            await session.execute(insert(Response), rows)
            await session.commit()

        await asyncio.gather(
            *(
                post(f"/api/v1/attempts/{a['id']}/submit", t)
                for t, a in zip(tokens, attempts, strict=True)
            )
        )
    return teacher, sitting_id


def download(
    server: Server, token: str, sitting_id: int, target: Path
) -> tuple[Sampler, float, float]:
    """Read the ZIP as a stream into `target` while sampling memory; returns the sampler,
    the seconds to the first byte and to the last."""
    pid = server.process.pid if server.process else 0
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM: the peak is the download's
    sampler = Sampler(pid)
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    time.sleep(0.1)  # a few samples before the request
    began = time.perf_counter()
    first = 0.0
    url = f"{server.base}/api/v1/sittings/{sitting_id}/score-reports.zip"
    with (
        httpx.stream(
            "GET", url, headers={"Authorization": f"Bearer {token}"}, timeout=600
        ) as reply,
        target.open("wb") as out,
    ):
        reply.raise_for_status()
        for chunk in reply.iter_raw():
            if not first:
                first = time.perf_counter() - began
            out.write(chunk)
            sampler.received += len(chunk)
    total = time.perf_counter() - began
    time.sleep(0.1)
    sampler.stop.set()
    thread.join()
    return sampler, first, total


def run_backend(backend: str, args: argparse.Namespace, folder: Path) -> Outcome:
    database = new_database(backend, folder, args.postgres_url)
    server: Server | None = None
    try:
        settings = bench_settings(database.url, folder)
        prepare(settings)
        server = Server(settings, folder / "server.log")
        server.start()
        server.wait_ready(60)
        began = time.perf_counter()
        token, sitting_id = asyncio.run(setup(settings, server.base, args.candidates))
        print(
            f"  setup: {args.candidates} attempts graded in {time.perf_counter() - began:.0f} s",
            flush=True,
        )
        pid = server.process.pid if server.process else 0
        before = rss_kib(pid)
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "reports.zip"
            sampler, first, total = download(server, token, sitting_id, target)
            peak = rss_kib(pid, "VmHWM")
            with zipfile.ZipFile(target) as archive:
                names = archive.namelist()
                broken = archive.testzip()
            size = target.stat().st_size
        pdfs = [n for n in names if n.endswith(".pdf")]
        if broken or names[0] != "index.csv" or len(pdfs) != args.candidates:
            raise RuntimeError(
                f"the ZIP holds {len(pdfs)} PDFs for {args.candidates} candidates"
                f" (first entry {names[0]!r}, bad CRC in {broken!r})"
            )
        return Outcome(
            backend=backend,
            candidates=args.candidates,
            seconds=total,
            first_byte=first,
            zip_bytes=size,
            entries=len(names),
            rss_before_kib=before,
            peak_kib=peak,
            rss_tenth_kib=sampler.rss_at(0.1),
            rss_end_kib=sampler.samples[-1][2],
            workers_peak_kib=sampler.workers_peak_kib,
            rss_steps_kib=[sampler.rss_at(share) for share in STEPS],
        )
    finally:
        if server is not None:
            server.stop()
        database.drop()


def print_outcome(o: Outcome) -> None:
    print(
        f"  ZIP of {o.entries} entries, {o.zip_bytes / MIB:.1f} MiB: first byte after "
        f"{o.first_byte:.2f} s, all in {o.seconds:.1f} s ({1000 * o.seconds / o.candidates:.0f} ms "
        "per report)",
        flush=True,
    )
    print(
        f"  server RSS: {o.rss_before_kib / 1024:.1f} MiB before, peak {o.peak_kib / 1024:.1f} MiB "
        f"(+{o.rise_mib:.1f}); after 10% of the stream {o.rss_tenth_kib / 1024:.1f} MiB, at the "
        f"end {o.rss_end_kib / 1024:.1f} MiB ({o.growth_mib:+.1f}; target <= {FLAT_MIB:g})",
        flush=True,
    )
    steps = ", ".join(f"{kib / 1024:.1f}" for kib in o.rss_steps_kib)
    shares = "/".join(f"{100 * share:g}" for share in STEPS)
    print(f"  server RSS after {shares}% of the stream: {steps} MiB", flush=True)
    print(f"  heavy-work processes: largest RSS {o.workers_peak_kib / 1024:.1f} MiB", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--candidates", type=int, default=500)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--quick", action="store_true", help="100 candidates")
    args = parser.parse_args(argv)
    if args.quick:
        args.candidates = 100
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backend(s) {sorted(unknown)}; use sqlite and/or postgresql")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"sitting_zip: the score reports of {args.candidates} candidates of one sitting as one "
        "streamed ZIP; time and the server's memory",
        flush=True,
    )
    outcomes = each_backend(
        "exam-bench-zip-",
        args.backends,
        lambda backend, folder: run_backend(backend, args, folder),
        print_outcome,
    )
    failed = False
    for backend, result in outcomes.items():
        scenario = f"{backend}, {args.candidates} candidates"
        if isinstance(result, Exception):
            summary_row(
                "sitting_zip", scenario, "run", f"failed: {type(result).__name__}", "", False
            )
            failed = True
            continue
        summary_row(
            "sitting_zip",
            scenario,
            "ZIP of score reports",
            f"{result.seconds:.1f} s, {result.zip_bytes / MIB:.1f} MiB",
        )
        summary_row(
            "sitting_zip",
            scenario,
            "server RSS: peak rise; growth 10% -> end",
            f"+{result.rise_mib:.1f} MiB; {result.growth_mib:+.1f} MiB",
            f"rise < ZIP/5; growth <= {FLAT_MIB:g} MiB",
            result.ok,
        )
        failed = failed or not result.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
