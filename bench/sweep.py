"""Attempts that expire while two app instances sweep: each must be graded exactly once,
with its deadline as its finish time.

What is measured, per backend (PostgreSQL, then SQLite): TWO app instances on one fresh
database (two `python -m exam_service serve` processes on two ports), each running the
background expiry sweep (`exams.service.sweep_forever`) every EXAM_SWEEP_INTERVAL_SECONDS
(`--sweep`, default 1 s). A blueprint `bench-sweep` (the `seed-mock` exam, 30 items, with
`--time-limit` seconds and `--grace` seconds of grace) is inserted directly and N candidates
(`--attempts`, default 300) are made in the database with real tokens. Each candidate, on
the two instances in turn, starts one attempt, saves `--saves` answers at distinct random
positions (stopping a second before its deadline) and never submits. The time limit is
short, so the first attempts expire while later ones are still being started. After the
deadline nothing touches the attempts: only the two sweeps close them, and they race for
the same rows (each round takes the expired attempts in deadline order and closes them one
at a time through the guarded UPDATE of `close_attempt`).

"Deadline" is the attempt's `deadline` column: start plus the time limit, WITHOUT the
grace. A sweep closes an attempt once `closes_at` (deadline plus grace) has passed and
stores the deadline as its finish time (`submitted_at`): the README's "its finish time is
the deadline".

Checked once no attempt is left in progress (or after a time-out): every attempt has
exactly one `results` row ("graded once") and none is "missing"; status `expired` with
`submitted_at` = `deadline` (else "wrong finish time"); every acknowledged save is stored
("lost" otherwise). `results` is keyed by the attempt, so a second
grading cannot add a row: it fails with a unique-key error in a server log. "Double
graded" counts attempts with more than one row, such log lines and "the expiry sweep
failed" lines. Each instance logs "closed N expired attempt(s)" per sweep round (Litestar's
default logging keeps INFO): the totals per instance show how the work was shared and must
add up to the number of attempts (with no such line in either log, they are "not logged").

Printed per backend: attempts, graded once, double graded, missing, wrong finish time,
lost, closures per instance, and the time from the deadline to `graded_at` (p50/p99/max;
it includes the grace), also counted from the end of the grace. Exit code 1 if anything
is wrong or a run failed, else 0.

Under `make bench` the headline figures also go to the table it ends with
(`common.summary_row`; `bench/summary.py` prints it).

Run: `.venv/bin/python bench/sweep.py` (both backends, about 80 s on 2 cores), or
`.venv/bin/python bench/sweep.py --attempts 40 --backends sqlite`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402  (the bench folder is not a package)
    DEFAULT_POSTGRES,
    GRADE_ERRORS,
    Server,
    bench_settings,
    each_backend,
    insert_blueprint,
    make_candidates,
    new_database,
    open_attempts,
    percentile,
    prepare,
    random_answer,
    summary_row,
    timestamp,
)

from exam_service.db import create_engine  # noqa: E402
from exam_service.models import Attempt, Response, Result  # noqa: E402

BLUEPRINT = "bench-sweep"
INSTANCES = 2
SWEEP_FAILED = "the expiry sweep failed"
CLOSED_LINE = re.compile(r"closed (\d+) expired attempt")
"""The INFO line `sweep_forever` logs after a round that closed attempts."""


@dataclass
class Save:
    position: int
    answer: Any
    status: int | None = None


@dataclass
class Candidate:
    token: str
    client: httpx.AsyncClient
    attempt_id: int | None = None
    deadline: float = 0.0
    saves: list[Save] = field(default_factory=list)
    skipped: int = 0
    """Saves not sent because the deadline was under a second away."""


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    """`start 201`, `save 200`, `save ConnectTimeout`, ..."""
    started_s: float = 0.0
    """Seconds from the first start request until every candidate had saved."""


async def sit(candidate: Candidate, slots: asyncio.Semaphore, saves: int, tally: Tally) -> None:
    """Start one attempt, save a few answers, never submit."""
    rng = random.Random()
    headers = {"Authorization": f"Bearer {candidate.token}"}

    async def call(phase: str, method: str, url: str, body: Any) -> httpx.Response | None:
        async with slots:
            try:
                reply = await candidate.client.request(method, url, json=body, headers=headers)
            except httpx.TransportError as exc:
                tally.statuses[f"{phase} {type(exc).__name__}"] += 1
                return None
        tally.statuses[f"{phase} {reply.status_code}"] += 1
        return reply

    reply = await call("start", "POST", "/api/v1/attempts", {"blueprint_id": BLUEPRINT})
    if reply is None or not reply.is_success:
        return
    attempt = reply.json()
    candidate.attempt_id = attempt["id"]
    candidate.deadline = timestamp(attempt["deadline"])
    for item in rng.sample(attempt["items"], min(saves, len(attempt["items"]))):
        if time.time() > candidate.deadline - 1:
            candidate.skipped += 1
            continue
        answer = random_answer(item, rng)
        save = Save(item["position"], answer)
        candidate.saves.append(save)
        url = f"/api/v1/attempts/{candidate.attempt_id}/responses/{item['position']}"
        reply = await call("save", "PUT", url, {"answer": answer, "flagged": False})
        save.status = None if reply is None else reply.status_code


async def start_and_save(
    servers: list[Server], tokens: list[str], args: argparse.Namespace, tally: Tally
) -> list[Candidate]:
    per_instance = max(1, args.concurrency // len(servers))
    limits = httpx.Limits(max_connections=per_instance, max_keepalive_connections=per_instance)
    timeout = httpx.Timeout(60.0, pool=None)
    clients = [httpx.AsyncClient(base_url=s.base, timeout=timeout, limits=limits) for s in servers]
    candidates = [Candidate(token, clients[n % len(clients)]) for n, token in enumerate(tokens)]
    slots = asyncio.Semaphore(args.concurrency)
    began = time.monotonic()
    try:
        await asyncio.gather(*(sit(c, slots, args.saves, tally) for c in candidates))
    finally:
        for client in clients:
            await client.aclose()
    tally.started_s = time.monotonic() - began
    return candidates


@dataclass
class Checks:
    attempts: int = 0
    graded_once: int = 0
    more_than_once: int = 0
    missing: int = 0
    not_expired: Counter[str] = field(default_factory=Counter)
    wrong_finish: int = 0
    acknowledged: int = 0
    lost: int = 0
    after_deadline_s: list[float] = field(default_factory=list)
    after_grace_s: list[float] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


async def check_database(database_url: str, candidates: list[Candidate]) -> Checks:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            attempts = (
                await connection.execute(
                    select(
                        Attempt.id,
                        Attempt.status,
                        Attempt.deadline,
                        Attempt.closes_at,
                        Attempt.submitted_at,
                    ).where(Attempt.blueprint_id == BLUEPRINT)
                )
            ).all()
            results = {
                attempt_id: (count, graded_at)
                for attempt_id, count, graded_at in await connection.execute(
                    select(Result.attempt_id, func.count(), func.min(Result.graded_at)).group_by(
                        Result.attempt_id
                    )
                )
            }
            stored = {
                (a, p): answer
                for a, p, answer in await connection.execute(
                    select(Response.attempt_id, Response.position, Response.answer)
                )
            }
    finally:
        await engine.dispose()
    checks = Checks(attempts=len(attempts))
    for row in attempts:
        count, graded_at = results.get(row.id, (0, None))
        checks.graded_once += count == 1
        checks.more_than_once += count > 1
        checks.missing += count == 0
        if row.status != "expired":
            checks.not_expired[row.status] += 1
        if row.status != "expired" or row.submitted_at != row.deadline:
            checks.wrong_finish += 1
            if len(checks.examples) < 5:
                checks.examples.append(
                    f"attempt {row.id}: status {row.status}, deadline {row.deadline}, "
                    f"finished {row.submitted_at}"
                )
        if graded_at is not None and row.deadline is not None and row.closes_at is not None:
            checks.after_deadline_s.append((graded_at - row.deadline).total_seconds())
            checks.after_grace_s.append((graded_at - row.closes_at).total_seconds())
    for candidate in candidates:
        for save in candidate.saves:
            if save.status != 200:
                continue
            checks.acknowledged += 1
            found = stored.get((candidate.attempt_id or 0, save.position))
            if found != save.answer:
                checks.lost += 1
                if len(checks.examples) < 5:
                    checks.examples.append(
                        f"attempt {candidate.attempt_id} position {save.position}: "
                        f"acknowledged {save.answer!r}, stored {found!r}"
                    )
    return checks


@dataclass
class Outcome:
    backend: str
    tally: Tally
    checks: Checks
    closed_by: list[int] | None
    """Attempts each instance's sweeps reported closing, from its log; None when neither log
    has a "closed N" line (the app's INFO logging is off)."""
    log_errors: list[str]
    skipped: int
    open_left: int
    wait_s: float
    grace: int

    @property
    def errors(self) -> int:
        """Starts and saves that got no 2xx (a timeout, a refusal, a 5xx)."""
        return sum(
            n for key, n in self.tally.statuses.items() if not key.split()[1].startswith("2")
        )

    @property
    def double_graded(self) -> int:
        return self.checks.more_than_once + len(self.log_errors)

    @property
    def broken(self) -> bool:
        c = self.checks
        return bool(
            self.double_graded
            or self.errors
            or c.missing
            or c.wrong_finish
            or c.lost
            or self.open_left
            or c.graded_once != c.attempts
            or (self.closed_by is not None and sum(self.closed_by) != c.attempts)
        )

    @property
    def closed_text(self) -> str:
        if self.closed_by is None:
            return "not logged"
        return " / ".join(map(str, self.closed_by))


def run_backend(backend: str, args: argparse.Namespace, folder: Path) -> Outcome:
    database = new_database(backend, folder, args.postgres_url)
    servers: list[Server] = []
    try:
        settings = bench_settings(database.url, folder)
        prepare(settings)
        asyncio.run(
            insert_blueprint(settings, BLUEPRINT, "Benchmark sweep", args.time_limit, args.grace)
        )
        tokens = asyncio.run(make_candidates(settings, args.attempts, prefix="sweep"))
        for n in range(INSTANCES):
            servers.append(Server(settings, folder / f"server-{n}.log", args.sweep))
            servers[-1].start()
        for server in servers:
            server.wait_ready(60)
        tally = Tally()
        candidates = asyncio.run(start_and_save(servers, tokens, args, tally))
        last_close = max((c.deadline for c in candidates), default=time.time()) + args.grace
        print(
            f"  {len(tokens)} attempts started and saved in {tally.started_s:.1f} s "
            f"({dict(sorted(tally.statuses.items()))}); the last closes in "
            f"{last_close - time.time():.1f} s; waiting for the sweeps",
            flush=True,
        )
        began = time.monotonic()
        give_up = last_close + args.sweep * 10 + 60
        left = asyncio.run(open_attempts(database.url))
        while left and time.time() < give_up:
            time.sleep(0.5)
            left = asyncio.run(open_attempts(database.url))
        waited = time.monotonic() - began
        for server in servers:
            server.stop()
        closed_by: list[int] | None = [closed_in_log(s) for s in servers]
        if not any(closed_by or ()):
            closed_by = None
        log_errors = [line for s in servers for line in s.log_lines(*GRADE_ERRORS, SWEEP_FAILED)]
        checks = asyncio.run(check_database(database.url, candidates))
        skipped = sum(c.skipped for c in candidates)
        return Outcome(
            backend, tally, checks, closed_by, log_errors, skipped, left, waited, args.grace
        )
    finally:
        for server in servers:
            server.stop()
        database.drop()


def closed_in_log(server: Server) -> int:
    """Attempts the instance's sweeps closed, summed over its "closed N" log lines."""
    found = (CLOSED_LINE.search(line) for line in server.log_lines("expired attempt"))
    return sum(int(m.group(1)) for m in found if m)


def spread(values: list[float]) -> str:
    """p50 / p99 / max in seconds."""
    if not values:
        return "-"
    return " / ".join(
        f"{v:.2f}" for v in (percentile(values, 0.5), percentile(values, 0.99), max(values))
    )


def print_outcome(outcome: Outcome) -> None:
    c = outcome.checks
    print(
        f"  all closed {outcome.wait_s:.1f} s after the saves ended; left in progress "
        f"{outcome.open_left}; saves not sent (deadline under 1 s away) {outcome.skipped}\n"
        f"  closed by the sweeps of instance 1 / 2 (their logs): {outcome.closed_text}\n"
        f"  attempts {c.attempts}: graded once {c.graded_once}, more than once "
        f"{c.more_than_once}, missing {c.missing}; grading errors in the server logs "
        f"{len(outcome.log_errors)}\n"
        f"  status other than expired {dict(c.not_expired) or 0}; finish time != deadline "
        f"(or not expired) {c.wrong_finish}\n"
        f"  start and save errors {outcome.errors}; acknowledged saves {c.acknowledged}, LOST "
        f"{c.lost}\n"
        f"  deadline to graded_at p50 / p99 / max: {spread(c.after_deadline_s)} s (includes "
        f"the {outcome.grace} s grace); end of grace to graded_at: {spread(c.after_grace_s)} s"
    )
    for example in c.examples:
        print(f"    {example}")
    for line in outcome.log_errors[:5]:
        print(f"    server log: {line[:200]}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--attempts", type=int, default=300, help="one candidate each")
    parser.add_argument("--saves", type=int, default=3, help="answers saved per attempt")
    parser.add_argument("--time-limit", type=int, default=15, help="seconds, the blueprint's")
    parser.add_argument("--grace", type=int, default=2, help="the blueprint's grace_seconds")
    parser.add_argument("--sweep", type=int, default=1, help="EXAM_SWEEP_INTERVAL_SECONDS")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backend(s) {sorted(unknown)}; use sqlite and/or postgresql")
    if args.attempts < 1 or args.saves < 0 or args.time_limit < 5 or args.grace < 0:
        parser.error("need --attempts >= 1, --saves >= 0, --time-limit >= 5 and --grace >= 0")
    if args.sweep < 1 or args.concurrency < 2:
        parser.error("need --sweep >= 1 and --concurrency >= 2")
    return args


def record_summary(backend: str, result: Outcome | Exception, args: argparse.Namespace) -> None:
    scenario = f"{backend}, {INSTANCES} apps, {args.attempts} attempts"
    if isinstance(result, Exception):
        summary_row("sweep", scenario, "run", f"failed: {type(result).__name__}", "", False)
        return
    c = result.checks
    summary_row(
        "sweep",
        scenario,
        "graded once",
        f"{c.graded_once} of {c.attempts}",
        "all",
        c.graded_once == c.attempts == args.attempts,
    )
    for figure, count in (
        ("double graded", result.double_graded),
        ("missing results", c.missing),
        ("finish time != deadline", c.wrong_finish),
        ("lost answers", c.lost),
    ):
        summary_row("sweep", scenario, figure, str(count), "0", count == 0)
    summary_row(
        "sweep",
        scenario,
        "closed by instance 1 / 2",
        result.closed_text,
        f"sum {c.attempts}",
        None if result.closed_by is None else sum(result.closed_by) == c.attempts,
    )
    summary_row(
        "sweep",
        scenario,
        "deadline to graded p50 / p99 / max",
        f"{spread(c.after_deadline_s)} s (grace {args.grace} s)",
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"sweep: {args.attempts} attempts at {BLUEPRINT} (30 items, {args.time_limit} s + "
        f"{args.grace} s grace) on {INSTANCES} app instances, {args.saves} answers saved "
        f"each, none submitted; each instance sweeps every {args.sweep} s",
        flush=True,
    )
    outcomes = each_backend(
        "exam-bench-sweep-",
        args.backends,
        lambda backend, folder: run_backend(backend, args, folder),
        print_outcome,
    )
    print(
        f"\n{'backend':<12}{'attempts':>9}{'once':>6}{'double':>7}{'missing':>8}"
        f"{'wrong finish':>13}{'lost':>5}{'closed 1 / 2':>14}  deadline to graded p50/p99/max s"
    )
    broken = False
    for backend, result in outcomes.items():
        record_summary(backend, result, args)
        if isinstance(result, Exception):
            print(f"{backend:<12}  run failed: {type(result).__name__}")
            broken = True
            continue
        c = result.checks
        closed = result.closed_text
        print(
            f"{backend:<12}{c.attempts:>9}{c.graded_once:>6}{result.double_graded:>7}"
            f"{c.missing:>8}{c.wrong_finish:>13}{c.lost:>5}{closed:>14}"
            f"  {spread(c.after_deadline_s)}"
        )
        broken = broken or result.broken
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
