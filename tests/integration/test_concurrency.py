"""Races that must still grade every attempt exactly once: parallel submits of one attempt,
and late submits racing the expiry sweep of two other processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from exam_service.db import create_engine, session_factory
from exam_service.exams import closing, results
from exam_service.exams.service import visible_attempt
from tests.factories import Person, import_folder
from tests.integration.exam_helpers import make_blueprint, start

Client = AsyncTestClient  # type: ignore[type-arg]
ROOT = Path(__file__).parents[2]

SWEEPER = """
import asyncio, sys, time
from exam_service.db import create_engine, session_factory
from exam_service.exams.closing import sweep_expired

async def main(url: str, seconds: float) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    closed, stop = 0, time.monotonic() + seconds
    print("sweeping", flush=True)
    while time.monotonic() < stop:
        closed += await sweep_expired(sessions)
        await asyncio.sleep(0.005)
    await engine.dispose()
    print(closed, flush=True)

asyncio.run(main(sys.argv[1], float(sys.argv[2])))
"""


async def counts(db_url: str) -> tuple[int, int, set[str]]:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            results = await connection.scalar(text("SELECT count(*) FROM results"))
            distinct = await connection.scalar(
                text("SELECT count(DISTINCT attempt_id) FROM results")
            )
            statuses = set((await connection.scalars(text("SELECT status FROM attempts"))).all())
    finally:
        await engine.dispose()
    return int(results or 0), int(distinct or 0), statuses


async def test_parallel_submits_grade_once(
    client: Client, db_url: str, bank_dir: Path, people: dict[str, Person]
) -> None:
    await import_folder(db_url, bank_dir)
    candidate = people["candidate"]
    attempt = await start(client, candidate, "starter-mock")
    url = f"/api/v1/attempts/{attempt['id']}/submit"
    replies = await asyncio.gather(
        *(client.post(url, headers=candidate.headers) for _ in range(12))
    )
    assert [r.status_code for r in replies] == [200] * 12
    assert len({r.text for r in replies}) == 1
    assert await counts(db_url) == (1, 1, {"submitted"})


async def test_submits_on_separate_connections_grade_once(
    client: Client, db_url: str, bank_dir: Path, people: dict[str, Person]
) -> None:
    """The same race with each submit on its own engine and connection, started together:
    the test client may hand requests to the app one after another, the database does not."""
    await import_folder(db_url, bank_dir)
    candidate = people["candidate"]
    attempt = await start(client, candidate, "starter-mock")
    engines = [create_engine(db_url) for _ in range(8)]
    gate = asyncio.Event()

    async def submit_on(engine: AsyncEngine) -> str:
        async with session_factory(engine)() as session:
            await session.execute(text("SELECT 1"))  # connected before the gate opens
            await gate.wait()
            closed = await closing.submit(session, candidate.user, attempt["id"])
            return closed.status

    try:
        racers = [asyncio.create_task(submit_on(engine)) for engine in engines]
        await asyncio.sleep(0.2)
        gate.set()
        statuses = await asyncio.gather(*racers)
    finally:
        for engine in engines:
            await engine.dispose()
    assert statuses == ["submitted"] * 8
    assert await counts(db_url) == (1, 1, {"submitted"})


async def test_a_submit_that_loses_the_race_still_answers_with_the_result(
    client: Client, db_url: str, bank_dir: Path, people: dict[str, Person]
) -> None:
    """The submit read the attempt as open, then another caller closed it first: the submit
    grades nothing and answers with the other caller's result (its session had the attempt
    row expired by the rollback, and must read it again)."""
    await import_folder(db_url, bank_dir)
    candidate = people["candidate"]
    attempt = await start(client, candidate, "starter-mock")
    engine = create_engine(db_url)
    try:
        sessions = session_factory(engine)
        async with sessions() as submitting, sessions() as other:
            seen = await visible_attempt(submitting, candidate.user, attempt["id"])
            assert seen.status == "in_progress"
            assert await closing.close_attempt(other, attempt["id"], expired=False)
            view = await results.submit_for_result(submitting, candidate.user, attempt["id"])
    finally:
        await engine.dispose()
    assert view.status == "submitted"
    assert view.raw_possible > 0 and len(view.objectives) > 0
    assert await counts(db_url) == (1, 1, {"submitted"})


async def test_late_submits_race_two_sweeping_processes(
    client: Client, db_url: str, bank_dir: Path, people: dict[str, Person]
) -> None:
    await import_folder(db_url, bank_dir)
    await make_blueprint(
        client, people["admin"], "race", time_limit_seconds=2, grace_seconds=0, max_open_attempts=20
    )
    owners = [people["candidate"], people["other-candidate"]] * 6
    attempts = [await start(client, who, "race") for who in owners]

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sweepers = [
        subprocess.Popen(
            [sys.executable, "-c", SWEEPER, db_url, "5"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    try:
        for sweeper in sweepers:  # both processes are in their loops before the deadline
            assert sweeper.stdout is not None and sweeper.stdout.readline().strip() == "sweeping"
        await asyncio.sleep(2.05)
        replies = await asyncio.gather(
            *(
                client.post(f"/api/v1/attempts/{a['id']}/submit", headers=who.headers)
                for a, who in zip(attempts, owners, strict=True)
            )
        )
        swept = [int(s.communicate(timeout=30)[0].strip()) for s in sweepers]
    finally:
        for sweeper in sweepers:
            sweeper.kill()
    assert [r.status_code for r in replies] == [200] * len(attempts), [r.text for r in replies]
    assert {r.json()["status"] for r in replies} == {"expired"}
    assert all(
        r.json()["submitted_at"] == a["deadline"]
        or r.json()["submitted_at"][:19] == a["deadline"][:19]
        for r, a in zip(replies, attempts, strict=True)
    )
    assert sum(swept) <= len(attempts)
    assert await counts(db_url) == (len(attempts), len(attempts), {"expired"})
