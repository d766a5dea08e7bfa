"""Bank DB work: import a loaded bank (idempotent, revisioning), and read the bank back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, column, func, or_, select, table, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from exam_service.bank.loader import Bank, ObjectiveSpec, QuestionSpec
from exam_service.db import utcnow
from exam_service.errors import Conflict, NotFound
from exam_service.models import (
    CURRENT_REVISION,
    Objective,
    Question,
    QuestionRevision,
    RevisionObjective,
)


@dataclass
class ImportCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    blueprints: int = 0
    """Blueprints from the bank's files that were created or changed."""
    replaced: list[str] = field(default_factory=list)
    """Ids of questions an uploaded file replaced (overwrite=true): new content or retired."""


async def _sync_objectives(session: AsyncSession, bank: Bank) -> dict[str, int]:
    existing = {o.code: o for o in (await session.scalars(select(Objective))).all()}
    for spec in bank.objectives:  # parents come before children in the loader's order
        node = existing.get(spec.code)
        if node is None:
            node = Objective(code=spec.code)
            session.add(node)
            existing[spec.code] = node
        node.title = spec.title
        node.level = spec.level
        node.weight = spec.weight
        node.position = spec.position
        node.parent = existing[spec.parent_code] if spec.parent_code else None
    await session.flush()
    return {code: node.id for code, node in existing.items()}


def _revision(spec: QuestionSpec, number: int, objective_ids: dict[str, int]) -> QuestionRevision:
    """A new current revision of an active question."""
    return QuestionRevision(
        question_id=spec.id,
        number=number,
        current_status="active",
        content_hash=spec.content_hash,
        type=spec.type,
        difficulty=spec.difficulty,
        stem=spec.stem,
        case_id=spec.case_id,
        case_title=spec.case_title,
        case_scenario=spec.case_scenario,
        source=spec.source,
        content=spec.content,
        objectives=[
            RevisionObjective(objective_id=objective_ids[code], position=index)
            for index, code in enumerate(spec.objectives)
        ],
    )


async def _current_hashes(session: AsyncSession) -> dict[str, Any]:
    rows = await session.execute(
        select(
            Question.id,
            Question.status,
            Question.current_revision,
            QuestionRevision.content_hash,
        ).join(QuestionRevision, CURRENT_REVISION)
    )
    return {row.id: row for row in rows.all()}


FLUSH_EVERY = 50


async def _set_current_status(
    session: AsyncSession, question_id: str, number: int, status: str | None
) -> None:
    """Copy a question's status onto one of its revisions (`QuestionRevision.current_status`):
    its status on the current revision, None on the one it replaces."""
    await session.execute(
        update(QuestionRevision)
        .where(QuestionRevision.question_id == question_id, QuestionRevision.number == number)
        .values(current_status=status)
        .execution_options(synchronize_session=False)
    )


async def _upsert_questions(
    session: AsyncSession,
    specs: Sequence[QuestionSpec],
    objective_ids: dict[str, int],
    current: dict[str, Any],
    counts: ImportCounts,
) -> None:
    """Create new questions, add a revision to changed ones, reactivate returning ones.

    Flushed every `FLUSH_EVERY` questions: the ORM's work for a flush holds the event loop,
    and a few dozen rows at a time keep that short enough not to delay candidates' saves
    while an instructor imports thousands of questions."""
    now = utcnow()
    for index, spec in enumerate(specs, 1):
        if index % FLUSH_EVERY == 0:
            await session.flush()
        row = current.get(spec.id)
        if row is None:
            session.add(
                Question(
                    id=spec.id, status="active", current_revision=1, created_at=now, updated_at=now
                )
            )
            session.add(_revision(spec, 1, objective_ids))
            counts.created += 1
            continue
        if row.content_hash == spec.content_hash and row.status == "active":
            counts.unchanged += 1
            continue
        question = await session.get_one(Question, spec.id)
        if row.content_hash != spec.content_hash:
            await _set_current_status(session, spec.id, row.current_revision, None)
            question.current_revision = row.current_revision + 1
            session.add(_revision(spec, question.current_revision, objective_ids))
        else:
            await _set_current_status(session, spec.id, row.current_revision, "active")
        question.status = "active"
        question.retired_at = None
        question.updated_at = now
        counts.updated += 1


async def import_bank(session: AsyncSession, bank: Bank) -> ImportCounts:
    """Bring the DB in line with a checked bank folder; the caller commits (after syncing
    the folder's blueprints too: `cli.import_bank_folder`).

    A question whose content hash equals its current revision's is unchanged; otherwise
    it gets a new revision (older revisions stay, so past attempts keep theirs). A question
    no longer in the files is retired, never deleted; one that comes back is reactivated.
    """
    if bank.problems:
        raise ValueError("refusing to import a bank with problems; validate it first")
    counts = ImportCounts()
    objective_ids = await _sync_objectives(session, bank)
    current = await _current_hashes(session)
    await _upsert_questions(session, bank.questions, objective_ids, current, counts)
    in_files = {spec.id for spec in bank.questions}
    now = utcnow()
    for qid, row in current.items():
        if qid not in in_files and row.status == "active":
            question = await session.get_one(Question, qid)
            await _set_current_status(session, qid, row.current_revision, "retired")
            question.status = "retired"
            question.retired_at = now
            question.updated_at = now
            counts.retired += 1
    await session.flush()
    return counts


def _replaced(specs: Sequence[QuestionSpec], current: dict[str, Any]) -> list[str]:
    """The ids in `specs` of bank questions they would change: other content, or retired."""
    return [
        spec.id
        for spec in specs
        if spec.id in current
        and (
            current[spec.id].content_hash != spec.content_hash
            or current[spec.id].status != "active"
        )
    ]


def _refusal(file: str, replaced: list[str], current: dict[str, Any]) -> Conflict:
    listed = [
        f"{qid!r} ({'retired' if current[qid].status != 'active' else 'other content'})"
        for qid in replaced
    ]
    shown = ", ".join(listed[:20]) + (f" and {len(listed) - 20} more" if len(listed) > 20 else "")
    return Conflict(
        f"{len(replaced)} question(s) in {file} have the id of a question already in the bank "
        f"with other content or retired: {shown}. Nothing was imported. To replace them "
        "(their earlier revisions are kept), send the file again with overwrite=true "
        "(exam-service bank import --overwrite); to add them as new questions, rename them "
        "in the file",
        extra={
            "errors": [
                f"{file} [{qid}]: {text}" for qid, text in zip(replaced, listed, strict=True)
            ]
        },
    )


async def import_questions(
    session: AsyncSession,
    specs: Sequence[QuestionSpec],
    *,
    dry_run: bool,
    overwrite: bool = False,
    file: str = "the file",
) -> ImportCounts:
    """Add or revise the given questions (from an uploaded file) and retire nothing;
    with `dry_run`, report what would change and roll back.

    A question whose id is in the bank with the same content is unchanged. One that would
    give a bank question new content, or bring back a retired one, is replaced only with
    `overwrite` (listed in `replaced`); otherwise the whole import is refused (Conflict,
    naming the ids), dry run or not, so that a dry run says what the real one would do.
    """
    objective_ids = dict((await session.execute(select(Objective.code, Objective.id))).all())
    counts = ImportCounts()
    current = await _current_hashes(session)
    counts.replaced = _replaced(specs, current)
    if counts.replaced and not overwrite:
        await session.rollback()
        raise _refusal(file, counts.replaced, current)
    await _upsert_questions(session, specs, objective_ids, current, counts)
    if dry_run:
        await session.rollback()
    else:
        await session.commit()
    return counts


async def current_specs(session: AsyncSession) -> list[QuestionSpec]:
    """Every active question's current revision, as the loader would have built it."""
    revisions = await session.scalars(
        select(QuestionRevision)
        .join(Question, CURRENT_REVISION)
        .where(Question.status == "active")
        .options(
            selectinload(QuestionRevision.objectives).selectinload(RevisionObjective.objective)
        )
        .order_by(QuestionRevision.question_id)
    )
    return [
        QuestionSpec(
            id=r.question_id,
            type=r.type,
            difficulty=r.difficulty,
            stem=r.stem,
            source=r.source,
            objectives=tuple(link.objective.code for link in r.objectives),
            case_id=r.case_id,
            case_title=r.case_title,
            case_scenario=r.case_scenario,
            content=r.content,
            content_hash=r.content_hash,
            file="database",
            line=0,
        )
        for r in revisions.all()
    ]


async def objective_specs(session: AsyncSession) -> list[ObjectiveSpec]:
    parent = Objective.__table__.alias("parent")
    rows = await session.execute(
        select(
            Objective.code,
            Objective.title,
            Objective.level,
            parent.c.code,
            Objective.weight,
            Objective.position,
        )
        .outerjoin(parent, parent.c.id == Objective.parent_id)
        .order_by(Objective.id)
    )
    return [ObjectiveSpec(*row) for row in rows.all()]


# --- reading ------------------------------------------------------------------------------


async def objective_tree(session: AsyncSession) -> tuple[list[Objective], dict[int, int]]:
    """All objectives, and per objective id the number of distinct active questions
    tagged with it or with any node below it."""
    objectives = list((await session.scalars(select(Objective).order_by(Objective.id))).all())
    tagged = await session.execute(
        select(RevisionObjective.objective_id, QuestionRevision.question_id)
        .join(QuestionRevision, QuestionRevision.id == RevisionObjective.revision_id)
        .join(
            Question,
            CURRENT_REVISION,
        )
        .where(Question.status == "active")
    )
    parent = {o.id: o.parent_id for o in objectives}
    below: dict[int, set[str]] = {o.id: set() for o in objectives}
    for objective_id, question_id in tagged.all():
        node: int | None = objective_id
        while node is not None:
            below[node].add(question_id)
            node = parent[node]
    return objectives, {node: len(questions) for node, questions in below.items()}


async def subtree_ids(session: AsyncSession, code: str) -> list[int]:
    """The id of objective `code` and of every node below it."""
    rows = (await session.execute(select(Objective.id, Objective.parent_id, Objective.code))).all()
    by_code = {r.code: r.id for r in rows}
    if code not in by_code:
        raise NotFound(f"there is no objective {code!r}; GET /api/v1/objectives lists the codes")
    children: dict[int | None, list[int]] = {}
    for r in rows:
        children.setdefault(r.parent_id, []).append(r.id)
    found, stack = [], [by_code[code]]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(children.get(node, []))
    return found


@dataclass
class QuestionFilter:
    objective: str | None = None
    type: str | None = None
    difficulty: str | None = None
    text: str | None = None
    status: str = "active"


SQLITE_SEARCH = table("question_search", column("rowid"), column("question_search"))
"""The FTS5 trigram index of the revisions' stems and ids (migration 5e1f0c9a2b7d)."""


def _trigram_phrase(text: str) -> bool:
    """Whether the trigram index can answer a search for `text` by itself: text of three
    characters or more (shorter text has no trigram), without LIKE's wildcards."""
    return len(text) >= 3 and "%" not in text and "_" not in text


def _sqlite_search(text: str) -> Select[Any]:
    """Revision ids whose stem or question id contains `text`, ignoring case, from the FTS5
    trigram index. Its case folding is Unicode's, like PostgreSQL's `lower()`, where
    SQLite's `lower()` and `LIKE` fold ASCII letters only; so its matches are the answer,
    with no LIKE over each matching revision's row afterwards."""
    phrase = '"' + text.replace('"', '""') + '"'
    return select(SQLITE_SEARCH.c.rowid).where(SQLITE_SEARCH.c.question_search.op("MATCH")(phrase))


def _text_filter(session: AsyncSession, text: str) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "sqlite" and _trigram_phrase(text):
        return QuestionRevision.id.in_(_sqlite_search(text))
    pattern = f"%{text.lower()}%"  # PostgreSQL: served by the trigram GIN indexes
    return or_(
        func.lower(QuestionRevision.stem).like(pattern),
        func.lower(QuestionRevision.question_id).like(pattern),
    )


async def list_questions(
    session: AsyncSession, where: QuestionFilter, limit: int, offset: int
) -> tuple[Sequence[QuestionRevision], int]:
    """Current revisions matching the filter, ordered by question id, and the total.

    The filters and the count read narrow rows only: each revision carries its question's
    status while it is the current one (`current_status`), so no revision is joined to its
    question; type, difficulty and status come from the revisions' indexes, objectives from
    `revision_objectives`, text from the search index. The page's revisions, with their
    content, are loaded by id afterwards."""
    current = QuestionRevision.current_status
    matching: Select[Any] = select(QuestionRevision.id).where(
        current.is_not(None) if where.status == "all" else current == where.status
    )
    if where.type:
        matching = matching.where(QuestionRevision.type == where.type)
    if where.difficulty:
        matching = matching.where(QuestionRevision.difficulty == where.difficulty)
    if where.text:
        matching = matching.where(_text_filter(session, where.text))
    if where.objective:
        ids = await subtree_ids(session, where.objective)
        tagged = select(RevisionObjective.revision_id).where(
            RevisionObjective.objective_id.in_(ids)
        )
        matching = matching.where(QuestionRevision.id.in_(tagged))
    if where.type or where.difficulty or where.text or where.objective:
        counted = select(func.count()).select_from(matching.subquery())
    else:  # every question has exactly one current revision: count the questions
        counted = select(func.count()).select_from(Question)
        if where.status != "all":
            counted = counted.where(Question.status == where.status)
    total = await session.scalar(counted)
    page_ids = (
        await session.scalars(
            matching.order_by(QuestionRevision.question_id).limit(limit).offset(offset)
        )
    ).all()
    if not page_ids:
        return [], total or 0
    page = await session.scalars(
        select(QuestionRevision)
        .where(QuestionRevision.id.in_(page_ids))
        .order_by(QuestionRevision.question_id)
        .options(
            selectinload(QuestionRevision.objectives).selectinload(RevisionObjective.objective),
            selectinload(QuestionRevision.question),
        )
    )
    return page.all(), total or 0


async def get_question(session: AsyncSession, question_id: str) -> Question:
    question = await session.scalar(
        select(Question)
        .where(Question.id == question_id)
        .options(
            selectinload(Question.revisions)
            .selectinload(QuestionRevision.objectives)
            .selectinload(RevisionObjective.objective)
        )
    )
    if question is None:
        raise NotFound(
            f"there is no question {question_id!r}; GET /api/v1/questions lists the bank"
        )
    return question
