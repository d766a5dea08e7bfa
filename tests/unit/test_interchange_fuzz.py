"""Hypothesis: the importers take arbitrary text and arbitrary XML without raising, every
problem being an Issue with a place; GIFT and YAML exports keep arbitrary text exactly."""

from __future__ import annotations

import re
from xml.sax.saxutils import escape as xml_escape

from hypothesis import given, settings
from hypothesis import strategies as st

from exam_service.bank.formats.common import Issue
from exam_service.bank.formats.html_text import html_to_text
from exam_service.bank.interchange import ParsedImport, export_bank, parse_import
from exam_service.bank.loader import QuestionSpec, load_bank
from tests.conftest import FIXTURE_BANK
from tests.unit.test_interchange_export import carried, make_question
from tests.unit.test_interchange_hostile import SEEDS, grow

OBJECTIVES = load_bank(FIXTURE_BANK).objectives
SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
FUZZ = settings(max_examples=200, deadline=None)


def assert_reported(result: ParsedImport) -> None:
    """Nothing escaped as an exception: every problem has a file, a place and a message."""
    for issue in [*result.errors, *result.skipped, *result.warnings]:
        assert isinstance(issue, Issue)
        assert issue.file and issue.where and issue.message
    for spec in result.specs:
        assert SLUG.match(spec.id) and len(spec.id) <= 100
        assert spec.objectives and spec.stem


# --- arbitrary input ----------------------------------------------------------------------

# fmt: off
GIFT_PIECES = st.sampled_from([
    "::", "{", "}", "=", "~", "#", "####", "->", "%50%", "%-100%", "%x%", "\\", "\\:", "\\n",
    "\n", "\n\n", "// [tag:D2.1.1]\n", "$CATEGORY: a/D2.1.2\n", "[html]", "[markdown]", "T",
    "FALSE", "<b>", "&amp;", "<img>", " ", "a", "Q?", "ANSWER: A\n", "A. x\n", "B) y\n",
    "questions:\n", "  - id: x\n", "cases: 1\n", "- [", "2001-13-45",
    # hostile: tags cut off, comments and quotes never closed, tag comments never closed
    "<a<a<a", "<!--<!--", "<a b='", "// [tag:[tag:", "A)tight\n", "ANSWER: A   B!\n",
])
# fmt: on
SHORT = st.text(max_size=8)
GIFT_QUESTIONS = st.builds(
    lambda title, stem, answers, general: f"::{title}::{stem}{{{''.join(answers)}{general}}}\n\n",
    SHORT,
    SHORT,
    st.lists(
        st.builds(
            "".join,
            st.tuples(
                st.sampled_from(["=", "~", "~%50%", "~%-25%", "=%100%", "="]),
                SHORT,
                st.sampled_from(["", " -> ", "#"]),
                SHORT,
            ),
        ),
        max_size=5,
    ),
    st.sampled_from(["", "####", "####why"]),
)
AIKEN_QUESTIONS = st.builds(
    lambda stem, options, answer: f"{stem}\n{''.join(options)}ANSWER: {answer}\n\n",
    SHORT,
    st.lists(st.builds(lambda letter, text: f"{letter}. {text}\n", st.sampled_from("ABC"), SHORT)),
    st.sampled_from(["A", "B", "C", "a", "A, B", ""]),
)
TEXTS = st.one_of(
    st.text(),
    st.lists(GIFT_PIECES | st.text(max_size=3)).map("".join),
    st.lists(GIFT_QUESTIONS | AIKEN_QUESTIONS | GIFT_PIECES, max_size=6).map("".join),
)
FORMATS = st.sampled_from([None, "gift", "aiken", "moodle-xml", "yaml"])


@FUZZ
@given(text=TEXTS, fmt=FORMATS, default=st.sampled_from([None, "D2.1.1"]))
def test_arbitrary_text_is_imported_or_reported(
    text: str, fmt: str | None, default: str | None
) -> None:
    assert_reported(parse_import("upload", text.encode(), fmt, OBJECTIVES, None, default))


@FUZZ
@given(data=st.binary(), fmt=FORMATS)
def test_arbitrary_bytes_are_imported_or_reported(data: bytes, fmt: str | None) -> None:
    assert_reported(parse_import("upload", data, fmt, OBJECTIVES, None, "D2.1.1"))


@FUZZ
@given(
    name=st.sampled_from(sorted(SEEDS)),
    size=st.integers(0, 30_000),
    cut=st.integers(0, 200),
    fmt=FORMATS,
)
def test_hostile_files_grown_and_cut_short_are_imported_or_reported(
    name: str, size: int, cut: int, fmt: str | None
) -> None:
    # The seeds of tests/fixtures/interchange/hostile/, grown, then cut anywhere near the
    # end (in a tag, an entity, a UTF-8 sequence...) and read as any format.
    data = grow(name, size)
    data = data[: max(0, len(data) - cut)]
    assert_reported(parse_import(name, data, fmt, OBJECTIVES, None, "D2.1.1"))


# fmt: off
XML_TEXT = st.text(max_size=12) | st.sampled_from([
    "&amp;", "&lt;p&gt;a&lt;/p&gt;", "&nbsp;", "&#0;", "&#x41;", "&#x110000;", "]]>",
    "<![CDATA[<p>a<br>b</p><img src=x><script>c</script>]]>", "<", "&", "true", "false",
    "100", "$course$/top/D2.1.2", "D2.1.3",
])
XML_TAGS = st.sampled_from([
    "quiz", "question", "name", "text", "questiontext", "generalfeedback", "answer",
    "feedback", "subquestion", "single", "category", "tags", "tag", "p", "br",
])
XML_ATTRIBUTES = st.dictionaries(
    st.sampled_from(["type", "fraction", "format"]),
    st.text(max_size=4) | st.sampled_from([
        "multichoice", "truefalse", "matching", "category", "essay", "", "100", "50", "-50",
        "nan", "1e309", "html", "plain_text", 'x"y',
    ]),
    max_size=2,
)
# fmt: on


def element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    def render(tag: str, attributes: dict[str, str], inner: list[str]) -> str:
        attrs = "".join(f' {key}="{value}"' for key, value in attributes.items())
        return f"<{tag}{attrs}>{''.join(inner)}</{tag}>"

    return st.builds(render, XML_TAGS, XML_ATTRIBUTES, st.lists(children, max_size=4))


# Questions shaped like Moodle's, with arbitrary content, so that the fuzz reaches the
# question readers and not only the XML parser.
WELL_FORMED_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12).map(
    xml_escape
) | st.sampled_from(
    ["", "true", "false", "A", "B", "&amp;", "&lt;b&gt;a&lt;/b&gt;", "<![CDATA[<p>a<br>b</p>]]>"]
)
FRACTIONS = st.sampled_from(["100", "50", "33.33333", "0", "-50", "150", "x", ""])


def text_field(tag: str) -> st.SearchStrategy[str]:
    return st.builds(
        lambda text, fmt: f"<{tag}{fmt}><text>{text}</text></{tag}>",
        WELL_FORMED_TEXT,
        st.sampled_from(["", ' format="html"', ' format="plain_text"']),
    )


QUESTION_PARTS = st.one_of(
    text_field("name"),
    text_field("questiontext"),
    text_field("generalfeedback"),
    st.builds(
        lambda fraction, text, feedback: (
            f'<answer fraction="{fraction}"><text>{text}</text>'
            f"<feedback><text>{feedback}</text></feedback></answer>"
        ),
        FRACTIONS,
        WELL_FORMED_TEXT,
        WELL_FORMED_TEXT,
    ),
    st.builds(
        lambda text, answer: (
            f"<subquestion><text>{text}</text><answer><text>{answer}</text></answer></subquestion>"
        ),
        WELL_FORMED_TEXT,
        WELL_FORMED_TEXT,
    ),
    st.sampled_from(
        [
            "<single>false</single>",
            "<single>true</single>",
            "<tags><tag><text>D2.1.3</text></tag><tag><text>x</text></tag></tags>",
        ]
    ),
)
CATEGORY = '<question type="category"><category><text>$course$/top/D2.1.2</text></category>'
MOODLE_QUESTIONS = st.just(CATEGORY + "</question>") | st.builds(
    lambda kind, parts: f'<question type="{kind}">{"".join(parts)}</question>',
    st.sampled_from(["multichoice", "truefalse", "matching", "essay", "category", ""]),
    st.lists(QUESTION_PARTS, max_size=8),
)

XML_DOCUMENTS = st.builds(
    lambda prolog, body: f"{prolog}<quiz>{''.join(body)}</quiz>",
    st.sampled_from(
        ["", '<?xml version="1.0" encoding="UTF-8"?>\n', '<!DOCTYPE quiz [<!ENTITY a "b">]>']
    ),
    st.lists(MOODLE_QUESTIONS | st.recursive(XML_TEXT, element, max_leaves=25), max_size=6),
)


@FUZZ
@given(document=XML_DOCUMENTS, mapped=st.booleans())
def test_arbitrary_xml_is_imported_or_reported(document: str, mapped: bool) -> None:
    mapping = {"$course$/top/D2.1.2": "D2.1.2"} if mapped else None
    result = parse_import("quiz.xml", document.encode(), None, OBJECTIVES, mapping)
    assert result.format == "moodle-xml"
    assert_reported(result)


SAFE_TEXT = st.text(st.characters(blacklist_characters="<>&"), max_size=10)


@FUZZ
@given(parts=st.lists(st.tuples(XML_TAGS | st.sampled_from(["div", "li", "img"]), SAFE_TEXT)))
def test_html_to_text_leaves_no_tag(parts: list[tuple[str, str]]) -> None:
    html = "".join(f"<{tag} class='c'>{text}</{tag}><br/>" for tag, text in parts)
    text, _ = html_to_text(html)
    assert "<" not in text and ">" not in text


MARKUP_PIECES = st.lists(
    st.sampled_from(["<", ">", "!", "/", "?", "-", "[", "]", "a", "b", " ", "=", "'", '"', "x"])
    | st.sampled_from(["<![", "<!--", "-->", "<![CDATA[", "]]>", "<script>", "</script>", "<br"])
    | st.sampled_from(["<!-->", "<a b='", '<a b="x>y">', "</b", "<style>", "&lt;", "&#x3c;"])
).map("".join)


@FUZZ
@given(html=MARKUP_PIECES | st.text(st.sampled_from("<>!/?-[]ab =&#;x\n"), max_size=30))
def test_html_to_text_reads_broken_markup_without_raising(html: str) -> None:
    # Broken markup reads as a browser shows it: "<<a>b>" shows, and gives, the text "<b>".
    text, _ = html_to_text(html)
    assert text == text.strip() and "\n\n\n" not in text and "\xa0" not in text


# --- exports keep arbitrary text ------------------------------------------------------------

WORD = st.text(st.characters(blacklist_categories=("Cs", "Z", "Cc")), min_size=1, max_size=8)
LINE = st.lists(WORD, min_size=1, max_size=4).map(" ".join)
PLAIN = st.lists(LINE, min_size=1, max_size=3).map("\n".join)
ANY_TEXT = (
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=40)
    .map(str.strip)
    .filter(bool)
)


def questions(text: st.SearchStrategy[str]) -> st.SearchStrategy[QuestionSpec]:
    return st.builds(
        make_question,
        text,
        st.lists(text, min_size=3, max_size=4, unique_by=str.lower),
        st.lists(text, min_size=4, max_size=4),
        text,
        st.integers(1, 2),
    )


@FUZZ
@given(spec=questions(ANY_TEXT), fmt=st.sampled_from(["yaml", "gift"]))
def test_yaml_and_gift_exports_keep_any_text(spec: QuestionSpec, fmt: str) -> None:
    body, _, extension = export_bank(fmt, [spec], OBJECTIVES)
    result = parse_import(f"bank.{extension}", body, fmt, OBJECTIVES)
    assert result.errors == [] and len(result.specs) == 1
    if fmt == "yaml":
        assert result.specs[0].content_hash == spec.content_hash
    else:
        assert carried(result.specs[0]) == carried(spec)


@FUZZ
@given(spec=questions(PLAIN))
def test_moodle_xml_export_keeps_markup_like_text(spec: QuestionSpec) -> None:
    body, _, _ = export_bank("moodle-xml", [spec], OBJECTIVES)
    result = parse_import("bank.xml", body, None, OBJECTIVES)
    assert result.errors == [] and len(result.specs) == 1
    assert carried(result.specs[0]) == carried(spec)


def test_moodle_xml_export_escapes_markup() -> None:
    spec = make_question(
        "Is <b> & </b> markup?", ["<b>", "&amp;", "a < b"], ["x", "y", "z"], "e", 1
    )
    body = export_bank("moodle-xml", [spec], OBJECTIVES)[0].decode()
    assert "&lt;p&gt;Is &amp;lt;b&amp;gt; &amp;amp; &amp;lt;/b&amp;gt; markup?" in body
