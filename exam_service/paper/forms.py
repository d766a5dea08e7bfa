"""The forms of a paper exam: one seeded question set, reordered per form. Pure.

Every form holds the same questions; each gets its own question order (cases kept
together) and option order, drawn by the exam assembly from just those questions with a
seed derived from the exam's seed and the form's letter, so a form is reproducible. A
question template draws its values per form from that seed (each form its own numbers,
kept in the form item's layout like an attempt item's).
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from exam_service.exams.assembly import DrawnItem, ExamSpec, PoolQuestion, assemble
from exam_service.exams.delivery import display_key, shown, stem
from exam_service.paper.answers import answer_text
from exam_service.paper.document import PaperQuestion, PrintedForm

MAX_FORMS = 26


def form_codes(count: int) -> list[str]:
    if not 1 <= count <= MAX_FORMS:
        raise ValueError(f"a paper exam has 1 to {MAX_FORMS} forms (A-Z), not {count}")
    return list(string.ascii_uppercase[:count])


def form_seed(seed: int, code: str) -> int:
    digest = hashlib.sha256(f"{seed}:{code}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 2


def make_forms(
    chosen: Sequence[DrawnItem],
    pool: Sequence[PoolQuestion],
    count: int,
    seed: int,
    shuffle_options: bool = True,
) -> dict[str, list[DrawnItem]]:
    """Per form letter, the chosen questions in that form's order with its option orders;
    `scored` comes from the chosen set (the same unscored items on every form)."""
    by_id = {q.question_id: q for q in pool}
    questions = [by_id[item.question_id] for item in chosen]
    scored = {item.question_id: item.scored for item in chosen}
    spec = ExamSpec(question_count=len(questions), shuffle_options=shuffle_options)
    forms = {}
    for code in form_codes(count):
        drawn = assemble(spec, questions, {}, form_seed(seed, code))
        forms[code] = [
            DrawnItem(
                position=item.position,
                question_id=item.question_id,
                revision_id=item.revision_id,
                objective=item.objective,
                scored=scored[item.question_id],
                option_order=item.option_order,
                prompt_order=item.prompt_order,
                choice_order=item.choice_order,
                drawn=item.drawn,
            )
            for item in drawn
        ]
    return forms


class PrintableQuestion(Protocol):
    """A question revision as stored (or as the loader builds it): what printing needs."""

    type: str
    stem: str
    content: dict[str, Any]
    case_id: str | None
    case_title: str | None
    case_scenario: str | None


def printed_form(
    code: str,
    items: Sequence[tuple[int, Mapping[str, Any]]],
    revisions: Mapping[int, PrintableQuestion],
) -> PrintedForm:
    """One form as the printers see it, from its (revision id, layout) items in order:
    texts in printed order and the key in the form's notation."""
    questions, key = [], []
    for number, (revision_id, layout) in enumerate(items, 1):
        revision = revisions[revision_id]
        view = shown(revision.content, dict(layout))
        questions.append(
            PaperQuestion(
                number=number,
                type=revision.type,
                stem=stem(revision.stem, dict(layout)),
                options=tuple(o["text"] for o in view["options"]),
                choose=revision.content.get("choose"),
                prompts=tuple(p["text"] for p in view["prompts"]),
                choices=tuple(c["text"] for c in view["choices"]),
                case_id=revision.case_id,
                case_title=revision.case_title,
                case_scenario=revision.case_scenario,
                question_key=str(revision_id),
            )
        )
        key.append(
            answer_text(revision.type, display_key(revision.type, revision.content, dict(layout)))
        )
    return PrintedForm(code, tuple(questions), tuple(key))
