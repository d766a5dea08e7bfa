"""The bank's file format as msgspec structs: the single source of its JSON Schema.

A bank is a folder with `objectives.yaml`, `questions/*.yaml` and `blueprints/*.yaml`.
These structs check the *shape* of each part; `loader.py` adds the rules that span
fields and files (keys, "choose N", references to objectives and cases, unique ids).
`exam-service bank schema` writes their JSON Schema to `question_bank/schema/`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from exam_service.grading.scoring import Scale

Text = Annotated[str, Meta(min_length=1, description="Plain text; never markup.")]
Slug = Annotated[
    str,
    Meta(
        pattern=r"^[a-z0-9][a-z0-9._-]*$",
        max_length=100,
        description="Stable id: lower-case letters, digits, '.', '_' and '-'.",
    ),
]
Code = Annotated[str, Meta(min_length=1, max_length=40, description="An objective code.")]
Difficulty = Literal["easy", "medium", "hard"]
WEEK = 7 * 24 * 3600
"""The longest time limit or grace a blueprint may set, in seconds (as a sitting's)."""
QuestionType = Literal["single", "multiple", "ordering", "matching", "numeric"]
Tolerance = Annotated[
    Annotated[float, Meta(ge=0)] | str,
    Meta(
        description="How far from the answer still counts: a number (0.5: plus or minus 0.5) "
        "or a percent of the answer ('2%', above 0 and below 100); both edges count. Left "
        "out: exactly the answer."
    ),
]


class OptionFile(Struct, forbid_unknown_fields=True):
    """An option of a `single`, `multiple` or `ordering` question (ordering: listed in order)."""

    text: Text
    rationale: Text
    correct: bool = False
    id: Slug | None = None


class PromptFile(Struct, forbid_unknown_fields=True):
    """A left-hand item of a `matching` question and the id of the choice it matches."""

    text: Text
    match: Slug
    rationale: Text
    id: Slug | None = None


class ChoiceFile(Struct, forbid_unknown_fields=True):
    """A right-hand item of a `matching` question; extra choices act as distractors."""

    id: Slug
    text: Text


class PartialBand(Struct, forbid_unknown_fields=True):
    """A `numeric` question's second, wider band: answers outside the tolerance but within
    this band earn `credit` when the blueprint gives partial credit."""

    tolerance: Tolerance
    credit: Annotated[float, Meta(gt=0, lt=1, description="Points for an answer in the band.")]


Expression = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=300,
        description="Templates: arithmetic over the template's names (+ - * / // % **, "
        "comparisons, and/or/not, 'x if c else y', min max abs round floor ceil sqrt log "
        "log10); see bank/expressions.py for the limits.",
    ),
]
TemplateName = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z][A-Za-z0-9_]*$",
        max_length=40,
        description="A template value's name, used as {name} in texts and in expressions.",
    ),
]


class MistakeFile(Struct, forbid_unknown_fields=True):
    """A wrong value candidates often reach, and why: shown in the review to a candidate
    whose answer is this value (within the question's tolerance). In a template the value
    may be an expression and the rationale may hold {name} placeholders."""

    value: float | Expression
    rationale: Text


class VariableFile(Struct, forbid_unknown_fields=True):
    """A template variable, drawn anew per attempt and per paper form: a range (`min` to
    `max` by `step`, both ends included; whole numbers draw integers) or `choices`."""

    min: int | float | None = None
    max: int | float | None = None
    step: Annotated[int, Meta(gt=0)] | Annotated[float, Meta(gt=0)] | None = None
    choices: (
        Annotated[
            list[int | float | Annotated[str, Meta(min_length=1, max_length=40)]],
            Meta(min_length=1, max_length=100),
        ]
        | None
    ) = None


class QuestionFile(Struct, forbid_unknown_fields=True):
    """A question. `single`, `multiple` and `ordering` have `options`; `matching` has
    `prompts` and `choices`; `numeric` has `answer` (a number), optionally `tolerance`,
    `unit`, `partial` and `mistakes`, and a `rationale` saying how the answer is found.
    `variables` (with `derived` and `constraints`) make it a template (`templates.py`)."""

    id: Slug
    type: QuestionType
    objectives: Annotated[list[Code], Meta(min_length=1)]
    difficulty: Difficulty
    source: Annotated[Text, Meta(description="The part of the study guide it comes from.")]
    stem: Text
    explanation: Text
    case: Slug | None = None
    choose: Annotated[int, Meta(ge=2)] | None = None
    # candidates see options, prompts and choices lettered A-Z: 26 at most
    options: Annotated[list[OptionFile], Meta(max_length=26)] = []
    prompts: Annotated[list[PromptFile], Meta(max_length=26)] = []
    choices: Annotated[list[ChoiceFile], Meta(max_length=26)] = []
    tags: list[Text] = []
    answer: (
        Annotated[
            float | Expression,
            Meta(description="`numeric`: the right answer (in a template, an expression)."),
        ]
        | None
    ) = None
    tolerance: Tolerance | None = None
    unit: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=20,
                description="`numeric`: shown after the answer box ('s', 'GB', '%'); "
                "candidates may type it after the number.",
            ),
        ]
        | None
    ) = None
    partial: PartialBand | None = None
    rationale: (
        Annotated[Text, Meta(description="`numeric`: how the right answer is worked out.")] | None
    ) = None
    mistakes: Annotated[list[MistakeFile], Meta(max_length=26)] = []
    variables: Annotated[
        dict[TemplateName, VariableFile],
        Meta(
            max_length=20,
            description="Makes the question a template: values drawn per attempt and per "
            "paper form, shown in texts as {name} (README: question templates).",
        ),
    ] = {}
    derived: Annotated[
        dict[TemplateName, Expression],
        Meta(max_length=20, description="Template: name -> expression, evaluated in order."),
    ] = {}
    constraints: Annotated[
        list[Expression],
        Meta(max_length=20, description="Template: conditions every draw must satisfy."),
    ] = []


class CaseFile(Struct, forbid_unknown_fields=True):
    """A scenario shared by several questions; printed once before them."""

    id: Slug
    title: Text
    scenario: Text


class QuestionsFile(Struct, forbid_unknown_fields=True):
    cases: list[CaseFile] = []
    questions: list[QuestionFile] = []


class ObjectiveNode(Struct, forbid_unknown_fields=True):
    code: Code
    title: Text
    weight: Annotated[float, Meta(gt=0)] | None = None
    children: list[ObjectiveNode] = []


class ObjectivesFile(Struct, forbid_unknown_fields=True):
    exam: ObjectiveNode


class AdaptiveRule(Struct, forbid_unknown_fields=True):
    """When an adaptive session stops besides reaching the blueprint's `question_count`:
    once the standard error of the ability estimate is below `target_se`, after at least
    `min_items` questions."""

    target_se: Annotated[
        float,
        Meta(
            ge=0.1,
            le=1.0,
            description="Stop once the ability's standard error is below this (N(0, 1) scale).",
        ),
    ] = 0.4
    min_items: Annotated[
        int, Meta(ge=1, le=500, description="Serve at least this many before a precision stop.")
    ] = 5


def adaptive_problems(blueprint: BlueprintFile) -> list[str]:
    """What an adaptive blueprint (or the `adaptive` field on another) gets wrong, each
    saying what to change; empty when nothing."""
    if blueprint.mode != "adaptive":
        if blueprint.adaptive is not None:
            return ["'adaptive' applies to mode: adaptive only; remove it or set the mode"]
        return []
    problems = []
    if blueprint.scoring != "irt":
        problems.append(
            "an adaptive blueprint needs scoring: irt (its questions are chosen to be hard for "
            "each candidate, so the raw percent would not say how they would do on a form)"
        )
    if blueprint.unscored_count:
        problems.append("an adaptive blueprint scores every question; set unscored_count to 0")
    if blueprint.difficulty_mix is not None:
        problems.append(
            "an adaptive blueprint chooses difficulty by the candidate's answers; remove "
            "difficulty_mix"
        )
    rule = blueprint.adaptive or AdaptiveRule()
    if rule.min_items > blueprint.question_count:
        problems.append(
            f"adaptive.min_items ({rule.min_items}) is more than question_count "
            f"({blueprint.question_count}), the most questions a session serves; lower it"
        )
    return problems


class BlueprintFile(Struct, forbid_unknown_fields=True):
    """An exam definition; `objective_weights` (shares) or `objective_counts` (exact).

    `mode`: `exam` (feedback after submit), `practice` (a check after each question) or
    `adaptive` (practice served one question at a time, each chosen for the candidate's
    weakest objectives at their ability, until `question_count` questions or the
    precision of `adaptive`)."""

    id: Slug
    name: Text
    mode: Literal["exam", "practice", "adaptive"]
    question_count: Annotated[int, Meta(ge=1, le=500)]
    scale: Scale
    time_limit_seconds: Annotated[int, Meta(ge=1, le=WEEK)] | None = None
    grace_seconds: Annotated[int, Meta(ge=0, le=WEEK)] = 0
    unscored_count: Annotated[int, Meta(ge=0)] = 0
    objective_weights: dict[Code, Annotated[float, Meta(gt=0)]] | None = None
    objective_counts: dict[Code, Annotated[int, Meta(ge=1)]] | None = None
    difficulty_mix: dict[Difficulty, Annotated[float, Meta(gt=0)]] | None = None
    review_policy: Literal["after_submit", "after_close", "never"] = "after_submit"
    shuffle_options: bool = True
    partial_credit: bool = False
    max_open_attempts: Annotated[int, Meta(ge=1, le=1000)] = 1
    self_study: bool = False
    """Any candidate may start it without a sitting; otherwise only in a sitting."""
    scoring: Literal["raw", "irt"] = "raw"
    """How the scaled score is made: `raw` maps the raw percent; `irt` maps the percent a
    candidate of the attempt's ability is expected to score on an average form, so that
    scores on easier and harder random forms are comparable (README: calibration)."""
    description: str = ""
    adaptive: AdaptiveRule | None = None
    """`mode: adaptive` only: when a session stops before `question_count` (defaults when
    left out)."""


SCHEMAS: dict[str, type[Struct]] = {
    "objectives.schema.json": ObjectivesFile,
    "questions.schema.json": QuestionsFile,
    "blueprint.schema.json": BlueprintFile,
}


def json_schemas() -> dict[str, bytes]:
    """The JSON Schema of each bank file kind, as formatted JSON bytes."""
    out: dict[str, bytes] = {}
    for name, struct in SCHEMAS.items():
        schema = msgspec.json.schema(struct)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = name.removesuffix(".schema.json")
        out[name] = msgspec.json.format(msgspec.json.encode(schema), indent=2) + b"\n"
    return out
