"""How close the answer-save hot path comes to one bare database upsert.

What is measured: `PUT /api/v1/attempts/{id}/responses/{position}` (the real app: JWT
auth, body parsing, the answer checked against the attempt's cached items, one guarded
`INSERT ... SELECT ... ON CONFLICT DO UPDATE` through SQLAlchemy Core on a pooled
connection) against `PUT /bench/raw/{id}/{position}`, a bare handler on the SAME app
instance that parses the same JSON body and does one raw-driver upsert into the same
`responses` table (asyncpg pool on PostgreSQL; one aiosqlite connection with the app's
pragmas, one transaction and commit per save, on SQLite). The bare handler has no auth:
it is the ceiling.

How: for each backend a fresh database is migrated (`exam_service.migrate.upgrade`), the
default bank imported, N candidates made with real tokens; the app (plus the bare route)
runs under uvicorn in a child process (one worker, like `exam-service serve`); every
candidate starts a `seed-mock` attempt through the API (30 items). The same wrk client
(Lua script: each request picks a random candidate and position, with a valid answer for
that item and the candidate's bearer token) loads both endpoints: a warm-up, then a timed
run each. Printed: requests/s, p50/p99 latency, the server process's CPU time per
request, the ratio app/bare, the number of non-2xx responses, and a check of the
`responses` rows. Target: ratio >= 0.6. The exit
code is 0 whatever the ratio; it is non-zero only if something broke (errors, bad rows).

Under `make bench` the headline figures also go to the table it ends with
(`common.summary_row`; `bench/summary.py` prints it).

Run: `make bench`, or `.venv/bin/python bench/answer_save.py --backends sqlite`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import httpx
import uvicorn
from litestar import Litestar, put
from sqlalchemy import select
from sqlalchemy.engine import make_url

from exam_service.app import create_app
from exam_service.db import create_engine
from exam_service.exams.schemas import ResponseSave
from exam_service.models import Response
from exam_service.settings import ROOT, Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402  (the bench folder is not a package)
    BACKEND_LABELS,
    DEFAULT_POSTGRES,
    free_port,
    make_candidates,
    new_database,
    prepare,
    random_answer,
    summary_row,
)

TARGET_RATIO = 0.6
BLUEPRINT = "seed-mock"
THREADS = 2
APP_PATH = "/api/v1/attempts/{attempt_id}/responses/{position}"
BARE_PATH = "/bench/raw/{attempt_id}/{position}"

# --- the bare endpoint --------------------------------------------------------------------

PG_UPSERT = (
    "INSERT INTO responses (attempt_id, position, answer, flagged, locked, saved_at) "
    "VALUES ($1, $2, $3::jsonb, $4, false, now()) ON CONFLICT (attempt_id, position) "
    "DO UPDATE SET answer = excluded.answer, flagged = excluded.flagged, "
    "saved_at = excluded.saved_at"
)
SQLITE_UPSERT = (
    "INSERT INTO responses (attempt_id, position, answer, flagged, locked, saved_at) "
    "VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT (attempt_id, position) "
    "DO UPDATE SET answer = excluded.answer, flagged = excluded.flagged, "
    "saved_at = excluded.saved_at"
)
SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=10000",
)


class RawStore:
    """One raw-driver upsert per save: the ceiling the app's save path is compared with."""

    def __init__(self, database_url: str) -> None:
        self.url = make_url(database_url)
        self.pool: Any = None
        self.sqlite: aiosqlite.Connection | None = None
        self.lock = asyncio.Lock()

    async def open(self) -> None:
        if self.url.get_backend_name() == "postgresql":
            dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            # The same bounds as the app's engine (pool_size=10, max_overflow=20).
            self.pool = await asyncpg.create_pool(dsn, min_size=10, max_size=30)
            return
        self.sqlite = await aiosqlite.connect(str(self.url.database))
        for pragma in SQLITE_PRAGMAS:
            await self.sqlite.execute(pragma)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
        if self.sqlite is not None:
            await self.sqlite.close()

    async def save(self, attempt_id: int, position: int, answer: Any, flagged: bool) -> datetime:
        now = datetime.now(UTC)
        stored = json.dumps(answer)
        if self.pool is not None:
            await self.pool.execute(PG_UPSERT, attempt_id, position, stored, flagged)
            return now
        assert self.sqlite is not None
        # One connection: the lock keeps each save its own transaction and commit.
        async with self.lock:
            when = now.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite format
            await self.sqlite.execute(SQLITE_UPSERT, (attempt_id, position, stored, flagged, when))
            await self.sqlite.commit()
        return now


def bench_app(settings: Settings) -> Litestar:
    """The real app, with the bare comparison route registered on the same instance."""
    app = create_app(settings)
    store = RawStore(settings.database_url)

    @put(
        "/bench/raw/{attempt_id:int}/{position:int}",
        opt={"exclude_from_auth": True},
        include_in_schema=False,
    )
    async def raw_save(attempt_id: int, position: int, data: ResponseSave) -> dict[str, Any]:
        saved_at = await store.save(attempt_id, position, data.answer, data.flagged)
        return {"position": position, "answer": data.answer, "saved_at": saved_at}

    app.register(raw_save)
    app.on_startup.append(store.open)
    app.on_shutdown.append(store.close)
    return app


# --- the server ---------------------------------------------------------------------------


def serve(settings: Settings, port: int) -> None:
    """Child process: uvicorn, one worker, as `exam-service serve` runs it."""
    uvicorn.run(
        bench_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        proxy_headers=True,
    )


def start_server(settings: Settings) -> tuple[multiprocessing.process.BaseProcess, str]:
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=serve, args=(settings, port), name="bench-uvicorn"
    )
    process.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not process.is_alive():
            raise RuntimeError(f"the server exited with code {process.exitcode}")
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not become ready within 30 s")


def cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU time of a process so far, or None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_server(process: multiprocessing.process.BaseProcess) -> None:
    process.terminate()  # SIGTERM: uvicorn shuts down gracefully
    process.join(15)
    if process.is_alive():
        process.kill()
        process.join()


# --- databases and data -------------------------------------------------------------------


ANSWERS = random.Random(21)
"""Where the saved answers come from (`common.random_answer`: every item type, in the form
the app stores, so each row can be compared with what was sent)."""


@dataclass(frozen=True)
class Save:
    """One possible request: a candidate's attempt, a position and a valid body."""

    attempt_id: int
    position: int
    token: str
    answer: Any

    @property
    def body(self) -> str:
        return json.dumps({"answer": self.answer, "flagged": False})


def start_attempts(base: str, tokens: list[str]) -> list[Save]:
    saves: list[Save] = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for token in tokens:
            reply = client.post(
                "/api/v1/attempts",
                json={"blueprint_id": BLUEPRINT},
                headers={"Authorization": f"Bearer {token}"},
            )
            reply.raise_for_status()
            attempt = reply.json()
            saves.extend(
                Save(attempt["id"], item["position"], token, random_answer(item, ANSWERS))
                for item in attempt["items"]
            )
    return saves


# --- the load client ----------------------------------------------------------------------


@dataclass
class Load:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    """Non-2xx responses plus socket errors (connect, read, write, timeout)."""
    server_cpu_us: float | None = None
    """CPU time of the server process per request (Linux /proc), less noisy than req/s on a
    small machine where the client and the database share the cores."""


def lua_script(saves: list[Save], path_template: str) -> str:
    """wrk script: every request is a random save from the list, pre-formatted per thread."""
    rows = []
    for s in saves:
        path = json.dumps(path_template.format(attempt_id=s.attempt_id, position=s.position))
        rows.append(f"  {{{path}, [==[{s.body}]==], [==[{s.token}]==]}}")
    entries = ",\n".join(rows)
    return f"""local saves = {{
{entries}
}}
local formatted = {{}}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
  for i, s in ipairs(saves) do
    formatted[i] = wrk.format("PUT", s[1], {{
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. s[3],
    }}, s[2])
  end
end

function request()
  return formatted[math.random(#formatted)]
end
"""


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def duration_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS_MS[unit]


def parse_wrk(output: str) -> Load:
    def find(pattern: str) -> re.Match[str]:
        found = re.search(pattern, output)
        if found is None:
            raise RuntimeError(f"wrk output lacks {pattern!r}:\n{output}")
        return found

    total = find(r"(\d+) requests in ([\d.]+)(\w+),")
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Load(
        requests=int(total.group(1)),
        seconds=duration_ms(total.group(2) + total.group(3)) / 1000,
        rps=float(find(r"Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=duration_ms(find(r"\n\s+50%\s+(\S+)").group(1)),
        p99_ms=duration_ms(find(r"\n\s+99%\s+(\S+)").group(1)),
        errors=errors,
    )


def run_wrk(url: str, script: Path, seconds: float, connections: int) -> Load:
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "60s",  # the default 2 s would drop slow saves from the percentiles
        "--latency",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_wrk(done.stdout)


def ensure_wrk() -> bool:
    """wrk on PATH, installing the Debian package if needed (the bench is not in CI)."""
    if shutil.which("wrk"):
        return True
    if shutil.which("apt-get") and os.geteuid() == 0:
        print("installing wrk: apt-get install -y wrk", flush=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, check=False)
    return shutil.which("wrk") is not None


async def _python_connection(
    host: str, port: int, requests: list[bytes], until: float, latencies: list[float]
) -> int:
    """Keep-alive HTTP/1.1 on one socket until `until`; returns how many answers were not 2xx."""
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    try:
        while time.monotonic() < until:
            started = time.perf_counter()
            writer.write(random.choice(requests))
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            errors += not 200 <= status < 300
    finally:
        writer.close()
    return errors


def _python_worker(
    host: str, port: int, requests: list[bytes], connections: int, seconds: float, out: Any
) -> None:
    async def main() -> tuple[list[float], int]:
        latencies: list[float] = []
        until = time.monotonic() + seconds
        clients = (
            _python_connection(host, port, requests, until, latencies) for _ in range(connections)
        )
        errors = await asyncio.gather(*clients)
        return latencies, sum(errors)

    out.put(asyncio.run(main()))


def run_python_client(
    url: str, saves: list[Save], template: str, seconds: float, connections: int
) -> Load:
    """Fallback when wrk cannot be installed: THREADS processes of asyncio keep-alive clients."""
    target = httpx.URL(url)
    requests = []
    for s in saves:
        body = s.body.encode()
        head = (
            f"PUT {template.format(attempt_id=s.attempt_id, position=s.position)} HTTP/1.1\r\n"
            f"Host: {target.host}:{target.port}\r\nAuthorization: Bearer {s.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    share = [connections // THREADS + (n < connections % THREADS) for n in range(THREADS)]
    workers = [
        context.Process(
            target=_python_worker,
            args=(target.host, target.port, requests, n, seconds, out),
        )
        for n in share
    ]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=seconds + 60) for _ in workers]
    for worker in workers:
        worker.join()
    latencies = sorted(ms for found, _ in results for ms in found)
    cuts = statistics.quantiles(latencies, n=100)
    return Load(
        requests=len(latencies),
        seconds=seconds,
        rps=len(latencies) / seconds,
        p50_ms=cuts[49],
        p99_ms=cuts[98],
        errors=sum(errors for _, errors in results),
    )


@dataclass
class Client:
    use_wrk: bool
    connections: int
    folder: Path

    def load(self, base: str, saves: list[Save], template: str, seconds: float) -> Load:
        if not self.use_wrk:
            return run_python_client(base, saves, template, seconds, self.connections)
        script = self.folder / "saves.lua"
        script.write_text(lua_script(saves, template), encoding="utf-8")
        return run_wrk(base, script, seconds, self.connections)


# --- checking and reporting ---------------------------------------------------------------


async def check_rows(database_url: str, saves: list[Save]) -> tuple[int, int]:
    """(rows in `responses`, rows whose stored answer differs from the one sent)."""
    sent = {(s.attempt_id, s.position): s.answer for s in saves}
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
    wrong = sum(1 for a, p, answer in rows if sent.get((a, p), object()) != answer)
    return len(rows), wrong


@dataclass
class Outcome:
    backend: str
    app: Load
    bare: Load
    rows: int
    possible: int
    wrong_rows: int

    @property
    def ratio(self) -> float:
        return self.app.rps / self.bare.rps if self.bare.rps else 0.0

    @property
    def broken(self) -> bool:
        """Errors, or rows that cannot be: none at all, too many, or not what was sent."""
        rows_ok = 0 < self.rows <= self.possible and not self.wrong_rows
        return bool(self.app.errors or self.bare.errors) or not rows_ok


def print_outcome(outcome: Outcome) -> None:
    print(
        f"  {'endpoint':<9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'requests':>10}{'errors':>8}"
        f"{'server cpu us/req':>19}"
    )
    for name, load in (("app", outcome.app), ("bare", outcome.bare)):
        cpu = f"{load.server_cpu_us:.0f}" if load.server_cpu_us is not None else "-"
        print(
            f"  {name:<9}{load.rps:>9.0f}{load.p50_ms:>9.2f}{load.p99_ms:>9.2f}"
            f"{load.requests:>10}{load.errors:>8}{cpu:>19}"
        )
    print(f"  ratio app/bare: {outcome.ratio:.2f}")
    print(
        f"  responses rows: {outcome.rows} of {outcome.possible} possible; "
        f"{outcome.wrong_rows} with an answer other than the one sent"
    )


def measured(pid: int | None, run: Callable[[], Load]) -> Load:
    """`run`, with the server's CPU time per request filled in."""
    before = cpu_seconds(pid)
    load = run()
    after = cpu_seconds(pid)
    if before is not None and after is not None and load.requests:
        load.server_cpu_us = (after - before) / load.requests * 1e6
    return load


def run_backend(backend: str, client: Client, args: argparse.Namespace, folder: Path) -> Outcome:
    database = new_database(backend, folder, args.postgres_url)
    try:
        settings = Settings(
            database_url=database.url,
            bank_path=ROOT / "question_bank",
            data_dir=folder / "var",
            log_level="warning",
        )
        prepare(settings)
        tokens = asyncio.run(make_candidates(settings, args.candidates))
        process, base = start_server(settings)
        try:
            saves = start_attempts(base, tokens)
            for template in (APP_PATH, BARE_PATH):
                client.load(base, saves, template, args.warmup)
            app = measured(process.pid, lambda: client.load(base, saves, APP_PATH, args.seconds))
            bare = measured(process.pid, lambda: client.load(base, saves, BARE_PATH, args.seconds))
        finally:
            stop_server(process)
        rows, wrong = asyncio.run(check_rows(database.url, saves))
        return Outcome(backend, app, bare, rows, len(saves), wrong)
    finally:
        database.drop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=5.0, help="timed run per endpoint")
    parser.add_argument("--warmup", type=float, default=1.0, help="untimed run per endpoint")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--candidates", type=int, default=32, help="one attempt each")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument(
        "--client",
        choices=["auto", "python"],
        default="auto",
        help="auto: wrk (installed if missing), else the Python fallback",
    )
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backend(s) {sorted(unknown)}; use sqlite and/or postgresql")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    use_wrk = args.client == "auto" and ensure_wrk()
    tool = (
        f"wrk, {THREADS} threads"
        if use_wrk
        else f"the Python fallback client (not wrk), {THREADS} processes"
    )
    print(
        f"answer save: PUT {APP_PATH} (app) vs PUT {BARE_PATH} (one raw-driver upsert)\n"
        f"same uvicorn worker; client {tool}, {args.connections} "
        f"connections, {args.seconds:g} s per endpoint after {args.warmup:g} s warm-up; "
        f"{args.candidates} candidates, one {BLUEPRINT} attempt each",
        flush=True,
    )
    outcomes: dict[str, Outcome | Exception] = {}
    with tempfile.TemporaryDirectory(prefix="exam-bench-") as tmp:
        client = Client(use_wrk, args.connections, Path(tmp))
        for backend in args.backends:
            print(f"\n{backend} ({BACKEND_LABELS[backend]})", flush=True)
            folder = Path(tmp) / backend
            folder.mkdir()
            try:
                outcome = run_backend(backend, client, args, folder)
            except Exception as exc:  # report it, go on with the other backend, exit 1
                print(f"  FAILED: {type(exc).__name__}: {exc}", flush=True)
                outcomes[backend] = exc
                continue
            print_outcome(outcome)
            outcomes[backend] = outcome
    print(f"\nverdict (target: app/bare >= {TARGET_RATIO})")
    broken = False
    for backend, result in outcomes.items():
        if isinstance(result, Exception):
            print(f"  {backend}: not measured, the run failed")
            summary_row(
                "answer save", backend, "run", f"failed: {type(result).__name__}", "", False
            )
            broken = True
            continue
        met = "meets the target" if result.ratio >= TARGET_RATIO else "misses the target"
        note = "; BROKEN: errors or bad rows, see above" if result.broken else ""
        print(f"  {backend}: {result.ratio:.2f} {met}{note}")
        broken = broken or result.broken
        summary_row(
            "answer save",
            backend,
            "app/bare req/s",
            f"{result.ratio:.2f}",
            f">= {TARGET_RATIO}",
            result.ratio >= TARGET_RATIO,
        )
        summary_row(
            "answer save",
            backend,
            "app req/s, p99",
            f"{result.app.rps:.0f}, {result.app.p99_ms:.1f} ms",
        )
        errors = result.app.errors + result.bare.errors
        summary_row("answer save", backend, "errors", str(errors), "0", errors == 0)
        rows_ok = 0 < result.rows <= result.possible and not result.wrong_rows
        summary_row(
            "answer save",
            backend,
            "responses rows",
            f"{result.rows} of {result.possible} possible, {result.wrong_rows} not as sent",
            "0 not as sent",
            rows_ok,
        )
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
