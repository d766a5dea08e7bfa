"""Questions in and out of other quiz formats: the shared types and the two entry points.

In: GIFT, Aiken, Moodle XML (`formats/gift.py`, `aiken.py`, `moodle_xml.py`) and the bank's
own questions-file YAML. Out: YAML (`formats/yaml_export.py`), GIFT, Moodle XML and QTI 3.0
(`formats/qti.py`). The shared draft types and text helpers are in `formats/common.py`.
Each format module says in its docstring what the format can and cannot carry.

An import never raises on bad content. A format module reads the file into `Draft`s
(questions in the vocabulary every format shares: answers with a credit in percent,
matching pairs, numerical answers with an absolute tolerance, a category and tags) and
`Issue`s with a line or an element path; this module then settles each draft into a
`QuestionSpec` the way the bank loader would:

- objectives: a user `mapping` (category path, category segment or tag -> objective code)
  first; else a category path whose last segment, or failing that any segment (deepest
  first), equals an objective code or title (case-insensitive); tags that name an
  objective the same way add it (the category's objective stays the primary one); else
  `default_objective`; else the question is an error that names its category.
- ids: a slug of the question's name (GIFT `::title::`, Moodle `<name>`), else
  `imported-` + the first 10 hex digits of the SHA-256 of the stem; `-2`, `-3` on repeats.
- what the formats lack: difficulty "medium"; source "imported from <file>" plus the
  category; an empty explanation or rationale is kept as "" with a warning (the loader
  then asks for it when the question is exported to YAML and loaded as a bank file).
- answers: in one-answer mode (GIFT with an `=` answer, Moodle `<single>true`) the one
  full-credit answer is the key (`single`); otherwise every answer with positive credit is
  right: one makes a `single` question, several a `multiple` with `choose` = their number.
  An answer with no or negative credit is wrong.
- numerical answers (GIFT `{#...}`, Moodle `numerical`), each a value, an absolute
  tolerance, a credit and feedback, become a `numeric` question (`_numeric_question`):
  the one full-credit answer is `answer` with its `tolerance` (two or more are refused:
  the bank has one right answer, so widen one tolerance to cover the others); the first
  partial-credit answer around the same value with a wider tolerance is the `partial`
  band with its credit; every other answer around another value, with feedback, is a
  known mistake (`mistakes`: the value and the feedback as its rationale; any credit it
  had is not kept, as the bank scores a mistake 0). What has no place is dropped with a
  warning that names it: further partial answers around the answer, an answer inside the
  right answer's tolerance, a wrong value without feedback (it adds nothing: every
  value outside the bands scores 0), a repeated value, the catch-all answer (Moodle's
  `*`, GIFT's `~#feedback`), a mistake's own tolerance (the bank matches a mistake within
  the question's tolerance). Moodle tries the answers in order and takes the first that
  matches; the bank checks the tolerance, then the partial band, so a wrong value listed
  before the partial band and inside it earns the partial credit here (a warning says
  so; listed after it, Moodle never reached it either). The `rationale`
  (how the answer is worked out) is the right answer's feedback, else the general
  feedback (noted); with neither it is imported as "" with a warning, as a missing
  explanation is.

Every step takes time linear in the file (no backtracking patterns, no rescans, repeated
names numbered in O(1) each), and one import has limits (`formats/common.py`): at most
5,000 questions per file, 26 answers or pairs and 50 tags per question, a category path
of 1,000 characters, 8,000,000 characters of text once shared cases, categories and YAML
anchors are written into each question, and 1,000 listed issues of each kind (then a
count of the rest). Each limit is an error that says what to do.

`parse_import` and `export_bank` are pure functions of picklable arguments and results,
so that they can run in a worker process.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec
import yaml

from exam_service.bank.format import (
    CaseFile,
    ChoiceFile,
    Difficulty,
    MistakeFile,
    OptionFile,
    PartialBand,
    PromptFile,
    QuestionFile,
)
from exam_service.bank.formats import aiken, gift, moodle_xml, qti, yaml_export
from exam_service.bank.formats.common import (
    FULL_CREDIT,
    MAX_ANSWERS,
    MAX_CATEGORY,
    MAX_LISTED,
    MAX_QUESTIONS,
    MAX_TAGS,
    MAX_TEXT,
    Draft,
    Ids,
    Issue,
    NumericAnswer,
    Reading,
    credit_text,
    moodle_grade,
    shorten,
    slug,
    split_category,
    too_many_answers,
    too_many_questions,
)
from exam_service.bank.loader import (
    LineLoader,
    LineMap,
    ObjectiveSpec,
    QuestionSpec,
    build_question,
    check_question,
    shape_error,
)
from exam_service.grading import numeric

IMPORT_FORMATS = ("gift", "aiken", "moodle-xml", "yaml")
EXPORT_FORMATS = ("yaml", "gift", "moodle-xml", "qti")
DEFAULT_DIFFICULTY: Difficulty = "medium"
_ALIASES = {"moodle": "moodle-xml", "xml": "moodle-xml", "moodlexml": "moodle-xml", "yml": "yaml"}


@dataclass
class ParsedImport:
    format: str
    specs: list[QuestionSpec] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    skipped: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)


# --- what a format module reads -----------------------------------------------------------


# --- text helpers shared by the format modules ---------------------------------------------


# --- settling drafts into questions --------------------------------------------------------


class _Objectives:
    """Resolves category paths and tags to objective codes; see the module docstring."""

    def __init__(self, objectives: Sequence[ObjectiveSpec], mapping: Mapping[str, str]) -> None:
        self.codes = {o.code for o in objectives}
        self.mapping = mapping
        titles: dict[str, str | None] = {}
        for o in objectives:
            key = o.title.strip().casefold()
            titles[key] = None if key in titles and titles[key] != o.code else o.code
        self.names = {k: v for k, v in titles.items() if v is not None}
        self.names.update({o.code.casefold(): o.code for o in objectives})

    def label(self, text: str) -> str | None:
        if text in self.mapping:
            return self.mapping[text]
        return self.names.get(text.strip().casefold())

    def category(self, path: str) -> str | None:
        if path in self.mapping:
            return self.mapping[path]
        for segment in reversed(split_category(path)):
            code = self.label(segment)
            if code is not None:
                return code
        return None


class _Rejected(Exception):
    """A draft that cannot become a question; the message says what to fix."""


def _choice_question(draft: Draft) -> tuple[str, list[OptionFile], int | None, list[str]]:
    notes: list[str] = []
    answers = draft.answers
    if not answers:
        raise _Rejected("the question has no answers: give it at least two")
    full = [i for i, a in enumerate(answers) if a.credit >= FULL_CREDIT]
    positive = [i for i, a in enumerate(answers) if a.credit > 0]
    if draft.one_answer:
        if not full:
            raise _Rejected(
                "no answer gives full marks: mark the right answer "
                '(= in GIFT, fraction="100" in Moodle XML)'
            )
        if len(full) > 1:
            raise _Rejected(
                f"{len(full)} answers give full marks in a one-answer question: keep one, or "
                "make it a multiple-answer question whose right answers share the credit"
            )
        right = set(full)
        partial = [i + 1 for i in positive if i not in right]
        if partial:
            listed = ", ".join(map(str, partial))
            notes.append(f"partial credit for answer(s) {listed} is not kept: they count as wrong")
    else:
        if not positive:
            raise _Rejected(
                "no answer has a positive weight: give each right answer a share of the "
                'credit (~%50% in GIFT, fraction="50" in Moodle XML)'
            )
        right = set(positive)
        if len({answers[i].credit for i in positive}) > 1:
            notes.append("the right answers had different weights: each now counts the same")
    options = [
        OptionFile(text=a.text, rationale=a.feedback, correct=i in right)
        for i, a in enumerate(answers)
    ]
    if len(right) == 1:
        return "single", options, None, notes
    return "multiple", options, len(right), notes


def _decimal(value: numeric.Number) -> Decimal:
    """The decimal a number read from a file stands for (`numeric.exact` without its checks:
    the format modules give normalised numbers)."""
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _named(n: int, answer: NumericAnswer) -> str:
    """ "answer 3 (1150 ± 5, 30%)": an answer as a warning names it."""
    assert answer.value is not None
    text = numeric.number_text(answer.value)
    if answer.tolerance:
        text += f" \u00b1 {numeric.number_text(answer.tolerance)}"
    if 0 < answer.credit < FULL_CREDIT:
        text += f", {credit_text(answer.credit)}%"
    return f"answer {n} ({text})"


@dataclass
class _Numeric:
    """The fields of a numeric question settled from numerical answers, and the notes on
    what did not fit."""

    answer: numeric.Number
    tolerance: numeric.Number
    rationale: str
    partial: PartialBand | None = None
    mistakes: list[MistakeFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _numeric_question(draft: Draft) -> _Numeric:
    """Numerical answers as one numeric question; see the module docstring for the rules.
    Raises _Rejected when no answer, or more than one, gives full marks."""
    numbered = list(enumerate(draft.numbers, 1))
    full = [(n, a) for n, a in numbered if a.value is not None and a.credit >= FULL_CREDIT]
    if not full:
        raise _Rejected(
            "no numerical answer gives full marks: mark the right one (=1200:24 in GIFT, "
            'fraction="100" in Moodle XML)'
        )
    if len(full) > 1:
        listed = ", ".join(_named(n, a) for n, a in full)
        raise _Rejected(
            f"{len(full)} numerical answers give full marks ({listed}): the bank has one "
            "right answer with a tolerance; keep one and widen its tolerance to cover the others"
        )
    key_n, key = full[0]
    assert key.value is not None
    centre, within = _decimal(key.value), _decimal(key.tolerance)
    settled = _Numeric(answer=key.value, tolerance=key.tolerance, rationale=key.feedback)
    notes = settled.notes
    band_width: Decimal | None = None
    seen: set[Decimal] = set()
    kept: list[tuple[int, NumericAnswer]] = []  # the answers that became known mistakes
    band_at = 0  # the number of the answer that became the partial band
    for n, answer in numbered:
        if n == key_n:
            continue
        if answer.value is None:
            if answer.credit > 0:
                notes.append(
                    f"answer {n} (*, any other value) gave {credit_text(answer.credit)}% to "
                    "every answer: not kept; other answers score 0"
                )
            elif answer.feedback:
                notes.append(
                    f"answer {n} (*, any other value): its feedback is not kept (the bank has "
                    "no feedback for every other answer)"
                )
            continue
        value = _decimal(answer.value)
        off = abs(value - centre)
        if off == 0 and answer.credit > 0:  # partial credit around the right value
            if settled.partial is not None:
                notes.append(
                    f"{_named(n, answer)} is not kept: the bank has one partial-credit band"
                )
            elif answer.tolerance <= key.tolerance:
                notes.append(
                    f"{_named(n, answer)} is not kept: its band is not wider than the tolerance"
                )
            else:
                # Moodle writes a third as 33.33333: its grade list has the exact one
                grade = moodle_grade(answer.credit)
                credit = float(grade / 100) if grade is not None else answer.credit / 100
                settled.partial = PartialBand(answer.tolerance, credit)
                band_width, band_at = _decimal(answer.tolerance), n
                if answer.feedback:
                    notes.append(
                        f"{_named(n, answer)}: its feedback is not kept (the partial band has none)"
                    )
            continue
        if off <= within:
            notes.append(f"{_named(n, answer)} lies within the right answer's tolerance: not kept")
            continue
        if not answer.feedback:
            notes.append(
                f"{_named(n, answer)} has no feedback: not kept (every value outside the "
                "bands scores 0)"
            )
            continue
        if value in seen:
            text = numeric.number_text(answer.value)
            notes.append(f"{_named(n, answer)} repeats the value {text}: not kept")
            continue
        seen.add(value)
        kept.append((n, answer))
        settled.mistakes.append(MistakeFile(answer.value, answer.feedback))
        if answer.credit > 0:
            notes.append(
                f"{_named(n, answer)}: its {credit_text(answer.credit)}% credit is not "
                "kept; it is a known mistake (scores 0, its feedback shown in the review)"
            )
        if answer.tolerance != key.tolerance:
            notes.append(
                f"{_named(n, answer)}: its tolerance is not kept; the bank matches a known "
                "mistake within the question's tolerance "
                f"(\u00b1 {numeric.number_text(key.tolerance)})"
            )
    if band_width is not None:
        for n, answer in kept:
            assert answer.value is not None
            if n < band_at and abs(_decimal(answer.value) - centre) <= band_width:
                notes.append(
                    f"{_named(n, answer)} comes before the partial band and lies in it: "
                    "here it earns the partial credit (its feedback is still shown)"
                )
    return settled


def _matching_question(draft: Draft) -> tuple[list[PromptFile], list[ChoiceFile]]:
    ids: dict[str, str] = {}
    taken = Ids(40)
    for pair in draft.pairs:
        if pair.choice not in ids:
            ids[pair.choice] = taken.take(slug(pair.choice, 40) or f"choice-{len(ids) + 1}")
    prompts = [
        PromptFile(text=p.prompt, match=ids[p.choice], rationale="")
        for p in draft.pairs
        if p.prompt
    ]
    return prompts, [ChoiceFile(id=ident, text=text) for text, ident in ids.items()]


def _placed(
    draft: Draft, resolver: _Objectives, default_objective: str | None
) -> tuple[list[str], list[str], str | None]:
    """(objective codes, tags that name no objective, the problem if none is found)."""
    codes: list[str] = []
    if draft.category:
        code = resolver.category(draft.category)
        if code is not None:
            codes.append(code)
    tags: list[str] = []
    for tag in draft.tags:
        code = resolver.label(tag)
        if code is None:
            tags.append(tag)
        elif code not in codes:
            codes.append(code)
    if not codes and default_objective is not None:
        codes.append(default_objective)
    if codes:
        return codes, tags, None
    found = f"category {draft.category!r}" if draft.category else "no category"
    if draft.tags:
        found += f", tags {', '.join(map(repr, draft.tags))}"
    return (
        codes,
        tags,
        f"no objective for this question ({found}): pass a mapping from its category or a "
        "tag to an objective code, or a default objective",
    )


def _question_file(
    draft: Draft, qid: str, codes: list[str], tags: list[str], name: str
) -> tuple[QuestionFile, list[str]]:
    """The bank question of a draft and the notes on what it lost; raises _Rejected."""
    question = QuestionFile(
        id=qid,
        type="single",
        objectives=codes,
        difficulty=DEFAULT_DIFFICULTY,
        source=f"imported from {name}" + (f", category {draft.category}" if draft.category else ""),
        stem=draft.stem,
        explanation=draft.explanation,
        tags=list(dict.fromkeys(tag.strip() for tag in tags if tag.strip())),
    )
    notes: list[str] = []
    if draft.kind == "numeric":
        return _numeric_file(draft, question)
    if draft.kind == "matching":
        prompts, choices = _matching_question(draft)
        question = msgspec.structs.replace(
            question, type="matching", prompts=prompts, choices=choices
        )
        blank = [str(i) for i, p in enumerate(prompts, 1) if not p.rationale.strip()]
        what = "prompt"
    else:
        kind, options, choose, notes = _choice_question(draft)
        question = msgspec.structs.replace(question, type=kind, options=options, choose=choose)
        blank = [str(i) for i, o in enumerate(options, 1) if not o.rationale.strip()]
        what = "option"
    if blank:
        notes.append(
            f"no feedback for {what}(s) {', '.join(blank)}: imported with an empty rationale; "
            "write one in the bank"
        )
    if not question.explanation.strip():
        notes.append(
            "no general feedback: imported with an empty explanation; write one in the bank"
        )
    return question, notes


def _numeric_file(draft: Draft, question: QuestionFile) -> tuple[QuestionFile, list[str]]:
    """The numeric question of a draft of numerical answers, and the notes on what it lost."""
    settled = _numeric_question(draft)
    notes = settled.notes
    rationale = settled.rationale
    if not rationale.strip() and draft.explanation.strip():
        rationale = draft.explanation
        notes.append(
            "no feedback on the right answer: its rationale is the general feedback; write "
            "how the answer is worked out in the bank"
        )
    elif not rationale.strip():
        notes.append(
            "no feedback on the right answer and no general feedback: imported with an "
            "empty rationale; write how the answer is worked out in the bank"
        )
    if not draft.explanation.strip():
        notes.append(
            "no general feedback: imported with an empty explanation; write one in the bank"
        )
    question = msgspec.structs.replace(
        question,
        type="numeric",
        answer=settled.answer,
        tolerance=settled.tolerance or None,
        unit=draft.unit,
        partial=settled.partial,
        rationale=rationale,
        mistakes=settled.mistakes,
    )
    return question, notes


def _position(issue: Issue) -> int:
    """The line or question number an issue points at, to list issues in file order."""
    match = re.search(r"\d+", issue.where)
    return int(match.group()) if match else 0


def _oversized(draft: Draft) -> str | None:
    """Why a draft is too big to become a question, found before any work on its parts."""
    if len(draft.answers) > MAX_ANSWERS:
        return too_many_answers(len(draft.answers))
    if len(draft.pairs) > MAX_ANSWERS:
        return too_many_answers(len(draft.pairs), "pairs")
    if len(draft.numbers) > MAX_ANSWERS:
        return too_many_answers(len(draft.numbers))
    if len(draft.tags) > MAX_TAGS:
        return f"the question has {len(draft.tags):,} tags: keep at most {MAX_TAGS}"
    if draft.category is not None and len(draft.category) > MAX_CATEGORY:
        return (
            f"its category path has {len(draft.category):,} characters: at most "
            f"{MAX_CATEGORY:,}; give the categories shorter names"
        )
    return None


def _text_size(question: QuestionFile, case: CaseFile | None = None) -> int:
    """The characters of text a question stores, its case's included."""
    size = len(question.stem) + len(question.explanation) + len(question.source)
    size += sum(len(o.text) + len(o.rationale) for o in question.options)
    size += sum(len(p.text) + len(p.rationale) for p in question.prompts)
    size += sum(len(c.text) for c in question.choices) + sum(map(len, question.tags))
    size += len(question.rationale or "") + sum(len(m.rationale) for m in question.mistakes)
    return size + (len(case.title) + len(case.scenario) if case is not None else 0)


def _too_much_text(name: str, where: str) -> Issue:
    return Issue(
        name,
        where,
        f"the questions up to here hold more than {MAX_TEXT:,} characters once shared cases, "
        "categories and YAML anchors are written into each question that uses them; nothing "
        "was read from this file: split it, or shorten the shared text",
    )


def _settle(
    reading: Reading,
    name: str,
    fmt: str,
    objectives: Sequence[ObjectiveSpec],
    mapping: Mapping[str, str],
    default_objective: str | None,
) -> ParsedImport:
    """Turn drafts into checked questions; see the module docstring for the rules."""
    result = ParsedImport(fmt, [], reading.errors, reading.skipped, reading.warnings)
    resolver = _Objectives(objectives, mapping)
    ids = Ids()
    stored = 0  # characters of text in the questions settled so far
    for draft in reading.drafts:
        given = slug(draft.title or "")
        base = given or "imported-" + hashlib.sha256(draft.stem.encode()).hexdigest()[:10]
        qid = ids.take(base)
        notes = list(draft.notes)
        if given and qid != base:
            notes.append(f"the name {base!r} is used before: imported as {qid!r}")
        oversized = _oversized(draft)
        if oversized is not None:
            result.errors.append(Issue(name, draft.where, oversized, qid))
            continue
        codes, tags, unplaced = _placed(draft, resolver, default_objective)
        messages = [unplaced] if unplaced else []
        try:
            question, lost = _question_file(draft, qid, codes, tags, name)
        except _Rejected as exc:
            messages.append(str(exc))
        else:
            notes += lost
            if not question.stem.strip():
                messages.append("the question has no text: write its stem")
            # An empty explanation or rationale is a warning for imports, not the loader's
            # error.
            checked = msgspec.structs.replace(
                question,
                explanation=question.explanation or "-",
                rationale=(question.rationale or "-") if question.type == "numeric" else None,
            )
            messages += check_question(checked, resolver.codes, {})
        issues = [Issue(name, draft.where, message, qid) for message in messages]
        if issues:
            result.errors += issues
            continue
        stored += _text_size(question)
        if stored > MAX_TEXT:
            result.specs.clear()
            result.errors.append(_too_much_text(name, draft.where))
            break
        result.warnings += [Issue(name, draft.where, note, qid) for note in notes]
        result.specs.append(build_question(question, None, name, draft.line))
    return result


# --- the bank's own YAML ------------------------------------------------------------------


def _entries(
    raw: LineMap, key: str, error: Callable[[int | None, str], None]
) -> list[tuple[object, int]]:
    """The items of a top-level list of a questions file, each with its line."""
    items = raw.get(key) or []
    if not isinstance(items, list):
        error(raw.key_lines.get(key), f"'{key}:' must be a list")
        return []
    default = raw.key_lines.get(key, 1)
    return [(item, item.line if isinstance(item, LineMap) else default) for item in items]


class _ImportLoader(yaml.CSafeLoader, LineLoader):
    """LineLoader's line numbers on libyaml's parser: its `construct_mapping` comes before
    the SafeConstructor's in this class's method order. 2 MiB of questions load in 2.3 s
    here, against 10.9 s with PyYAML's own parser."""


def _raw_oversized(item: object) -> str | None:
    """Why a questions-file entry is too big to check, seen before msgspec walks it: a YAML
    alias may repeat one long list in every question for the price of a few bytes."""
    if not isinstance(item, dict):
        return None
    for key, limit in (
        ("options", MAX_ANSWERS),
        ("prompts", MAX_ANSWERS),
        ("choices", MAX_ANSWERS),
        ("tags", MAX_TAGS),
        ("objectives", MAX_TAGS),
    ):
        value = item.get(key)
        if isinstance(value, list) and len(value) > limit:
            return f"'{key}:' has {len(value):,} entries: at most {limit}"
    return None


def _import_yaml(name: str, text: str, objectives: Sequence[ObjectiveSpec]) -> ParsedImport:
    """A questions file in the bank's format, checked by the loader's rules."""
    result = ParsedImport("yaml")

    def error(line: int | None, message: str, question: str | None = None) -> None:
        where = f"line {line}" if line else "line 1"
        result.errors.append(Issue(name, where, message, question))

    try:
        raw = yaml.load(text, Loader=_ImportLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        error(mark.line + 1 if mark else None, f"YAML syntax error: {exc.problem or exc}")
        return result
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        error(None, f"cannot read the YAML: {exc or type(exc).__name__}")
        return result
    if not isinstance(raw, LineMap):
        error(1, "expected a mapping with 'cases:' and 'questions:' lists")
        return result
    for key in sorted(set(raw) - {"cases", "questions"}, key=str):
        error(
            raw.key_lines.get(key),
            f"unknown top-level key {key!r}: a questions file has only 'cases:' and 'questions:'",
        )
    cases: dict[str, CaseFile] = {}
    for item, line in _entries(raw, "cases", error):
        try:
            case = msgspec.convert(item, CaseFile)
        except msgspec.ValidationError as exc:
            message, at = shape_error(exc, item, line)
            error(at, f"case: {message}")
            continue
        if case.id in cases:
            error(line, f"case id {case.id!r} is used twice: give each case its own id")
            continue
        cases[case.id] = case
    questions: list[tuple[int, QuestionFile]] = []
    entries = _entries(raw, "questions", error)
    if len(entries) > MAX_QUESTIONS:
        result.errors.append(too_many_questions(name, f"line {entries[MAX_QUESTIONS][1]}"))
        return result
    for item, line in entries:
        qid = item.get("id") if isinstance(item, dict) else None
        oversized = _raw_oversized(item)
        if oversized is not None:
            error(line, oversized, qid if isinstance(qid, str) else None)
            continue
        try:
            questions.append((line, msgspec.convert(item, QuestionFile)))
        except msgspec.ValidationError as exc:
            message, at = shape_error(exc, item, line)
            error(at, message, qid if isinstance(qid, str) else None)
    codes = {o.code for o in objectives}
    seen: dict[str, int] = {}
    stored = 0  # characters of text in the questions settled so far
    for line, question in questions:
        if question.id in seen:
            error(line, f"duplicate question id: already used at line {seen[question.id]}")
            continue
        seen[question.id] = line
        messages = check_question(question, codes, cases)
        for message in messages:
            error(line, message, question.id)
        if not messages:
            shared = cases.get(question.case) if question.case else None
            stored += _text_size(question, shared)
            if stored > MAX_TEXT:
                result.specs.clear()
                result.errors.append(_too_much_text(name, f"line {line}"))
                break
            result.specs.append(build_question(question, shared, name, line))
    return result


# --- entry points -------------------------------------------------------------------------


def _listed(result: ParsedImport, name: str) -> ParsedImport:
    """The issues in file order, at most MAX_LISTED of each kind, then how many more."""
    for issues, what in (
        (result.errors, "errors"),
        (result.skipped, "skipped questions"),
        (result.warnings, "warnings"),
    ):
        issues.sort(key=_position)
        if len(issues) > MAX_LISTED:
            more = len(issues) - MAX_LISTED
            del issues[MAX_LISTED:]
            issues.append(
                Issue(name, "file", f"{more:,} more {what} not listed: fix the ones above first")
            )
    return result


def _decode(name: str, data: bytes) -> tuple[str | None, Issue | None]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, Issue(
            name, f"line {line}", f"not UTF-8 text (byte {exc.start}): save the file as UTF-8"
        )
    return text.replace("\r\n", "\n").replace("\r", "\n"), None


def guess_format(name: str, data: bytes) -> str:
    """The import format of a file: from its content first, then its name; GIFT if unsure."""
    text = data[:65536].decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    lower = name.lower()
    if text.startswith("<"):
        return "moodle-xml"
    if re.search(r"^(questions|cases)[ \t]*:", text, re.M):
        return "yaml"
    aiken = re.search(r"^ANSWER:[ \t]*[A-Z]", text, re.M) and re.search(
        r"^[A-Z][.)][ \t]", text, re.M
    )
    gift = re.search(r"^[ \t]*(\$CATEGORY:|::)", text, re.M) or re.search(r"(?<!\\)\{", text)
    if aiken and not gift:
        return "aiken"
    if gift:
        return "gift"
    if aiken:
        return "aiken"
    for suffix, fmt in ((".xml", "moodle-xml"), (".yaml", "yaml"), (".yml", "yaml")):
        if lower.endswith(suffix):
            return fmt
    return "aiken" if lower.endswith((".txt", ".aiken")) else "gift"


def parse_import(
    name: str,
    data: bytes,
    fmt: str | None,
    objectives: Sequence[ObjectiveSpec],
    mapping: Mapping[str, str] | None = None,
    default_objective: str | None = None,
) -> ParsedImport:
    """Read an uploaded quiz file into questions ready to store; never raises on content.

    `fmt` is one of `IMPORT_FORMATS` (None: guessed); `mapping` and `default_objective`
    place questions under objectives (see the module docstring).
    """
    name = shorten(name, 100)  # it is repeated in every issue and every question's source
    chosen = guess_format(name, data) if fmt is None else _ALIASES.get(fmt.lower(), fmt.lower())
    result = ParsedImport(chosen)
    if chosen not in IMPORT_FORMATS:
        result.errors.append(
            Issue(name, "file", f"unknown format {fmt!r}: use one of {', '.join(IMPORT_FORMATS)}")
        )
        return result
    codes = {o.code for o in objectives}
    mapping = dict(mapping or {})
    for key, code in mapping.items():
        if code not in codes:
            result.errors.append(
                Issue(
                    name,
                    "mapping",
                    f"{key!r} maps to {code!r}, which is not an objective code: "
                    "use a code from the objective tree",
                )
            )
    if default_objective is not None and default_objective not in codes:
        result.errors.append(
            Issue(
                name,
                "default objective",
                f"{default_objective!r} is not an objective code: use one from the objective tree",
            )
        )
    text, problem = _decode(name, data)
    if problem is not None:
        result.errors.append(problem)
    if result.errors or text is None:
        return result
    if chosen == "yaml":
        return _listed(_import_yaml(name, text, objectives), name)
    if chosen == "gift":
        reading = gift.read(name, text)
    elif chosen == "aiken":
        reading = aiken.read(name, text)
    else:
        reading = moodle_xml.read(name, text)
    return _listed(_settle(reading, name, chosen, objectives, mapping, default_objective), name)


def export_bank(
    fmt: str, questions: Sequence[QuestionSpec], objectives: Sequence[ObjectiveSpec]
) -> tuple[bytes, str, str]:
    """The questions in an export format: (body, media type, file extension).

    Every body is UTF-8; the media types name no charset, as the HTTP layer adds
    "; charset=utf-8" to every text/ type (Litestar's Response does). Raises ValueError
    for a format not in `EXPORT_FORMATS`. Questions a format cannot carry (ordering in
    GIFT and Moodle XML) are left out with a comment in the file; what a format changes
    of a numeric question (a relative tolerance written as absolute) is said in a comment.
    """
    if fmt == "yaml":
        return yaml_export.export(questions).encode(), "application/yaml", "yaml"
    if fmt == "gift":
        return gift.export(questions, objectives).encode(), "text/plain", "gift"
    if fmt == "moodle-xml":
        return moodle_xml.export(questions, objectives), "application/xml", "xml"
    if fmt == "qti":
        return qti.export(questions, objectives), "application/zip", "zip"
    raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
