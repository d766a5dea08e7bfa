"""Liveness, readiness (DB reachable and at head), the OpenAPI document and UI, and the
security headers of pages and other responses."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from exam_service.app import WEB, create_app
from exam_service.headers import PAGE_POLICY
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
    assert "/static/swagger-init.js" in page.text
    asset = await client.get("/schema-assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.content) > 100_000
    start = await client.get("/static/swagger-init.js")
    assert start.status_code == 200 and "SwaggerUIBundle(" in start.text


async def test_pages_get_a_strict_policy_and_every_response_nosniff(client: Client) -> None:
    page = await client.get("/login")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert policy == PAGE_POLICY
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "unsafe" not in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"

    schema_page = await client.get("/schema")
    assert schema_page.headers["content-security-policy"] == PAGE_POLICY
    assert schema_page.headers["x-frame-options"] == "DENY"
    assert INLINE.findall(schema_page.text) == []

    health = await client.get("/health")
    assert "content-security-policy" not in health.headers  # JSON: nothing to run
    redirect = await client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert redirect.status_code == 303
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    for response in (
        page,
        schema_page,
        health,
        redirect,
        missing,
        await client.get("/static/exam.js"),
        await client.get("/schema/openapi.json"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff", response.url


INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=|javascript:|"
    r"""setAttribute\(\s*["']style|\bstyle\s*:|\beval\(|new Function""",
    re.IGNORECASE,
)
"""What a policy without 'unsafe-inline' or 'unsafe-eval' refuses: inline scripts, style
elements and attributes, event handlers, javascript: URLs, and in scripts style attributes
and evaluated strings."""


@pytest.mark.parametrize(
    "sample",
    [
        "<script>go()</script>",
        '<p style="color: red">',
        '<button onclick="go()">',
        '<a href="javascript:go()">',
        "el.setAttribute('style', 'x')",
        'el("p", { style: "x" })',
        "eval(text)",
    ],
)
def test_the_inline_check_finds_what_the_policy_refuses(sample: str) -> None:
    assert INLINE.findall(sample)


def test_templates_and_scripts_need_nothing_the_policy_refuses() -> None:
    files = [*(WEB / "templates").glob("*.html"), *(WEB / "static").glob("*.js")]
    assert len(files) >= 10
    found = {path.name: INLINE.findall(path.read_text(encoding="utf-8")) for path in files}
    assert {name: hits for name, hits in found.items() if hits} == {}


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
