"""Browser pages: sign-in and sign-out with the session cookie, and the home page."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from exam_service.auth.controllers import sign_in_for_token
from exam_service.auth.security import AUTH_COOKIE, PUBLIC, SIGNED_IN, Auth, Me
from exam_service.db import DbSession
from exam_service.errors import NotAuthenticated, RateLimited
from exam_service.settings import AppSettings


class SignInForm(msgspec.Struct):
    username: str = ""
    password: str = ""
    next: str = "/"


def _safe_next(target: str) -> str:
    """Only same-site paths, so the form cannot bounce a user to another site."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


class PageController(Controller):
    include_in_schema = False

    @get("/", guards=[SIGNED_IN])
    async def home(self, me: Me) -> Template:
        return Template("home.html", context={"me": me})

    @get("/login", opt=PUBLIC)
    async def login_page(self, next: FromQuery[str] = "/") -> Template:
        return Template("login.html", context={"next": _safe_next(next), "error": None})

    @post("/login", opt=PUBLIC, status_code=303)
    async def login(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        settings: AppSettings,
        auth: Auth,
        data: URLEncodedBody[SignInForm],
    ) -> Redirect | Template:
        try:
            token = await sign_in_for_token(
                request, db, settings, auth, data.username, data.password
            )
        except (NotAuthenticated, RateLimited) as exc:
            context = {
                "next": _safe_next(data.next),
                "error": exc.detail,
                "username": data.username,
            }
            return Template("login.html", context=context, status_code=exc.status_code)
        ttl = settings.token_ttl_seconds
        response = Redirect(_safe_next(data.next), status_code=303)
        response.set_cookie(
            AUTH_COOKIE,
            token,
            max_age=ttl,
            httponly=True,
            secure=not settings.is_development,
            samesite="lax",
        )
        return response

    @post("/logout", opt=PUBLIC, status_code=303)
    async def logout(self) -> Redirect:
        response = Redirect("/login", status_code=303)
        response.delete_cookie(AUTH_COOKIE)
        return response
