"""Blueprints in the database: the bank's file blueprints kept in step, and the API's
create, read and change, each refused when the bank cannot fill it."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.auth.schemas import CurrentUser
from exam_service.bank.format import AdaptiveRule, BlueprintFile, adaptive_problems
from exam_service.db import utcnow
from exam_service.errors import Conflict, Forbidden, InvalidInput, NotFound
from exam_service.exams import assembly
from exam_service.exams.pool import objective_parents, question_pool
from exam_service.grading.scoring import Scale
from exam_service.models import Accommodation, Attempt, Blueprint, Sitting


def apply_blueprint(row: Blueprint, spec: BlueprintFile) -> None:
    row.name = spec.name
    row.description = spec.description
    row.mode = spec.mode
    row.question_count = spec.question_count
    row.time_limit_seconds = spec.time_limit_seconds
    row.grace_seconds = spec.grace_seconds
    row.unscored_count = spec.unscored_count
    row.objective_weights = dict(spec.objective_weights) if spec.objective_weights else None
    row.objective_counts = dict(spec.objective_counts) if spec.objective_counts else None
    row.difficulty_mix = (
        {str(k): v for k, v in spec.difficulty_mix.items()} if spec.difficulty_mix else None
    )
    row.scale_min = spec.scale.min
    row.scale_max = spec.scale.max
    row.scale_pass = spec.scale.pass_
    row.raw_cut = spec.scale.raw_cut
    row.review_policy = spec.review_policy
    row.shuffle_options = spec.shuffle_options
    row.partial_credit = spec.partial_credit
    row.max_open_attempts = spec.max_open_attempts
    row.self_study = spec.self_study
    row.scoring = spec.scoring
    row.adaptive = msgspec.to_builtins(spec.adaptive) if spec.adaptive else None
    row.updated_at = utcnow()


def blueprint_scale(row: Blueprint) -> Scale:
    return Scale(row.scale_min, row.scale_max, row.scale_pass, row.raw_cut)


def adaptive_rule(row: Blueprint) -> AdaptiveRule | None:
    """The stop rule of an adaptive blueprint as stored (None: the defaults); None for the
    other modes."""
    if row.mode != "adaptive" or row.adaptive is None:
        return None
    return msgspec.convert(row.adaptive, AdaptiveRule)


def blueprint_file(row: Blueprint) -> BlueprintFile:
    return BlueprintFile(
        id=row.id,
        name=row.name,
        description=row.description,
        mode=row.mode,  # type: ignore[arg-type]
        question_count=row.question_count,
        time_limit_seconds=row.time_limit_seconds,
        grace_seconds=row.grace_seconds,
        unscored_count=row.unscored_count,
        objective_weights=row.objective_weights,
        objective_counts=row.objective_counts,
        difficulty_mix=row.difficulty_mix,  # type: ignore[arg-type]
        scale=blueprint_scale(row),
        review_policy=row.review_policy,  # type: ignore[arg-type]
        shuffle_options=row.shuffle_options,
        partial_credit=row.partial_credit,
        max_open_attempts=row.max_open_attempts,
        self_study=row.self_study,
        scoring=row.scoring,  # type: ignore[arg-type]
        adaptive=adaptive_rule(row),
    )


def exam_spec(row: Blueprint) -> assembly.ExamSpec:
    return assembly.ExamSpec(
        question_count=row.question_count,
        unscored_count=row.unscored_count,
        objective_weights=row.objective_weights,
        objective_counts=row.objective_counts,
        difficulty_mix=row.difficulty_mix,
        shuffle_options=row.shuffle_options,
    )


async def sync_file_blueprints(session: AsyncSession, specs: Sequence[BlueprintFile]) -> int:
    """Create or update the bank's blueprints (origin `file`); returns how many changed."""
    changed = 0
    for spec in specs:
        row = await session.get(Blueprint, spec.id)
        if row is None:
            row = Blueprint(id=spec.id, origin="file", owner_id=None)
            session.add(row)
        elif blueprint_file(row) == spec and row.origin == "file":
            continue
        apply_blueprint(row, spec)
        row.origin = "file"
        changed += 1
    return changed


async def check_blueprint(session: AsyncSession, spec: BlueprintFile) -> None:
    """Refuse a blueprint that names unknown objectives or that the bank cannot fill (an
    adaptive one: that has an objective without a question)."""
    parents = await objective_parents(session)
    targets = spec.objective_counts or spec.objective_weights or {}
    unknown = [code for code in targets if code not in parents]
    if unknown:
        raise InvalidInput(
            f"unknown objective {', '.join(map(repr, unknown))}; GET /api/v1/objectives "
            "lists the codes"
        )
    if spec.unscored_count >= spec.question_count:
        raise InvalidInput("unscored_count must be less than question_count")
    scale = spec.scale
    if not scale.min <= scale.pass_ <= scale.max or scale.min >= scale.max:
        raise InvalidInput("scale needs min < max and min <= pass <= max")
    if spec.mode == "exam" and spec.time_limit_seconds is None:
        raise InvalidInput("an exam-mode blueprint needs time_limit_seconds")
    if spec.objective_counts and sum(spec.objective_counts.values()) != spec.question_count:
        raise InvalidInput(
            f"objective_counts add up to {sum(spec.objective_counts.values())}, "
            f"not question_count {spec.question_count}"
        )
    adaptive = adaptive_problems(spec)
    if adaptive:
        raise InvalidInput("; ".join(adaptive))
    probe = Blueprint(id=spec.id)
    apply_blueprint(probe, spec)
    pool = await question_pool(session)
    try:
        if spec.mode == "adaptive":
            # a session serves what is there, up to question_count (then stops: `pool`)
            members = assembly.target_members(exam_spec(probe), pool, parents)
            empty = [code for code, found in members.items() if not found]
            if empty:
                raise InvalidInput(
                    f"the bank has no question to practise for {', '.join(empty)}; write "
                    "some or remove the code from the blueprint"
                )
            return
        short = assembly.shortfalls(exam_spec(probe), pool, parents)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if short:
        raise InvalidInput(str(assembly.ShortOfQuestions(short)))


async def get_blueprint(session: AsyncSession, blueprint_id: str) -> Blueprint:
    row = await session.get(Blueprint, blueprint_id)
    if row is None:
        raise NotFound(f"there is no blueprint {blueprint_id!r}; GET /api/v1/blueprints lists them")
    return row


async def list_blueprints(session: AsyncSession) -> list[Blueprint]:
    """Every blueprint, by id."""
    return list((await session.scalars(select(Blueprint).order_by(Blueprint.id))).all())


async def create_blueprint(
    session: AsyncSession, spec: BlueprintFile, *, owner_id: int | None
) -> Blueprint:
    """A new blueprint owned by `owner_id` (its maker; None: only admins may change it);
    refused when the bank cannot fill it."""
    if await session.get(Blueprint, spec.id) is not None:
        raise Conflict(
            f"blueprint {spec.id!r} exists; choose another id (PUT /api/v1/blueprints/"
            f"{spec.id} changes it if it is yours)"
        )
    await check_blueprint(session, spec)
    row = Blueprint(id=spec.id, origin="api", owner_id=owner_id)
    apply_blueprint(row, spec)
    session.add(row)
    await session.commit()
    return row


async def changeable_blueprint(
    session: AsyncSession, viewer: CurrentUser, blueprint_id: str
) -> Blueprint:
    """The blueprint if `viewer` may change it: admins any; instructors their own.

    Another instructor's blueprint answers 404, as for cohorts; one from the bank's files
    answers 403 with where it is changed instead (every instructor can read it)."""
    row = await get_blueprint(session, blueprint_id)
    if viewer.role == "admin" or (row.origin == "api" and row.owner_id == viewer.id):
        return row
    if row.origin == "file":
        raise Forbidden(
            f"blueprint {blueprint_id!r} comes from the bank's files: change "
            f"blueprints/{blueprint_id}.yaml and run `exam-service bank import`, ask an admin, "
            "or POST a copy under a new id"
        )
    raise NotFound(
        f"there is no blueprint {blueprint_id!r} of yours; POST /api/v1/blueprints makes one"
    )


async def sitting_under_way(session: AsyncSession, blueprint_id: str) -> Sitting | None:
    """A sitting of the blueprint that candidates have started and whose window (anyone's
    closing time) has not closed: its candidates must all sit the same exam."""
    now = utcnow()
    still_open = or_(
        Sitting.closes_at.is_(None),
        Sitting.closes_at > now,
        exists().where(Accommodation.sitting_id == Sitting.id, Accommodation.closes_at > now),
    )
    started = exists().where(Attempt.sitting_id == Sitting.id)
    return await session.scalar(
        select(Sitting)
        .where(Sitting.blueprint_id == blueprint_id, still_open, started)
        .order_by(Sitting.id)
        .limit(1)
    )


async def update_blueprint(
    session: AsyncSession, viewer: CurrentUser, blueprint_id: str, spec: BlueprintFile
) -> Blueprint:
    """Change a blueprint (new attempts only: started ones keep their snapshot).

    Refused while a sitting of it is under way (`sitting_under_way`): candidates starting
    later in that sitting would sit a different exam from those who started before. Only
    `self_study` may change then."""
    row = await changeable_blueprint(session, viewer, blueprint_id)
    if spec.id != blueprint_id:
        raise InvalidInput(f"the body's id {spec.id!r} differs from the URL's {blueprint_id!r}")
    only_self_study = msgspec.structs.replace(blueprint_file(row), self_study=spec.self_study)
    if spec != only_self_study:
        sitting = await sitting_under_way(session, blueprint_id)
        if sitting is not None:
            started = await session.scalar(
                select(func.count()).select_from(Attempt).where(Attempt.sitting_id == sitting.id)
            )
            raise Conflict(
                f"blueprint {blueprint_id!r} is being sat in sitting {sitting.id} "
                f"({started} attempt(s) started, not closed yet): everyone in a sitting sits "
                "the same exam, so it can change once the sitting closes; POST a copy under a "
                "new id to use the change now"
            )
    await check_blueprint(session, spec)
    apply_blueprint(row, spec)
    await session.commit()
    return row
