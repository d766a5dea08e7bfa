"""HTTP for the bank: the objective tree and the questions with their revisions."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, QueryParameter

from exam_service.auth.security import SIGNED_IN, STAFF
from exam_service.bank import interchange, service
from exam_service.bank.schemas import (
    ImportReport,
    ObjectiveView,
    QuestionDetail,
    QuestionPage,
    question_view,
)
from exam_service.errors import InvalidInput
from exam_service.http import DbSession, Heavy, Offset


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
        type: FromQuery[
            Literal["single", "multiple", "ordering", "matching", "numeric"] | None
        ] = None,
        difficulty: FromQuery[Literal["easy", "medium", "hard"] | None] = None,
        text: Annotated[
            str | None,
            QueryParameter(description="Words in the stem or the id", max_length=200),
        ] = None,
        status: FromQuery[Literal["active", "retired", "all"]] = "active",
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Offset = 0,
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


class BankFileController(Controller):
    """Quiz files in and out: GIFT, Aiken, Moodle XML or the bank's YAML; QTI 3 out."""

    path = "/api/v1/bank"
    tags = ["bank"]
    guards = [STAFF]

    @post("/imports", status_code=200, summary="Import a GIFT, Aiken, Moodle XML or YAML file")
    async def import_file(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        heavy: Heavy,
        format: FromQuery[str | None] = None,
        name: FromQuery[str] = "upload",
        default_objective: FromQuery[str | None] = None,
        mapping: Annotated[
            str | None,
            QueryParameter(description="JSON object: category path or tag -> objective code"),
        ] = None,
        dry_run: FromQuery[bool] = False,
        partial: FromQuery[bool] = False,
        overwrite: Annotated[
            bool,
            QueryParameter(
                description="Replace bank questions whose id the file reuses with other "
                "content (or that are retired); without it such a file is refused (409)"
            ),
        ] = False,
    ) -> ImportReport:
        """The file is the multipart field `file`, or the raw body (then `name` names it
        in messages). A file with errors imports nothing unless `partial=true`; with
        `dry_run=true` nothing is stored and the counts say what would change. A file that
        would change a question already in the bank is refused unless `overwrite=true`."""
        data, filename = await uploaded(request, name)
        fields = dict((await request.form()).items()) if is_multipart(request) else {}
        rules = _mapping(str(fields.get("mapping") or mapping or "") or None)
        objectives = await service.objective_specs(db)
        parsed = await heavy.run(
            interchange.parse_import,
            filename,
            data,
            str(fields.get("format") or format or "") or None,
            objectives,
            rules,
            str(fields.get("default_objective") or default_objective or "") or None,
        )
        report = ImportReport(
            file=filename,
            format=parsed.format,
            dry_run=dry_run,
            created=0,
            updated=0,
            unchanged=0,
            questions=[spec.id for spec in parsed.specs],
            errors=[str(i) for i in parsed.errors],
            skipped=[str(i) for i in parsed.skipped],
            warnings=[str(i) for i in parsed.warnings],
        )
        if parsed.errors and not partial:
            raise InvalidInput(
                f"{len(parsed.errors)} question(s) in {filename} cannot be imported; nothing "
                "was imported. Fix them, or send again with partial=true to import the rest",
                extra={"errors": report.errors, "skipped": report.skipped},
            )
        counts = await service.import_questions(
            db, parsed.specs, dry_run=dry_run, overwrite=overwrite, file=filename
        )
        report.created, report.updated, report.unchanged = (
            counts.created,
            counts.updated,
            counts.unchanged,
        )
        report.warnings += [
            f"{filename} [{qid}]: replaces the bank's question {qid!r} (overwrite=true); "
            "its earlier revisions are kept"
            for qid in counts.replaced
        ]
        return report

    @get("/export", summary="The active bank as YAML, GIFT, Moodle XML or a QTI 3 package")
    async def export(
        self,
        db: DbSession,
        heavy: Heavy,
        format: FromQuery[Literal["yaml", "gift", "moodle-xml", "qti"]] = "yaml",
    ) -> Response[bytes]:
        questions = await service.current_specs(db)
        body, media, extension = await heavy.run(
            interchange.export_bank, format, questions, await service.objective_specs(db)
        )
        return Response(
            body,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="bank.{extension}"'},
        )


def is_multipart(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/")


async def uploaded(request: Request[Any, Any, Any], name: str) -> tuple[bytes, str]:
    """The uploaded file and its name: the multipart field `file`, or the raw body."""
    if is_multipart(request):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("send the file in the multipart field 'file'")
        return await upload.read(), upload.filename or name
    return await request.body(), name


def _mapping(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f'mapping is not JSON ({exc}); send an object such as {{"Tuning": "D2.2.4"}}'
        ) from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidInput("mapping must be a JSON object from category or tag to objective code")
    return {str(k): v for k, v in value.items()}
