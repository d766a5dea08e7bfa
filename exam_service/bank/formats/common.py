"""What every quiz format module shares: the draft a file is read into, located issues,
and the text helpers (HTML to plain text, categories, slugs, credits, XML-safe text).

Pure: no database, no web framework; the format modules (`gift`, `aiken`, `moodle_xml`,
`qti`, `yaml_export`) import this module and nothing of each other, and
`bank/interchange.py` settles drafts into questions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser

from exam_service.bank.loader import ObjectiveSpec, QuestionSpec

FULL_CREDIT = 99.99  # Moodle writes one third as 33.33333; full credit is 100 give or take


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
    kind: str = "choice"  # "choice" (answers) or "matching" (pairs)
    answers: list[Answer] = field(default_factory=list)
    one_answer: bool = True
    pairs: list[Pair] = field(default_factory=list)
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


_BLOCK_TAGS = frozenset(
    {"p", "div", "blockquote", "pre", "hr", "address", "section", "article", "header", "footer"}
    | {"ul", "ol", "dl", "dt", "dd", "table", "tr", "figure", "figcaption"}
    | {f"h{level}" for level in range(1, 7)}
)


_HIDDEN_TAGS = frozenset({"script", "style", "template", "head", "title"})


_MEDIA_TAGS = frozenset({"img", "video", "audio", "iframe", "object", "embed", "svg", "math"})


_CUT_OFF_TAG = re.compile(r"<[A-Za-z!/?][^>]*\Z")


_SPACES = re.compile(r"[ \t\n\r\f]+")  # HTML's whitespace: ASCII only, so &nbsp; survives


class _PlainText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.dropped: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
        elif tag in _MEDIA_TAGS:
            self.dropped.add(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HIDDEN_TAGS:  # <script/> opens nothing
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(_SPACES.sub(" ", data))

    def parse_marked_section(self, i: int, report: int = 1) -> int:
        # The standard library raises AssertionError on a marked section it does not know
        # ("<![foo ...]>"); browsers ignore those, and so do we, up to "]>" or else ">".
        end = self.rawdata.find("]>", i + 3)
        if end >= 0:
            return end + 2
        end = self.rawdata.find(">", i + 3)
        return -1 if end < 0 else end + 1


def html_to_text(html: str) -> tuple[str, set[str]]:
    """Plain text of an HTML fragment, and the media tags (img, video...) it dropped.

    Tags are stripped, <br> becomes a line break, block elements (<p>, <div>, lists...)
    paragraph breaks, entities are decoded, script and style content is dropped, and runs
    of spaces collapse as a browser would show them. The result holds no markup.
    """
    parser = _PlainText()
    # A tag or comment cut off by the end of the text is dropped, as a browser drops it.
    parser.feed(_CUT_OFF_TAG.sub("", html))
    parser.close()
    lines = [line.strip(" ").replace("\xa0", " ") for line in "".join(parser.parts).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return text.strip(), parser.dropped


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


def unique(base: str, used: set[str], limit: int = 100) -> str:
    candidate, number = base, 1
    while candidate in used:
        number += 1
        suffix = f"-{number}"
        candidate = base[: limit - len(suffix)].rstrip("-") + suffix
    used.add(candidate)
    return candidate
