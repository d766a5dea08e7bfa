"""Browser pages: sign-in (sign-out is in `accounts.py`), the candidate's dashboard, exam
and result pages, and the instructor's bank, cohort, item-analysis and paper-exam pages
(printing, grading paper answers and scans, settling the sheets the scan reader sends to
review).

Pages reuse the API's services and views, so a page never shows a candidate more than the
API would (no key, rationale or explanation before the review policy releases them).
The exam page itself carries no question text: its script reads the attempt from the API.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import ValidationException
from litestar.params import FromPath, FromQuery, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from exam_service.auth import service as auth_service
from exam_service.auth.security import AUTH_COOKIE, PUBLIC, SIGNED_IN, STAFF, Auth, Me
from exam_service.bank import service as bank_service
from exam_service.bank.schemas import question_view
from exam_service.db import MAX_ID
from exam_service.errors import (
    Busy,
    ExamServiceError,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    RateLimited,
)
from exam_service.exams import closing, results, sitting_list, start
from exam_service.exams import service as exam_service
from exam_service.exams.blueprints import list_blueprints
from exam_service.exams.delivery import LETTERS
from exam_service.exams.schemas import ResultView, ReviewItem
from exam_service.exams.sittings import list_owned
from exam_service.grading import numeric
from exam_service.heavy import HeavyWork
from exam_service.http import (
    AppSettings,
    DbSession,
    Heavy,
    Offset,
    PathId,
    QueryId,
    client_address,
)
from exam_service.models import Blueprint, PaperExam
from exam_service.paper import review
from exam_service.paper import service as paper_service
from exam_service.reports import readiness
from exam_service.reports import service as report_service

PAGE_SIZE = 50
QUESTION_TYPES = ("single", "multiple", "ordering", "matching", "numeric")
DIFFICULTIES = ("easy", "medium", "hard")


class SignInForm(msgspec.Struct):
    username: str = ""
    password: str = ""
    next: str = "/"


class StartForm(msgspec.Struct):
    """A self-study blueprint to start, or a sitting (with its access code if it has one)."""

    blueprint_id: str = ""
    sitting_id: int = 0
    access_code: str = ""


class NewPaperExamForm(msgspec.Struct):
    blueprint_id: str = ""
    title: str = ""
    forms: int = 2
    paper: str = "a4"
    sitting_id: int = 0
    """A sitting of yours: the paper exam is sat in it (its blueprint, its roster)."""


def _safe_next(target: str) -> str:
    """Only same-site paths, so the form cannot bounce a user to another site."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


async def _dashboard(
    db: DbSession, me: Any, heavy: HeavyWork, error: str | None = None, status_code: int = 200
) -> Template:
    await closing.close_expired_for(db, me.id)
    blueprints = await list_blueprints(db)
    names = {b.id: b.name for b in blueprints}
    staff = me.role in ("admin", "instructor")
    attempts = await exam_service.list_attempts(
        db, me, user_id=me.id, blueprint_id=None, status=None, limit=50, offset=0
    )
    # candidates take a blueprint that is not self-study only in a sitting; staff preview any
    entries = [] if staff else await sitting_list.sitting_entries(db, me)
    chances, chances_note = [], None
    if not staff:
        try:
            chances = await readiness.open_readiness(db, heavy, me.id)
        except Busy:
            chances_note = (
                "Your chances of passing are not shown while the server is busy; reload the "
                "page in a few seconds to see them."
            )
    context = {
        "me": me,
        "blueprints": blueprints if staff else [b for b in blueprints if b.self_study],
        "sittings": {
            state: [e for e in entries if e.state == state]
            for state in ("open", "upcoming", "closed")
        },
        "attempts": attempts,
        "names": names,
        "readiness": chances,
        "readiness_note": chances_note,
        "error": error,
    }
    return Template("home.html", context=context, status_code=status_code)


class PageController(Controller):
    include_in_schema = False

    @get("/", guards=[SIGNED_IN])
    async def home(self, db: DbSession, me: Me, heavy: Heavy) -> Template:
        return await _dashboard(db, me, heavy)

    @get("/login", opt=PUBLIC)
    async def login_page(self, next: FromQuery[str] = "/") -> Template:
        return Template("login.html", context={"next": _safe_next(next), "error": None})

    @post("/login", opt=PUBLIC, status_code=303)
    async def login(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        settings: AppSettings,
        auth: Auth,
        data: URLEncodedBody[SignInForm],
    ) -> Redirect | Template:
        try:
            token = await auth_service.sign_in_for_token(
                db, settings, auth, data.username, data.password, client_address(request, settings)
            )
        except (NotAuthenticated, RateLimited, Forbidden) as exc:
            context = {
                "next": _safe_next(data.next),
                "error": exc.detail,
                "username": data.username,
            }
            return Template("login.html", context=context, status_code=exc.status_code)
        ttl = settings.token_ttl_seconds
        response = Redirect(_safe_next(data.next), status_code=303)
        response.set_cookie(
            AUTH_COOKIE,
            token,
            max_age=ttl,
            httponly=True,
            secure=not settings.is_development,
            samesite="lax",
        )
        return response


# --- candidate pages ----------------------------------------------------------------------


def _answer_text(item: ReviewItem, answer: Any) -> str:
    """An answer in the display ids the candidate saw: "B", "A, D", "C > A > B", "1-B 2-A";
    a numeric answer with its unit, "1150 s"; a numeric key with the range it accepts."""
    if item.type == "numeric":
        return numeric.shown_text(answer, item.unit) if answer is not None else "no answer"
    if not answer:
        return "no answer"
    if item.type == "matching" and isinstance(answer, dict):
        return ", ".join(f"{k}: {v}" for k, v in sorted(answer.items()))
    if item.type == "ordering":
        return " > ".join(str(a) for a in answer)
    return ", ".join(str(a) for a in answer)


def _code_key(code: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key for objective codes that orders "D2.10" after "D2.9"."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in code.split("."))


def _review_rows(view: ResultView) -> list[dict[str, Any]]:
    rows = []
    for item in view.review or []:
        key = item.key
        answer = item.answer
        choice_text = {c.id: c.text for c in item.choices}
        options = [
            {
                "id": o.id,
                "text": o.text,
                # an ordering uses every option: its answer and key are read as sequences
                "chosen": item.type != "ordering" and isinstance(answer, list) and o.id in answer,
                "correct": item.type != "ordering" and isinstance(key, list) and o.id in key,
                "rationale": item.rationales.get(o.id, ""),
            }
            for o in item.options
        ]
        pairs = [
            {
                "id": p.id,
                "text": p.text,
                "chosen": choice_text.get((answer or {}).get(p.id, ""), "no answer")
                if isinstance(answer, dict) or answer is None
                else "no answer",
                "correct": choice_text.get(key.get(p.id, ""), "") if isinstance(key, dict) else "",
                "rationale": item.rationales.get(p.id, ""),
            }
            for p in item.prompts
        ]
        rows.append(
            {
                "item": item,
                "options": options,
                "pairs": pairs,
                "answer_text": _answer_text(item, answer),
                "key_text": _answer_text(item, key),
                "key_rationale": item.rationales.get("key", "") if item.type == "numeric" else "",
                "verdict": "correct"
                if item.points >= 1
                else ("partly correct" if item.points > 0 else "incorrect"),
            }
        )
    return rows


class CandidatePages(Controller):
    """The dashboard's start form, the exam page and the result page."""

    include_in_schema = False
    guards = [SIGNED_IN]

    @post("/attempts", status_code=303)
    async def start(
        self, db: DbSession, me: Me, heavy: Heavy, data: URLEncodedBody[StartForm]
    ) -> Redirect | Template:
        try:
            if data.sitting_id:
                code = data.access_code.strip() or None
                opened = await start.start_in_sitting(db, me, data.sitting_id, code)
            else:
                opened = await start.start_attempt(db, me, data.blueprint_id)
        except ExamServiceError as exc:
            await db.rollback()
            return await _dashboard(db, me, heavy, error=exc.detail, status_code=exc.status_code)
        return Redirect(f"/attempts/{opened.id}", status_code=303)

    @get("/attempts/{attempt_id:int}")
    async def exam(self, db: DbSession, me: Me, attempt_id: PathId) -> Template | Redirect:
        attempt = await exam_service.visible_attempt(db, me, attempt_id)
        await closing.close_if_expired(db, attempt)
        if attempt.status != "in_progress":
            return Redirect(f"/attempts/{attempt_id}/result", status_code=303)
        blueprint = await db.get(Blueprint, attempt.blueprint_id)
        context = {
            "me": me,
            "attempt": attempt,
            "title": blueprint.name if blueprint else attempt.blueprint_id,
            "readonly": attempt.user_id != me.id,
        }
        return Template("exam.html", context=context)

    @get("/attempts/{attempt_id:int}/result")
    async def result(self, db: DbSession, me: Me, attempt_id: PathId) -> Template | Redirect:
        attempt = await exam_service.visible_attempt(db, me, attempt_id)
        view = await results.result_for(db, me, attempt)
        if view is None:
            return Redirect(f"/attempts/{attempt_id}", status_code=303)
        blueprint = await db.get(Blueprint, attempt.blueprint_id)
        objectives = [o for o in view.objectives if o.level == "objective"]
        weakest = sorted(objectives, key=lambda o: (o.percent, o.code))[:3]
        # depth first (D2, D2.1, D2.1.1, ..., D2.2), so each objective sits under its task
        tree = sorted(
            (o for o in view.objectives if o.level != "exam"), key=lambda o: _code_key(o.code)
        )
        context = {
            "me": me,
            "view": view,
            "title": blueprint.name if blueprint else attempt.blueprint_id,
            "weakest": weakest,
            "tree": tree,
            "review": _review_rows(view),
        }
        return Template("result.html", context=context)


# --- instructor pages ---------------------------------------------------------------------


class StaffPages(Controller):
    """Server-rendered pages over the instructor services; links lead to the API's files."""

    include_in_schema = False
    guards = [STAFF]

    @get("/bank")
    async def bank(
        self,
        db: DbSession,
        me: Me,
        objective: FromQuery[str] = "",
        type: FromQuery[str] = "",
        difficulty: FromQuery[str] = "",
        text: Annotated[str, QueryParameter(max_length=200)] = "",
        offset: Offset = 0,
    ) -> Template:
        where = bank_service.QuestionFilter(
            objective or None,
            type if type in QUESTION_TYPES else None,
            difficulty if difficulty in DIFFICULTIES else None,
            text or None,
        )
        revisions, total = await bank_service.list_questions(db, where, PAGE_SIZE, offset)
        objectives, counts = await bank_service.objective_tree(db)
        context = {
            "me": me,
            "questions": [question_view(r, r.question.status) for r in revisions],
            "total": total,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "objectives": sorted(objectives, key=lambda o: o.code),
            "counts": counts,
            "types": QUESTION_TYPES,
            "difficulties": DIFFICULTIES,
            "filters": {
                "objective": objective,
                "type": type,
                "difficulty": difficulty,
                "text": text,
            },
        }
        return Template("bank.html", context=context)

    @get("/bank/questions/{question_id:str}")
    async def question(self, db: DbSession, me: Me, question_id: FromPath[str]) -> Template:
        question = await bank_service.get_question(db, question_id)
        revisions = [question_view(r, question.status) for r in question.revisions]
        context = {"me": me, "question": question, "revisions": list(reversed(revisions))}
        return Template("question.html", context=context)

    @get("/cohorts")
    async def cohorts(self, db: DbSession, me: Me) -> Template:
        rows = await auth_service.list_cohorts(db, me)
        return Template("cohorts.html", context={"me": me, "cohorts": rows})

    @get("/cohorts/{cohort_id:int}")
    async def cohort(self, db: DbSession, me: Me, cohort_id: PathId) -> Template:
        cohort = await auth_service.visible_cohort(db, me, cohort_id)
        context = {"me": me, "cohort": cohort, "blueprints": await list_blueprints(db)}
        return Template("cohort.html", context=context)

    @get("/items")
    async def items(
        self,
        db: DbSession,
        me: Me,
        blueprint_id: FromQuery[str] = "",
        # the form's "All my cohorts" sends an empty value
        cohort: Annotated[str, QueryParameter(name="cohort_id", max_length=20)] = "",
    ) -> Template:
        cohort_id = None
        if cohort:
            if not cohort.isdigit() or not 1 <= int(cohort) <= MAX_ID:
                raise ValidationException(
                    f"cohort_id must be a cohort's id (1 to {MAX_ID}), or empty for all your"
                    f" cohorts; {cohort!r} is neither"
                )
            cohort_id = int(cohort)
        blueprints = await list_blueprints(db)
        cohorts = await auth_service.list_cohorts(db, me)
        report = None
        if blueprint_id:
            report = await report_service.item_report(db, me, blueprint_id, cohort_id)
        context = {
            "me": me,
            "blueprints": blueprints,
            "cohorts": cohorts,
            "blueprint_id": blueprint_id,
            "cohort_id": cohort_id,
            "report": report,
        }
        return Template("items.html", context=context)

    # --- paper exams ----------------------------------------------------------------------

    @get("/paper")
    async def paper(self, db: DbSession, me: Me, sitting_id: QueryId = None) -> Template:
        return await self._paper_list(db, me, chosen_sitting=sitting_id)

    @post("/paper", status_code=303)
    async def create_paper(
        self, db: DbSession, me: Me, data: URLEncodedBody[NewPaperExamForm]
    ) -> Redirect | Template:
        try:
            exam = await paper_service.create_paper_exam(
                db,
                me,
                None if data.sitting_id else data.blueprint_id,
                (data.title.strip() or data.blueprint_id)[:200],
                max(1, min(26, data.forms)),
                None,
                data.paper if data.paper in ("a4", "letter") else "a4",
                data.sitting_id or None,
            )
        except ExamServiceError as exc:
            await db.rollback()
            return await self._paper_list(db, me, exc.detail, exc.status_code)
        return Redirect(f"/paper/{exam.id}", status_code=303)

    async def _paper_list(
        self,
        db: DbSession,
        me: Any,
        error: str | None = None,
        status_code: int = 200,
        chosen_sitting: int | None = None,
    ) -> Template:
        context = {
            "me": me,
            "exams": await paper_service.list_paper_exams(db, me),
            "blueprints": await list_blueprints(db),
            "sittings": await list_owned(db, me),
            "chosen_sitting": chosen_sitting,
            "error": error,
        }
        return Template("paper.html", context=context, status_code=status_code)

    @get("/paper/{exam_id:int}")
    async def paper_exam(self, db: DbSession, me: Me, exam_id: PathId) -> Template:
        exam = await paper_service.visible_paper_exam(db, me, exam_id)
        return _paper_exam_page(me, exam)

    @post("/paper/{exam_id:int}/responses", status_code=200)
    async def paper_answers(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        me: Me,
        heavy: Heavy,
        exam_id: PathId,
    ) -> Template:
        """The CSV of paper answers, uploaded or pasted; graded as POST
        /api/v1/paper-exams/{id}/responses grades it."""
        exam = await paper_service.visible_paper_exam(db, me, exam_id)
        form = await request.form()
        upload = form.get("file")
        outcome = review.AnswersOutcome(
            filename=upload.filename if isinstance(upload, UploadFile) else "",
            pasted=str(form.get("rows", "")),
            partial=form.get("partial") is not None,
        )
        data = await upload.read() if isinstance(upload, UploadFile) else b""
        outcome = await review.grade_answer_upload(db, heavy, me, exam, outcome, data)
        status = 422 if outcome.rejected else 200
        return _paper_exam_page(me, exam, answers=outcome, status_code=status)

    @post(
        "/paper/{exam_id:int}/scans",
        status_code=200,
        request_max_body_size=paper_service.MAX_SCAN_BYTES,
    )
    async def paper_scans(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        me: Me,
        heavy: Heavy,
        exam_id: PathId,
    ) -> Template:
        """Scanned answer sheets, read and graded as POST /api/v1/paper-exams/{id}/scans
        does; the sheets that need a person come back as a review form."""
        exam = await paper_service.visible_paper_exam(db, me, exam_id)
        upload = (await request.form()).get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            outcome = review.ScanOutcome(
                error="Choose the file of scanned answer sheets (PDF, PNG or JPEG) first."
            )
            return _paper_exam_page(me, exam, scan=outcome, status_code=422)
        outcome = review.ScanOutcome(filename=upload.filename)
        data = await upload.read()
        doc = await paper_service.document(db, exam)
        try:
            if not data:
                raise InvalidInput(f"{upload.filename} is empty: choose the file the scanner saved")
            media = (upload.content_type or "").lower()
            readings = await heavy.run(paper_service.read_scan_upload, doc, data, media)
        except InvalidInput as exc:
            outcome.error = f"{exc.detail[:1].upper()}{exc.detail[1:]}."
            return _paper_exam_page(me, exam, scan=outcome, status_code=422)
        report = await paper_service.grade_scans(db, me, exam, readings)
        outcome.state = review.scan_state(report, readings, doc)
        outcome.reviews = review.review_views(outcome.state, doc, None)
        return _paper_exam_page(me, exam, scan=outcome)

    @post(
        "/paper/{exam_id:int}/reviews",
        status_code=200,
        request_max_body_size=paper_service.MAX_SCAN_BYTES,
    )
    async def paper_review(
        self, request: Request[Any, Any, Any], db: DbSession, me: Me, exam_id: PathId
    ) -> Template:
        """One reviewed sheet of the review form graded, through the same checks as paper
        answers sent to /responses; the form comes back with the sheets still to do."""
        exam = await paper_service.visible_paper_exam(db, me, exam_id)
        form = await request.form()
        outcome = review.ScanOutcome(filename=str(form.get("filename", "")))
        doc = await paper_service.document(db, exam)
        try:
            outcome.state = msgspec.json.decode(str(form.get("state", "")), type=review.ScanState)
            outcome.reviews = review.review_views(outcome.state, doc, form)
        except (msgspec.DecodeError, KeyError, IndexError):
            outcome.state = None
            outcome.error = (
                "This review form is incomplete (it lost the scan it was made from): upload "
                "the scan again to review its sheets."
            )
            return _paper_exam_page(me, exam, scan=outcome, status_code=422)
        chosen = str(form.get("grade", ""))
        sheet = next((r for r in outcome.reviews if str(r.sheet.page) == chosen), None)
        if sheet is None:
            outcome.error = (
                f"Page {chosen or '?'} is not waiting for review: use the Grade button of one "
                "of the sheets below."
            )
        else:
            await review.grade_reviewed(db, me, exam, sheet, outcome)
        status = 422 if outcome.error or (sheet and sheet.errors) else 200
        return _paper_exam_page(me, exam, scan=outcome, status_code=status)


# --- paper answers and scans in the browser ----------------------------------------------


def _paper_exam_page(
    me: Any,
    exam: PaperExam,
    answers: review.AnswersOutcome | None = None,
    scan: review.ScanOutcome | None = None,
    status_code: int = 200,
) -> Template:
    context = {
        "me": me,
        "exam": exam,
        "question_count": len(exam.forms[0].items) if exam.forms else 0,
        "answers": answers,
        "scan": scan,
        "letters": LETTERS,
    }
    return Template("paper_exam.html", context=context, status_code=status_code)
