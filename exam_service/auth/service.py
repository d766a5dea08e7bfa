"""Identity DB work: users, sign-in with a shared failure limit, cohorts and visibility."""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from litestar.security.jwt import JWTCookieAuth, Token
from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from exam_service.auth.passwords import hash_password_async, password_problem, verify_password
from exam_service.auth.schemas import CurrentUser
from exam_service.auth.security import issue_token
from exam_service.db import utcnow
from exam_service.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    RateLimited,
)
from exam_service.models import Cohort, CohortMember, SignInFailure, User
from exam_service.settings import Settings

ROLES = ("admin", "instructor", "candidate")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,79}$")
WRONG_CREDENTIALS = (
    "wrong username or password; check both and try again (after repeated failures "
    "sign-in is paused for a few minutes)"
)


async def create_user(
    session: AsyncSession,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    *,
    password_hash: str | None = None,
) -> User:
    """Create a user; `password_hash` lets tests and fixtures skip the slow hash."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise InvalidInput(
            f"username {username!r} is not allowed: use 2-80 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} does not exist; use one of {', '.join(ROLES)}")
    if password_hash is None:
        problem = password_problem(password)
        if problem:
            raise InvalidInput(problem)
        password_hash = await hash_password_async(password)
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        role=role,
        password_hash=password_hash,
        is_active=True,
    )
    session.add(user)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(f"the username {username!r} is taken; choose another one") from None
    return user


def current_user(user: User) -> CurrentUser:
    return CurrentUser(user.id, user.username, user.role, user.display_name)


async def _failure_upsert(session: AsyncSession, key: str, now: datetime, window: int) -> None:
    """Count one failure for `key` atomically, restarting the window when it has passed."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    expired = SignInFailure.window_started_at < now - timedelta(seconds=window)
    statement = insert(SignInFailure).values(key=key, failures=1, window_started_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=[SignInFailure.key],
        set_={
            "failures": case((expired, 1), else_=SignInFailure.failures + 1),
            "window_started_at": case((expired, now), else_=SignInFailure.window_started_at),
        },
    )
    await session.execute(statement)
    await session.commit()


async def sign_in(
    session: AsyncSession,
    username: str,
    password: str,
    client: str,
    *,
    max_failures: int,
    window_seconds: int,
) -> User:
    """The user whose credentials these are, or NotAuthenticated with one message for an
    unknown user and a wrong password alike. After `max_failures` failures for the same
    (username, client) within `window_seconds`, RateLimited until the window ends. A
    deactivated account is Forbidden, said only to someone who knows its password."""
    username = username.strip().lower()
    key = f"{username}|{client}"
    now = utcnow()
    blocked = await session.get(SignInFailure, key)
    if blocked is not None and blocked.failures >= max_failures:
        ends = blocked.window_started_at + timedelta(seconds=window_seconds)
        if ends > now:
            wait = math.ceil((ends - now).total_seconds())
            raise RateLimited(
                f"too many failed sign-ins for {username!r} from this address; try again in "
                f"{wait} seconds",
                retry_after=wait,
            )
    user = await session.scalar(select(User).where(User.username == username))
    if not await verify_password(user.password_hash if user else None, password):
        await _failure_upsert(session, key, now, window_seconds)
        raise NotAuthenticated(WRONG_CREDENTIALS)
    assert user is not None
    if blocked is not None:
        await session.execute(delete(SignInFailure).where(SignInFailure.key == key))
        await session.commit()
    if not user.is_active:
        raise Forbidden(f"the account {username!r} is deactivated; ask an admin to reactivate it")
    return user


# --- cohorts ------------------------------------------------------------------------------


async def create_cohort(
    session: AsyncSession, caller: CurrentUser, name: str, owner_id: int | None
) -> Cohort:
    if owner_id is not None and owner_id != caller.id:
        if caller.role != "admin":
            raise InvalidInput(
                "only an admin can create a cohort for another instructor; leave out owner_id"
            )
        owner = await session.get(User, owner_id)
        if owner is None or owner.role != "instructor":
            raise InvalidInput(f"owner_id {owner_id} is not an instructor's user id")
    cohort = Cohort(name=name.strip(), owner_id=owner_id or caller.id)
    session.add(cohort)
    await session.commit()
    return await visible_cohort(session, caller, cohort.id)


def _no_cohort(cohort_id: int) -> NotFound:
    return NotFound(f"there is no cohort {cohort_id} among yours; GET /api/v1/cohorts lists them")


async def owned_cohort(session: AsyncSession, viewer: CurrentUser, cohort_id: int) -> Cohort:
    """The cohort row alone (no members loaded, for reports over large cohorts), with the
    same visibility rule and the same NotFound as `visible_cohort`."""
    cohort = await session.get(Cohort, cohort_id)
    if cohort is None or (viewer.role != "admin" and cohort.owner_id != viewer.id):
        raise _no_cohort(cohort_id)
    return cohort


async def visible_cohort(session: AsyncSession, viewer: CurrentUser, cohort_id: int) -> Cohort:
    """The cohort if `viewer` owns it or is an admin; otherwise NotFound, exactly as for
    an id that does not exist, so ids reveal nothing."""
    cohort: Cohort | None = await session.scalar(
        select(Cohort)
        .where(Cohort.id == cohort_id)
        .options(
            selectinload(Cohort.owner),
            selectinload(Cohort.members).selectinload(CohortMember.user),
        )
    )
    if cohort is None or (viewer.role != "admin" and cohort.owner_id != viewer.id):
        raise _no_cohort(cohort_id)
    return cohort


async def list_cohorts(session: AsyncSession, viewer: CurrentUser) -> Sequence[tuple[Cohort, int]]:
    count = (
        select(func.count())
        .where(CohortMember.cohort_id == Cohort.id)
        .correlate(Cohort)
        .scalar_subquery()
    )
    query = select(Cohort, count).options(selectinload(Cohort.owner)).order_by(Cohort.id)
    if viewer.role != "admin":
        query = query.where(Cohort.owner_id == viewer.id)
    return [(cohort, members) for cohort, members in (await session.execute(query)).all()]


async def add_members(
    session: AsyncSession,
    viewer: CurrentUser,
    cohort_id: int,
    user_ids: list[int],
    usernames: list[str],
) -> Cohort:
    """Enrol candidates by id or username; already enrolled ones are left as they are."""
    cohort = await visible_cohort(session, viewer, cohort_id)
    if not user_ids and not usernames:
        raise InvalidInput("name the candidates to add in 'user_ids' or 'usernames'")
    names = [n.strip().lower() for n in usernames]
    found = list(
        (
            await session.scalars(
                select(User).where(User.id.in_(user_ids) | User.username.in_(names))
            )
        ).all()
    )
    missing = [str(i) for i in user_ids if i not in {u.id for u in found}] + [
        n for n in names if n not in {u.username for u in found}
    ]
    if missing:
        raise InvalidInput(f"no such user: {', '.join(missing)}; nobody was added")
    not_candidates = [u.username for u in found if u.role != "candidate"]
    if not_candidates:
        raise InvalidInput(
            f"only candidates can be enrolled; {', '.join(not_candidates)} "
            f"{'is not a candidate' if len(not_candidates) == 1 else 'are not candidates'}; "
            "nobody was added"
        )
    enrolled = {m.user_id for m in cohort.members}
    for user in found:
        if user.id not in enrolled:
            cohort.members.append(CohortMember(user_id=user.id))
            enrolled.add(user.id)
    await session.commit()
    session.expire(cohort)
    return await visible_cohort(session, viewer, cohort_id)


async def paper_exam_owner(session: AsyncSession, username: str | None) -> User | None:
    """The user named `username`, or else the first instructor or admin: who owns a paper
    exam made from the command line."""
    query = select(User).where(User.role.in_(("admin", "instructor"))).order_by(User.id)
    if username:
        query = select(User).where(User.username == username.lower())
    return await session.scalar(query.limit(1))


DEMO_PEOPLE = (
    ("demo-admin", "admin", "Demo Admin"),
    ("demo-instructor", "instructor", "Demo Instructor"),
    ("demo-candidate", "candidate", "Demo Candidate"),
)


async def create_demo_accounts(session: AsyncSession) -> dict[str, str] | None:
    """On a database without users: an admin, an instructor and a candidate enrolled in the
    instructor's "Demo cohort", each with a random password, returned once. None when
    any user already exists."""
    if await session.scalar(select(func.count()).select_from(User)):
        return None
    passwords: dict[str, str] = {}
    users: dict[str, User] = {}
    for username, role, name in DEMO_PEOPLE:
        passwords[username] = secrets.token_urlsafe(12)
        users[role] = await create_user(session, username, passwords[username], role, name)
    cohort = Cohort(name="Demo cohort", owner_id=users["instructor"].id)
    cohort.members.append(CohortMember(user_id=users["candidate"].id))
    session.add(cohort)
    await session.commit()
    return passwords


async def sign_in_for_token(
    session: AsyncSession,
    settings: Settings,
    auth: JWTCookieAuth[CurrentUser, Token],
    username: str,
    password: str,
    client: str,
) -> str:
    """Check the credentials (with the failure limit per username and `client` address)
    and issue a token; the API's token endpoint and the browser's sign-in form both use it."""
    user = await sign_in(
        session,
        username,
        password,
        client,
        max_failures=settings.signin_max_failures,
        window_seconds=settings.signin_window_seconds,
    )
    return issue_token(
        auth, current_user(user), settings.token_ttl_seconds, version=user.token_version
    )
