"""Does one app instance ride out a PostgreSQL restart under a save load?

What is measured: one app instance (`python -m exam_service serve`, a child process, sweep
off) on a fresh PostgreSQL database takes a steady save load from S concurrent savers
(default 16), each saving random valid answers to random positions of its own `seed-mock`
attempt, as in `bench/crash.py`. After `--before` seconds, the machine's PostgreSQL cluster
is restarted (`pg_ctlcluster --skip-systemctl-redirect VERSION main restart`, fast mode: the
server ends every session, then refuses connections until it is back), `--restarts` times,
`--gap` seconds of load apart; the load goes on for `--tail` seconds after the last.

While PostgreSQL is down a save must get 503 with Retry-After, never a 500, and `/ready`
(polled every 0.1 s) must say 503; once it is back the same app process (its pid checked
at the end) must serve saves again, without a restart. Savers retry a save that got a 5xx
or a connection error every 0.2 s (sooner than the 2 s Retry-After asks, to time the
recovery closely) until it is acknowledged. Afterwards every acknowledged answer must be
in the database (the check of `bench/crash.py`: the last acknowledged answer, or one sent
after it that got no reply, which may have committed before its connection dropped).

Printed: saves acknowledged; responses by status (503s with and without Retry-After, 500s);
connection errors; per restart, counted from the start of the `pg_ctlcluster` command: when
it returned, the first and the last refused save, and when saves succeed again (the first
acknowledged save after the last refusal); what /ready answered while saves were being
refused; lost answers;
whether the app process is the one that started. Exit 1 on a 500, a lost answer, a 503
without Retry-After, an app process that died, or a failed run.

This restarts the machine's PostgreSQL: every other client of it (someone's test run, other
benches) loses its connections too. Run it briefly, on a machine nobody else is testing on;
`make bench` runs it once with one restart.

Run: `.venv/bin/python bench/db_restart.py` (about 30 s), or with `--restarts 3`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402  (the bench folder is not a package)
    DEFAULT_POSTGRES,
    Server,
    bench_settings,
    make_candidates,
    new_database,
    percentile,
    prepare,
    random_answer,
    summary_row,
)
from crash import SAVE_PATH, Saver, Sent, check, start_attempts, stored_answers  # noqa: E402

RETRY_SECONDS = 0.2


@dataclass
class Restart:
    began: float
    ended: float = 0.0
    first_refusal: float | None = None
    """The first save answered with an error (503 or a connection error) after `began`."""
    last_refusal: float | None = None
    """The last one before the next restart (or the end of the load)."""
    back: float | None = None
    """The first save acknowledged after the last refusal: from then on saves succeed."""


@dataclass
class Tally:
    events: list[tuple[float, bool]] = field(default_factory=list)
    """(moment, acknowledged) of every save answered, or failed to connect."""
    statuses: Counter[int] = field(default_factory=Counter)
    unavailable_without_retry_after: int = 0
    connection_errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    ready: Counter[int] = field(default_factory=Counter)
    ready_during_outage: Counter[str] = field(default_factory=Counter)
    restarts: list[Restart] = field(default_factory=list)
    examples_500: list[str] = field(default_factory=list)

    def refused(self, moment: float) -> None:
        self.events.append((moment, False))

    def acknowledged(self, moment: float) -> None:
        self.events.append((moment, True))

    def outage(self) -> bool:
        """Whether saves are being refused right now (the last one answered was)."""
        return bool(self.events) and not self.events[-1][1]

    def settle(self, end: float) -> None:
        """Per restart: the first and last refused save in its window (up to the next
        restart), and the first acknowledged save after the last refusal."""
        bounds = [r.began for r in self.restarts[1:]] + [end]
        for restart, until in zip(self.restarts, bounds, strict=True):
            window = [(m, ok) for m, ok in self.events if restart.began <= m < until]
            refusals = [m for m, ok in window if not ok]
            if not refusals:
                continue
            restart.first_refusal, restart.last_refusal = refusals[0], refusals[-1]
            restart.back = next((m for m, ok in window if ok and m > refusals[-1]), None)


async def save_loop(
    client: httpx.AsyncClient, saver: Saver, stop: asyncio.Event, tally: Tally, rng: random.Random
) -> None:
    """Save random answers until `stop`; retry each on a 5xx or a connection error."""
    headers = {"Authorization": f"Bearer {saver.token}"}
    while not stop.is_set():
        item = rng.choice(saver.items)
        answer = random_answer(item, rng)
        url = SAVE_PATH.format(attempt_id=saver.attempt_id, position=item["position"])
        while not stop.is_set():
            sent = Sent(len(saver.sent), item["position"], answer)
            saver.sent.append(sent)
            began = time.perf_counter()
            try:
                reply = await client.put(
                    url, json={"answer": answer, "flagged": False}, headers=headers
                )
            except httpx.TransportError:
                tally.connection_errors += 1
                tally.refused(time.monotonic())
                await asyncio.sleep(RETRY_SECONDS)
                continue
            tally.statuses[reply.status_code] += 1
            if reply.status_code == 200:
                tally.latencies_ms.append((time.perf_counter() - began) * 1000)
                tally.acknowledged(time.monotonic())
                sent.acked = True
                break
            if reply.status_code >= 500:
                tally.refused(time.monotonic())
                if reply.status_code == 503 and "retry-after" not in reply.headers:
                    tally.unavailable_without_retry_after += 1
                if reply.status_code == 500 and len(tally.examples_500) < 3:
                    tally.examples_500.append(reply.text[:300])
                await asyncio.sleep(RETRY_SECONDS)
                continue
            break  # a 4xx: reported, not retried


async def poll_ready(client: httpx.AsyncClient, stop: asyncio.Event, tally: Tally) -> None:
    while not stop.is_set():
        try:
            status = (await client.get("/ready")).status_code
        except httpx.TransportError:
            status = 0
        tally.ready[status] += 1
        if tally.outage():
            tally.ready_during_outage[str(status) if status else "no answer"] += 1
        await asyncio.sleep(0.1)


async def restart_postgres(version: str, tally: Tally) -> None:
    restart = Restart(began=time.monotonic())
    tally.restarts.append(restart)
    command = [
        "pg_ctlcluster",
        "--skip-systemctl-redirect",
        version,
        "main",
        "restart",
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    restart.ended = time.monotonic()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {output.decode(errors='replace')}")


async def load_and_restart(
    server: Server, savers: list[Saver], args: argparse.Namespace, tally: Tally
) -> float:
    rng = random.Random(args.seed)
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=len(savers) + 1, max_keepalive_connections=len(savers))
    began = time.monotonic()
    async with httpx.AsyncClient(base_url=server.base, timeout=30, limits=limits) as client:
        tasks = [
            asyncio.create_task(save_loop(client, s, stop, tally, random.Random(rng.random())))
            for s in savers
        ]
        tasks.append(asyncio.create_task(poll_ready(client, stop, tally)))
        try:
            for n in range(args.restarts):
                await asyncio.sleep(args.before if n == 0 else args.gap)
                await restart_postgres(args.pg_version, tally)
                took = tally.restarts[-1].ended - tally.restarts[-1].began
                print(f"  restart {n + 1}: pg_ctlcluster took {took:.2f} s", flush=True)
            await asyncio.sleep(args.tail)
        finally:
            stop.set()
            done, pending = await asyncio.wait(tasks, timeout=60)
            for task in pending:
                task.cancel()
            for task in done:
                task.result()
    tally.settle(time.monotonic())
    return time.monotonic() - began


@dataclass
class Outcome:
    acknowledged: int
    lost: int
    phantom: int
    examples: list[str]
    tally: Tally
    seconds: float
    same_process: bool
    first_error: list[str] = field(default_factory=list)
    """The server log from its first unexpected error on, when there was one."""

    @property
    def broken(self) -> bool:
        t = self.tally
        return bool(
            self.lost
            or self.phantom
            or t.statuses[500]
            or t.unavailable_without_retry_after
            or not self.same_process
            or any(r.first_refusal is not None and r.back is None for r in t.restarts)
        )


def run(args: argparse.Namespace, folder: Path) -> Outcome:
    database = new_database("postgresql", folder, args.postgres_url)
    server: Server | None = None
    try:
        settings = bench_settings(database.url, folder)
        prepare(settings)
        tokens = asyncio.run(make_candidates(settings, args.savers))
        server = Server(settings, folder / "server.log", sweep_seconds=0)
        server.start()
        server.wait_ready()
        assert server.process is not None
        pid = server.process.pid
        savers = asyncio.run(start_attempts(server.base, tokens))
        tally = Tally()
        seconds = asyncio.run(load_and_restart(server, savers, args, tally))
        same = server.process.pid == pid and server.process.poll() is None and server.starts == 1
        server.stop()
        log = server.log_tail(100_000)
        start = next((n for n, line in enumerate(log) if "unhandled error" in line), None)
        verdict = check(savers, asyncio.run(stored_answers(database.url)))
        return Outcome(
            acknowledged=sum(s.acked for saver in savers for s in saver.sent),
            lost=verdict["lost"],
            phantom=verdict["phantom"],
            examples=verdict["examples"],
            tally=tally,
            seconds=seconds,
            same_process=same,
            first_error=[] if start is None else log[start : start + 60],
        )
    finally:
        if server is not None:
            server.stop()
        database.drop()


def show(outcome: Outcome) -> None:
    t = outcome.tally
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(t.statuses.items())) or "none"
    print(
        f"  {len(t.restarts)} restart(s) in {outcome.seconds:.1f} s of load\n"
        f"  saves acknowledged {outcome.acknowledged}; responses by status: {statuses}\n"
        f"  503 without Retry-After: {t.unavailable_without_retry_after}; 500s: {t.statuses[500]}; "
        f"connection errors (retried): {t.connection_errors}\n"
        f"  save latency (200s): p50 {percentile(t.latencies_ms, 0.5):.1f} ms, "
        f"p99 {percentile(t.latencies_ms, 0.99):.1f} ms"
    )
    for n, r in enumerate(t.restarts, 1):
        refused = "no save was refused"
        if r.first_refusal is not None and r.last_refusal is not None:
            refused = (
                f"saves refused from {r.first_refusal - r.began:+.2f} s to "
                f"{r.last_refusal - r.began:+.2f} s"
            )
        if r.back is None:
            back = "saves did NOT succeed again"
        else:
            back = f"saves succeed again from {r.back - r.began:+.2f} s"
        print(
            f"  restart {n} (times from its start): pg_ctlcluster returned at "
            f"{r.ended - r.began:+.2f} s; {refused}; {back}"
        )
    during = ", ".join(f"{k}: {n}" for k, n in sorted(t.ready_during_outage.items())) or "none"
    print(f"  /ready during the outages: {during}")
    print(
        f"  lost answers {outcome.lost}; rows holding an answer never sent there "
        f"{outcome.phantom}; the app process that started is the one serving: "
        f"{'yes' if outcome.same_process else 'NO'}"
    )
    for example in outcome.examples:
        print(f"    lost: {example}")
    for example in t.examples_500:
        print(f"    500: {example}")
    if outcome.first_error:
        print("  the server's log from its first unexpected error:")
        for line in outcome.first_error:
            print(f"    | {line}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--restarts", type=int, default=1, help="PostgreSQL restarts")
    parser.add_argument("--savers", type=int, default=16, help="concurrent savers")
    parser.add_argument("--before", type=float, default=3.0, help="seconds of load first")
    parser.add_argument("--gap", type=float, default=4.0, help="seconds between restarts")
    parser.add_argument("--tail", type=float, default=4.0, help="seconds after the last")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument(
        "--pg-version",
        default=None,
        help="the cluster's version under /etc/postgresql (default: the only one there)",
    )
    args = parser.parse_args(argv)
    if args.restarts < 1 or args.savers < 1:
        parser.error("need --restarts >= 1 and --savers >= 1")
    if args.pg_version is None:
        versions = sorted(p.name for p in Path("/etc/postgresql").glob("*") if p.is_dir())
        if len(versions) != 1:
            parser.error(
                f"found PostgreSQL versions {versions} in /etc/postgresql; pass --pg-version"
            )
        args.pg_version = versions[0]
    if shutil.which("pg_ctlcluster") is None:
        parser.error("pg_ctlcluster is missing (Debian's postgresql-common); this bench needs it")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"db restart: {args.savers} savers on one app instance (PostgreSQL {args.pg_version}), "
        f"{args.restarts} restart(s) of the cluster under load; saves must get 503 with "
        "Retry-After while it is down, never 500, and succeed again on the same app process",
        flush=True,
    )
    scenario = f"postgresql, {args.savers} savers, {args.restarts} restart(s)"
    with tempfile.TemporaryDirectory(prefix="exam-bench-db-restart-") as tmp:
        try:
            outcome = run(args, Path(tmp))
        except Exception as exc:
            print(f"  FAILED: {type(exc).__name__}: {exc}", flush=True)
            summary_row("db restart", scenario, "run", f"failed: {type(exc).__name__}", "", False)
            return 1
    show(outcome)
    t = outcome.tally
    summary_row("db restart", scenario, "saves acknowledged", str(outcome.acknowledged))
    summary_row("db restart", scenario, "503 while down", str(t.statuses[503]))
    summary_row("db restart", scenario, "500s", str(t.statuses[500]), "0", t.statuses[500] == 0)
    summary_row("db restart", scenario, "lost answers", str(outcome.lost), "0", outcome.lost == 0)
    backs = [r.back - r.began for r in t.restarts if r.back is not None]
    summary_row(
        "db restart",
        scenario,
        "seconds until saves succeed (max)",
        f"{max(backs):.2f}" if backs else "n/a",
    )
    summary_row(
        "db restart",
        scenario,
        "same app process",
        "yes" if outcome.same_process else "no",
        "yes",
        outcome.same_process,
    )
    print("verdict:", "FAILED" if outcome.broken else "ok")
    return 1 if outcome.broken else 0


if __name__ == "__main__":
    sys.exit(main())
