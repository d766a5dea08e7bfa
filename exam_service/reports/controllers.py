"""HTTP for reports: cohort, items and candidate as JSON, CSV or PDF; the score report."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, Response, get
from litestar.params import FromQuery

from exam_service.auth.security import SIGNED_IN, STAFF, Me
from exam_service.http import (
    CSV,
    PDF,
    DbSession,
    Heavy,
    PathId,
    QueryId,
    download,
    instead_of,
)
from exam_service.reports import pdf, service, tables
from exam_service.reports.schemas import CandidateReport, CohortReport, ItemReport

Paper = Literal["a4", "letter"]


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
        heavy: Heavy,
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
            body = await heavy.run(pdf.cohort_report_pdf, report, items, paper=paper)
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
        heavy: Heavy,
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
            body = await heavy.run(pdf.candidate_report_pdf, report, paper=paper)
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
    db: DbSession, me: Me, heavy: Heavy, attempt_id: PathId, paper: FromQuery[Paper] = "a4"
) -> Response[bytes]:
    report = await service.score_report(db, me, attempt_id)
    body = await heavy.run(pdf.score_report_pdf, report, paper=paper)
    return download(body, PDF, f"score-report-{attempt_id}.pdf")
