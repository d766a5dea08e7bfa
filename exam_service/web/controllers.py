"""Browser pages: sign-in and sign-out, the candidate's dashboard, exam and result pages,
and the instructor's bank, cohort, item-analysis and paper-exam pages (printing, grading
paper answers and scans, settling the sheets the scan reader sends to review).

Pages reuse the API's services and views, so a page never shows a candidate more than the
API would (no key, rationale or explanation before the review policy releases them).
The exam page itself carries no question text: its script reads the attempt from the API.
"""

from __future__ import annotations

import base64
import re
import string
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import FormMultiDict, UploadFile
from litestar.params import FromPath, FromQuery, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from sqlalchemy import select

from exam_service.auth import service as auth_service
from exam_service.auth.controllers import sign_in_for_token
from exam_service.auth.security import AUTH_COOKIE, PUBLIC, SIGNED_IN, STAFF, Auth, Me
from exam_service.bank import service as bank_service
from exam_service.bank.schemas import question_view
from exam_service.db import DbSession, Offset, PathId, QueryId
from exam_service.errors import ExamServiceError, InvalidInput, NotAuthenticated, RateLimited
from exam_service.exams import service as exam_service
from exam_service.exams.controllers import result_view
from exam_service.exams.schemas import ResultView, ReviewItem
from exam_service.models import Blueprint, PaperExam
from exam_service.paper import service as paper_service
from exam_service.paper.controllers import MAX_SCAN_BYTES
from exam_service.paper.document import PaperExamDocument, PaperQuestion
from exam_service.paper.scan import BLANK, FILLED, AnswerReading, SheetReading
from exam_service.paper.schemas import (
    GradedPaper,
    PaperResponse,
    RowError,
    ScanReport,
    ScanSheet,
)
from exam_service.reports import service as report_service
from exam_service.settings import AppSettings

PAGE_SIZE = 50
QUESTION_TYPES = ("single", "multiple", "ordering", "matching")
DIFFICULTIES = ("easy", "medium", "hard")
LETTERS = string.ascii_uppercase


class SignInForm(msgspec.Struct):
    username: str = ""
    password: str = ""
    next: str = "/"


class StartForm(msgspec.Struct):
    blueprint_id: str = ""


class PaperForm(msgspec.Struct):
    blueprint_id: str = ""
    title: str = ""
    forms: int = 2
    paper: str = "a4"


def _safe_next(target: str) -> str:
    """Only same-site paths, so the form cannot bounce a user to another site."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


async def _blueprints(db: DbSession) -> list[Blueprint]:
    return list((await db.scalars(select(Blueprint).order_by(Blueprint.id))).all())


async def _dashboard(
    db: DbSession, me: Any, error: str | None = None, status_code: int = 200
) -> Template:
    await exam_service.close_expired_for(db, me.id)
    blueprints = await _blueprints(db)
    names = {b.id: b.name for b in blueprints}
    attempts = await exam_service.list_attempts(
        db, me, user_id=me.id, blueprint_id=None, status=None, limit=50, offset=0
    )
    context = {
        "me": me,
        "blueprints": blueprints,
        "attempts": attempts,
        "names": names,
        "error": error,
    }
    return Template("home.html", context=context, status_code=status_code)


class PageController(Controller):
    include_in_schema = False

    @get("/", guards=[SIGNED_IN])
    async def home(self, db: DbSession, me: Me) -> Template:
        return await _dashboard(db, me)

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
            token = await sign_in_for_token(
                request, db, settings, auth, data.username, data.password
            )
        except (NotAuthenticated, RateLimited) as exc:
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

    @post("/logout", opt=PUBLIC, status_code=303)
    async def logout(self) -> Redirect:
        response = Redirect("/login", status_code=303)
        response.delete_cookie(AUTH_COOKIE)
        return response


# --- candidate pages ----------------------------------------------------------------------


def _answer_text(item: ReviewItem, answer: Any) -> str:
    """An answer in the display ids the candidate saw: "B", "A, D", "C > A > B", "1-B 2-A"."""
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
        self, db: DbSession, me: Me, data: URLEncodedBody[StartForm]
    ) -> Redirect | Template:
        try:
            attempt_id = await exam_service.start_attempt(db, me, data.blueprint_id)
        except ExamServiceError as exc:
            await db.rollback()
            return await _dashboard(db, me, error=exc.detail, status_code=exc.status_code)
        return Redirect(f"/attempts/{attempt_id}", status_code=303)

    @get("/attempts/{attempt_id:int}")
    async def exam(self, db: DbSession, me: Me, attempt_id: PathId) -> Template | Redirect:
        attempt = await exam_service.visible_attempt(db, me, attempt_id)
        await exam_service.close_if_expired(db, attempt)
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
        await exam_service.close_if_expired(db, attempt)
        result = await exam_service.result_of(db, attempt_id)
        if result is None:
            return Redirect(f"/attempts/{attempt_id}", status_code=303)
        view = await result_view(db, attempt, result, me)
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
        context = {"me": me, "cohort": cohort, "blueprints": await _blueprints(db)}
        return Template("cohort.html", context=context)

    @get("/items")
    async def items(
        self,
        db: DbSession,
        me: Me,
        blueprint_id: FromQuery[str] = "",
        cohort_id: QueryId = None,
    ) -> Template:
        blueprints = await _blueprints(db)
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
    async def paper(self, db: DbSession, me: Me) -> Template:
        return await self._paper_list(db, me)

    @post("/paper", status_code=303)
    async def create_paper(
        self, db: DbSession, me: Me, data: URLEncodedBody[PaperForm]
    ) -> Redirect | Template:
        try:
            exam = await paper_service.create_paper_exam(
                db,
                me,
                data.blueprint_id,
                (data.title.strip() or data.blueprint_id)[:200],
                max(1, min(26, data.forms)),
                None,
                data.paper if data.paper in ("a4", "letter") else "a4",
            )
        except ExamServiceError as exc:
            await db.rollback()
            return await self._paper_list(db, me, exc.detail, exc.status_code)
        return Redirect(f"/paper/{exam.id}", status_code=303)

    async def _paper_list(
        self, db: DbSession, me: Any, error: str | None = None, status_code: int = 200
    ) -> Template:
        context = {
            "me": me,
            "exams": await paper_service.list_paper_exams(db, me),
            "blueprints": await _blueprints(db),
            "error": error,
        }
        return Template("paper.html", context=context, status_code=status_code)

    @get("/paper/{exam_id:int}")
    async def paper_exam(self, db: DbSession, me: Me, exam_id: PathId) -> Template:
        exam = await paper_service.visible_paper_exam(db, me, exam_id)
        return _paper_exam_page(me, exam)

    @post("/paper/{exam_id:int}/responses", status_code=200)
    async def paper_answers(
        self, request: Request[Any, Any, Any], db: DbSession, me: Me, exam_id: PathId
    ) -> Template:
        """The CSV of paper answers, uploaded or pasted; graded as POST
        /api/v1/paper-exams/{id}/responses grades it."""
        exam = await paper_service.visible_paper_exam(db, me, exam_id)
        outcome = await _grade_answer_upload(db, me, exam, await request.form())
        status = 422 if outcome.rejected else 200
        return _paper_exam_page(me, exam, answers=outcome, status_code=status)

    @post(
        "/paper/{exam_id:int}/scans",
        status_code=200,
        request_max_body_size=MAX_SCAN_BYTES,
    )
    async def paper_scans(
        self, request: Request[Any, Any, Any], db: DbSession, me: Me, exam_id: PathId
    ) -> Template:
        """Scanned answer sheets, read and graded as POST /api/v1/paper-exams/{id}/scans
        does; the sheets that need a person come back as a review form."""
        exam = await paper_service.visible_paper_exam(db, me, exam_id)
        upload = (await request.form()).get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            outcome = ScanOutcome(
                error="Choose the file of scanned answer sheets (PDF, PNG or JPEG) first."
            )
            return _paper_exam_page(me, exam, scan=outcome, status_code=422)
        outcome = ScanOutcome(filename=upload.filename)
        data = await upload.read()
        doc = await paper_service.document(db, exam)
        try:
            if not data:
                raise InvalidInput(f"{upload.filename} is empty: choose the file the scanner saved")
            media = (upload.content_type or "").lower()
            readings = paper_service.read_scan_upload(doc, data, media)
        except InvalidInput as exc:
            outcome.error = f"{exc.detail[:1].upper()}{exc.detail[1:]}."
            return _paper_exam_page(me, exam, scan=outcome, status_code=422)
        report = await paper_service.grade_scans(db, me, exam, readings)
        outcome.state = scan_state(report, readings, doc)
        outcome.reviews = review_views(outcome.state, doc, None)
        return _paper_exam_page(me, exam, scan=outcome)

    @post(
        "/paper/{exam_id:int}/reviews",
        status_code=200,
        request_max_body_size=MAX_SCAN_BYTES,
    )
    async def paper_review(
        self, request: Request[Any, Any, Any], db: DbSession, me: Me, exam_id: PathId
    ) -> Template:
        """One reviewed sheet of the review form graded, through the same checks as paper
        answers sent to /responses; the form comes back with the sheets still to do."""
        exam = await paper_service.visible_paper_exam(db, me, exam_id)
        form = await request.form()
        outcome = ScanOutcome(filename=str(form.get("filename", "")))
        doc = await paper_service.document(db, exam)
        try:
            outcome.state = msgspec.json.decode(str(form.get("state", "")), type=ScanState)
            outcome.reviews = review_views(outcome.state, doc, form)
        except (msgspec.DecodeError, KeyError, IndexError):
            outcome.state = None
            outcome.error = (
                "This review form is incomplete (it lost the scan it was made from): upload "
                "the scan again to review its sheets."
            )
            return _paper_exam_page(me, exam, scan=outcome, status_code=422)
        chosen = str(form.get("grade", ""))
        review = next((r for r in outcome.reviews if str(r.sheet.page) == chosen), None)
        if review is None:
            outcome.error = (
                f"Page {chosen or '?'} is not waiting for review: use the Grade button of one "
                "of the sheets below."
            )
        else:
            await _grade_reviewed(db, me, exam, review, outcome)
        status = 422 if outcome.error or (review and review.errors) else 200
        return _paper_exam_page(me, exam, scan=outcome, status_code=status)


# --- paper answers and scans in the browser ----------------------------------------------


def _paper_exam_page(
    me: Any,
    exam: PaperExam,
    answers: AnswersOutcome | None = None,
    scan: ScanOutcome | None = None,
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


@dataclass
class AnswersOutcome:
    """What became of one upload of paper answers."""

    filename: str = ""
    pasted: str = ""
    partial: bool = False
    error: str | None = None
    """The upload as a whole was refused (no rows, or problems and not partial)."""
    errors: list[RowError] = field(default_factory=list)
    graded: list[GradedPaper] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return self.error is not None


async def _grade_answer_upload(
    db: DbSession, me: Any, exam: PaperExam, form: FormMultiDict
) -> AnswersOutcome:
    upload = form.get("file")
    outcome = AnswersOutcome(
        filename=upload.filename if isinstance(upload, UploadFile) else "",
        pasted=str(form.get("rows", "")),
        partial=form.get("partial") is not None,
    )
    data = await upload.read() if isinstance(upload, UploadFile) else b""
    if outcome.filename and outcome.pasted.strip():
        outcome.error = (
            "You chose a file and also pasted rows: send one of them (empty the box, or "
            "choose the file again without pasting)."
        )
    elif outcome.filename and not data:
        outcome.error = f"{outcome.filename} is empty: choose the CSV file with the answers."
    elif not outcome.filename and not outcome.pasted.strip():
        outcome.error = (
            "Choose a CSV file or paste its rows: the header candidate,form,1,2,... then one "
            "row per candidate."
        )
    if outcome.error:
        return outcome
    rows, errors = paper_service.parse_csv(data or outcome.pasted.encode("utf-8"))
    checked, row_errors = await paper_service.check_rows(db, me, exam, rows)
    outcome.errors = errors + row_errors
    if not rows and not outcome.errors:
        outcome.error = "There are no answer rows under the header: add one row per candidate."
    elif outcome.errors and not outcome.partial:
        outcome.error = (
            f"{len(outcome.errors)} problem{'s' if len(outcome.errors) != 1 else ''} in the "
            "answers; nothing was imported. Fix the lines listed below and upload again, or "
            "tick 'Grade the good rows' to grade the rest now."
        )
    else:
        outcome.graded = await paper_service.grade_rows(db, exam, checked)
    return outcome


class ReviewAnswer(msgspec.Struct):
    """One answer the scan reader could not settle."""

    number: int
    reading: str
    """What the reader saw, in words."""
    suggested: str = ""
    """The letters clearly marked: where the form's controls start."""
    crop: str = ""
    """The scanned row as base64 PNG."""

    @property
    def crop_size(self) -> tuple[int, int]:
        """The crop's width and height in pixels, from its PNG header; (0, 0) if unknown."""
        head = base64.b64decode(self.crop[:32]) if len(self.crop) >= 32 else b""
        if not head.startswith(b"\x89PNG"):
            return 0, 0
        width, height = struct.unpack(">II", head[16:24])
        return int(width), int(height)


class PendingSheet(msgspec.Struct):
    """A scanned sheet waiting for a person."""

    page: int
    form: str
    candidate: str
    candidate_number: str | None
    problems: list[str]
    answers: list[str]
    """Every answer as read, in the form's numbering; "" where under review."""
    reviews: list[ReviewAnswer]

    @property
    def status(self) -> str:
        return "review"


class ScanState(msgspec.Struct):
    """The outcome of one scan upload while it is being reviewed. The review form carries
    it in a hidden field, so the server keeps nothing between posts; it is only ever shown
    back to the instructor who sent it, and what is graded goes through check_rows."""

    done: list[ScanSheet]
    """Sheets graded, unreadable or refused (their answers left out)."""
    pending: list[PendingSheet]


def _reading(answer: AnswerReading, question_type: str) -> str:
    """The reader's view of a review answer, e.g. "A empty, B filled, C unclear"."""
    if question_type in ("ordering", "matching"):
        return "writing in the boxes (handwriting is not read): type the letters you see"
    words = [
        f"{LETTERS[i]} {'filled' if f > FILLED else 'empty' if f < BLANK else 'unclear'}"
        for i, f in enumerate(answer.fills)
    ]
    marked = sum(1 for f in answer.fills if f > FILLED)
    why = (
        "two marks on a one-answer row"
        if question_type == "single" and marked > 1
        else "a light, partial or crossed-out mark"
    )
    return f"{', '.join(words)} ({why})"


def scan_state(
    report: ScanReport, readings: Sequence[SheetReading], doc: PaperExamDocument
) -> ScanState:
    """The report of a scan upload split into finished sheets and a review list; the
    readings (one per sheet, in the same order) add what the reader saw of each bubble."""
    state = ScanState(done=[], pending=[])
    for sheet, reading in zip(report.sheets, readings, strict=True):
        if sheet.status != "review" or sheet.form is None:
            state.done.append(msgspec.structs.replace(sheet, answers=[]))
            continue
        questions = doc.form(sheet.form).questions
        reviews = []
        for shown, read in zip(sheet.answers, reading.answers, strict=True):
            if shown.status != "review":
                continue
            kind = questions[shown.number - 1].type
            marked = "".join(LETTERS[i] for i, f in enumerate(read.fills) if f > FILLED)
            if kind not in ("single", "multiple") or (kind == "single" and len(marked) > 1):
                marked = ""  # write-in boxes, or two marks on a one-answer row: no guess
            reviews.append(
                ReviewAnswer(
                    number=shown.number,
                    reading=_reading(read, kind),
                    suggested=marked,
                    crop=shown.crop_png_base64 or "",
                )
            )
        state.pending.append(
            PendingSheet(
                page=sheet.page,
                form=sheet.form,
                candidate=sheet.candidate or "",
                candidate_number=sheet.candidate_number,
                problems=sheet.problems,
                answers=[a.value for a in sheet.answers],
                reviews=reviews,
            )
        )
    return state


@dataclass
class ReviewEntry:
    """One review answer as the form shows it."""

    review: ReviewAnswer
    question: PaperQuestion
    chosen: list[str]
    """`single`/`multiple`: the letters chosen; `ordering`: [the letters typed];
    `matching`: the letter chosen for each prompt ("" for none)."""
    answer: str
    """The choice in paper notation ("B", "AC", "CADB", "BAC"; "" unanswered)."""
    error: str = ""


@dataclass
class SheetReview:
    sheet: PendingSheet
    entries: list[ReviewEntry]
    errors: list[str] = field(default_factory=list)


@dataclass
class ScanOutcome:
    """What became of one scan upload, or of one sheet graded from its review form."""

    filename: str = ""
    error: str | None = None
    state: ScanState | None = None
    reviews: list[SheetReview] = field(default_factory=list)
    graded: GradedPaper | None = None
    """The sheet just graded from the review form."""

    @property
    def state_json(self) -> str:
        return msgspec.json.encode(self.state).decode() if self.state else ""

    @property
    def pages(self) -> list[ScanSheet | PendingSheet]:
        if self.state is None:
            return []
        return sorted([*self.state.done, *self.state.pending], key=lambda s: s.page)


BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _choice(
    question: PaperQuestion, review: ReviewAnswer, page: int, form: FormMultiDict | None
) -> tuple[list[str], str, str]:
    """The reviewer's choice for one question: (chosen, paper answer, problem). Before the
    first post (`form` None) the choice is what the reader saw clearly marked."""
    name = f"p{page}-q{question.number}"
    if question.type == "matching":
        count = len(question.prompts)
        if form is None:
            return [""] * count, "", ""
        chosen = [str(form.get(f"{name}-{k}", "")).strip().upper() for k in range(1, count + 1)]
        if any(chosen) and not all(chosen):
            problem = f"Choose a match for each of the {count} prompts, or 'No answer' for all."
            return chosen, "", problem
        return chosen, "".join(chosen), ""
    if question.type == "ordering":
        text = "" if form is None else "".join(str(form.get(name, "")).split()).upper()
        return [text], text, ""
    if form is None:
        return list(review.suggested), review.suggested, ""
    sent = {str(v).strip().upper() for v in form.getall(name, [])}
    if question.type == "single" and not sent:
        return [], "", "Choose the answer you read on the sheet, or 'No answer'."
    # "" is the single-answer "No answer" button: kept in `chosen` to show it chosen
    chosen = sorted(sent if question.type == "single" else sent - {""})
    return chosen, "".join(chosen), ""


def review_views(
    state: ScanState, doc: PaperExamDocument, form: FormMultiDict | None
) -> list[SheetReview]:
    """The review form's sheets, with the choices posted in `form` (if any) kept, so a
    sheet that is not graded yet keeps what the reviewer chose. KeyError or IndexError when
    the state names a form or question the paper exam does not have."""
    views = []
    for sheet in state.pending:
        questions = doc.form(sheet.form).questions
        if form is not None:
            sheet.candidate = str(form.get(f"p{sheet.page}-candidate", "")).strip()
        entries = []
        for review in sheet.reviews:
            if not BASE64.fullmatch(review.crop):
                review.crop = ""
            if not 1 <= review.number <= len(questions):
                raise IndexError(review.number)
            question = questions[review.number - 1]
            chosen, answer, error = _choice(question, review, sheet.page, form)
            entries.append(ReviewEntry(review, question, chosen, answer, error))
        views.append(SheetReview(sheet, entries))
    return views


async def _grade_reviewed(
    db: DbSession, me: Any, exam: PaperExam, review: SheetReview, outcome: ScanOutcome
) -> None:
    """Grade one reviewed sheet like a row sent to /responses, or say what to fix."""
    sheet = review.sheet
    if any(entry.error for entry in review.entries):
        review.errors.append("Some answers are not settled yet: see the questions marked below.")
        return
    if not sheet.candidate:
        review.errors.append("Type the candidate's username, then grade the sheet again.")
        return
    answers = list(sheet.answers)
    for entry in review.entries:
        answers[entry.question.number - 1] = entry.answer
    row = PaperResponse(sheet.candidate, sheet.form, answers)
    checked, errors = await paper_service.check_rows(db, me, exam, [(sheet.page, row)])
    if errors:
        entries = {str(entry.question.number): entry for entry in review.entries}
        for problem in errors:
            if problem.column in entries:
                entries[problem.column].error = f"{problem.message}."
            else:
                review.errors.append(f"{problem.message[:1].upper()}{problem.message[1:]}.")
        return
    [graded] = await paper_service.grade_rows(db, exam, checked)
    assert outcome.state is not None
    outcome.state.pending.remove(sheet)
    outcome.state.done.append(
        ScanSheet(
            page=sheet.page,
            status="graded",
            exam_id=exam.id,
            form=sheet.form,
            candidate_number=sheet.candidate_number,
            candidate=graded.candidate,
            answers=[],
            problems=[],
            attempt_id=graded.attempt_id,
            scaled_score=graded.scaled_score,
            passed=graded.passed,
        )
    )
    outcome.reviews.remove(review)
    outcome.graded = graded
