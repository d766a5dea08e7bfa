"""Liveness, readiness (DB reachable and at head) and the OpenAPI document and UI."""

from __future__ import annotations

import logging
from typing import Any

from litestar.testing import AsyncTestClient

from exam_service.app import create_app
from exam_service.settings import Settings
from tests.conftest import DatabaseFactory

Client = AsyncTestClient  # type: ignore[type-arg]


async def test_health_and_ready(client: Client) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_not_ready_before_migrations(databases: DatabaseFactory) -> None:
    url = databases.new("sqlite")
    async with AsyncTestClient(app=create_app(Settings(database_url=url))) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    assert "run `exam-service db upgrade`" in response.json()["detail"]


async def test_not_ready_when_database_unreachable() -> None:
    url = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    async with AsyncTestClient(app=create_app(Settings(database_url=url))) as client:
        response = await client.get("/ready")
        assert (await client.get("/health")).status_code == 200
    assert response.status_code == 503
    assert "the database is unreachable" in response.json()["detail"]


async def test_openapi_document_and_ui(client: Client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert {"/api/v1/objectives", "/api/v1/questions", "/api/v1/questions/{question_id}"} <= set(
        document["paths"]
    )
    page = await client.get("/schema")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert "/schema-assets/swagger-ui-bundle.js" in page.text
    asset = await client.get("/schema-assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.content) > 100_000


async def test_client_gone_mid_body_is_not_logged_as_a_server_fault(settings: Settings) -> None:
    """A client that hangs up while sending its body (a closed tab, a load tester stopping)
    is answered 400 and noted at INFO, not logged as an unhandled 500 error."""
    app = create_app(settings)
    sent: list[dict[str, Any]] = []
    incoming = [
        {"type": "http.request", "body": b'{"username": "a', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/auth/token",
        "raw_path": b"/api/v1/auth/token",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"200")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append  # type: ignore[method-assign]
    errors_logger = logging.getLogger("exam_service.errors")
    async with AsyncTestClient(app=app):  # runs the app's start-up (it configures logging)
        errors_logger.addHandler(handler)
        try:
            await app(scope, receive, send)  # type: ignore[arg-type]
        finally:
            errors_logger.removeHandler(handler)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (logging.INFO, "client disconnected during POST /api/v1/auth/token")
    ]
