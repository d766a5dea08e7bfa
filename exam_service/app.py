"""The Litestar application factory: `create_app(settings)`; no module-level side effects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import swagger_ui_bundle
from litestar import Litestar, get
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service import __version__
from exam_service.bank.controllers import ObjectiveController, QuestionController
from exam_service.db import create_engine, session_factory, session_scope
from exam_service.errors import NotReady, problem_handlers
from exam_service.migrate import current_revisions, head_revisions
from exam_service.settings import Settings

SWAGGER_ASSETS = "/schema-assets"


@get("/health", tags=["ops"], summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app(settings: Settings) -> Litestar:
    """Build the app for `settings`; the engine is made at startup and disposed at shutdown."""
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    heads = head_revisions()

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await engine.dispose()

    async def provide_db() -> AsyncIterator[AsyncSession]:
        async for session in session_scope(sessions):
            yield session

    @get("/ready", tags=["ops"], summary="Readiness: database reachable, migrations at head")
    async def ready() -> dict[str, Any]:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
                current = await current_revisions(connection)
        except Exception as exc:
            raise NotReady(
                f"the database is unreachable ({type(exc).__name__}); check EXAM_DATABASE_URL "
                "and that the server is running"
            ) from exc
        if current != heads:
            raise NotReady(
                f"the database schema is at {sorted(current) or 'nothing'}, not at "
                f"{sorted(heads)}: run `exam-service db upgrade`"
            )
        return {"status": "ready", "database": "ok", "migrations": sorted(current)}

    swagger = SwaggerRenderPlugin(
        js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{SWAGGER_ASSETS}/swagger-ui-standalone-preset.js",
        path="/",
    )
    return Litestar(
        route_handlers=[
            health,
            ready,
            ObjectiveController,
            QuestionController,
            create_static_files_router(
                SWAGGER_ASSETS,
                directories=[swagger_ui_bundle.swagger_ui_path],
                include_in_schema=False,
            ),
        ],
        dependencies={"db": Provide(provide_db)},
        exception_handlers=problem_handlers,
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="exam_service",
            version=__version__,
            description="Practice exams: question bank, timed attempts, per-objective scores.",
            path="/schema",
            render_plugins=[swagger],
        ),
        debug=False,
    )
