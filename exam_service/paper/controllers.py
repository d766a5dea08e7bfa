"""HTTP for paper exams: create, print (booklets, keys, answer sheets), grade paper answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromQuery, JSONBody, QueryParameter

from exam_service.auth.security import STAFF, Me
from exam_service.errors import InvalidInput
from exam_service.heavy import HeavyWork
from exam_service.http import CSV, PDF, DbSession, Heavy, PathId, download
from exam_service.models import PaperExam
from exam_service.paper import pdf, service
from exam_service.paper.schemas import (
    PaperExamCreate,
    PaperExamView,
    PaperImportReport,
    PaperResponses,
    ScanReport,
)


async def printed(heavy: HeavyWork, render: Callable[..., bytes], *args: Any) -> bytes:
    """Run a printer in a worker process; its ValueErrors (too many questions for one
    sheet, a bad candidate number) are the caller's to fix, so they become 422s."""
    try:
        return await heavy.run(render, *args)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def paper_view(exam: PaperExam) -> PaperExamView:
    return PaperExamView(
        id=exam.id,
        blueprint_id=exam.blueprint_id,
        title=exam.title,
        forms=[f.code for f in exam.forms],
        seed=exam.seed,
        paper=exam.paper,
        question_count=len(exam.forms[0].items) if exam.forms else 0,
        time_limit_seconds=exam.settings.get("time_limit_seconds"),
        created_at=exam.created_at,
        sitting_id=exam.sitting_id,
    )


class PaperExamController(Controller):
    path = "/api/v1/paper-exams"
    tags = ["paper"]
    guards = [STAFF]

    @post("/", summary="Draw a paper exam in 1-26 shuffled forms, on its own or in a sitting")
    async def create(self, db: DbSession, me: Me, data: JSONBody[PaperExamCreate]) -> PaperExamView:
        exam = await service.create_paper_exam(
            db,
            me,
            data.blueprint_id,
            data.title,
            data.forms,
            data.seed,
            data.paper,
            data.sitting_id,
        )
        return paper_view(exam)

    @get("/", summary="Your paper exams (admins: all)")
    async def list_exams(self, db: DbSession, me: Me) -> list[PaperExamView]:
        return [paper_view(e) for e in await service.list_paper_exams(db, me)]

    @get("/{exam_id:int}", summary="One paper exam")
    async def get_exam(self, db: DbSession, me: Me, exam_id: PathId) -> PaperExamView:
        return paper_view(await service.visible_paper_exam(db, me, exam_id))

    @get("/{exam_id:int}/booklet.pdf", summary="The question booklet of one form", media_type=PDF)
    async def booklet(
        self, db: DbSession, me: Me, heavy: Heavy, exam_id: PathId, form: FromQuery[str] = "A"
    ) -> Any:
        exam = await service.visible_paper_exam(db, me, exam_id)
        code = service.form_of(exam, form).code
        doc = await service.document(db, exam)
        body = await printed(heavy, pdf.booklet_pdf, doc, code)
        return download(body, PDF, f"exam-{exam_id}-form-{code}.pdf")

    @get("/{exam_id:int}/key.pdf", summary="The key of one form (PDF, or ?format=csv)")
    async def key(
        self,
        db: DbSession,
        me: Me,
        heavy: Heavy,
        exam_id: PathId,
        form: FromQuery[str] = "A",
        format: FromQuery[str] = "pdf",
    ) -> Any:
        exam = await service.visible_paper_exam(db, me, exam_id)
        code = service.form_of(exam, form).code
        doc = await service.document(db, exam)
        name = f"exam-{exam_id}-form-{code}-key"
        if format == "csv":
            return download(service.key_csv(doc, code), CSV, f"{name}.csv")
        if format != "pdf":
            raise InvalidInput(f"format {format!r} is not offered; use pdf or csv")
        return download(await printed(heavy, pdf.key_pdf, doc, code), PDF, f"{name}.pdf")

    @get(
        "/{exam_id:int}/answer-sheets.pdf",
        summary="One bubble sheet per candidate (candidates=alice,bob and/or blank=N; in a "
        "sitting, its roster unless candidates are named)",
        media_type=PDF,
    )
    async def answer_sheets(
        self,
        db: DbSession,
        me: Me,
        heavy: Heavy,
        exam_id: PathId,
        form: FromQuery[str] = "A",
        candidates: FromQuery[str] = "",
        blank: Annotated[int, QueryParameter(ge=0, le=500)] = 0,
    ) -> Any:
        exam = await service.visible_paper_exam(db, me, exam_id)
        code = service.form_of(exam, form).code
        people = await service.sheet_candidates(
            db, me, candidates.split(","), blank, exam.sitting_id
        )
        doc = await service.document(db, exam)
        body = await printed(heavy, pdf.answer_sheets_pdf, doc, code, people)
        return download(body, PDF, f"exam-{exam_id}-form-{code}-answer-sheets.pdf")

    @post(
        "/{exam_id:int}/responses",
        status_code=200,
        summary="Paper answers (JSON or CSV) graded into attempts with source=paper",
    )
    async def responses(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        me: Me,
        heavy: Heavy,
        exam_id: PathId,
        partial: FromQuery[bool] = False,
    ) -> PaperImportReport:
        """A batch with any error imports nothing, unless `partial=true`: then the good rows
        are graded and the errors are listed."""
        exam = await service.visible_paper_exam(db, me, exam_id)
        body = await request.body()
        media = request.headers.get("content-type", "").split(";")[0].strip()
        if media == "text/csv":
            rows, errors = await heavy.run(service.parse_csv, body)
        else:
            try:
                parsed = msgspec.json.decode(body, type=PaperResponses)
            except msgspec.DecodeError as exc:
                raise InvalidInput(
                    f"the body is not the expected JSON ({exc}); send "
                    '{"responses": [{"candidate": "...", "form": "A", "answers": ["B", ...]}]} '
                    "or a text/csv file"
                ) from None
            rows = list(enumerate(parsed.responses, 1))
            errors = []
        checked, row_errors = await service.check_rows(db, me, exam, rows)
        errors += row_errors
        if errors and not partial:
            raise InvalidInput(
                f"{len(errors)} problem(s) in the answers; nothing was imported. Fix them, or "
                "send again with ?partial=true to grade the good rows",
                extra={"errors": [msgspec.to_builtins(e) for e in errors]},
            )
        graded = await service.grade_rows(db, exam, checked)
        return PaperImportReport(imported=graded, errors=errors)

    @post(
        "/{exam_id:int}/scans",
        status_code=200,
        request_max_body_size=service.MAX_SCAN_BYTES,
        summary="Scanned answer sheets (PNG, JPEG or PDF) read, and graded where certain",
    )
    async def scans(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        me: Me,
        heavy: Heavy,
        exam_id: PathId,
    ) -> ScanReport:
        """Send the file as the body with its content type, or as the multipart field
        `file`. Sheets with an uncertain mark come back as `review` with a crop of each
        uncertain row; settle them and send their answers to /responses."""
        exam = await service.visible_paper_exam(db, me, exam_id)
        data, media = await _upload(request)
        doc = await service.document(db, exam)
        readings = await heavy.run(service.read_scan_upload, doc, data, media)
        return await service.grade_scans(db, me, exam, readings)


async def _upload(request: Request[Any, Any, Any]) -> tuple[bytes, str]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media.startswith("multipart/"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("send the scan in the multipart field 'file'")
        return await upload.read(), (upload.content_type or "").lower()
    return await request.body(), media
