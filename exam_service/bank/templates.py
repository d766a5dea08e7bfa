"""Question templates: variables drawn per attempt and per paper form, and the text that
shows them. Pure.

A template question declares, in its bank file:

- `variables`: each a range (`min`, `max`, `step`; whole numbers draw integers, any
  decimal draws decimals rounded to the step's places) or `choices` (a list of numbers or
  short texts), drawn uniformly;
- `derived`: name -> expression (`expressions.py`), evaluated in the order written, each
  reading the variables and the derived values above it;
- `constraints`: boolean expressions every draw must satisfy. A draw that fails one (or
  that gives two options the same text) is drawn again from the next seed, up to
  `MAX_TRIES` times; then `TemplateError` names the constraint that failed most.

A `numeric` template's `answer` and its mistakes' `value` may be expressions; options,
prompts and choices are text with placeholders, so a `single`/`multiple` template's key
option shows the computed answer and its distractors the usual mistakes (derived values).

Placeholders: `{name}` in the stem, option and prompt texts, rationales, the numeric
`rationale`, mistakes' rationales and the explanation. `{{` and `}}` print a brace. The
formatting rule (`shown_value`): whole numbers with a comma between thousands ("12,000";
the answer box reads "12,000" back as 12000), other numbers to 10 significant digits
without trailing zeros ("0.3", "1,234.5"), texts as they are. `{name:.2f}` prints exactly
2 decimals (0 to 6 allowed), also with thousands commas.

The drawn instance lives in the attempt item's (or paper form item's) `layout`: `seed`,
`values` (every variable and derived value by name), and for `numeric` `key` and
`mistakes` (numbers). Pages, grading, review and reports read those and only interpolate
text (`instance`); nothing is evaluated again after the draw.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from exam_service.bank import expressions
from exam_service.bank.expressions import Expression, ExpressionError, Value
from exam_service.grading import numeric

MAX_TRIES = 100
"""Draws tried per instance before giving up on the constraints."""
MAX_VALUES = 1_000_000
"""The most values one range variable may hold ((max - min) / step + 1)."""
MAX_VARIABLES = 20
"""The most variables plus derived values in one template."""

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z][A-Za-z0-9_]*)(?::\.([0-6])f)?\}")


class TemplateError(ValueError):
    """A template cannot be compiled or drawn; the message says what to change."""


@dataclass(frozen=True)
class Variable:
    name: str
    low: Decimal | None = None
    step: Decimal | None = None
    count: int = 0
    whole: bool = True
    choices: tuple[Value, ...] = ()

    def draw(self, rng: random.Random) -> Value:
        if self.choices:
            return self.choices[rng.randrange(len(self.choices))]
        assert self.low is not None and self.step is not None
        value = self.low + self.step * rng.randrange(self.count)
        return int(value) if self.whole else float(value)


@dataclass(frozen=True)
class Template:
    """A compiled template: its variables, derived values (in order), constraints, and
    for `numeric` the answer and mistakes (expressions, or numbers as expressions)."""

    variables: tuple[Variable, ...]
    derived: tuple[tuple[str, Expression], ...]
    constraints: tuple[Expression, ...]
    answer: Expression | None
    mistakes: tuple[Expression, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables) + tuple(n for n, _ in self.derived)


def _decimal(raw: Any, what: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise TemplateError(f"{what} must be a finite number, not {raw!r}")
    if abs(raw) > expressions.MAX_MAGNITUDE:
        raise TemplateError(f"{what} ({raw}) is beyond {expressions.MAX_MAGNITUDE:.0e}")
    return Decimal(str(raw))


def compile_variable(name: str, raw: Mapping[str, Any]) -> Variable:
    """A variable from its stored form: `{min, max, step}` or `{choices}`."""
    problem = expressions.valid_name(name)
    if problem:
        raise TemplateError(f"variable {problem}")
    choices = raw.get("choices")
    if choices is not None:
        if any(raw.get(k) is not None for k in ("min", "max", "step")):
            raise TemplateError(
                f"variable {name!r}: give 'choices' or 'min'/'max'/'step', not both"
            )
        if not choices or len(choices) > 100:
            raise TemplateError(f"variable {name!r}: 'choices' lists 1 to 100 values")
        for choice in choices:
            if isinstance(choice, str):
                if not choice or len(choice) > expressions.MAX_STRING:
                    raise TemplateError(
                        f"variable {name!r}: a text choice has 1 to {expressions.MAX_STRING} "
                        "characters"
                    )
            else:
                _decimal(choice, f"variable {name!r}: choice")
        if len({str(c) for c in choices}) != len(choices):
            raise TemplateError(f"variable {name!r}: a choice is listed twice; list each once")
        return Variable(name, choices=tuple(choices))
    if raw.get("min") is None or raw.get("max") is None:
        raise TemplateError(
            f"variable {name!r} needs 'min' and 'max' (and 'step', default 1) or 'choices'"
        )
    low = _decimal(raw["min"], f"variable {name!r}: min")
    high = _decimal(raw["max"], f"variable {name!r}: max")
    step = _decimal(raw.get("step", 1), f"variable {name!r}: step")
    if step <= 0:
        raise TemplateError(f"variable {name!r}: step must be above 0, not {step}")
    if high < low:
        raise TemplateError(f"variable {name!r}: max ({high}) is below min ({low})")
    span = (high - low) / step
    if span != span.to_integral_value():
        raise TemplateError(
            f"variable {name!r}: max - min ({high - low}) is not a whole number of steps "
            f"({step}); make max = min + k * step"
        )
    count = int(span) + 1
    if count > MAX_VALUES:
        raise TemplateError(
            f"variable {name!r} holds {count:,} values; at most {MAX_VALUES:,} (raise the step)"
        )
    whole = all(d == d.to_integral_value() for d in (low, step))
    return Variable(name, low, step, count, whole)


def compile_template(raw: Mapping[str, Any]) -> Template:
    """A template from its stored form (`content["template"]`): `variables` (name ->
    range or choices), `derived` (a list of [name, expression]), `constraints`, and
    optionally `answer` and `mistakes` (expressions). Raises TemplateError or
    ExpressionError saying what to change."""
    variables = tuple(compile_variable(n, spec) for n, spec in (raw.get("variables") or {}).items())
    if not variables:
        raise TemplateError("a template declares at least one variable under 'variables'")
    names = [v.name for v in variables]
    derived: list[tuple[str, Expression]] = []
    for name, text in raw.get("derived") or []:
        problem = expressions.valid_name(name)
        if problem:
            raise TemplateError(f"derived {problem}")
        if name in names:
            raise TemplateError(f"{name!r} is declared twice: give each value its own name")
        derived.append((name, _compiled(text, names, f"derived {name!r}")))
        names.append(name)
    if len(names) > MAX_VARIABLES:
        raise TemplateError(f"{len(names)} variables and derived values; at most {MAX_VARIABLES}")
    constraints = tuple(_compiled(t, names, "constraint") for t in raw.get("constraints") or [])
    answer = raw.get("answer")
    return Template(
        variables=variables,
        derived=tuple(derived),
        constraints=constraints,
        answer=None if answer is None else _compiled(answer, names, "answer"),
        mistakes=tuple(_compiled(m, names, "mistake") for m in raw.get("mistakes") or []),
    )


def _compiled(text: Any, names: Sequence[str], what: str) -> Expression:
    if isinstance(text, bool):
        raise TemplateError(f"{what}: write a number or an expression, not {text}")
    if isinstance(text, int | float):
        text = repr(text)
    try:
        return expressions.compile_expression(text, names)
    except ExpressionError as exc:
        raise TemplateError(f"{what}: {exc}") from None


def item_seed(seed: int, salt: str | int) -> int:
    """The seed of one template instance: an attempt's seed and the item's position, or a
    paper form's seed and the question id."""
    digest = hashlib.sha256(f"{seed}:{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 2


@dataclass(frozen=True)
class Draw:
    """One draw: the values by name, the numeric answer and mistakes (or None), and the
    constraint that failed (or None)."""

    values: dict[str, Value]
    answer: Value | None
    mistakes: tuple[Value, ...]
    failed: str | None


def draw_once(template: Template, rng: random.Random) -> Draw:
    """One draw from `rng`, constraints checked but not retried."""
    return complete(template, {v.name: v.draw(rng) for v in template.variables})


def complete(template: Template, drawn: Mapping[str, Value]) -> Draw:
    """The derived values, constraints, answer and mistakes of drawn variable values."""
    scope = expressions.Scope(drawn)
    values = scope.values
    for name, expression in template.derived:
        values[name] = _tidy(scope.evaluate(expression))
    for constraint in template.constraints:
        if not scope.evaluate(constraint):
            return Draw(dict(values), None, (), constraint.text)
    answer = None
    if template.answer is not None:
        answer = _tidy(scope.evaluate(template.answer))
    mistakes = tuple(_tidy(scope.evaluate(m)) for m in template.mistakes)
    return Draw(dict(values), answer, mistakes, None)


def _tidy(value: Value) -> Value:
    """Floats rounded to 12 significant digits (0.1 + 0.2 is 0.3), whole floats as ints."""
    if isinstance(value, float):
        value = float(f"{value:.12g}")
        if value.is_integer() and abs(value) < expressions.MAX_MAGNITUDE:
            return int(value)
    return value


def option_texts(content: Mapping[str, Any]) -> tuple[str, ...]:
    """The texts candidates choose from (options and matching choices), uninterpolated."""
    texts = [o["text"] for o in content.get("options", [])]
    texts += [c["text"] for c in content.get("choices", [])]
    return tuple(texts)


def repeated_text(texts: Sequence[str], values: Mapping[str, Value]) -> str | None:
    """An option (or choice) text that this draw's values make appear twice, or None."""
    counts = Counter(interpolate(t, values).strip().casefold() for t in texts)
    repeated = [t for t, n in counts.items() if n > 1]
    return repeated[0] if repeated else None


def draw(template: Template, texts: Sequence[str], seed: int) -> dict[str, Any]:
    """The layout entries of one instance drawn from `seed`: `seed`, `values`, and for a
    numeric template `key` and `mistakes`. A draw failing a constraint, or making two of
    `texts` (option texts) read alike, is drawn again (up to MAX_TRIES); then
    TemplateError."""
    rng = random.Random(seed)
    failures: Counter[str] = Counter()
    for _ in range(MAX_TRIES):
        try:
            found = draw_once(template, rng)
        except ExpressionError as exc:
            raise TemplateError(str(exc)) from None
        if found.failed is not None:
            failures[f"constraint {found.failed!r} failed"] += 1
            continue
        repeated = repeated_text(texts, found.values)
        if repeated is not None:
            failures[f"two options read {repeated!r}"] += 1
            continue
        layout: dict[str, Any] = {"seed": seed, "values": found.values}
        if found.answer is not None:
            layout["key"] = _number(found.answer, "the answer")
            layout["mistakes"] = [_number(m, "a mistake") for m in found.mistakes]
        return layout
    worst, times = failures.most_common(1)[0]
    raise TemplateError(
        f"no draw satisfied the template in {MAX_TRIES} tries ({worst} {times} times); "
        "widen the variables' ranges or loosen the constraints"
    )


@dataclass(frozen=True)
class Drawable:
    """A stored template ready to draw instances (what the question pool keeps)."""

    template: Template
    texts: tuple[str, ...]

    def draw(self, seed: int) -> dict[str, Any]:
        return draw(self.template, self.texts, seed)


def drawable(content: Mapping[str, Any]) -> Drawable | None:
    """The template of a revision's content, compiled; None for a plain question."""
    raw = content.get("template")
    if not raw:
        return None
    return Drawable(compile_template(raw), option_texts(content))


def _number(value: Value, what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TemplateError(f"{what} gives {value!r}, not a number")
    return value


# --- text ------------------------------------------------------------------------------------


def shown_value(value: Value, decimals: int | None = None) -> str:
    """A value as question text prints it (the rule of the module docstring)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if decimals is not None:
        return f"{value:,.{decimals}f}"
    if isinstance(value, int) or value.is_integer() and abs(value) < expressions.MAX_MAGNITUDE:
        return f"{int(value):,}"
    return f"{value:,.10g}"


def placeholders(text: str) -> set[str]:
    """The names `text` interpolates."""
    return {m.group(1) for m in _PLACEHOLDER.finditer(text) if m.group(1)}


def interpolate(text: str, values: Mapping[str, Value]) -> str:
    """`text` with each `{name}` (or `{name:.Nf}`) replaced by its value; `{{` and `}}`
    print a brace; a name without a value is left as written."""

    def replace(match: re.Match[str]) -> str:
        whole, name, decimals = match.group(0), match.group(1), match.group(2)
        if name is None:
            return whole[0]
        if name not in values:
            return whole
        return shown_value(values[name], None if decimals is None else int(decimals))

    return _PLACEHOLDER.sub(replace, text)


def instance(content: Mapping[str, Any], layout: Mapping[str, Any]) -> dict[str, Any]:
    """The content with the drawn values of `layout` in its texts (explanation, options,
    prompts, choices, rationales, the numeric rationale and mistakes' rationales, with
    the drawn mistake values); the content itself when the layout drew nothing."""
    values = layout.get("values")
    if not values:
        return dict(content)

    def fill(text: str) -> str:
        return interpolate(text, values)

    out = dict(content)
    out["explanation"] = fill(content["explanation"])
    for part in ("options", "prompts"):
        if content.get(part):
            out[part] = [
                {**o, "text": fill(o["text"]), "rationale": fill(o["rationale"])}
                for o in content[part]
            ]
    if content.get("choices"):
        out["choices"] = [{**c, "text": fill(c["text"])} for c in content["choices"]]
    if content.get("rationale"):
        out["rationale"] = fill(content["rationale"])
    if content.get("mistakes"):
        drawn = layout.get("mistakes") or [m["value"] for m in content["mistakes"]]
        out["mistakes"] = [
            {"value": value, "rationale": fill(m["rationale"])}
            for value, m in zip(drawn, content["mistakes"], strict=False)
        ]
    if "key" in layout and content.get("rationale") is not None:
        out["key"] = layout["key"]
    return out


def stem_of(stem: str, layout: Mapping[str, Any]) -> str:
    """The stem with the drawn values of `layout` (the stem itself when none)."""
    values = layout.get("values")
    return interpolate(stem, values) if values else stem


# --- lint ------------------------------------------------------------------------------------

LINT_DRAWS = 1000
"""Draws `bank lint` makes of every template."""
MIN_ACCEPTED = 0.1
"""The least share of raw draws that must pass the constraints (below it, `MAX_TRIES`
redraws would run out about once in 40,000 instances)."""
_NUMBERS = re.compile(r"'[^']*'|-?\d[\d,.]*(?:e[+-]?\d+)?")
EXACT_DECIMALS = 4
"""With an exact tolerance (0), a non-whole key may have at most this many decimals."""


def _typed_back(value: int | float) -> bool:
    """Whether a candidate typing the key as pages show it gets the key back."""
    text = numeric.number_text(value)
    try:
        return len(text) <= numeric.MAX_TEXT and numeric.parse_number(text) == value
    except numeric.NumberRejected:
        return False


def key_problems(content: Mapping[str, Any], found: Draw) -> list[str]:
    """What is wrong with one accepted draw's key: a numeric answer that is not a finite
    number, cannot be typed back, needs more decimals than an exact tolerance allows, has
    a relative tolerance around 0, or has a mistake that would score as right; an option
    that reads empty."""
    problems: list[str] = []
    for text in option_texts(content):
        if not interpolate(text, found.values).strip():
            problems.append("an option reads empty")
    if found.answer is None:
        return problems
    answer = found.answer
    if isinstance(answer, bool) or not isinstance(answer, int | float):
        return [*problems, f"the answer is {answer!r}, not a number"]
    if not _typed_back(answer):
        problems.append(f"the answer {answer!r} cannot be typed back as a number")
    tolerance = numeric.parse_tolerance(content.get("tolerance"))
    centre = numeric.exact(answer)
    if tolerance.amount == 0 and -centre.as_tuple().exponent > EXACT_DECIMALS:  # type: ignore[operator]
        problems.append(
            f"the answer {numeric.number_text(answer)} has more than {EXACT_DECIMALS} decimals "
            "and the tolerance is exact: round it in the answer or give a tolerance"
        )
    if tolerance.relative and centre == 0:
        problems.append("the answer is 0 and the tolerance relative: only 0 itself counts")
    for index, mistake in enumerate(found.mistakes, 1):
        if isinstance(mistake, bool) or not isinstance(mistake, int | float):
            problems.append(f"mistake {index} is {mistake!r}, not a number")
        elif abs(numeric.exact(mistake) - centre) <= tolerance.width(centre):
            problems.append(
                f"mistake {index} ({numeric.number_text(mistake)}) is within the tolerance of "
                f"the answer ({numeric.number_text(answer)}), so it would score as right"
            )
    return problems


def lint_draws(content: Mapping[str, Any], draws: int = LINT_DRAWS) -> list[str]:
    """What `draws` raw draws of a revision's template reveal (each kind of problem once,
    with how many draws had it and the values of the first): an expression that fails, an
    option text repeated, a broken key (`key_problems`), or too few draws passing the
    constraints. Empty when every draw is sound."""
    try:
        template = compile_template(content["template"])
    except ValueError as exc:
        return [str(exc)]
    rng = random.Random(0)
    seen: dict[str, tuple[int, str, dict[str, Value]]] = {}

    def note(problem: str, values: Mapping[str, Value]) -> None:
        kind = _NUMBERS.sub("#", problem)  # one entry per kind, whatever the numbers
        count, first, first_values = seen.get(kind, (0, problem, dict(values)))
        seen[kind] = (count + 1, first, first_values)

    accepted = 0
    texts = option_texts(content)
    for _ in range(draws):
        sample = {v.name: v.draw(rng) for v in template.variables}
        try:
            found = complete(template, sample)
        except ExpressionError as exc:
            note(str(exc), sample)
            continue
        if found.failed is not None:
            continue
        accepted += 1
        repeated = repeated_text(texts, found.values)
        if repeated is not None:
            note(f"two options read {repeated!r}", found.values)
        for problem in key_problems(content, found):
            note(problem, found.values)
    out = [
        f"{problem} in {count:,} of {draws:,} draws, first with "
        + ", ".join(f"{k}={shown_value(v)}" for k, v in first.items())
        for count, problem, first in seen.values()
    ]
    if accepted < MIN_ACCEPTED * draws:
        out.append(
            f"only {accepted:,} of {draws:,} draws pass the constraints (at least "
            f"{MIN_ACCEPTED:.0%} must): widen the ranges or loosen the constraints"
        )
    return out
