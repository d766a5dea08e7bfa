"""A cohort's exam day: N candidates sit one timed exam at once; nothing may be lost or
graded twice.

What is measured, per backend: a temporary SQLite file with one app instance, and a fresh
PostgreSQL database with TWO app instances (two `python -m exam_service serve` processes
on two ports, each running its own background sweep every EXAM_SWEEP_INTERVAL_SECONDS=2 s;
candidates alternate between them). A blueprint `bench-cohort` (the `seed-mock` exam, 30
items, with `--time-limit` seconds and `--grace` seconds of grace) is inserted directly;
the candidates and their tokens are made in the database (no sign-ins).

The candidates are split over `--clients` client processes (default 4), so that no one
event loop has to drive the whole class: on this 2-core machine one process driving 500
candidates was itself stalled for a good part of every second, and a reply that arrives
while the loop is stalled waits, which the latency figures then charge to the server. Each
process runs its candidates as asyncio tasks with one aiohttp session per instance and its
share of the `--concurrency` requests in flight, measures its own requests, and sends its
latencies, statuses and candidates back to this process, which computes the percentiles
over all of them. Each process also runs a ticker (a 10 ms sleep, again and again) and
records every tick that wakes 5 ms or more late, and whether the process was on a CPU
meanwhile (its own work) or waiting for one (other processes); each save's time is
compared with those stalls.

Each candidate starts the exam at a random moment within `--start-spread` seconds, answers
every item in a random order with think time between saves (uniform between `--think-min`
and `--think-max` seconds, scaled so the saves fill about 60% of the time limit), changes a
share of its answers (`--changes`), and stops saving 2 s before its deadline. Then, by
role:

- submitters (`--submit-share`) submit 0.5-3 s before the deadline;
- late touchers (half of the rest) wait until after deadline + grace, try one more save
  (it must get 409) and then either GET the attempt or POST submit: the "touch" closes
  the attempt as expired unless a sweep got there first;
- the others abandon the attempt: only the sweeps close it.

Afterwards the database is checked: every save that got a 200 is stored with the last
acknowledged answer per (attempt, position) (or with an answer sent after it that got no
reply); every attempt has exactly one `results` row and none is left `in_progress`;
expired attempts have `submitted_at` = deadline; attempts whose submit answered
`submitted` are stored so, within their grace; the options grading recorded as chosen
(`attempt_items.chosen`) match the stored answers (grading saw the final answers). Two
graders racing for one attempt would show up as a second result row, an IntegrityError in
a server log, or a 5xx other than 503 (a busy database that wrote nothing) on a submit or
touch; all three are counted as double grades.

Printed per backend: HTTP errors by phase and status, lost answers, double grades, the
checks above, p50/p99 latency per phase (start, save, submit, touch; measured from when
the request got a slot under the concurrency limit), each client process's loop stalls
(share of its exam, of which on its own CPU work, the worst second, the longest stall),
the share of all saves' time and of the slowest 1% of saves' time during which their
client's loop was stalled (an upper bound on what the client adds to them), how long
after the grace ended the last abandoned attempt was graded, and a timeline: per 5 s of
the exam, the saves' p50, p99 and slowest, how many of the slowest 1% fell there, and how
many starts, submits and touches began there (which burst the tail comes from). Exit code
1 if any answer was lost, any attempt graded twice or not at all, or a run failed; else 0.

Under `make bench` the headline figures also go to the table it ends with
(`common.summary_row`; `bench/summary.py` prints it).

Run: `.venv/bin/python bench/cohort_day.py` (100 candidates on SQLite, the class the default
set-up is meant for, and 500 on PostgreSQL; about 3 minutes on 2 cores), or
`.venv/bin/python bench/cohort_day.py --quick --backends sqlite`.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import multiprocessing
import multiprocessing.connection
import random
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
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
from exam_service.models import (  # noqa: E402
    Attempt,
    AttemptItem,
    QuestionRevision,
    Response,
    Result,
)

BLUEPRINT = "bench-cohort"
PHASES = ("start", "save", "submit", "touch")
STOP_SAVING_BEFORE = 2.0
"""Seconds before its deadline a candidate stops saving."""
CLIENTS = 4
"""Client processes by default."""


@dataclass
class Sent:
    seq: int
    position: int
    answer: Any
    acked: bool = False


@dataclass
class Candidate:
    token: str
    role: str
    """`submit`, `touch-get`, `touch-submit` or `abandon`."""
    server: int
    """Index of the app instance this candidate talks to."""
    attempt_id: int | None = None
    deadline: float = 0.0
    sent: list[Sent] = field(default_factory=list)
    submit_sent_early: bool = False
    """A submitter sent its submit before the deadline (it may still reach the server late)."""
    submit_reply: str | None = None
    """The status in the submit's 200 reply: `submitted`, or `expired` if processed late."""
    skipped: int = 0
    """Saves not sent because the deadline was near."""


@dataclass
class Tally:
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PHASES})
    statuses: dict[str, Counter[int]] = field(
        default_factory=lambda: {p: Counter() for p in PHASES}
    )
    transport_errors: Counter[str] = field(default_factory=Counter)
    late_saves_refused: int = 0
    """Saves after deadline + grace answered 409, as they must be."""
    late_saves_accepted: int = 0
    began: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PHASES})
    """Per phase, in the order of `latencies_ms`: when each request got its slot (epoch
    seconds), for the timeline."""
    save_stalled_ms: list[float] = field(default_factory=list)
    """Per save, in the order of `latencies_ms["save"]`: how much of its time the client
    process's own event loop was stalled (see `Ticker`)."""

    def absorb(self, other: Tally) -> None:
        """Add another client process's tally to this one."""
        for phase in PHASES:
            self.latencies_ms[phase] += other.latencies_ms[phase]
            self.statuses[phase].update(other.statuses[phase])
            self.began[phase] += other.began[phase]
        self.transport_errors.update(other.transport_errors)
        self.late_saves_refused += other.late_saves_refused
        self.late_saves_accepted += other.late_saves_accepted
        self.save_stalled_ms += other.save_stalled_ms


TICK_S = 0.01
"""The ticker's period."""
STALL_MS = 5.0
"""A tick at least this late counts, with all of its lateness, as a stall of the loop."""


@dataclass
class Stalls:
    """One client process's event-loop stalls over its exam."""

    client: int
    candidates: int
    seconds: float = 0.0
    spans: list[tuple[float, float]] = field(default_factory=list)
    """(due, woke) of each late tick, `time.perf_counter()` seconds, in order."""
    busy_s: float = 0.0
    """Of the stalled time, what the process spent on a CPU (its own work); the rest it
    waited for a CPU (other processes on the machine)."""

    @property
    def stalled_s(self) -> float:
        return sum(woke - due for due, woke in self.spans)

    @property
    def share(self) -> float:
        return self.stalled_s / self.seconds if self.seconds > 0 else 0.0

    @property
    def busy_share(self) -> float:
        return self.busy_s / self.seconds if self.seconds > 0 else 0.0

    @property
    def longest_ms(self) -> float:
        return max((woke - due for due, woke in self.spans), default=0.0) * 1000

    @property
    def worst_second_ms(self) -> float:
        """The most stalled time within one second of the exam (by the tick's due time)."""
        per_second: Counter[int] = Counter()
        for due, woke in self.spans:
            per_second[int(due)] += round((woke - due) * 1_000_000)
        return max(per_second.values(), default=0) / 1000

    def within(self, spans: list[tuple[float, float]]) -> list[float]:
        """For each (began, ended) span, the ms of it during which the loop was stalled."""
        starts = [due for due, _ in self.spans]
        ends = [woke for _, woke in self.spans]
        before = [0.0]
        for due, woke in self.spans:
            before.append(before[-1] + woke - due)
        out = []
        for began, ended in spans:
            first = bisect.bisect_right(ends, began)
            stop = bisect.bisect_left(starts, ended)
            if first >= stop:
                out.append(0.0)
                continue
            total = before[stop] - before[first]
            total -= max(0.0, began - starts[first]) + max(0.0, ends[stop - 1] - ended)
            out.append(max(0.0, total) * 1000)
        return out


class Ticker:
    """Sleeps `TICK_S` again and again on the client's loop and records how late it wakes:
    a late tick is time in which the loop ran other callbacks or the process got no CPU,
    so a reply that arrived then waited too."""

    def __init__(self, stalls: Stalls) -> None:
        self.stalls = stalls

    async def run(self) -> None:
        while True:
            cpu = time.process_time()
            due = time.perf_counter() + TICK_S
            await asyncio.sleep(TICK_S)
            woke = time.perf_counter()
            if (woke - due) * 1000 >= STALL_MS:
                self.stalls.spans.append((due, woke))
                self.stalls.busy_s += min(woke - due, time.process_time() - cpu)


@dataclass
class Reply:
    """An HTTP reply, read whole."""

    status_code: int
    body: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """One instance's connections for one client process: aiohttp, whose C parser costs a
    fraction of the CPU of httpx's pure-Python one; the load generator shares the 2 cores
    with the servers and the database, and in a first run it used 29 s of CPU against the
    servers' 35."""

    def __init__(self, base: str, connections: int) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections, limit_per_host=connections),
            timeout=aiohttp.ClientTimeout(total=60.0),
        )

    async def request(self, method: str, url: str, body: Any, token: str) -> Reply:
        async with self.session.request(
            method, self.base + url, json=body, headers={"Authorization": f"Bearer {token}"}
        ) as reply:
            return Reply(reply.status, await reply.read())

    async def close(self) -> None:
        await self.session.close()


class Load:
    """Requests with at most `limit` in flight; latency, status and errors per phase."""

    def __init__(self, limit: int, tally: Tally) -> None:
        self.slots = asyncio.Semaphore(limit)
        self.tally = tally
        self.save_spans: list[tuple[float, float]] = []

    async def call(
        self, phase: str, client: Client, method: str, url: str, token: str, body: Any
    ) -> Reply | None:
        async with self.slots:
            began = time.perf_counter()
            wall = time.time()
            try:
                reply = await client.request(method, url, body, token)
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.tally.transport_errors[f"{phase}: {type(exc).__name__}"] += 1
                return None
            ended = time.perf_counter()
            self.tally.latencies_ms[phase].append((ended - began) * 1000)
            self.tally.began[phase].append(wall)
            if phase == "save":
                self.save_spans.append((began, ended))
        self.tally.statuses[phase][reply.status_code] += 1
        return reply


async def sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.time()))


async def sit(
    candidate: Candidate,
    client: Client,
    load: Load,
    args: argparse.Namespace,
    seed: float,
) -> None:
    """One candidate's exam, from start to submit (or abandonment)."""
    rng = random.Random(seed)
    await asyncio.sleep(rng.uniform(0, args.start_spread))
    reply = await load.call(
        "start",
        client,
        "POST",
        "/api/v1/attempts",
        candidate.token,
        {"blueprint_id": BLUEPRINT},
    )
    if reply is None or not reply.is_success:
        return
    attempt = reply.json()
    candidate.attempt_id = attempt["id"]
    candidate.deadline = timestamp(attempt["deadline"])
    items = attempt["items"]
    order = rng.sample(items, len(items))
    order += rng.sample(items, round(len(items) * args.changes))  # second thoughts
    think = args.think_scale
    url = f"/api/v1/attempts/{candidate.attempt_id}/responses/{{}}"
    for done, item in enumerate(order):
        await asyncio.sleep(rng.uniform(args.think_min, args.think_max) * think)
        if time.time() > candidate.deadline - STOP_SAVING_BEFORE:
            candidate.skipped += len(order) - done
            break
        answer = random_answer(item, rng)
        sent = Sent(len(candidate.sent), item["position"], answer)
        candidate.sent.append(sent)
        body = {"answer": answer, "flagged": False}
        reply = await load.call(
            "save", client, "PUT", url.format(item["position"]), candidate.token, body
        )
        sent.acked = reply is not None and reply.is_success
    closes = candidate.deadline + args.grace
    submit_url = f"/api/v1/attempts/{candidate.attempt_id}/submit"
    if candidate.role == "submit":
        await sleep_until(candidate.deadline - rng.uniform(0.5, 3.0))
        candidate.submit_sent_early = time.time() < candidate.deadline
        reply = await load.call("submit", client, "POST", submit_url, candidate.token, None)
        if reply is not None and reply.is_success:
            candidate.submit_reply = reply.json()["status"]
        return
    if candidate.role == "abandon":
        return
    await sleep_until(closes + rng.uniform(0.2, 3.0))
    item = rng.choice(items)
    late = await load.call(
        "touch",
        client,
        "PUT",
        url.format(item["position"]),
        candidate.token,
        {"answer": random_answer(item, rng), "flagged": False},
    )
    if late is not None and late.status_code == 409:
        load.tally.late_saves_refused += 1
    elif late is not None and late.is_success:
        load.tally.late_saves_accepted += 1
    if candidate.role == "touch-get":
        path = f"/api/v1/attempts/{candidate.attempt_id}"
        await load.call("touch", client, "GET", path, candidate.token, None)
    else:
        await load.call("touch", client, "POST", submit_url, candidate.token, None)


def cast(
    tokens: list[str], servers: int, args: argparse.Namespace
) -> tuple[list[Candidate], list[float]]:
    """Every candidate with its role and instance (they alternate), the same for a seed
    whatever the number of client processes."""
    rng = random.Random(args.seed)
    roles = []
    for n in range(len(tokens)):
        share = (n + 0.5) / len(tokens)
        rest = (share - args.submit_share) / max(1e-9, 1 - args.submit_share)
        if share < args.submit_share:
            roles.append("submit")
        elif rest < 0.25:
            roles.append("touch-get")
        elif rest < 0.5:
            roles.append("touch-submit")
        else:
            roles.append("abandon")
    rng.shuffle(roles)
    candidates = [
        Candidate(token, role, n % servers)
        for n, (token, role) in enumerate(zip(tokens, roles, strict=True))
    ]
    return candidates, [rng.random() for _ in candidates]


@dataclass
class Share:
    """What one client process gets: its candidates (with their seeds) and its part of
    `--concurrency`."""

    client: int
    bases: list[str]
    candidates: list[Candidate]
    seeds: list[float]
    limit: int
    args: argparse.Namespace


async def client_day(share: Share, opens: float) -> tuple[list[Candidate], Tally, Stalls]:
    """One client process's part of the exam day, from `opens` (epoch seconds)."""
    # Each instance's client may open as many connections as the process has slots, so a
    # request that holds a slot never waits for a connection behind other requests to its
    # instance (a start queued on the server would otherwise hold up saves at the client,
    # and that wait would count as the saves' latency; 500 browsers share no connections).
    clients = [Client(base, share.limit) for base in share.bases]
    tally = Tally()
    load = Load(share.limit, tally)
    stalls = Stalls(share.client, len(share.candidates))
    args = share.args
    budget = args.start_spread + args.time_limit + args.grace + 120
    await sleep_until(opens)
    began = time.perf_counter()
    ticker = asyncio.create_task(Ticker(stalls).run())
    try:
        tasks = [
            asyncio.create_task(sit(c, clients[c.server], load, args, seed))
            for c, seed in zip(share.candidates, share.seeds, strict=True)
        ]
        done, pending = await asyncio.wait(tasks, timeout=budget)
        stalls.seconds = time.perf_counter() - began
        for task in pending:
            task.cancel()
        for task in done:
            task.result()
        if pending:
            raise RuntimeError(f"{len(pending)} candidates did not finish within {budget:g} s")
    finally:
        ticker.cancel()
        for client in clients:
            await client.close()
    tally.save_stalled_ms = stalls.within(load.save_spans)
    return share.candidates, tally, stalls


def client_process(connection: Connection, share: Share) -> None:
    """The body of one client process: say it is ready, wait for the opening time, sit the
    exam for its candidates and send back what it measured (or the error)."""
    try:
        connection.send("ready")
        opens = connection.recv()
        connection.send(("done", asyncio.run(client_day(share, opens))))
    except BaseException:
        connection.send(("failed", traceback.format_exc()))
    finally:
        connection.close()


def exam_day(
    servers: list[Server], tokens: list[str], args: argparse.Namespace
) -> tuple[list[Candidate], Tally, list[Stalls]]:
    """The class split over `--clients` client processes (spawned, each with its own event
    loop); their tallies merged."""
    candidates, seeds = cast(tokens, len(servers), args)
    count = min(args.clients, len(candidates))
    shares = [
        Share(
            k,
            [s.base for s in servers],
            [],
            [],
            args.concurrency // count + (k < args.concurrency % count),
            args,
        )
        for k in range(count)
    ]
    for n, candidate in enumerate(candidates):
        share = shares[(n // len(servers)) % count]  # each client talks to every instance
        share.candidates.append(candidate)
        share.seeds.append(seeds[n])
    context = multiprocessing.get_context("spawn")
    processes = []
    links: list[Connection] = []
    try:
        for share in shares:
            mine, theirs = context.Pipe()
            process = context.Process(target=client_process, args=(theirs, share), daemon=True)
            process.start()
            theirs.close()
            processes.append(process)
            links.append(mine)
        for k, link in enumerate(links):
            try:
                ready = link.poll(120) and link.recv() == "ready"
            except EOFError:
                ready = False
            if not ready:
                raise RuntimeError(f"client process {k} did not get ready within 120 s")
        opens = time.time() + 0.5
        for link in links:
            link.send(opens)
        budget = args.start_spread + args.time_limit + args.grace + 180
        replies: dict[int, tuple[list[Candidate], Tally, Stalls]] = {}
        waiting = dict(enumerate(links))
        while waiting:
            left = opens + budget - time.time()
            ready = multiprocessing.connection.wait(list(waiting.values()), max(0.0, left))
            if not ready:
                raise RuntimeError(f"client processes {sorted(waiting)} sent nothing back")
            for k, link in list(waiting.items()):
                if link not in ready:
                    continue
                try:
                    status, body = link.recv()
                except EOFError:
                    raise RuntimeError(f"client process {k} died without a reply") from None
                if status != "done":
                    raise RuntimeError(f"client process {k} failed:\n{body}")
                replies[k] = body
                del waiting[k]
    finally:
        for link in links:
            link.close()
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join(10)
    tally = Tally()
    merged: list[Candidate] = []
    stalls = []
    for k in range(count):
        mine, their_tally, their_stalls = replies[k]
        merged += mine
        tally.absorb(their_tally)
        stalls.append(their_stalls)
    return merged, tally, stalls


@dataclass
class Checks:
    attempts: int = 0
    results: int = 0
    duplicate_results: int = 0
    ungraded: int = 0
    in_progress: int = 0
    status: Counter[str] = field(default_factory=Counter)
    expired_wrong_time: int = 0
    submitted_not_submitted: int = 0
    """Attempts whose submit answered `submitted` but are stored otherwise (or too late)."""
    early_but_expired: int = 0
    choices_mismatch: int = 0
    acknowledged: int = 0
    positions: int = 0
    found: int = 0
    replaced: int = 0
    lost: int = 0
    sweep_lag_s: float = 0.0
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
                    )
                )
            ).all()
            results = dict(
                (
                    await connection.execute(
                        select(Result.attempt_id, func.count()).group_by(Result.attempt_id)
                    )
                ).all()
            )
            graded_at = dict(
                (await connection.execute(select(Result.attempt_id, Result.graded_at))).all()
            )
            stored = {
                (a, p): answer
                for a, p, answer in (
                    await connection.execute(
                        select(Response.attempt_id, Response.position, Response.answer)
                    )
                ).all()
            }
            types = {
                (a, p): t
                for a, p, t in (
                    await connection.execute(
                        select(
                            AttemptItem.attempt_id, AttemptItem.position, QuestionRevision.type
                        ).join(QuestionRevision, QuestionRevision.id == AttemptItem.revision_id)
                    )
                ).all()
            }
            choices: Counter[int] = Counter()
            for attempt_id, chosen in (
                await connection.execute(
                    select(AttemptItem.attempt_id, AttemptItem.chosen).where(
                        AttemptItem.chosen.is_not(None)
                    )
                )
            ).all():
                choices[attempt_id] += len(chosen.split())
    finally:
        await engine.dispose()
    checks = Checks(attempts=len(attempts), results=sum(results.values()))
    checks.duplicate_results = sum(1 for n in results.values() if n > 1)
    in_time = {c.attempt_id for c in candidates if c.submit_reply == "submitted"}
    checks.early_but_expired = sum(
        1 for c in candidates if c.submit_sent_early and c.submit_reply == "expired"
    )
    expected_choices: Counter[int] = Counter()
    for (attempt_id, position), answer in stored.items():
        if answer and types.get((attempt_id, position)) in ("single", "multiple"):
            expected_choices[attempt_id] += len(answer)
        elif answer is not None and types.get((attempt_id, position)) == "numeric":
            expected_choices[attempt_id] += 1  # its band and number, "wrong:1150"
    for row in attempts:
        checks.status[row.status] += 1
        checks.ungraded += row.id not in results
        checks.in_progress += row.status == "in_progress"
        if row.status == "expired":
            checks.expired_wrong_time += row.submitted_at != row.deadline
            if row.id in graded_at and row.closes_at is not None:
                lag = (graded_at[row.id] - row.closes_at).total_seconds()
                checks.sweep_lag_s = max(checks.sweep_lag_s, lag)
        if row.id in in_time and (
            row.status != "submitted"
            or row.submitted_at is None
            or row.closes_at is None
            or row.submitted_at > row.closes_at
        ):
            checks.submitted_not_submitted += 1
        if row.id in results and choices.get(row.id, 0) != expected_choices[row.id]:
            checks.choices_mismatch += 1
    for candidate in candidates:
        by_position: dict[int, list[Sent]] = {}
        for sent in candidate.sent:
            checks.acknowledged += sent.acked
            by_position.setdefault(sent.position, []).append(sent)
        for position, sends in by_position.items():
            acked = [s for s in sends if s.acked]
            if not acked:
                continue
            checks.positions += 1
            key = (candidate.attempt_id or 0, position)
            last = acked[-1]
            if key in stored and stored[key] == last.answer:
                checks.found += 1
            elif key in stored and stored[key] in [s.answer for s in sends if s.seq > last.seq]:
                checks.replaced += 1
            else:
                checks.lost += 1
                if len(checks.examples) < 5:
                    checks.examples.append(
                        f"attempt {key[0]} position {position}: acknowledged {last.answer!r}, "
                        f"stored {stored.get(key)!r}"
                    )
    return checks


@dataclass
class Outcome:
    backend: str
    instances: int
    tally: Tally
    stalls: list[Stalls]
    checks: Checks
    log_errors: list[str]
    skipped: int
    close_wait_s: float

    @property
    def double_grades(self) -> int:
        server_errors = sum(
            n
            for p in ("submit", "touch")
            for code, n in self.tally.statuses[p].items()
            # 503 is SQLite's write-lock timeout: that transaction wrote nothing (it still
            # counts in the 5xx row)
            if code >= 500 and code != 503
        )
        return self.checks.duplicate_results + len(self.log_errors) + server_errors

    def save_stall_shares(self) -> tuple[float, float, int]:
        """The share of all saves' time, and of the slowest saves' (at or over p99), during
        which their client process's loop was stalled; and how many saves are that slow."""
        latencies, stalled = self.tally.latencies_ms["save"], self.tally.save_stalled_ms
        if not latencies:
            return 0.0, 0.0, 0
        p99 = percentile(latencies, 0.99)
        slow = [(ms, s) for ms, s in zip(latencies, stalled, strict=True) if ms >= p99]
        return (
            sum(stalled) / max(1e-9, sum(latencies)),
            sum(s for _, s in slow) / max(1e-9, sum(ms for ms, _ in slow)),
            len(slow),
        )

    @property
    def broken(self) -> bool:
        c = self.checks
        return bool(
            c.lost
            or self.double_grades
            or c.ungraded
            or c.in_progress
            or c.results != c.attempts
            or c.expired_wrong_time
            or c.submitted_not_submitted
            or c.choices_mismatch
            or self.tally.late_saves_accepted
        )


CANDIDATES = {"sqlite": 100, "postgresql": 500}
"""The class each backend is measured with unless `--candidates` says otherwise: the
default set-up (SQLite, one instance) is meant for a class of about 100 at once (README,
"Running against PostgreSQL"); PostgreSQL with two instances for more."""


def candidates_for(backend: str, args: argparse.Namespace) -> int:
    return int(args.candidates or CANDIDATES[backend])


def instances_for(backend: str) -> int:
    """One app instance on SQLite (one file, one writer); two on PostgreSQL."""
    return 1 if backend == "sqlite" else 2


def run_backend(backend: str, args: argparse.Namespace, folder: Path) -> Outcome:
    database = new_database(backend, folder, args.postgres_url)
    instances = instances_for(backend)
    servers: list[Server] = []
    try:
        settings = bench_settings(database.url, folder)
        prepare(settings)
        asyncio.run(
            insert_blueprint(
                settings, BLUEPRINT, "Benchmark cohort day", args.time_limit, args.grace
            )
        )
        tokens = asyncio.run(make_candidates(settings, candidates_for(backend, args)))
        for n in range(instances):
            servers.append(Server(settings, folder / f"server-{n}.log", args.sweep))
            servers[-1].start()
        for server in servers:
            server.wait_ready(60)
        print(
            f"  {len(tokens)} candidates over {instances} instance(s), from "
            f"{min(args.clients, len(tokens))} client process(es); exam opens now",
            flush=True,
        )
        began = time.monotonic()
        candidates, tally, stalls = exam_day(servers, tokens, args)
        print(f"  candidates done after {time.monotonic() - began:.1f} s", flush=True)
        waited = time.monotonic()
        limit = args.sweep * 5 + 60
        while time.monotonic() - waited < limit and asyncio.run(open_attempts(database.url)):
            time.sleep(0.5)
        close_wait = time.monotonic() - waited
        for server in servers:
            server.stop()
        log_errors = [
            line
            for server in servers
            for line in server.log_lines(*GRADE_ERRORS, "the expiry sweep failed")
        ]
        failures = [
            line
            for server in servers
            for line in server.log_lines("Error", "ERROR", "Traceback", "exception")
        ]
        if failures:  # the why of any 5xx, before the folder with the logs goes
            print(f"  server log lines naming an error ({len(failures)}), the first 40:")
            for line in failures[:40]:
                print(f"    {line[:300]}")
        checks = asyncio.run(check_database(database.url, candidates))
        return Outcome(
            backend,
            instances,
            tally,
            stalls,
            checks,
            log_errors,
            sum(c.skipped for c in candidates),
            close_wait,
        )
    finally:
        for server in servers:
            server.stop()
        database.drop()


def print_outcome(outcome: Outcome) -> None:
    t, c = outcome.tally, outcome.checks
    print(f"  {'phase':<8}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}  non-2xx by status")
    for phase in PHASES:
        codes = t.statuses[phase]
        bad = ", ".join(f"{code}: {n}" for code, n in sorted(codes.items()) if code >= 300)
        print(
            f"  {phase:<8}{sum(codes.values()):>9}"
            f"{percentile(t.latencies_ms[phase], 0.5):>9.1f}"
            f"{percentile(t.latencies_ms[phase], 0.99):>9.1f}  {bad or '-'}"
        )
    print(
        f"  client loop stalls (a {TICK_S * 1000:g} ms ticker in each client process; a tick "
        f"{STALL_MS:g} ms or more late counts as stalled):"
    )
    for st in outcome.stalls:
        print(
            f"    client {st.client}: {st.candidates} candidates, stalled {st.share:.1%} of "
            f"{st.seconds:.1f} s ({st.busy_share:.1%} on its own CPU work, the rest waiting "
            f"for a CPU); worst second {st.worst_second_ms:.0f} ms; longest stall "
            f"{st.longest_ms:.0f} ms"
        )
    every, slowest, slow_count = outcome.save_stall_shares()
    print(
        f"  save time during which the saving client's own loop was stalled: {every:.1%} of "
        f"all saves', {slowest:.1%} of the slowest {slow_count} saves' (at or over p99); an "
        f"upper bound on what the client adds"
    )
    if t.transport_errors:
        print(f"  transport errors: {dict(t.transport_errors)}")
    print(
        f"  late saves after deadline + grace: {t.late_saves_refused} refused with 409 "
        f"(expected), {t.late_saves_accepted} accepted; saves not sent (deadline under "
        f"{STOP_SAVING_BEFORE:g} s away): {outcome.skipped}; a save 409 is a save that reached "
        f"the server after deadline + grace"
    )
    print(
        f"  attempts {c.attempts} ({dict(c.status)}); results {c.results}; ungraded "
        f"{c.ungraded}; left in_progress {c.in_progress}; waited {outcome.close_wait_s:.1f} s "
        f"for the sweeps; last expired attempt graded {c.sweep_lag_s:.1f} s after its grace "
        f"ended"
    )
    print(
        f"  expired with submitted_at != deadline {c.expired_wrong_time}; submit answered "
        f"'submitted' but stored otherwise {c.submitted_not_submitted}; submits sent before "
        f"the deadline that reached the server after the grace (closed as expired, not an "
        f"error) {c.early_but_expired}; chosen options not matching the stored answers "
        f"{c.choices_mismatch}"
    )
    print(
        f"  acknowledged saves {c.acknowledged}; positions {c.positions}: found {c.found}, "
        f"replaced by a later unacknowledged save {c.replaced}, LOST {c.lost}; double grades "
        f"{outcome.double_grades}"
    )
    print_timeline(t)
    for example in c.examples:
        print(f"    lost: {example}")
    for line in outcome.log_errors[:5]:
        print(f"    server log: {line[:200]}")


TIMELINE_STEP_S = 5.0
"""The timeline's window."""


def print_timeline(tally: Tally) -> None:
    """Save latency window by window, beside how many starts, submits and late touches began
    in each window and where the slowest 1% of saves fell: when the tail happens says what
    causes it (the start burst, the grading burst near the deadlines, or neither)."""
    saves = list(zip(tally.began["save"], tally.latencies_ms["save"], strict=True))
    if not saves:
        return
    origin = min(t for phase in PHASES for t in tally.began[phase])
    p99 = percentile([ms for _, ms in saves], 0.99)

    def window(moment: float) -> int:
        return int((moment - origin) // TIMELINE_STEP_S)

    by_window: dict[int, list[float]] = {}
    for moment, ms in saves:
        by_window.setdefault(window(moment), []).append(ms)
    others = {p: Counter(window(t) for t in tally.began[p]) for p in ("start", "submit", "touch")}
    last = max([*by_window, *(w for c in others.values() for w in c)])
    print(
        f"  timeline ({TIMELINE_STEP_S:g} s windows from the first request; 'slow' = saves at "
        f"or over the p99 of {p99:.1f} ms):"
    )
    print(
        f"    {'window s':>9}{'saves':>7}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'slow':>6}"
        f"{'starts':>8}{'submits':>8}{'touches':>8}"
    )
    for w in range(last + 1):
        ms = by_window.get(w, [])
        print(
            f"    {w * TIMELINE_STEP_S:>9.0f}{len(ms):>7}"
            + (
                f"{percentile(ms, 0.5):>8.1f}{percentile(ms, 0.99):>8.1f}{max(ms):>8.1f}"
                if ms
                else f"{'-':>8}{'-':>8}{'-':>8}"
            )
            + f"{sum(1 for x in ms if x >= p99):>6}"
            + "".join(f"{others[p][w]:>8}" for p in ("start", "submit", "touch"))
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--candidates",
        type=int,
        default=0,
        help="the class on every backend (default: SQLite 100, PostgreSQL 500)",
    )
    parser.add_argument("--time-limit", type=int, default=40, help="seconds, the blueprint's")
    parser.add_argument("--grace", type=int, default=3, help="the blueprint's grace_seconds")
    parser.add_argument("--start-spread", type=float, default=5.0, help="seconds")
    parser.add_argument("--think-min", type=float, default=0.2, help="seconds, before scaling")
    parser.add_argument("--think-max", type=float, default=1.0)
    parser.add_argument("--changes", type=float, default=0.2, help="share of answers changed")
    parser.add_argument("--submit-share", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=48, help="requests in flight")
    parser.add_argument(
        "--clients",
        type=int,
        default=CLIENTS,
        help="client processes the candidates are split over, each with its own event loop",
    )
    parser.add_argument("--sweep", type=int, default=2, help="EXAM_SWEEP_INTERVAL_SECONDS")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--quick", action="store_true", help="60 candidates, 30 s limit")
    args = parser.parse_args(argv)
    if args.quick:
        args.candidates, args.time_limit = 60, 30
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backend(s) {sorted(unknown)}; use sqlite and/or postgresql")
    if not 0 < args.think_min <= args.think_max or args.time_limit < 10 or args.candidates < 0:
        parser.error("need 0 < --think-min <= --think-max, --time-limit >= 10, --candidates >= 1")
    if not 0 <= args.submit_share <= 1 or args.sweep < 1 or args.concurrency < 2:
        parser.error("need 0 <= --submit-share <= 1, --sweep >= 1 and --concurrency >= 2")
    if not 1 <= args.clients <= args.concurrency:
        parser.error("need 1 <= --clients <= --concurrency")
    saves = 30 * (1 + args.changes)
    mean = (args.think_min + args.think_max) / 2
    args.think_scale = 0.6 * args.time_limit / (saves * mean)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"cohort day: {args.candidates or 'SQLite 100, PostgreSQL 500'} candidates start "
        f"{BLUEPRINT} (30 items, "
        f"{args.time_limit} s + {args.grace} s grace) within {args.start_spread:g} s; think "
        f"{args.think_min * args.think_scale:.2f}-{args.think_max * args.think_scale:.2f} s "
        f"between saves; {args.submit_share:.0%} submit before the deadline, the rest are "
        f"closed by touches and sweeps (every {args.sweep} s per instance); at most "
        f"{args.concurrency} requests in flight, from {args.clients} client process(es)",
        flush=True,
    )
    outcomes = each_backend(
        "exam-bench-cohort-",
        args.backends,
        lambda backend, folder: run_backend(backend, args, folder),
        print_outcome,
    )
    print(
        f"\n{'backend':<12}{'apps':>5}{'attempts':>9}{'results':>8}{'acked':>7}{'lost':>6}"
        f"{'double':>7}{'ungraded':>9}{'non-2xx':>8}{'save p50':>9}{'save p99':>9}"
        f"{'client stalls':>14}"
    )
    broken = False
    for backend, result in outcomes.items():
        scenario = (
            f"{backend}, {instances_for(backend)} app(s), "
            f"{candidates_for(backend, args)} candidates"
        )
        if isinstance(result, Exception):
            print(f"{backend:<12}  run failed: {type(result).__name__}")
            summary_row(
                "cohort day", scenario, "run", f"failed: {type(result).__name__}", "", False
            )
            broken = True
            continue
        c, t = result.checks, result.tally
        non2xx = sum(n for p in PHASES for code, n in t.statuses[p].items() if code >= 300)
        non2xx -= t.late_saves_refused  # expected
        save_p50 = percentile(t.latencies_ms["save"], 0.5)
        save_p99 = percentile(t.latencies_ms["save"], 0.99)
        stall_share = max((st.share for st in result.stalls), default=0.0)
        print(
            f"{backend:<12}{result.instances:>5}{c.attempts:>9}{c.results:>8}"
            f"{c.acknowledged:>7}{c.lost:>6}{result.double_grades:>7}"
            f"{c.ungraded + c.in_progress:>9}{non2xx:>8}{save_p50:>9.0f}{save_p99:>9.0f}"
            f"{stall_share:>14.1%}"
        )
        for figure, count in (
            ("lost answers", c.lost),
            ("double grades", result.double_grades),
            ("ungraded or left open", c.ungraded + c.in_progress),
        ):
            summary_row("cohort day", scenario, figure, str(count), "0", count == 0)
        summary_row("cohort day", scenario, "non-2xx besides late-save 409s", str(non2xx))
        server_errors = sum(n for p in PHASES for code, n in t.statuses[p].items() if code >= 500)
        summary_row("cohort day", scenario, "5xx", str(server_errors), "0", server_errors == 0)
        summary_row(
            "cohort day",
            scenario,
            "all checks",
            "failed" if result.broken else "passed",
            "passed",
            not result.broken,
        )
        tail = save_p99 / save_p50 if save_p50 > 0 else float("inf")
        summary_row(
            "cohort day",
            scenario,
            "save p50 / p99",
            f"{save_p50:.0f} / {save_p99:.0f} ms ({tail:.1f}x)",
            "p99 <= 5x p50",
            tail <= 5,
        )
        _, slowest, _ = result.save_stall_shares()
        summary_row(
            "cohort day",
            scenario,
            "client loop stalled",
            f"{stall_share:.1%} of the exam (worst of {len(result.stalls)}); "
            f"{slowest:.0%} of the slowest 1% of saves' time",
        )
        broken = broken or result.broken
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
