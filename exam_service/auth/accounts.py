"""Account administration and sign-out: the admin's list of users and their changes
(deactivate, reactivate, role, display name, a new password), a user's change of their
own password, and revoking one token.

What ends sign-ins, and how every instance learns of it, is in `revocation.py`: a change
that takes access away raises the user's `token_version` and stamps `access_changed_at`;
signing out records the token's id in `revoked_tokens` until it would have expired. Each
service here tells the instance it runs on (`Revocations`) at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import JWTCookieAuth, Token
from msgspec import UNSET
from sqlalchemy import ColumnElement, Update, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from exam_service.auth.passwords import hash_password_async, password_problem
from exam_service.auth.revocation import Revocations
from exam_service.auth.schemas import CurrentUser, UserChange
from exam_service.auth.security import issue_token
from exam_service.auth.service import current_user, sign_in
from exam_service.db import utcnow
from exam_service.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from exam_service.models import RevokedToken, User
from exam_service.settings import Settings


async def list_users(
    session: AsyncSession,
    *,
    role: str | None,
    active: bool | None,
    text: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[User], int]:
    """One page of users by username, and how many match in all."""
    where: list[ColumnElement[bool]] = []
    if role is not None:
        where.append(User.role == role)
    if active is not None:
        where.append(User.is_active.is_(active))
    if text:
        pattern = f"%{text.strip().lower()}%"
        where.append(or_(User.username.like(pattern), func.lower(User.display_name).like(pattern)))
    total = await session.scalar(select(func.count()).select_from(User).where(*where))
    page = await session.scalars(
        select(User).where(*where).order_by(User.username).limit(limit).offset(offset)
    )
    return page.all(), int(total or 0)


def _no_user(user_id: int) -> NotFound:
    return NotFound(f"there is no user {user_id}; GET /api/v1/users lists them")


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise _no_user(user_id)
    return user


async def change_user(
    session: AsyncSession, revocations: Revocations, user_id: int, change: UserChange
) -> User:
    """Apply an admin's `change` to user `user_id`.

    Deactivating, reactivating, a new role and a new password each end every sign-in the
    user has (their token version goes up): they sign in again, and get the new role in
    their token. A new display name ends nothing; tokens show the old one until they
    expire. A change that would leave no active admin is refused (Conflict), whoever
    makes it: an admin may step down only while another active admin remains."""
    user = await get_user(session, user_id)
    username = user.username
    values: dict[str, Any] = {}
    if change.display_name is not UNSET:
        name = change.display_name.strip()
        if not name:
            raise InvalidInput("display_name is blank; give the name to show, or leave it out")
        values["display_name"] = name
    if change.password is not UNSET:
        problem = password_problem(change.password)
        if problem:
            raise InvalidInput(problem)
        values["password_hash"] = await hash_password_async(change.password)
    ends_sign_ins = "password_hash" in values
    if change.active is not UNSET and change.active != user.is_active:
        values["is_active"] = change.active
        ends_sign_ins = True
    if change.role is not UNSET and change.role != user.role:
        values["role"] = change.role
        ends_sign_ins = True
    if not values:
        if change == UserChange():
            raise InvalidInput(
                "the body changes nothing: send one or more of active, role, display_name, password"
            )
        return user  # already as asked
    if ends_sign_ins:
        values["token_version"] = User.token_version + 1
        values["access_changed_at"] = utcnow()
    statement = update(User).where(User.id == user_id).values(**values)
    was_admin = user.role == "admin" and user.is_active
    stays_admin = values.get("role", user.role) == "admin" and values.get(
        "is_active", user.is_active
    )
    if was_admin and not stays_admin:
        statement = await _keeping_an_admin(session, statement, user_id)
    outcome: Any = await session.execute(statement)
    if outcome.rowcount == 0:
        await session.rollback()
        raise Conflict(
            f"{username!r} is the only active admin; make another user an admin before "
            "deactivating or demoting this one"
        )
    await session.commit()
    await session.refresh(user)
    revocations.account_changed(user)
    return user


async def _keeping_an_admin(session: AsyncSession, statement: Update, user_id: int) -> Update:
    """`statement` made to change nothing unless another active admin remains.

    Two admins demoting each other at once must not both succeed: on PostgreSQL the
    active admins' rows are locked first, so the second change waits for the first and
    then counts again; SQLite runs one writing statement at a time."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            select(User.id).where(User.role == "admin", User.is_active.is_(True)).with_for_update()
        )
    other = aliased(User)  # not the row being updated: a count over the whole table
    others = select(func.count()).where(
        other.role == "admin", other.is_active.is_(True), other.id != user_id
    )
    return statement.where(others.scalar_subquery() > 0)


async def change_own_password(
    session: AsyncSession,
    revocations: Revocations,
    settings: Settings,
    auth: JWTCookieAuth[CurrentUser, Token],
    me: CurrentUser,
    current_password: str,
    new_password: str,
    client: str,
) -> str:
    """Set `me`'s password after checking the current one, end every sign-in they have,
    and return a new token for the caller (who stays signed in).

    A wrong current password counts as a failed sign-in for (username, `client`), under
    the same limit, so a stolen token cannot be used to guess the password."""
    problem = password_problem(new_password)
    if problem:
        raise InvalidInput(f"new_password: {problem}")
    if new_password == current_password:
        raise InvalidInput("the new password is the current one; choose a different one")
    try:
        user = await sign_in(
            session,
            me.username,
            current_password,
            client,
            max_failures=settings.signin_max_failures,
            window_seconds=settings.signin_window_seconds,
        )
    except NotAuthenticated:
        raise Forbidden(
            "the current password is wrong, so the password was not changed; type the one "
            "you sign in with"
        ) from None
    new_hash = await hash_password_async(new_password)
    await session.execute(
        update(User)
        .where(User.id == user.id)
        .values(
            password_hash=new_hash,
            token_version=User.token_version + 1,
            access_changed_at=utcnow(),
        )
    )
    await session.commit()
    await session.refresh(user)
    revocations.account_changed(user)
    return issue_token(
        auth, current_user(user), settings.token_ttl_seconds, version=user.token_version
    )


async def revoke_token(session: AsyncSession, revocations: Revocations, token: Token) -> None:
    """End this one token on every instance (signing out), whatever else the user has."""
    expires_at = token.exp.astimezone(UTC)
    user_id = int(token.sub)
    jti = token.jti if isinstance(token.jti, str) else None
    if jti is None:
        # a token from before tokens had ids: only ending all of the user's sign-ins ends it
        await session.execute(
            update(User)
            .where(User.id == user_id)
            .values(token_version=User.token_version + 1, access_changed_at=utcnow())
        )
        await session.commit()
        user = await session.scalar(
            select(User).where(User.id == user_id).execution_options(populate_existing=True)
        )
        if user is not None:
            revocations.account_changed(user)
        return
    if await session.get(User, user_id) is None:
        return  # nobody to sign out
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(RevokedToken)
        .values(jti=jti, user_id=user_id, expires_at=expires_at, revoked_at=utcnow())
        .on_conflict_do_nothing(index_elements=[RevokedToken.jti])
    )
    # the revocations nobody needs any more: their tokens have expired by themselves
    await session.execute(delete(RevokedToken).where(RevokedToken.expires_at <= utcnow()))
    await session.commit()
    revocations.token_revoked(jti, expires_at)


def signed_in_token(auth: JWTCookieAuth[CurrentUser, Token], encoded: str) -> Token | None:
    """The token in a sign-in cookie if it is genuine and unexpired, else None (nothing to
    end)."""
    try:
        token = Token.decode(encoded, auth.token_secret, auth.algorithm)
        int(token.sub)
    except (NotAuthorizedException, ValueError):
        return None
    return token
