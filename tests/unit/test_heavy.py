"""Heavy work runs in worker processes: the event loop keeps turning while it runs, and a
full pool refuses at once with Busy (503, Retry-After) instead of queueing without end."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from exam_service.errors import Busy
from exam_service.heavy import HeavyWork, shutdown


async def test_the_loop_keeps_turning_while_a_job_runs() -> None:
    heavy = HeavyWork(workers=1, queue=0)
    await heavy.run(os.getpid)  # the worker is up before the clock starts
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        for _ in range(40):
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    # a second of CPU-free blocking work: on the loop it would stop every tick for 1 s
    await asyncio.gather(heavy.run(time.sleep, 1.0), tick())
    assert max(gaps) < 0.5, f"the loop stalled for {max(gaps):.2f} s"


async def test_jobs_run_in_another_process_and_return_their_result() -> None:
    heavy = HeavyWork(workers=1, queue=0)
    assert await heavy.run(os.getpid) != os.getpid()
    assert await heavy.run(sorted, [3, 1, 2], reverse=True) == [3, 2, 1]


async def test_a_full_pool_says_busy_and_when_to_come_back() -> None:
    heavy = HeavyWork(workers=1, queue=1)
    first = asyncio.ensure_future(heavy.run(time.sleep, 0.5))
    second = asyncio.ensure_future(heavy.run(time.sleep, 0.1))
    await asyncio.sleep(0.05)
    with pytest.raises(Busy) as refused:
        await heavy.run(time.sleep, 0.1)
    assert refused.value.status_code == 503 and refused.value.retry_after > 0
    assert "send this again" in refused.value.detail
    await asyncio.gather(first, second)
    assert heavy.in_flight == 0
    await heavy.run(time.sleep, 0)  # room again once they finish


async def test_an_error_in_a_job_reaches_the_caller() -> None:
    heavy = HeavyWork(workers=1, queue=0)
    with pytest.raises(ValueError, match="invalid literal"):
        await heavy.run(int, "not a number")
    assert heavy.in_flight == 0


async def test_the_first_job_starts_the_pool_without_stalling_the_loop() -> None:
    shutdown()  # no pool: this job starts the fork server and a worker (about a second)
    heavy = HeavyWork(workers=1, queue=0)
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    assert await heavy.run(os.getpid) != os.getpid()
    done.set()
    await ticker
    assert max(gaps) < 0.3, f"the loop stalled for {max(gaps):.2f} s while the pool started"


async def test_a_dead_worker_is_a_busy_answer_and_the_next_job_runs() -> None:
    heavy = HeavyWork(workers=1, queue=0)
    with pytest.raises(Busy) as refused:
        await heavy.run(os._exit, 1)  # the worker process ends abruptly
    assert "worker process stopped" in refused.value.detail
    assert await heavy.run(sorted, [2, 1]) == [1, 2]


SERVER = """
import asyncio, os, signal, sys
from exam_service.heavy import HeavyWork

async def main() -> None:
    worker = await HeavyWork(workers=1, queue=0).run(os.getpid)
    print(worker, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would

if __name__ == "__main__":
    asyncio.run(main())
"""


def _running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting to be reaped is not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_a_killed_server_leaves_no_worker_or_fork_server_behind(tmp_path: Path) -> None:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    root = Path(__file__).resolve().parents[2]
    with subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    ) as server:
        assert server.stdout is not None
        worker = int(server.stdout.readline())
        fork_server = _parent(worker)
        assert server.wait(30) == -signal.SIGKILL
    deadline = time.monotonic() + 15
    while (_running(worker) or _running(fork_server)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(worker), "the worker outlived the server"
    assert not _running(fork_server), "the fork server outlived the server"
