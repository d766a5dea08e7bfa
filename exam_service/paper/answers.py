"""Paper answer strings (DESIGN.md notation) to and from an attempt's stored answers. Pure.

`single`/`multiple`: the letters chosen ("B", "AC"); `ordering`: every letter in the
chosen order ("CADB"); `matching`: the letter chosen for each prompt, in prompt order
("BAC"). Blank is unanswered. Letters are case-insensitive; spaces are ignored.
`numeric`: the number, read as the exam page reads it ("1200", "1,200", "1.2e3";
`grading/numeric.py`); a scanned digit grid gives it as written ("-12.5"). A numeric key
reads "1200 (± 2%: 1176 to 1224)": the answer, then its tolerance and accepted range (and
"; partial 1140 to 1260" for a partial-credit band); an exact key is the number alone.
"""

from __future__ import annotations

from typing import Any

from exam_service.exams.delivery import AnswerRejected, AnswerSpec, check_answer
from exam_service.grading import numeric


def parse_answer(spec: AnswerSpec, text: str) -> Any:
    """The stored answer for a paper answer string, or AnswerRejected saying what is wrong."""
    if spec.type == "numeric":
        return check_answer(spec, text)
    letters = "".join(text.split()).upper()
    if not letters:
        return None
    if spec.type == "matching":
        if len(letters) != len(spec.prompt_ids):
            raise AnswerRejected(
                f"{letters!r} has {len(letters)} letters; write one letter for each of the "
                f"{len(spec.prompt_ids)} prompts, in prompt order (e.g. "
                f"{''.join(spec.choice_ids[: len(spec.prompt_ids)])!r}), or leave it blank"
            )
        return check_answer(spec, dict(zip(spec.prompt_ids, letters, strict=True)))
    return check_answer(spec, list(letters))


def answer_text(item_type: str, stored: Any) -> str:
    """The paper notation of a stored answer or key (a numeric key with its range: see the
    module docstring)."""
    if item_type == "numeric":
        if isinstance(stored, dict):
            return _numeric_key_text(stored)
        return "" if stored is None else numeric.number_text(stored)
    if not stored:
        return ""
    if item_type == "matching":
        return "".join(stored[p] for p in sorted(stored, key=int))
    return "".join(stored)


def _numeric_key_text(key: dict[str, Any]) -> str:
    tolerance = numeric.parse_tolerance(key["tolerance"])
    parts = []
    if tolerance.amount:
        low, high = numeric.number_text(key["low"]), numeric.number_text(key["high"])
        parts.append(f"{tolerance.text()}: {low} to {high}")
    partial = key.get("partial")
    if partial:
        low, high = numeric.number_text(partial["low"]), numeric.number_text(partial["high"])
        parts.append(f"partial {low} to {high}")
    band = f" ({'; '.join(parts)})" if parts else ""
    return numeric.number_text(key["value"]) + band


def numeric_key_parts(text: str) -> tuple[str, str]:
    """A numeric key's text split into its answer and what is in brackets after it:
    ("1200", "± 2%: 1176 to 1224"); ("256", "") for an exact key."""
    value, _, rest = text.partition(" (")
    return value, rest.removesuffix(")")
