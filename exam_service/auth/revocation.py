"""Which signed tokens no longer count, as this instance knows it, kept fresh from the
database so that an account change made on any instance reaches every other one within
EXAM_ACCESS_REFRESH_SECONDS.

A token carries its user's id, the user's token version when it was issued (`ver`) and a
random id of its own (`jti`). It is refused when the user is deactivated, when the user's
version has moved on since (an admin deactivated them, changed their role or set a new
password, or they changed their own password), or when its id was revoked by signing out.

The check runs on every signed-in request, so it reads only memory: per user the version
and whether the account is active (read from the database the first time the user is
seen), and the ids of revoked tokens that have not expired yet. Every
`refresh_seconds` one request re-reads what changed since the last read: the users whose
`access_changed_at` and the revoked tokens whose `revoked_at` are recent, each read
looking `OVERLAP` further back than the previous read began, so that a change whose
transaction committed late, or that was stamped by an instance whose clock is behind by
less than that, is still seen. The instance where a change was made applies it at once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import Token
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from exam_service.db import utcnow
from exam_service.models import RevokedToken, User

OVERLAP = timedelta(seconds=60)
"""How much further back than the previous read each read looks (see the docstring)."""
CAPACITY = 100_000
"""Users remembered per instance; past it the longest-known one is read again when next seen."""

DEACTIVATED = "the account is deactivated (an admin can reactivate it)"
ENDED = (
    "this sign-in has ended: the account's password or role changed, or an admin ended its sign-ins"
)
SIGNED_OUT = "this sign-in was ended by signing out"
UNKNOWN = "the token names an account that does not exist"


class Revocations:
    """Litestar's `revoked_token_handler` for the app's JWT check: refuses (401, with the
    reason) a token that no longer counts, on every request, cache hits included."""

    def __init__(self, engine: AsyncEngine, refresh_seconds: float) -> None:
        self.engine = engine
        self.refresh_seconds = refresh_seconds
        self.users: dict[int, tuple[int, bool]] = {}
        """User id -> (token version, active)."""
        self.revoked: dict[str, float] = {}
        """Token id -> when the token expires (Unix time)."""
        self.due = 0.0
        """`time.monotonic()` at which the next request re-reads the changes."""
        self.read_from: datetime | None = None
        """When the last read began (None before the first: it reads every revoked token)."""
        self.changed_here: dict[int, datetime] = {}
        """User id -> when a change made here was applied, since the last read began."""

    async def __call__(self, token: Token, _connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
        if time.monotonic() >= self.due:
            await self.refresh()
        try:
            user_id = int(token.sub)
        except ValueError:
            return True
        state = self.users.get(user_id)
        if state is None:
            state = await self._load(user_id)
        version, active = state
        if not active:
            raise NotAuthorizedException(UNKNOWN if version < 0 else DEACTIVATED)
        if token.extras.get("ver", 0) != version:
            raise NotAuthorizedException(ENDED)
        if token.jti in self.revoked:
            raise NotAuthorizedException(SIGNED_OUT)
        return False

    async def refresh(self) -> None:
        """Read the account changes and sign-outs made since the last read (on any instance).

        The next read is scheduled before this one is awaited, so requests that arrive
        meanwhile go on with the view they have instead of all reading at once; a read that
        fails schedules the next one at once (and the request that ran it fails, 503)."""
        self.due = time.monotonic() + self.refresh_seconds
        started = utcnow()
        since = None if self.read_from is None else self.read_from - OVERLAP
        changed: Sequence[Any] = ()
        try:
            async with self.engine.connect() as connection:
                if since is not None:
                    users = select(User.id, User.token_version, User.is_active)
                    changed = (
                        await connection.execute(users.where(User.access_changed_at >= since))
                    ).all()
                revoked = select(RevokedToken.jti, RevokedToken.expires_at).where(
                    RevokedToken.expires_at > started
                )
                if since is not None:
                    revoked = revoked.where(RevokedToken.revoked_at >= since)
                for jti, expires_at in await connection.execute(revoked):
                    self.revoked[jti] = expires_at.timestamp()
        except BaseException:
            self.due = 0.0
            raise
        if self.read_from is not None and started < self.read_from:
            return  # a later read finished first: what this one saw may be older
        for user_id, version, active in changed:
            if self.changed_here.get(user_id, started) <= started:
                self._remember(user_id, version, active)
            # else changed here after this read began: the state applied then is newer
        self.changed_here = {u: at for u, at in self.changed_here.items() if at > started}
        self.read_from = started
        now = time.time()
        if any(expires <= now for expires in self.revoked.values()):
            self.revoked = {jti: e for jti, e in self.revoked.items() if e > now}

    async def _load(self, user_id: int) -> tuple[int, bool]:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(User.token_version, User.is_active).where(User.id == user_id)
                )
            ).first()
        if row is None:
            return (-1, False)  # not remembered: an id the database may yet give out
        # a read that ran meanwhile may have stored a newer state: keep that one
        return self.users.get(user_id) or self._remember(user_id, row[0], row[1])

    def _remember(self, user_id: int, version: int, active: bool) -> tuple[int, bool]:
        if user_id not in self.users and len(self.users) >= CAPACITY:
            del self.users[next(iter(self.users))]
        state = self.users[user_id] = (version, bool(active))
        return state

    def account_changed(self, user: User) -> None:
        """Apply a change just committed here at once (other instances read it soon)."""
        self.changed_here[user.id] = utcnow()
        self._remember(user.id, user.token_version, user.is_active)

    def token_revoked(self, jti: str, expires_at: datetime) -> None:
        """Apply a sign-out just committed here at once."""
        self.revoked[jti] = expires_at.timestamp()
