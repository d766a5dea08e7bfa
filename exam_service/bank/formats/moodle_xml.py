"""Moodle XML: read a quiz export into drafts, write questions to it.

Reading goes only through defusedxml with DTDs forbidden: a file with any <!DOCTYPE> is
refused, so no entity tricks reach the parser. Problems name their element path, e.g.
`question[3] (multichoice "Name")/answer[2]` (questions counted from 1, categories too).

Moodle XML carries: the name (the question id), the stem, multichoice answers with
fractions (`<single>` true: the one 100% answer is the key; false: every answer with a
positive fraction is right) and per-answer feedback (the rationale), truefalse, matching
(`<subquestion>`; one with empty text adds a distractor choice), general feedback (the
explanation), categories (`<question type="category">`, exported as the primary
objective's path `$course$/top/<exam>/.../<code>`) and `<tags>` (exported for secondary
objectives and the question's tags). HTML text (formats html and moodle_auto_format) is
made plain (`html_text.py`): tags stripped, <br> and <p> become line breaks, entities
decoded; runs of spaces collapse as in a browser. plain_text and markdown text, and the
answers of matching pairs, are kept as written.

Exports of `multiple` questions grade every answer as Moodle needs it: the right answers
share 100% and the wrong ones -100%, each a grade from Moodle's fixed list
(`common.multiple_grades`), so that ticking every box scores 0. A fraction that is not on
the list makes Moodle refuse the question on import; one of 0 for a wrong answer would
give full marks for ticking them all.

Numerical questions (`type="numerical"`): each `<answer>` is a number (or `*`, any other
value) with its `fraction`, an absolute `<tolerance>` and `<feedback>`;
`interchange._numeric_question` settles them into the bank's numeric question (the right
answer, the partial band, the known mistakes; what has no place is named in a warning).
Of `<units>`, the unit of multiplier 1 is the question's; others are named as dropped, and
so is unit grading (here typing the unit is always optional). Exports write the answer
(fraction 100, the rationale as feedback), the partial band, each known mistake (fraction
0, its rationale as feedback), in the order Moodle tries them, and the unit with
`unitgradingtype` 0; a relative tolerance ("2%") is written as its absolute width around
the answer, with a comment.

Moodle XML cannot carry: difficulty (imports are "medium"), source, cases (exports print
the case's title and scenario before the stem), option and choice ids, feedback on
matching pairs (matching rationales are lost), relative tolerances (written as absolute),
templates (a template is written as one drawn instance, `common.one_instance`, with a
comment naming its values), pictures and other media (<img> and the like in HTML,
`<file>` attachments and the old `<image>`: dropped, each named in a warning) and
ordering questions (left out of exports, with a comment). Every other question type
(essay, shortanswer, cloze/multianswer, description, calculated, drag and drop,
random...) is reported as skipped.
"""

from __future__ import annotations

import html
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from fractions import Fraction

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from exam_service.bank.formats.common import (
    FULL_CREDIT,
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
    shorten,
    slug,
    text_paragraphs,
    too_many_answers,
    too_many_questions,
    xml_safe,
)
from exam_service.bank.formats.html_text import html_to_text
from exam_service.bank.loader import ObjectiveSpec, QuestionSpec
from exam_service.grading import numeric

SUPPORTED = ("multichoice", "truefalse", "matching", "numerical")
_PLAIN_FORMATS = ("plain_text", "markdown")


# --- reading ------------------------------------------------------------------------------


def _inner_html(node: ET.Element) -> str:
    """The HTML in a <text>: its own text is HTML source (escaped or CDATA in the file), and
    HTML written as XML elements is written back as tags (without attributes, which plain
    text does not need) around their escaped text. Built with a stack, not recursion: the
    elements may nest as deep as the file is long."""
    parts = [node.text or ""]
    stack: list[tuple[ET.Element, Iterator[ET.Element]]] = [(node, iter(node))]
    while stack:
        parent, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if stack:
                parts.append(f"</{parent.tag}>{html.escape(parent.tail or '', quote=False)}")
            continue
        parts.append(f"<{child.tag}>{html.escape(child.text or '', quote=False)}")
        stack.append((child, iter(child)))
    return "".join(parts)


class _Question:
    """One <question> being read: its path for messages and the problems found."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.problems: list[tuple[str, str]] = []
        self.dropped: set[str] = set()
        self.attachments: list[str] = []  # <file> and <image> elements: not imported

    def fail(self, path: str, message: str) -> None:
        self.problems.append((f"{self.label}/{path}" if path else self.label, message))

    def text(self, element: ET.Element | None, plain: bool = False) -> str:
        """The text of a Moodle text field (<questiontext>, <answer>...) as plain text."""
        if element is None:
            return ""
        for attached in element.findall("file"):
            named = shorten(attached.get("name") or "", 60)
            self.attachments.append(f'<file name="{named}"> in <{element.tag}>')
        node = element.find("text")
        if node is None:
            return ""
        if plain or element.get("format", "html") in _PLAIN_FORMATS:
            return "".join(node.itertext()).strip()
        text, dropped = html_to_text(_inner_html(node))
        self.dropped |= dropped
        return text


def _field(element: ET.Element, tag: str) -> str:
    """The text of a simple child such as <single>true</single>, or of <name><text>."""
    child = element.find(tag)
    if child is None:
        return ""
    inner = child.find("text")
    return "".join((inner if inner is not None else child).itertext()).strip()


def _answers(q: _Question, element: ET.Element) -> list[tuple[str, float, str]]:
    """(text, fraction, feedback) of each <answer>."""
    found: list[tuple[str, float, str]] = []
    answers = element.findall("answer")
    if len(answers) > MAX_ANSWERS:  # refused before any work on each of them
        q.fail("", too_many_answers(len(answers)))
        return found
    for n, answer in enumerate(answers, 1):
        raw = answer.get("fraction", "0")
        try:
            fraction = float(raw)
        except ValueError:
            fraction = math.nan
        if not math.isfinite(fraction) or not -100 <= fraction <= 100:
            q.fail(f"answer[{n}]", f'fraction="{raw}" is not a percentage: use -100 to 100')
            continue
        text = q.text(answer)
        if not text:
            q.fail(
                f"answer[{n}]", "the answer has no text: write it in <text> (images are dropped)"
            )
        found.append((text, fraction, q.text(answer.find("feedback"))))
    if not found and not q.problems:
        q.fail("", "no <answer> elements: add the answers")
    return found


def _multichoice(q: _Question, element: ET.Element, draft: Draft) -> None:
    single = _field(element, "single").lower() or "true"
    draft.one_answer = single in ("true", "1", "yes")
    draft.answers = [Answer(t, f, fb) for t, f, fb in _answers(q, element)]


def _truefalse(q: _Question, element: ET.Element, draft: Draft) -> None:
    by_value: dict[str, tuple[float, str]] = {}
    for text, fraction, feedback in _answers(q, element):
        by_value[text.strip().lower()] = (fraction, feedback)
    if set(by_value) != {"true", "false"}:
        if not q.problems:
            q.fail("answer", 'a true/false question has two answers, "true" and "false"')
        return
    right = [value for value, (fraction, _) in by_value.items() if fraction >= FULL_CREDIT]
    if len(right) != 1:
        q.fail("answer", 'give exactly one of "true" and "false" fraction="100"')
        return
    draft.answers = [
        Answer(value.title(), 100.0 if value in right else 0.0, by_value[value][1])
        for value in ("true", "false")
    ]


def _matching(q: _Question, element: ET.Element, draft: Draft) -> None:
    draft.kind = "matching"
    subquestions = element.findall("subquestion")
    if not subquestions:
        q.fail("", "no <subquestion> elements: add the pairs to match")
    if len(subquestions) > MAX_ANSWERS:
        q.fail("", too_many_answers(len(subquestions), "pairs"))
        return
    for n, sub in enumerate(subquestions, 1):
        choice = q.text(sub.find("answer"), plain=True)
        if not choice:
            q.fail(f"subquestion[{n}]/answer", "no answer: write the matching choice in <text>")
            continue
        draft.pairs.append(Pair(q.text(sub), choice))


def _numerical(q: _Question, element: ET.Element, draft: Draft) -> None:
    """A numerical question: each <answer> a number (or "*", any other value) with its
    fraction, absolute <tolerance> and feedback; the unit of multiplier 1 from <units>."""
    draft.kind = "numeric"
    answers = element.findall("answer")
    if len(answers) > MAX_ANSWERS:
        q.fail("", too_many_answers(len(answers)))
        return
    if not answers:
        q.fail("", "no <answer> elements: add the right answer with its <tolerance>")
    for n, answer in enumerate(answers, 1):
        where = f"answer[{n}]"
        raw = answer.get("fraction", "0")
        try:
            fraction = float(raw)
        except ValueError:
            fraction = math.nan
        if not math.isfinite(fraction) or not -100 <= fraction <= 100:
            q.fail(where, f'fraction="{raw}" is not a percentage: use 0 to 100')
            continue
        written = q.text(answer, plain=True)
        feedback = q.text(answer.find("feedback"))
        if written == "*":
            draft.numbers.append(NumericAnswer(None, 0, fraction, feedback))
            continue
        try:
            value = read_number(written)
        except ValueError as exc:
            wildcard = " (or * for any other value)" if "not a number" in str(exc) else ""
            q.fail(where, f"{exc}{wildcard}" if written else "no number in <text>: write one")
            continue
        spread = _field(answer, "tolerance") or "0"
        try:
            tolerance = read_number(spread)
        except ValueError as exc:
            q.fail(f"{where}/tolerance", str(exc))
            continue
        if tolerance < 0:
            q.fail(f"{where}/tolerance", f"the tolerance {spread} is negative: use 0 or more")
            continue
        draft.numbers.append(NumericAnswer(value, tolerance, fraction, feedback))
    _units(element, draft)


def _units(element: ET.Element, draft: Draft) -> None:
    """The unit of multiplier 1 becomes the question's; the others are named as dropped."""
    units = element.find("units")
    found = [] if units is None else units.findall("unit")
    dropped: list[str] = []
    for unit in found:
        name = _field(unit, "unit_name")
        multiplier = _field(unit, "multiplier") or "1"
        try:
            base = float(multiplier) == 1
        except ValueError:
            base = False
        if base and draft.unit is None and name and len(name) <= 20:
            draft.unit = name
        elif name:
            dropped.append(f"{shorten(name, 30)} (multiplier {shorten(multiplier, 20)})")
    if dropped:
        kept = f"answers are in {draft.unit}" if draft.unit else "the question has no unit"
        draft.notes.append(
            f"unit(s) {', '.join(dropped)} not kept: the bank takes one unit, the answer's "
            f"own (multiplier 1, at most 20 characters); {kept}"
        )
    grading = _field(element, "unitgradingtype")
    if draft.unit and grading not in ("", "0"):
        draft.notes.append(
            f"Moodle graded the unit (unitgradingtype {shorten(grading, 10)}): here typing "
            "the unit is optional and never costs marks"
        )


def _question(
    q: _Question, element: ET.Element, kind: str, name: str, category: str | None
) -> Draft:
    draft = Draft(where=q.label, line=0, stem="", title=name or None, category=category)
    draft.stem = q.text(element.find("questiontext"))
    if not draft.stem:
        q.fail("questiontext", "no question text: write it in <questiontext><text>")
    draft.explanation = q.text(element.find("generalfeedback"))
    tags = element.find("tags")
    if tags is not None:
        draft.tags = [t for t in (_field(tag, "text") for tag in tags.findall("tag")) if t]
    if kind == "multichoice":
        _multichoice(q, element, draft)
    elif kind == "truefalse":
        _truefalse(q, element, draft)
    elif kind == "numerical":
        _numerical(q, element, draft)
    else:
        _matching(q, element, draft)
    draft.notes += dropped_note(q.dropped, "the HTML")
    for old_style in ("image", "image_base64"):  # Moodle 1.x kept a question's picture here
        if _field(element, old_style):
            q.attachments.append(f"<{old_style}>")
    if q.attachments:
        draft.notes.append(
            f"not imported: {', '.join(dict.fromkeys(q.attachments))} (the bank keeps no "
            "attachments or pictures); if the question needs the picture, describe it in "
            "the text"
        )
    return draft


def read(name: str, text: str) -> Reading:
    """Read a Moodle XML file; every problem is an Issue with its element path."""
    reading = Reading()
    try:
        root = fromstring(text, forbid_dtd=True)
    except DefusedXmlException:
        reading.errors.append(
            Issue(
                name,
                "document",
                "the file declares a DTD or entities, which are refused for safety: remove "
                "the <!DOCTYPE ...> (Moodle's own exports have none)",
            )
        )
        return reading
    except ET.ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(": line ")[0]
        reading.errors.append(
            Issue(
                name,
                f"line {line}, column {column + 1}",
                f"not well-formed XML ({reason}): fix the markup; HTML belongs inside "
                "<![CDATA[ ... ]]> or escaped (&lt;p&gt;)",
            )
        )
        return reading
    if root.tag != "quiz":
        reading.errors.append(
            Issue(name, str(root.tag), f"the root element is <{root.tag}>: Moodle XML has <quiz>")
        )
        return reading
    category: str | None = None
    number = questions = 0
    for element in root:
        if element.tag != "question":
            reading.warnings.append(
                Issue(name, f"<{element.tag}>", "ignored: a quiz file holds <question> elements")
            )
            continue
        number += 1
        kind = element.get("type", "")
        title = _field(element, "name")
        shown = f'"{shorten(title)}"' if title else ""  # the label is in each of its issues
        described = " ".join(part for part in (kind, shown) if part)
        label = f"question[{number}] ({described})" if described else f"question[{number}]"
        who = slug(title) or None
        if kind == "category":
            category = _field(element, "category") or None
            continue
        questions += 1
        if questions > MAX_QUESTIONS:
            return Reading(errors=[too_many_questions(name, label)])
        if kind in SUPPORTED:
            q = _Question(label)
            draft = _question(q, element, kind, title, category)
            if q.problems:
                reading.errors += [Issue(name, where, msg, who) for where, msg in q.problems]
            else:
                reading.drafts.append(draft)
        elif not kind:
            reading.errors.append(
                Issue(
                    name,
                    label,
                    'no type: add type="multichoice", "truefalse", "matching" or "numerical"',
                )
            )
        else:
            reading.skipped.append(
                Issue(
                    name,
                    label,
                    f"skipped: {kind} questions are not supported "
                    "(multichoice, truefalse, matching and numerical are)",
                    who,
                )
            )
    return reading


# --- writing ------------------------------------------------------------------------------


def _html(text: str) -> str:
    """Plain text as the HTML Moodle shows: a <p> per paragraph, <br> between its lines."""
    return "".join(
        "<p>" + "<br>".join(html.escape(line, quote=False) for line in lines) + "</p>"
        for lines in text_paragraphs(text)
    )


def _text_field(parent: ET.Element, tag: str, text: str, rich: bool = True) -> ET.Element:
    element = ET.SubElement(parent, tag, {"format": "html"} if rich else {})
    ET.SubElement(element, "text").text = xml_safe(_html(text) if rich else text)
    return element


def _simple(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def _comment(parent: ET.Element, text: str) -> None:
    parent.append(ET.Comment(" " + xml_safe(text).replace("--", "- -") + " "))


_TYPES = {"matching": "matching", "numeric": "numerical"}


def _numeric_notes(q: QuestionSpec) -> list[str]:
    """What writing a numeric question to Moodle XML changes, for a comment before it."""
    written = numeric_export(q)
    notes = [f"{q.id}: {note}; Moodle's tolerances are absolute" for note in written.notes]
    if written.partial is not None and not on_moodle_list(written.partial[1] * 100):
        percent = credit_text(written.partial[1] * 100)
        notes.append(f"{q.id}: {percent}% is not a grade Moodle's question form offers")
    return notes


def _numeric_answers(element: ET.Element, q: QuestionSpec) -> None:
    """The answer with its tolerance and the rationale, the partial band, the known
    mistakes (fraction 0, the rationale as feedback), in the order Moodle tries them;
    then the unit, typed optionally (unitgradingtype 0) after the number."""
    written = numeric_export(q)
    value = numeric.number_text(written.value)
    answers = [(Fraction(100), value, written.tolerance, written.rationale)]
    if written.partial is not None:
        band, credit = written.partial
        answers.append((Fraction(credit * 100), value, band, ""))
    answers += [
        (Fraction(0), numeric.number_text(mistake), written.tolerance, rationale)
        for mistake, rationale in written.mistakes
    ]
    for grade, number, tolerance, feedback in answers:
        answer = ET.SubElement(
            element,
            "answer",
            {"fraction": credit_text(float(grade)), "format": "moodle_auto_format"},
        )
        _simple(answer, "text", number)
        _text_field(answer, "feedback", feedback)
        _simple(answer, "tolerance", numeric.number_text(tolerance))
    _simple(element, "unitgradingtype", "0")
    _simple(element, "unitpenalty", "0.1000000")
    _simple(element, "showunits", "0" if written.unit else "3")
    _simple(element, "unitsleft", "0")
    if written.unit:
        unit = ET.SubElement(ET.SubElement(element, "units"), "unit")
        _simple(unit, "multiplier", "1")
        _simple(unit, "unit_name", xml_safe(written.unit))


def _question_element(q: QuestionSpec) -> ET.Element:
    content = q.content
    element = ET.Element("question", {"type": _TYPES.get(q.type, "multichoice")})
    _simple(ET.SubElement(element, "name"), "text", q.id)
    _text_field(element, "questiontext", case_stem(q))
    _text_field(element, "generalfeedback", content["explanation"])
    _simple(element, "defaultgrade", "1")
    _simple(element, "penalty", "0.3333333")
    _simple(element, "hidden", "0")
    _simple(element, "idnumber", q.id)
    if q.type == "numeric":
        _numeric_answers(element, q)
    elif q.type == "matching":
        _simple(element, "shuffleanswers", "true")
        choices = {c["id"]: c["text"] for c in content["choices"]}
        matched = set(content["key"].values())
        for prompt in content["prompts"]:
            sub = _text_field(element, "subquestion", prompt["text"])
            _text_field(sub, "answer", choices[content["key"][prompt["id"]]], rich=False)
        for cid, text in choices.items():
            if cid not in matched:
                sub = ET.SubElement(element, "subquestion", {"format": "html"})
                _simple(sub, "text", "")
                _text_field(sub, "answer", text, rich=False)
    else:
        key = set(content["key"])
        grades = multiple_grades(q) if q.type == "multiple" else None
        if grades is None:  # single: the key 100, the others 0
            grades = [Fraction(100 if o["id"] in key else 0) for o in content["options"]]
        _simple(element, "single", "true" if q.type == "single" else "false")
        _simple(element, "shuffleanswers", "true")
        _simple(element, "answernumbering", "abc")
        for option, grade in zip(content["options"], grades, strict=True):
            answer = _text_field(element, "answer", option["text"])
            answer.set("fraction", credit_text(float(grade)))
            _text_field(answer, "feedback", option["rationale"])
    tags = carried_tags(q)
    if tags:
        holder = ET.SubElement(element, "tags")
        for tag in tags:
            _simple(ET.SubElement(holder, "tag"), "text", xml_safe(tag))
    return element


def export(questions: Sequence[QuestionSpec], objectives: Sequence[ObjectiveSpec]) -> bytes:
    """The questions as a Moodle XML quiz, each after its primary objective's category."""
    quiz = ET.Element("quiz")
    _comment(
        quiz,
        "Exported by exam_service. Moodle XML carries no difficulty, source or ordering "
        "questions; a case is printed before its questions' stems.",
    )
    category: str | None = None
    for template in questions:
        q, drawn = one_instance(template)
        if q.type == "ordering":
            _comment(quiz, f"{q.id}: left out, Moodle XML has no ordering questions")
            continue
        if q.type == "multiple" and multiple_grades(q) is None:
            _comment(quiz, f"{q.id}: left out, Moodle's grades share 100% among 20 answers at most")
            continue
        path = category_path(q.objectives[0], objectives)
        if path != category:
            holder = ET.SubElement(quiz, "question", {"type": "category"})
            _simple(ET.SubElement(holder, "category"), "text", xml_safe(path))
            category = path
        if drawn:
            _comment(quiz, f"{q.id}: {drawn}")
        if q.type == "numeric":
            for note in _numeric_notes(q):
                _comment(quiz, note)
        quiz.append(_question_element(q))
    ET.indent(quiz)
    body = ET.tostring(quiz, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode()
