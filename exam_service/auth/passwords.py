"""Argon2id password hashing (argon2-cffi defaults), off the event loop."""

from __future__ import annotations

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both failures cost the same time.
_DECOY = _hasher.hash("decoy password that nobody has")

MIN_LENGTH = 10


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"the password has {len(password)} characters; use at least {MIN_LENGTH}"
    if len(password) > 1024:
        return "the password is over 1024 characters; use a shorter one"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def hash_password_async(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DECOY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches `stored`; with `stored` None it spends the same time
    and returns False."""
    return await anyio.to_thread.run_sync(_verify, stored, password)
