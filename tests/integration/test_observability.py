"""What an operator relies on: /metrics (who may read it, and that its figures move with
the traffic), request ids, one JSON log line per request in production with errors logged
once with their request id, and OpenTelemetry traces when turned on."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text, update

from exam_service.app import create_app
from exam_service.db import create_engine, session_factory, utcnow
from exam_service.errors import Busy
from exam_service.exams.closing import sweep_expired
from exam_service.heavy import HeavyWork
from exam_service.migrate import upgrade
from exam_service.models import Attempt
from exam_service.observability import HumanLines, JsonLines
from exam_service.settings import ROOT, Settings
from tests.conftest import DatabaseFactory
from tests.factories import Person, import_folder, make_people
from tests.integration.exam_helpers import start

Client = AsyncTestClient  # type: ignore[type-arg]
SCRAPE_TOKEN = "scrape-" + "x" * 30
SAVE_ROUTE = "/api/v1/attempts/{attempt_id}/responses/{position}"


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page: (name, sorted labels) -> value."""
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(
    page: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return page.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: Client, headers: dict[str, str]) -> dict[Any, float]:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


# --- request ids ----------------------------------------------------------------------------


async def test_every_response_carries_a_request_id(client: Client) -> None:
    sent = await client.get("/health", headers={"X-Request-ID": "lb-7f3a:42"})
    assert sent.headers["x-request-id"] == "lb-7f3a:42"
    made = await client.get("/api/v1/nothing-here")
    assert made.status_code == 404 and len(made.headers["x-request-id"]) == 32
    other = await client.get("/api/v1/nothing-here")
    assert other.headers["x-request-id"] != made.headers["x-request-id"]
    for unsafe in ("two words", "x" * 129, 'quote"d'):
        replaced = await client.get("/health", headers={"X-Request-ID": unsafe})
        assert replaced.headers["x-request-id"] != unsafe
        assert len(replaced.headers["x-request-id"]) == 32


# --- /metrics -------------------------------------------------------------------------------


async def test_metrics_are_for_the_scrape_token_and_admins(
    settings: Settings, people: dict[str, Person]
) -> None:
    app = create_app(Settings(**{**vars(settings), "metrics_token": SCRAPE_TOKEN}))
    async with AsyncTestClient(app=app) as client:
        token = await client.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
        assert token.status_code == 200 and "exam_http_requests_total" in token.text
        admin = await client.get("/metrics", headers=people["admin"].headers)
        assert admin.status_code == 200
        anonymous = await client.get("/metrics")
        assert anonymous.status_code == 401
        assert "EXAM_METRICS_TOKEN" in anonymous.json()["detail"]
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401
        for who in ("candidate", "instructor"):
            refused = await client.get("/metrics", headers=people[who].headers)
            assert refused.status_code == 403
            assert f"signed in as a {people[who].user.role}" in refused.json()["detail"]


async def test_without_a_scrape_token_only_admins_read_metrics(
    client: Client, people: dict[str, Person]
) -> None:
    assert (await client.get("/metrics", headers=people["admin"].headers)).status_code == 200
    guess = await client.get("/metrics", headers={"Authorization": "Bearer "})
    assert guess.status_code == 401
    assert (await client.get("/metrics", headers=people["instructor"].headers)).status_code == 403


async def test_metrics_follow_requests_saves_late_saves_gradings_and_pdfs(
    client: Client, db_url: str, bank_dir: Path, people: dict[str, Person]
) -> None:
    await import_folder(db_url, bank_dir)
    admin, candidate = people["admin"].headers, people["candidate"]
    before = await scrape(client, admin)

    attempt = await start(client, candidate, "starter-mock")
    single = next(i for i in attempt["items"] if i["type"] == "single")
    save = f"/api/v1/attempts/{attempt['id']}/responses/{single['position']}"
    for answer in (["A"], ["B"]):
        assert (
            await client.put(save, json={"answer": answer}, headers=candidate.headers)
        ).status_code == 200
    submitted = await client.post(
        f"/api/v1/attempts/{attempt['id']}/submit", headers=candidate.headers
    )
    assert submitted.status_code in (200, 201)
    late = await client.put(save, json={"answer": ["C"]}, headers=candidate.headers)
    assert late.status_code == 409
    report = await client.get(
        f"/api/v1/attempts/{attempt['id']}/report.pdf", headers=candidate.headers
    )
    assert report.status_code == 200 and report.content.startswith(b"%PDF-")

    after = await scrape(client, admin)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("exam_answer_saves_total") == 2
    assert delta("exam_late_saves_total", attempt_status="submitted") == 1
    assert delta("exam_gradings_total", how="submitted") == 1
    assert delta("exam_grading_duration_seconds_count") == 1
    assert delta("exam_http_requests_total", method="PUT", route=SAVE_ROUTE, status="200") == 2
    assert delta("exam_http_requests_total", method="PUT", route=SAVE_ROUTE, status="409") == 1
    assert (
        delta(
            "exam_http_request_duration_seconds_count", method="PUT", route=SAVE_ROUTE, status="200"
        )
        == 2
    )
    assert (
        delta(
            "exam_http_request_duration_seconds_bucket",
            method="PUT",
            route=SAVE_ROUTE,
            status="200",
            le="+Inf",
        )
        == 2
    )
    # the PDF was drawn in a worker process and timed from the server's side
    assert (
        delta("exam_heavy_job_duration_seconds_count", kind="score_report_pdf", outcome="ok") == 1
    )
    assert value(after, "exam_heavy_jobs_in_flight") == 0
    # the path is never a label: ids would make a series per attempt
    routes = {dict(labels).get("route", "") for _, labels in after}
    assert not any(f"/attempts/{attempt['id']}" in route for route in routes)
    assert value(after, "exam_db_connections_open", pool="orm") >= 1
    assert value(after, "exam_db_connections_open", pool="answers") >= 1
    assert value(after, "exam_db_connections_in_use", pool="answers") == 0
    assert value(after, "process_resident_memory_bytes") > 0


async def test_sweep_lag_is_the_time_from_deadline_and_grace_to_grading(
    client: Client, settings: Settings, db_url: str, bank_dir: Path, people: dict[str, Person]
) -> None:
    await import_folder(db_url, bank_dir)
    attempt = await start(client, people["candidate"], "starter-mock")
    engine = create_engine(db_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(Attempt)
                .where(Attempt.id == attempt["id"])
                .values(
                    deadline=utcnow() - timedelta(seconds=40),
                    closes_at=utcnow() - timedelta(seconds=10),
                )
            )
        before = await scrape(client, people["admin"].headers)
        assert await sweep_expired(session_factory(engine)) == 1
    finally:
        await engine.dispose()
    after = await scrape(client, people["admin"].headers)
    assert (
        value(after, "exam_sweep_lag_seconds_count") - value(before, "exam_sweep_lag_seconds_count")
        == 1
    )
    lag = value(after, "exam_sweep_lag_seconds_sum") - value(before, "exam_sweep_lag_seconds_sum")
    assert 10 <= lag < 60
    within_15 = value(after, "exam_sweep_lag_seconds_bucket", le="15.0") - value(
        before, "exam_sweep_lag_seconds_bucket", le="15.0"
    )
    assert within_15 == 1
    assert (
        value(after, "exam_gradings_total", how="expired")
        - value(before, "exam_gradings_total", how="expired")
        == 1
    )


async def test_heavy_jobs_in_flight_and_busy_refusals_are_counted(
    client: Client, people: dict[str, Person]
) -> None:
    admin = people["admin"].headers
    heavy = HeavyWork(workers=1, queue=0)
    await heavy.run(os.getpid)  # the worker is up
    before = await scrape(client, admin)
    running = asyncio.ensure_future(heavy.run(time.sleep, 0.5))
    await asyncio.sleep(0.1)
    during = await scrape(client, admin)
    with pytest.raises(Busy):
        await heavy.run(time.sleep, 0)
    await running
    after = await scrape(client, admin)
    assert (
        value(during, "exam_heavy_jobs_in_flight") - value(before, "exam_heavy_jobs_in_flight") == 1
    )
    assert value(after, "exam_heavy_jobs_in_flight") == value(before, "exam_heavy_jobs_in_flight")
    assert value(after, "exam_heavy_busy_total") - value(before, "exam_heavy_busy_total") == 1
    timed = value(after, "exam_heavy_job_duration_seconds_sum", kind="sleep", outcome="ok") - value(
        before, "exam_heavy_job_duration_seconds_sum", kind="sleep", outcome="ok"
    )
    assert 0.5 <= timed < 5


# --- logs -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_production_logs_one_json_line_per_request_and_each_error_once(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    """A real `exam-service serve` in production: every line on stderr is a JSON object;
    each request has one, with its id, user, route template, status and duration; an
    unexpected error logs its traceback once, with the request id its 500 answer quotes."""
    url = databases.new("sqlite")
    await asyncio.to_thread(upgrade, url)
    settings = Settings(database_url=url, secret_key=secrets.token_hex(32), env="production")
    people = await make_people(settings, ("ops-admin", "admin"))
    port = free_port()
    env = {
        **os.environ,
        "EXAM_DATABASE_URL": url,
        "EXAM_SECRET_KEY": settings.secret_key,
        "EXAM_ENV": "production",
        "EXAM_LOG_LEVEL": "info",
        "EXAM_SWEEP_INTERVAL_SECONDS": "0",
        "EXAM_DATA_DIR": str(tmp_path / "var"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "exam_service", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for _ in range(300):
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            me = await http.get(
                "/api/v1/me",
                headers={**people["ops-admin"].headers, "X-Request-ID": "req-me-1"},
            )
            assert me.status_code == 200 and me.headers["x-request-id"] == "req-me-1"
            engine = create_engine(url)
            async with engine.begin() as connection:  # the table the next request reads is gone
                await connection.execute(text("ALTER TABLE objectives RENAME TO objectives_gone"))
            await engine.dispose()
            failed = await http.get("/api/v1/objectives", headers=people["ops-admin"].headers)
            assert failed.status_code == 500
            error_id = failed.headers["x-request-id"]
            assert f"request id {error_id}" in failed.json()["detail"]
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=20)
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(r["logger"].startswith("uvicorn") for r in records)  # the server's own lines too
    access = [r for r in records if r["logger"] == "exam_service.access"]
    mine = [r for r in access if r.get("request_id") == "req-me-1"]
    assert len(mine) == 1
    assert mine[0]["route"] == "/api/v1/me" and mine[0]["status"] == 200
    assert mine[0]["user_id"] == people["ops-admin"].user.id
    assert mine[0]["method"] == "GET" and mine[0]["duration_ms"] >= 0
    assert {"time", "level", "message"} <= mine[0].keys()
    about_error = [r for r in records if r.get("request_id") == error_id]
    tracebacks = [r for r in about_error if "traceback" in r]
    assert len(tracebacks) == 1, about_error
    assert "objectives" in tracebacks[0]["traceback"] and tracebacks[0]["level"] == "error"
    assert [r["status"] for r in about_error if r["logger"] == "exam_service.access"] == [500]
    assert sum("Traceback" in line for line in lines) == 1


def test_log_lines_in_each_environment() -> None:
    record = logging.LogRecord(
        "exam_service.access", logging.INFO, __file__, 1, "GET %s", ("/x",), None
    )
    record.request_id = "abc"
    record.fields = {"status": 200, "route": "/x"}
    entry = json.loads(JsonLines().format(record))
    assert entry["message"] == "GET /x" and entry["request_id"] == "abc"
    assert entry["status"] == 200 and entry["level"] == "info"
    human = HumanLines().format(record)
    assert human.endswith("INFO exam_service.access [request abc]: GET /x")


def test_log_level_and_tracing_settings_are_checked() -> None:
    assert Settings.from_env({"EXAM_LOG_LEVEL": "WARNING"}).log_level == "warning"
    with pytest.raises(ValueError, match="EXAM_LOG_LEVEL must be one of"):
        Settings.from_env({"EXAM_LOG_LEVEL": "loud"})
    assert Settings.from_env({"EXAM_TRACING": "on"}).tracing
    assert not Settings.from_env({}).tracing
    with pytest.raises(ValueError, match="EXAM_TRACING must be 'on' or 'off'"):
        Settings.from_env({"EXAM_TRACING": "maybe"})
    assert Settings.from_env({"EXAM_METRICS_TOKEN": " t0k "}).metrics_token == "t0k"


# --- tracing --------------------------------------------------------------------------------


async def test_traces_name_requests_by_route_when_tracing_is_on(
    settings: Settings, people: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from exam_service import observability

    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setattr(observability, "_provider", None)
    app = create_app(Settings(**{**vars(settings), "tracing": True}))
    spans = InMemorySpanExporter()
    observability.tracer_provider().add_span_processor(SimpleSpanProcessor(spans))
    async with AsyncTestClient(app=app) as client:
        me = await client.get("/api/v1/me", headers=people["candidate"].headers)
        assert me.status_code == 200
        assert (await client.get("/health")).status_code == 200
        missing = await client.get(f"/api/v1/cohorts/{10**6}", headers=people["admin"].headers)
        assert missing.status_code == 404
    finished = {span.name: span for span in spans.get_finished_spans()}
    assert "GET /api/v1/me" in finished, sorted(finished)
    assert finished["GET /api/v1/me"].attributes["http.route"] == "/api/v1/me"
    assert "GET /api/v1/cohorts/{cohort_id}" in finished, sorted(finished)
    assert not any("/health" in name for name in finished)  # probes are not traced


def test_an_exporter_this_service_does_not_ship_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from exam_service import observability

    monkeypatch.setattr(observability, "_provider", None)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(ValueError, match="Collector"):
        observability.tracer_provider()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(ValueError, match="http/protobuf"):
        observability.tracer_provider()
