"""Read a bank folder, check every rule, and turn it into normalized, hashed questions.

Pure: no database, no web framework. `load_bank(path)` never raises on bad content;
it returns every problem it found, each with its file, line and question id, so an
author fixes a whole file in one pass.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import yaml

from exam_service.bank import templates
from exam_service.bank.format import (
    BlueprintFile,
    CaseFile,
    MistakeFile,
    ObjectiveNode,
    ObjectivesFile,
    QuestionFile,
    adaptive_problems,
)
from exam_service.grading import numeric

LEVELS = ("exam", "domain", "task", "objective")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    message: str
    question_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        who = f" [{self.question_id}]" if self.question_id else ""
        return f"{where}:{who} {self.message}"


@dataclass(frozen=True)
class ObjectiveSpec:
    code: str
    title: str
    level: str
    parent_code: str | None
    weight: float | None
    position: int


@dataclass(frozen=True)
class QuestionSpec:
    """A question as stored in one revision; `content_hash` identifies its content."""

    id: str
    type: str
    difficulty: str
    stem: str
    source: str
    objectives: tuple[str, ...]
    case_id: str | None
    case_title: str | None
    case_scenario: str | None
    content: dict[str, Any]
    content_hash: str
    file: str
    line: int


@dataclass(frozen=True)
class BlueprintSpec:
    spec: BlueprintFile
    file: str
    line: int


@dataclass
class Bank:
    root: Path
    objectives: list[ObjectiveSpec] = field(default_factory=list)
    questions: list[QuestionSpec] = field(default_factory=list)
    blueprints: list[BlueprintSpec] = field(default_factory=list)
    example_blueprints: list[BlueprintSpec] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def objective_codes(self) -> set[str]:
        return {o.code for o in self.objectives}


# --- YAML with line numbers -------------------------------------------------------------


class LineMap(dict[Any, Any]):
    """A YAML mapping that remembers its own line and the line of each key (1-based)."""

    line: int
    key_lines: dict[Any, int]


class LineLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = LineMap(super().construct_mapping(node, deep=True))
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {
            self.construct_object(key, deep=True): key.start_mark.line + 1 for key, _ in node.value
        }
        return mapping


LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    LineLoader.construct_mapping,
)


def _line_of(node: Any, path: str, default: int | None) -> int | None:
    """The line of the element a msgspec error path (`$.options[1].text`) points at."""
    line = node.line if isinstance(node, LineMap) else default
    for key, index in re.findall(r"\.([A-Za-z_][\w]*)|\[(\d+)\]", path):
        if key and isinstance(node, LineMap):
            line = node.key_lines.get(key, line)
            node = node.get(key)
        elif index and isinstance(node, list) and int(index) < len(node):
            node = node[int(index)]
            if isinstance(node, LineMap):
                line = node.line
        else:
            break
    return line


def shape_error(
    exc: msgspec.ValidationError, node: Any, default: int | None
) -> tuple[str, int | None]:
    message = str(exc)
    match = re.search(r" - at `(\$[^`]*)`$", message)
    if not match:
        return message, default
    path = match.group(1)
    where = path.removeprefix("$").lstrip(".") or "the entry"
    return f"{message[: match.start()]} (at {where})", _line_of(node, path, default)


def _read_yaml(path: Path, rel: str, problems: list[Problem]) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problems.append(Problem(rel, line, f"YAML syntax error: {exc.problem or exc}"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.append(Problem(rel, None, f"cannot read the file: {exc}"))
    except ValueError as exc:  # PyYAML raises it for impossible dates such as 2001-13-45
        problems.append(Problem(rel, None, f"a value cannot be read: {exc}; quote it"))
    return None


# --- objectives ---------------------------------------------------------------------------


def _load_objectives(root: Path, bank: Bank) -> None:
    rel = "objectives.yaml"
    path = root / rel
    if not path.is_file():
        bank.problems.append(Problem(rel, None, "missing: a bank needs objectives.yaml"))
        return
    raw = _read_yaml(path, rel, bank.problems)
    if raw is None:
        return
    try:
        tree = msgspec.convert(raw, ObjectivesFile)
    except msgspec.ValidationError as exc:
        message, line = shape_error(exc, raw, 1)
        bank.problems.append(Problem(rel, line, message))
        return

    seen: set[str] = set()

    def walk(node: ObjectiveNode, parent: str | None, depth: int, position: int) -> None:
        if node.code in seen:
            bank.problems.append(Problem(rel, None, f"objective code {node.code!r} is used twice"))
        seen.add(node.code)
        level = LEVELS[min(depth, len(LEVELS) - 1)]
        bank.objectives.append(
            ObjectiveSpec(node.code, node.title.strip(), level, parent, node.weight, position)
        )
        for index, child in enumerate(node.children):
            walk(child, node.code, depth + 1, index)

    walk(tree.exam, None, 0, 0)


# --- questions ----------------------------------------------------------------------------


def _clean(text: str) -> str:
    return text.strip()


def check_question(q: QuestionFile, codes: set[str], cases: dict[str, CaseFile]) -> list[str]:
    """The rules a question must follow beyond its shape; each message says what to fix."""
    errors: list[str] = []
    unknown = [code for code in q.objectives if code not in codes]
    if unknown:
        errors.append(
            f"unknown objective {', '.join(map(repr, unknown))}: use a code from objectives.yaml"
        )
    if q.case is not None and q.case not in cases:
        errors.append(f"unknown case {q.case!r}: declare it under 'cases:' in a questions file")
    if q.variables:
        template_errors = template_problems(q)
        if template_errors:
            return errors + template_errors
        q = reference_instance(q)
    else:
        errors += [
            f"'{name}' belongs to templates only: declare 'variables' or remove it"
            for name in ("derived", "constraints")
            if getattr(q, name)
        ]
        numbers = [("answer", q.answer)] + [
            (f"mistake {i}'s value", m.value) for i, m in enumerate(q.mistakes, 1)
        ]
        written = [(what, v) for what, v in numbers if isinstance(v, str)]
        if written:
            return errors + [
                f"{what} {value!r} is text: write a number (1200, not '1,200'); an "
                "expression needs a template's 'variables'"
                for what, value in written
            ]
    if q.type == "numeric":
        errors += numeric_problems(q)
    else:
        errors += [
            f"'{name}' belongs to numeric questions only: remove it"
            for name in NUMERIC_FIELDS
            if getattr(q, name) not in (None, [])
        ]
    keys = [o for o in q.options if o.correct]
    if q.type in ("single", "multiple", "ordering"):
        if q.prompts or q.choices:
            errors.append(f"a {q.type} question has 'options', not 'prompts' or 'choices'")
        if len(q.options) < (3 if q.type == "ordering" else 2):
            errors.append(
                f"a {q.type} question needs at least {3 if q.type == 'ordering' else 2} options"
            )
        texts = [_clean(o.text).lower() for o in q.options]
        if len(set(texts)) != len(texts):
            errors.append("two options have the same text: make each option distinct")
        if len([o for o in q.options if not _clean(o.text)]) > 0:
            errors.append("an option is empty: give every option some text")
    if q.type == "single":
        if len(keys) != 1:
            errors.append(
                f"a single-answer question needs exactly one correct option, found {len(keys)}"
            )
        if q.choose is not None:
            errors.append("'choose' belongs to multiple questions only: remove it")
    elif q.type == "multiple":
        if q.choose is None:
            errors.append(
                f"a multiple question must say how many to choose: add 'choose: {len(keys)}'"
            )
        elif len(keys) != q.choose:
            errors.append(
                f"'choose: {q.choose}' but {len(keys)} options are marked correct: "
                "mark exactly that many"
            )
        elif len(q.options) <= q.choose:
            errors.append(f"'choose: {q.choose}' needs more than {q.choose} options to choose from")
    elif q.type == "ordering":
        if keys:
            errors.append("ordering options are listed in the correct order; remove 'correct'")
        if q.choose is not None:
            errors.append("'choose' belongs to multiple questions only: remove it")
    elif q.type == "matching":
        if q.options:
            errors.append("a matching question has 'prompts' and 'choices', not 'options'")
        if len(q.prompts) < 2:
            errors.append("a matching question needs at least 2 prompts")
        choice_ids = [c.id for c in q.choices]
        if len(set(choice_ids)) != len(choice_ids):
            errors.append("two choices share an id: give each choice its own id")
        for index, prompt in enumerate(q.prompts, 1):
            if prompt.match not in choice_ids:
                errors.append(
                    f"prompt {index} matches {prompt.match!r}, which is not a choice id "
                    f"({', '.join(choice_ids) or 'no choices'})"
                )
    for what, items in (("option", q.options), ("prompt", q.prompts)):
        ids = [i.id for i in items if i.id is not None]
        if len(set(ids)) != len(ids):
            errors.append(f"two {what}s share an id: give each its own id")
    if not _clean(q.explanation):
        errors.append("the explanation is empty: explain the answer")
    return errors


NUMERIC_FIELDS = ("answer", "tolerance", "unit", "partial", "rationale", "mistakes")
LOAD_DRAWS = 20
"""Draws of each template the loader tries (`bank lint` tries 1,000)."""


def template_raw(q: QuestionFile) -> dict[str, Any]:
    """A template's stored form (`content["template"]`, read by `templates.compile_template`)."""
    variables = {
        name: {k: v for k, v in msgspec.structs.asdict(spec).items() if v is not None}
        for name, spec in q.variables.items()
    }
    raw: dict[str, Any] = {
        "variables": variables,
        "derived": [[name, text] for name, text in q.derived.items()],
        "constraints": list(q.constraints),
    }
    if q.type == "numeric":
        raw["answer"] = q.answer
        raw["mistakes"] = [m.value for m in q.mistakes]
    return raw


def template_texts(q: QuestionFile) -> list[tuple[str, str]]:
    """(where, text) of every text a template interpolates."""
    texts = [("stem", q.stem), ("explanation", q.explanation)]
    if q.rationale:
        texts.append(("rationale", q.rationale))
    for index, o in enumerate(q.options, 1):
        texts += [(f"option {index}", o.text), (f"option {index}'s rationale", o.rationale)]
    for index, prompt in enumerate(q.prompts, 1):
        texts += [
            (f"prompt {index}", prompt.text),
            (f"prompt {index}'s rationale", prompt.rationale),
        ]
    texts += [(f"choice {c.id}", c.text) for c in q.choices]
    texts += [(f"mistake {i}'s rationale", m.rationale) for i, m in enumerate(q.mistakes, 1)]
    return texts


def template_problems(q: QuestionFile) -> list[str]:
    """The rules of a template (`templates.py`): its variables and expressions compile,
    every {placeholder} names a value, a numeric template's answer is given, and
    `LOAD_DRAWS` draws succeed."""
    if q.type == "numeric" and q.answer is None:
        return ["a numeric template needs 'answer': a number or an expression"]
    try:
        template = templates.compile_template(template_raw(q))
    except ValueError as exc:
        return [str(exc)]
    names = set(template.names)
    errors = [
        f"{where} uses {{{name}}}, which is not declared: declare it under 'variables' or "
        "'derived', or write {{ and }} for a brace"
        for where, text in template_texts(q)
        for name in sorted(templates.placeholders(text) - names)
    ]
    texts = [o.text for o in q.options] + [c.text for c in q.choices]
    for seed in range(LOAD_DRAWS):
        try:
            templates.draw(template, texts, seed)
        except ValueError as exc:
            errors.append(f"draw {seed}: {exc}")
            break
    return errors


def reference_instance(q: QuestionFile) -> QuestionFile:
    """A numeric template with the answer and mistakes of its reference draw (seed 0), so
    the numeric rules check one instance; other templates as they are."""
    if q.type != "numeric":
        return q
    drawn = templates.draw(templates.compile_template(template_raw(q)), (), 0)
    mistakes = [
        MistakeFile(value=value, rationale=m.rationale)
        for value, m in zip(drawn["mistakes"], q.mistakes, strict=True)
    ]
    return msgspec.structs.replace(q, answer=drawn["key"], mistakes=mistakes)


def numeric_problems(q: QuestionFile) -> list[str]:
    """The rules of a `numeric` question (see `grading/numeric.py` for how answers are read
    and scored); each message says what to fix."""
    errors: list[str] = []
    if q.options or q.prompts or q.choices or q.choose is not None:
        errors.append(
            "a numeric question has 'answer' (a number), not 'options', 'prompts', 'choices' "
            "or 'choose'"
        )
    if q.rationale is None or not q.rationale.strip():
        errors.append("a numeric question needs 'rationale': how the right answer is worked out")
    if q.answer is None:
        errors.append("a numeric question needs 'answer: <number>', the right answer")
        return errors
    if isinstance(q.answer, str):  # a template's: checked on its reference draw
        return [*errors, "the answer is an expression: declare the template's 'variables'"]
    try:
        answer = numeric.stored(q.answer)
    except numeric.NumberRejected:
        return [*errors, f"answer {q.answer!r} is not a finite number: give the right answer"]
    centre = numeric.exact(answer)
    try:
        tolerance = numeric.parse_tolerance(q.tolerance)
    except ValueError as exc:
        return [*errors, str(exc)]
    if tolerance.relative and centre == 0:
        errors.append(
            f"a relative tolerance ({q.tolerance}) of an answer of 0 accepts only 0: give an "
            "absolute tolerance (tolerance: 0.5)"
        )
    if q.partial is not None:
        try:
            band = numeric.parse_tolerance(q.partial.tolerance)
        except ValueError as exc:
            errors.append(f"partial: {exc}")
        else:
            if band.width(centre) <= tolerance.width(centre):
                errors.append(
                    f"the partial band ({band.text()}) must be wider than the tolerance "
                    f"({tolerance.text()}) around the answer {numeric.number_text(answer)}: "
                    "widen it or remove 'partial'"
                )
    if q.unit is not None and not q.unit.strip():
        errors.append("'unit' is blank: name the unit ('s', 'GB') or remove it")
    seen: set[str] = set()
    for index, mistake in enumerate(q.mistakes, 1):
        if isinstance(mistake.value, str):
            errors.append(f"mistake {index} is an expression: declare the template's 'variables'")
            continue
        try:
            value = numeric.stored(mistake.value)
        except numeric.NumberRejected:
            errors.append(f"mistake {index}: {mistake.value!r} is not a finite number")
            continue
        text = numeric.number_text(value)
        if abs(numeric.exact(value) - centre) <= tolerance.width(centre):
            errors.append(
                f"mistake {index} ({text}) is within the tolerance of the answer "
                f"{numeric.number_text(answer)} ({tolerance.text()}), so it would score as "
                "right: remove it or narrow the tolerance"
            )
        if text in seen:
            errors.append(f"mistake {index} repeats the value {text}: list each value once")
        seen.add(text)
    return errors


def _numeric_content(q: QuestionFile) -> dict[str, Any]:
    """A checked numeric question's content: the key (a number) with its tolerance, unit,
    partial band, the right answer's rationale and the known mistakes."""
    assert q.answer is not None and not isinstance(q.answer, str) and q.rationale is not None
    partial = None
    if q.partial is not None:
        partial = {
            "tolerance": numeric.parse_tolerance(q.partial.tolerance).value(),
            "credit": q.partial.credit,
        }
    return {
        "key": numeric.stored(q.answer),
        "tolerance": numeric.parse_tolerance(q.tolerance).value(),
        "unit": q.unit.strip() if q.unit else None,
        "partial": partial,
        "rationale": _clean(q.rationale),
        "mistakes": [
            {"value": numeric.stored(float(m.value)), "rationale": _clean(m.rationale)}
            for m in q.mistakes
        ],
    }


def _content(q: QuestionFile) -> dict[str, Any]:
    """The revision content: options or prompts/choices with ids (numeric: the number and
    its bands), the key, the explanation."""
    content: dict[str, Any] = {"explanation": _clean(q.explanation), "tags": list(q.tags)}
    if q.variables:
        content["template"] = template_raw(q)
        q = reference_instance(q)
    if q.type == "numeric":
        return content | _numeric_content(q)
    if q.type == "matching":
        prompts = [
            {"id": p.id or f"p{i}", "text": _clean(p.text), "rationale": _clean(p.rationale)}
            for i, p in enumerate(q.prompts, 1)
        ]
        content["prompts"] = prompts
        content["choices"] = [{"id": c.id, "text": _clean(c.text)} for c in q.choices]
        content["key"] = {p["id"]: src.match for p, src in zip(prompts, q.prompts, strict=True)}
        return content
    options = [
        {
            "id": o.id or string.ascii_lowercase[i],
            "text": _clean(o.text),
            "rationale": _clean(o.rationale),
        }
        for i, o in enumerate(q.options)
    ]
    content["options"] = options
    if q.type == "ordering":
        content["key"] = [o["id"] for o in options]
    else:
        content["key"] = [o["id"] for o, src in zip(options, q.options, strict=True) if src.correct]
    if q.type == "multiple":
        content["choose"] = q.choose
    return content


def content_hash(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def build_question(q: QuestionFile, case: CaseFile | None, file: str, line: int) -> QuestionSpec:
    """Normalize a checked question and hash everything a candidate's grade depends on."""
    content = _content(q)
    stem = _clean(q.stem)
    hashed = {
        "type": q.type,
        "difficulty": q.difficulty,
        "stem": stem,
        "source": _clean(q.source),
        "objectives": list(q.objectives),
        "case": None if case is None else [case.id, _clean(case.title), _clean(case.scenario)],
        "content": content,
    }
    return QuestionSpec(
        id=q.id,
        type=q.type,
        difficulty=q.difficulty,
        stem=stem,
        source=_clean(q.source),
        objectives=tuple(q.objectives),
        case_id=None if case is None else case.id,
        case_title=None if case is None else _clean(case.title),
        case_scenario=None if case is None else _clean(case.scenario),
        content=content,
        content_hash=content_hash(hashed),
        file=file,
        line=line,
    )


def _load_questions(root: Path, bank: Bank) -> None:
    folder = root / "questions"
    files = (
        sorted(folder.rglob("*.yaml")) + sorted(folder.rglob("*.yml")) if folder.is_dir() else []
    )
    if not files:
        bank.problems.append(Problem("questions/", None, "no question files (questions/*.yaml)"))
        return
    parsed: list[tuple[str, LineMap]] = []
    cases: dict[str, CaseFile] = {}
    case_where: dict[str, str] = {}
    for path in files:
        rel = path.relative_to(root).as_posix()
        raw = _read_yaml(path, rel, bank.problems)
        if raw is None:
            continue
        if not isinstance(raw, LineMap):
            bank.problems.append(
                Problem(rel, 1, "expected a mapping with 'cases:' and 'questions:' lists")
            )
            continue
        unknown_keys = set(raw) - {"cases", "questions"}
        for key in sorted(unknown_keys, key=str):
            bank.problems.append(
                Problem(
                    rel,
                    raw.key_lines.get(key),
                    f"unknown top-level key {key!r}: "
                    "a questions file has only 'cases:' and 'questions:'",
                )
            )
        raw_cases = raw.get("cases") or []
        if not isinstance(raw_cases, list):
            bank.problems.append(
                Problem(rel, raw.key_lines.get("cases"), "'cases:' must be a list")
            )
            raw_cases = []
        for raw_case in raw_cases:
            line = raw_case.line if isinstance(raw_case, LineMap) else raw.key_lines.get("cases")
            try:
                case = msgspec.convert(raw_case, CaseFile)
            except msgspec.ValidationError as exc:
                message, at = shape_error(exc, raw_case, line)
                bank.problems.append(Problem(rel, at, f"case: {message}"))
                continue
            if case.id in cases:
                bank.problems.append(
                    Problem(
                        rel, line, f"case id {case.id!r} is already used in {case_where[case.id]}"
                    )
                )
                continue
            cases[case.id] = case
            case_where[case.id] = f"{rel}:{line}"
        parsed.append((rel, raw))

    codes = bank.objective_codes()
    seen: dict[str, str] = {}
    for rel, raw in parsed:
        questions = raw.get("questions")
        if questions is None:
            continue
        if not isinstance(questions, list):
            bank.problems.append(
                Problem(rel, raw.key_lines.get("questions"), "'questions:' must be a list")
            )
            continue
        for raw_q in questions:
            line = raw_q.line if isinstance(raw_q, LineMap) else raw.key_lines["questions"]
            qid = raw_q.get("id") if isinstance(raw_q, dict) else None
            qid = qid if isinstance(qid, str) else None
            try:
                q = msgspec.convert(raw_q, QuestionFile)
            except msgspec.ValidationError as exc:
                message, at = shape_error(exc, raw_q, line)
                bank.problems.append(Problem(rel, at, message, qid))
                continue
            if q.id in seen:
                bank.problems.append(
                    Problem(rel, line, f"duplicate question id: already used at {seen[q.id]}", q.id)
                )
                continue
            seen[q.id] = f"{rel}:{line}"
            errors = check_question(q, codes, cases)
            for message in errors:
                bank.problems.append(Problem(rel, line, message, q.id))
            if not errors:
                shared = cases.get(q.case) if q.case else None
                bank.questions.append(build_question(q, shared, rel, line))


# --- blueprints ---------------------------------------------------------------------------


def _check_blueprint(bp: BlueprintFile, codes: set[str]) -> list[str]:
    errors: list[str] = []
    if bp.objective_weights is not None and bp.objective_counts is not None:
        errors.append("give 'objective_weights' or 'objective_counts', not both")
    targets = bp.objective_weights or bp.objective_counts or {}
    unknown = [c for c in targets if c not in codes]
    if unknown:
        errors.append(
            f"unknown objective {', '.join(map(repr, unknown))}: use codes from objectives.yaml"
        )
    if bp.objective_counts is not None and sum(bp.objective_counts.values()) != bp.question_count:
        errors.append(
            f"objective_counts add up to {sum(bp.objective_counts.values())}, "
            f"but question_count is {bp.question_count}"
        )
    if bp.unscored_count >= bp.question_count:
        errors.append(
            f"unscored_count ({bp.unscored_count}) must be less than question_count "
            f"({bp.question_count})"
        )
    scale = bp.scale
    if not scale.min <= scale.pass_ <= scale.max or scale.min >= scale.max:
        errors.append(
            f"scale needs min < max and min <= pass <= max; got min {scale.min}, "
            f"pass {scale.pass_}, max {scale.max}"
        )
    if bp.mode == "exam" and bp.time_limit_seconds is None:
        errors.append("an exam-mode blueprint needs time_limit_seconds (practice may be untimed)")
    errors.extend(adaptive_problems(bp))
    return errors


def load_blueprint(
    path: Path, rel: str, codes: set[str], problems: list[Problem]
) -> BlueprintSpec | None:
    """Read and check one blueprint file; problems are appended to `problems`."""
    raw = _read_yaml(path, rel, problems)
    if raw is None:
        return None
    line = raw.line if isinstance(raw, LineMap) else 1
    try:
        bp = msgspec.convert(raw, BlueprintFile)
    except msgspec.ValidationError as exc:
        message, at = shape_error(exc, raw, line)
        problems.append(Problem(rel, at, message))
        return None
    errors = _check_blueprint(bp, codes)
    for message in errors:
        problems.append(Problem(rel, line, f"blueprint {bp.id!r}: {message}"))
    return None if errors else BlueprintSpec(bp, rel, line)


def _load_blueprints(root: Path, bank: Bank) -> None:
    folder = root / "blueprints"
    codes = bank.objective_codes()
    seen: dict[str, str] = {}
    for target, pattern in (
        (bank.blueprints, "*.yaml"),
        (bank.example_blueprints, "examples/*.yaml"),
    ):
        for path in sorted(folder.glob(pattern)):
            rel = path.relative_to(root).as_posix()
            spec = load_blueprint(path, rel, codes, bank.problems)
            if spec is None:
                continue
            if spec.spec.id in seen:
                bank.problems.append(
                    Problem(
                        rel,
                        spec.line,
                        f"blueprint id {spec.spec.id!r} is already used in {seen[spec.spec.id]}",
                    )
                )
                continue
            seen[spec.spec.id] = rel
            target.append(spec)


def load_bank(path: Path | str) -> Bank:
    """Load and check the bank folder at `path`; see `Bank.problems` for what is wrong."""
    root = Path(path)
    bank = Bank(root=root)
    if not root.is_dir():
        bank.problems.append(Problem(str(root), None, "not a folder: give the bank's folder"))
        return bank
    _load_objectives(root, bank)
    _load_questions(root, bank)
    _load_blueprints(root, bank)
    return bank
