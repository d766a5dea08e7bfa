"""Browser pages for instructors' sittings: the list with a form to schedule one, a
sitting's page (change it, its accommodations, its reports, delete it) and its live view,
whose script (`static/sittings.js`) reads `GET /api/v1/sittings/{id}/progress` every few
seconds.

The forms go through the API's services and structs (`exams/sittings.py`,
`SittingCreate`, `SittingChange`, `AccommodationWrite`), so a page accepts exactly what
the API accepts and refuses it in the same words. Times in the forms are UTC, as every
page shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import FromQuery, PathParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.auth import service as auth_service
from exam_service.auth.schemas import CurrentUser
from exam_service.auth.security import STAFF, Me
from exam_service.errors import ExamServiceError, InvalidInput
from exam_service.exams import sitting_list, sitting_live, sittings
from exam_service.exams.blueprints import list_blueprints
from exam_service.exams.schemas import (
    AccommodationWrite,
    SittingChange,
    SittingCreate,
    SittingView,
)
from exam_service.exams.sitting_rules import GRADING_METHODS
from exam_service.http import DbSession, PathId
from exam_service.models import PaperExam
from exam_service.paper import service as paper_service

Username = Annotated[str, PathParameter(min_length=1, max_length=80)]
SAVED = {
    "sitting": "The sitting was changed.",
    "accommodation": "The accommodation was saved; running attempts follow it.",
    "removed": "The candidate is back on the sitting's own terms.",
}
REVIEW_POLICIES = ("after_submit", "after_close", "after_window_closes", "never")
WEEK_MINUTES = 7 * 24 * 60


@dataclass
class Problem:
    """What a refused form gets back: the message and the values typed, to fill again."""

    message: str
    status: int
    values: dict[str, Any] = field(default_factory=dict)


def _text(form: FormMultiDict, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _moment(form: FormMultiDict, name: str, label: str) -> datetime | None:
    """A `datetime-local` value read as UTC; None when blank."""
    text = _text(form, name)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{label} {text!r} is not a date and time; pick one, or type it as "
            "2026-12-07T09:00 (UTC)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _whole(form: FormMultiDict, name: str, label: str, low: int, high: int) -> int | None:
    """A whole number from `low` to `high`; None when blank."""
    text = _text(form, name)
    if not text:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        raise InvalidInput(f"{label} {text!r} is not a whole number from {low} to {high}")
    return int(text)


def _fields(form: FormMultiDict) -> dict[str, Any]:
    """The sitting form's fields as the API's JSON would carry them (minus access_code)."""
    cohorts = []
    for value in form.getall("cohort_ids", []):
        if isinstance(value, str) and value.isdigit():
            cohorts.append(int(value))
    if not cohorts:
        raise InvalidInput("tick at least one cohort: its members are who sit it")
    opens = _moment(form, "opens_at", "Opens")
    if opens is None:
        raise InvalidInput("say when the sitting opens (Opens, UTC)")
    minutes = _whole(form, "time_limit_minutes", "Time limit (minutes)", 1, WEEK_MINUTES)
    method = _text(form, "grading_method") or "highest"
    if method not in GRADING_METHODS:
        raise InvalidInput(f"grading method {method!r} is not one of {', '.join(GRADING_METHODS)}")
    policy = _text(form, "review_policy") or None
    if policy is not None and policy not in REVIEW_POLICIES:
        raise InvalidInput(f"review policy {policy!r} is not one of {', '.join(REVIEW_POLICIES)}")
    return {
        "name": _text(form, "name")[:200],
        "blueprint_id": _text(form, "blueprint_id"),
        "cohort_ids": cohorts,
        "opens_at": opens,
        "closes_at": _moment(form, "closes_at", "Closes"),
        "attempts_allowed": _whole(form, "attempts_allowed", "Attempts allowed", 1, 1000),
        "time_limit_seconds": None if minutes is None else minutes * 60,
        "grading_method": method,
        "review_policy": policy,
    }


def _access_code(form: FormMultiDict) -> str | None:
    code = _text(form, "access_code")
    if code and not 4 <= len(code) <= 100:
        raise InvalidInput("an access code has 4 to 100 characters; choose another")
    return code or None


def _struct(kind: type[Any], values: dict[str, Any]) -> Any:
    try:
        return msgspec.convert(values, kind)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"the form has a value that cannot be used: {exc}") from None


def _accommodation(form: FormMultiDict) -> AccommodationWrite:
    extra = _whole(form, "extra_minutes", "Extra time (minutes)", 0, WEEK_MINUTES)
    text = _text(form, "time_multiplier")
    multiplier = None
    if text:
        try:
            multiplier = float(text)
        except ValueError:
            multiplier = 0.0
        if not 1 <= multiplier <= 10:
            raise InvalidInput(
                f"time multiplier {text!r} is not a number from 1 to 10 (1.5: half again)"
            )
    values = {
        "extra_time_seconds": None if extra is None else extra * 60,
        "time_multiplier": multiplier,
        "extra_attempts": _whole(form, "extra_attempts", "Extra attempts", 0, 1000) or 0,
        "closes_at": _moment(form, "closes_at", "Own closing time"),
    }
    result: AccommodationWrite = _struct(AccommodationWrite, values)
    return result


def local(moment: datetime | None) -> str:
    """A UTC moment as a `datetime-local` input's value."""
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


class SittingPages(Controller):
    """The instructor's sitting pages (admins: every sitting)."""

    include_in_schema = False
    guards = [STAFF]

    @get("/sittings")
    async def sittings_page(self, db: DbSession, me: Me) -> Template:
        return await _list_page(db, me)

    @post("/sittings", status_code=303)
    async def create(
        self, request: Request[Any, Any, Any], db: DbSession, me: Me
    ) -> Redirect | Template:
        form = await request.form()
        try:
            values = _fields(form)
            values["access_code"] = _access_code(form)
            spec: SittingCreate = _struct(SittingCreate, values)
            made = await sittings.create_sitting(db, me, spec)
        except ExamServiceError as exc:
            await db.rollback()
            problem = Problem(exc.detail, exc.status_code, _typed(form))
            return await _list_page(db, me, problem)
        # the form's own #new would otherwise carry over to the sitting's page
        return Redirect(f"/sittings/{made.id}#main", status_code=303)

    @get("/sittings/{sitting_id:int}")
    async def sitting_page(
        self, db: DbSession, me: Me, sitting_id: PathId, saved: FromQuery[str] = ""
    ) -> Template:
        return await _sitting_page(db, me, sitting_id, saved=SAVED.get(saved, ""))

    @post("/sittings/{sitting_id:int}", status_code=303)
    async def change(
        self, request: Request[Any, Any, Any], db: DbSession, me: Me, sitting_id: PathId
    ) -> Redirect | Template:
        form = await request.form()
        try:
            values = _fields(form)
            if form.get("clear_access_code"):
                values["access_code"] = None
            elif code := _access_code(form):
                values["access_code"] = code
            change: SittingChange = _struct(SittingChange, values)
            await sittings.change_sitting(db, me, sitting_id, change)
        except ExamServiceError as exc:
            await db.rollback()
            problem = Problem(exc.detail, exc.status_code, _typed(form))
            return await _sitting_page(db, me, sitting_id, problem, "change")
        return Redirect(f"/sittings/{sitting_id}?saved=sitting#main", status_code=303)

    @post("/sittings/{sitting_id:int}/accommodations", status_code=303)
    async def accommodate(
        self, request: Request[Any, Any, Any], db: DbSession, me: Me, sitting_id: PathId
    ) -> Redirect | Template:
        form = await request.form()
        username = _text(form, "username")
        try:
            if not username:
                raise InvalidInput("choose the candidate the accommodation is for")
            await sittings.set_accommodation(db, me, sitting_id, username, _accommodation(form))
        except ExamServiceError as exc:
            await db.rollback()
            problem = Problem(exc.detail, exc.status_code, _typed(form))
            return await _sitting_page(db, me, sitting_id, problem, "accommodation")
        return Redirect(
            f"/sittings/{sitting_id}?saved=accommodation#accommodations", status_code=303
        )

    @post("/sittings/{sitting_id:int}/accommodations/{username:str}/delete", status_code=303)
    async def remove_accommodation(
        self, db: DbSession, me: Me, sitting_id: PathId, username: Username
    ) -> Redirect:
        await sittings.remove_accommodation(db, me, sitting_id, username)
        return Redirect(f"/sittings/{sitting_id}?saved=removed#accommodations", status_code=303)

    @post("/sittings/{sitting_id:int}/delete", status_code=303)
    async def delete(self, db: DbSession, me: Me, sitting_id: PathId) -> Redirect | Template:
        try:
            await sittings.delete_sitting(db, me, sitting_id)
        except ExamServiceError as exc:
            if exc.status_code == 404:
                raise
            await db.rollback()
            problem = Problem(exc.detail, exc.status_code)
            return await _sitting_page(db, me, sitting_id, problem, "delete")
        return Redirect("/sittings", status_code=303)

    @get("/sittings/{sitting_id:int}/live")
    async def live(self, db: DbSession, me: Me, sitting_id: PathId) -> Template:
        sitting = await sittings.owned_sitting(db, me, sitting_id)
        context = {"me": me, "sitting": await sittings.sitting_view(db, sitting)}
        return Template("sitting_live.html", context=context)


def _typed(form: FormMultiDict) -> dict[str, Any]:
    """What was typed, to show the form again (never the access code)."""
    values: dict[str, Any] = {
        key: value
        for key, value in form.items()
        if isinstance(value, str) and key not in ("access_code", "_csrf_token")
    }
    values["cohort_ids"] = [int(v) for v in form.getall("cohort_ids", []) if str(v).isdigit()]
    return values


async def _choices(db: AsyncSession, me: CurrentUser) -> dict[str, Any]:
    return {
        "blueprints": await list_blueprints(db),
        "cohorts": [c for c, _ in await auth_service.list_cohorts(db, me)],
        "methods": GRADING_METHODS,
        "policies": REVIEW_POLICIES,
    }


async def _list_page(db: AsyncSession, me: CurrentUser, problem: Problem | None = None) -> Template:
    entries = await sitting_list.sitting_entries(db, me)  # staff: their own, admins: all
    rows = [(e, await sittings.attempts_started(db, e.id)) for e in entries]
    context = {"me": me, "sittings": rows, "problem": problem, **await _choices(db, me)}
    return Template(
        "sittings.html", context=context, status_code=problem.status if problem else 200
    )


def _form_values(view: SittingView) -> dict[str, Any]:
    return {
        "name": view.name,
        "blueprint_id": view.blueprint_id,
        "cohort_ids": view.cohort_ids,
        "opens_at": local(view.opens_at),
        "closes_at": local(view.closes_at),
        "attempts_allowed": "" if view.attempts_allowed is None else str(view.attempts_allowed),
        "time_limit_minutes": ""
        if view.time_limit_seconds is None
        else str(round(view.time_limit_seconds / 60)),
        "grading_method": view.grading_method,
        "review_policy": view.review_policy or "",
    }


async def _sitting_page(
    db: AsyncSession,
    me: CurrentUser,
    sitting_id: int,
    problem: Problem | None = None,
    where: str = "",
    saved: str = "",
) -> Template:
    sitting = await sittings.owned_sitting(db, me, sitting_id)
    view = await sittings.sitting_view(db, sitting)
    progress = await sitting_live.sitting_progress(db, me, sitting_id)
    papers = await paper_service.list_paper_exams(db, me)
    values = _form_values(view)
    if problem and where == "change":
        values |= problem.values
    context = {
        "me": me,
        "sitting": view,
        "progress": progress,
        "values": values,
        "accommodation_values": problem.values if problem and where == "accommodation" else {},
        "problem": problem,
        "where": where,
        "saved": saved,
        "papers": [p for p in papers if isinstance(p, PaperExam) and p.sitting_id == sitting_id],
        "local": local,
        **await _choices(db, me),
    }
    return Template("sitting.html", context=context, status_code=problem.status if problem else 200)
