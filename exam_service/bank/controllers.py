"""HTTP for the bank: the objective tree and the questions with their revisions."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get
from litestar.params import FromPath, FromQuery, QueryParameter

from exam_service.auth.security import SIGNED_IN, STAFF
from exam_service.bank import service
from exam_service.bank.schemas import (
    ObjectiveView,
    QuestionDetail,
    QuestionPage,
    question_view,
)
from exam_service.db import DbSession


class ObjectiveController(Controller):
    path = "/api/v1/objectives"
    tags = ["bank"]
    guards = [SIGNED_IN]

    @get("/", summary="The objective tree with question counts per node")
    async def tree(self, db: DbSession) -> list[ObjectiveView]:
        objectives, counts = await service.objective_tree(db)
        views = {
            o.id: ObjectiveView(o.code, o.title, o.level, o.weight, counts[o.id], [])
            for o in objectives
        }
        roots: list[ObjectiveView] = []
        for o in sorted(objectives, key=lambda o: (o.position, o.id)):
            (views[o.parent_id].children if o.parent_id else roots).append(views[o.id])
        return roots


class QuestionController(Controller):
    """The bank with keys and rationales: instructors and admins only."""

    path = "/api/v1/questions"
    tags = ["bank"]
    guards = [STAFF]

    @get("/", summary="The bank's questions with keys, filtered and paginated")
    async def list_questions(
        self,
        db: DbSession,
        objective: Annotated[
            str | None,
            QueryParameter(description="An objective code; includes every node below it"),
        ] = None,
        type: FromQuery[Literal["single", "multiple", "ordering", "matching"] | None] = None,
        difficulty: FromQuery[Literal["easy", "medium", "hard"] | None] = None,
        text: Annotated[
            str | None,
            QueryParameter(description="Words in the stem or the id", max_length=200),
        ] = None,
        status: FromQuery[Literal["active", "retired", "all"]] = "active",
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> QuestionPage:
        where = service.QuestionFilter(objective, type, difficulty, text, status)
        revisions, total = await service.list_questions(db, where, limit, offset)
        items = [question_view(r, r.question.status) for r in revisions]
        return QuestionPage(items=items, total=total, limit=limit, offset=offset)

    @get("/{question_id:str}", summary="One question with all its revisions")
    async def get_question(self, db: DbSession, question_id: FromPath[str]) -> QuestionDetail:
        question = await service.get_question(db, question_id)
        revisions = [question_view(r, question.status) for r in question.revisions]
        current = next(r for r in revisions if r.revision == question.current_revision)
        return QuestionDetail(
            id=question.id,
            status=question.status,
            current_revision=question.current_revision,
            retired_at=question.retired_at,
            current=current,
            revisions=revisions,
        )
