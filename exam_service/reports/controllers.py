"""HTTP for reports: cohort, items and candidate as JSON, CSV or PDF; the score report."""

from __future__ import annotations

from typing import Literal, TypeVar, cast

from litestar import Controller, Response, get
from litestar.params import FromQuery

from exam_service.auth.security import SIGNED_IN, STAFF, Me
from exam_service.db import DbSession, PathId, QueryId, utcnow
from exam_service.errors import Conflict
from exam_service.exams import service as exams
from exam_service.exams.controllers import result_view
from exam_service.models import User
from exam_service.reports import pdf, service, tables
from exam_service.reports.schemas import CandidateReport, CohortReport, ItemReport, ScoreReport

T = TypeVar("T")
PDF = "application/pdf"
CSV = "text/csv; charset=utf-8"
Paper = Literal["a4", "letter"]


def download(body: bytes, media_type: str, filename: str) -> Response[bytes]:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def instead_of(_model: type[T], response: Response[bytes]) -> T:
    """A file returned by a handler whose documented result is the JSON model `T` (for
    `?format=csv|pdf`): Litestar sees at run time that it got a Response and sends it."""
    return cast(T, response)


class ReportController(Controller):
    path = "/api/v1/reports"
    tags = ["reports"]

    @get(
        "/cohorts/{cohort_id:int}",
        guards=[STAFF],
        summary="Cohort summary: distribution, pass rate, mastery, reliability",
    )
    async def cohort(
        self,
        db: DbSession,
        me: Me,
        cohort_id: PathId,
        blueprint_id: FromQuery[str],
        attempts: FromQuery[Literal["first", "last", "all"]] = "all",
        format: FromQuery[Literal["json", "csv", "pdf"]] = "json",
        paper: FromQuery[Paper] = "a4",
    ) -> CohortReport:
        report = await service.cohort_report(db, me, cohort_id, blueprint_id, attempts)
        name = f"cohort-{cohort_id}-{blueprint_id}"
        if format == "csv":
            return instead_of(CohortReport, download(tables.cohort_csv(report), CSV, f"{name}.csv"))
        if format == "pdf":
            items = await service.item_report(db, me, blueprint_id, cohort_id)
            body = pdf.cohort_report_pdf(report, items, paper=paper)
            return instead_of(CohortReport, download(body, PDF, f"{name}.pdf"))
        return report

    @get("/items", guards=[STAFF], summary="Item analysis per question revision")
    async def items(
        self,
        db: DbSession,
        me: Me,
        blueprint_id: FromQuery[str],
        cohort_id: QueryId = None,
        format: FromQuery[Literal["json", "csv"]] = "json",
    ) -> ItemReport:
        report = await service.item_report(db, me, blueprint_id, cohort_id)
        if format == "csv":
            csv_body = tables.items_csv(report)
            return instead_of(ItemReport, download(csv_body, CSV, f"items-{blueprint_id}.csv"))
        return report

    @get(
        "/candidates/{user_id:int}",
        guards=[SIGNED_IN],
        summary="A candidate's attempts and per-objective trend, weakest first",
    )
    async def candidate(
        self,
        db: DbSession,
        me: Me,
        user_id: PathId,
        format: FromQuery[Literal["json", "csv", "pdf"]] = "json",
        paper: FromQuery[Paper] = "a4",
    ) -> CandidateReport:
        report = await service.candidate_report(db, me, user_id)
        name = f"candidate-{report.username}"
        if format == "csv":
            return instead_of(
                CandidateReport, download(tables.candidate_csv(report), CSV, f"{name}.csv")
            )
        if format == "pdf":
            body = pdf.candidate_report_pdf(report, paper=paper)
            return instead_of(CandidateReport, download(body, PDF, f"{name}.pdf"))
        return report


@get(
    "/api/v1/attempts/{attempt_id:int}/report.pdf",
    guards=[SIGNED_IN],
    tags=["reports"],
    summary="The candidate's score report as PDF",
    media_type=PDF,
)
async def score_report(
    db: DbSession, me: Me, attempt_id: PathId, paper: FromQuery[Paper] = "a4"
) -> Response[bytes]:
    attempt = await exams.visible_attempt(db, me, attempt_id)
    await exams.close_if_expired(db, attempt)
    result = await exams.result_of(db, attempt_id)
    if result is None:
        raise Conflict(f"attempt {attempt_id} is still in progress; submit it for a score report")
    view = await result_view(db, attempt, result, me)
    owner = await db.get(User, attempt.user_id)
    leaves = [o.code for o in view.objectives if o.level == "objective"]
    report = ScoreReport(
        candidate=owner.display_name if owner else str(attempt.user_id),
        blueprint_name=str(attempt.settings.get("name", attempt.blueprint_id)),
        result=view,
        study=await service.study_sections(db, leaves),
        generated_at=utcnow(),
    )
    return download(
        pdf.score_report_pdf(report, paper=paper), PDF, f"score-report-{attempt_id}.pdf"
    )
