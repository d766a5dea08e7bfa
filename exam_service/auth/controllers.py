"""HTTP for identity: tokens (and revoking one), the current user and their password,
users (admin) and cohorts (instructors)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromQuery, JSONBody, QueryParameter

from exam_service.auth import accounts, service
from exam_service.auth.schemas import (
    AccountPage,
    AccountView,
    CohortCreate,
    CohortSummary,
    CohortView,
    CurrentUser,
    MembersAdd,
    PasswordChange,
    Role,
    TokenRequest,
    TokenResponse,
    UserChange,
    UserCreate,
    UserView,
)
from exam_service.auth.security import ADMIN, PUBLIC, SIGNED_IN, STAFF, Auth, Me, SignIns
from exam_service.http import AppSettings, DbSession, Offset, PathId, client_address
from exam_service.models import Cohort, User


def user_view(user: User | CurrentUser) -> UserView:
    return UserView(user.id, user.username, user.role, user.display_name)


def account_view(user: User) -> AccountView:
    return AccountView(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        active=user.is_active,
        created_at=user.created_at,
    )


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

    @delete(
        "/token",
        guards=[SIGNED_IN],
        status_code=204,
        summary="Sign out: revoke the token this request carries, on every instance",
    )
    async def revoke(
        self, request: Request[Any, Any, Any], db: DbSession, revocations: SignIns
    ) -> None:
        await accounts.revoke_token(db, revocations, request.auth)


@get("/api/v1/me", guards=[SIGNED_IN], tags=["identity"], summary="The signed-in user")
async def me(me: Me) -> UserView:
    return user_view(me)


@post(
    "/api/v1/me/password",
    guards=[SIGNED_IN],
    status_code=200,
    tags=["identity"],
    summary="Change your own password; every other sign-in ends, and a new token is returned",
)
async def change_my_password(
    request: Request[Any, Any, Any],
    db: DbSession,
    me: Me,
    settings: AppSettings,
    auth: Auth,
    revocations: SignIns,
    data: JSONBody[PasswordChange],
) -> TokenResponse:
    token = await accounts.change_own_password(
        db,
        revocations,
        settings,
        auth,
        me,
        data.current_password,
        data.new_password,
        client_address(request, settings),
    )
    return TokenResponse(
        access_token=token, token_type="bearer", expires_in=settings.token_ttl_seconds
    )


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["identity"]
    guards = [ADMIN]

    @post("/", summary="Create a user with a role")
    async def create_user(self, db: DbSession, data: JSONBody[UserCreate]) -> UserView:
        user = await service.create_user(
            db, data.username, data.password, data.role, data.display_name
        )
        return user_view(user)

    @get("/", summary="Users by username, a page at a time")
    async def list_users(
        self,
        db: DbSession,
        role: FromQuery[Role | None] = None,
        active: FromQuery[bool | None] = None,
        text: Annotated[
            str | None,
            QueryParameter(description="Part of the username or display name", max_length=80),
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Offset = 0,
    ) -> AccountPage:
        users, total = await accounts.list_users(
            db, role=role, active=active, text=text, limit=limit, offset=offset
        )
        return AccountPage(
            items=[account_view(u) for u in users], total=total, limit=limit, offset=offset
        )

    @patch(
        "/{user_id:int}",
        summary="Deactivate or reactivate a user, change their role or name, set a password",
        description=(
            "`active`, `role` and `password` end every sign-in the user has, on every "
            "instance within EXAM_ACCESS_REFRESH_SECONDS; `display_name` ends none. A change "
            "that would leave no active admin answers 409."
        ),
    )
    async def change_user(
        self, db: DbSession, revocations: SignIns, user_id: PathId, data: JSONBody[UserChange]
    ) -> AccountView:
        return account_view(await accounts.change_user(db, revocations, user_id, data))


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
