"""Browser pages for accounts: signing out (which ends the cookie's token on every
instance), changing one's own password, and the admin's users page (deactivate and
reactivate, change a role, set a password).

The forms go through the API's services and structs (`auth/accounts.py`, `UserChange`),
so a page accepts exactly what `PATCH /api/v1/users/{id}` accepts and refuses it in the
same words. No page here carries a script.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.auth import accounts
from exam_service.auth.schemas import CurrentUser, UserChange
from exam_service.auth.security import ADMIN, AUTH_COOKIE, PUBLIC, SIGNED_IN, Auth, Me, SignIns
from exam_service.auth.service import ROLES
from exam_service.errors import ExamServiceError, InvalidInput
from exam_service.http import AppSettings, DbSession, PathId, QueryId, client_address

PAGE_SIZE = 50
FILTERS = ("text", "role", "active", "offset")
"""The users page's query parameters, which its forms carry back after a change."""
DONE = {
    "role": "{name} now has the role {role}; their sign-ins have ended, so they sign in again.",
    "deactivated": "{name} is deactivated; their sign-ins have ended.",
    "reactivated": "{name} is active again and can sign in.",
    "password": "{name} has a new password; their sign-ins have ended. Tell them the password.",
}


def _text(form: FormMultiDict, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _filters(query: str) -> dict[str, str]:
    """The users page's filters from a query string, ignoring anything else in it."""
    return {k: v for k, v in parse_qsl(query) if k in FILTERS and v}


def _change(form: FormMultiDict) -> tuple[UserChange, str]:
    """The API's change from one of the page's forms, and what it does (a DONE key)."""
    values: dict[str, Any] = {}
    done = ""
    if "role" in form:
        values["role"], done = _text(form, "role"), "role"
    if "active" in form:
        active = _text(form, "active")
        if active not in ("true", "false"):
            raise InvalidInput("active must be 'true' or 'false'; use the page's buttons")
        values["active"] = active == "true"
        done = "reactivated" if values["active"] else "deactivated"
    if "password" in form:
        values["password"], done = _text(form, "password"), "password"
    if len(values) != 1:
        raise InvalidInput("change one thing at a time: a role, the status or a password")
    try:
        return msgspec.convert(values, UserChange), done
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"the form has a value that cannot be used: {exc}") from None


async def _users_page(
    db: AsyncSession,
    me: CurrentUser,
    filters: dict[str, str],
    *,
    done: str = "",
    problem: str = "",
    status_code: int = 200,
) -> Template:
    role = filters.get("role") if filters.get("role") in ROLES else None
    active = {"true": True, "false": False}.get(filters.get("active", ""))
    offset_text = filters.get("offset", "0")
    offset = int(offset_text) if offset_text.isdigit() and len(offset_text) < 10 else 0
    text = filters.get("text", "")[:80] or None
    users, total = await accounts.list_users(
        db, role=role, active=active, text=text, limit=PAGE_SIZE, offset=offset
    )
    shown = {k: v for k, v in filters.items() if k != "offset"}
    context = {
        "me": me,
        "users": users,
        "total": total,
        "offset": offset,
        "filters": filters,
        "back": urlencode(filters),
        "previous": urlencode({**shown, "offset": max(offset - PAGE_SIZE, 0)}) if offset else None,
        "next": urlencode({**shown, "offset": offset + PAGE_SIZE})
        if offset + PAGE_SIZE < total
        else None,
        "roles": ROLES,
        "done": done,
        "problem": problem,
    }
    return Template("admin_users.html", context=context, status_code=status_code)


class AccountPages(Controller):
    include_in_schema = False

    @post("/logout", opt=PUBLIC, status_code=303)
    async def logout(
        self, request: Request[Any, Any, Any], db: DbSession, auth: Auth, revocations: SignIns
    ) -> Redirect:
        """Revoke the sign-in cookie's token (if it is one of ours) and drop the cookie."""
        encoded = request.cookies.get(AUTH_COOKIE, "").split(" ")[-1]
        token = accounts.signed_in_token(auth, encoded) if encoded else None
        if token is not None:
            await accounts.revoke_token(db, revocations, token)
        response = Redirect("/login", status_code=303)
        response.delete_cookie(AUTH_COOKIE)
        return response

    @get("/account/password", guards=[SIGNED_IN])
    async def password_page(self, me: Me, changed: FromQuery[bool] = False) -> Template:
        return Template("password.html", context={"me": me, "changed": changed, "problem": ""})

    @post("/account/password", guards=[SIGNED_IN], status_code=303)
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        me: Me,
        settings: AppSettings,
        auth: Auth,
        revocations: SignIns,
    ) -> Redirect | Template:
        form = await request.form()
        new = _text(form, "new_password")
        try:
            if new != _text(form, "confirm_password"):
                raise InvalidInput("the two new passwords differ; type the same one twice")
            token = await accounts.change_own_password(
                db,
                revocations,
                settings,
                auth,
                me,
                _text(form, "current_password"),
                new,
                client_address(request, settings),
            )
        except ExamServiceError as exc:
            await db.rollback()
            context = {"me": me, "changed": False, "problem": exc.detail}
            return Template("password.html", context=context, status_code=exc.status_code)
        response = Redirect("/account/password?changed=true", status_code=303)
        # this browser stays signed in: the old cookie's token ended with the others
        response.set_cookie(
            AUTH_COOKIE,
            token,
            max_age=settings.token_ttl_seconds,
            httponly=True,
            secure=not settings.is_development,
            samesite="lax",
        )
        return response

    @get("/admin/users", guards=[ADMIN])
    async def users_page(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        me: Me,
        done: FromQuery[str] = "",
        user: QueryId = None,
    ) -> Template:
        message = ""
        if done in DONE and user:
            try:
                changed = await accounts.get_user(db, user)
            except ExamServiceError:
                pass
            else:
                message = DONE[done].format(name=changed.username, role=changed.role)
        return await _users_page(db, me, _filters(request.url.query), done=message)

    @post("/admin/users/{user_id:int}", guards=[ADMIN], status_code=303)
    async def change_user(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        me: Me,
        revocations: SignIns,
        user_id: PathId,
    ) -> Redirect | Template:
        form = await request.form()
        filters = _filters(_text(form, "back"))
        try:
            change, done = _change(form)
            await accounts.change_user(db, revocations, user_id, change)
        except ExamServiceError as exc:
            if exc.status_code == 404:
                raise
            await db.rollback()
            return await _users_page(
                db, me, filters, problem=exc.detail, status_code=exc.status_code
            )
        query = urlencode({**filters, "done": done, "user": user_id})
        return Redirect(f"/admin/users?{query}#user-{user_id}", status_code=303)
