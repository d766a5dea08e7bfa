"""Who may see whose work: the one rule every attempt, report and paper lookup applies.

A user sees their own attempts; an admin sees everyone's; an instructor also sees the
attempts of the members of the cohorts they own. Everything else answers 404, exactly as
for something that does not exist.

Who sits a sitting is written here too: the members of its cohorts (which are its owner's,
so the owner sees every attempt made in it by the rule above).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, exists, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from exam_service.auth.schemas import CurrentUser
from exam_service.models import Cohort, CohortMember, SittingCohort


def taught_by(instructor_id: int) -> Select[Any]:
    """The ids of the members of the cohorts `instructor_id` owns."""
    return (
        select(CohortMember.user_id)
        .join(Cohort, Cohort.id == CohortMember.cohort_id)
        .where(Cohort.owner_id == instructor_id)
    )


def others_visible_to(viewer: CurrentUser) -> Select[Any] | None:
    """The users besides `viewer` whose work `viewer` may see: None for an admin (all of
    them), an instructor's cohort members, nobody for a candidate."""
    if viewer.role == "admin":
        return None
    if viewer.role == "instructor":
        return taught_by(viewer.id)
    return select(CohortMember.user_id).where(~true())


def visible_to(viewer: CurrentUser, user_id: InstrumentedAttribute[int]) -> ColumnElement[bool]:
    """A WHERE clause: the row's `user_id` column is someone `viewer` may see."""
    others = others_visible_to(viewer)
    if others is None:
        return true()
    return (user_id == viewer.id) | user_id.in_(others)


async def may_see_user(session: AsyncSession, viewer: CurrentUser, user_id: int) -> bool:
    """Whether `viewer` may see the work of user `user_id`."""
    if viewer.id == user_id or viewer.role == "admin":
        return True
    others = others_visible_to(viewer)
    assert others is not None
    return bool(await session.scalar(select(exists(others.where(CohortMember.user_id == user_id)))))


def sitting_roster(sitting_id: int) -> Select[Any]:
    """The ids of the users who sit sitting `sitting_id`: the members of its cohorts."""
    return (
        select(CohortMember.user_id)
        .join(SittingCohort, SittingCohort.cohort_id == CohortMember.cohort_id)
        .where(SittingCohort.sitting_id == sitting_id)
    )


def sittings_of(user_id: int) -> Select[Any]:
    """The ids of the sittings user `user_id` sits (through any of their cohorts)."""
    return (
        select(SittingCohort.sitting_id)
        .join(CohortMember, CohortMember.cohort_id == SittingCohort.cohort_id)
        .where(CohortMember.user_id == user_id)
    )


async def sits(session: AsyncSession, user_id: int, sitting_id: int) -> bool:
    """Whether user `user_id` is on the roster of sitting `sitting_id`."""
    roster = sitting_roster(sitting_id).where(CohortMember.user_id == user_id)
    return bool(await session.scalar(select(exists(roster))))
