"""CPU-heavy work off the event loop: a small pool of worker processes per instance.

Candidates' saves share the event loop with everything else an instance does, so work
that holds the CPU for more than a few milliseconds never runs on it: bank imports and
exports, reading scanned answer sheets, drawing PDFs and parsing uploaded answer CSVs are
sent to `HeavyWork.run`, which runs a pure function in a worker process and awaits it.

- Bounded: `EXAM_HEAVY_WORKERS` processes (default one fewer than the CPUs, at least
  one) run jobs; `EXAM_HEAVY_QUEUE` more may wait. Past that the request is refused with
  503 and Retry-After (`errors.Busy`), never queued without limit.
- Polite: workers run at a lower CPU priority (nice 10), so on a busy machine the
  scheduler still gives the event loop, and with it every candidate's save, the CPU first.
- Workers start from a fork server (not a fork of the serving process, whose event loop
  and driver threads must not be copied) that has imported the job modules once, and are
  shared by every app in the process (tests build many).
- Mortal: a worker ends within `WATCH_SECONDS` of the server process that made its pool,
  however that process ended, and the fork server with it (`_start_worker`).

Why a process pool and not a job queue (saq, arq, Celery): every job here is a request
that waits for its answer within seconds, needs no retries or persistence, and has its
input in memory; a queue would add a broker and a second deployable for no gain. Each
instance has its own pool, so capacity grows with the instances.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from typing import ParamSpec, TypeVar

from exam_service.errors import Busy
from exam_service.metrics import HEAVY_BUSY, HEAVY_IN_FLIGHT, HEAVY_JOB_DURATION

P = ParamSpec("P")
T = TypeVar("T")

NICE = 10
JOB_MODULES = [
    "exam_service.bank.interchange",
    "exam_service.calibration.service",
    "exam_service.grading.irt",
    "exam_service.paper.pdf",
    "exam_service.paper.scan",
    "exam_service.paper.service",
    "exam_service.reports.pdf",
    "exam_service.reports.sitting_pdf",
]
"""Imported once by the fork server, so a new worker starts without importing them."""

_POOLS: dict[int, ProcessPoolExecutor] = {}


WATCH_SECONDS = 2.0
"""How often a worker checks that the server process that made its pool is still there."""


def _start_worker(server: int) -> None:
    """Each worker process's start: a lower priority, and a watch on the server process.

    A worker waits for jobs on a pipe whose ends it holds both of, and the fork server waits
    for its workers, so when the server is killed (SIGKILL, the out-of-memory killer) neither
    would ever notice: both stayed, holding their memory, until the machine restarted (about
    70 of them after a day of test runs here). The watch ends the worker within
    `WATCH_SECONDS` of the server; with its workers gone the fork server ends too."""
    os.nice(NICE)
    threading.Thread(target=_end_with, args=(server,), name="end-with-server", daemon=True).start()


def _end_with(server: int) -> None:
    while True:
        time.sleep(WATCH_SECONDS)
        try:
            os.kill(server, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:  # there, under another user: not ours to judge
            pass


def default_workers() -> int:
    return max(1, (os.cpu_count() or 2) - 1)


def _pool(workers: int) -> ProcessPoolExecutor:
    pool = _POOLS.get(workers)
    if pool is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(JOB_MODULES)
        pool = _POOLS[workers] = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )
    return pool


@dataclass
class HeavyWork:
    """One instance's door to the worker processes, with its limit on jobs in flight."""

    workers: int = 0
    """Processes; 0: `default_workers()`."""
    queue: int = 8
    """Jobs that may wait beyond the ones running."""
    in_flight: int = field(default=0, init=False)

    @property
    def capacity(self) -> int:
        return (self.workers or default_workers()) + self.queue

    async def run(self, job: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`job(*args, **kwargs)` in a worker process; `job` is a module-level function
        whose arguments and result pickle. Busy (503) when the pool is full.

        Timed from here (queue wait included) per job function (`/metrics`:
        exam_heavy_job_duration_seconds{kind="booklet_pdf",...})."""
        if self.in_flight >= self.capacity:
            HEAVY_BUSY.inc()
            raise Busy(
                f"the server is busy with {self.in_flight} imports, scans or printouts; "
                "send this again in a few seconds (candidates' exams are not affected)",
                retry_after=5,
            )
        self.in_flight += 1
        HEAVY_IN_FLIGHT.inc()
        started = time.perf_counter()
        outcome = "error"
        try:
            pool = _pool(self.workers or default_workers())
            # Submitting may start the fork server or a worker, which takes a second or
            # two the first time: done in a thread, so the loop never waits for it.
            future = await asyncio.to_thread(pool.submit, partial(job, *args, **kwargs))
            try:
                result = await asyncio.wrap_future(future)
            except BrokenProcessPool:
                # a worker died (killed, out of memory): the next job gets a new pool
                if _POOLS.get(self.workers or default_workers()) is pool:
                    del _POOLS[self.workers or default_workers()]
                raise Busy(
                    "a worker process stopped while handling this request; send it again in "
                    "a few seconds (if it happens again, the upload may be too large or damaged)",
                    retry_after=5,
                ) from None
            outcome = "ok"
            return result
        finally:
            self.in_flight -= 1
            HEAVY_IN_FLIGHT.dec()
            kind = getattr(job, "__name__", type(job).__name__)
            HEAVY_JOB_DURATION.labels(kind, outcome).observe(time.perf_counter() - started)


def shutdown() -> None:
    """Stop every worker process (at process exit; tests call it to clean up)."""
    while _POOLS:
        _, pool = _POOLS.popitem()
        pool.shutdown(wait=True, cancel_futures=True)
