"""What an operator sees of a running instance: request ids, one log line per request,
the Prometheus endpoint and, when turned on, OpenTelemetry traces.

- `RequestObserver` wraps the app's whole ASGI handler (404s for unknown paths included):
  it takes the request id from `X-Request-ID` (when it is a sane token, else makes one),
  returns it on every response, keeps it in `REQUEST_ID` for every log record of the
  request, counts and times the request by route template (`metrics.HTTP_*`, one cached
  pair of label children per method, route and status) and logs one line per request
  (logger `exam_service.access`, INFO).
- `configure_logging`: root logging at `EXAM_LOG_LEVEL`; one JSON object per line in
  production, a human line in development; every record of a request carries its id.
  Finished lines go through a queue to a writer thread (`LineWriter`), so a slow stderr
  never stalls the event loop.
- `metrics`: `GET /metrics` in the Prometheus text format. With `EXAM_METRICS_TOKEN` set,
  that token as a bearer token; an admin's sign-in (bearer token or session cookie) always.
  Unset, only admins: nothing about the service's traffic is public by default.
- `tracing_plugins`: Litestar's OpenTelemetry plugin when `EXAM_TRACING` is on, exporting
  as the standard `OTEL_*` environment variables say (see `tracer_provider`).

Why not Litestar's Prometheus plugin: its middleware runs only on matched routes (404s for
unknown paths go uncounted), labels by the raw path unless told otherwise, builds a
Request and two label dicts and looks up four label children on every request, and its
controller serves the metrics to anyone. The answer save is the hot path; here a request
costs one dict lookup, one counter increment and one histogram observation.
"""

from __future__ import annotations

import atexit
import contextlib
import hmac
import itertools
import logging
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from time import perf_counter
from typing import TYPE_CHECKING, Any, cast

import msgspec
from litestar import Request, Response, get
from litestar.enums import ScopeType
from litestar.security.jwt import JWTCookieAuthenticationMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import REGISTRY, generate_latest

from exam_service import __version__
from exam_service.auth.schemas import CurrentUser
from exam_service.auth.security import AUTH_COOKIE, PUBLIC, Auth
from exam_service.errors import Forbidden, NotAuthenticated
from exam_service.http import AppSettings
from exam_service.metrics import HTTP_DURATION, HTTP_REQUESTS
from exam_service.settings import LOG_LEVELS, Settings

if TYPE_CHECKING:
    from litestar.plugins import PluginProtocol
    from opentelemetry.sdk.trace import TracerProvider

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The id of the request being handled (None outside a request, e.g. in the sweep)."""
REQUEST_ID_HEADER = b"x-request-id"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
"""What an incoming X-Request-ID may be to be kept: ids from proxies and tracing tools
(UUIDs, hex, base64) pass; anything else (control characters, very long values) is
replaced by a fresh id rather than written into every log line."""
UNMATCHED = "(unmatched)"
"""The route label of requests that match no route (404s for unknown paths)."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods counted under their name; any other counts as OTHER (bounded label values)."""
EXPOSITION = "text/plain; version=0.0.4"
"""Prometheus' text format (Litestar adds the charset, utf-8)."""
PROBES = ["^/metrics$", "^/health$", "^/ready$"]
"""Polled every few seconds by schedulers and scrapers: not traced."""

access_log = logging.getLogger("exam_service.access")


def _incoming_request_id(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1")
            return text if SANE_REQUEST_ID.fullmatch(text) else None
    return None


_id_source: tuple[int, str, Iterator[int]] = (0, "", iter(()))


def new_request_id() -> str:
    """32 hex digits: 20 random ones drawn once per process (after a fork too), then a
    count, so ids differ across instances and cost no system call per request."""
    global _id_source
    pid, prefix, numbers = _id_source
    if pid != os.getpid():
        pid, prefix, numbers = _id_source = (os.getpid(), os.urandom(10).hex(), itertools.count())
    return f"{prefix}{next(numbers):012x}"


def _current_trace_id() -> str | None:
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def _name_span(scope: dict[str, Any]) -> str | None:
    """Name the request's server span by its route template once routing has found it
    (the span starts before routing, named by the raw path); returns the trace id."""
    from opentelemetry import trace

    span = trace.get_current_span()
    context = span.get_span_context()
    if not context.is_valid:
        return None
    template = scope.get("path_template")
    if template:
        span.update_name(f"{scope['method']} {template}")
        span.set_attribute("http.route", template)
    return format(context.trace_id, "032x")


class RequestObserver:
    """The ASGI layer around the app's handler that gives each request its id, its metrics
    and its log line (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, tracing: bool = False) -> None:
        self.app = app
        self.tracing = tracing
        self.children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _series(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        key = (method, route, status)
        found = self.children.get(key)
        if found is None:
            labels = (method, route, str(status))
            found = self.children[key] = (
                HTTP_REQUESTS.labels(*labels),
                HTTP_DURATION.labels(*labels),
            )
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        await self._observe(cast("dict[str, Any]", scope), receive, send)

    async def _observe(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        started = perf_counter()
        request_id = _incoming_request_id(scope["headers"]) or new_request_id()
        header = (REQUEST_ID_HEADER, request_id.encode())
        token = REQUEST_ID.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id  # quoted by 500s (errors.py)
        status = 500  # if the app fails before it answers
        trace_id: str | None = None

        async def observed_send(message: Message) -> None:
            nonlocal status, trace_id
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers")
                if isinstance(headers, list):
                    headers.append(header)
                else:
                    message["headers"] = [*(headers or ()), header]
                if self.tracing:
                    trace_id = _name_span(scope)
            await send(message)

        try:
            await self.app(cast("Scope", scope), receive, observed_send)
        finally:
            elapsed = perf_counter() - started
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            route = scope.get("path_template") or UNMATCHED
            counter, histogram = self._series(method, route, status)
            counter.inc()
            histogram.observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                user = scope.get("user")
                fields = {
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "user_id": user.id if isinstance(user, CurrentUser) else None,
                }
                if trace_id:
                    fields["trace_id"] = trace_id
                access_log.info(
                    "%s %s %d in %.1f ms",
                    scope["method"],
                    scope["path"],
                    status,
                    elapsed * 1000,
                    extra={"fields": fields},
                )
            REQUEST_ID.reset(token)


def observe_requests(app: Any, settings: Settings) -> None:
    """Wrap `app`'s whole ASGI handler (routing, its 404s and the exception handlers
    included) in a `RequestObserver`; the app's `before_send` hooks still see every
    response after it."""
    app.asgi_handler = RequestObserver(app.asgi_handler, tracing=settings.tracing)


# --- logs ---------------------------------------------------------------------------------


class RequestContext(logging.Filter):
    """Adds the request id (and, with tracing on, the trace id) to every record made while
    a request is handled, in the thread that made it."""

    def __init__(self, tracing: bool) -> None:
        super().__init__()
        self.tracing = tracing

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        if self.tracing and not hasattr(record, "trace_id"):
            record.trace_id = _current_trace_id()
        return True


class JsonLines(logging.Formatter):
    """One JSON object per record and line: time (UTC, ISO 8601), level, logger, message,
    request_id and trace_id when known, the access line's fields, and the traceback as one
    string."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("request_id", "trace_id"):
            value = getattr(record, name, None)
            if value:
                entry[name] = value
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["traceback"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return msgspec.json.encode(entry, enc_hook=str).decode()


class HumanLines(logging.Formatter):
    """`12:04:05.123 INFO exam_service.access [request 3f2a...]: message`, then the
    traceback on the following lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03d %(levelname)s %(name)s%(context)s: %(message)s")
        self.datefmt = "%H:%M:%S"

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.context = f" [request {request_id}]" if request_id else ""
        return super().format(record)


WRITE_EVERY = 0.05
"""Seconds between the writer thread's writes of what has queued up."""


class LineWriter(logging.Handler):
    """Formats each record where it is made (the request's id is known there) and hands
    the finished line to a writer thread, which writes whatever has queued up in one go:
    a slow stderr pipe never holds up the event loop, and a busy instance pays one write
    per batch of lines, not per line. Standard error is looked up at each write."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._write, name="log-writer", daemon=True)
        self.thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.put(self.format(record))
        except Exception:
            self.handleError(record)

    def _write(self) -> None:
        # Woken by the clock, not by each line: a thread waiting on the queue would be
        # woken by every put and take the GIL from the event loop each time.
        done = False
        while not done:
            time.sleep(WRITE_EVERY)
            batch: list[str] = []
            with contextlib.suppress(queue.Empty):
                while (line := self.lines.get_nowait()) is not None:
                    batch.append(line)
                done = True
            if batch:
                with contextlib.suppress(OSError, ValueError):  # stderr closed at exit
                    sys.stderr.write("\n".join(batch) + "\n")
                    sys.stderr.flush()

    def close(self) -> None:
        """Write what is queued, then stop the thread (at exit)."""
        self.lines.put(None)
        self.thread.join(5)
        super().close()


_writer: LineWriter | None = None


def configure_logging(settings: Settings) -> None:
    """Root logging for the process, from the settings: level `EXAM_LOG_LEVEL`, JSON lines
    in production, human lines in development, every request's records with its id.
    Called by `create_app`; a second call (tests build many apps) replaces the format and
    the level and keeps the one writer thread."""
    global _writer
    if _writer is None:
        _writer = LineWriter()
        atexit.register(_writer.close)
        logging.getLogger().addHandler(_writer)
    _writer.filters = [RequestContext(settings.tracing)]
    _writer.setFormatter(HumanLines() if settings.is_development else JsonLines())
    logging.getLogger().setLevel(LOG_LEVELS[settings.log_level])


# --- /metrics -----------------------------------------------------------------------------


@get(
    "/metrics",
    opt=PUBLIC,  # checked here: the scrape token is not a sign-in token
    include_in_schema=False,
    summary="Prometheus metrics of this instance",
)
async def metrics(
    request: Request[Any, Any, Any], settings: AppSettings, auth: Auth
) -> Response[bytes]:
    """This instance's metrics in Prometheus' text format, for `EXAM_METRICS_TOKEN` as a
    bearer token or for an admin's sign-in."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    token = settings.metrics_token
    if (
        token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(credential.strip().encode(), token.encode())
    ):
        return Response(generate_latest(REGISTRY), media_type=EXPOSITION)
    if not credential and AUTH_COOKIE not in request.cookies:
        raise NotAuthenticated(
            "/metrics needs the scrape token (EXAM_METRICS_TOKEN) or an admin's token as "
            "'Authorization: Bearer <token>'"
        )
    # The app's own sign-in check, so that whatever it refuses (expired, tampered or
    # revoked tokens) is refused here too; it raises 401 itself.
    checker = cast("JWTCookieAuthenticationMiddleware", auth.middleware(app=_never_called))
    result = await checker.authenticate_request(request)
    user = result.user
    if not isinstance(user, CurrentUser) or user.role != "admin":
        held = user.role if isinstance(user, CurrentUser) else "no"
        raise Forbidden(
            f"/metrics is for admins and scrapers; you are signed in as a {held} "
            "(scrapers send EXAM_METRICS_TOKEN as a bearer token)"
        )
    return Response(generate_latest(REGISTRY), media_type=EXPOSITION)


async def _never_called(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("the sign-in check of /metrics never passes a request on")


# --- tracing ------------------------------------------------------------------------------

_provider: TracerProvider | None = None
EXPORTERS = ("otlp", "console", "none")


def tracer_provider() -> TracerProvider:
    """The process's OpenTelemetry tracer provider, made on first use from the standard
    environment variables:

    - `OTEL_TRACES_EXPORTER`: `otlp` (default: OTLP over HTTP with protobuf), `console`
      (spans as JSON on standard output) or `none` (spans only for the trace ids in logs);
    - `OTEL_EXPORTER_OTLP_ENDPOINT` (default `http://localhost:4318`, `/v1/traces` is
      appended) or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as it is),
      `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`,
      `OTEL_EXPORTER_OTLP_COMPRESSION`, `OTEL_EXPORTER_OTLP_CERTIFICATE` (and their
      `_TRACES_` forms); `OTEL_EXPORTER_OTLP_PROTOCOL` may only be `http/protobuf`;
    - `OTEL_SERVICE_NAME` (default `exam_service`), `OTEL_RESOURCE_ATTRIBUTES`;
    - `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (default: every trace, or as
      the caller's `traceparent` decided);
    - `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`
      and `OTEL_BSP_EXPORT_TIMEOUT` for the batching; `OTEL_SDK_DISABLED=true` stops it all.
    """
    global _provider
    if _provider is not None:
        return _provider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    choice = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if choice not in EXPORTERS:
        raise ValueError(
            f"OTEL_TRACES_EXPORTER is {choice!r}; this service ships the exporters "
            f"{', '.join(EXPORTERS)} (send to any other backend through an OpenTelemetry "
            "Collector with an OTLP receiver)"
        )
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    )
    if choice == "otlp" and protocol not in ("", "http/protobuf"):
        raise ValueError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL is {protocol!r}; this service exports OTLP over "
            "HTTP only: set it to http/protobuf (the collector's port 4318) or unset it"
        )
    resource = Resource.create({"service.version": __version__})
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "exam_service"}))
    provider = TracerProvider(resource=resource)
    exporter: SpanExporter | None = None
    if choice == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    elif choice == "console":
        exporter = ConsoleSpanExporter()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    _provider = provider
    return provider


def tracing_plugins(settings: Settings) -> list[PluginProtocol]:
    """Litestar's OpenTelemetry plugin (a server span per request, named by its route
    template) when EXAM_TRACING is on; nothing otherwise, and nothing is imported."""
    if not settings.tracing:
        return []
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    config = OpenTelemetryConfig(
        tracer_provider=tracer_provider(), exclude=PROBES, exclude_spans=["receive", "send"]
    )
    return [OpenTelemetryPlugin(config)]
