"""The OpenAPI document at /schema/openapi.json, as a client generator reads it: errors as
RFC 9457 problem details where each operation can answer them, the downloads' real media
types, no bearer requirement on the public routes, and closed schemas where the app
refuses unknown fields. (test_api_fuzz.py checks live responses against the document.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient, TestClient

from exam_service import openapi
from exam_service.app import create_app
from exam_service.settings import Settings
from tests.factories import PASSWORD, Person, import_folder

Client = AsyncTestClient  # type: ignore[type-arg]
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
PUBLIC = {("get", "/health"), ("get", "/ready"), ("post", "/api/v1/auth/token")}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The document as served; making it reads no database."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('openapi') / 'unused.sqlite3'}"
    app = create_app(Settings(database_url=url, sweep_interval_seconds=0))
    with TestClient(app) as client:
        response = client.get("/schema/openapi.json")
        assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield method, path, operation


def errors_of(operation: dict[str, Any]) -> set[int]:
    return {int(status) for status in operation["responses"] if int(status) >= 400}


def test_every_error_is_documented_as_problem_details(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["ProblemDetails"]
    assert problem["properties"]["status"] == {
        "description": "The HTTP status code",
        "type": "integer",
    }
    assert {"type", "title", "status", "detail", "instance"} <= set(problem["required"])
    assert problem["properties"]["attempt_status"]["enum"] == ["expired", "submitted"]
    listed = 0
    for method, path, operation in operations(document):
        for status in errors_of(operation):
            response = operation["responses"][str(status)]
            assert response["content"] == PROBLEM, f"{method} {path}: {status}"
            assert response["description"]
            listed += 1
    assert listed > 150


# What each operation can answer besides success, by the rules of exam_service/openapi.py:
# 401 signed-in routes (and a wrong password on sign-in), 403 role guards, 404 ids in the
# path (or named in a query or body), 400/413/422 bodies, 409 state, 429 sign-in, 503 DB
# (every signed-in request: the sign-in check reads the accounts changed lately).
EXPECTED_ERRORS = {
    ("get", "/health"): set(),
    ("get", "/ready"): {503},
    # 403: the password is right but the account is deactivated
    ("post", "/api/v1/auth/token"): {400, 401, 403, 413, 422, 429, 503},
    ("delete", "/api/v1/auth/token"): {401, 503},
    ("get", "/api/v1/me"): {401, 503},
    # 403: the current password is wrong; 429: too many wrong ones
    ("post", "/api/v1/me/password"): {400, 401, 403, 413, 422, 429, 503},
    ("post", "/api/v1/users"): {400, 401, 403, 409, 413, 422, 503},
    ("get", "/api/v1/users"): {400, 401, 403, 503},
    # 409: it would leave no active admin
    ("patch", "/api/v1/users/{user_id}"): {400, 401, 403, 404, 409, 413, 422, 503},
    ("get", "/api/v1/objectives"): {401, 503},
    ("get", "/api/v1/questions"): {400, 401, 403, 404, 503},
    ("get", "/api/v1/blueprints"): {401, 503},
    ("get", "/api/v1/blueprints/{blueprint_id}"): {400, 401, 404, 503},
    ("post", "/api/v1/attempts"): {400, 401, 403, 404, 409, 413, 422, 503},
    ("get", "/api/v1/sittings"): {401, 503},
    ("post", "/api/v1/sittings"): {400, 401, 403, 404, 413, 422, 503},
    ("patch", "/api/v1/sittings/{sitting_id}"): {400, 401, 403, 404, 409, 413, 422, 503},
    ("delete", "/api/v1/sittings/{sitting_id}"): {400, 401, 403, 404, 409, 503},
    (
        "put",
        "/api/v1/sittings/{sitting_id}/accommodations/{username}",
    ): {400, 401, 403, 404, 409, 413, 422, 503},
    (
        "put",
        "/api/v1/attempts/{attempt_id}/responses/{position}",
    ): {400, 401, 404, 409, 413, 422, 503},
    ("post", "/api/v1/attempts/{attempt_id}/submit"): {400, 401, 404, 503},
    # 409: closed, not adaptive practice, or no question left on its objectives
    ("post", "/api/v1/attempts/{attempt_id}/next"): {400, 401, 404, 409, 503},
    ("post", "/api/v1/bank/imports"): {400, 401, 403, 409, 413, 422, 503},
    ("post", "/api/v1/paper-exams/{exam_id}/scans"): {400, 401, 403, 404, 413, 422, 503},
    # 404: a candidate not yours or a blueprint that does not exist; 409: it draws nothing
    ("get", "/api/v1/reports/candidates/{user_id}/readiness"): {400, 401, 404, 409, 503},
}


@pytest.mark.parametrize(("method", "path"), list(EXPECTED_ERRORS))
def test_each_operation_lists_the_errors_it_can_answer(
    document: dict[str, Any], method: str, path: str
) -> None:
    assert errors_of(document["paths"][path][method]) == EXPECTED_ERRORS[method, path]


def test_error_rules_hold_across_the_document(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        errors = errors_of(operation)
        where = f"{method} {path}"
        signs_in = (method, path) == ("post", "/api/v1/auth/token")
        checks_password = signs_in or (method, path) == ("post", "/api/v1/me/password")
        assert (401 in errors) == ((method, path) not in PUBLIC or signs_in), where
        assert (429 in errors) == checks_password, where
        if "{" in path:
            assert 404 in errors, where
        if "requestBody" in operation:
            assert errors >= {400, 413, 422}, where
        if method == "get":
            assert 413 not in errors, where
    assert errors_of(document["paths"]["/api/v1/cohorts"]["get"]) >= {403}  # staff only
    assert 403 not in errors_of(document["paths"]["/api/v1/attempts"]["get"])  # anyone
    headers = document["paths"]["/api/v1/auth/token"]["post"]["responses"]["429"]["headers"]
    assert "Retry-After" in headers


def test_public_routes_need_no_token(document: dict[str, Any]) -> None:
    assert document["security"] == [{"BearerToken": []}]
    assert document["components"]["securitySchemes"]["BearerToken"]["scheme"] == "Bearer"
    for method, path, operation in operations(document):
        if (method, path) in PUBLIC:
            assert operation["security"] == [], f"{method} {path}"
        else:
            assert "security" not in operation, f"{method} {path}"  # the document's: bearer


def test_downloads_have_their_real_media_types(document: dict[str, Any]) -> None:
    def success(method: str, path: str) -> dict[str, Any]:
        responses = document["paths"][path][method]["responses"]
        content: dict[str, Any] = next(r for s, r in responses.items() if s < "300")["content"]
        return content

    export = success("get", "/api/v1/bank/export")
    assert set(export) == {"application/yaml", "text/plain", "application/xml", "application/zip"}
    assert export["application/yaml"]["schema"] == {"$ref": "#/components/schemas/QuestionsFile"}
    assert export["application/zip"]["schema"] == {"type": "string", "format": "binary"}
    cohort = success("get", "/api/v1/reports/cohorts/{cohort_id}")
    assert set(cohort) == {"application/json", "text/csv", "application/pdf"}
    assert cohort["application/json"]["schema"] == {"$ref": "#/components/schemas/CohortReport"}
    assert set(success("get", "/api/v1/reports/items")) == {"application/json", "text/csv"}
    assert set(success("get", "/api/v1/paper-exams/{exam_id}/key.pdf")) == {
        "application/pdf",
        "text/csv",
    }
    for pdf in (
        "/api/v1/attempts/{attempt_id}/report.pdf",
        "/api/v1/paper-exams/{exam_id}/booklet.pdf",
    ):
        assert set(success("get", pdf)) == {"application/pdf"}


def test_closed_schemas_are_those_that_refuse_unknown_fields(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    closed = {
        name for name, schema in schemas.items() if schema.get("additionalProperties") is False
    }
    # request bodies (blueprints) and the bank's files (the YAML export) whose Structs
    # have forbid_unknown_fields=True; TokenRequest, UserCreate, ... ignore unknown fields
    assert {"BlueprintFile", "Scale", "QuestionsFile", "QuestionFile", "OptionFile"} <= closed
    assert {"SittingCreate", "SittingChange", "AccommodationWrite"} <= closed
    assert {"UserChange", "PasswordChange"} <= closed
    assert not closed & {"TokenRequest", "UserCreate", "AttemptCreate", "ResponseSave"}
    body = document["paths"]["/api/v1/blueprints"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"] == {"$ref": "#/components/schemas/BlueprintFile"}


def test_the_tables_name_real_operations(document: dict[str, Any]) -> None:
    listed = {(method.upper(), path) for method, path, _ in operations(document)}
    assert set(openapi.RAISED_BY_SERVICES) <= listed
    assert set(openapi.DOWNLOADS) <= listed


async def test_the_document_matches_what_the_app_refuses(
    client: Client, people: dict[str, Person]
) -> None:
    """A closed schema (BlueprintFile) is refused with an unknown field; an open one
    (TokenRequest) is not."""
    document = (await client.get("/schema/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert schemas["BlueprintFile"]["additionalProperties"] is False
    assert "additionalProperties" not in schemas["TokenRequest"]
    blueprint = {
        "id": "closed",
        "name": "Closed",
        "mode": "practice",
        "question_count": 1,
        "scale": {"min": 0, "max": 100, "pass": 50},
        "colour": "blue",
    }
    refused = await client.post(
        "/api/v1/blueprints", json=blueprint, headers=people["admin"].headers
    )
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert "colour" in refused.text
    client.cookies.clear()  # cookie-less, as API clients are: no CSRF token needed
    token = await client.post(
        "/api/v1/auth/token",
        json={"username": "candidate", "password": PASSWORD, "colour": "blue"},
    )
    assert token.status_code == 200


async def test_exports_answer_in_a_documented_type(
    client: Client, people: dict[str, Person], db_url: str, bank_dir: Path
) -> None:
    await import_folder(db_url, bank_dir)
    document = (await client.get("/schema/openapi.json")).json()
    documented = set(document["paths"]["/api/v1/bank/export"]["get"]["responses"]["200"]["content"])
    for format in ("yaml", "gift", "moodle-xml", "qti"):
        response = await client.get(
            "/api/v1/bank/export", params={"format": format}, headers=people["instructor"].headers
        )
        assert response.status_code == 200
        assert response.headers["content-type"].split(";")[0] in documented, format
