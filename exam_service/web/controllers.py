"""Browser pages: sign-in and sign-out, the candidate's dashboard, exam and result pages,
and the instructor's bank, cohort, item-analysis and paper-exam pages.

Pages reuse the API's services and views, so a page never shows a candidate more than the
API would (no key, rationale or explanation before the review policy releases them).
The exam page itself carries no question text: its script reads the attempt from the API.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from sqlalchemy import select

from exam_service.auth import service as auth_service
from exam_service.auth.controllers import sign_in_for_token
from exam_service.auth.security import AUTH_COOKIE, PUBLIC, SIGNED_IN, STAFF, Auth, Me
from exam_service.bank import service as bank_service
from exam_service.bank.schemas import question_view
from exam_service.db import DbSession
from exam_service.errors import ExamServiceError, NotAuthenticated, RateLimited
from exam_service.exams import service as exam_service
from exam_service.exams.controllers import result_view
from exam_service.exams.schemas import ResultView, ReviewItem
from exam_service.models import Blueprint
from exam_service.paper import service as paper_service
from exam_service.reports import service as report_service
from exam_service.settings import AppSettings

PAGE_SIZE = 50
QUESTION_TYPES = ("single", "multiple", "ordering", "matching")
DIFFICULTIES = ("easy", "medium", "hard")


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
    async def exam(self, db: DbSession, me: Me, attempt_id: FromPath[int]) -> Template | Redirect:
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
    async def result(self, db: DbSession, me: Me, attempt_id: FromPath[int]) -> Template | Redirect:
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
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
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
    async def cohort(self, db: DbSession, me: Me, cohort_id: FromPath[int]) -> Template:
        cohort = await auth_service.visible_cohort(db, me, cohort_id)
        context = {"me": me, "cohort": cohort, "blueprints": await _blueprints(db)}
        return Template("cohort.html", context=context)

    @get("/items")
    async def items(
        self,
        db: DbSession,
        me: Me,
        blueprint_id: FromQuery[str] = "",
        cohort_id: FromQuery[int | None] = None,
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

    @get("/paper")
    async def paper(self, db: DbSession, me: Me) -> Template:
        return await self._paper_page(db, me)

    @post("/paper", status_code=303)
    async def create_paper(
        self, db: DbSession, me: Me, data: URLEncodedBody[PaperForm]
    ) -> Redirect | Template:
        try:
            await paper_service.create_paper_exam(
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
            return await self._paper_page(db, me, exc.detail, exc.status_code)
        return Redirect("/paper", status_code=303)

    async def _paper_page(
        self, db: DbSession, me: Any, error: str | None = None, status_code: int = 200
    ) -> Template:
        context = {
            "me": me,
            "exams": await paper_service.list_paper_exams(db, me),
            "blueprints": await _blueprints(db),
            "error": error,
        }
        return Template("paper.html", context=context, status_code=status_code)
