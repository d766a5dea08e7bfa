"""Small helpers that tests use to build what they need."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from exam_service.auth.passwords import hash_password
from exam_service.auth.schemas import CurrentUser
from exam_service.auth.security import issue_token, jwt_auth
from exam_service.auth.service import create_user
from exam_service.bank.loader import Bank, load_bank
from exam_service.bank.service import ImportCounts
from exam_service.cli import import_bank_folder
from exam_service.db import create_engine, session_factory
from exam_service.models import Cohort, CohortMember
from exam_service.settings import Settings

PASSWORD = "correct horse battery staple"


@cache
def password_hash() -> str:
    """One Argon2 hash of PASSWORD for the whole run: hashing costs about 0.1 s."""
    return hash_password(PASSWORD)


def checked_bank(path: Path) -> Bank:
    bank = load_bank(path)
    assert bank.problems == [], "\n".join(map(str, bank.problems))
    return bank


async def import_folder(db_url: str, path: Path) -> ImportCounts:
    return await import_bank_folder(db_url, checked_bank(path))


def write_questions(bank: Path, name: str, body: str) -> Path:
    path = bank / "questions" / name
    path.write_text(body, encoding="utf-8")
    return path


@dataclass
class Person:
    user: CurrentUser
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_people(settings: Settings, *specs: tuple[str, str]) -> dict[str, Person]:
    """Users (username, role) with PASSWORD, each with a real token from the app's JWT setup."""
    engine = create_engine(settings.database_url)
    auth = jwt_auth(settings)
    people: dict[str, Person] = {}
    try:
        async with session_factory(engine)() as session:
            for username, role in specs:
                user = await create_user(
                    session, username, PASSWORD, role, password_hash=password_hash()
                )
                me = CurrentUser(user.id, user.username, user.role, user.display_name)
                people[username] = Person(me, issue_token(auth, me, settings.token_ttl_seconds))
    finally:
        await engine.dispose()
    return people


async def make_cohort(settings: Settings, owner: Person, members: list[Person]) -> int:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            cohort = Cohort(name=f"{owner.user.username}'s cohort", owner_id=owner.user.id)
            cohort.members.extend(CohortMember(user_id=m.user.id) for m in members)
            session.add(cohort)
            await session.commit()
            return cohort.id
    finally:
        await engine.dispose()
