"""The OpenAPI document at /schema/openapi.json and the Swagger UI page at /schema.

Litestar generates the document from the handlers; `complete` adds what it cannot see:

- the errors each operation can answer, as RFC 9457 problem details
  (`application/problem+json`, the `ProblemDetails` component). Most follow from the
  handler: 401 where a sign-in is needed, 403 where a role guard admits only some roles,
  404 where the path names an object, 400, 413 and 422 where a body is read, 400 where
  Litestar validates parameters, 503 where the database (SQLite's write lock can time
  out) or the pool for heavy jobs is used, which includes every signed-in request (the
  sign-in check reads the accounts changed lately every few seconds). What services
  decide on their own (a 409 for a closed attempt, a 404 for an id in a query or body)
  is in `RAISED_BY_SERVICES`;
- the media types of the file downloads (`DOWNLOADS`), the YAML export described by the
  bank's own questions-file schema;
- no bearer requirement on the public operations (health, readiness, sign-in);
- `additionalProperties: false` on the schemas of request bodies and bank files whose
  msgspec Struct refuses unknown fields (`forbid_unknown_fields=True`), and of the Structs
  nested in them that do.
- OpenAPI `links` from the operations that create something to the reads and changes that
  take the new id (`LINKS`): they tell a reader where the id goes next, and schemathesis's
  stateful tests follow them.

The document is completed once per app, the first time it is served. The Swagger page
loads its bundle and its start-up script as files, so that its Content-Security-Policy
(`headers.py`) needs no inline script.
"""

from __future__ import annotations

import copy
import html
from collections.abc import Iterator
from typing import Any

import msgspec
from litestar import Litestar, Request
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, SwaggerRenderPlugin
from litestar.routes import HTTPRoute

from exam_service.auth.security import SIGNED_IN
from exam_service.bank.format import QuestionsFile
from exam_service.errors import PROBLEM_JSON, ProblemDetails
from exam_service.http import PDF

JSON = "application/json"
CSV = "text/csv"
YAML = "application/yaml"
ZIP = "application/zip"
REFS = "#/components/schemas/{name}"

ERRORS: dict[int, str] = {
    400: "Malformed: a parameter or the body does not parse or has the wrong type "
    "(`errors` lists each), or the body did not arrive whole",
    401: "No valid credentials: sign in with POST /api/v1/auth/token and send "
    "'Authorization: Bearer <access_token>' (on sign-in itself: a wrong username or password)",
    403: "Signed in, but not allowed: the role does not permit it, or the object does not "
    "(a blueprint loaded from the bank's files, a timed exam's answer to check, a blueprint "
    "taken only in sittings, a sitting's access code); or a deactivated account signing in, "
    "or a wrong current password",
    404: "No such object, or one the caller may not see",
    409: "The object's state forbids this (for example, the attempt is closed, or the change "
    "would leave no active admin)",
    413: "The body is larger than the limit (EXAM_MAX_BODY_BYTES)",
    422: "Well formed, but the content is wrong; `detail` says what to change",
    429: "Too many failed sign-ins (or wrong current passwords) for this username from this "
    "client; wait Retry-After seconds",
    503: "The database is busy or not ready, or this instance's workers for heavy jobs are "
    "all taken: send again after Retry-After seconds",
}
RETRY_AFTER = {"description": "Seconds to wait before sending again", "schema": {"type": "integer"}}
ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string", "const": "Bearer"}}},
    429: {"Retry-After": RETRY_AFTER},
    503: {"Retry-After": RETRY_AFTER},
}

RAISED_BY_SERVICES: dict[tuple[str, str], frozenset[int]] = {
    ("GET", "/ready"): frozenset({503}),
    ("POST", "/api/v1/auth/token"): frozenset({401, 403, 429}),  # 403: a deactivated account
    ("POST", "/api/v1/me/password"): frozenset({403, 429}),  # the current password is wrong
    ("POST", "/api/v1/users"): frozenset({409}),
    ("PATCH", "/api/v1/users/{user_id}"): frozenset({409}),  # it would leave no active admin
    ("GET", "/api/v1/questions"): frozenset({404}),
    ("POST", "/api/v1/bank/imports"): frozenset({409}),  # would replace questions, no overwrite
    ("POST", "/api/v1/blueprints"): frozenset({409}),
    ("PUT", "/api/v1/blueprints/{blueprint_id}"): frozenset({409}),  # a sitting under way
    # 403: not self-study, or the sitting's access code; 404: a blueprint or sitting not yours
    ("POST", "/api/v1/attempts"): frozenset({403, 404, 409}),
    ("POST", "/api/v1/sittings"): frozenset({404}),  # the blueprint or cohorts in the body
    ("PATCH", "/api/v1/sittings/{sitting_id}"): frozenset({409}),  # fixed once started
    ("DELETE", "/api/v1/sittings/{sitting_id}"): frozenset({409}),  # has attempts
    # two changes of one candidate's accommodation at once, both inserting
    ("PUT", "/api/v1/sittings/{sitting_id}/accommodations/{username}"): frozenset({409}),
    ("PUT", "/api/v1/attempts/{attempt_id}/responses/{position}"): frozenset({409}),
    ("POST", "/api/v1/attempts/{attempt_id}/responses/{position}/check"): frozenset({403, 409}),
    # closed, not adaptive, or a blueprint whose objectives have no question left
    ("POST", "/api/v1/attempts/{attempt_id}/next"): frozenset({409}),
    ("GET", "/api/v1/attempts/{attempt_id}/result"): frozenset({409}),
    ("GET", "/api/v1/attempts/{attempt_id}/report.pdf"): frozenset({409}),
    # ?sitting_id= not yours (404), or neither it nor blueprint_id, or another blueprint (422)
    ("GET", "/api/v1/reports/cohorts/{cohort_id}"): frozenset({422}),
    ("GET", "/api/v1/reports/items"): frozenset({404, 422}),
    # a blueprint that draws no scored question from the active bank
    ("GET", "/api/v1/reports/candidates/{user_id}/readiness"): frozenset({409}),
    ("POST", "/api/v1/paper-exams"): frozenset({404, 422}),
    ("GET", "/api/v1/paper-exams/{exam_id}/booklet.pdf"): frozenset({422}),
    ("GET", "/api/v1/paper-exams/{exam_id}/key.pdf"): frozenset({422}),
    ("GET", "/api/v1/paper-exams/{exam_id}/answer-sheets.pdf"): frozenset({422}),
}
"""Errors that services raise beyond what the handler's shape tells (see the module
docstring), per operation."""

DOWNLOADS: dict[tuple[str, str], tuple[str, ...]] = {
    # `export_bank` in bank/interchange.py: yaml, gift, moodle-xml, qti
    ("GET", "/api/v1/bank/export"): (YAML, "text/plain", "application/xml", ZIP),
    ("GET", "/api/v1/reports/cohorts/{cohort_id}"): (JSON, CSV, PDF),
    ("GET", "/api/v1/reports/items"): (JSON, CSV),
    ("GET", "/api/v1/reports/candidates/{user_id}"): (JSON, CSV, PDF),
    ("GET", "/api/v1/reports/sittings/{sitting_id}"): (JSON, CSV, PDF),
    ("GET", "/api/v1/sittings/{sitting_id}/score-reports.zip"): (ZIP,),
    ("GET", "/api/v1/attempts/{attempt_id}/report.pdf"): (PDF,),
    ("GET", "/api/v1/paper-exams/{exam_id}/booklet.pdf"): (PDF,),
    ("GET", "/api/v1/paper-exams/{exam_id}/key.pdf"): (PDF, CSV),
    ("GET", "/api/v1/paper-exams/{exam_id}/answer-sheets.pdf"): (PDF,),
}
"""The media types an operation's success can come in (JSON keeps Litestar's schema);
the choice is the `format` query parameter where there is one."""

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

NEW_ID = "$response.body#/id"
ATTEMPT = "/api/v1/attempts/{attempt_id}"
PAPER_EXAM = "/api/v1/paper-exams/{exam_id}"
SITTING = "/api/v1/sittings/{sitting_id}"
LINKS: dict[tuple[str, str], dict[str, tuple[str, str, dict[str, Any]]]] = {
    ("POST", "/api/v1/users"): {
        "ChangeUser": ("PATCH", "/api/v1/users/{user_id}", {"path.user_id": NEW_ID}),
        "CandidateReport": (
            "GET",
            "/api/v1/reports/candidates/{user_id}",
            {"path.user_id": NEW_ID},
        ),
        "Readiness": (
            "GET",
            "/api/v1/reports/candidates/{user_id}/readiness",
            {"path.user_id": NEW_ID},
        ),
        "Attempts": ("GET", "/api/v1/attempts", {"query.user_id": NEW_ID}),
    },
    ("POST", "/api/v1/cohorts"): {
        "GetCohort": ("GET", "/api/v1/cohorts/{cohort_id}", {"path.cohort_id": NEW_ID}),
        "AddMembers": ("POST", "/api/v1/cohorts/{cohort_id}/members", {"path.cohort_id": NEW_ID}),
        "CohortReport": ("GET", "/api/v1/reports/cohorts/{cohort_id}", {"path.cohort_id": NEW_ID}),
        "ItemReport": ("GET", "/api/v1/reports/items", {"query.cohort_id": NEW_ID}),
        "CreateSitting": ("POST", "/api/v1/sittings", {"body": {"cohort_ids": [NEW_ID]}}),
    },
    ("POST", "/api/v1/blueprints"): {
        "GetBlueprint": ("GET", "/api/v1/blueprints/{blueprint_id}", {"path.blueprint_id": NEW_ID}),
        "UpdateBlueprint": (
            "PUT",
            "/api/v1/blueprints/{blueprint_id}",
            {"path.blueprint_id": NEW_ID},
        ),
        "StartAttempt": ("POST", "/api/v1/attempts", {"body": {"blueprint_id": NEW_ID}}),
        "CreatePaperExam": ("POST", "/api/v1/paper-exams", {"body": {"blueprint_id": NEW_ID}}),
        "CreateSitting": ("POST", "/api/v1/sittings", {"body": {"blueprint_id": NEW_ID}}),
        "ItemReport": ("GET", "/api/v1/reports/items", {"query.blueprint_id": NEW_ID}),
        "Attempts": ("GET", "/api/v1/attempts", {"query.blueprint_id": NEW_ID}),
    },
    ("POST", "/api/v1/attempts"): {
        "GetAttempt": ("GET", ATTEMPT, {"path.attempt_id": NEW_ID}),
        "SaveResponse": (
            "PUT",
            ATTEMPT + "/responses/{position}",
            {"path.attempt_id": NEW_ID, "path.position": "$response.body#/items/0/position"},
        ),
        "CheckResponse": (
            "POST",
            ATTEMPT + "/responses/{position}/check",
            {"path.attempt_id": NEW_ID, "path.position": "$response.body#/items/0/position"},
        ),
        "NextItem": ("POST", ATTEMPT + "/next", {"path.attempt_id": NEW_ID}),
        "Submit": ("POST", ATTEMPT + "/submit", {"path.attempt_id": NEW_ID}),
        "Result": ("GET", ATTEMPT + "/result", {"path.attempt_id": NEW_ID}),
        "ScoreReport": ("GET", ATTEMPT + "/report.pdf", {"path.attempt_id": NEW_ID}),
    },
    ("POST", "/api/v1/paper-exams"): {
        "GetPaperExam": ("GET", PAPER_EXAM, {"path.exam_id": NEW_ID}),
        "Booklet": ("GET", PAPER_EXAM + "/booklet.pdf", {"path.exam_id": NEW_ID}),
        "Key": ("GET", PAPER_EXAM + "/key.pdf", {"path.exam_id": NEW_ID}),
        "AnswerSheets": ("GET", PAPER_EXAM + "/answer-sheets.pdf", {"path.exam_id": NEW_ID}),
        "PaperResponses": ("POST", PAPER_EXAM + "/responses", {"path.exam_id": NEW_ID}),
        "Scans": ("POST", PAPER_EXAM + "/scans", {"path.exam_id": NEW_ID}),
    },
    ("POST", "/api/v1/sittings"): {
        "GetSitting": ("GET", SITTING, {"path.sitting_id": NEW_ID}),
        "ChangeSitting": ("PATCH", SITTING, {"path.sitting_id": NEW_ID}),
        "DeleteSitting": ("DELETE", SITTING, {"path.sitting_id": NEW_ID}),
        "Progress": ("GET", SITTING + "/progress", {"path.sitting_id": NEW_ID}),
        "Accommodate": ("PUT", SITTING + "/accommodations/{username}", {"path.sitting_id": NEW_ID}),
        "RemoveAccommodation": (
            "DELETE",
            SITTING + "/accommodations/{username}",
            {"path.sitting_id": NEW_ID},
        ),
        "SittingReport": (
            "GET",
            "/api/v1/reports/sittings/{sitting_id}",
            {"path.sitting_id": NEW_ID},
        ),
        "ScoreReports": ("GET", SITTING + "/score-reports.zip", {"path.sitting_id": NEW_ID}),
        "StartAttempt": ("POST", "/api/v1/attempts", {"body": {"sitting_id": NEW_ID}}),
        "CreatePaperExam": ("POST", "/api/v1/paper-exams", {"body": {"sitting_id": NEW_ID}}),
        "Attempts": ("GET", "/api/v1/attempts", {"query.sitting_id": NEW_ID}),
    },
}
"""OpenAPI links of each operation's success: name -> (method, path, what the target gets:
`location.name` -> a runtime expression, or `body` -> fields of the request body)."""


def operations(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    """(method, path, handler) of every operation the document lists."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, (handler, _) in route.route_handler_map.items():
            if handler.resolve_include_in_schema():
                yield method, route.path_format, handler


def is_public(handler: HTTPRouteHandler) -> bool:
    return bool(handler.opt.get("exclude_from_auth"))


def error_statuses(method: str, path: str, handler: HTTPRouteHandler) -> set[int]:
    """The error statuses an operation can answer with (the rules of the module docstring)."""
    parameters = handler.parsed_fn_signature.parameters
    # a handler reads a body when it decodes `data`, or takes the raw request on an
    # unsafe method (uploads: bank imports, paper answers, scans)
    reads_body = "data" in parameters or ("request" in parameters and method in BODY_METHODS)
    statuses: set[int] = set(RAISED_BY_SERVICES.get((method, path), ()))
    if not is_public(handler):
        statuses.add(401)
    if any(guard is not SIGNED_IN for guard in handler.resolve_guards()):
        statuses.add(403)
    if "{" in path:
        statuses.add(404)
    if reads_body:
        statuses |= {400, 413, 422}
    if not is_public(handler) or parameters.keys() & {"db", "writer", "heavy"}:
        statuses.add(503)
    return statuses


def problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": ERRORS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": REFS.format(name="ProblemDetails")}}},
    }
    if status in ERROR_HEADERS:
        response["headers"] = ERROR_HEADERS[status]
    return response


def file_content(media_type: str) -> dict[str, Any]:
    if media_type == YAML:
        return {"schema": {"$ref": REFS.format(name=QuestionsFile.__name__)}}
    if media_type.startswith("text/") or media_type.endswith("/xml"):
        return {"schema": {"type": "string"}}
    return {"schema": {"type": "string", "format": "binary"}}


def complete(document: dict[str, Any], app: Litestar) -> dict[str, Any]:
    """A copy of Litestar's `document` for `app` with what the module docstring lists."""
    document = copy.deepcopy(document)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    _, ours = msgspec.json.schema_components([ProblemDetails, QuestionsFile], ref_template=REFS)
    if ours.keys() & schemas.keys():
        raise ValueError(f"components named twice: {sorted(ours.keys() & schemas.keys())}")
    schemas.update(ours)
    bank_file = msgspec.inspect.type_info(QuestionsFile)
    assert isinstance(bank_file, msgspec.inspect.StructType)
    _close_refusing(schemas, QuestionsFile.__name__, bank_file, set())
    for method, path, handler in operations(app):
        operation = document["paths"][path][method.lower()]
        responses = operation["responses"]
        # Litestar's own 400 describes its exception, not the problem details sent
        statuses = error_statuses(method, path, handler) | ({400} & {int(s) for s in responses})
        for status in sorted(statuses):
            responses[str(status)] = problem_response(status)
        if (method, path) in DOWNLOADS:
            success = responses[str(handler.status_code)]
            generated = success.get("content", {})
            success["content"] = {
                media: generated[JSON] if media == JSON else file_content(media)
                for media in DOWNLOADS[method, path]
            }
        if (method, path) in LINKS:
            responses[str(handler.status_code)]["links"] = links(document, LINKS[method, path])
        if is_public(handler):
            operation["security"] = []
        data = handler.parsed_fn_signature.parameters.get("data")
        if data is not None and "requestBody" in operation:
            body = operation["requestBody"]["content"][JSON]["schema"]
            info = msgspec.inspect.type_info(data.annotation)
            if "$ref" in body and isinstance(info, msgspec.inspect.StructType):
                _close_refusing(schemas, _name(body["$ref"]), info, set())
    return document


def links(
    document: dict[str, Any], targets: dict[str, tuple[str, str, dict[str, Any]]]
) -> dict[str, Any]:
    """The OpenAPI Link objects of one response, naming each target by its operationId."""
    made = {}
    for name, (method, path, values) in targets.items():
        target = document["paths"].get(path, {}).get(method.lower())
        if target is None:
            raise ValueError(f"link {name} names {method} {path}, which the document lacks")
        link: dict[str, Any] = {"operationId": target["operationId"]}
        parameters = {key: value for key, value in values.items() if key != "body"}
        if parameters:
            link["parameters"] = parameters
        if "body" in values:
            link["requestBody"] = values["body"]
        made[name] = link
    return made


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _close_refusing(
    schemas: dict[str, Any], name: str, struct: msgspec.inspect.StructType, seen: set[str]
) -> None:
    """Mark component `name` (Litestar's schema of `struct`) closed if the Struct refuses
    unknown fields, then the components of its fields, paired by the Struct's name (the
    component's title) since Litestar may have qualified the component's name."""
    if name in seen:
        return
    seen.add(name)
    schema = schemas[name]
    if struct.forbid_unknown_fields:
        schema["additionalProperties"] = False
    for field in struct.fields:
        nested = {s.cls.__name__: s for s in _structs_in(field.type)}
        for ref in _refs_in(schema.get("properties", {}).get(field.encode_name, {})):
            inner = nested.get(schemas[_name(ref)].get("title", ""))
            if inner is not None:
                _close_refusing(schemas, _name(ref), inner, seen)


def _structs_in(kind: msgspec.inspect.Type) -> Iterator[msgspec.inspect.StructType]:
    inspect = msgspec.inspect
    if isinstance(kind, inspect.StructType):
        yield kind
    elif isinstance(kind, inspect.Metadata):
        yield from _structs_in(kind.type)
    elif isinstance(kind, inspect.UnionType):
        for member in kind.types:
            yield from _structs_in(member)
    elif isinstance(
        kind, inspect.ListType | inspect.SetType | inspect.FrozenSetType | inspect.VarTupleType
    ):
        yield from _structs_in(kind.item_type)
    elif isinstance(kind, inspect.TupleType):
        for member in kind.item_types:
            yield from _structs_in(member)
    elif isinstance(kind, inspect.DictType):
        yield from _structs_in(kind.value_type)


def _refs_in(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs_in(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _refs_in(value)


class CompletedDocument(JsonRenderPlugin):
    """Serves /schema/openapi.json: Litestar's document, completed once per app."""

    def __init__(self) -> None:
        super().__init__()
        self.rendered: bytes | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self.rendered is None:
            self.rendered = self.render_json(request, complete(openapi_schema, request.app))
        return self.rendered


class SwaggerPage(SwaggerRenderPlugin):
    """Swagger UI at /schema, started by /static/swagger-init.js with the document's URL."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = html.escape(str(openapi_schema["info"]["title"]))
        document = html.escape(self.get_openapi_json_route(request))
        return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}: API</title>
  <link rel="stylesheet" href="{html.escape(self.css_url)}">
</head>
<body>
  <div id="swagger-ui" data-document="{document}"></div>
  <script src="{html.escape(self.js_url)}"></script>
  <script src="{html.escape(self.standalone_preset_js_url)}"></script>
  <script src="/static/swagger-init.js"></script>
</body>
</html>
""".encode()


def render_plugins(assets: str) -> list[OpenAPIRenderPlugin]:
    """The Swagger page (its bundle served from `assets`) and the completed JSON document."""
    swagger = SwaggerPage(
        js_url=f"{assets}/swagger-ui-bundle.js",
        css_url=f"{assets}/swagger-ui.css",
        standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js",
        path=["/", "/swagger"],
    )
    return [swagger, CompletedDocument()]
