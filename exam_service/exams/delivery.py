"""How an attempt shows a question, and what answers it accepts. Pure.

An attempt never shows the bank's option ids (for an ordering question they are the key
in order): it shows display ids by position - letters for options and matching choices,
numbers for matching prompts - and keeps the display order in the item's `layout`.
Answers arrive and are stored in display ids; `display_key` turns the key into the same
ids for grading and review.

A `numeric` question has no options: its answer is a number (a JSON number, or a string
that reads as one: `grading/numeric.py`), stored normalised, and its key is the dict of
`numeric.numeric_key`. An attempt item of a question template may carry the answer drawn
for it in its layout (`layout["key"]`, a number) and its mistakes' values
(`layout["mistakes"]`, numbers in the question's order); they replace the bank's. Such
an item also carries the drawn `values` (`bank/templates.py`), which `shown`, `rationales`,
`numeric_mistake` and `explanation` put into the texts (`stem` for the stem).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from exam_service.bank import templates
from exam_service.grading import numeric

LETTERS = string.ascii_uppercase


class AnswerRejected(ValueError):
    """The answer does not fit the question; the message says what to send instead."""


@dataclass(frozen=True)
class AnswerSpec:
    type: str
    option_ids: tuple[str, ...] = ()
    choose: int | None = None
    prompt_ids: tuple[str, ...] = ()
    choice_ids: tuple[str, ...] = ()
    unit: str | None = None
    """`numeric`: the unit shown after the answer box, which may also be typed."""


def letters(count: int) -> tuple[str, ...]:
    return tuple(LETTERS[:count])


def numbers(count: int) -> tuple[str, ...]:
    return tuple(str(n) for n in range(1, count + 1))


def answer_spec(item_type: str, content: dict[str, Any], layout: dict[str, Any]) -> AnswerSpec:
    if item_type == "numeric":
        return AnswerSpec(item_type, unit=content.get("unit"))
    if item_type == "matching":
        return AnswerSpec(
            item_type,
            prompt_ids=numbers(len(layout["prompts"])),
            choice_ids=letters(len(layout["choices"])),
        )
    return AnswerSpec(item_type, letters(len(layout["options"])), content.get("choose"))


def shown(content: dict[str, Any], layout: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """The options (or prompts and choices) as the candidate sees them: id and text only."""
    content = templates.instance(content, layout)
    if "prompts" in layout:
        prompts = {p["id"]: p["text"] for p in content["prompts"]}
        choices = {c["id"]: c["text"] for c in content["choices"]}
        return {
            "options": [],
            "prompts": [
                {"id": n, "text": prompts[bank]}
                for n, bank in zip(numbers(len(layout["prompts"])), layout["prompts"], strict=True)
            ],
            "choices": [
                {"id": letter, "text": choices[bank]}
                for letter, bank in zip(LETTERS, layout["choices"], strict=False)
            ],
        }
    options = {o["id"]: o["text"] for o in content.get("options", [])}
    return {
        "options": [
            {"id": letter, "text": options[bank]}
            for letter, bank in zip(LETTERS, layout["options"], strict=False)
        ],
        "prompts": [],
        "choices": [],
    }


def display_key(item_type: str, content: dict[str, Any], layout: dict[str, Any]) -> Any:
    """The key in display ids: a list of letters, or prompt number -> choice letter; for
    `numeric`, the key of `numeric.numeric_key` (with the attempt's drawn answer, if any)."""
    if item_type == "numeric":
        return numeric.numeric_key(content, layout.get("key"))
    key = content["key"]
    if item_type == "matching":
        prompt_number = {bank: n for n, bank in zip(numbers(99), layout["prompts"], strict=False)}
        choice_letter = {
            bank: letter for letter, bank in zip(LETTERS, layout["choices"], strict=False)
        }
        return {prompt_number[p]: choice_letter[c] for p, c in key.items()}
    letter_of = {bank: letter for letter, bank in zip(LETTERS, layout["options"], strict=False)}
    mapped = [letter_of[k] for k in key]
    return mapped if item_type == "ordering" else sorted(mapped)


def rationales(content: dict[str, Any], layout: dict[str, Any]) -> dict[str, str]:
    """Display id -> rationale, for review once the policy allows it; for `numeric`, the
    right answer's rationale under "key" (a known mistake's comes from `numeric_mistake`)."""
    content = templates.instance(content, layout)
    if "rationale" in content:
        return {"key": content["rationale"]}
    if "prompts" in layout:
        by_bank = {p["id"]: p["rationale"] for p in content["prompts"]}
        return {n: by_bank[b] for n, b in zip(numbers(99), layout["prompts"], strict=False)}
    by_bank = {o["id"]: o["rationale"] for o in content["options"]}
    return {letter: by_bank[b] for letter, b in zip(LETTERS, layout["options"], strict=False)}


def numeric_mistake(content: dict[str, Any], layout: dict[str, Any], answer: Any) -> str | None:
    """The rationale of the known mistake a numeric answer matches (within the question's
    tolerance of the mistake's value), or None."""
    content = templates.instance(content, layout)
    mistakes = content.get("mistakes") or []
    drawn = layout.get("mistakes")
    if drawn is not None:
        mistakes = [
            {"value": value, "rationale": m["rationale"]}
            for value, m in zip(drawn, mistakes, strict=False)
        ]
    key = numeric.numeric_key(content, layout.get("key"))
    found = numeric.mistake_for(key, mistakes, answer)
    return None if found is None else str(found["rationale"])


def stem(text: str, layout: dict[str, Any]) -> str:
    """The stem as this item shows it (a template's with its drawn values)."""
    return templates.stem_of(text, layout)


def explanation(content: dict[str, Any], layout: dict[str, Any]) -> str:
    """The explanation as this item shows it (a template's with its drawn values)."""
    values = layout.get("values")
    text = str(content["explanation"])
    return templates.interpolate(text, values) if values else text


def _listed(what: str, ids: tuple[str, ...]) -> str:
    return f"{what} {', '.join(ids)}"


def check_answer(spec: AnswerSpec, answer: Any) -> Any:
    """The answer in its stored form, or AnswerRejected saying what is wrong.

    None, [] and {} all mean "no answer" and are stored as None (for `numeric`, blank
    text too).
    """
    if spec.type == "numeric":
        try:
            return numeric.read_answer(answer, spec.unit)
        except numeric.NumberRejected as exc:
            raise AnswerRejected(str(exc)) from None
    if answer is None or answer == [] or answer == {}:
        return None
    if spec.type == "matching":
        if not isinstance(answer, dict):
            raise AnswerRejected(
                "a matching answer is an object from prompt id to choice id, e.g. "
                f'{{"{spec.prompt_ids[0]}": "{spec.choice_ids[0]}"}}'
            )
        for prompt, choice in answer.items():
            if prompt not in spec.prompt_ids:
                raise AnswerRejected(
                    f"prompt {prompt!r} is not in this question; "
                    f"use {_listed('prompts', spec.prompt_ids)}"
                )
            if not isinstance(choice, str) or choice not in spec.choice_ids:
                raise AnswerRejected(
                    f"choice {choice!r} for prompt {prompt} is not in this question; "
                    f"use {_listed('choices', spec.choice_ids)}"
                )
        return {p: answer[p] for p in spec.prompt_ids if p in answer}
    if not isinstance(answer, list) or not all(isinstance(a, str) for a in answer):
        raise AnswerRejected(
            f'a {spec.type} answer is a list of option ids, e.g. ["{spec.option_ids[0]}"]'
        )
    unknown = [a for a in answer if a not in spec.option_ids]
    if unknown:
        raise AnswerRejected(
            f"unknown option {', '.join(map(repr, unknown))}; "
            f"use {_listed('options', spec.option_ids)}"
        )
    if len(set(answer)) != len(answer):
        raise AnswerRejected("an option appears twice in the answer; list each option once")
    if spec.type == "single" and len(answer) > 1:
        raise AnswerRejected("this question takes one option; send a list with one id")
    if spec.type == "multiple" and spec.choose is not None and len(answer) > spec.choose:
        raise AnswerRejected(f"choose at most {spec.choose} options; {len(answer)} were sent")
    if spec.type == "ordering":
        if len(answer) != len(spec.option_ids):
            raise AnswerRejected(
                f"an ordering answer lists every option once in your order: all of "
                f"{', '.join(spec.option_ids)} ({len(answer)} of {len(spec.option_ids)} sent)"
            )
        return list(answer)
    return sorted(answer)
