"""Every route the app registers, called by every kind of person, gets the status the
access rules promise. Routes come from the app itself: a new route without a row here
fails `test_every_route_has_a_row`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from exam_service.app import create_app
from exam_service.auth.security import issue_token, jwt_auth
from exam_service.settings import Settings
from tests.factories import PASSWORD, Person, import_folder

Client = AsyncTestClient  # type: ignore[type-arg]
PERSONAS = ("anonymous", "candidate", "other-candidate", "instructor", "other-instructor", "admin")


@dataclass
class Context:
    cohort_id: int
    question_id: str
    attempt_id: int = 0
    """The candidate's practice attempt (the candidate is in the instructor's cohort)."""
    candidate_id: int = 0
    paper_exam_id: int = 0
    """A paper exam made by the instructor."""
    sitting_id: int = 0
    """The instructor's sitting of matrix-practice for their cohort."""
    spare_sittings: dict[str, int] = field(default_factory=dict)
    """One more sitting of the instructor's per persona, for that persona to delete."""
    spare_page_sittings: dict[str, int] = field(default_factory=dict)
    """And one per persona to delete through the browser page."""
    adaptive_attempt_id: int = 0
    """The candidate's adaptive practice attempt (matrix-adaptive)."""
    other_candidate_id: int = 0
    """Whose account the admin rows change (a new display name: no sign-in ends)."""
    spare_tokens: dict[str, str] = field(default_factory=dict)
    """A second token per persona, for that persona to revoke."""


# A request for persona p: (path, keyword arguments for the client).
Build = Callable[[Context, str], tuple[str, dict[str, Any]]]


def fixed(path: str, **kwargs: Any) -> Build:
    return lambda _ctx, _p: (path, kwargs)


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(PERSONAS, status)


def signed_in(status: int) -> dict[str, int]:
    return {**everyone(status), "anonymous": 401}


def staff(status: int, *, others: int | None = None) -> dict[str, int]:
    """Instructors and admins get `status`; `others` for the instructor who does not own
    the object; candidates 403; anonymous 401."""
    return {
        "anonymous": 401,
        "candidate": 403,
        "other-candidate": 403,
        "instructor": status,
        "other-instructor": status if others is None else others,
        "admin": status,
    }


def own_credentials(_ctx: Context, persona: str) -> tuple[str, dict[str, Any]]:
    username = "nobody" if persona == "anonymous" else persona
    return "/api/v1/auth/token", {"json": {"username": username, "password": PASSWORD}}


def login_form(_ctx: Context, persona: str) -> tuple[str, dict[str, Any]]:
    username = "nobody" if persona == "anonymous" else persona
    return "/login", {"data": {"username": username, "password": PASSWORD}}


PRACTICE = {
    "id": "matrix-practice",
    "name": "Matrix practice",
    "mode": "practice",
    "question_count": 3,
    "max_open_attempts": 50,
    "scale": {"min": 0, "max": 100, "pass": 70},
    "self_study": True,
}


ADAPTIVE = {
    **PRACTICE,
    "id": "matrix-adaptive",
    "name": "Matrix adaptive practice",
    "mode": "adaptive",
    "scoring": "irt",
    "adaptive": {"min_items": 2},
}


def new_blueprint(_ctx: Context, persona: str) -> tuple[str, dict[str, Any]]:
    return "/api/v1/blueprints", {"json": {**PRACTICE, "id": f"bp-{persona}"}}


def attempt_path(suffix: str = "") -> Build:
    return lambda ctx, _p: (f"/api/v1/attempts/{ctx.attempt_id}{suffix}", {})


def paper_path(suffix: str, **kwargs: Any) -> Build:
    return lambda ctx, _p: (f"/api/v1/paper-exams/{ctx.paper_exam_id}{suffix}", kwargs)


def owner_only(status: int) -> dict[str, int]:
    return {**everyone(404), "anonymous": 401, "candidate": status}


def owner_and_staff(status: int) -> dict[str, int]:
    """The owner, the instructor of the owner's cohort and admins; others get 404."""
    return {
        **everyone(404),
        "anonymous": 401,
        "candidate": status,
        "instructor": status,
        "admin": status,
    }


def new_sitting(ctx: Context, _persona: str) -> tuple[str, dict[str, Any]]:
    body = {
        "blueprint_id": "matrix-practice",
        "cohort_ids": [ctx.cohort_id],
        "opens_at": "2026-01-01T00:00:00Z",
    }
    return "/api/v1/sittings", {"json": body}


def sitting_path(suffix: str = "", **kwargs: Any) -> Build:
    return lambda ctx, _p: (f"/api/v1/sittings/{ctx.sitting_id}{suffix}", kwargs)


def spare_sitting(ctx: Context, persona: str) -> tuple[str, dict[str, Any]]:
    return f"/api/v1/sittings/{ctx.spare_sittings.get(persona, ctx.sitting_id)}", {}


def spare_page_sitting(ctx: Context, persona: str) -> tuple[str, dict[str, Any]]:
    return f"/sittings/{ctx.spare_page_sittings.get(persona, ctx.sitting_id)}/delete", {}


def sitting_form(ctx: Context, **extra: Any) -> dict[str, Any]:
    """The browser's sitting form, as the page posts it."""
    return {
        "blueprint_id": "matrix-practice",
        "cohort_ids": str(ctx.cohort_id),
        "opens_at": "2026-01-01T00:00",
        **extra,
    }


def new_user(_ctx: Context, persona: str) -> tuple[str, dict[str, Any]]:
    body = {
        "username": f"made-by-{persona}",
        "password": "a long enough password",
        "role": "candidate",
    }
    return "/api/v1/users", {"json": body}


def spare_token(ctx: Context, persona: str) -> tuple[str, dict[str, Any]]:
    token = ctx.spare_tokens.get(persona)
    return "/api/v1/auth/token", {"headers": {"Authorization": f"Bearer {token}"}} if token else {}


def admin_only(status: int) -> dict[str, int]:
    return {**staff(403), "admin": status}


def other_candidate(prefix: str, **kwargs: Any) -> Build:
    """A change to the other candidate that ends none of their sign-ins."""
    return lambda ctx, _p: (f"{prefix}/{ctx.other_candidate_id}", kwargs)


MATRIX: dict[tuple[str, str], tuple[Build, dict[str, int]]] = {
    ("GET", "/health"): (fixed("/health"), everyone(200)),
    ("GET", "/ready"): (fixed("/ready"), everyone(200)),
    # without EXAM_METRICS_TOKEN (as here) only admins; a scraper's token: test_observability
    ("GET", "/metrics"): (fixed("/metrics"), {**staff(403), "admin": 200}),
    ("POST", "/api/v1/auth/token"): (own_credentials, {**everyone(200), "anonymous": 401}),
    ("DELETE", "/api/v1/auth/token"): (spare_token, signed_in(204)),
    ("GET", "/api/v1/me"): (fixed("/api/v1/me"), signed_in(200)),
    ("POST", "/api/v1/me/password"): (
        # reaches the check of the new password, which refuses it (nothing changes)
        fixed("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "x"}),
        signed_in(422),
    ),
    ("POST", "/api/v1/users"): (
        new_user,
        {**staff(403), "admin": 201},
    ),
    ("GET", "/api/v1/users"): (fixed("/api/v1/users"), admin_only(200)),
    ("PATCH", "/api/v1/users/{user_id:int}"): (
        other_candidate("/api/v1/users", json={"display_name": "Renamed"}),
        admin_only(200),
    ),
    ("POST", "/api/v1/cohorts"): (fixed("/api/v1/cohorts", json={"name": "New"}), staff(201)),
    ("GET", "/api/v1/cohorts"): (fixed("/api/v1/cohorts"), staff(200)),
    ("GET", "/api/v1/cohorts/{cohort_id:int}"): (
        lambda ctx, _p: (f"/api/v1/cohorts/{ctx.cohort_id}", {}),
        staff(200, others=404),
    ),
    ("POST", "/api/v1/cohorts/{cohort_id:int}/members"): (
        lambda ctx, _p: (
            f"/api/v1/cohorts/{ctx.cohort_id}/members",
            {"json": {"usernames": ["other-candidate"]}},
        ),
        staff(200, others=404),
    ),
    ("GET", "/api/v1/objectives"): (fixed("/api/v1/objectives"), signed_in(200)),
    ("GET", "/api/v1/questions"): (fixed("/api/v1/questions"), staff(200)),
    ("GET", "/api/v1/questions/{question_id:str}"): (
        lambda ctx, _p: (f"/api/v1/questions/{ctx.question_id}", {}),
        staff(200),
    ),
    ("POST", "/api/v1/bank/imports"): (
        fixed(
            "/api/v1/bank/imports",
            files={"file": ("one.gift", b"::m1::Pick one {=yes ~no}")},
            params={"default_objective": "D2.1.1", "dry_run": "true"},
        ),
        staff(200),
    ),
    ("GET", "/api/v1/bank/export"): (fixed("/api/v1/bank/export"), staff(200)),
    ("GET", "/api/v1/blueprints"): (fixed("/api/v1/blueprints"), signed_in(200)),
    ("POST", "/api/v1/blueprints"): (new_blueprint, staff(201)),
    ("GET", "/api/v1/blueprints/{blueprint_id:str}"): (
        fixed("/api/v1/blueprints/matrix-practice"),
        signed_in(200),
    ),
    ("PUT", "/api/v1/blueprints/{blueprint_id:str}"): (
        fixed("/api/v1/blueprints/matrix-practice", json=PRACTICE),
        staff(200, others=404),  # the instructor made it; file blueprints: see test_blueprints
    ),
    ("POST", "/api/v1/attempts"): (
        fixed("/api/v1/attempts", json={"blueprint_id": "matrix-practice"}),
        signed_in(201),
    ),
    ("GET", "/api/v1/attempts"): (fixed("/api/v1/attempts"), signed_in(200)),
    ("POST", "/api/v1/sittings"): (new_sitting, staff(201, others=404)),  # not their cohort
    ("GET", "/api/v1/sittings"): (fixed("/api/v1/sittings"), signed_in(200)),
    ("GET", "/api/v1/sittings/{sitting_id:int}"): (sitting_path(), staff(200, others=404)),
    ("PATCH", "/api/v1/sittings/{sitting_id:int}"): (
        sitting_path(json={"grading_method": "last"}),
        staff(200, others=404),
    ),
    ("DELETE", "/api/v1/sittings/{sitting_id:int}"): (spare_sitting, staff(204, others=404)),
    ("PUT", "/api/v1/sittings/{sitting_id:int}/accommodations/{username:str}"): (
        sitting_path("/accommodations/candidate", json={"extra_time_seconds": 60}),
        staff(200, others=404),
    ),
    ("DELETE", "/api/v1/sittings/{sitting_id:int}/accommodations/{username:str}"): (
        sitting_path("/accommodations/candidate"),
        staff(204, others=404),  # idempotent: nothing left to remove is still done
    ),
    ("GET", "/api/v1/sittings/{sitting_id:int}/progress"): (
        sitting_path("/progress"),
        staff(200, others=404),
    ),
    ("GET", "/api/v1/sittings/{sitting_id:int}/score-reports.zip"): (
        sitting_path("/score-reports.zip"),
        staff(200, others=404),
    ),
    ("GET", "/api/v1/attempts/{attempt_id:int}"): (attempt_path(), owner_and_staff(200)),
    ("PUT", "/api/v1/attempts/{attempt_id:int}/responses/{position:int}"): (
        lambda ctx, _p: (
            f"/api/v1/attempts/{ctx.attempt_id}/responses/1",
            {"json": {"answer": None, "flagged": True}},
        ),
        owner_only(200),
    ),
    ("POST", "/api/v1/attempts/{attempt_id:int}/responses/{position:int}/check"): (
        attempt_path("/responses/1/check"),
        # the candidate saved no answer to check: a 409 that says so
        owner_only(409),
    ),
    ("POST", "/api/v1/attempts/{attempt_id:int}/next"): (
        # nothing answered yet: the owner is given the first question again
        lambda ctx, _p: (f"/api/v1/attempts/{ctx.adaptive_attempt_id}/next", {}),
        owner_only(200),
    ),
    ("GET", "/api/v1/attempts/{attempt_id:int}/result"): (
        attempt_path("/result"),
        owner_and_staff(409),  # still in progress
    ),
    ("POST", "/api/v1/attempts/{attempt_id:int}/submit"): (
        attempt_path("/submit"),
        owner_only(200),
    ),
    ("GET", "/api/v1/attempts/{attempt_id:int}/report.pdf"): (
        attempt_path("/report.pdf"),
        owner_and_staff(200),
    ),
    ("GET", "/api/v1/reports/cohorts/{cohort_id:int}"): (
        lambda ctx, _p: (
            f"/api/v1/reports/cohorts/{ctx.cohort_id}",
            {"params": {"blueprint_id": "matrix-practice"}},
        ),
        staff(200, others=404),
    ),
    ("GET", "/api/v1/reports/items"): (
        fixed("/api/v1/reports/items", params={"blueprint_id": "matrix-practice"}),
        staff(200),
    ),
    ("GET", "/api/v1/reports/sittings/{sitting_id:int}"): (
        lambda ctx, _p: (f"/api/v1/reports/sittings/{ctx.sitting_id}", {}),
        staff(200, others=404),
    ),
    ("GET", "/api/v1/reports/candidates/{user_id:int}"): (
        lambda ctx, _p: (f"/api/v1/reports/candidates/{ctx.candidate_id}", {}),
        owner_and_staff(200),
    ),
    ("GET", "/api/v1/reports/candidates/{user_id:int}/readiness"): (
        lambda ctx, _p: (
            f"/api/v1/reports/candidates/{ctx.candidate_id}/readiness",
            {"params": {"blueprint_id": "matrix-practice"}},
        ),
        owner_and_staff(200),  # the candidate, their cohort's instructor, admins; others 404
    ),
    ("POST", "/api/v1/paper-exams"): (
        fixed("/api/v1/paper-exams", json={"blueprint_id": "matrix-practice", "title": "Paper"}),
        staff(201),
    ),
    ("GET", "/api/v1/paper-exams"): (fixed("/api/v1/paper-exams"), staff(200)),
    ("GET", "/api/v1/paper-exams/{exam_id:int}"): (paper_path(""), staff(200, others=404)),
    ("GET", "/api/v1/paper-exams/{exam_id:int}/booklet.pdf"): (
        paper_path("/booklet.pdf"),
        staff(200, others=404),
    ),
    ("GET", "/api/v1/paper-exams/{exam_id:int}/key.pdf"): (
        paper_path("/key.pdf"),
        staff(200, others=404),
    ),
    ("GET", "/api/v1/paper-exams/{exam_id:int}/answer-sheets.pdf"): (
        paper_path("/answer-sheets.pdf", params={"blank": 1}),
        staff(200, others=404),
    ),
    ("POST", "/api/v1/paper-exams/{exam_id:int}/responses"): (
        paper_path("/responses", json={"responses": []}),
        staff(200, others=404),
    ),
    ("POST", "/api/v1/paper-exams/{exam_id:int}/scans"): (
        paper_path("/scans", content=b"not a scan", headers={"content-type": "image/png"}),
        staff(422, others=404),  # the owner reaches the reader, which refuses the bytes
    ),
    ("GET", "/"): (fixed("/"), signed_in(200)),
    ("POST", "/attempts"): (
        fixed("/attempts", data={"blueprint_id": "matrix-practice"}),
        signed_in(303),  # the start form redirects to the new attempt's page
    ),
    ("GET", "/attempts/{attempt_id:int}"): (
        lambda ctx, _p: (f"/attempts/{ctx.attempt_id}", {}),
        owner_and_staff(303),  # submitted by the row above: redirects to its result page
    ),
    ("GET", "/attempts/{attempt_id:int}/result"): (
        lambda ctx, _p: (f"/attempts/{ctx.attempt_id}/result", {}),
        owner_and_staff(200),
    ),
    ("GET", "/bank"): (fixed("/bank", params={"type": "single"}), staff(200)),
    ("GET", "/bank/questions/{question_id:str}"): (
        lambda ctx, _p: (f"/bank/questions/{ctx.question_id}", {}),
        staff(200),
    ),
    ("GET", "/cohorts"): (fixed("/cohorts"), staff(200)),
    ("GET", "/sittings"): (fixed("/sittings"), staff(200)),
    ("POST", "/sittings"): (
        lambda ctx, _p: ("/sittings", {"data": sitting_form(ctx)}),
        staff(303, others=404),  # not their cohort: the page says so
    ),
    ("GET", "/sittings/{sitting_id:int}"): (
        lambda ctx, _p: (f"/sittings/{ctx.sitting_id}", {}),
        staff(200, others=404),
    ),
    ("POST", "/sittings/{sitting_id:int}"): (
        lambda ctx, _p: (
            f"/sittings/{ctx.sitting_id}",
            {"data": sitting_form(ctx, grading_method="last")},
        ),
        staff(303, others=404),
    ),
    ("POST", "/sittings/{sitting_id:int}/accommodations"): (
        lambda ctx, _p: (
            f"/sittings/{ctx.sitting_id}/accommodations",
            {"data": {"username": "candidate", "extra_minutes": "5"}},
        ),
        staff(303, others=404),
    ),
    ("POST", "/sittings/{sitting_id:int}/accommodations/{username:str}/delete"): (
        lambda ctx, _p: (f"/sittings/{ctx.sitting_id}/accommodations/candidate/delete", {}),
        staff(303, others=404),
    ),
    ("POST", "/sittings/{sitting_id:int}/delete"): (spare_page_sitting, staff(303, others=404)),
    ("GET", "/sittings/{sitting_id:int}/live"): (
        lambda ctx, _p: (f"/sittings/{ctx.sitting_id}/live", {}),
        staff(200, others=404),
    ),
    ("GET", "/cohorts/{cohort_id:int}"): (
        lambda ctx, _p: (f"/cohorts/{ctx.cohort_id}", {}),
        staff(200, others=404),
    ),
    ("GET", "/items"): (fixed("/items", params={"blueprint_id": "matrix-practice"}), staff(200)),
    ("GET", "/paper"): (fixed("/paper"), staff(200)),
    ("POST", "/paper"): (
        fixed("/paper", data={"blueprint_id": "matrix-practice", "title": "Printed", "forms": "2"}),
        staff(303),
    ),
    ("GET", "/paper/{exam_id:int}"): (
        lambda ctx, _p: (f"/paper/{ctx.paper_exam_id}", {}),
        staff(200, others=404),
    ),
    # The three uploads reach the owner's page, which says what is wrong with the upload.
    ("POST", "/paper/{exam_id:int}/responses"): (
        lambda ctx, _p: (f"/paper/{ctx.paper_exam_id}/responses", {"data": {"rows": "x"}}),
        staff(422, others=404),
    ),
    ("POST", "/paper/{exam_id:int}/scans"): (
        lambda ctx, _p: (
            f"/paper/{ctx.paper_exam_id}/scans",
            {"files": {"file": ("scan.png", b"not a scan", "image/png")}},
        ),
        staff(422, others=404),
    ),
    ("POST", "/paper/{exam_id:int}/reviews"): (
        lambda ctx, _p: (f"/paper/{ctx.paper_exam_id}/reviews", {"data": {"grade": "1"}}),
        staff(422, others=404),
    ),
    ("GET", "/login"): (fixed("/login"), everyone(200)),
    ("POST", "/login"): (login_form, {**everyone(303), "anonymous": 401}),
    ("POST", "/logout"): (fixed("/logout"), everyone(303)),
    ("GET", "/account/password"): (fixed("/account/password"), signed_in(200)),
    ("POST", "/account/password"): (
        # reaches the form's check, which refuses two different new passwords
        fixed("/account/password", data={"new_password": "a" * 12, "confirm_password": "b"}),
        signed_in(422),
    ),
    ("GET", "/admin/users"): (fixed("/admin/users"), admin_only(200)),
    ("POST", "/admin/users/{user_id:int}"): (
        other_candidate("/admin/users", data={"role": "candidate"}),  # as it is already
        admin_only(303),
    ),
    ("GET", "/static/{file_path:path}"): (fixed("/static/app.css"), everyone(200)),
    ("HEAD", "/static/{file_path:path}"): (fixed("/static/app.css"), everyone(200)),
    ("GET", "/schema-assets/{file_path:path}"): (
        fixed("/schema-assets/swagger-ui.css"),
        everyone(200),
    ),
    ("HEAD", "/schema-assets/{file_path:path}"): (
        fixed("/schema-assets/swagger-ui.css"),
        everyone(200),
    ),
    ("GET", "/schema"): (fixed("/schema"), everyone(200)),
    ("GET", "/schema/swagger"): (fixed("/schema/swagger"), everyone(200)),
    # Litestar's catch-all for documentation UIs that are not installed: public, 404.
    ("GET", "/schema/{path:str}"): (fixed("/schema/redoc"), everyone(404)),
    ("GET", "/schema/openapi.json"): (fixed("/schema/openapi.json"), everyone(200)),
    ("GET", "/schema/oauth2-redirect.html"): (
        fixed("/schema/oauth2-redirect.html"),
        everyone(200),
    ),
}


def registered_routes(settings: Settings) -> set[tuple[str, str]]:
    app = create_app(settings)
    return {
        (method, route.path)
        for route in app.routes
        for method in getattr(route, "methods", ())
        if method != "OPTIONS"
    }


def test_every_route_has_a_row(settings: Settings) -> None:
    routes = registered_routes(settings)
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not missing, f"routes without an access rule in MATRIX: {missing}"
    assert not stale, f"MATRIX rows for routes that no longer exist: {stale}"


async def test_access_matrix(
    client: Client,
    settings: Settings,
    db_url: str,
    bank_dir: Path,
    people: dict[str, Person],
    cohort_id: int,
) -> None:
    await import_folder(db_url, bank_dir)
    teacher = people["instructor"].headers
    assert (
        await client.post("/api/v1/blueprints", json=PRACTICE, headers=teacher)
    ).status_code == 201
    started = await client.post(
        "/api/v1/attempts",
        json={"blueprint_id": "matrix-practice"},
        headers=people["candidate"].headers,
    )
    assert started.status_code == 201
    assert (
        await client.post("/api/v1/blueprints", json=ADAPTIVE, headers=teacher)
    ).status_code == 201
    adaptive = await client.post(
        "/api/v1/attempts",
        json={"blueprint_id": "matrix-adaptive"},
        headers=people["candidate"].headers,
    )
    assert adaptive.status_code == 201, adaptive.text
    made = await client.post(
        "/api/v1/paper-exams",
        json={"blueprint_id": "matrix-practice", "title": "Matrix paper"},
        headers=people["instructor"].headers,
    )
    assert made.status_code == 201
    sittings = []
    for _ in range(1 + 2 * len(PERSONAS)):
        body = new_sitting(Context(cohort_id, ""), "instructor")[1]["json"]
        made_sitting = await client.post("/api/v1/sittings", json=body, headers=teacher)
        assert made_sitting.status_code == 201, made_sitting.text
        sittings.append(made_sitting.json()["id"])
    ctx = Context(
        cohort_id,
        "churn-algorithm",
        started.json()["id"],
        people["candidate"].user.id,
        made.json()["id"],
        sittings[0],
        dict(zip(PERSONAS, sittings[1 : 1 + len(PERSONAS)], strict=True)),
        dict(zip(PERSONAS, sittings[1 + len(PERSONAS) :], strict=True)),
        adaptive.json()["id"],
    )
    ctx.other_candidate_id = people["other-candidate"].user.id
    auth = jwt_auth(settings)
    ctx.spare_tokens = {
        persona: issue_token(auth, people[persona].user, 600)
        for persona in PERSONAS
        if persona != "anonymous"
    }
    failures = []
    for (method, template), (build, expected) in MATRIX.items():
        for persona in PERSONAS:
            path, kwargs = build(ctx, persona)
            headers = {} if persona == "anonymous" else dict(people[persona].headers)
            kwargs = dict(kwargs)  # builders may share one dict between personas
            headers.update(kwargs.pop("headers", {}))
            client.cookies.clear()
            response = await client.request(
                method, path, headers=headers, follow_redirects=False, **kwargs
            )
            if response.status_code != expected[persona]:
                failures.append(
                    f"{method} {template} as {persona}: {response.status_code}, "
                    f"expected {expected[persona]} ({response.text[:120]})"
                )
    assert not failures, "\n".join(failures)


async def test_options_answers_everyone(client: Client, settings: Settings) -> None:
    for method, template in sorted(registered_routes(settings)):
        path = MATRIX[(method, template)][0](Context(1, "x", 1, 1, 1), "anonymous")[0]
        response = await client.options(path)
        assert response.status_code == 204, f"OPTIONS {path}: {response.status_code}"


async def test_hidden_objects_look_exactly_like_missing_ones(
    client: Client, people: dict[str, Person], cohort_id: int
) -> None:
    """Another instructor's cohort and a cohort that does not exist answer alike."""
    who = people["other-instructor"]
    hidden = await client.get(f"/api/v1/cohorts/{cohort_id}", headers=who.headers)
    missing = await client.get(f"/api/v1/cohorts/{cohort_id + 1000}", headers=who.headers)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.headers["content-type"] == missing.headers["content-type"]

    def anonymised(body: dict[str, Any]) -> dict[str, Any]:
        return {k: re.sub(r"cohorts?[ /]\d+", "cohort N", str(v)) for k, v in body.items()}

    assert anonymised(hidden.json()) == anonymised(missing.json())
    mine = await client.get(f"/api/v1/cohorts/{cohort_id}", headers=people["instructor"].headers)
    assert mine.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/attempts/{id}",
        "/attempts/{id}/result",
        "/cohorts/{id}",
        "/paper/{id}",
        "/items?blueprint_id=starter-mock&cohort_id={id}",
        "/bank?offset={id}{id}",
    ],
)
async def test_pages_refuse_ids_beyond_32_bits(
    client: Client, people: dict[str, Person], path: str
) -> None:
    """A page id the database cannot hold is a clear 400 (as on the API), not a failed query."""
    response = await client.get(
        path.format(id=2**40), headers=people["admin"].headers | {"accept": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert "id" in response.json()["detail"]
