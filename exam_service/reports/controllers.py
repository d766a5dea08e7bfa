"""HTTP for reports: cohort, items, candidate and sitting as JSON, CSV or PDF; the score
report, and a sitting's score reports as one streamed ZIP."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, Response, get
from litestar.params import FromQuery
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncEngine

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
from exam_service.reports import (
    pdf,
    readiness,
    score_zip,
    service,
    sitting_pdf,
    sitting_report,
    tables,
)
from exam_service.reports.schemas import (
    CandidateReport,
    CohortReport,
    ItemReport,
    ReadinessReport,
    SittingReport,
)

Paper = Literal["a4", "letter"]
ZIP = "application/zip"


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
        blueprint_id: FromQuery[str | None] = None,
        sitting_id: QueryId = None,
        attempts: FromQuery[Literal["first", "last", "all"]] = "all",
        format: FromQuery[Literal["json", "csv", "pdf"]] = "json",
        paper: FromQuery[Paper] = "a4",
    ) -> CohortReport:
        """`blueprint_id`, or `sitting_id` for only that sitting's attempts (its blueprint)."""
        blueprint = await sitting_report.report_blueprint(db, me, blueprint_id, sitting_id)
        report = await service.cohort_report(db, me, cohort_id, blueprint, attempts, sitting_id)
        name = f"cohort-{cohort_id}-" + (f"sitting-{sitting_id}" if sitting_id else blueprint)
        if format == "csv":
            return instead_of(CohortReport, download(tables.cohort_csv(report), CSV, f"{name}.csv"))
        if format == "pdf":
            items = await service.item_report(db, me, blueprint, cohort_id, sitting_id)
            body = await heavy.run(pdf.cohort_report_pdf, report, items, paper=paper)
            return instead_of(CohortReport, download(body, PDF, f"{name}.pdf"))
        return report

    @get("/items", guards=[STAFF], summary="Item analysis per question revision")
    async def items(
        self,
        db: DbSession,
        me: Me,
        blueprint_id: FromQuery[str | None] = None,
        cohort_id: QueryId = None,
        sitting_id: QueryId = None,
        format: FromQuery[Literal["json", "csv"]] = "json",
    ) -> ItemReport:
        """`blueprint_id`, or `sitting_id` for only that sitting's attempts (its blueprint)."""
        blueprint = await sitting_report.report_blueprint(db, me, blueprint_id, sitting_id)
        report = await service.item_report(db, me, blueprint, cohort_id, sitting_id)
        if format == "csv":
            csv_body = tables.items_csv(report)
            name = f"items-sitting-{sitting_id}" if sitting_id else f"items-{blueprint}"
            return instead_of(ItemReport, download(csv_body, CSV, f"{name}.csv"))
        return report

    @get(
        "/sittings/{sitting_id:int}",
        guards=[STAFF],
        summary="A sitting: each candidate's counted score, attempts and accommodation, "
        "who has not started, and the summary figures",
    )
    async def sitting(
        self,
        db: DbSession,
        me: Me,
        heavy: Heavy,
        sitting_id: PathId,
        format: FromQuery[Literal["json", "csv", "pdf"]] = "json",
        paper: FromQuery[Paper] = "a4",
    ) -> SittingReport:
        report = await sitting_report.sitting_report(db, me, sitting_id)
        name = f"sitting-{sitting_id}"
        if format == "csv":
            body = tables.sitting_csv(report)
            return instead_of(SittingReport, download(body, CSV, f"{name}.csv"))
        if format == "pdf":
            body = await heavy.run(sitting_pdf.sitting_report_pdf, report, paper=paper)
            return instead_of(SittingReport, download(body, PDF, f"{name}.pdf"))
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
        # the CSV is the attempts and trends alone; JSON and PDF add readiness
        report = await service.candidate_report(
            db, me, user_id, heavy=None if format == "csv" else heavy
        )
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
        "/candidates/{user_id:int}/readiness",
        guards=[SIGNED_IN],
        summary="The chance that a candidate passes a blueprint, with its 90% interval, the "
        "expected score and the objectives that hold them back",
    )
    async def candidate_readiness(
        self, db: DbSession, me: Me, heavy: Heavy, user_id: PathId, blueprint_id: FromQuery[str]
    ) -> ReadinessReport:
        """From the candidate's recent answers (each question once, by its latest answer,
        weighted by age; see the README, "Calibration and ability"). With too little data
        `enough_data` is false and `summary` says how many more answers would help."""
        return await readiness.readiness_report(db, heavy, me, user_id, blueprint_id)


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


@get(
    "/api/v1/sittings/{sitting_id:int}/score-reports.zip",
    guards=[STAFF],
    tags=["reports"],
    summary="Every counted attempt's score report in a sitting, as one ZIP of PDFs (streamed)",
    media_type=ZIP,
)
async def sitting_score_reports(
    db: DbSession, me: Me, heavy: Heavy, sitting_id: PathId, paper: FromQuery[Paper] = "a4"
) -> Stream:
    """`index.csv` (each candidate and their files), then one PDF per counted attempt, each
    as its candidate sees it; see `exam_service/reports/score_zip.py`."""
    plan = await score_zip.zip_plan(db, me, sitting_id)
    engine = db.bind
    assert isinstance(engine, AsyncEngine)
    return Stream(
        score_zip.zip_chunks(engine, heavy, plan, paper),
        media_type=ZIP,
        headers={
            "Content-Disposition": f'attachment; filename="sitting-{sitting_id}-score-reports.zip"'
        },
    )
