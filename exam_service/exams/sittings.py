"""Sittings in the database: instructors schedule a blueprint for their cohorts (create,
read, change, delete, accommodations), a candidate's terms in one and whether they sit it
at all, and attempts already running follow a changed closing time or accommodation. What
`GET /api/v1/sittings` shows each person is in `sitting_list.py`.

Ownership is as for cohorts: an instructor sees and changes their own sittings, an admin
all of them, and anyone else's answers 404 exactly as a sitting that does not exist. A
sitting's cohorts are its owner's (any cohort when an admin owns it), so its owner sees
every attempt made in it (`auth/access.py`).

Once a candidate has started an attempt in a sitting, what that attempt means is fixed:
the blueprint and the time limit can no longer change, no cohort whose candidates have
attempts can leave it, and the sitting cannot be deleted. The closing time, the
accommodations, the number of attempts, the access code, the grading method and the
review policy may change at any time; a new closing time or accommodation re-times the
attempts still running (`retime_open_attempts`), never ending one before the moment of
the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from exam_service.auth.access import sits
from exam_service.auth.passwords import hash_password_async
from exam_service.auth.schemas import CurrentUser
from exam_service.db import utcnow
from exam_service.errors import Conflict, InvalidInput, NotFound
from exam_service.exams import sitting_rules
from exam_service.exams.blueprints import get_blueprint
from exam_service.exams.schemas import (
    AccommodationView,
    AccommodationWrite,
    SittingChange,
    SittingCreate,
    SittingView,
)
from exam_service.models import (
    Accommodation,
    Attempt,
    Blueprint,
    Cohort,
    CohortMember,
    Result,
    Sitting,
    SittingCohort,
    User,
)

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def missing_sitting(sitting_id: int) -> NotFound:
    return NotFound(f"there is no sitting {sitting_id} of yours; GET /api/v1/sittings lists them")


def not_on_roster(sitting_id: int) -> NotFound:
    """The one answer for a sitting that does not exist and one the caller is not in."""
    return NotFound(f"there is no sitting {sitting_id} for you; GET /api/v1/sittings lists yours")


def moment(field: str, value: datetime) -> datetime:
    """`value` in UTC, or InvalidInput naming `field` when it is outside 2000-9000."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = EARLIEST - timedelta(days=1)
    if not EARLIEST <= utc < LATEST:
        raise InvalidInput(f"{field} {value.isoformat()} is out of range; use a date in 2000-8999")
    return utc


def _check_window(
    opens_at: datetime, closes_at: datetime | None, review_policy: str | None
) -> None:
    if closes_at is not None and closes_at <= opens_at:
        raise InvalidInput(
            f"closes_at {sitting_rules.iso(closes_at)} is not after opens_at "
            f"{sitting_rules.iso(opens_at)}; close the window after it opens"
        )
    if review_policy == "after_window_closes" and closes_at is None:
        raise InvalidInput(
            "review_policy 'after_window_closes' needs a closes_at: without one the window "
            "never closes and the answers would never be shown"
        )


async def _load(session: AsyncSession, sitting_id: int) -> Sitting | None:
    sitting: Sitting | None = await session.scalar(
        select(Sitting)
        .where(Sitting.id == sitting_id)
        .options(
            selectinload(Sitting.cohorts),
            selectinload(Sitting.accommodations).selectinload(Accommodation.user),
        )
        .execution_options(populate_existing=True)
    )
    return sitting


async def owned_sitting(session: AsyncSession, viewer: CurrentUser, sitting_id: int) -> Sitting:
    """The sitting with its cohorts and accommodations if `viewer` owns it or is an admin;
    otherwise NotFound, exactly as for an id that does not exist."""
    sitting = await _load(session, sitting_id)
    if sitting is None or (viewer.role != "admin" and sitting.owner_id != viewer.id):
        raise missing_sitting(sitting_id)
    return sitting


async def _check_cohorts(
    session: AsyncSession, viewer: CurrentUser, owner_id: int, cohort_ids: Sequence[int]
) -> list[int]:
    """The distinct cohort ids if they may belong to a sitting of `owner_id`: the owner's
    own cohorts, or any when the owner is an admin."""
    wanted = sorted(set(cohort_ids))
    rows = await session.execute(select(Cohort.id, Cohort.owner_id).where(Cohort.id.in_(wanted)))
    owners: dict[int, int] = {cohort: owner for cohort, owner in rows.all()}
    owner = await session.get(User, owner_id)
    any_cohort = owner is not None and owner.role == "admin"
    unknown = [c for c in wanted if c not in owners]
    foreign = [c for c in wanted if c in owners and not any_cohort and owners[c] != owner_id]
    if viewer.id == owner_id or viewer.role != "admin":
        unknown += foreign  # another instructor's cohort looks like one that does not exist
        foreign = []
    if unknown:
        listed = ", ".join(map(str, sorted(unknown)))
        raise NotFound(f"there is no cohort {listed} among yours; GET /api/v1/cohorts lists them")
    if foreign:
        listed = ", ".join(map(str, foreign))
        raise InvalidInput(
            f"cohort {listed} is not owned by the sitting's owner (user {owner_id}), who sees "
            "every attempt made in the sitting; choose cohorts of theirs"
        )
    return wanted


async def attempts_started(session: AsyncSession, sitting_id: int) -> int:
    """How many attempts have been started in the sitting (in any state)."""
    count = await session.scalar(
        select(func.count()).select_from(Attempt).where(Attempt.sitting_id == sitting_id)
    )
    return int(count or 0)


async def create_sitting(
    session: AsyncSession, viewer: CurrentUser, spec: SittingCreate
) -> Sitting:
    """A new sitting owned by `viewer`; the blueprint must exist, the cohorts be theirs."""
    blueprint = await get_blueprint(session, spec.blueprint_id)
    opens_at = moment("opens_at", spec.opens_at)
    closes_at = moment("closes_at", spec.closes_at) if spec.closes_at else None
    _check_window(opens_at, closes_at, spec.review_policy)
    cohort_ids = await _check_cohorts(session, viewer, viewer.id, spec.cohort_ids)
    now = utcnow()
    sitting = Sitting(
        name=spec.name.strip() or blueprint.name,
        blueprint_id=blueprint.id,
        owner_id=viewer.id,
        opens_at=opens_at,
        closes_at=closes_at,
        attempts_allowed=spec.attempts_allowed,
        time_limit_seconds=spec.time_limit_seconds,
        grading_method=spec.grading_method,
        review_policy=spec.review_policy,
        access_code_hash=await hash_password_async(spec.access_code) if spec.access_code else None,
        created_at=now,
        updated_at=now,
        cohorts=[SittingCohort(cohort_id=c) for c in cohort_ids],
    )
    session.add(sitting)
    await session.commit()
    return await owned_sitting(session, viewer, sitting.id)


async def list_owned(session: AsyncSession, viewer: CurrentUser) -> list[Sitting]:
    """The viewer's sittings (an admin's: all), soonest opening last."""
    query = (
        select(Sitting)
        .options(selectinload(Sitting.cohorts), selectinload(Sitting.accommodations))
        .order_by(Sitting.opens_at.desc(), Sitting.id.desc())
    )
    if viewer.role != "admin":
        query = query.where(Sitting.owner_id == viewer.id)
    return list((await session.scalars(query)).all())


FIXED_ONCE_STARTED = {
    "blueprint_id": "the attempts were drawn from its blueprint",
    "time_limit_seconds": "the attempts were timed by it",
}
"""What cannot change once an attempt has started in the sitting, and why."""


async def change_sitting(
    session: AsyncSession, viewer: CurrentUser, sitting_id: int, change: SittingChange
) -> Sitting:
    """Change the fields `change` sets (see the module docstring for what is fixed once
    attempts have started); a new closing time re-times the attempts still running."""
    sitting = await owned_sitting(session, viewer, sitting_id)
    fields = {
        name: value
        for name in change.__struct_fields__
        if (value := getattr(change, name)) is not msgspec.UNSET
    }
    started = await attempts_started(session, sitting_id)
    if started:
        fixed = [
            f"{name} ({why})"
            for name, why in FIXED_ONCE_STARTED.items()
            if name in fields and fields[name] != getattr(sitting, name)
        ]
        if fixed:
            raise Conflict(
                f"sitting {sitting_id} has {started} attempt(s) started, so {' and '.join(fixed)} "
                "can no longer change: it would change what those attempts mean; create a new "
                "sitting instead"
            )
    if "blueprint_id" in fields:
        sitting.blueprint_id = (await get_blueprint(session, fields["blueprint_id"])).id
    opens_at = moment("opens_at", fields["opens_at"]) if "opens_at" in fields else sitting.opens_at
    closes_at = sitting.closes_at
    if "closes_at" in fields:
        closes_at = moment("closes_at", fields["closes_at"]) if fields["closes_at"] else None
    policy = fields.get("review_policy", sitting.review_policy)
    _check_window(opens_at, closes_at, policy)
    if "cohort_ids" in fields:
        wanted = await _check_cohorts(session, viewer, sitting.owner_id, fields["cohort_ids"])
        await _check_leavers(session, sitting, wanted)
        sitting.cohorts = [SittingCohort(cohort_id=c) for c in wanted]
    retime = closes_at != sitting.closes_at
    sitting.opens_at, sitting.closes_at, sitting.review_policy = opens_at, closes_at, policy
    for name in ("attempts_allowed", "time_limit_seconds", "grading_method"):
        if name in fields:
            setattr(sitting, name, fields[name])
    if "name" in fields:
        blueprint = await get_blueprint(session, sitting.blueprint_id)
        sitting.name = fields["name"].strip() or blueprint.name
    if "access_code" in fields:
        code = fields["access_code"]
        sitting.access_code_hash = await hash_password_async(code) if code else None
    sitting.updated_at = utcnow()
    await session.commit()
    if retime:
        await retime_open_attempts(session, sitting)
    return await owned_sitting(session, viewer, sitting_id)


async def _check_leavers(session: AsyncSession, sitting: Sitting, cohort_ids: list[int]) -> None:
    """Refuse new cohorts that would leave out a candidate who has attempts in the sitting."""
    kept = select(CohortMember.user_id).where(CohortMember.cohort_id.in_(cohort_ids))
    leaving = (
        await session.scalars(
            select(User.username)
            .join(Attempt, Attempt.user_id == User.id)
            .where(Attempt.sitting_id == sitting.id, User.id.not_in(kept))
            .distinct()
            .order_by(User.username)
        )
    ).all()
    if leaving:
        shown = ", ".join(leaving[:5]) + (
            f" and {len(leaving) - 5} more" if len(leaving) > 5 else ""
        )
        raise Conflict(
            f"{shown} started attempts in sitting {sitting.id} and would no longer be in its "
            "cohorts; keep a cohort they are in"
        )


async def delete_sitting(session: AsyncSession, viewer: CurrentUser, sitting_id: int) -> None:
    """Delete a sitting nobody has started; one with attempts is refused."""
    sitting = await owned_sitting(session, viewer, sitting_id)
    started = await attempts_started(session, sitting_id)
    if started:
        raise Conflict(
            f"sitting {sitting_id} has {started} attempt(s) and cannot be deleted: they belong "
            "to it; to stop further starts, PATCH its closes_at to now"
        )
    await session.delete(sitting)
    await session.commit()


async def roster_member(session: AsyncSession, sitting: Sitting, username: str) -> User:
    """The candidate called `username` among the sitting's cohorts, or NotFound."""
    user = await session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None or not await sits(session, user.id, sitting.id):
        raise NotFound(
            f"there is no {username!r} in the cohorts of sitting {sitting.id}; enrol them in one "
            "of its cohorts first (POST /api/v1/cohorts/{id}/members)"
        )
    return user


async def set_accommodation(
    session: AsyncSession,
    viewer: CurrentUser,
    sitting_id: int,
    username: str,
    spec: AccommodationWrite,
) -> Accommodation:
    """Give a candidate of the sitting their own terms (replacing any they had); attempts
    of theirs still running are re-timed."""
    sitting = await owned_sitting(session, viewer, sitting_id)
    user = await roster_member(session, sitting, username)
    if spec.extra_time_seconds is not None and spec.time_multiplier is not None:
        raise InvalidInput(
            "send extra_time_seconds or time_multiplier, not both: the extra time is either "
            "added or multiplied"
        )
    closes_at = moment("closes_at", spec.closes_at) if spec.closes_at else None
    if closes_at is not None and closes_at <= sitting.opens_at:
        raise InvalidInput(
            f"closes_at {sitting_rules.iso(closes_at)} is not after the sitting opens "
            f"({sitting_rules.iso(sitting.opens_at)})"
        )
    saved: Accommodation | None = None
    for _ in range(2):  # a parallel PUT may insert the row first; then update it
        row = await session.get(Accommodation, (sitting.id, user.id))
        if row is None:
            row = Accommodation(sitting_id=sitting.id, user_id=user.id)
            session.add(row)
        row.extra_time_seconds = spec.extra_time_seconds
        row.time_multiplier = spec.time_multiplier
        row.extra_attempts = spec.extra_attempts
        row.closes_at = closes_at
        row.updated_at = utcnow()
        try:
            await session.commit()
            saved = row
            break
        except IntegrityError:
            await session.rollback()
    if saved is None:
        raise Conflict(f"{username!r}'s accommodation was being changed at once; send it again")
    await retime_open_attempts(session, sitting, user.id)
    await session.refresh(saved, ["user"])
    return saved


async def remove_accommodation(
    session: AsyncSession, viewer: CurrentUser, sitting_id: int, username: str
) -> None:
    """The candidate goes back to the sitting's own terms (nothing to do if they had no
    accommodation); attempts of theirs still running are re-timed."""
    sitting = await owned_sitting(session, viewer, sitting_id)
    user = await roster_member(session, sitting, username)
    await session.execute(
        delete(Accommodation).where(
            Accommodation.sitting_id == sitting.id, Accommodation.user_id == user.id
        )
    )
    await session.commit()
    await retime_open_attempts(session, sitting, user.id)


def extra_of(row: Accommodation | None) -> sitting_rules.Extra | None:
    if row is None:
        return None
    return sitting_rules.Extra(
        extra_time_seconds=row.extra_time_seconds,
        time_multiplier=row.time_multiplier,
        extra_attempts=row.extra_attempts,
        closes_at=row.closes_at,
    )


def base_time_limit(sitting: Sitting, blueprint: Blueprint) -> int | None:
    """The sitting's time limit, else the blueprint's."""
    return sitting.time_limit_seconds or blueprint.time_limit_seconds


def terms_of(
    sitting: Sitting, blueprint: Blueprint, accommodation: Accommodation | None
) -> sitting_rules.Terms:
    """A candidate's terms in the sitting, their accommodation applied."""
    return sitting_rules.terms(
        opens_at=sitting.opens_at,
        closes_at=sitting.closes_at,
        time_limit_seconds=base_time_limit(sitting, blueprint),
        attempts_allowed=sitting.attempts_allowed,
        extra=extra_of(accommodation),
    )


async def retime_open_attempts(
    session: AsyncSession, sitting: Sitting, user_id: int | None = None
) -> int:
    """Apply the deadline rule again to the sitting's running attempts (one candidate's,
    with `user_id`) after its closing time or an accommodation changed; returns how many
    moved. The time limit is the one fixed at the start. A deadline the rule now puts in
    the past becomes the moment of this change (or stays earlier if it already was):
    answers saved until now were accepted and stay."""
    now = utcnow()
    query = select(Attempt).where(Attempt.sitting_id == sitting.id, Attempt.status == "in_progress")
    if user_id is not None:
        query = query.where(Attempt.user_id == user_id)
    running = (await session.scalars(query)).all()
    if not running:
        return 0
    extras = {
        row.user_id: extra_of(row)
        for row in (
            await session.scalars(
                select(Accommodation).where(Accommodation.sitting_id == sitting.id)
            )
        ).all()
    }
    moved = 0
    for attempt in running:
        extra = extras.get(attempt.user_id)
        limit = sitting_rules.extended_limit(attempt.settings.get("time_limit_seconds"), extra)
        close = (extra.closes_at if extra else None) or sitting.closes_at
        deadline = sitting_rules.deadline(attempt.started_at, limit, close)
        if deadline is not None and deadline < now:
            deadline = now if attempt.deadline is None else min(attempt.deadline, now)
        if deadline == attempt.deadline:
            continue
        grace = timedelta(seconds=attempt.settings.get("grace_seconds") or 0)
        changed = await session.execute(
            update(Attempt)
            .where(Attempt.id == attempt.id, Attempt.status == "in_progress")
            .values(deadline=deadline, closes_at=deadline + grace if deadline else None)
        )
        moved += changed.rowcount  # type: ignore[attr-defined]
    await session.commit()
    return moved


# --- who sits it ---------------------------------------------------------------------------


async def sitting_to_sit(session: AsyncSession, me: CurrentUser, sitting_id: int) -> Sitting:
    """The sitting if `me` is in one of its cohorts; otherwise NotFound, exactly as for a
    sitting that does not exist."""
    sitting = await session.get(Sitting, sitting_id, populate_existing=True)
    if sitting is None or not await sits(session, me.id, sitting_id):
        raise not_on_roster(sitting_id)
    return sitting


async def attempts_used(session: AsyncSession, sitting_id: int, user_id: int) -> int:
    """The number of the candidate's latest attempt in the sitting (0: none yet)."""
    used = await session.scalar(
        select(func.max(Attempt.attempt_number)).where(
            Attempt.sitting_id == sitting_id, Attempt.user_id == user_id
        )
    )
    return int(used or 0)


async def counted_scores(
    session: AsyncSession, sitting: Sitting
) -> dict[int, sitting_rules.Counted]:
    """Each candidate's counted scaled score in the sitting under its grading method
    (`sitting_rules.counted`, over their graded attempts in the order started), by user
    id; a candidate with nothing graded is left out. The caller checks who may see it."""
    rows = await session.execute(
        select(Attempt.user_id, Attempt.id, Result.scaled_score)
        .join(Result, Result.attempt_id == Attempt.id)
        .where(Attempt.sitting_id == sitting.id)
        .order_by(Attempt.user_id, Attempt.attempt_number, Attempt.id)
    )
    graded: dict[int, list[tuple[int, float]]] = {}
    for user_id, attempt_id, score in rows.all():
        graded.setdefault(user_id, []).append((attempt_id, float(score)))
    counts = {
        user_id: sitting_rules.counted(sitting.grading_method, scores)
        for user_id, scores in graded.items()
    }
    return {user_id: count for user_id, count in counts.items() if count is not None}


# --- views --------------------------------------------------------------------------------


def accommodation_view(row: Accommodation) -> AccommodationView:
    return AccommodationView(
        user_id=row.user_id,
        username=row.user.username,
        display_name=row.user.display_name,
        extra_time_seconds=row.extra_time_seconds,
        time_multiplier=row.time_multiplier,
        extra_attempts=row.extra_attempts,
        closes_at=row.closes_at,
    )


async def sitting_view(session: AsyncSession, sitting: Sitting) -> SittingView:
    """A sitting as its owner and admins see it (loaded by `owned_sitting`)."""
    blueprint = await get_blueprint(session, sitting.blueprint_id)
    return SittingView(
        id=sitting.id,
        name=sitting.name,
        blueprint_id=sitting.blueprint_id,
        owner_id=sitting.owner_id,
        cohort_ids=[c.cohort_id for c in sitting.cohorts],
        opens_at=sitting.opens_at,
        closes_at=sitting.closes_at,
        attempts_allowed=sitting.attempts_allowed,
        time_limit_seconds=sitting.time_limit_seconds,
        grading_method=sitting.grading_method,
        review_policy=sitting.review_policy,
        access_code_set=sitting.access_code_hash is not None,
        state=sitting_rules.state(terms_of(sitting, blueprint, None), utcnow()),
        attempts_started=await attempts_started(session, sitting.id),
        accommodations=[accommodation_view(a) for a in sitting.accommodations],
        created_at=sitting.created_at,
        updated_at=sitting.updated_at,
    )
