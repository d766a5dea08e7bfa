"""HTTP plumbing shared by every feature's controllers: the dependency aliases, the
bounded parameter types, and the file-download helpers.

Controllers import this module and their own feature's service; never another feature's
controller. (`Me` and `Auth`, the signed-in user and the JWT configuration, live beside
the guards in `auth/security.py`.)
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, TypeVar, cast

from litestar import Request, Response
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter, SkipValidation
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.db import MAX_ID
from exam_service.heavy import HeavyWork
from exam_service.settings import Settings

DbSession = NamedDependency[AsyncSession]
"""A handler parameter `db: DbSession` receives the request's session (see create_app)."""
AppSettings = NamedDependency[Settings]
"""A handler parameter `settings: AppSettings` receives the app's settings."""
Heavy = NamedDependency[SkipValidation[HeavyWork]]
"""A handler parameter `heavy: Heavy` runs CPU-heavy work in the app's worker processes."""

PathId = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)]
RowId = Annotated[int, Meta(ge=1, le=MAX_ID)]
Offset = Annotated[int, QueryParameter(ge=0, le=MAX_ID)]

PDF = "application/pdf"
CSV = "text/csv"  # Litestar adds "; charset=utf-8" to every text/ type

T = TypeVar("T")


def download(body: bytes, media_type: str, filename: str) -> Response[bytes]:
    """A file the browser saves under `filename`."""
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def instead_of(_model: type[T], response: Response[bytes]) -> T:
    """A file returned by a handler whose documented result is the JSON model `T` (for
    `?format=csv|pdf`): Litestar sees at run time that it got a Response and sends it."""
    return cast(T, response)


def client_address(request: Request[Any, Any, Any], settings: Settings) -> str:
    """The address the request came from, as the sign-in limit counts it.

    The connection's peer, unless the peer is one of `settings.trusted_proxies`: then the
    X-Forwarded-For list is read from the right (the entries the proxies appended), and the
    first address that is not a trusted proxy is the client. A header from anyone else is
    ignored, so a client cannot pick the address its failures are counted under."""
    peer = request.client.host if request.client else "unknown"
    trusted = [ipaddress.ip_network(n) for n in settings.trusted_proxies]
    if not trusted or not _within(peer, trusted):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("x-forwarded-for", [])).split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _within(hop, trusted):
            return hop
    return peer


def _within(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # a name or garbage: not a proxy of ours
    return any(ip in network for network in networks)
