"""GIFT, Moodle's plain-text quiz format: read a file into drafts, write questions to it.

GIFT carries: a title (`::id::`, the question id), the stem, multiple-choice answers with
weights (`=right ~wrong ~%50%half`) and per-answer feedback (`#...`, the rationale),
true/false (`{T}`, `{FALSE#feedback if wrong#feedback if right}`), matching pairs
(`{=prompt -> answer}`; `= -> answer` adds a distractor), general feedback (`####...`, the
explanation), categories (`$CATEGORY: path`, exported as the primary objective's path) and
Moodle's tag comments (`// [tag:x]`, exported for secondary objectives and tags). Escapes:
`\\~ \\= \\# \\{ \\} \\: \\\\` and `\\n` for a line break; a blank line ends a question;
lines starting with `//` are comments; `[html]` text is read as HTML and made plain,
`[plain]`, `[markdown]` and `[moodle]` text is kept as written. A missing-word question
(text after the answer block) gets "_____" where its blank was. Reading scans with
`str.find` and regular expressions that cannot backtrack, so it takes time linear in the
file, however its braces, escapes and comments are arranged.

A `multiple` question is exported with every answer weighted: `~%50%right` and
`~%-33.33333%wrong`, the right answers sharing 100% and the wrong ones -100% in grades
Moodle accepts (`common.multiple_grades`), so that ticking every box scores 0 in Moodle.

Numerical questions `{#...}` are read as Moodle reads them: `{#3:2}` (3, plus or minus 2),
`{#1..5}` (the midpoint 3, plus or minus half the width), `{#3}` (exactly 3), or several
`=`-led answers, each with an optional `%weight%` (100 when left out) and `#feedback`:
`{#=1200:0#Right. =%50%1200:60#Close. =%0%3000000:0#You multiplied.}`; `~#feedback` is
feedback for any other value. `interchange._numeric_question` settles them into the bank's
numeric question (the right answer, the partial band, the known mistakes; what has no
place is named in a warning). Numeric questions are exported the same way, in the order
Moodle tries answers: `=value:tolerance#rationale`, the partial band
`=%credit%value:band`, each known mistake `=%0%value:tolerance#rationale`. A relative
tolerance ("2%") is written as its absolute width around the answer, with a comment. GIFT
has no units: the unit is written in a comment, `// [unit:iterations]`, which Moodle
ignores and this reader takes back.

GIFT cannot carry: difficulty (imports are "medium"), source, cases (exports print the
case's title and scenario before the stem), option and choice ids, feedback on matching
pairs (so matching rationales are lost), relative tolerances (written as absolute),
templates (a template is written as one drawn instance, `common.one_instance`, with a
comment naming its values) and ordering questions (left out of exports with a comment).
A matching prompt cannot contain "->". Essay `{}`, short answer `{=a =b}` and description
(no answer block) questions are reported as skipped.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

from exam_service.bank.formats.common import (
    MAX_ANSWERS,
    MAX_QUESTIONS,
    Answer,
    Draft,
    Issue,
    NumericAnswer,
    Pair,
    Reading,
    carried_tags,
    case_stem,
    category_path,
    credit_text,
    dropped_note,
    multiple_grades,
    numeric_export,
    on_moodle_list,
    one_instance,
    read_number,
    slug,
    too_many_answers,
    too_many_questions,
)
from exam_service.bank.formats.html_text import html_to_text
from exam_service.bank.loader import ObjectiveSpec, QuestionSpec
from exam_service.grading import numeric

_SPECIAL = "~=#{}:"
_FORMAT = re.compile(r"\s*\[(html|moodle|plain|markdown)\]", re.IGNORECASE)
_WEIGHT = re.compile(r"\s*%(-?\d+(?:\.\d*)?)%")
_TAG = re.compile(r"\[tag:([^\[\]]+)\]")  # "[" stops a try: one pass over "[tag:[tag:..."
_UNIT = re.compile(r"\[unit:([^\[\]]+)\]")
_UNIT_TAG = "\0unit:"  # how _blocks hands a unit comment to the question, among its tags
_TRUE_FALSE = {"T": True, "TRUE": True, "F": False, "FALSE": False}


# --- reading ------------------------------------------------------------------------------


def _escaped(text: str, at: int, start: int) -> bool:
    """Whether a backslash escapes `text[at]`: an odd run of backslashes (after `start`,
    where reading began) stands right before it."""
    run = at
    while run > start and text[run - 1] == "\\":
        run -= 1
    return (at - run) % 2 == 1


def _find(text: str, target: str, start: int = 0) -> int:
    """The index of the first `target` at or after `start` that no backslash escapes.

    `str.find` does the scanning; each candidate looks back only over the backslashes
    right before it, so a search costs time linear in what it passes over."""
    at = text.find(target, start)
    while at >= 0 and _escaped(text, at, start):
        at = text.find(target, at + 1)
    return at


_MARKERS = {markers: re.compile(f"[{markers}]") for markers in ("=~", "=", "~")}


def _cuts(text: str, markers: str) -> list[int]:
    """The indexes of the unescaped marker characters ("=~", "=" or "~") in `text`."""
    found = _MARKERS[markers].finditer(text)
    return [m.start() for m in found if not _escaped(text, m.start(), 0)]


_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _unescaped(match: re.Match[str]) -> str:
    char = match[1]
    if char == "n":
        return "\n"
    return char if char in _SPECIAL or char == "\\" else match[0]


def unescape(raw: str) -> str:
    """GIFT text with its escapes undone: \\n is a line break, \\~ \\= \\# \\{ \\} \\:
    and \\\\ the character itself; any other backslash stays."""
    return _ESCAPE.sub(_unescaped, raw)


class _Question:
    """One block of a GIFT file being read: its text, line numbers and problems."""

    def __init__(self, lines: list[tuple[int, str]]) -> None:
        self.text = "\n".join(line for _, line in lines)
        self.numbers = [number for number, _ in lines]
        self.starts: list[int] = []
        offset = 0
        for _, line in lines:
            self.starts.append(offset)
            offset += len(line) + 1
        self.problems: list[tuple[int, str]] = []
        self.dropped: set[str] = set()
        self.html = False
        self.title: str | None = None

    def line(self, offset: int) -> int:
        return self.numbers[max(0, bisect.bisect_right(self.starts, offset) - 1)]

    def fail(self, offset: int, message: str) -> None:
        self.problems.append((self.line(offset), message))

    def plain(self, raw: str, html: bool | None = None, formatted: bool = True) -> str:
        """Text of a GIFT fragment, escapes undone; an answer's own [format] overrides."""
        as_html = self.html if html is None else html
        match = _FORMAT.match(raw) if formatted else None
        if match:
            as_html = match.group(1).lower() == "html"
            raw = raw[match.end() :]
        text = unescape(raw)
        if as_html:
            text, dropped = html_to_text(text)
            self.dropped |= dropped
        return text.strip()


class _Skip(Exception):
    pass


def _blocks(text: str) -> list[tuple[list[tuple[int, str]], list[str]]]:
    """The questions of a file: blank lines separate them; comments give only tags (a
    unit comment `// [unit:s]` is kept as the tag "\0unit:s" for the question to take)."""
    blocks: list[tuple[list[tuple[int, str]], list[str]]] = []
    lines: list[tuple[int, str]] = []
    tags: list[str] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            if lines or tags:
                blocks.append((lines, tags))
            lines, tags = [], []
        elif line.lstrip().startswith("//"):
            tags += [tag.strip() for tag in _TAG.findall(line) if tag.strip()]
            tags += [_UNIT_TAG + unit.strip() for unit in _UNIT.findall(line) if unit.strip()]
        else:
            lines.append((number, line))
    if lines or tags:
        blocks.append((lines, tags))
    return blocks


def _choice_answers(q: _Question, body: str, at: int) -> tuple[list[Answer], bool]:
    cuts = _cuts(body, "=~")
    if len(cuts) > MAX_ANSWERS:  # refused before any work on each of them
        q.fail(at, too_many_answers(len(cuts)))
        return [], True
    if body[: cuts[0]].strip():
        q.fail(at, "text before the first answer: start every answer with = (right) or ~ (wrong)")
    answers: list[Answer] = []
    for n, cut in enumerate(cuts, 1):
        end = cuts[n] if n < len(cuts) else len(body)
        raw = body[cut + 1 : end]
        credit = 100.0 if body[cut] == "=" else 0.0
        weight = _WEIGHT.match(raw)
        if weight:
            credit = float(weight.group(1))
            raw = raw[weight.end() :]
            if not -100 <= credit <= 100:
                q.fail(at + cut, f"answer {n} has weight {weight.group(1)}%: use -100 to 100")
        hash_at = _find(raw, "#")
        text = q.plain(raw if hash_at < 0 else raw[:hash_at])
        feedback = q.plain(raw[hash_at + 1 :]) if hash_at >= 0 else ""
        if not text:
            q.fail(at + cut, f"answer {n} is empty: write its text after {body[cut]}")
        answers.append(Answer(text, credit, feedback))
    return answers, "=" in (body[cut] for cut in cuts)


def _pairs(q: _Question, body: str, at: int) -> list[Pair]:
    cuts = _cuts(body, "=")
    if len(cuts) > MAX_ANSWERS:
        q.fail(at, too_many_answers(len(cuts), "pairs"))
        return []
    if body[: cuts[0]].strip():
        q.fail(at, "text before the first pair: start every pair with =")
    pairs: list[Pair] = []
    for n, cut in enumerate(cuts, 1):
        raw = body[cut + 1 : cuts[n] if n < len(cuts) else len(body)]
        arrow = _find(raw, "->")
        if arrow < 0:
            q.fail(at + cut, f"pair {n} has no '->': write =prompt -> answer")
            continue
        # Moodle keeps the answers of matching pairs as plain text, with no [format].
        choice = q.plain(raw[arrow + 2 :], html=False, formatted=False)
        if not choice:
            q.fail(at + cut, f"pair {n} has nothing after '->': write the answer it matches")
        pairs.append(Pair(q.plain(raw[:arrow]), choice))
    return pairs


def _true_false(q: _Question, body: str, at: int) -> list[Answer]:
    first = _find(body, "#")
    rest = "" if first < 0 else body[first + 1 :]
    second = _find(rest, "#")
    wrong = q.plain(rest if second < 0 else rest[:second])  # GIFT: {T#if wrong#if right}
    right = q.plain(rest[second + 1 :]) if second >= 0 else ""
    value = unescape(body if first < 0 else body[:first]).strip().upper()
    if value not in _TRUE_FALSE:
        q.fail(
            at,
            f"{{{value}}} is not an answer block GIFT knows: write =right ~wrong, T or F, "
            "or =prompt -> answer pairs",
        )
        return []
    truth = _TRUE_FALSE[value]
    return [
        Answer("True", 100.0 if truth else 0.0, right if truth else wrong),
        Answer("False", 0.0 if truth else 100.0, wrong if truth else right),
    ]


def _number(q: _Question, raw: str, at: int, what: str) -> numeric.Number | None:
    try:
        return read_number(unescape(raw))
    except ValueError as exc:
        q.fail(at, f"{what}: {exc}")
        return None


def _numbers(q: _Question, body: str, at: int) -> list[NumericAnswer]:
    """The answers of a numerical block `{#...}`, as Moodle's GIFT reader takes them:
    `value`, `value:tolerance` or `min..max` (the midpoint, half the width), each
    `=`-led with an optional `%weight%` (100 if left out) and `#feedback`; what precedes
    the first `=` is an answer too; `~#feedback` is the feedback for any other value."""
    start = body.index("#") + 1
    rest = body[start:]
    at += start
    tilde = _find(rest, "~")
    catch_all = rest[tilde + 1 :] if tilde >= 0 else None
    rest = rest if tilde < 0 else rest[:tilde]
    cuts = _cuts(rest, "=")
    if len(cuts) > MAX_ANSWERS:
        q.fail(at, too_many_answers(len(cuts)))
        return []
    bounds = [*cuts, len(rest)]
    pieces = [(at + cut + 1, rest[cut + 1 : bounds[n + 1]]) for n, cut in enumerate(cuts)]
    if not cuts or rest[: cuts[0]].strip():
        pieces.insert(0, (at, rest[: cuts[0]] if cuts else rest))
    answers: list[NumericAnswer] = []
    for n, (where, raw) in enumerate(pieces, 1):
        credit = 100.0
        weight = _WEIGHT.match(raw)
        if weight:
            credit = float(weight.group(1))
            raw = raw[weight.end() :]
            if not -100 <= credit <= 100:
                q.fail(where, f"answer {n} has weight {weight.group(1)}%: use 0 to 100")
        hash_at = _find(raw, "#")
        feedback = q.plain(raw[hash_at + 1 :]) if hash_at >= 0 else ""
        written = (raw if hash_at < 0 else raw[:hash_at]).strip()
        what = f"answer {n}"
        if not written:
            q.fail(where, f"{what} is empty: write value:tolerance (3:0.5) or min..max (1..5)")
            continue
        if written == "*":
            answers.append(NumericAnswer(None, 0, credit, feedback))
            continue
        low, dots, high = written.partition("..")
        value, colon, tolerance = written.partition(":")
        if dots:
            first, last = _number(q, low, where, what), _number(q, high, where, what)
            if first is None or last is None:
                continue
            if last < first:
                q.fail(where, f"{what}: the range {written} runs backwards: write min..max")
                continue
            middle = (numeric.exact(first) + numeric.exact(last)) / 2
            centre, width = numeric.stored(middle), numeric.stored(numeric.exact(last) - middle)
        else:
            found = _number(q, value, where, what)
            spread = _number(q, tolerance, where, f"{what}'s tolerance") if colon else 0
            if found is None or spread is None:
                continue
            if spread < 0:
                q.fail(where, f"{what}: the tolerance {spread} is negative: use 0 or more")
                continue
            centre, width = found, spread
        answers.append(NumericAnswer(centre, width, credit, feedback))
    if catch_all is not None:
        hash_at = _find(catch_all, "#")
        feedback = q.plain(catch_all[hash_at + 1 :]) if hash_at >= 0 else q.plain(catch_all)
        answers.append(NumericAnswer(None, 0, 0.0, feedback))
    return answers


def _question(q: _Question, category: str | None, tags: list[str]) -> Draft:
    """Read one question block; problems go to `q.problems`, unsupported types raise _Skip."""
    text = q.text
    start = len(text) - len(text.lstrip())
    title: str | None = None
    if text.startswith("::", start):
        end = _find(text, "::", start + 2)
        if end < 0:
            q.fail(start, "the title opened with '::' is not closed: end it with '::'")
            return Draft(where=f"line {q.line(0)}", line=q.line(0), stem="")
        title = q.title = unescape(text[start + 2 : end]).strip()
        start = end + 2
    draft = Draft(where=f"line {q.line(0)}", line=q.line(0), stem="", title=title)
    draft.category = category
    draft.tags = [tag for tag in tags if not tag.startswith(_UNIT_TAG)]
    units = [tag.removeprefix(_UNIT_TAG) for tag in tags if tag.startswith(_UNIT_TAG)]
    match = _FORMAT.match(text, start)
    if match:
        q.html = match.group(1).lower() == "html"
        start = match.end()
    opening = _find(text, "{", start)
    closing = _find(text, "}", start)
    if opening < 0:
        if closing >= 0:
            q.fail(closing, "'}' without '{': write a literal brace as \\}")
            return draft
        raise _Skip("a question with no answer block { } is a description, which is not supported")
    if 0 <= closing < opening:
        q.fail(closing, "'}' before the answer block: write a literal brace as \\}")
    closing = _find(text, "}", opening + 1)
    if closing < 0:
        q.fail(
            opening,
            "the answer block opened here is not closed: add '}' (a blank line ends a "
            "question, so remove blank lines inside { })",
        )
        return draft
    again = _find(text, "{", closing + 1)
    if again >= 0:
        q.fail(again, "a second answer block: a GIFT question has one { } (write \\{ for '{')")
    elif _find(text, "}", closing + 1) >= 0:
        q.fail(_find(text, "}", closing + 1), "'}' without '{': write a literal brace as \\}")
    before = q.plain(text[start:opening], formatted=False)
    after = q.plain(text[closing + 1 :], formatted=False)
    draft.stem = f"{before} _____ {after}".strip() if after else before

    block = text[opening + 1 : closing]
    general_at = _find(block, "####")
    body = block if general_at < 0 else block[:general_at]
    draft.explanation = q.plain(block[general_at + 4 :]) if general_at >= 0 else ""
    at = opening + 1
    if not body.strip():
        raise _Skip("an essay question ({ }) is not supported")
    numerical = body.strip().startswith("#")
    if units and not numerical:
        draft.notes.append("a // [unit:...] comment applies to numerical questions only: ignored")
    if numerical:
        draft.kind, draft.numbers = "numeric", _numbers(q, body, at)
        draft.unit = units[-1] if units else None
        if draft.unit is not None and len(draft.unit) > 20:
            draft.notes.append(f"the unit {draft.unit!r} is longer than 20 characters: not kept")
            draft.unit = None
    elif _cuts(body, "~"):
        draft.answers, draft.one_answer = _choice_answers(q, body, at)
    elif _cuts(body, "=") and _find(body, "->") >= 0:
        draft.kind, draft.pairs = "matching", _pairs(q, body, at)
    elif not _cuts(body, "="):
        draft.answers = _true_false(q, body, at)
    else:
        raise _Skip("a short-answer question ({=a =b}) is not supported")
    if not draft.stem:
        q.fail(0, "the question has no text before its answers: write the question")
    draft.notes += dropped_note(q.dropped, "the [html] text")
    return draft


def read(name: str, text: str) -> Reading:
    """Read a GIFT file; every problem is an Issue with its line."""
    reading = Reading()
    category: str | None = None
    count = 0
    for lines, tags in _blocks(text):
        if lines and lines[0][1].strip().startswith("$CATEGORY:"):
            category = lines[0][1].strip().removeprefix("$CATEGORY:").strip() or None
            lines = lines[1:]
        if not lines:
            continue
        count += 1
        if count > MAX_QUESTIONS:
            return Reading(errors=[too_many_questions(name, f"line {lines[0][0]}")])
        q = _Question(lines)
        try:
            draft = _question(q, category, tags)
        except _Skip as exc:
            who = slug(q.title or "") or None
            reading.skipped.append(Issue(name, f"line {q.line(0)}", f"skipped: {exc}", who))
            continue
        if q.problems:
            who = slug(q.title or "") or None
            reading.errors += [
                Issue(name, f"line {line}", message, who) for line, message in q.problems
            ]
        else:
            reading.drafts.append(draft)
    return reading


# --- writing ------------------------------------------------------------------------------


def escape(text: str) -> str:
    out = text.replace("\\", "\\\\")
    for char in _SPECIAL:
        out = out.replace(char, "\\" + char)
    return out.replace("\n", "\\n")


def _text(text: str) -> str:
    """Escaped text that no reader takes for a [format] or a %weight% prefix."""
    return ("[plain]" if _FORMAT.match(text) else "") + escape(text)


def _answer(marker: str, credit: str | None, text: str, rationale: str) -> str:
    if credit is None and _WEIGHT.match(text):
        credit = "100" if marker == "=" else "0"
    weight = f"%{credit}%" if credit is not None else ""
    feedback = f"#{_text(rationale)}" if rationale else ""
    return f"{marker}{weight}{_text(text)}{feedback}"


def _numeric_text(q: QuestionSpec) -> tuple[list[str], list[str]]:
    """A numeric question's comment lines and its `{#...}` block: the answer `=value:
    tolerance` with the rationale as feedback, the partial band `=%credit%value:band`, the
    known mistakes `=%0%value:tolerance#rationale`, in the order Moodle tries them."""
    number = numeric.number_text
    written = numeric_export(q)
    comments = [f"// {q.id}: {note}; GIFT tolerances are absolute" for note in written.notes]
    unit = written.unit
    if unit and ("[" in unit or "]" in unit):
        comments.append(f"// {q.id}: the unit is not written (it holds a bracket)")
    elif unit:
        comments.append(f"// [unit:{unit}] (read by exam_service only; Moodle has no unit in GIFT)")
    value = number(written.value)
    lines = [f"::{escape(q.id)}::{_text(case_stem(q))} {{#"]
    lines.append(_numeric_answer("100", value, written.tolerance, written.rationale))
    if written.partial is not None:
        band, credit = written.partial
        percent = credit_text(credit * 100)
        lines.append(_numeric_answer(percent, value, band, ""))
        if not on_moodle_list(credit * 100):
            comments.append(f"// {q.id}: {percent}% is not a grade Moodle's question form offers")
    for mistake, rationale in written.mistakes:
        lines.append(_numeric_answer("0", number(mistake), written.tolerance, rationale))
    return comments, lines


def _numeric_answer(credit: str, value: str, tolerance: numeric.Number, feedback: str) -> str:
    weight = "" if credit == "100" else f"%{credit}%"
    after = f"#{_text(feedback)}" if feedback else ""
    return f"={weight}{value}:{numeric.number_text(tolerance)}{after}"


def _question_text(q: QuestionSpec) -> list[str]:
    lines = [f"::{escape(q.id)}::{_text(case_stem(q))} {{"]
    content = q.content
    comments: list[str] = []  # a numeric question's, before its title
    if q.type == "numeric":
        comments, lines = _numeric_text(q)
    elif q.type == "matching":
        choices = {c["id"]: c["text"] for c in content["choices"]}
        matched = set(content["key"].values())
        lines += [
            f"={_text(p['text'])} -> {escape(choices[content['key'][p['id']]])}"
            for p in content["prompts"]
        ]
        lines += [f"= -> {escape(text)}" for cid, text in choices.items() if cid not in matched]
    elif q.type == "multiple":  # every answer weighted: the right share 100, the wrong -100
        grades = multiple_grades(q) or []
        for option, grade in zip(content["options"], grades, strict=True):
            credit = credit_text(float(grade))
            lines.append(_answer("~", credit, option["text"], option["rationale"]))
    else:
        key = set(content["key"])
        for option in content["options"]:
            marker = "=" if option["id"] in key else "~"
            lines.append(_answer(marker, None, option["text"], option["rationale"]))
    if content["explanation"]:
        lines.append(f"####{_text(content['explanation'])}")
    return [*comments, *lines, "}"]


def export(questions: Sequence[QuestionSpec], objectives: Sequence[ObjectiveSpec]) -> str:
    """The questions as GIFT, grouped under `$CATEGORY:` lines as they come."""
    out = [
        "// Exported by exam_service. GIFT carries no difficulty, source or ordering questions;",
        "// a case is printed before its questions' stems. Numeric tolerances are absolute.",
        "",
    ]
    category: str | None = None
    for template in questions:
        q, drawn = one_instance(template)
        if q.type == "ordering":
            out += [f"// {q.id}: left out, GIFT has no ordering questions", ""]
            continue
        if q.type == "multiple" and multiple_grades(q) is None:
            out += [f"// {q.id}: left out, Moodle's grades share 100% among 20 answers at most", ""]
            continue
        path = category_path(q.objectives[0], objectives)
        if path != category:
            out += [f"$CATEGORY: {path}", ""]
            category = path
        tags = [f"// [tag:{tag.replace(']', '')}]" for tag in carried_tags(q)]
        notes = [f"// {q.id}: {drawn}"] if drawn else []
        out += [*tags, *notes, *_question_text(q), ""]
    return "\n".join(out)
