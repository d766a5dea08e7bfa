"""The Litestar application factory: `create_app(settings)`; no module-level side effects."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from litestar import Litestar, get
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exam_service import __version__
from exam_service.auth.controllers import (
    AuthController,
    CohortController,
    UserController,
    change_my_password,
    me,
)
from exam_service.auth.revocation import Revocations
from exam_service.auth.security import (
    PUBLIC,
    csrf_middleware,
    jwt_auth,
    provide_user,
)
from exam_service.bank.controllers import (
    BankFileController,
    ObjectiveController,
    QuestionController,
)
from exam_service.calibration.runs import calibrate_forever
from exam_service.db import create_engine, session_factory
from exam_service.errors import NotReady, problem_handlers
from exam_service.exams.answers import ResponseWriter
from exam_service.exams.closing import sweep_forever
from exam_service.exams.controllers import (
    AttemptController,
    BlueprintController,
    SittingController,
)
from exam_service.exams.warmup import warm_pool
from exam_service.headers import security_headers
from exam_service.heavy import HeavyWork
from exam_service.metrics import POOLS
from exam_service.migrate import current_revisions, head_revisions
from exam_service.observability import (
    configure_logging,
    metrics,
    observe_requests,
    tracing_plugins,
)
from exam_service.openapi import render_plugins
from exam_service.paper.controllers import PaperExamController
from exam_service.reports.controllers import (
    ReportController,
    score_report,
    sitting_score_reports,
)
from exam_service.settings import DEFAULT_SECRET_KEY, Settings
from exam_service.web.accounts import AccountPages
from exam_service.web.controllers import CandidatePages, PageController, StaffPages
from exam_service.web.sittings import SittingPages

WEB = Path(__file__).parent / "web"

SWAGGER_ASSETS = "/schema-assets"


class InsecureSettings(RuntimeError):
    """The settings are unsafe outside local development."""


def check_secret(settings: Settings) -> None:
    if settings.is_development:
        return
    if settings.secret_key == DEFAULT_SECRET_KEY or len(settings.secret_key) < 32:
        raise InsecureSettings(
            "EXAM_SECRET_KEY is the development default or shorter than 32 characters; "
            "outside development set it to a long random value, e.g. "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`"
        )


@get("/health", tags=["ops"], opt=PUBLIC, summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


WARM_UP_SECONDS = 120
"""Past it the pool is left to the first start (100,000 questions on SQLite: 15-20 s on a busy
2-core machine)."""


async def warm_question_pool(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Read and index the question pool before serving (`exams/warmup.py`), so the first
    start does not wait for it; a failure or a slow database only leaves it to that start."""
    try:
        async with sessions() as session:
            await asyncio.wait_for(warm_pool(session), WARM_UP_SECONDS)
    except Exception as exc:
        logging.getLogger(__name__).warning(
            "the question pool was not read at start-up (%s: %s); the first start reads it",
            type(exc).__name__,
            exc,
        )


def settle_heap() -> None:
    """Collect once, then move everything alive after start-up (modules, the question pool,
    the app) out of the garbage collector's sight: it never frees any of it, and a full
    collection walking those ~200,000 objects took 60 ms of a quiet loop (longer on a busy
    machine), a pause every save in flight waited out. Later full collections scan only
    what requests have made since. Shutdown gives them back (`gc.unfreeze`)."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings) -> Litestar:
    """Build the app for `settings`; the engine is made at startup and disposed at shutdown."""
    check_secret(settings)
    configure_logging(settings)
    engine = create_engine(settings.database_url, settings.sqlite_busy_timeout_ms)
    revocations = Revocations(engine, settings.access_refresh_seconds)
    auth = jwt_auth(settings, revocations)
    sessions = session_factory(engine)
    heads = head_revisions()

    writer = ResponseWriter(engine, settings.sqlite_busy_timeout_ms)
    heavy = HeavyWork(settings.heavy_workers, settings.heavy_queue)

    def pool_readings() -> list[tuple[str, int, int]]:
        pool: Any = engine.sync_engine.pool
        used, idle = pool.checkedout(), pool.checkedin()
        return [("orm", used, used + idle), ("answers", *writer.connections())]

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        POOLS.sources.append(pool_readings)
        await warm_question_pool(sessions)
        settle_heap()
        sweeper = None
        if settings.sweep_interval_seconds > 0:
            sweeper = asyncio.create_task(
                sweep_forever(sessions, settings.sweep_interval_seconds), name="expiry-sweep"
            )
        calibrator = None
        if settings.calibration_interval_seconds > 0:
            calibrator = asyncio.create_task(
                calibrate_forever(sessions, heavy, settings.calibration_interval_seconds),
                name="calibration",
            )
        try:
            yield
        finally:
            for task in (sweeper, calibrator):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            POOLS.sources.remove(pool_readings)
            gc.unfreeze()  # an app made and stopped in one process (tests) leaves none behind
            await writer.close()
            await engine.dispose()

    async def provide_db() -> AsyncIterator[AsyncSession]:
        # One session per request. The generator itself holds the session so that an error
        # thrown into it by Litestar rolls back and returns the connection to the pool.
        async with sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise

    @get(
        "/ready",
        tags=["ops"],
        opt=PUBLIC,
        summary="Readiness: database reachable, migrations at head",
    )
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

    def provide_settings() -> Settings:
        return settings

    def provide_auth() -> Any:
        return auth

    def provide_revocations() -> Revocations:
        return revocations

    def provide_writer() -> ResponseWriter:
        return writer

    def provide_heavy() -> HeavyWork:
        return heavy

    app = Litestar(
        route_handlers=[
            health,
            ready,
            metrics,
            AuthController,
            me,
            change_my_password,
            UserController,
            CohortController,
            ObjectiveController,
            QuestionController,
            BankFileController,
            BlueprintController,
            SittingController,
            AttemptController,
            ReportController,
            score_report,
            sitting_score_reports,
            PaperExamController,
            PageController,
            CandidatePages,
            StaffPages,
            SittingPages,
            AccountPages,
            create_static_files_router(
                SWAGGER_ASSETS,
                directories=[swagger_ui_bundle.swagger_ui_path],
                include_in_schema=False,
                opt=PUBLIC,
            ),
            create_static_files_router(
                "/static", directories=[WEB / "static"], include_in_schema=False, opt=PUBLIC
            ),
        ],
        dependencies={
            "db": Provide(provide_db),
            "me": Provide(provide_user),
            "settings": Provide(provide_settings, sync_to_thread=False),
            "auth": Provide(provide_auth, sync_to_thread=False),
            "revocations": Provide(provide_revocations, sync_to_thread=False),
            "writer": Provide(provide_writer, sync_to_thread=False),
            "heavy": Provide(provide_heavy, sync_to_thread=False),
        },
        on_app_init=[auth.on_app_init],
        middleware=[csrf_middleware(settings)],
        before_send=[security_headers],
        template_config=TemplateConfig(directory=WEB / "templates", engine=JinjaTemplateEngine),
        request_max_body_size=settings.max_body_bytes,
        exception_handlers=problem_handlers,
        lifespan=[lifespan],
        logging_config=None,  # configure_logging above
        plugins=tracing_plugins(settings),
        openapi_config=OpenAPIConfig(
            title="exam_service",
            version=__version__,
            description="Practice exams: question bank, timed attempts, per-objective scores.",
            path="/schema",
            render_plugins=render_plugins(SWAGGER_ASSETS),
        ),
        debug=False,
    )
    observe_requests(app, settings)
    return app
