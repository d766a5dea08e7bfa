"""What every quiz format module shares: the draft a file is read into, located issues,
the limits of one import, the text helpers (categories, slugs, ids, credits, XML-safe
text), the numbers of numeric questions (`read_number`, `numeric_export`) and the drawn
instance that stands for a template (`one_instance`). HTML becomes plain text in
`html_text.py`.

Pure: no database, no web framework; the format modules (`gift`, `aiken`, `moodle_xml`,
`qti`, `yaml_export`) import this module and nothing of each other, and
`bank/interchange.py` settles drafts into questions.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import cache

from exam_service.bank import templates
from exam_service.bank.loader import ObjectiveSpec, QuestionSpec
from exam_service.grading import numeric

FULL_CREDIT = 99.99  # Moodle writes one third as 33.33333; full credit is 100 give or take

# The limits of one import. An upload is at most 2 MiB (Settings.max_body_bytes): questions
# like the default bank's take about 1,200 bytes each in GIFT and 2,500 in Moodle XML, so a
# real 2 MiB file holds 800-1,800 of them, and 5,000 leaves room for terse ones (400 bytes).
# A file of 350,000 six-byte questions ("a{T}" and a blank line) is refused as it is read.
MAX_QUESTIONS = 5_000
MAX_ANSWERS = 26  # answers or pairs per question: option ids and paper letters run a to z
MAX_TAGS = 50  # tags per question
MAX_CATEGORY = 1_000  # characters in a category path; Moodle's names take 255 each
# Characters of text in the settled questions of one file, after a YAML case or anchor or a
# GIFT or Moodle category has been written into every question that uses it: four times
# what a full upload holds, so that a 1 MiB scenario shared by 5,000 questions is refused
# rather than stored 5,000 times.
MAX_TEXT = 8_000_000
MAX_LISTED = 1_000  # errors, skipped questions and warnings listed in one report, each


@dataclass(frozen=True)
class Issue:
    """A problem with one place in an imported file, and what to do about it."""

    file: str
    where: str
    message: str
    question: str | None = None

    def __str__(self) -> str:
        who = f" [{self.question}]" if self.question else ""
        return f"{self.file} {self.where}{who}: {self.message}"


@dataclass
class Answer:
    """A multiple-choice answer as its format states it: credit in percent, -100 to 100."""

    text: str
    credit: float
    feedback: str = ""


@dataclass
class NumericAnswer:
    """A numerical answer as GIFT and Moodle XML state it: a value with an absolute
    tolerance, a credit in percent and feedback. `value` None is Moodle's "*", any answer
    no other matches (GIFT's `~#feedback`)."""

    value: numeric.Number | None
    tolerance: numeric.Number
    credit: float
    feedback: str = ""


@dataclass
class Pair:
    """A matching pair; a pair with an empty prompt only adds a distractor choice."""

    prompt: str
    choice: str


@dataclass
class Draft:
    """One question read from a file, before its id and objectives are settled."""

    where: str
    line: int  # QuestionSpec.line: the line in GIFT and Aiken, 0 in XML
    stem: str
    title: str | None = None
    kind: str = "choice"  # "choice" (answers), "matching" (pairs) or "numeric" (numbers)
    answers: list[Answer] = field(default_factory=list)
    one_answer: bool = True
    pairs: list[Pair] = field(default_factory=list)
    numbers: list[NumericAnswer] = field(default_factory=list)
    unit: str | None = None
    explanation: str = ""
    category: str | None = None
    tags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # warnings found while reading


@dataclass
class Reading:
    drafts: list[Draft] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    skipped: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)


def dropped_note(dropped: set[str], what: str) -> list[str]:
    if not dropped:
        return []
    tags = ", ".join(f"<{tag}>" for tag in sorted(dropped))
    return [f"{what} had {tags}, which plain text cannot show: check it still makes sense"]


def text_paragraphs(text: str) -> list[list[str]]:
    """The paragraphs of a text (split at blank lines), each a list of its lines."""
    return [block.split("\n") for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]


def split_category(path: str) -> list[str]:
    """Segments of a Moodle category path; Moodle writes a '/' inside a name as '//'."""
    return [
        part.replace("\0", "/").strip()
        for part in path.replace("//", "\0").split("/")
        if part.replace("\0", "/").strip()
    ]


def category_path(code: str, objectives: Sequence[ObjectiveSpec]) -> str:
    """The Moodle category path for an objective: its codes from the exam down."""
    by_code = {o.code: o for o in objectives}
    chain: list[str] = []
    node = by_code.get(code)
    while node is not None and len(chain) <= len(by_code):
        chain.append(node.code)
        node = by_code.get(node.parent_code) if node.parent_code else None
    codes = list(reversed(chain)) or [code]
    return "$course$/top/" + "/".join(c.replace("/", "//") for c in codes)


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """The text without the control characters XML 1.0 cannot hold."""
    return _NOT_XML.sub("", text)


def case_stem(question: QuestionSpec) -> str:
    """The stem with its case printed before it, for formats that have no cases."""
    if question.case_id is None:
        return question.stem
    return f"{question.case_title}\n\n{question.case_scenario}\n\n{question.stem}"


def carried_tags(question: QuestionSpec) -> list[str]:
    """Secondary objectives, then the question's own tags: what GIFT and Moodle tags carry."""
    tags = [*question.objectives[1:], *question.content.get("tags", [])]
    return list(dict.fromkeys(tags))


def credit_text(credit: float) -> str:
    """A percentage as Moodle writes it: 100, 50, 33.33333."""
    return f"{credit:.5f}".rstrip("0").rstrip(".")


def slug(text: str, limit: int = 100) -> str:
    """A bank id from free text: ASCII lower-case letters, digits, '.', '_' and '-'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    value = re.sub(r"[^a-z0-9._-]+", "-", ascii_text.lower())
    value = re.sub(r"^[^a-z0-9]+", "", value)
    return value[:limit].rstrip("-")


def shorten(text: str, limit: int = 60) -> str:
    """Text from a file short enough to quote in a message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def too_many_answers(count: int, what: str = "answers") -> str:
    if what == "pairs":
        return (
            f"the question has {count:,} pairs: at most {MAX_ANSWERS}; split it into several "
            "matching questions"
        )
    return (
        f"the question has {count:,} answers: at most {MAX_ANSWERS} (a to z); drop some or "
        "split it into several questions"
    )


def too_many_questions(file: str, where: str) -> Issue:
    return Issue(
        file,
        where,
        f"more than {MAX_QUESTIONS:,} questions in one file (the one here is number "
        f"{MAX_QUESTIONS + 1:,}): split the file into parts of at most {MAX_QUESTIONS:,} "
        "questions and import each part",
    )


class Ids:
    """The ids taken so far in one file; `take` gives a repeated name the next free number.

    The next number to try is kept per stem (the base cut to fit its suffix) and suffix
    width, so a name repeated n times costs O(n) in all, not O(n^2) as counting up from 2
    for each repeat would. The id is still the first free one of base, base-2, base-3...
    """

    def __init__(self, limit: int = 100) -> None:
        self.limit = limit
        self.taken: set[str] = set()
        self._next: dict[tuple[str, int], int] = {}

    def take(self, base: str) -> str:
        if base not in self.taken:
            self.taken.add(base)
            return base
        width = 1
        while True:
            stem = base[: self.limit - 1 - width].rstrip("-")
            low, high = max(2, 10 ** (width - 1)), 10**width
            number = self._next.get((stem, width), low)
            while number < high and f"{stem}-{number}" in self.taken:
                number += 1
            if number < high:
                self._next[(stem, width)] = number + 1
                self.taken.add(f"{stem}-{number}")
                return f"{stem}-{number}"
            self._next[(stem, width)] = high
            width += 1


# The grades Moodle accepts for an answer, in percent: question_bank::fraction_options_full
# (lib/questionlib.php) lists 1/q for q <= 10, p/q for q <= 6, p/10 and 1/20, and their
# negatives; its importers match a fraction to that list within 0.00001 (0.001 percent)
# and refuse the question otherwise.
MOODLE_GRADES = tuple(
    Fraction(value)
    for value in (
        100, 90, Fraction(250, 3), 80, 75, 70, Fraction(200, 3), 60, 50, 40, Fraction(100, 3),
        30, 25, 20, Fraction(50, 3), Fraction(100, 7), Fraction(25, 2), Fraction(100, 9), 10, 5,
    )
)  # fmt: skip


def multiple_grades(question: QuestionSpec) -> list[Fraction] | None:
    """The Moodle grade of each option of a `multiple` question, as Moodle wants them set:
    the right options share 100 and the wrong ones -100, each a grade from Moodle's list,
    so that ticking every box scores 0 (Moodle adds the grades of the ticked boxes and
    keeps the sum between 0 and 100). Over 20 wrong options get -5 each, below -100 in
    all. None when Moodle's list cannot share 100 among the right ones (over 20 of them).
    """
    key = set(question.content["key"])
    options = question.content["options"]
    right = moodle_shares(len(key))
    if right is None:
        return None
    wrong_count = len(options) - len(key)
    wrong = moodle_shares(wrong_count) if wrong_count else ()
    rights, wrongs = iter(right), iter(wrong or (Fraction(5),) * wrong_count)
    return [next(rights) if o["id"] in key else -next(wrongs) for o in options]


@cache
def moodle_shares(count: int) -> tuple[Fraction, ...] | None:
    """`count` grades from Moodle's list that add up to exactly 100, as equal as the list
    allows: 100/count when Moodle has it (count 1-10 and 20), else the closest two grades
    that do (11: nine of 10 and two of 5). None for more than 20, as 5 is the smallest."""
    if Fraction(100, count) in MOODLE_GRADES:
        return (Fraction(100, count),) * count
    best: tuple[Fraction, ...] | None = None
    for high in MOODLE_GRADES:
        for low in MOODLE_GRADES:
            if low >= high or (best is not None and high - low >= best[0] - best[-1]):
                continue
            # k highs and (count - k) lows make 100 when k = (100 - count*low) / (high - low)
            highs = (100 - count * low) / (high - low)
            if highs.denominator == 1 and 0 < highs < count:
                best = (high,) * int(highs) + (low,) * (count - int(highs))
    return best


_GRADE_FLOATS = tuple((grade, float(grade)) for grade in (*MOODLE_GRADES, Fraction(0)))


def moodle_grade(percent: float) -> Fraction | None:
    """The grade of Moodle's list (`MOODLE_GRADES`, or 0) this percentage stands for,
    within the 0.001 percent its importers allow (33.33333 is 100/3); None if none."""
    for grade, value in _GRADE_FLOATS:
        if abs(abs(percent) - value) < 0.001:
            return grade if percent >= 0 else -grade
    return None


def on_moodle_list(percent: float) -> bool:
    """Whether Moodle's grade list holds this percentage (see `moodle_grade`)."""
    return moodle_grade(percent) is not None


# --- numeric questions ----------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,4})?")


def read_number(text: str) -> numeric.Number:
    """A number as GIFT and Moodle XML write one (1200, -0.5, 1.2e3), in the bank's
    normalised form; ValueError saying what to write for anything else (no thousands
    separators, no words, no infinities)."""
    cleaned = text.strip()
    if not _NUMBER.fullmatch(cleaned):
        raise ValueError(
            f"{shorten(cleaned, 40)!r} is not a number: write digits with a point for "
            "decimals, e.g. 1200, 0.5 or 1.2e3"
        )
    return numeric.stored(Decimal(cleaned))


@dataclass(frozen=True)
class NumericExport:
    """A numeric question as formats with absolute tolerances write it (GIFT, Moodle XML):
    the answer with its tolerance as a number, the partial band as (tolerance, credit in
    0-1), the known mistakes as (value, rationale), and `notes`, what the writing changed,
    for a comment in the file."""

    value: numeric.Number
    tolerance: numeric.Number
    partial: tuple[numeric.Number, float] | None
    mistakes: list[tuple[numeric.Number, str]]
    unit: str | None
    rationale: str
    notes: list[str]


def numeric_export(q: QuestionSpec) -> NumericExport:
    """The numbers of a numeric question with every tolerance made absolute: a relative
    one ("2%") becomes its width around the answer (24 for 1200), noted. Known mistakes
    keep the question's (absolute) tolerance, as the bank matches them with it."""
    content = q.content
    value = numeric.stored(content["key"])
    centre = numeric.exact(value)
    notes: list[str] = []

    def absolute(raw: object, what: str) -> numeric.Number:
        tolerance = numeric.parse_tolerance(raw)
        width = numeric.stored(tolerance.width(centre))
        if tolerance.relative:
            notes.append(
                f"{what} {tolerance.value()} is written as the absolute "
                f"{numeric.number_text(width)} ({tolerance.value()} of "
                f"{numeric.number_text(value)})"
            )
        return width

    tolerance = absolute(content.get("tolerance"), "the tolerance")
    partial = None
    if content.get("partial"):
        band = content["partial"]
        partial = (absolute(band["tolerance"], "the partial band"), float(band["credit"]))
    mistakes = [(numeric.stored(m["value"]), m["rationale"]) for m in content.get("mistakes", [])]
    return NumericExport(
        value=value,
        tolerance=tolerance,
        partial=partial,
        mistakes=mistakes,
        unit=content.get("unit"),
        rationale=content.get("rationale") or "",
        notes=notes,
    )


# --- templates ------------------------------------------------------------------------------

INSTANCE_SEED = 0
"""The draw a template is exported as: the reference draw, whose answer the bank stores."""


def one_instance(q: QuestionSpec) -> tuple[QuestionSpec, str | None]:
    """What formats without variables (GIFT, Moodle XML, QTI here) write of a question: a
    template becomes one drawn instance (`INSTANCE_SEED`: its stem, options, rationales,
    explanation, answer and mistakes with the drawn values) and a note saying so, for a
    comment in the file; any other question is written as it is, with no note."""
    drawable = templates.drawable(q.content)
    if drawable is None:
        return q, None
    layout = drawable.draw(INSTANCE_SEED)
    content = templates.instance(q.content, layout)
    content.pop("template", None)
    drawn = layout["values"]
    # Variables by name (PostgreSQL's JSON keeps no key order), then derived values in order
    derived = [name for name, _ in q.content["template"].get("derived", [])]
    names = [*sorted(set(drawn) - set(derived)), *derived]
    values = ", ".join(f"{name} = {templates.shown_value(drawn[name])}" for name in names)
    note = (
        "a template, drawn anew for every attempt; this format cannot carry its variables, "
        f"so one drawn instance is written ({' '.join(values.split())})"
    )
    stem = templates.stem_of(q.stem, layout)
    return dataclasses.replace(q, stem=stem, content=content), note
