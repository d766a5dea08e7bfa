"""Liveness, readiness (DB reachable and at head) and the OpenAPI document and UI."""

from __future__ import annotations

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
