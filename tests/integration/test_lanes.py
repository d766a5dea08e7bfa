"""Lanes (`exams/lanes.py`): starts and gradings wait for one another, not in front of the
saves, and a submit that waits for its lane is still judged by when it arrived."""

from __future__ import annotations

import asyncio
from pathlib import Path

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from exam_service.db import create_engine, session_factory
from exam_service.exams import closing
from exam_service.exams.lanes import LANES, lane
from exam_service.exams.service import visible_attempt
from exam_service.models import Attempt
from tests.factories import Person, import_folder
from tests.integration.exam_helpers import make_blueprint, parse, start
from tests.integration.test_concurrency import counts

Client = AsyncTestClient  # type: ignore[type-arg]


async def test_a_submit_waiting_for_its_lane_past_the_deadline_is_on_time(
    client: Client, db_url: str, bank_dir: Path, people: dict[str, Person]
) -> None:
    """Every lane is busy when the submit arrives, and stays busy until after the attempt's
    deadline and grace: the attempt is graded as submitted, at its arrival."""
    await import_folder(db_url, bank_dir)
    await make_blueprint(client, people["admin"], "tight", time_limit_seconds=2, grace_seconds=0)
    candidate = people["candidate"]
    attempt = await start(client, candidate, "tight")
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    held, free = asyncio.Semaphore(0), asyncio.Event()

    async def hold_a_lane() -> None:  # another start or grading, in its own task
        async with sessions() as session, lane(session):
            held.release()
            await free.wait()

    try:
        holders = [asyncio.create_task(hold_a_lane()) for _ in range(LANES)]
        for _ in range(LANES):
            await held.acquire()
        async with sessions() as submitting:
            submit = asyncio.create_task(closing.submit(submitting, candidate.user, attempt["id"]))
            await asyncio.sleep(2.5)  # past the deadline, the submit still waiting
            assert not submit.done()
            free.set()
            closed = await submit
        await asyncio.gather(*holders)
        async with sessions() as session:
            stored = await session.scalar(select(Attempt).where(Attempt.id == attempt["id"]))
    finally:
        await engine.dispose()
    assert closed.status == "submitted"
    assert stored is not None and stored.status == "submitted"
    assert stored.submitted_at is not None
    assert stored.submitted_at < parse(attempt["deadline"])


async def test_lanes_bound_the_work_at_once_and_a_task_in_one_takes_no_second(
    db_url: str,
) -> None:
    engine = create_engine(db_url)
    inside, most = 0, 0

    async def work(session: object) -> None:
        nonlocal inside, most
        async with lane(session):  # type: ignore[arg-type]
            inside += 1
            most = max(most, inside)
            async with lane(session):  # type: ignore[arg-type]  # the same task: no wait
                await asyncio.sleep(0.01)
            inside -= 1

    try:
        async with session_factory(engine)() as session:
            await asyncio.wait_for(asyncio.gather(*(work(session) for _ in range(10))), 5)
    finally:
        await engine.dispose()
    assert most == LANES


async def test_touches_waiting_for_a_lane_hold_no_connection(
    client: Client, db_url: str, bank_dir: Path, people: dict[str, Person]
) -> None:
    """A class comes back after its deadline while every lane is busy: each request that
    finds its attempt expired waits for a lane to grade it without holding a connection, so
    more of them than the pool holds all get through, each graded once."""
    await import_folder(db_url, bank_dir)
    await make_blueprint(
        client,
        people["admin"],
        "short",
        time_limit_seconds=1,
        grace_seconds=0,
        max_open_attempts=20,
    )
    owners = [people["candidate"], people["other-candidate"]] * 10
    attempts = [await start(client, who, "short") for who in owners]
    await asyncio.sleep(1.2)
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    held, free = asyncio.Semaphore(0), asyncio.Event()

    async def hold_a_lane() -> None:
        async with sessions() as session, lane(session):
            held.release()
            await free.wait()

    async def touch(attempt_id: int, who: Person) -> str:
        async with sessions() as session:
            seen = await visible_attempt(session, who.user, attempt_id)
            await closing.close_if_expired(session, seen)
            return seen.status

    try:
        holders = [asyncio.create_task(hold_a_lane()) for _ in range(LANES)]
        for _ in range(LANES):
            await held.acquire()
        touches = [
            asyncio.create_task(touch(a["id"], who))
            for a, who in zip(attempts, owners, strict=True)
        ]
        await asyncio.sleep(1.0)
        in_use = engine.sync_engine.pool.checkedout()  # type: ignore[attr-defined]
        free.set()
        statuses = await asyncio.wait_for(asyncio.gather(*touches), 60)
        await asyncio.gather(*holders)
    finally:
        await engine.dispose()
    assert in_use <= LANES, f"{in_use} connections held by requests waiting for a lane"
    assert statuses == ["expired"] * len(attempts)
    assert await counts(db_url) == (len(attempts), len(attempts), {"expired"})
