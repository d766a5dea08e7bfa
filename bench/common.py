"""Helpers shared by the benchmarks.

Fresh databases (a temporary SQLite file, or `exam_bench_<random>` on the PostgreSQL server,
dropped at the end), migration and bank import, a short timed blueprint, candidates with
real tokens made directly in the database (no sign-ins), valid random answers in display
ids, app servers as child processes (`python -m exam_service serve`, so a SIGKILL kills the
real server), percentiles, and `summary_row`, which records a headline figure for the table
`make bench` prints at the end (`bench/summary.py`). The approach follows
`bench/answer_save.py`.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import asyncpg
import httpx
import msgspec
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from exam_service.auth.passwords import hash_password
from exam_service.auth.schemas import CurrentUser
from exam_service.auth.security import issue_token, jwt_auth
from exam_service.auth.service import create_user
from exam_service.bank.loader import load_bank
from exam_service.cli import import_bank_folder
from exam_service.db import create_engine, session_factory
from exam_service.exams import blueprints
from exam_service.migrate import upgrade
from exam_service.models import Attempt
from exam_service.settings import ROOT, Settings

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
BACKEND_LABELS = {
    "sqlite": "a temporary file through aiosqlite; WAL, synchronous=FULL",
    "postgresql": "a temporary database through asyncpg",
}
GRADE_ERRORS = ("IntegrityError", "UniqueViolation", "duplicate key", "UNIQUE constraint")
"""What a second grading of one attempt would leave in a server log: `results` is keyed by
the attempt, so a second insert fails instead of adding a row."""
SUMMARY_ENV = "EXAM_BENCH_SUMMARY"

# --- databases and data -------------------------------------------------------------------


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def pg_admin(server_url: str, sql: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@dataclass
class Database:
    backend: str
    url: str
    drop: Callable[[], None]


def new_database(backend: str, folder: Path, postgres_url: str) -> Database:
    if backend == "sqlite":
        return Database(backend, f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}", lambda: None)
    name = f"exam_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(pg_admin(postgres_url, f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        asyncio.run(pg_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return Database(backend, url, drop)


def bench_settings(database_url: str, folder: Path) -> Settings:
    """Settings for the bench process; the servers get the same values through EXAM_*."""
    return Settings(
        database_url=database_url,
        secret_key=secrets.token_hex(32),
        bank_path=ROOT / "question_bank",
        data_dir=folder / "var",
        log_level="warning",
    )


async def make_candidates(settings: Settings, count: int, prefix: str = "bench") -> list[str]:
    """`count` candidates with real tokens, as tests/factories.py `make_people` makes them."""
    engine = create_engine(settings.database_url)
    auth = jwt_auth(settings)
    digest = hash_password(uuid.uuid4().hex)
    tokens = []
    try:
        async with session_factory(engine)() as session:
            for n in range(count):
                user = await create_user(
                    session, f"{prefix}-{n:04d}", "unused", "candidate", password_hash=digest
                )
                me = CurrentUser(user.id, user.username, user.role, user.display_name)
                tokens.append(issue_token(auth, me, settings.token_ttl_seconds))
            await session.commit()
    finally:
        await engine.dispose()
    return tokens


def prepare(settings: Settings) -> None:
    """Migrate the fresh database and import the default bank."""
    upgrade(settings.database_url)
    bank = load_bank(settings.bank_path)
    if bank.problems:
        raise RuntimeError(f"the bank at {settings.bank_path} has problems: {bank.problems[:3]}")
    asyncio.run(import_bank_folder(settings.database_url, bank))


async def insert_blueprint(
    settings: Settings,
    blueprint_id: str,
    name: str,
    time_limit: int,
    grace: int,
    source: str = "seed-mock",
) -> None:
    """A copy of the `source` blueprint (30 items for `seed-mock`) with a short time limit
    and one open attempt per candidate, inserted directly."""
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            original = blueprints.blueprint_file(await blueprints.get_blueprint(session, source))
            spec = msgspec.structs.replace(
                original,
                id=blueprint_id,
                name=name,
                time_limit_seconds=time_limit,
                grace_seconds=grace,
                max_open_attempts=1,
            )
            await blueprints.create_blueprint(session, spec, owner_id=None)
    finally:
        await engine.dispose()


async def open_attempts(database_url: str) -> int:
    """How many attempts are still `in_progress`."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            found = await connection.scalar(
                select(func.count()).select_from(Attempt).where(Attempt.status == "in_progress")
            )
    finally:
        await engine.dispose()
    return int(found or 0)


def timestamp(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 time as the API writes it."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --- answers ------------------------------------------------------------------------------


def random_answer(item: dict[str, Any], rng: random.Random) -> Any:
    """A random answer the app accepts for an item as the candidate sees it, already in the
    form the app stores (multiple: letters sorted; matching: prompts in shown order;
    numeric: a whole number), so
    that what was sent can be compared with the `responses` row as it is."""
    options = [o["id"] for o in item["options"]]
    if item["type"] == "single":
        return [rng.choice(options)]
    if item["type"] == "multiple":
        return sorted(rng.sample(options, rng.randint(1, item["choose"] or 1)))
    if item["type"] == "ordering":
        return rng.sample(options, len(options))
    if item["type"] == "matching":
        choices = [c["id"] for c in item["choices"]]
        return {p["id"]: rng.choice(choices) for p in item["prompts"]}
    if item["type"] == "numeric":  # a whole number: stored as sent
        return rng.randint(0, 2000)
    raise ValueError(f"unknown item type {item['type']!r}")


# --- the servers --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


WARM_BOOT = (
    "import sys, exam_service.app, exam_service.cli; sys.stdin.readline(); "
    "sys.exit(exam_service.cli.main(['serve', '--port', sys.argv[1]]))"
)
"""A standby server: imports first, then `exam-service serve` once a line arrives on stdin."""


def server_env(settings: Settings, sweep_seconds: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        EXAM_DATABASE_URL=settings.database_url,
        EXAM_SECRET_KEY=settings.secret_key,
        EXAM_ENV="development",
        EXAM_BANK_PATH=str(settings.bank_path),
        EXAM_DATA_DIR=str(settings.data_dir),
        EXAM_LOG_LEVEL="warning",
        EXAM_SWEEP_INTERVAL_SECONDS=str(sweep_seconds),
        EXAM_CALIBRATION_INTERVAL_SECONDS="0",  # no background calibration inside a bench
    )
    return env


@dataclass
class Server:
    """One app instance: `python -m exam_service serve` (uvicorn, one worker, in-process, so
    SIGKILL to the child kills the server itself). Its output goes to a log file."""

    settings: Settings
    log_path: Path
    sweep_seconds: int = 0
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    standby: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, held: bool) -> subprocess.Popen[bytes]:
        if self.log is None:
            self.log = self.log_path.open("ab")
        command = ["-m", "exam_service", "serve", "--port", str(self.port)]
        if held:
            command = ["-c", WARM_BOOT, str(self.port)]
        return subprocess.Popen(
            [sys.executable, *command],
            cwd=ROOT,
            env=server_env(self.settings, self.sweep_seconds),
            stdin=subprocess.PIPE if held else subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def start(self) -> None:
        """A new process: `python -m exam_service serve --port P`."""
        self.process = self._spawn(held=False)
        self.starts += 1

    def prepare_standby(self) -> None:
        """A process that has imported the app's modules (about 2-5 s on a busy 2-core
        machine) and waits; `promote` lets it run `exam-service serve`. It has not touched
        the database yet, so promoting it is a restart, minus the Python imports."""
        if self.standby is None:
            self.standby = self._spawn(held=True)

    def promote(self) -> None:
        """Start the standby (or a cold process when there is none) as the server."""
        if self.standby is None:
            self.start()
            return
        self.process, self.standby = self.standby, None
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        self.process.stdin.close()
        self.starts += 1

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Seconds until /ready answered 200; RuntimeError after `timeout`."""
        began = time.monotonic()
        last = "none"
        while time.monotonic() - began < timeout:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the server on port {self.port} exited with code {self.process.returncode}"
                    f"; see {self.log_path}"
                )
            try:
                reply = httpx.get(f"{self.base}/ready", timeout=5)
                if reply.status_code == 200:
                    return time.monotonic() - began
                last = f"{reply.status_code} {reply.text[:200]}"
            except httpx.TransportError as exc:
                last = type(exc).__name__
            time.sleep(0.05)
        raise RuntimeError(
            f"the server on port {self.port} was not ready within {timeout:g} s (last /ready: "
            f"{last}); its log ends:\n" + "\n".join(self.log_tail(8))
        )

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown, no flushing."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), SIGKILL after 15 s; the standby too."""
        if self.standby is not None:
            self.standby.kill()
            self.standby.wait(10)
            self.standby = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.log is not None:
            self.log.close()
            self.log = None

    def log_tail(self, count: int) -> list[str]:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return text.splitlines()[-count:]

    def log_lines(self, *needles: str) -> list[str]:
        """Lines of the server log that contain any of `needles`."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if any(n in line for n in needles)]


# --- figures ------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (0 < share <= 1) of `values`; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(share * len(ordered))))
    return ordered[rank - 1]


# --- the summary table --------------------------------------------------------------------


Outcome = TypeVar("Outcome")


def each_backend(
    prefix: str,
    backends: Sequence[str],
    run: Callable[[str, Path], Outcome],
    show: Callable[[Outcome], None],
) -> dict[str, Outcome | Exception]:
    """Run one scenario per backend, each in its own folder of a temporary directory, and
    print each outcome; a backend whose run raises is reported and the next one still runs
    (the caller turns the exception into a failed row and exit code 1)."""
    outcomes: dict[str, Outcome | Exception] = {}
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        for backend in backends:
            print(f"\n{backend} ({BACKEND_LABELS[backend]})", flush=True)
            folder = Path(tmp) / backend
            folder.mkdir()
            try:
                outcome = run(backend, folder)
            except Exception as exc:
                print(f"  FAILED: {type(exc).__name__}: {exc}", flush=True)
                outcomes[backend] = exc
                continue
            show(outcome)
            outcomes[backend] = outcome
    return outcomes


def summary_row(
    bench: str, scenario: str, figure: str, value: str, target: str = "", ok: bool | None = None
) -> None:
    """Record one headline figure for the table `make bench` ends with (`bench/summary.py`):
    one JSON object per line, appended to the file named by EXAM_BENCH_SUMMARY. Nothing
    happens when the variable is unset, as when a script is run on its own. `ok` is whether
    the figure meets `target` (None: no target)."""
    path = os.environ.get(SUMMARY_ENV)
    if not path:
        return
    row = {
        "bench": bench,
        "scenario": scenario,
        "figure": figure,
        "value": value,
        "target": target,
        "ok": ok,
    }
    with open(path, "a", encoding="utf-8") as out:  # one short write: lines do not interleave
        out.write(json.dumps(row) + "\n")
