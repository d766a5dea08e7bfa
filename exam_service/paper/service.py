"""Paper exam DB work: create the forms, build the printable document, grade paper answers."""

from __future__ import annotations

import base64
import csv
import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.auth.access import may_see_user
from exam_service.auth.schemas import CurrentUser
from exam_service.bank.templates import TemplateError
from exam_service.db import utcnow
from exam_service.errors import Conflict, InvalidInput, NotFound
from exam_service.exams import assembly
from exam_service.exams.blueprints import exam_spec, get_blueprint
from exam_service.exams.closing import close_attempt
from exam_service.exams.delivery import AnswerRejected, answer_spec
from exam_service.exams.pool import objective_parents, question_pool
from exam_service.exams.start import snapshot, undrawable
from exam_service.grading.numeric import number_text, numeric_key
from exam_service.models import (
    Attempt,
    AttemptItem,
    PaperExam,
    PaperForm,
    QuestionRevision,
    Response,
    Result,
    User,
)
from exam_service.paper.answers import parse_answer
from exam_service.paper.document import (
    INSTRUCTIONS,
    PaperExamDocument,
    PaperQuestion,
    PrintedForm,
    SheetCandidate,
)
from exam_service.paper.forms import make_forms, printed_form
from exam_service.paper.scan import SheetReading, read_scans
from exam_service.paper.schemas import (
    GradedPaper,
    PaperResponse,
    RowError,
    ScanAnswer,
    ScanReport,
    ScanSheet,
)
from exam_service.paper.sheet import (
    NUMERIC_COLUMNS,
    SheetLayout,
    form_sheet,
    grid_text,
    sheet_layout,
)
from exam_service.paper.sitting import (
    candidate_number,
    next_number,
    roster_sheets,
    sitting_for_paper,
    sitting_problem,
)

MAX_SCAN_BYTES = 64 * 1024 * 1024
"""Scans of a whole room are large: the scan routes take up to 64 MiB (others:
EXAM_MAX_BODY_BYTES)."""


async def create_paper_exam(
    session: AsyncSession,
    me: CurrentUser,
    blueprint_id: str | None,
    title: str,
    forms: int,
    seed: int | None,
    paper: str,
    sitting_id: int | None = None,
) -> PaperExam:
    """Draw one question set to the blueprint (a sitting's, with `sitting_id`: see
    `paper/sitting.py`) and lay it out in `forms` forms. Without a `seed`, up to `DRAWS`
    random draws are tried until every form's answers fit one answer sheet (numeric
    questions' digit grids take room: `sheet_problem`); if none does, the first is kept
    and the answer-sheet printout says what does not fit, as it does for a given seed."""
    if sitting_id is not None:
        blueprint_id = (await sitting_for_paper(session, me, sitting_id, blueprint_id)).blueprint_id
    if blueprint_id is None:
        raise InvalidInput(
            "send blueprint_id, or sitting_id for a paper exam sat in a sitting (its blueprint)"
        )
    blueprint = await get_blueprint(session, blueprint_id)
    pool = await question_pool(session)
    parents = await objective_parents(session)
    tries = 1 if seed is not None else DRAWS
    fitting = None
    for _ in range(tries):
        seed = secrets.randbits(62) if tries > 1 else seed
        assert seed is not None
        try:
            chosen = assembly.assemble(exam_spec(blueprint), pool, parents, seed)
            laid_out = make_forms(chosen, pool, forms, seed, blueprint.shuffle_options)
        except assembly.ShortOfQuestions as exc:
            raise InvalidInput(str(exc)) from None
        except TemplateError as exc:
            raise undrawable(exc) from None
        fitting = fitting or (seed, laid_out)
        if sheet_problem(laid_out, pool, paper) is None:
            fitting = (seed, laid_out)
            break
    assert fitting is not None
    seed, laid_out = fitting
    exam = PaperExam(
        blueprint_id=blueprint.id,
        title=title.strip(),
        seed=seed,
        paper=paper,
        created_by=me.id,
        created_at=utcnow(),
        settings=snapshot(blueprint),
        sitting_id=sitting_id,
        forms=[
            PaperForm(
                code=code,
                items=[
                    {
                        "revision_id": i.revision_id,
                        "scored": i.scored,
                        "layout": assembly.layout_of(i),
                    }
                    for i in items
                ],
            )
            for code, items in laid_out.items()
        ],
    )
    session.add(exam)
    await session.commit()
    return await visible_paper_exam(session, me, exam.id)


DRAWS = 20
"""Draws tried for a paper exam without a seed until one fits the answer sheet."""


def sheet_problem(
    laid_out: dict[str, list[assembly.DrawnItem]], pool: Sequence[assembly.PoolQuestion], paper: str
) -> str | None:
    """Why a form's questions do not fit one answer sheet on `paper` (too many rows, or
    numeric questions' digit grids), or None when every form fits."""
    kinds = {question.question_id: question.type for question in pool}
    for items in laid_out.values():
        questions = [
            PaperQuestion(
                number=number,
                type=kinds[item.question_id],
                stem="",
                options=("",) * len(item.option_order),
                prompts=("",) * len(item.prompt_order),
            )
            for number, item in enumerate(items, 1)
        ]
        try:
            sheet_layout(paper, questions)
        except ValueError as exc:
            return str(exc)
    return None


async def visible_paper_exam(session: AsyncSession, me: CurrentUser, exam_id: int) -> PaperExam:
    exam = await session.get(PaperExam, exam_id, populate_existing=True)
    if exam is None or (me.role != "admin" and exam.created_by != me.id):
        raise NotFound(
            f"there is no paper exam {exam_id} of yours; GET /api/v1/paper-exams lists them"
        )
    await session.refresh(exam, ["forms"])
    return exam


async def list_paper_exams(session: AsyncSession, me: CurrentUser) -> Sequence[PaperExam]:
    query = select(PaperExam).order_by(PaperExam.id.desc())
    if me.role != "admin":
        query = query.where(PaperExam.created_by == me.id)
    exams = (await session.scalars(query)).all()
    for exam in exams:
        await session.refresh(exam, ["forms"])
    return exams


def form_of(exam: PaperExam, code: str) -> PaperForm:
    for form in exam.forms:
        if form.code == code.upper():
            return form
    codes = ", ".join(f.code for f in exam.forms)
    raise NotFound(f"paper exam {exam.id} has no form {code!r}; its forms are {codes}")


async def _revisions(session: AsyncSession, exam: PaperExam) -> dict[int, QuestionRevision]:
    ids = {item["revision_id"] for form in exam.forms for item in form.items}
    rows = await session.scalars(select(QuestionRevision).where(QuestionRevision.id.in_(ids)))
    return {revision.id: revision for revision in rows.all()}


async def document(session: AsyncSession, exam: PaperExam) -> PaperExamDocument:
    """Everything the booklet, key and answer-sheet printers need, for every form.

    Numeric questions carry their unit, and their answers go in the answer sheet's digit
    grid (`paper/sheet.py`); a paper exam whose numeric key the grid cannot hold (more
    than `NUMERIC_COLUMNS` characters for every number within its accepted range) is
    refused (422) before anything is printed."""
    revisions = await _revisions(session, exam)
    _check_grids(exam, revisions)
    forms = [
        _with_units(
            printed_form(
                form.code, [(i["revision_id"], i["layout"]) for i in form.items], revisions
            ),
            revisions,
            form,
        )
        for form in exam.forms
    ]
    limit = exam.settings.get("time_limit_seconds")
    return PaperExamDocument(
        exam_id=exam.id,
        title=exam.title,
        paper=exam.paper,
        time_minutes=None if limit is None else round(limit / 60),
        forms=tuple(forms),
        instructions=INSTRUCTIONS,
    )


def _with_units(
    printed: PrintedForm, revisions: dict[int, QuestionRevision], form: PaperForm
) -> PrintedForm:
    """The form with each numeric question's unit, for the booklet and the key."""
    questions = tuple(
        replace(question, unit=revisions[item["revision_id"]].content.get("unit"))
        if question.type == "numeric"
        else question
        for question, item in zip(printed.questions, form.items, strict=True)
    )
    return replace(printed, questions=questions)


def _check_grids(exam: PaperExam, revisions: dict[int, QuestionRevision]) -> None:
    """InvalidInput naming the numeric questions whose answer the digit grid cannot hold."""
    for form in exam.forms:
        for number, item in enumerate(form.items, 1):
            revision = revisions[item["revision_id"]]
            if revision.type != "numeric":
                continue
            key = numeric_key(revision.content, item["layout"].get("key"))
            if grid_text(key["value"], key["low"], key["high"]) is None:
                raise InvalidInput(
                    f"question {number} of paper exam {exam.id} form {form.code} (question "
                    f"{revision.question_id}) has the answer {number_text(key['value'])}, which "
                    f"the answer sheet's digit grid cannot hold (a sign and {NUMERIC_COLUMNS} "
                    "digits or point, within the accepted range): draw the paper exam from a "
                    "blueprint without this question, or widen its tolerance"
                )


def key_csv(doc: PaperExamDocument, code: str) -> bytes:
    form = doc.form(code)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["question", "type", "answer"])
    for question, answer in zip(form.questions, form.key, strict=True):
        writer.writerow([question.number, question.type, answer])
    return buffer.getvalue().encode("utf-8")


async def sheet_candidates(
    session: AsyncSession,
    me: CurrentUser,
    usernames: Sequence[str],
    blank: int,
    sitting_id: int | None = None,
) -> list[SheetCandidate]:
    """The named candidates; with none named, the roster of the sitting the exam belongs
    to (none: no one); then `blank` spare sheets."""
    people = []
    usernames = [n for n in usernames if n.strip()]
    if not usernames and sitting_id is not None:
        people = await roster_sheets(session, sitting_id)
    if usernames:
        names = [n.strip().lower() for n in usernames if n.strip()]
        users = {
            u.username: u
            for u in (await session.scalars(select(User).where(User.username.in_(names)))).all()
        }
        unknown = [
            n for n in names if n not in users or not await may_see_user(session, me, users[n].id)
        ]
        if unknown:
            raise InvalidInput(
                f"no candidate {', '.join(unknown)} in your cohorts; check the usernames"
            )
        people = [
            SheetCandidate(u.username, u.display_name, candidate_number(u.id))
            for u in (users[n] for n in names)
        ]
    people += [SheetCandidate("", "", "") for _ in range(blank)]
    if not people:
        raise InvalidInput(
            "name the candidates (candidates=alice,bob) or ask for blank sheets (blank=30)"
        )
    return people


# --- paper answers ------------------------------------------------------------------------


def _unreadable(line: int, exc: csv.Error) -> RowError:
    if "field larger than field limit" in str(exc):
        why = (
            f"a cell is longer than {csv.field_size_limit() // 1024} KiB (often a quote that is "
            "never closed): answers are a few letters each; check the quotes on this line"
        )
    else:
        why = f"the CSV cannot be read here ({exc}); check the quotes and separators"
    return RowError(line, "file", why)


def parse_csv(data: bytes) -> tuple[list[tuple[int, PaperResponse]], list[RowError]]:
    """Rows of `candidate,form,1,2,...` (question columns may also be named q1, q2, ...)."""
    errors: list[RowError] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [RowError(1, "file", "the CSV is not UTF-8 text; save it as UTF-8")]
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as exc:
        return [], [_unreadable(reader.line_num, exc)]
    if header[:2] != ["candidate", "form"]:
        return [], [
            RowError(
                1,
                "header",
                "the first columns must be candidate,form, then one per question (1,2,...)",
            )
        ]
    numbers = []
    for index, name in enumerate(header[2:], 3):
        digits = name.removeprefix("q")
        if not digits.isdigit() or int(digits) != index - 2:
            errors.append(
                RowError(1, name, f"column {index} should be question {index - 2} ('{index - 2}')")
            )
        numbers.append(index - 2)
    rows = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # nothing after it can be read reliably
            errors.append(_unreadable(reader.line_num, exc))
            break
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        cells = cells + [""] * (len(header) - len(cells))
        rows.append(
            (
                line,
                PaperResponse(
                    cells[0].strip(),
                    cells[1].strip(),
                    [c.strip() for c in cells[2 : 2 + len(numbers)]],
                ),
            )
        )
        if len(cells) > len(header):
            errors.append(
                RowError(line, str(len(header) + 1), "more cells than the header has columns")
            )
    return rows, errors


@dataclass
class CheckedRow:
    row: int
    response: PaperResponse
    user: User
    form: PaperForm
    answers: list[Any]


async def check_rows(
    session: AsyncSession,
    me: CurrentUser,
    exam: PaperExam,
    rows: Sequence[tuple[int, PaperResponse]],
) -> tuple[list[CheckedRow], list[RowError]]:
    """Each row checked against the exam's forms; every problem names its row and column."""
    revisions = await _revisions(session, exam)
    done = set(
        (
            await session.scalars(select(Attempt.user_id).where(Attempt.paper_exam_id == exam.id))
        ).all()
    )
    names = {r.candidate.strip().lower() for _, r in rows}
    users = {
        u.username: u
        for u in (await session.scalars(select(User).where(User.username.in_(names)))).all()
    }
    checked, errors = [], []
    seen: dict[int, int] = {}
    for row, response in rows:
        problems = []
        user = users.get(response.candidate.strip().lower())
        if user is None or not await may_see_user(session, me, user.id):
            problems.append(
                RowError(row, "candidate", f"no candidate {response.candidate!r} in your cohorts")
            )
        elif user.id in done:
            problems.append(
                RowError(
                    row,
                    "candidate",
                    f"{user.username} already has a graded paper attempt for this exam",
                )
            )
        elif exam.sitting_id is not None and (
            why := await sitting_problem(session, exam.sitting_id, user)
        ):
            problems.append(RowError(row, "candidate", why))
        elif user.id in seen:
            problems.append(
                RowError(
                    row,
                    "candidate",
                    f"{user.username} appears again (first in row {seen[user.id]})",
                )
            )
        form = next((f for f in exam.forms if f.code == response.form.strip().upper()), None)
        if form is None:
            codes = ", ".join(f.code for f in exam.forms)
            problems.append(
                RowError(row, "form", f"form {response.form!r} does not exist; use one of {codes}")
            )
        answers: list[Any] = []
        if form is not None:
            if len(response.answers) != len(form.items):
                problems.append(
                    RowError(
                        row,
                        "answers",
                        f"{len(response.answers)} answers for form {form.code}, which has "
                        f"{len(form.items)} questions",
                    )
                )
            for number, (item, text) in enumerate(
                zip(form.items, response.answers, strict=False), 1
            ):
                revision = revisions[item["revision_id"]]
                spec = answer_spec(revision.type, revision.content, item["layout"])
                try:
                    answers.append(parse_answer(spec, text))
                except AnswerRejected as exc:
                    problems.append(RowError(row, str(number), f"question {number}: {exc}"))
        if problems:
            errors.extend(problems)
        elif user is not None and form is not None:
            seen[user.id] = row
            checked.append(CheckedRow(row, response, user, form, answers))
    return checked, errors


async def grade_rows(
    session: AsyncSession, exam: PaperExam, rows: Sequence[CheckedRow]
) -> list[GradedPaper]:
    """Store each row as a paper attempt and grade it like an online one; in a sitting,
    as the candidate's next attempt there."""
    graded = []
    for row in rows:
        now = utcnow()
        in_sitting, username = exam.sitting_id, row.user.username
        attempt_number = None
        if in_sitting is not None:
            attempt_number = await next_number(session, in_sitting, row.user.id, username)
        attempt = Attempt(
            user_id=row.user.id,
            blueprint_id=exam.blueprint_id,
            seed=exam.seed,
            status="in_progress",
            source="paper",
            mode="exam",
            started_at=now,
            settings=exam.settings,
            paper_exam_id=exam.id,
            paper_form=row.form.code,
            sitting_id=exam.sitting_id,
            attempt_number=attempt_number,
            items=[
                AttemptItem(
                    position=number,
                    revision_id=item["revision_id"],
                    scored=item["scored"],
                    layout=item["layout"],
                )
                for number, item in enumerate(row.form.items, 1)
            ],
        )
        session.add(attempt)
        try:
            await session.flush()
        except IntegrityError:  # the number is unique per sitting and candidate
            await session.rollback()
            raise Conflict(
                f"{username} started attempt {attempt_number} in sitting {in_sitting} while "
                "these answers were being graded; the rows before theirs were graded: send "
                "theirs again"
            ) from None
        for number, answer in enumerate(row.answers, 1):
            if answer is not None:
                session.add(
                    Response(attempt_id=attempt.id, position=number, answer=answer, saved_at=now)
                )
        await session.flush()
        await close_attempt(session, attempt.id, expired=False, now=now)
        result = await session.get_one(Result, attempt.id)
        graded.append(
            GradedPaper(
                row=row.row,
                candidate=row.user.username,
                form=row.form.code,
                attempt_id=attempt.id,
                raw_percent=result.raw_percent,
                scaled_score=result.scaled_score,
                passed=result.passed,
            )
        )
    return graded


# --- scans --------------------------------------------------------------------------------


def read_scan_upload(doc: PaperExamDocument, data: bytes, media: str) -> list[SheetReading]:
    """Every page of an uploaded scan (PNG, JPEG or PDF bytes), read against this paper
    exam's answer sheets; InvalidInput when the upload cannot be read at all."""

    def layouts(scanned_exam: int, form: str) -> SheetLayout | None:
        if scanned_exam != doc.exam_id or form not in {f.code for f in doc.forms}:
            return None
        return form_sheet(doc, form)

    try:
        return read_scans(data, media, layouts)
    except ValueError as exc:
        raise InvalidInput(f"the scan cannot be read: {exc}") from None


async def grade_scans(
    session: AsyncSession, me: CurrentUser, exam: PaperExam, readings: Sequence[SheetReading]
) -> ScanReport:
    """Grade every sheet read with certainty; list the others with what needs a person."""
    sheets = []
    for reading in readings:
        answers = [
            ScanAnswer(
                number=a.number,
                value=a.value,
                confidence=round(float(a.confidence), 3),
                status=a.status,
                crop_png_base64=base64.b64encode(a.crop_png).decode() if a.crop_png else None,
                note=a.note or None,
            )
            for a in reading.answers
        ]
        user = None
        problems = list(reading.problems)
        if reading.candidate_number and reading.candidate_number.isdigit():
            user = await session.get(User, int(reading.candidate_number))
        sheet = ScanSheet(
            page=reading.page,
            status="unreadable",
            exam_id=reading.exam_id,
            form=reading.form,
            candidate_number=reading.candidate_number,
            candidate=user.username if user else None,
            answers=answers,
            problems=problems,
        )
        sheets.append(sheet)
        if reading.exam_id is None or reading.form is None or not reading.answers:
            continue
        if reading.exam_id != exam.id:
            sheet.status = "refused"
            problems.append(f"this sheet belongs to paper exam {reading.exam_id}, not {exam.id}")
            continue
        if user is None:
            sheet.status = "review"
            problems.append(
                "no candidate has this number; send the answers to /responses with the username"
            )
            continue
        if any(a.status == "review" for a in reading.answers):
            sheet.status = "review"
            continue
        row = PaperResponse(user.username, reading.form, [a.value for a in reading.answers])
        checked, errors = await check_rows(session, me, exam, [(reading.page, row)])
        if errors:
            sheet.status = "refused"
            problems.extend(e.message for e in errors)
            continue
        [graded] = await grade_rows(session, exam, checked)
        sheet.status = "graded"
        sheet.attempt_id = graded.attempt_id
        sheet.scaled_score = graded.scaled_score
        sheet.passed = graded.passed
    return ScanReport(
        sheets=sheets,
        graded=sum(1 for s in sheets if s.status == "graded"),
        review=sum(1 for s in sheets if s.status == "review"),
        unreadable=sum(1 for s in sheets if s.status == "unreadable"),
    )
