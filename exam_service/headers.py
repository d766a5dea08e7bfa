"""Security headers on every response: `X-Content-Type-Options: nosniff` everywhere, and
on HTML pages a Content-Security-Policy and `X-Frame-Options: DENY`.

Every page, the Swagger UI at /schema included, loads only the app's own scripts and
styles and carries no inline script, style element, `style` attribute or event handler,
so the policy allows nothing else. Images may also be `data:` URIs: the scan crops of the
paper-exam page are inline PNGs, and Swagger UI's stylesheet draws its icons that way.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

PAGE_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


async def security_headers(message: Message, _scope: Scope) -> None:
    """A `before_send` hook of the app, so that it sees every response, errors and
    redirects included."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    headers["X-Content-Type-Options"] = "nosniff"
    if headers.get("content-type", "").startswith("text/html"):
        headers["Content-Security-Policy"] = PAGE_POLICY
        headers["X-Frame-Options"] = "DENY"
