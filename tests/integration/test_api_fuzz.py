"""Schemathesis against the app's own OpenAPI document: every operation, as each role,
with a bounded number of generated requests: no 5xx, every status code and content type
is one the document lists for the operation (errors as `application/problem+json`, files
in their own types), every body matches its schema, and documented headers are sent."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from exam_service.app import create_app
from exam_service.migrate import upgrade
from exam_service.settings import Settings
from tests.conftest import FIXTURE_BANK
from tests.factories import Person, import_folder, make_cohort, make_people

ROLES = ("anonymous", "candidate", "instructor", "admin")


@pytest.fixture(scope="module")
def people_and_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Person], Any]:
    folder = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite+aiosqlite:///{folder / 'fuzz.sqlite3'}"
    upgrade(url)
    settings = Settings(database_url=url, data_dir=folder, sweep_interval_seconds=0)

    async def setup() -> dict[str, Person]:
        await import_folder(url, FIXTURE_BANK)
        people = await make_people(
            settings, ("candidate", "candidate"), ("instructor", "instructor"), ("admin", "admin")
        )
        await make_cohort(settings, people["instructor"], [people["candidate"]])
        return people

    return asyncio.run(setup()), create_app(settings)


def test_api_holds_its_contract(people_and_app: tuple[dict[str, Person], Any]) -> None:
    """Each generated request is sent once as each role; failures are collected so one
    run reports every broken operation."""
    people, app = people_and_app
    api = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6,
            deadline=None,
            derandomize=True,  # the same requests every run, so CI cannot flake
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
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
