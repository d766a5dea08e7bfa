"""How requests are authenticated and authorised: JWT (bearer header or HttpOnly cookie),
role guards, and CSRF checks for cookie-carrying browser requests."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, ClassVar

from litestar import Request
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.middleware.authentication import AuthenticationResult
from litestar.middleware.csrf import CSRFMiddleware
from litestar.params import SkipValidation
from litestar.security.jwt import JWTCookieAuth, JWTCookieAuthenticationMiddleware, Token
from litestar.types import Receive, Scope, Send

from exam_service.auth.revocation import Revocations
from exam_service.auth.schemas import CurrentUser
from exam_service.errors import Forbidden, NotAuthenticated
from exam_service.settings import Settings

AUTH_COOKIE = "exam_session"
PUBLIC = {"exclude_from_auth": True}
"""Route `opt` for handlers anyone may call (health, sign-in)."""


async def _user_from_token(
    token: Token, _connection: ASGIConnection[Any, Any, Any, Any]
) -> CurrentUser | None:
    extras = token.extras
    try:
        return CurrentUser(
            id=int(token.sub),
            username=str(extras["username"]),
            role=str(extras["role"]),
            display_name=str(extras.get("display_name", extras["username"])),
        )
    except (KeyError, ValueError):
        return None


class CachedJWTMiddleware(JWTCookieAuthenticationMiddleware):
    """Litestar's JWT check, remembering tokens it has verified (per process, bounded).

    A candidate's browser sends the same token with every answer it saves; verifying the
    HMAC and decoding each time was a fifth of that request's work. A cached entry is used
    only while the token has not expired, and only for the same secret and token bytes,
    and the app's `Revocations` (the revoked-token handler) are asked on every request,
    so a token revoked after it was cached stops at once.
    """

    verified: ClassVar[OrderedDict[tuple[str, str], tuple[float, AuthenticationResult]]] = (
        OrderedDict()
    )
    capacity: ClassVar[int] = 10_000

    async def authenticate_token(
        self, encoded_token: str, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        key = (self.token_secret, encoded_token)
        hit = self.verified.get(key)
        if hit is not None and hit[0] > time.time():
            revoked = self.revoked_token_handler
            if revoked is not None and await revoked(hit[1].auth, connection):
                raise NotAuthorizedException("the token was revoked")
            return hit[1]
        result = await super().authenticate_token(encoded_token, connection)
        self.verified[key] = (result.auth.exp.timestamp(), result)
        if len(self.verified) > self.capacity:
            self.verified.popitem(last=False)
        return result


def jwt_auth(
    settings: Settings, revocations: Revocations | None = None
) -> JWTCookieAuth[CurrentUser, Token]:
    """Bearer tokens for API clients and the same token in an HttpOnly cookie for browsers.

    The token carries the user's id, name, role and token version, so no request reads
    the users table; `revocations` refuses the tokens that no longer count (the app's;
    None where tokens are only made, as in tests and benches).
    """
    return JWTCookieAuth[CurrentUser, Token](
        token_secret=settings.secret_key,
        retrieve_user_handler=_user_from_token,
        key=AUTH_COOKIE,
        default_token_expiration=timedelta(seconds=settings.token_ttl_seconds),
        secure=not settings.is_development,
        samesite="lax",
        exclude=["^/schema"],
        exclude_opt_key="exclude_from_auth",
        authentication_middleware_class=CachedJWTMiddleware,
        revoked_token_handler=revocations,
    )


def issue_token(
    auth: JWTCookieAuth[CurrentUser, Token], user: CurrentUser, ttl: int, *, version: int = 0
) -> str:
    """A token for `user`, valid `ttl` seconds, with an id of its own (`jti`, so that signing
    out can revoke it alone) and the user's token `version` (0 until their sign-ins were
    first ended: see `users.token_version`)."""
    return auth.create_token(
        identifier=str(user.id),
        token_expiration=timedelta(seconds=ttl),
        token_unique_jwt_id=secrets.token_urlsafe(16),
        token_extras={
            "username": user.username,
            "role": user.role,
            "display_name": user.display_name,
            "ver": version,
        },
    )


def requires(
    *roles: str,
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]:
    """A guard that lets through users whose role is one of `roles`."""

    # async: Litestar runs a sync guard in a worker thread, a cost on every request
    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
    ) -> None:
        if connection.scope.get("method") == "OPTIONS":
            return  # Litestar's automatic OPTIONS answer reveals only the allowed methods
        if "user" not in connection.scope:
            raise NotAuthenticated("sign in first: POST /api/v1/auth/token, or /login")
        user = connection.user
        if not isinstance(user, CurrentUser) or user.role not in roles:
            held = user.role if isinstance(user, CurrentUser) else "none"
            raise Forbidden(
                f"this needs the {' or '.join(roles)} role; you are signed in as a {held}"
            )

    return guard


SIGNED_IN = requires("admin", "instructor", "candidate")
STAFF = requires("admin", "instructor")
ADMIN = requires("admin")


async def provide_user(request: Request[Any, Any, Any]) -> CurrentUser:
    user: CurrentUser = request.user
    return user


Me = NamedDependency[CurrentUser]
"""A handler parameter `me: Me` receives the signed-in user."""
Auth = NamedDependency[SkipValidation[JWTCookieAuth[CurrentUser, Token]]]
"""A handler parameter `auth: Auth` receives the app's JWT configuration."""
SignIns = NamedDependency[SkipValidation[Revocations]]
"""A handler parameter `revocations: SignIns` receives the app's view of revoked tokens."""


class CookieCSRFMiddleware(CSRFMiddleware):
    """Litestar's double-submit CSRF check, for requests a browser could be tricked into.

    A request with an Authorization header cannot be forged cross-site (the header needs
    a CORS preflight), and one without cookies carries no ambient credentials, so unsafe
    requests of either kind skip the check; every other unsafe request needs the token.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope.get("method") not in self.config.safe_methods:
            headers = dict(scope.get("headers", []))
            if b"authorization" in headers or b"cookie" not in headers:
                await self.app(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def csrf_middleware(settings: Settings) -> DefineMiddleware:
    config = CSRFConfig(
        secret=settings.secret_key,
        cookie_name="exam_csrf",
        header_name="x-csrf-token",
        cookie_secure=not settings.is_development,
        cookie_samesite="lax",
        cookie_httponly=False,  # the page's script reads it to send the header
    )
    return DefineMiddleware(CookieCSRFMiddleware, config=config)
