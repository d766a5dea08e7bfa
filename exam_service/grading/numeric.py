"""Numeric answers: reading a typed number, tolerances, and the bands that score it. Pure.

Reading (`read_answer`, `parse_number`): "1,200", "1200", "1 200" and "1.2e3" are the
same number.
- A point is the decimal separator. A comma (or a space, a no-break or thin space, an
  apostrophe) only separates thousands, in groups of three digits after a first group of
  1-3 digits that does not start with 0: "1,200", "12,345.5", "1 200". Any other comma is
  refused with the advice to write decimals with a point: "1,5" and "0,125" are refused,
  never read as 1.5 or 0.125, and never as 15 or 125. (A decimal comma cannot be told
  from a thousands comma in "1,500", so the only safe reading is one rule for every
  candidate; the exam page shows the number as it was read.)
- A sign (+, - or the minus sign U+2212) and an exponent (`e` or `E`: "1.2e3", "5E-4").
- The question's unit may follow the number, with or without a space, in any case ("30 s",
  "30S"); any other text is refused, saying what to type.
- Stored normalised: an int when the number is whole and below 10^15 in size, else a
  float (the shortest decimal that reads back as it). Text longer than `MAX_TEXT`, and
  numbers beyond a float's range, are refused.

Tolerance (`parse_tolerance`): absolute, a number (`0.5`: the answer ± 0.5), or relative, a
percent of the answer (`"2%"`: the answer ± 2% of its size). Bands include both edges and
are compared in decimal arithmetic, so 1.3 is within 0.3 of 1.0 although 1.3 - 1.0 is
0.30000000000000004 in binary floating point. A relative band around an answer of 0 is 0
wide: only 0 itself is right (the bank loader refuses a relative tolerance on a fixed
answer of 0 for that reason).

Scoring (`band`, `points`): `right` within the tolerance, `partial` within the optional
wider partial band, else `wrong`; 1 point, the partial band's credit (when the blueprint
gives partial credit, as for the other types), or 0.

A numeric key, as grading, review and the practice check use it, is the plain dict of
`numeric_key`; a question template's drawn answer replaces the bank's `key` there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

MAX_TEXT = 50
"""The longest typed answer read (any honest number, with separators and a unit, fits)."""
WHOLE_LIMIT = 10**15
"""Whole numbers below this in size are stored as ints; others as floats."""

Band = Literal["right", "partial", "wrong"]

_SPACES = "\u00a0\u202f\u2009"
_NUMBER = re.compile(
    r"""
    (?P<sign>[+-]?)
    (?:
        (?P<grouped>[1-9]\d{0,2}(?P<sep>[,'\ \u00a0\u202f\u2009])\d{3}(?:(?P=sep)\d{3})*)
      | (?P<plain>\d+)
      | (?=\.\d)
    )
    (?P<fraction>\.\d*)?
    (?P<exponent>[eE][+-]?\d{1,4})?
    \Z
    """,
    re.VERBOSE,
)
_DECIMAL_COMMA = re.compile(r"\d,\d")


class NumberRejected(ValueError):
    """The text is not a number this service reads; the message says what to type."""


Number = int | float


def stored(value: Decimal | int | float) -> Number:
    """The normalised form of a number: an int when whole and below `WHOLE_LIMIT` in size,
    else a float. Raises NumberRejected for what a float cannot hold."""
    number = float(value)
    if math.isnan(number):
        raise NumberRejected("not a number: type digits, e.g. 1200")
    if math.isinf(number):
        raise NumberRejected("the number is too large: type one below 1e308 in size")
    if number.is_integer() and abs(number) < WHOLE_LIMIT:
        return int(number)
    return number


def number_text(value: Number) -> str:
    """One text per number (1200.0 and 1200 are "1200"; 0.1 is "0.1"; 1e20 is "1e+20"):
    what reports group answers by and pages show."""
    normal = stored(value)
    return str(normal) if isinstance(normal, int) else repr(normal)


def exact(value: Number) -> Decimal:
    """The decimal a stored number stands for (0.1 is exactly 0.1 here)."""
    normal = stored(value)
    return Decimal(normal) if isinstance(normal, int) else Decimal(repr(normal))


def _hint(unit: str | None) -> str:
    example = "type digits, e.g. 1200, 1,200, 1.5 or 1.2e3"
    if unit:
        return f"{example} (the answer is in {unit}; typing the unit is optional)"
    return example


def parse_number(text: str, unit: str | None = None) -> Number | None:
    """The number a candidate typed (see the module docstring), None for blank text, or
    NumberRejected saying what to type instead."""
    if len(text) > MAX_TEXT:
        raise NumberRejected(
            f"the answer has {len(text)} characters; type the number alone "
            f"(at most {MAX_TEXT} characters)"
        )
    cleaned = text.strip().replace("\u2212", "-")
    if not cleaned:
        return None
    if unit:
        folded, wanted = cleaned.casefold(), unit.strip().casefold()
        if wanted and folded.endswith(wanted) and len(folded) > len(wanted):
            cleaned = cleaned[: len(cleaned) - len(wanted)].rstrip(" " + _SPACES)
    match = _NUMBER.match(cleaned)
    if match is None:
        shown = text.strip()
        if _DECIMAL_COMMA.search(cleaned):
            raise NumberRejected(
                f"{shown!r}: write decimals with a point (1.5, 0.125); a comma only "
                "separates thousands in groups of three digits (1,200)"
            )
        lead = _leading_number(cleaned)
        if lead:
            where = f"the answer is in {unit}; " if unit else "no unit is asked for; "
            raise NumberRejected(f"{shown!r}: {where}type the number alone, e.g. {lead}")
        raise NumberRejected(f"{shown!r} is not a number: {_hint(unit)}")
    digits = match["plain"] or ""
    if match["grouped"]:
        digits = match["grouped"].replace(match["sep"], "")
    literal = f"{match['sign']}{digits or '0'}{match['fraction'] or ''}{match['exponent'] or ''}"
    try:
        return stored(Decimal(literal))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimal literals
        raise NumberRejected(f"{text.strip()!r} is not a number: {_hint(unit)}") from None


def _leading_number(text: str) -> str | None:
    """The longest start of `text` that is a number, when what follows it is a word or a
    symbol (a unit typed after the number): "30 min" -> "30"."""
    for end in range(len(text) - 1, 0, -1):
        head, rest = text[:end].rstrip(" " + _SPACES), text[end:].strip()
        if rest[:1].isdigit() or rest[:1] in ".,":
            continue
        if head and _NUMBER.match(head):
            return head
    return None


def read_answer(answer: Any, unit: str | None = None) -> Number | None:
    """A numeric answer as sent: a JSON number, or a string that reads as one. None and
    blank text mean no answer."""
    if answer is None:
        return None
    if isinstance(answer, bool):
        word = "true" if answer else "false"
        raise NumberRejected(f"a numeric answer is a number, not {word}; {_hint(unit)}")
    if isinstance(answer, int | float):
        return stored(answer)
    if isinstance(answer, str):
        return parse_number(answer, unit)
    raise NumberRejected(f"a numeric answer is a number or a string holding one; {_hint(unit)}")


# --- tolerance ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tolerance:
    """How far from the answer still counts: `amount` itself, or `amount` percent of the
    answer's size when `relative`."""

    amount: Decimal
    relative: bool = False

    def width(self, answer: Decimal) -> Decimal:
        """The half-width of the band around `answer`."""
        return abs(answer) * self.amount / 100 if self.relative else self.amount

    def value(self) -> Number | str:
        """The form a bank file and a question's content write it in: 0.5 or "2%"."""
        if self.relative:
            return f"{number_text(stored(self.amount))}%"
        return stored(self.amount)

    def text(self) -> str:
        """ "± 0.5" or "± 2%"."""
        if self.relative:
            return f"\u00b1 {number_text(stored(self.amount))}%"
        return f"\u00b1 {number_text(stored(self.amount))}"


EXACT = Tolerance(Decimal(0))


def parse_tolerance(raw: Any) -> Tolerance:
    """A tolerance as written in a bank file or stored content: None (exact), a number
    (absolute, 0 or more) or a percent string ("2%", more than 0 and below 100). Raises
    ValueError saying what to write."""
    if raw is None:
        return EXACT
    if isinstance(raw, bool):
        raise ValueError("a tolerance is a number (0.5) or a percent ('2%'), not true or false")
    if isinstance(raw, int | float):
        if not math.isfinite(raw) or raw < 0:
            raise ValueError(f"tolerance {raw!r} must be a finite number of 0 or more")
        return Tolerance(exact(raw))
    if isinstance(raw, str):
        text = raw.strip()
        relative = text.endswith("%")
        body = text.removesuffix("%").strip()
        try:
            amount = Decimal(body) if re.fullmatch(r"\d+(\.\d*)?|\.\d+", body) else None
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            amount = None
        if amount is None:
            raise ValueError(
                f"tolerance {raw!r} is not a number or a percent: write 0.5 (plus or minus "
                "0.5) or '2%' (plus or minus 2% of the answer)"
            )
        if relative and not 0 < amount < 100:
            raise ValueError(f"a relative tolerance is more than 0% and below 100%, not {text}")
        return Tolerance(exact(stored(amount)), relative)
    raise ValueError("a tolerance is a number (0.5) or a percent ('2%')")


# --- keys and scoring -------------------------------------------------------------------------


def _bounds(answer: Decimal, tolerance: Tolerance) -> tuple[Number, Number]:
    width = tolerance.width(answer)
    return stored(answer - width), stored(answer + width)


def numeric_key(content: Mapping[str, Any], answer: Number | None = None) -> dict[str, Any]:
    """The key of a numeric question as grading, review and the practice check use it:
    `value`, `tolerance` (0.5 or "2%"), the accepted range `low`..`high` (inclusive),
    `unit`, and `partial` (`tolerance`, `credit`, `low`, `high`) or None.

    `answer` replaces the bank's `key`: a question template passes the answer it drew for
    the attempt (the tolerances and the partial band apply around it)."""
    value = stored(content["key"] if answer is None else answer)
    tolerance = parse_tolerance(content.get("tolerance"))
    centre = exact(value)
    low, high = _bounds(centre, tolerance)
    partial = None
    if content.get("partial"):
        band = parse_tolerance(content["partial"]["tolerance"])
        p_low, p_high = _bounds(centre, band)
        partial = {
            "tolerance": band.value(),
            "credit": float(content["partial"]["credit"]),
            "low": p_low,
            "high": p_high,
        }
    return {
        "value": value,
        "tolerance": tolerance.value(),
        "low": low,
        "high": high,
        "unit": content.get("unit"),
        "partial": partial,
    }


def band(key: Mapping[str, Any], answer: Number) -> Band:
    """Where a stored answer falls: within the tolerance, within the partial band, or
    outside both (both edges included)."""
    centre = exact(key["value"])
    off = abs(exact(answer) - centre)
    if off <= parse_tolerance(key["tolerance"]).width(centre):
        return "right"
    partial = key.get("partial")
    if partial and off <= parse_tolerance(partial["tolerance"]).width(centre):
        return "partial"
    return "wrong"


def points(key: Mapping[str, Any], answer: Any, *, partial_credit: bool = False) -> float:
    """1 within the tolerance; the partial band's credit when the blueprint gives partial
    credit; else 0. No answer scores 0."""
    if answer is None or isinstance(answer, bool) or not isinstance(answer, int | float):
        return 0.0
    where = band(key, answer)
    if where == "right":
        return 1.0
    if where == "partial" and partial_credit:
        return float(key["partial"]["credit"])
    return 0.0


def mistake_for(
    key: Mapping[str, Any], mistakes: Sequence[Mapping[str, Any]], answer: Any
) -> Mapping[str, Any] | None:
    """The first known mistake (`value`, `rationale`) the answer matches, within the
    question's tolerance of the mistake's value; None for a right answer, no answer or no
    match."""
    if answer is None or isinstance(answer, bool) or not isinstance(answer, int | float):
        return None
    if band(key, answer) == "right":
        return None
    tolerance = parse_tolerance(key["tolerance"])
    given = exact(answer)
    for mistake in mistakes:
        value = exact(mistake["value"])
        if abs(given - value) <= tolerance.width(value):
            return mistake
    return None


def chosen_text(key: Mapping[str, Any], answer: Number) -> str:
    """What grading records of a numeric answer for item analysis: its band and its
    number, "wrong:1150" (no option id holds a colon, so reports tell them apart)."""
    return f"{band(key, answer)}:{number_text(answer)}"


def shown_text(value: Number | Mapping[str, Any], unit: str | None = None) -> str:
    """A numeric answer or key as pages and reports print it: "1150 s"; a key with the
    range it accepts and its partial band, "1200 s (accepted: 1176 to 1224 s); partial
    credit from 1140 to 1260 s"."""
    after = f" {unit}" if unit else ""
    if not isinstance(value, Mapping):
        return f"{number_text(value)}{after}"
    text = f"{number_text(value['value'])}{after}"
    low, high = number_text(value["low"]), number_text(value["high"])
    if low != high:
        text += f" (accepted: {low} to {high}{after})"
    partial = value.get("partial")
    if partial:
        p_low, p_high = number_text(partial["low"]), number_text(partial["high"])
        text += f"; partial credit from {p_low} to {p_high}{after}"
    return text
