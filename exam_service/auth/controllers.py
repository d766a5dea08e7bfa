"""HTTP for identity: tokens, the current user, users (admin) and cohorts (instructors)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody

from exam_service.auth import service
from exam_service.auth.schemas import (
    CohortCreate,
    CohortSummary,
    CohortView,
    CurrentUser,
    MembersAdd,
    TokenRequest,
    TokenResponse,
    UserCreate,
    UserView,
)
from exam_service.auth.security import ADMIN, PUBLIC, SIGNED_IN, STAFF, Auth, Me
from exam_service.http import AppSettings, DbSession, PathId, client_address
from exam_service.models import Cohort, User


def user_view(user: User | CurrentUser) -> UserView:
    return UserView(user.id, user.username, user.role, user.display_name)


def cohort_view(cohort: Cohort) -> CohortView:
    return CohortView(
        id=cohort.id,
        name=cohort.name,
        owner=user_view(cohort.owner),
        members=[user_view(m.user) for m in cohort.members],
        created_at=cohort.created_at,
    )


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["identity"]

    @post(
        "/token",
        opt=PUBLIC,
        status_code=200,
        summary="Exchange a username and password for a bearer token",
    )
    async def token(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        data: JSONBody[TokenRequest],
        settings: AppSettings,
        auth: Auth,
    ) -> TokenResponse:
        token = await service.sign_in_for_token(
            db, settings, auth, data.username, data.password, client_address(request, settings)
        )
        return TokenResponse(
            access_token=token, token_type="bearer", expires_in=settings.token_ttl_seconds
        )


@get("/api/v1/me", guards=[SIGNED_IN], tags=["identity"], summary="The signed-in user")
async def me(me: Me) -> UserView:
    return user_view(me)


@post("/api/v1/users", guards=[ADMIN], tags=["identity"], summary="Create a user with a role")
async def create_user(db: DbSession, data: JSONBody[UserCreate]) -> UserView:
    user = await service.create_user(db, data.username, data.password, data.role, data.display_name)
    return user_view(user)


class CohortController(Controller):
    path = "/api/v1/cohorts"
    tags = ["identity"]
    guards = [STAFF]

    @post("/", summary="Create a cohort owned by the caller (admins may name the owner)")
    async def create(self, db: DbSession, me: Me, data: JSONBody[CohortCreate]) -> CohortView:
        return cohort_view(await service.create_cohort(db, me, data.name, data.owner_id))

    @get("/", summary="The caller's cohorts (admins: all)")
    async def list_cohorts(self, db: DbSession, me: Me) -> list[CohortSummary]:
        return [
            CohortSummary(c.id, c.name, user_view(c.owner), members)
            for c, members in await service.list_cohorts(db, me)
        ]

    @get("/{cohort_id:int}", summary="A cohort and its members")
    async def get_cohort(self, db: DbSession, me: Me, cohort_id: PathId) -> CohortView:
        return cohort_view(await service.visible_cohort(db, me, cohort_id))

    @post("/{cohort_id:int}/members", status_code=200, summary="Enrol candidates by id or username")
    async def add_members(
        self, db: DbSession, me: Me, cohort_id: PathId, data: JSONBody[MembersAdd]
    ) -> CohortView:
        cohort = await service.add_members(db, me, cohort_id, data.user_ids, data.usernames)
        return cohort_view(cohort)
