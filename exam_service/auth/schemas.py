"""API shapes of identity: tokens, users, cohorts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from exam_service.http import RowId

Role = Literal["admin", "instructor", "candidate"]
Username = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,79}$",
        description="2-80 letters, digits, '.', '_' or '-'; stored in lower case.",
    ),
]


class CurrentUser(Struct, frozen=True):
    """Who is signed in, as carried in the token (no database read per request)."""

    id: int
    username: str
    role: str
    display_name: str


class TokenRequest(Struct):
    username: Annotated[str, Meta(min_length=1, max_length=80)]
    password: Annotated[str, Meta(min_length=1, max_length=1024)]


class TokenResponse(Struct):
    access_token: str
    token_type: str
    expires_in: int


class UserCreate(Struct):
    username: Username
    password: Annotated[str, Meta(max_length=1024)]
    role: Role
    display_name: Annotated[str, Meta(max_length=200)] = ""


class UserView(Struct):
    id: int
    username: str
    role: str
    display_name: str


Password = Annotated[str, Meta(max_length=1024, description="At least 10 characters.")]


class UserChange(Struct, forbid_unknown_fields=True):
    """An admin's change to a user; a field left out stays as it is. `active`, `role` and
    `password` end every sign-in the user has (they sign in again)."""

    active: bool | UnsetType = UNSET
    role: Role | UnsetType = UNSET
    display_name: Annotated[str, Meta(min_length=1, max_length=200)] | UnsetType = UNSET
    password: Password | UnsetType = UNSET
    """A new password for the user (tell them; they can change it afterwards)."""


class AccountView(Struct):
    """A user as an admin manages them."""

    id: int
    username: str
    display_name: str
    role: str
    active: bool
    created_at: datetime


class AccountPage(Struct):
    items: list[AccountView]
    total: int
    limit: int
    offset: int


class PasswordChange(Struct, forbid_unknown_fields=True):
    current_password: Annotated[str, Meta(min_length=1, max_length=1024)]
    new_password: Password


class CohortCreate(Struct):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    owner_id: RowId | None = None
    """Admins only: the instructor who will own the cohort (default: the caller)."""


class MembersAdd(Struct):
    user_ids: list[RowId] = []
    usernames: list[str] = []


class CohortView(Struct):
    id: int
    name: str
    owner: UserView
    members: list[UserView]
    created_at: datetime


class CohortSummary(Struct):
    id: int
    name: str
    owner: UserView
    member_count: int
