"""Aiken, the simplest quiz text format: read only.

A question is its text (one or more lines), then its options, one per line as `A. text`
or `A) text`, then `ANSWER: A`. Blank lines between questions are optional. As in Moodle,
the space after the letter may be left out (`A)text`); such a line is an option when it
follows another option or, lettered A, the question's text.

Aiken carries: the stem, the options in order, and the one right answer (a `single`
question). It cannot carry: a name (ids are `imported-` + a hash of the stem), feedback
(rationales and explanations are empty, with a warning), several right answers, matching
or ordering, categories or tags (pass a default objective), difficulty, source and cases.
There is no Aiken export: it would lose everything but the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from exam_service.bank.formats.common import (
    MAX_QUESTIONS,
    Answer,
    Draft,
    Issue,
    Reading,
    shorten,
    too_many_questions,
)

_OPTION = re.compile(r"([A-Z])[.)](?:[ \t]+(.*))?$")
_TIGHT_OPTION = re.compile(r"([A-Z])[.)](\S.*)$")  # "A)text", as Moodle also reads it
_ANSWER = re.compile(r"ANSWER[ \t]*:[ \t]*(.*)$", re.IGNORECASE)
_LETTERS = re.compile(r"[A-Z ,;\t]+")


@dataclass
class _Pending:
    """The question being read: its stem lines and its options with their lines."""

    line: int = 0
    last: int = 0  # the line of the stem's last line
    stem: list[str] = field(default_factory=list)
    options: list[tuple[str, str, int]] = field(default_factory=list)
    orphan: bool = False  # options with no question before them: already reported


def _finish(name: str, q: _Pending, value: str, line: int, reading: Reading) -> None:
    def error(at: int, message: str) -> None:
        reading.errors.append(Issue(name, f"line {at}", message))

    if q.orphan:
        return
    if not q.stem:
        error(line, "'ANSWER:' with no question before it: write the question and its options")
        return
    if not q.options:
        read_as = ""
        if len(q.stem) > 1:
            read_as = f" (lines {q.line}-{q.last} were all read as the question's text)"
        error(
            line,
            f"no options before 'ANSWER:'{read_as}: write each option on its own line as "
            "'A. text' or 'A) text', with a capital letter",
        )
        return
    letters = [letter for letter, _, _ in q.options]
    failed = False
    seen: set[str] = set()
    for letter, text, at in q.options:
        if letter in seen:
            error(at, f"option letter {letter} is used twice: letter the options A, B, C...")
            failed = True
        seen.add(letter)
        if not text:
            error(at, f"option {letter} is empty: write its text after '{letter}.'")
            failed = True
    answer = value.strip().upper()
    if _LETTERS.fullmatch(answer) and len(re.sub(r"[ ,;\t]", "", answer)) > 1:
        error(
            line,
            "Aiken has one right answer per question: keep one letter, or use GIFT or "
            "Moodle XML for several right answers",
        )
        failed = True
    elif not re.fullmatch(r"[A-Z]", answer):
        error(
            line,
            f"'ANSWER: {shorten(value)}' does not name an option: write one letter, "
            "e.g. 'ANSWER: B'",
        )
        failed = True
    elif answer not in letters:
        error(
            line,
            f"'ANSWER: {answer}' names no option: the options are {', '.join(letters)}",
        )
        failed = True
    if failed:
        return
    reading.drafts.append(
        Draft(
            where=f"line {q.line}",
            line=q.line,
            stem="\n".join(q.stem),
            answers=[
                Answer(text, 100.0 if letter == answer else 0.0) for letter, text, _ in q.options
            ],
        )
    )


def read(name: str, text: str) -> Reading:
    """Read an Aiken file; every problem is an Issue with its line."""
    reading = Reading()
    q = _Pending()
    count = 0

    def unanswered() -> None:
        if not q.orphan:
            reading.errors.append(
                Issue(
                    name,
                    f"line {q.line}",
                    "no 'ANSWER:' line after this question's options: add one, e.g. 'ANSWER: A'",
                )
            )

    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line:
            continue
        answer = _ANSWER.match(line)
        option = _OPTION.match(line)
        if not option and (q.options or q.stem):
            tight = _TIGHT_OPTION.match(line)
            option = tight if tight and (q.options or tight.group(1) == "A") else None
        if answer:
            _finish(name, q, answer.group(1), number, reading)
            q = _Pending()
        elif option and (q.stem or q.orphan):
            q.options.append((option.group(1), (option.group(2) or "").strip(), number))
        elif option:
            reading.errors.append(
                Issue(
                    name,
                    f"line {number}",
                    "an option with no question before it: write the question's text first",
                )
            )
            q = _Pending(line=number, orphan=True)
            q.options.append((option.group(1), "", number))
        else:
            if q.options:
                unanswered()
                q = _Pending()
            if not q.stem:
                q.line = number
                count += 1
                if count > MAX_QUESTIONS:
                    return Reading(errors=[too_many_questions(name, f"line {number}")])
            q.stem.append(line)
            q.last = number
    if q.options:
        unanswered()
    elif q.stem:
        reading.errors.append(
            Issue(
                name,
                f"line {q.line}",
                "a question with no options and no 'ANSWER:' line: add its options and answer",
            )
        )
    return reading
