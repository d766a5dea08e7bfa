"""HTTP for blueprints, sittings (with accommodations) and attempts: start, save answers,
check (practice), submit, result."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import (
    FromPath,
    FromQuery,
    JSONBody,
    PathParameter,
    QueryParameter,
    SkipValidation,
)

from exam_service.auth.schemas import CurrentUser
from exam_service.auth.security import SIGNED_IN, STAFF, Me
from exam_service.bank.format import AdaptiveRule
from exam_service.db import utcnow
from exam_service.errors import InvalidInput
from exam_service.exams import (
    adaptive,
    blueprints,
    closing,
    delivery,
    results,
    service,
    sitting_list,
    sitting_live,
    sittings,
    start,
)
from exam_service.exams.answers import ResponseWriter
from exam_service.exams.schemas import (
    AccommodationView,
    AccommodationWrite,
    AttemptCreate,
    AttemptSummary,
    AttemptView,
    BlueprintView,
    BlueprintWrite,
    CheckView,
    ItemView,
    NextItemView,
    ResponseSave,
    ResponseSaved,
    ResultView,
    SittingChange,
    SittingCreate,
    SittingEntry,
    SittingProgress,
    SittingView,
    StatusFilter,
)
from exam_service.http import DbSession, Offset, PathId, QueryId
from exam_service.models import Attempt, AttemptItem, Blueprint, Response

Writer = NamedDependency[SkipValidation[ResponseWriter]]
"""A handler parameter `writer: Writer` receives the app's answer writer."""


def blueprint_view(row: Blueprint) -> BlueprintView:
    stop_rule = blueprints.adaptive_rule(row) or AdaptiveRule()
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
        scale=blueprints.blueprint_scale(row),
        review_policy=row.review_policy,
        shuffle_options=row.shuffle_options,
        partial_credit=row.partial_credit,
        max_open_attempts=row.max_open_attempts,
        self_study=row.self_study,
        scoring=row.scoring,  # type: ignore[arg-type]
        origin=row.origin,
        owner_id=row.owner_id,
        adaptive=stop_rule if row.mode == "adaptive" else None,
    )


class BlueprintController(Controller):
    path = "/api/v1/blueprints"
    tags = ["exams"]

    @get("/", guards=[SIGNED_IN], summary="Every blueprint")
    async def list_blueprints(self, db: DbSession) -> list[BlueprintView]:
        return [blueprint_view(row) for row in await blueprints.list_blueprints(db)]

    @post("/", guards=[STAFF], summary="Define a blueprint; refused if the bank cannot fill it")
    async def create(self, db: DbSession, me: Me, data: JSONBody[BlueprintWrite]) -> BlueprintView:
        return blueprint_view(await blueprints.create_blueprint(db, data, owner_id=me.id))

    @get("/{blueprint_id:str}", guards=[SIGNED_IN], summary="One blueprint")
    async def get_blueprint(self, db: DbSession, blueprint_id: FromPath[str]) -> BlueprintView:
        return blueprint_view(await blueprints.get_blueprint(db, blueprint_id))

    @put(
        "/{blueprint_id:str}",
        guards=[STAFF],
        summary="Change your blueprint (admins: any); new attempts only",
    )
    async def update(
        self, db: DbSession, me: Me, blueprint_id: FromPath[str], data: JSONBody[BlueprintWrite]
    ) -> BlueprintView:
        return blueprint_view(await blueprints.update_blueprint(db, me, blueprint_id, data))


Username = Annotated[str, PathParameter(min_length=1, max_length=80)]


class SittingController(Controller):
    path = "/api/v1/sittings"
    tags = ["sittings"]

    @post("/", guards=[STAFF], summary="Schedule a blueprint for your cohorts")
    async def create(self, db: DbSession, me: Me, data: JSONBody[SittingCreate]) -> SittingView:
        sitting = await sittings.create_sitting(db, me, data)
        return await sittings.sitting_view(db, sitting)

    @get(
        "/",
        guards=[SIGNED_IN],
        summary="Candidates: your sittings (upcoming, open, closed) and where you stand; "
        "staff: your sittings (admins: all)",
    )
    async def list_sittings(self, db: DbSession, me: Me) -> list[SittingEntry]:
        return await sitting_list.sitting_entries(db, me)

    @get("/{sitting_id:int}", guards=[STAFF], summary="A sitting with its accommodations")
    async def get_sitting(self, db: DbSession, me: Me, sitting_id: PathId) -> SittingView:
        return await sittings.sitting_view(db, await sittings.owned_sitting(db, me, sitting_id))

    @get(
        "/{sitting_id:int}/progress",
        guards=[STAFF],
        summary="The live view: each candidate's latest attempt, started, submitted, time left",
    )
    async def progress(self, db: DbSession, me: Me, sitting_id: PathId) -> SittingProgress:
        return await sitting_live.sitting_progress(db, me, sitting_id)

    @patch(
        "/{sitting_id:int}",
        guards=[STAFF],
        summary="Change a sitting; the blueprint and time limit are fixed once attempts start",
    )
    async def change(
        self, db: DbSession, me: Me, sitting_id: PathId, data: JSONBody[SittingChange]
    ) -> SittingView:
        sitting = await sittings.change_sitting(db, me, sitting_id, data)
        return await sittings.sitting_view(db, sitting)

    @delete("/{sitting_id:int}", guards=[STAFF], summary="Delete a sitting nobody has started")
    async def delete_sitting(self, db: DbSession, me: Me, sitting_id: PathId) -> None:
        await sittings.delete_sitting(db, me, sitting_id)

    @put(
        "/{sitting_id:int}/accommodations/{username:str}",
        guards=[STAFF],
        summary="Give a candidate extra time, extra attempts or a closing time of their own",
    )
    async def accommodate(
        self,
        db: DbSession,
        me: Me,
        sitting_id: PathId,
        username: Username,
        data: JSONBody[AccommodationWrite],
    ) -> AccommodationView:
        row = await sittings.set_accommodation(db, me, sitting_id, username, data)
        return sittings.accommodation_view(row)

    @delete(
        "/{sitting_id:int}/accommodations/{username:str}",
        guards=[STAFF],
        summary="Put a candidate back on the sitting's own terms",
    )
    async def remove_accommodation(
        self, db: DbSession, me: Me, sitting_id: PathId, username: Username
    ) -> None:
        await sittings.remove_accommodation(db, me, sitting_id, username)


def item_view(item: AttemptItem, response: Response | None) -> ItemView:
    revision = item.revision
    shown = results.shown_lists(revision.content, item.layout)
    return ItemView(
        position=item.position,
        type=revision.type,
        stem=delivery.stem(revision.stem, item.layout),
        case=revision.case_scenario,
        case_title=revision.case_title,
        options=shown.options,
        choose=revision.content.get("choose"),
        prompts=shown.prompts,
        choices=shown.choices,
        answer=response.answer if response else None,
        flagged=response.flagged if response else False,
        locked=response.locked if response else False,
        unit=revision.content.get("unit"),
    )


def attempt_view(attempt: Attempt, responses: dict[int, Response], now: datetime) -> AttemptView:
    items = [item_view(item, responses.get(item.position)) for item in attempt.items]
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
        sitting_id=attempt.sitting_id,
        attempt_number=attempt.attempt_number,
        adaptive=adaptive.progress(attempt, len(items)) if attempt.mode == "adaptive" else None,
    )


class AttemptController(Controller):
    path = "/api/v1/attempts"
    tags = ["exams"]
    guards = [SIGNED_IN]

    @post("/", summary="Start an attempt in a sitting, or at a self-study blueprint")
    async def start(
        self, db: DbSession, me: Me, writer: Writer, data: JSONBody[AttemptCreate]
    ) -> AttemptView:
        if data.sitting_id is not None and data.blueprint_id is None:
            opened = await start.start_in_sitting(db, me, data.sitting_id, data.access_code)
        elif data.blueprint_id is not None and data.sitting_id is None:
            if data.access_code is not None:
                raise InvalidInput("access_code goes with sitting_id; leave it out here")
            opened = await start.start_attempt(db, me, data.blueprint_id)
        else:
            raise InvalidInput(
                "send sitting_id (GET /api/v1/sittings lists yours) or the blueprint_id of a "
                "self-study blueprint, one of the two"
            )
        attempt, responses = await service.new_attempt(db, opened)
        writer.remember(attempt)
        return attempt_view(attempt, responses, utcnow())

    @get("/", summary="Attempts you may see: yours, and your cohorts' for instructors")
    async def list_attempts(
        self,
        db: DbSession,
        me: Me,
        user_id: QueryId = None,
        blueprint_id: FromQuery[str | None] = None,
        sitting_id: QueryId = None,
        status: FromQuery[StatusFilter | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Offset = 0,
    ) -> list[AttemptSummary]:
        await closing.close_expired_for(db, me.id)
        rows = await service.list_attempts(
            db,
            me,
            user_id=user_id,
            blueprint_id=blueprint_id,
            sitting_id=sitting_id,
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
                sitting_id=a.sitting_id,
                attempt_number=a.attempt_number,
            )
            for a, r in rows
        ]

    @get("/{attempt_id:int}", summary="State, items, saved answers and time left")
    async def get_attempt(self, db: DbSession, me: Me, attempt_id: PathId) -> AttemptView:
        attempt = await service.visible_attempt(db, me, attempt_id)
        await closing.close_if_expired(db, attempt)
        loaded, responses = await service.load_attempt(db, attempt_id, objectives=False)
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
        saved = await writer.save(request.user, attempt_id, position, data.answer, data.flagged)
        return ResponseSaved(
            position=position,
            answer=saved.answer,
            flagged=data.flagged,
            saved_at=saved.saved_at,
            server_time=saved.saved_at,
            seconds_left=saved.seconds_left,
        )

    @post(
        "/{attempt_id:int}/responses/{position:int}/check",
        status_code=200,
        summary="Practice mode: right or wrong, the key and the explanation; locks the answer",
    )
    async def check(self, db: DbSession, me: Me, attempt_id: PathId, position: PathId) -> CheckView:
        return await results.check_response(db, me, attempt_id, position)

    @post(
        "/{attempt_id:int}/next",
        status_code=200,
        summary="Adaptive practice: the question to answer now, chosen from your answers so "
        "far, or none once the session is complete",
    )
    async def next_item(self, db: DbSession, me: Me, attempt_id: PathId) -> NextItemView:
        served = await adaptive.serve_next(db, me, attempt_id)
        return NextItemView(
            attempt_id=attempt_id,
            item=None if served.item is None else item_view(served.item, served.response),
            progress=served.progress,
            theta=served.theta,
            theta_se=served.se,
            objective=served.objective,
            objective_title=served.objective_title,
        )

    @post("/{attempt_id:int}/submit", status_code=200, summary="Grade and close; idempotent")
    async def submit(self, db: DbSession, me: Me, attempt_id: PathId) -> ResultView:
        return await results.submit_for_result(db, me, attempt_id)

    @get("/{attempt_id:int}/result", summary="Scores per objective; review when released")
    async def result(self, db: DbSession, me: Me, attempt_id: PathId) -> ResultView:
        return await results.attempt_result(db, me, attempt_id)
