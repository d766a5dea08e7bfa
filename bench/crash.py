"""Are acknowledged answer saves durable when the app process is killed?

What is measured: for each backend (a temporary SQLite file; a fresh PostgreSQL database),
one app instance (`python -m exam_service serve`, a child process) takes a steady save
load from S concurrent savers (default 32), each saving random valid answers to random
positions of its own `seed-mock` attempt (30 items) through
`PUT /api/v1/attempts/{id}/responses/{position}`. K times (default 20), at a random moment,
the app is killed with SIGKILL (no shutdown, no flushing) and a new process is started on
the same database and port; the next kill waits until /ready answers. To keep 20 restarts
short on a small machine, the new process is spawned ahead of the kill and waits, with the
app's modules imported but no app made and no database opened, until it is told to serve
(`common.Server.prepare_standby`); the restart is otherwise a cold one. Savers retry a save on
connection errors and 5xx until it is acknowledged or the run ends.

Every request is recorded in the order its saver sent it: attempt, position, answer and
whether it got a 200. A saver owns its attempt and waits for each answer, so per
(attempt, position) the order of sends is the order of writes. Afterwards, for every
(attempt, position) with at least one 200, the stored answer must be the last acknowledged
one, or one sent after it that got no answer (it may have committed just before the kill):
such a position counts as "replaced by a later unacknowledged save", not lost. A position
whose stored answer is neither is lost. Rows for positions that never got a 200 must hold
one of the answers sent there.

Printed per backend: saves acknowledged, positions checked, found, replaced, lost, errors by
status, connection errors, restart-to-ready times and p50/p99 save latency. The exit code is
1 if any acknowledged save was lost (or a run failed), else 0.

Under `make bench` the headline figures also go to the table it ends with
(`common.summary_row`; `bench/summary.py` prints it).

Run: `.venv/bin/python bench/crash.py` (both backends, about 2-3 minutes on 2 cores), or
`.venv/bin/python bench/crash.py --quick --backends sqlite`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402  (the bench folder is not a package)
    DEFAULT_POSTGRES,
    Server,
    bench_settings,
    each_backend,
    make_candidates,
    new_database,
    percentile,
    prepare,
    random_answer,
    summary_row,
)

from exam_service.db import create_engine  # noqa: E402
from exam_service.models import Response  # noqa: E402

BLUEPRINT = "seed-mock"
SAVE_PATH = "/api/v1/attempts/{attempt_id}/responses/{position}"


@dataclass
class Sent:
    """One PUT as sent; `seq` orders the sends of one saver (and so of one attempt)."""

    seq: int
    position: int
    answer: Any
    acked: bool = False


@dataclass
class Saver:
    token: str
    attempt_id: int
    items: list[dict[str, Any]]
    sent: list[Sent] = field(default_factory=list)


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    restarts_s: list[float] = field(default_factory=list)


@dataclass
class Outcome:
    backend: str
    acknowledged: int
    positions: int
    found: int
    replaced: int
    lost: int
    phantom: int
    tally: Tally
    seconds: float
    kills: int
    examples: list[str]

    @property
    def broken(self) -> bool:
        return bool(self.lost or self.phantom)


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
            savers.append(Saver(token, attempt["id"], attempt["items"]))
    return savers


async def save_loop(
    client: httpx.AsyncClient,
    saver: Saver,
    stop: asyncio.Event,
    tally: Tally,
    rng: random.Random,
    max_tries: int,
) -> None:
    """Save random answers until `stop`; retry each on connection errors and 5xx."""
    headers = {"Authorization": f"Bearer {saver.token}"}
    while not stop.is_set():
        item = rng.choice(saver.items)
        answer = random_answer(item, rng)
        url = SAVE_PATH.format(attempt_id=saver.attempt_id, position=item["position"])
        for _ in range(max_tries):  # bounded: a dead server ends the run anyway
            if stop.is_set():
                return
            sent = Sent(len(saver.sent), item["position"], answer)
            saver.sent.append(sent)
            began = time.perf_counter()
            try:
                reply = await client.put(
                    url, json={"answer": answer, "flagged": False}, headers=headers
                )
            except httpx.TransportError:
                tally.connection_errors += 1
                await asyncio.sleep(0.2)  # the server is down: do not starve its restart
                continue
            tally.statuses[reply.status_code] += 1
            if reply.status_code == 200:
                tally.latencies_ms.append((time.perf_counter() - began) * 1000)
                sent.acked = True
                if reply.json()["answer"] != answer:
                    raise RuntimeError(f"the app stored {reply.json()['answer']!r}, not {answer!r}")
                break
            if reply.status_code < 500:
                break  # a 4xx is reported as an error; retrying would not change it
            await asyncio.sleep(0.05)


async def killer(
    server: Server, kills: int, gap: tuple[float, float], rng: random.Random, tally: Tally
) -> None:
    for n in range(kills):
        await asyncio.sleep(rng.uniform(*gap))
        await asyncio.to_thread(server.kill)
        server.promote()
        tally.restarts_s.append(await asyncio.to_thread(server.wait_ready, 60.0))
        server.prepare_standby()
        print(f"  kill {n + 1}/{kills}: back in {tally.restarts_s[-1]:.2f} s", flush=True)


async def load_and_kill(
    server: Server, savers: list[Saver], args: argparse.Namespace, tally: Tally
) -> float:
    rng = random.Random(args.seed)
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=len(savers), max_keepalive_connections=len(savers))
    began = time.monotonic()
    async with httpx.AsyncClient(base_url=server.base, timeout=30, limits=limits) as client:
        loops = [
            asyncio.create_task(
                save_loop(client, s, stop, tally, random.Random(rng.random()), args.max_tries)
            )
            for s in savers
        ]
        try:
            await asyncio.wait_for(
                killer(server, args.kills, (args.min_gap, args.max_gap), rng, tally),
                timeout=args.kills * (args.max_gap + 60) + 30,
            )
            await asyncio.sleep(args.tail)  # saves on the last process, after the last kill
        finally:
            stop.set()
            done, pending = await asyncio.wait(loops, timeout=60)
            for task in pending:
                task.cancel()
            for task in done:
                task.result()  # surface a saver's unexpected failure
    return time.monotonic() - began


async def stored_answers(database_url: str) -> dict[tuple[int, int], Any]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(Response.attempt_id, Response.position, Response.answer)
                )
            ).all()
    finally:
        await engine.dispose()
    return {(a, p): answer for a, p, answer in rows}


def check(savers: list[Saver], stored: dict[tuple[int, int], Any]) -> dict[str, Any]:
    positions = found = replaced = lost = phantom = 0
    examples: list[str] = []
    for saver in savers:
        by_position: dict[int, list[Sent]] = {}
        for sent in saver.sent:
            by_position.setdefault(sent.position, []).append(sent)
        for position, sends in by_position.items():
            row = stored.get((saver.attempt_id, position))
            acked = [s for s in sends if s.acked]
            if not acked:
                if (saver.attempt_id, position) in stored and row not in [s.answer for s in sends]:
                    phantom += 1
                continue
            positions += 1
            last = acked[-1]
            later = [s.answer for s in sends if s.seq > last.seq]
            if (saver.attempt_id, position) in stored and row == last.answer:
                found += 1
            elif (saver.attempt_id, position) in stored and row in later:
                replaced += 1
            else:
                lost += 1
                if len(examples) < 5:
                    examples.append(
                        f"attempt {saver.attempt_id} position {position}: acknowledged "
                        f"{last.answer!r} (send {last.seq}), stored {row!r}"
                    )
    return {
        "positions": positions,
        "found": found,
        "replaced": replaced,
        "lost": lost,
        "phantom": phantom,
        "examples": examples,
    }


def run_backend(backend: str, args: argparse.Namespace, folder: Path) -> Outcome:
    database = new_database(backend, folder, args.postgres_url)
    server: Server | None = None
    try:
        settings = bench_settings(database.url, folder)
        prepare(settings)
        tokens = asyncio.run(make_candidates(settings, args.savers))
        server = Server(settings, folder / "server.log", sweep_seconds=0)
        server.start()
        server.wait_ready()
        server.prepare_standby()
        savers = asyncio.run(start_attempts(server.base, tokens))
        tally = Tally()
        seconds = asyncio.run(load_and_kill(server, savers, args, tally))
        server.stop()
        verdict = check(savers, asyncio.run(stored_answers(database.url)))
        return Outcome(
            backend=backend,
            acknowledged=sum(s.acked for saver in savers for s in saver.sent),
            positions=verdict["positions"],
            found=verdict["found"],
            replaced=verdict["replaced"],
            lost=verdict["lost"],
            phantom=verdict["phantom"],
            tally=tally,
            seconds=seconds,
            kills=len(tally.restarts_s),
            examples=verdict["examples"],
        )
    finally:
        if server is not None:
            server.stop()
        database.drop()


def print_outcome(outcome: Outcome) -> None:
    t = outcome.tally
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(t.statuses.items())) or "none"
    errors = {code: n for code, n in t.statuses.items() if code != 200}
    print(
        f"  {outcome.kills} kills in {outcome.seconds:.1f} s; restart to /ready p50 "
        f"{percentile(t.restarts_s, 0.5):.2f} s, max {max(t.restarts_s, default=0):.2f} s\n"
        f"  responses by status: {statuses}; non-200: {sum(errors.values())}; "
        f"connection errors (retried): {t.connection_errors}\n"
        f"  save latency (200s): p50 {percentile(t.latencies_ms, 0.5):.1f} ms, "
        f"p99 {percentile(t.latencies_ms, 0.99):.1f} ms\n"
        f"  acknowledged saves {outcome.acknowledged}; positions with an acknowledged save "
        f"{outcome.positions}: last acknowledged answer found {outcome.found}, replaced by a "
        f"later unacknowledged save {outcome.replaced}, LOST {outcome.lost}; rows holding an "
        f"answer never sent there {outcome.phantom}"
    )
    for example in outcome.examples:
        print(f"    lost: {example}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs per backend")
    parser.add_argument("--savers", type=int, default=32, help="concurrent savers")
    parser.add_argument("--min-gap", type=float, default=0.3, help="seconds of load before a kill")
    parser.add_argument("--max-gap", type=float, default=1.0)
    parser.add_argument("--tail", type=float, default=2.0, help="seconds of load after the last")
    parser.add_argument("--max-tries", type=int, default=2000, help="sends per save at most")
    parser.add_argument("--seed", type=int, default=None, help="for the kill moments and answers")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--quick", action="store_true", help="3 kills, 8 savers")
    args = parser.parse_args(argv)
    if args.quick:
        args.kills, args.savers = 3, 8
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backend(s) {sorted(unknown)}; use sqlite and/or postgresql")
    if args.min_gap < 0 or args.max_gap < args.min_gap or args.kills < 0 or args.savers < 1:
        parser.error("need 0 <= --min-gap <= --max-gap, --kills >= 0 and --savers >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"crash: {args.savers} savers on one app instance, {args.kills} SIGKILLs at random "
        f"moments ({args.min_gap:g}-{args.max_gap:g} s of load each), restart on the same "
        f"database; every acknowledged save must survive",
        flush=True,
    )
    outcomes = each_backend(
        "exam-bench-crash-",
        args.backends,
        lambda backend, folder: run_backend(backend, args, folder),
        print_outcome,
    )
    print(
        f"\n{'backend':<12}{'kills':>6}{'acked':>8}{'positions':>11}{'found':>7}"
        f"{'replaced':>10}{'lost':>6}{'non-200':>9}{'conn err':>10}"
    )
    broken = False
    for backend, result in outcomes.items():
        scenario = f"{backend}, {args.savers} savers"
        if isinstance(result, Exception):
            print(f"{backend:<12}  run failed: {type(result).__name__}")
            summary_row("crash", scenario, "run", f"failed: {type(result).__name__}", "", False)
            broken = True
            continue
        non200 = sum(n for code, n in result.tally.statuses.items() if code != 200)
        print(
            f"{backend:<12}{result.kills:>6}{result.acknowledged:>8}{result.positions:>11}"
            f"{result.found:>7}{result.replaced:>10}{result.lost:>6}{non200:>9}"
            f"{result.tally.connection_errors:>10}"
        )
        summary_row(
            "crash",
            scenario,
            "SIGKILLs",
            str(result.kills),
            str(args.kills),
            result.kills == args.kills,
        )
        summary_row("crash", scenario, "acknowledged saves", str(result.acknowledged))
        summary_row("crash", scenario, "lost answers", str(result.lost), "0", result.lost == 0)
        summary_row(
            "crash",
            scenario,
            "rows with an answer never sent",
            str(result.phantom),
            "0",
            result.phantom == 0,
        )
        restarts = result.tally.restarts_s
        summary_row(
            "crash",
            scenario,
            "restart to /ready p50 / max",
            f"{percentile(restarts, 0.5):.2f} / {max(restarts, default=0):.2f} s",
        )
        broken = broken or result.broken
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
