"""Schemathesis against the app's own OpenAPI document: every operation, as each role,
with a bounded number of generated requests: no 5xx, every status code and content type
is one the document lists for the operation (errors as `application/problem+json`, files
in their own types), every body matches its schema, and documented headers are sent.

The operations that end sign-ins (revoking a token, an admin's change to a user, a new
password) run last, each generated request with the people restored and fresh tokens, so
that what one request ended does not turn the rest of the run into 401s.

The stateful run follows the document's OpenAPI links (`exam_service/openapi.py`, `LINKS`)
from each create to the reads and changes of what it made, as each role in turn, with the
stateful checks besides (a resource found right after its create, gone after its delete)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from schemathesis import checks
from sqlalchemy import update

from exam_service.app import create_app
from exam_service.auth.security import issue_token, jwt_auth
from exam_service.bank.format import BlueprintFile
from exam_service.db import create_engine, session_factory, utcnow
from exam_service.exams.blueprints import create_blueprint
from exam_service.grading.scoring import Scale
from exam_service.migrate import upgrade
from exam_service.models import User
from exam_service.openapi import LINKS
from exam_service.settings import Settings
from tests.conftest import FIXTURE_BANK
from tests.factories import Person, import_folder, make_cohort, make_people

ROLES = ("anonymous", "candidate", "instructor", "admin")
MANY_STARTS = BlueprintFile(
    id="fuzz-practice",
    name="Practice started as often as the stateful run likes",
    mode="practice",
    question_count=2,
    scale=Scale(min=0, max=100, pass_=50),
    max_open_attempts=1000,
    self_study=True,
)
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
) -> tuple[dict[str, Person], Any, Settings, int]:
    folder = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite+aiosqlite:///{folder / 'fuzz.sqlite3'}"
    upgrade(url)
    settings = Settings(
        database_url=url, data_dir=folder, sweep_interval_seconds=0, access_refresh_seconds=0
    )

    async def setup() -> tuple[dict[str, Person], int]:
        await import_folder(url, FIXTURE_BANK)
        people = await make_people(
            settings, ("candidate", "candidate"), ("instructor", "instructor"), ("admin", "admin")
        )
        cohort = await make_cohort(settings, people["instructor"], [people["candidate"]])
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                await create_blueprint(session, MANY_STARTS, owner_id=None)
                await session.commit()
        finally:
            await engine.dispose()
        return people, cohort

    people, cohort = asyncio.run(setup())
    return people, create_app(settings), settings, cohort


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


def test_api_holds_its_contract(
    people_and_app: tuple[dict[str, Person], Any, Settings, int],
) -> None:
    """Each generated request is sent once as each role; failures are collected so one
    run reports every broken operation."""
    made, app, app_settings, _ = people_and_app
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
                case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            exercise()
        except BaseException as exc:  # noqa: BLE001 - schemathesis raises exception groups
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    assert operations >= 30
    assert not failures, "\n\n".join(failures)


def usable_bodies(cohort_id: int) -> dict[str, dict[str, Any]]:
    """Per create operation, fields that make the request one the app accepts (a blueprint
    the fixture bank can fill, the cohort the instructor owns, a window open now), so that
    the stateful run gets past the create into what follows it."""
    now = datetime.now(UTC)
    return {
        "POST /api/v1/blueprints": {
            "mode": "practice",
            "question_count": 3,
            "scale": {"min": 0, "max": 100, "pass": 50},
            "time_limit_seconds": None,
            "unscored_count": 0,
            "objective_weights": None,
            "objective_counts": None,
            "difficulty_mix": None,
            "self_study": True,
            "max_open_attempts": 3,
            "scoring": "raw",
            "adaptive": None,
        },
        "POST /api/v1/attempts": {"blueprint_id": MANY_STARTS.id, "sitting_id": None},
        "POST /api/v1/paper-exams": {"blueprint_id": "starter-mock", "sitting_id": None},
        "POST /api/v1/sittings": {
            "blueprint_id": "starter-mock",
            "cohort_ids": [cohort_id],
            "opens_at": (now - timedelta(hours=1)).isoformat(),
            "closes_at": (now + timedelta(days=1)).isoformat(),
            "time_limit_seconds": None,
            "access_code": None,
        },
        "POST /api/v1/cohorts": {"owner_id": None},
        "POST /api/v1/cohorts/{cohort_id}/members": {"usernames": ["candidate"], "user_ids": []},
    }


def reachable(source: str) -> list[str]:
    """The operation `source` ("METHOD /path") and every one its links lead to, in turn."""
    found = [source]
    for label in found:
        method, path = label.split(" ", 1)
        for target_method, target_path, _ in LINKS.get((method, path), {}).values():
            target = f"{target_method} {target_path}"
            if target not in found:
                found.append(target)
    return found


def linked_calls(
    schema: Any, headers: dict[str, str], calls: dict[str, int], failures: dict[str, str]
) -> Any:
    """A state machine over `schema` that sends `headers`, counts the answers and collects
    what the checks find rather than raising it: a failing sequence replayed against the
    database it already changed would draw differently, which Hypothesis reports as
    inconsistent data instead of the failure."""

    class Calls(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": dict(headers)}

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            key = f"{case.operation.label} {response.status_code}"
            calls[key] = calls.get(key, 0) + 1

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            try:
                case.validate_response(
                    response,
                    checks=[*CHECKS, checks.use_after_free, checks.ensure_resource_availability],
                    headers=dict(headers),
                    transport_kwargs=kwargs or None,
                    recorder=self.recorder,
                )
            except BaseException as exc:  # noqa: BLE001 - schemathesis raises exception groups
                found = f"{case.operation.label} {response.status_code}: {str(exc)[:1500]}"
                failures.setdefault(found.split("\n", 1)[0], found)

    return Calls


def test_api_holds_its_contract_across_calls(
    people_and_app: tuple[dict[str, Person], Any, Settings, int],
) -> None:
    """Schemathesis's stateful run: as each role, from each operation with links, sequences
    of calls that follow the links with what the answers hold (a new id, a position), over
    that operation and those it leads to. Half the generated create bodies get the fields
    of `usable_bodies`, the other half stay as generated."""
    made, app, app_settings, cohort_id = people_and_app
    # the run of every operation may have ended the sign-ins it made
    people = asyncio.run(restored(app_settings, made))
    api = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    # Only the document's own links, each source a state machine of its own: schemathesis
    # starts sequences only at operations whose inputs its name matching finds a producer
    # for (not POST /api/v1/attempts: `sitting_id` names no "Sitting"), and would infer links
    # between list and item reads that spend the budget away from what the creates made.
    api.config.phases.stateful.inference.algorithms = []
    usable = usable_bodies(cohort_id)

    @api.hook
    def flatmap_body(context: Any, body: Any) -> Any:
        fields = usable.get(context.operation.label)
        if fields is None or not isinstance(body, dict):
            return st.just(body)
        return st.sampled_from([body, {**body, **fields}])

    failures: dict[str, str] = {}
    calls: dict[str, int] = {}
    flaky = 0
    started = time.monotonic()
    for role in ROLES:
        headers = {} if role == "anonymous" else dict(people[role].headers)
        for method, path in LINKS:
            schema = api.include(name=reachable(f"{method} {path}"))
            machine = linked_calls(schema, headers, calls, failures)
            # The database changes under the run, so a sequence drawn again may take another
            # turn (a second start of the same blueprint answers 409), which Hypothesis
            # calls flaky; schemathesis's own runner starts the suite again, as here.
            for _ in range(3):
                try:
                    machine.run(
                        settings=settings(
                            max_examples=8 if role == "anonymous" else 20,
                            stateful_step_count=6,
                            deadline=None,
                            derandomize=True,
                            phases=[Phase.generate],
                            suppress_health_check=list(HealthCheck),
                        )
                    )
                    break
                except Flaky:
                    flaky += 1
    print(
        f"stateful run: {time.monotonic() - started:.1f} s, {sum(calls.values())} calls,"
        f" {flaky} suites started again"
    )
    for key in sorted(calls):
        print(f"  {calls[key]:4} {key}")
    assert not failures, "\n\n".join(failures.values())
    # the links were followed: things were made, then read and changed through them
    answered = {key for key in calls if key.endswith((" 200", " 201", " 204"))}
    for expected in (
        "POST /api/v1/attempts 201",
        "GET /api/v1/attempts/{attempt_id} 200",
        "PUT /api/v1/attempts/{attempt_id}/responses/{position} 200",
        "POST /api/v1/sittings 201",
        "GET /api/v1/sittings/{sitting_id} 200",
        "POST /api/v1/cohorts 201",
        "GET /api/v1/cohorts/{cohort_id} 200",
        "POST /api/v1/users 201",
        "POST /api/v1/paper-exams 201",
        "GET /api/v1/paper-exams/{exam_id} 200",
    ):
        assert expected in answered, f"no {expected} in the stateful run: {sorted(answered)}"
