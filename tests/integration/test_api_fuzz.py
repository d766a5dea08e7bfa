"""Schemathesis against the app's own OpenAPI document: every operation, as each role,
with a bounded number of generated requests: no 5xx, every status code and content type
is one the document lists for the operation (errors as `application/problem+json`, files
in their own types), every body matches its schema, and documented headers are sent.

The operations that end sign-ins (revoking a token, an admin's change to a user, a new
password) run last, each generated request with the people restored and fresh tokens, so
that what one request ended does not turn the rest of the run into 401s."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from sqlalchemy import update

from exam_service.app import create_app
from exam_service.auth.security import issue_token, jwt_auth
from exam_service.db import create_engine, session_factory, utcnow
from exam_service.migrate import upgrade
from exam_service.models import User
from exam_service.settings import Settings
from tests.conftest import FIXTURE_BANK
from tests.factories import Person, import_folder, make_cohort, make_people

ROLES = ("anonymous", "candidate", "instructor", "admin")
ENDS_SIGN_INS = {
    "DELETE /api/v1/auth/token",
    "PATCH /api/v1/users/{user_id}",
    "POST /api/v1/me/password",
}


async def restored(settings: Settings, people: dict[str, Person]) -> dict[str, Person]:
    """The people as they were made (role, active) with new tokens of their current version.
    The app re-reads account changes before every request (EXAM_ACCESS_REFRESH_SECONDS=0)."""
    engine = create_engine(settings.database_url)
    auth = jwt_auth(settings)
    fresh = {}
    try:
        async with session_factory(engine)() as session:
            for name, person in people.items():
                user = person.user
                version = await session.scalar(
                    update(User)
                    .where(User.id == user.id)
                    .values(role=user.role, is_active=True, access_changed_at=utcnow())
                    .returning(User.token_version)
                )
                token = issue_token(auth, user, 3600, version=version or 0)
                fresh[name] = Person(user, token)
            await session.commit()
    finally:
        await engine.dispose()
    return fresh


@pytest.fixture(scope="module")
def people_and_app(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, Person], Any, Settings]:
    folder = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite+aiosqlite:///{folder / 'fuzz.sqlite3'}"
    upgrade(url)
    settings = Settings(
        database_url=url, data_dir=folder, sweep_interval_seconds=0, access_refresh_seconds=0
    )

    async def setup() -> dict[str, Person]:
        await import_folder(url, FIXTURE_BANK)
        people = await make_people(
            settings, ("candidate", "candidate"), ("instructor", "instructor"), ("admin", "admin")
        )
        await make_cohort(settings, people["instructor"], [people["candidate"]])
        return people

    return asyncio.run(setup()), create_app(settings), settings


def test_api_holds_its_contract(
    people_and_app: tuple[dict[str, Person], Any, Settings],
) -> None:
    """Each generated request is sent once as each role; failures are collected so one
    run reports every broken operation."""
    made, app, app_settings = people_and_app
    people = dict(made)
    api = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    failures: list[str] = []
    operations = 0
    every = [result.ok() for result in api.get_all_operations()]
    # stable sort: the operations that end sign-ins last
    for operation in sorted(every, key=lambda o: o.label in ENDS_SIGN_INS):
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6,
            deadline=None,
            derandomize=True,  # the same requests every run, so CI cannot flake
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
            if case.operation.label in ENDS_SIGN_INS:
                people.update(asyncio.run(restored(app_settings, made)))
            for role in ROLES:
                headers = {} if role == "anonymous" else dict(people[role].headers)
                case.call_and_validate(
                    headers=headers,
                    checks=[
                        checks.not_a_server_error,
                        checks.status_code_conformance,
                        checks.content_type_conformance,
                        checks.response_schema_conformance,
                        checks.response_headers_conformance,
                    ],
                )

        try:
            exercise()
        except BaseException as exc:  # noqa: BLE001 - schemathesis raises exception groups
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    assert operations >= 30
    assert not failures, "\n\n".join(failures)
