"""What may be seen of an attempt's outcome: its result, and the review (keys, rationales,
explanations) or a practice check, as the attempt's review policy releases them.

The policy is decided here and nowhere else; controllers and pages only show what these
functions return.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from exam_service.auth.schemas import CurrentUser
from exam_service.db import utcnow
from exam_service.errors import Conflict, Forbidden, NotFound
from exam_service.exams import delivery
from exam_service.exams.closing import close_if_expired, submit
from exam_service.exams.schemas import (
    CheckView,
    Choice,
    ObjectiveScore,
    ResultView,
    ReviewItem,
)
from exam_service.exams.service import (
    attempt_scale,
    items_and_responses,
    objective_codes,
    result_of,
    seconds_left,
    utc_clock,
    visible_attempt,
)
from exam_service.grading import scoring
from exam_service.models import Accommodation, Attempt, AttemptItem, Response, Result, Sitting


class Shown(NamedTuple):
    options: list[Choice]
    prompts: list[Choice]
    choices: list[Choice]


def shown_lists(content: dict[str, Any], layout: dict[str, Any]) -> Shown:
    """An item's options (or prompts and choices) with display ids, text only."""
    view = delivery.shown(content, layout)
    return Shown(*([Choice(**c) for c in view[name]] for name in Shown._fields))


class ReviewRule(NamedTuple):
    """The review policy an attempt is under, and for `after_window_closes` when the
    sitting's window has closed for everyone (with grace); None: not yet known."""

    policy: str
    window_closes_at: datetime | None = None


def window_close(sitting: Sitting, personal_closes: Iterable[datetime | None]) -> datetime | None:
    """When a sitting's window has closed for everyone: the latest of its closing time and
    the candidates' own; None while it has no closing time (someone may still be sitting)."""
    if sitting.closes_at is None:
        return None
    return max([sitting.closes_at, *(close for close in personal_closes if close)])


def rule_for(attempt: Attempt, sitting: Sitting | None, closes: datetime | None) -> ReviewRule:
    """The rule of an attempt: the blueprint's policy fixed at its start, unless its
    sitting sets one (read as the sitting says now, so an instructor can release a review
    later); `closes` is the sitting's `window_close`."""
    policy = attempt.settings["review_policy"]
    if sitting is None:
        return ReviewRule(policy)
    policy = sitting.review_policy or policy
    if policy == "after_window_closes" and closes is not None:
        grace = timedelta(seconds=attempt.settings.get("grace_seconds") or 0)
        return ReviewRule(policy, closes + grace)
    return ReviewRule(policy)


async def review_rule(session: AsyncSession, attempt: Attempt) -> ReviewRule:
    """The review rule `attempt` is under now (see `rule_for`)."""
    if attempt.sitting_id is None:
        return ReviewRule(attempt.settings["review_policy"])
    sitting = await session.get(Sitting, attempt.sitting_id)
    if sitting is None:
        return ReviewRule(attempt.settings["review_policy"])
    personal = await session.scalars(
        select(Accommodation.closes_at).where(Accommodation.sitting_id == sitting.id)
    )
    return rule_for(attempt, sitting, window_close(sitting, personal.all()))


def review_release(
    attempt: Attempt, viewer: CurrentUser, now: datetime, rule: ReviewRule | None = None
) -> tuple[bool, str]:
    """Whether `viewer` may see keys and explanations now, and a note saying when.

    Staff looking at someone else's attempt always may. The candidate may under
    `after_submit` once the attempt is closed, under `after_close` once the exam's closing
    time (the attempt's deadline and grace) has passed, under `after_window_closes` once
    the sitting's window has closed for everyone (`rule.window_closes_at`), and never under
    `never`. `rule` defaults to the policy fixed at the attempt's start.
    """
    if viewer.id != attempt.user_id and viewer.role in ("admin", "instructor"):
        return True, "shown to instructors and admins"
    policy = (rule or ReviewRule(attempt.settings["review_policy"])).policy
    if policy == "never":
        return False, "this exam's review policy never shows the answers"
    if policy == "after_close":
        opens = attempt.closes_at or attempt.submitted_at or now
        if now < opens:
            return False, f"the answers are shown after the exam closes at {utc_clock(opens)}"
    if policy == "after_window_closes":
        closes = rule.window_closes_at if rule else None
        if closes is None:
            return (
                False,
                "the answers are shown after the sitting closes; it has no closing time yet",
            )
        if now < closes:
            return False, f"the answers are shown after the sitting closes at {utc_clock(closes)}"
    return True, "the answers are shown because the attempt is closed"


def review_item(item: AttemptItem, response: Response | None) -> ReviewItem:
    revision = item.revision
    shown = shown_lists(revision.content, item.layout)
    return ReviewItem(
        position=item.position,
        question_id=revision.question_id,
        type=revision.type,
        scored=item.scored,
        stem=delivery.stem(revision.stem, item.layout),
        case=revision.case_scenario,
        options=shown.options,
        prompts=shown.prompts,
        choices=shown.choices,
        answer=response.answer if response else None,
        key=delivery.display_key(revision.type, revision.content, item.layout),
        points=item.points or 0.0,
        rationales=delivery.rationales(revision.content, item.layout),
        explanation=delivery.explanation(revision.content, item.layout),
        objectives=list(objective_codes(revision)),
        source=revision.source,
        unit=revision.content.get("unit"),
        mistake=_mistake(revision.type, revision.content, item.layout, response),
    )


def _mistake(
    kind: str, content: dict[str, Any], layout: dict[str, Any], response: Response | None
) -> str | None:
    """A numeric answer's known-mistake rationale, if the answer is a known mistake."""
    if kind != "numeric" or response is None:
        return None
    return delivery.numeric_mistake(content, layout, response.answer)


async def result_for(
    session: AsyncSession, viewer: CurrentUser, attempt: Attempt
) -> ResultView | None:
    """The result of an attempt `viewer` may see, with the review when the policy releases
    it; the attempt is closed first if its time is over. None while it is in progress."""
    await close_if_expired(session, attempt)
    result: Result | None = await result_of(session, attempt.id)
    if result is None:
        return None
    released, note = review_release(attempt, viewer, utcnow(), await review_rule(session, attempt))
    review = None
    if released:
        items, responses = await items_and_responses(session, attempt.id)
        review = [review_item(item, responses.get(item.position)) for item in items]
    return ResultView(
        attempt_id=attempt.id,
        status=attempt.status,
        submitted_at=attempt.submitted_at,
        raw_score=result.raw_score,
        raw_possible=result.raw_possible,
        raw_percent=result.raw_percent,
        scaled_score=result.scaled_score,
        passed=result.passed,
        scale=attempt_scale(attempt),
        objectives=[ObjectiveScore(**node) for node in result.objectives],
        review_available=released,
        review_note=note,
        review=review,
        scoring="irt" if attempt.settings.get("scoring") == "irt" else "raw",
        theta=result.theta,
        theta_se=result.theta_se,
    )


async def attempt_result(session: AsyncSession, viewer: CurrentUser, attempt_id: int) -> ResultView:
    """The result of attempt `attempt_id` for `viewer` (NotFound if they may not see it;
    Conflict while it is in progress)."""
    attempt = await visible_attempt(session, viewer, attempt_id)
    view = await result_for(session, viewer, attempt)
    if view is None:
        left = seconds_left(attempt, utcnow())
        until = f" ({left} seconds left)" if left is not None else ""
        raise Conflict(
            f"attempt {attempt_id} is still in progress{until}; submit it to see the result"
        )
    return view


async def submit_for_result(session: AsyncSession, me: CurrentUser, attempt_id: int) -> ResultView:
    """Close and grade the owner's attempt (idempotent) and return its result."""
    attempt = await submit(session, me, attempt_id)
    view = await result_for(session, me, attempt)
    assert view is not None  # a submitted attempt has been graded
    return view


CHECK_NOTES = {
    "after_submit": "the answer and its explanation are shown as you check",
    "after_close": "only right or wrong is shown now; the answers are shown after the exam closes",
    "after_window_closes": (
        "only right or wrong is shown now; the answers are shown after the sitting closes"
    ),
    "never": "only right or wrong is shown: this exam's review policy never shows the answers",
}
"""What practice mode's "check answer" may show under each review policy. Only
`after_submit` releases keys during the attempt: under `after_close` and
`after_window_closes` other candidates may still be sitting the same questions, and
`never` never releases them."""


async def check_response(
    session: AsyncSession, me: CurrentUser, attempt_id: int, position: int
) -> CheckView:
    """Practice mode's (and adaptive practice's) "check answer": lock the saved answer of
    one item and say whether it is right; the key, rationales and explanation come too
    when the review policy allows them during the attempt (`CHECK_NOTES`)."""
    attempt = await visible_attempt(session, me, attempt_id, owner_only=True)
    await close_if_expired(session, attempt)
    if attempt.mode not in ("practice", "adaptive"):
        raise Forbidden(
            f"attempt {attempt_id} is a timed exam; answers are checked only in practice mode"
        )
    if attempt.status != "in_progress":
        raise Conflict(f"attempt {attempt_id} is closed; see its result for the review")
    item = await session.scalar(
        select(AttemptItem)
        .where(AttemptItem.attempt_id == attempt_id, AttemptItem.position == position)
        .options(selectinload(AttemptItem.revision))
    )
    if item is None:
        raise NotFound(f"attempt {attempt_id} has no question {position}")
    response = await session.get(Response, (attempt_id, position))
    if response is None or response.answer is None:
        raise Conflict(f"save an answer to question {position} before checking it")
    await session.execute(
        update(Response)
        .where(Response.attempt_id == attempt_id, Response.position == position)
        .values(locked=True)
    )
    await session.commit()
    revision = item.revision
    key = delivery.display_key(revision.type, revision.content, item.layout)
    points = scoring.item_points(
        revision.type,
        key,
        response.answer,
        partial_credit=bool(attempt.settings.get("partial_credit")),
    )
    policy = (await review_rule(session, attempt)).policy
    verdict = CheckView(
        position=position,
        answer=response.answer,
        correct=points == 1.0,
        points=points,
        feedback="verdict",
        feedback_note=CHECK_NOTES[policy],
    )
    if policy != "after_submit":
        return verdict
    return msgspec.structs.replace(
        verdict,
        feedback="full",
        key=key,
        rationales=delivery.rationales(revision.content, item.layout),
        explanation=delivery.explanation(revision.content, item.layout),
        mistake=_mistake(revision.type, revision.content, item.layout, response),
    )
