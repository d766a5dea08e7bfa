"""HTTP for blueprints and attempts: start, save answers, check (practice), submit, result."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, NamedTuple

from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter, SkipValidation
from sqlalchemy import select

from exam_service.auth.schemas import CurrentUser
from exam_service.auth.security import SIGNED_IN, STAFF, Me
from exam_service.bank.format import ScaleFile
from exam_service.db import DbSession, Offset, PathId, QueryId, utcnow
from exam_service.errors import Conflict
from exam_service.exams import delivery, service
from exam_service.exams.schemas import (
    AttemptCreate,
    AttemptSummary,
    AttemptView,
    BlueprintView,
    BlueprintWrite,
    CheckView,
    Choice,
    ItemView,
    ObjectiveScore,
    ResponseSave,
    ResponseSaved,
    ResultView,
    ReviewItem,
    StatusFilter,
)
from exam_service.models import Attempt, Blueprint, Response, Result

Writer = NamedDependency[SkipValidation[service.ResponseWriter]]
"""A handler parameter `writer: Writer` receives the app's answer writer."""


def blueprint_view(row: Blueprint) -> BlueprintView:
    return BlueprintView(
        id=row.id,
        name=row.name,
        description=row.description,
        mode=row.mode,
        question_count=row.question_count,
        time_limit_seconds=row.time_limit_seconds,
        grace_seconds=row.grace_seconds,
        unscored_count=row.unscored_count,
        objective_weights=row.objective_weights,
        objective_counts=row.objective_counts,
        difficulty_mix=row.difficulty_mix,
        scale=ScaleFile(row.scale_min, row.scale_max, row.scale_pass, row.raw_cut),
        review_policy=row.review_policy,
        shuffle_options=row.shuffle_options,
        partial_credit=row.partial_credit,
        max_open_attempts=row.max_open_attempts,
        origin=row.origin,
    )


class BlueprintController(Controller):
    path = "/api/v1/blueprints"
    tags = ["exams"]

    @get("/", guards=[SIGNED_IN], summary="Every blueprint")
    async def list_blueprints(self, db: DbSession) -> list[BlueprintView]:
        rows = await db.scalars(select(Blueprint).order_by(Blueprint.id))
        return [blueprint_view(row) for row in rows.all()]

    @post("/", guards=[STAFF], summary="Define a blueprint; refused if the bank cannot fill it")
    async def create(self, db: DbSession, data: JSONBody[BlueprintWrite]) -> BlueprintView:
        return blueprint_view(await service.create_blueprint(db, data))

    @get("/{blueprint_id:str}", guards=[SIGNED_IN], summary="One blueprint")
    async def get_blueprint(self, db: DbSession, blueprint_id: FromPath[str]) -> BlueprintView:
        return blueprint_view(await service.get_blueprint(db, blueprint_id))

    @put("/{blueprint_id:str}", guards=[STAFF], summary="Change a blueprint (new attempts only)")
    async def update(
        self, db: DbSession, blueprint_id: FromPath[str], data: JSONBody[BlueprintWrite]
    ) -> BlueprintView:
        return blueprint_view(await service.update_blueprint(db, blueprint_id, data))


class Shown(NamedTuple):
    options: list[Choice]
    prompts: list[Choice]
    choices: list[Choice]


def shown_lists(content: dict[str, Any], layout: dict[str, Any]) -> Shown:
    """An item's options (or prompts and choices) with display ids, text only."""
    view = delivery.shown(content, layout)
    return Shown(*([Choice(**c) for c in view[name]] for name in Shown._fields))


def attempt_view(attempt: Attempt, responses: dict[int, Response], now: datetime) -> AttemptView:
    items = []
    for item in attempt.items:
        revision = item.revision
        response = responses.get(item.position)
        shown = shown_lists(revision.content, item.layout)
        items.append(
            ItemView(
                position=item.position,
                type=revision.type,
                stem=revision.stem,
                case=revision.case_scenario,
                case_title=revision.case_title,
                options=shown.options,
                choose=revision.content.get("choose"),
                prompts=shown.prompts,
                choices=shown.choices,
                answer=response.answer if response else None,
                flagged=response.flagged if response else False,
                locked=response.locked if response else False,
            )
        )
    return AttemptView(
        id=attempt.id,
        status=attempt.status,
        blueprint_id=attempt.blueprint_id,
        mode=attempt.mode,
        user_id=attempt.user_id,
        started_at=attempt.started_at,
        deadline=attempt.deadline,
        server_time=now,
        seconds_left=service.seconds_left(attempt, now),
        submitted_at=attempt.submitted_at,
        answered=sum(1 for r in responses.values() if r.answer is not None),
        flagged=sum(1 for r in responses.values() if r.flagged),
        items=items,
    )


def review_release(attempt: Attempt, viewer: CurrentUser, now: datetime) -> tuple[bool, str]:
    """Whether `viewer` may see keys and explanations now, and a note saying when."""
    if viewer.id != attempt.user_id and viewer.role in ("admin", "instructor"):
        return True, "shown to instructors and admins"
    policy = attempt.settings["review_policy"]
    if policy == "never":
        return False, "this exam's review policy never shows the answers"
    if policy == "after_close":
        opens = attempt.closes_at or attempt.submitted_at or now
        if now < opens:
            return (
                False,
                f"the answers are shown after the exam closes at {service.utc_clock(opens)}",
            )
    return True, "the answers are shown because the attempt is closed"


async def result_view(
    db: DbSession, attempt: Attempt, result: Result, viewer: CurrentUser
) -> ResultView:
    now = utcnow()
    released, note = review_release(attempt, viewer, now)
    review = None
    if released:
        loaded, responses = await service.load_attempt(db, attempt.id)
        review = []
        for item in loaded.items:
            revision = item.revision
            shown = shown_lists(revision.content, item.layout)
            response = responses.get(item.position)
            review.append(
                ReviewItem(
                    position=item.position,
                    question_id=revision.question_id,
                    type=revision.type,
                    scored=item.scored,
                    stem=revision.stem,
                    case=revision.case_scenario,
                    options=shown.options,
                    prompts=shown.prompts,
                    choices=shown.choices,
                    answer=response.answer if response else None,
                    key=delivery.display_key(revision.type, revision.content, item.layout),
                    points=item.points or 0.0,
                    rationales=delivery.rationales(revision.content, item.layout),
                    explanation=revision.content["explanation"],
                    objectives=list(service.objective_codes(revision)),
                    source=revision.source,
                )
            )
    scale = attempt.settings["scale"]
    return ResultView(
        attempt_id=attempt.id,
        status=attempt.status,
        submitted_at=attempt.submitted_at,
        raw_score=result.raw_score,
        raw_possible=result.raw_possible,
        raw_percent=result.raw_percent,
        scaled_score=result.scaled_score,
        passed=result.passed,
        scale=ScaleFile(scale["min"], scale["max"], scale["pass"], scale["raw_cut"]),
        objectives=[ObjectiveScore(**node) for node in result.objectives],
        review_available=released,
        review_note=note,
        review=review,
    )


class AttemptController(Controller):
    path = "/api/v1/attempts"
    tags = ["exams"]
    guards = [SIGNED_IN]

    @post("/", summary="Start an attempt at a blueprint")
    async def start(self, db: DbSession, me: Me, data: JSONBody[AttemptCreate]) -> AttemptView:
        attempt_id = await service.start_attempt(db, me, data.blueprint_id)
        attempt, responses = await service.load_attempt(db, attempt_id)
        return attempt_view(attempt, responses, utcnow())

    @get("/", summary="Attempts you may see: yours, and your cohorts' for instructors")
    async def list_attempts(
        self,
        db: DbSession,
        me: Me,
        user_id: QueryId = None,
        blueprint_id: FromQuery[str | None] = None,
        status: FromQuery[StatusFilter | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Offset = 0,
    ) -> list[AttemptSummary]:
        await service.close_expired_for(db, me.id)
        rows = await service.list_attempts(
            db,
            me,
            user_id=user_id,
            blueprint_id=blueprint_id,
            status=status,
            limit=limit,
            offset=offset,
        )
        return [
            AttemptSummary(
                id=a.id,
                status=a.status,
                blueprint_id=a.blueprint_id,
                mode=a.mode,
                user_id=a.user_id,
                started_at=a.started_at,
                deadline=a.deadline,
                submitted_at=a.submitted_at,
                scaled_score=r.scaled_score if r else None,
                passed=r.passed if r else None,
            )
            for a, r in rows
        ]

    @get("/{attempt_id:int}", summary="State, items, saved answers and time left")
    async def get_attempt(self, db: DbSession, me: Me, attempt_id: PathId) -> AttemptView:
        attempt = await service.visible_attempt(db, me, attempt_id)
        await service.close_if_expired(db, attempt)
        loaded, responses = await service.load_attempt(db, attempt_id)
        return attempt_view(loaded, responses, utcnow())

    @put(
        "/{attempt_id:int}/responses/{position:int}",
        summary="Save an answer and flag; durable before the 200",
    )
    async def save_response(
        self,
        request: Request[CurrentUser, Any, Any],
        writer: Writer,
        attempt_id: PathId,
        position: PathId,
        data: JSONBody[ResponseSave],
    ) -> ResponseSaved:
        # The hot path: `request.user` rather than the `me` dependency, since Litestar
        # resolves two or more dependencies through a task group.
        stored, saved_at = await writer.save(
            request.user, attempt_id, position, data.answer, data.flagged
        )
        shape = writer.shapes.get(attempt_id)
        left = None
        if shape is not None and shape.deadline is not None:
            left = max(0, math.floor((shape.deadline - saved_at).total_seconds()))
        return ResponseSaved(
            position=position,
            answer=stored,
            flagged=data.flagged,
            saved_at=saved_at,
            server_time=saved_at,
            seconds_left=left,
        )

    @post(
        "/{attempt_id:int}/responses/{position:int}/check",
        status_code=200,
        summary="Practice mode: right or wrong, the key and the explanation; locks the answer",
    )
    async def check(self, db: DbSession, me: Me, attempt_id: PathId, position: PathId) -> CheckView:
        item, response, points = await service.check_response(db, me, attempt_id, position)
        revision = item.revision
        return CheckView(
            position=position,
            answer=response.answer,
            correct=points == 1.0,
            points=points,
            key=delivery.display_key(revision.type, revision.content, item.layout),
            rationales=delivery.rationales(revision.content, item.layout),
            explanation=revision.content["explanation"],
        )

    @post("/{attempt_id:int}/submit", status_code=200, summary="Grade and close; idempotent")
    async def submit(self, db: DbSession, me: Me, attempt_id: PathId) -> ResultView:
        attempt = await service.submit(db, me, attempt_id)
        result = await service.result_of(db, attempt.id)
        assert result is not None
        return await result_view(db, attempt, result, me)

    @get("/{attempt_id:int}/result", summary="Scores per objective; review when released")
    async def result(self, db: DbSession, me: Me, attempt_id: PathId) -> ResultView:
        attempt = await service.visible_attempt(db, me, attempt_id)
        await service.close_if_expired(db, attempt)
        result = await service.result_of(db, attempt_id)
        if result is None:
            left = service.seconds_left(attempt, utcnow())
            until = f" ({left} seconds left)" if left is not None else ""
            raise Conflict(
                f"attempt {attempt_id} is still in progress{until}; submit it to see the result"
            )
        return await result_view(db, attempt, result, me)
