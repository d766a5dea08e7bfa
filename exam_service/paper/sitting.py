"""Paper exams in a sitting: a paper exam made for a sitting (`sitting_id`) draws from the
sitting's blueprint, prints answer sheets for the sitting's roster unless candidates are
named, and its graded paper answers are attempts in the sitting: numbered after the
candidate's attempts there, counted by the grading method, in the sitting's reports.

What holds for paper answers in a sitting: the candidate must be on the sitting's roster,
and the attempts allowed (with their extra attempts) hold as for starts online: answers
of a candidate who has used them all are refused with the row, saying how to give them
another. The window does not: answers are typed in or scanned after the candidates wrote
them, often after the sitting has closed, and the sheet itself was handed out in the room.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.auth.access import sits, sitting_roster
from exam_service.auth.schemas import CurrentUser
from exam_service.errors import Conflict, InvalidInput
from exam_service.exams.blueprints import get_blueprint
from exam_service.exams.sittings import attempts_used, owned_sitting, terms_of
from exam_service.models import Accommodation, Sitting, User
from exam_service.paper.document import SheetCandidate


def candidate_number(user_id: int) -> str:
    """The number bubbled on answer sheets: the user id, eight digits."""
    return f"{user_id:08d}"


async def sitting_for_paper(
    session: AsyncSession, me: CurrentUser, sitting_id: int, blueprint_id: str | None
) -> Sitting:
    """The sitting a new paper exam is for, if it is `me`'s (admins: any; NotFound
    otherwise); a `blueprint_id` other than the sitting's is refused."""
    sitting = await owned_sitting(session, me, sitting_id)
    if blueprint_id is not None and blueprint_id != sitting.blueprint_id:
        raise InvalidInput(
            f"sitting {sitting_id} is of blueprint {sitting.blueprint_id!r}, not "
            f"{blueprint_id!r}; leave blueprint_id out to use the sitting's"
        )
    return sitting


async def roster_sheets(session: AsyncSession, sitting_id: int) -> list[SheetCandidate]:
    """An answer sheet for each candidate on the sitting's roster, by username."""
    users = await session.scalars(
        select(User).where(User.id.in_(sitting_roster(sitting_id))).order_by(User.username)
    )
    return [SheetCandidate(u.username, u.display_name, candidate_number(u.id)) for u in users.all()]


async def _allowed(session: AsyncSession, sitting: Sitting, user_id: int) -> int | None:
    blueprint = await get_blueprint(session, sitting.blueprint_id)
    own = await session.get(Accommodation, (sitting.id, user_id))
    return terms_of(sitting, blueprint, own).attempts_allowed


async def sitting_problem(session: AsyncSession, sitting_id: int, user: User) -> str | None:
    """Why `user`'s paper answers cannot count in the sitting, or None when they can."""
    sitting = await session.get_one(Sitting, sitting_id)
    if not await sits(session, user.id, sitting_id):
        return (
            f"{user.username} is not in the cohorts of sitting {sitting_id}, which this paper "
            "exam belongs to; enrol them in one of its cohorts first"
        )
    used = await attempts_used(session, sitting_id, user.id)
    allowed = await _allowed(session, sitting, user.id)
    if allowed is not None and used >= allowed:
        return (
            f"{user.username} has used {used} of {allowed} attempt(s) at sitting {sitting_id}, "
            "so these answers cannot count; give them an extra attempt "
            f"(PUT /api/v1/sittings/{sitting_id}/accommodations/{user.username}) and send "
            "this row again"
        )
    return None


async def next_number(session: AsyncSession, sitting_id: int, user_id: int, username: str) -> int:
    """The number the candidate's paper attempt takes in the sitting, checked against the
    attempts allowed again just before it is stored (a start online may have come since)."""
    sitting = await session.get_one(Sitting, sitting_id)
    used = await attempts_used(session, sitting_id, user_id)
    allowed = await _allowed(session, sitting, user_id)
    if allowed is not None and used >= allowed:
        raise Conflict(
            f"{username} has used {used} of {allowed} attempt(s) at sitting {sitting_id} since "
            "these answers were checked; the rows before theirs were graded"
        )
    return used + 1
