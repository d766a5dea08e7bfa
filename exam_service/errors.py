"""The service's exceptions and their single mapping to RFC 9457 problem details.

    ExamServiceError            500  base class; never raised directly
     ├── NotAuthenticated       401  no valid credentials; sign in first
     ├── Forbidden              403  signed in, but the role does not allow it
     ├── NotFound               404  no such object, or one the caller may not see
     ├── Conflict               409  the object's state forbids the request
     ├── InvalidInput           422  well-formed request whose content is wrong
     ├── RateLimited            429  too many requests; carries Retry-After
     ├── NotReady               503  the database is unreachable or not migrated
     └── Busy                   503  the instance's heavy-work pool is full; carries Retry-After

Handlers raise these; `problem_handlers` turns them (and Litestar's own HTTP errors,
SQLite's "database is locked", and a database server that is down, restarting or dropped
the connection, each of which becomes 503 with Retry-After: the request may be sent
again) into `application/problem+json` responses, so no handler builds an error by hand;
a browser asking for a page (not the API) gets the same title and detail as an HTML page.
Every message says what was wrong and what to do about it. Unexpected errors (500) are
logged once, with their traceback and the request's id, which their detail quotes.

A body has the members RFC 9457 defines (`type`, `title`, the integer HTTP `status`,
`detail`, `instance`) and may add its own (`errors`, `deadline`, `attempt_status`); an
extension never reuses a member's name, since clients read `status` as the HTTP status.
`ProblemDetails` describes the body for the OpenAPI document.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any, Literal
from urllib.parse import quote

import asyncpg
import msgspec
import sqlalchemy.exc
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect, Template
from litestar.types import ExceptionHandlersMap

PROBLEM_JSON = "application/problem+json"
PROBLEM_MEMBERS = frozenset({"type", "title", "status", "detail", "instance"})
"""The members RFC 9457 defines; an extension member may not take one of these names."""
logger = logging.getLogger(__name__)


class ProblemDetails(msgspec.Struct, kw_only=True):
    """An error body as `problem` writes it; other extension members may follow."""

    type: str
    title: str
    status: Annotated[int, msgspec.Meta(description="The HTTP status code")]
    detail: Annotated[str, msgspec.Meta(description="What was wrong and what to do about it")]
    instance: Annotated[str, msgspec.Meta(description="The path of the refused request")]
    errors: (
        Annotated[list[Any], msgspec.Meta(description="One entry per wrong field, row or question")]
        | msgspec.UnsetType
    ) = msgspec.UNSET
    deadline: (
        Annotated[
            datetime,
            msgspec.Meta(description="A refused late save: the attempt's deadline (ISO 8601)"),
        ]
        | msgspec.UnsetType
    ) = msgspec.UNSET
    attempt_status: (
        Annotated[
            Literal["submitted", "expired"],
            msgspec.Meta(description="A refused late save: how the attempt was closed"),
        ]
        | msgspec.UnsetType
    ) = msgspec.UNSET


class ExamServiceError(Exception):
    status_code = 500
    slug = "internal-error"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        taken = PROBLEM_MEMBERS.intersection(extra or {})
        if taken:
            raise ValueError(
                f"extra member(s) {sorted(taken)} would replace the problem's own; name them "
                "after what they are (e.g. attempt_status)"
            )
        self.detail = detail
        self.extra = extra or {}


class NotAuthenticated(ExamServiceError):
    status_code = 401
    slug = "not-authenticated"


class Forbidden(ExamServiceError):
    status_code = 403
    slug = "forbidden"


class NotFound(ExamServiceError):
    status_code = 404
    slug = "not-found"


class Conflict(ExamServiceError):
    status_code = 409
    slug = "conflict"


class InvalidInput(ExamServiceError):
    status_code = 422
    slug = "invalid-input"


class RateLimited(ExamServiceError):
    status_code = 429
    slug = "rate-limited"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class NotReady(ExamServiceError):
    status_code = 503
    slug = "not-ready"


class Busy(ExamServiceError):
    status_code = 503
    slug = "busy"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


def problem(
    request: Request[Any, Any, Any],
    status: int,
    slug: str,
    detail: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    body: dict[str, Any] = {
        **(extra or {}),
        # after the extras: `status` is the HTTP status, whatever an extra carried
        "type": f"/problems/{slug}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if wants_page(request):
        context = {"title": body["title"], "detail": detail, "me": request.scope.get("user")}
        return Template("error.html", context=context, status_code=status, headers=headers)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def wants_page(request: Request[Any, Any, Any]) -> bool:
    """A browser asking for a page (not the API, the schema or a file): it is answered with
    an HTML page that says the same, so that a person never meets raw JSON."""
    path = request.url.path
    if path.startswith(("/api/", "/schema", "/static/")):
        return False
    return "text/html" in request.headers.get("accept", "")


def _service_error(
    request: Request[Any, Any, Any], exc: ExamServiceError
) -> Response[dict[str, Any]]:
    headers = None
    if isinstance(exc, RateLimited | Busy):
        headers = {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, NotAuthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    return problem(request, exc.status_code, exc.slug, exc.detail, exc.extra, headers)


CLIENT_GONE = "client disconnected prematurely"


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status == 500 and exc.detail == CLIENT_GONE:
        # Litestar's own wording when the body stops half-way: nobody is left to read an
        # answer, and nothing on the server failed
        logger.info("client disconnected during %s %s", request.method, request.url.path)
        detail = "the request body did not arrive whole (the client disconnected); send it again"
        return problem(request, 400, "incomplete-request", detail)
    if status >= 500:
        return _unexpected_error(request, exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationException):
        # Litestar reports malformed bodies and parameters as 400 with a list of details.
        detail = f"The request is malformed: {exc.detail}. Fix the fields listed in 'errors'."
        extra["errors"] = exc.extra if isinstance(exc.extra, list) else [exc.extra]
    elif status == 404:
        detail = f"There is nothing at {request.url.path}; see /schema for the API's routes."
    elif status == 401:
        # Litestar's JWT middleware: no token, a tampered one, or an expired one.
        if wants_page(request):
            return Redirect(f"/login?next={quote(request.url.path)}", status_code=303)
        detail = (
            f"{exc.detail}: sign in first (POST /api/v1/auth/token, then send "
            "'Authorization: Bearer <access_token>'; in a browser, /login)"
        )
        extra_headers = {"WWW-Authenticate": "Bearer"}
        return problem(request, 401, "not-authenticated", detail, None, extra_headers)
    elif status == 403 and "CSRF" in str(exc.detail):
        detail = (
            "the form's CSRF token is missing or stale: reload the page and submit again "
            "(API clients send 'Authorization: Bearer <token>' instead of the cookie)"
        )
    elif status == 413:
        detail = f"{exc.detail}: send a smaller body (the limit is set by EXAM_MAX_BODY_BYTES)"
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}; see /schema."
    else:
        detail = str(exc.detail)
    slug = HTTPStatus(status).phrase.lower().replace(" ", "-")
    return problem(request, status, slug, detail, extra, exc.headers)


def _unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if database_unreachable(exc):
        return _database_unavailable(request, exc)
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    request_id = request.scope.get("state", {}).get("request_id")
    quoted = f" (request id {request_id})" if request_id else ""
    return problem(
        request,
        500,
        "internal-error",
        f"The server failed to handle this request{quoted}; it has been logged. Try again, "
        "and report it to the operator with the request id if it persists.",
    )


UNREACHABLE = (
    ConnectionError,  # refused, reset, broken pipe: the server is down or went away
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08, the connection was lost
    asyncpg.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.AdminShutdownError,  # 57P01: a restart or fast shutdown ended the session
    asyncpg.CrashShutdownError,  # 57P02
)
DB_RETRY_SECONDS = 2


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc`, or anything it was raised from, says the database server cannot be
    reached: down, restarting, refusing connections, or a connection it dropped. The
    pools reconnect by themselves once it is back (SQLAlchemy's pre-ping, asyncpg's
    pool), so such a request may simply be sent again."""
    pending, seen = [exc], set()
    while pending:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, UNREACHABLE):
            return True
        if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
            return True
        text = str(error)
        if isinstance(error, OSError) and "Connect call failed" in text:
            return True  # asyncio's error when every address of the host refused
        if isinstance(error, asyncpg.InterfaceError) and "connection is closed" in text:
            return True
        if isinstance(error, asyncpg.InternalClientError) and "cannot switch to state" in text:
            # the server's "terminating connection" arrived on an idle pooled connection
            # just before this statement was sent on it; the pool replaces the connection
            return True
        for cause in (getattr(error, "orig", None), error.__cause__, error.__context__):
            if isinstance(cause, BaseException):
                pending.append(cause)
    return False


def _database_unavailable(request: Request[Any, Any, Any], exc: BaseException) -> Response[Any]:
    logger.warning(
        "database unreachable during %s %s: %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        str(exc).splitlines()[0][:200] if str(exc) else "",
    )
    detail = (
        "the database cannot be reached right now (it may be restarting), so this request "
        f"was not completed; send it again in {DB_RETRY_SECONDS} seconds (sending an answer "
        "again is safe)"
    )
    headers = {"Retry-After": str(DB_RETRY_SECONDS)}
    return problem(request, 503, "database-unavailable", detail, None, headers)


BUSY_RETRY_SECONDS = 2


def _database_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """SQLite gives up waiting for its write lock ("database is locked") when writers queue
    for longer than EXAM_SQLITE_BUSY_TIMEOUT_MS: the request wrote nothing, so it is safe
    and right to send it again. Anything else from the database is a server fault."""
    if "database is locked" not in str(exc):
        return _unexpected_error(request, exc)
    logger.warning("SQLite write lock timed out on %s %s", request.method, request.url.path)
    detail = (
        "the database is busy with other writes and this request was not carried out (nothing "
        f"of it was saved); send it again in {BUSY_RETRY_SECONDS} seconds"
    )
    return problem(request, 503, "busy", detail, None, {"Retry-After": str(BUSY_RETRY_SECONDS)})


def _too_deep(request: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    """msgspec gives up on JSON nested deeper than Python's recursion limit: the body was
    refused before any handler ran, and it is the sender's to fix."""
    detail = (
        "the JSON body is nested too deeply to read (hundreds of levels of [ or {); no "
        "request of this API nests more than a few levels: send the documented shape"
    )
    return problem(request, 400, "too-deep", detail)


problem_handlers: ExceptionHandlersMap = {
    ExamServiceError: _service_error,
    RecursionError: _too_deep,
    HTTPException: _http_error,
    sqlalchemy.exc.OperationalError: _database_error,
    sqlite3.OperationalError: _database_error,
    Exception: _unexpected_error,
}
