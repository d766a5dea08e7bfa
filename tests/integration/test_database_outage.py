"""The database server goes away under a running app and comes back: saves and pages get
503 with Retry-After (never 500), /ready says 503, and the same app serves again once the
server is back, without a restart and without losing an acknowledged answer.

The outage is a TCP proxy in front of PostgreSQL that drops every connection and stops
listening (as a server that is restarting does: refused connections), then listens again;
bench/db_restart.py does the same with a real `pg_ctlcluster ... restart` under load."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Coroutine
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url

from exam_service.app import create_app
from exam_service.settings import Settings
from tests.backends import only_on
from tests.factories import Person, import_folder, make_people
from tests.integration.exam_helpers import start

Client = AsyncTestClient  # type: ignore[type-arg]


class FlakyProxy:
    """Forwards 127.0.0.1:<port> to the database server until `cut`, which closes every
    forwarded connection and stops listening; `listen` listens on the same port again.
    It runs its own event loop in a thread, apart from the app's."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.streams: set[asyncio.StreamWriter] = set()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self.loop).result(10)

    def listen(self) -> None:
        self._run(self._listen())

    def cut(self) -> None:
        self._run(self._cut())

    def close(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        if self.server is None:
            return
        self.server.close()
        for writer in list(self.streams):
            writer.close()
        await self.server.wait_closed()
        self.server = None

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.streams |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        self.streams -= {writer, upstream_writer}


async def stored_answer(db_url: str, attempt_id: int, position: int) -> Any:
    dsn = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        text = await connection.fetchval(
            "SELECT answer::text FROM responses WHERE attempt_id = $1 AND position = $2",
            attempt_id,
            position,
        )
    finally:
        await connection.close()
    return json.loads(text)


@only_on("postgresql")  # SQLite is a file in the app's process: there is no server to lose
async def test_saves_get_503_while_the_database_is_down_and_succeed_once_it_is_back(
    db_url: str, settings: Settings, bank_dir: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await import_folder(db_url, bank_dir)
    people = await make_people(settings, ("cand", "candidate"))
    candidate: Person = people["cand"]
    url = make_url(db_url)
    proxy = FlakyProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.listen()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = create_app(
        Settings(**{**vars(settings), "database_url": proxied, "sweep_interval_seconds": 1})
    )
    async with AsyncTestClient(app=app) as client:
        attempt = await start(client, candidate, "starter-mock")
        single = next(i for i in attempt["items"] if i["type"] == "single")
        save_url = f"/api/v1/attempts/{attempt['id']}/responses/{single['position']}"
        page_url = f"/api/v1/attempts/{attempt['id']}"
        first = await client.put(save_url, json={"answer": ["A"]}, headers=candidate.headers)
        assert first.status_code == 200, first.text

        proxy.cut()
        down = await client.put(save_url, json={"answer": ["B"]}, headers=candidate.headers)
        assert down.status_code == 503, down.text
        assert down.headers["retry-after"] == "2"
        assert "cannot be reached" in down.json()["detail"]
        assert "send it again" in down.json()["detail"]
        again = await client.put(save_url, json={"answer": ["B"]}, headers=candidate.headers)
        assert again.status_code == 503, again.text
        page = await client.get(page_url, headers=candidate.headers)
        assert page.status_code == 503, page.text
        assert page.headers["retry-after"] == "2"
        ready = await client.get("/ready")
        assert ready.status_code == 503 and "unreachable" in ready.json()["detail"]
        assert (await client.get("/health")).status_code == 200
        with caplog.at_level(logging.WARNING, logger="exam_service.exams.closing"):
            await asyncio.sleep(1.5)  # a sweep runs meanwhile: one line, no traceback
        sweeps = [r for r in caplog.records if r.name == "exam_service.exams.closing"]
        assert sweeps and all(r.exc_info is None for r in sweeps)
        assert "cannot reach the database" in sweeps[-1].getMessage()

        proxy.listen()  # the server is back, on the same address
        back = await client.put(save_url, json={"answer": ["C"]}, headers=candidate.headers)
        assert back.status_code == 200, back.text
        assert (await client.get(page_url, headers=candidate.headers)).status_code == 200
        assert (await client.get("/ready")).status_code == 200
    proxy.close()
    assert await stored_answer(db_url, attempt["id"], single["position"]) == ["C"]
