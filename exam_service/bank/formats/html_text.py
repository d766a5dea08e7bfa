"""HTML to plain text in one pass whose time is linear in the length of the HTML.

Moodle XML and GIFT's `[html]` text carry HTML; the bank keeps plain text. The reader
below tokenizes the way a browser does (HTML5's tokenizer, simplified to what text needs):
tags with quoted or bare attribute values, comments, `<!...>` and `<?...>` declarations,
raw-text `<script>` and `<style>`, and a `<` that opens nothing, which is text. Every
construct is found with `str.find` or an anchored character-class match from where the
previous one ended, and one that the input never closes runs to the end of the text (as
HTML5 drops a tag or comment cut off by the end of the file), so no part of the input is
read more than a constant number of times.

The standard library's `html.parser` is not used: on Python 3.11.7 it rescans what follows
an unclosed comment, tag or quote for every one of them (20 KB of `<a b='` took 0.97 s,
40 KB 3.7 s), and a quiz file of 2 MiB would hold the importer for hours.
"""

from __future__ import annotations

import re
from html import unescape

_BLOCK_TAGS = frozenset(
    {"p", "div", "blockquote", "pre", "hr", "address", "section", "article", "header", "footer"}
    | {"ul", "ol", "dl", "dt", "dd", "table", "tr", "figure", "figcaption"}
    | {f"h{level}" for level in range(1, 7)}
)
_HIDDEN_TAGS = frozenset({"template", "head", "title"})  # parsed, but nothing in them shows
_RAW_TEXT_TAGS = frozenset({"script", "style"})  # their content is not HTML: skipped whole
_MEDIA_TAGS = frozenset({"img", "video", "audio", "iframe", "object", "embed", "svg", "math"})

_SPACES = re.compile(r"[ \t\n\r\f]+")  # HTML's whitespace: ASCII only, so &nbsp; survives
_SKIP_SPACES = re.compile(r"[ \t\n\r\f]*")
_TAG_NAME = re.compile(r"[^ \t\n\r\f/>]*")
_PLAIN_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)[ \t\n\r\f]*(/?)>")  # <p>, </b>, <br/>
_ATTRIBUTE_NAME = re.compile(r"=?[^ \t\n\r\f/>=]*")  # HTML5: a name may start with "="
_BARE_VALUE = re.compile(r"[^ \t\n\r\f>]*")
_RAW_TEXT_END = {
    name: re.compile(rf"</{name}(?=[ \t\n\r\f/>])", re.IGNORECASE) for name in _RAW_TEXT_TAGS
}


def _past(pattern: re.Pattern[str], html: str, at: int) -> int:
    """The index just after what `pattern` (which may match nothing) matches at `at`."""
    found = pattern.match(html, at)
    return found.end() if found else at


def _tag_end(html: str, at: int) -> int:
    """The index just after the '>' that closes a tag whose attributes start at `at`, or
    -1 if the text ends first. A '>' inside a quoted attribute value does not close it."""
    end = len(html)
    while at < end:
        char = html[at]
        if char == ">":
            return at + 1
        if char in " \t\n\r\f/":
            at += 1
            continue
        at = _past(_SKIP_SPACES, html, _past(_ATTRIBUTE_NAME, html, at))
        if at >= end or html[at] != "=":
            continue
        at = _past(_SKIP_SPACES, html, at + 1)
        if at < end and html[at] in "\"'":
            closing = html.find(html[at], at + 1)
            if closing < 0:
                return -1
            at = closing + 1
        else:
            at = _past(_BARE_VALUE, html, at)
    return -1


class _Text:
    """What a browser would show: the text runs and the line breaks tags make."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.hidden = 0
        self.dropped: set[str] = set()

    def data(self, raw: str) -> None:
        if raw and not self.hidden:
            self.parts.append(_SPACES.sub(" ", unescape(raw)))

    def start(self, tag: str, self_closing: bool) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden += 0 if self_closing else 1
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

    def end(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")


def _markup(html: str, at: int, text: _Text) -> int:
    """Read the markup that starts with the '<' at `at`; the index where text resumes."""
    end = len(html)
    plain = _PLAIN_TAG.match(html, at)
    if plain is not None:  # most tags, read in one step
        closing_tag, tag, self_closing = plain[1] == "/", plain[2].lower(), plain[3] == "/"
        return _tag(html, closing_tag, tag, self_closing, plain.end(), text)
    following = html[at + 1 : at + 2]
    if html.startswith("<!--", at):
        if html.startswith(">", at + 4) or html.startswith("->", at + 4):  # <!--> and <!--->
            return html.index(">", at + 4) + 1
        closing = html.find("-->", at + 4)
        return end if closing < 0 else closing + 3
    if following in ("!", "?"):  # <!DOCTYPE>, <![CDATA[...]]>, <?xml?>: a bogus comment
        closing = html.find(">", at + 2)
        return end if closing < 0 else closing + 1
    closing_tag = following == "/"
    name_at = at + 2 if closing_tag else at + 1
    first = html[name_at : name_at + 1]
    if not (first.isascii() and first.isalpha()):
        if closing_tag:  # "</>" is nothing; "</ x>" and "</1>" are bogus comments
            closing = html.find(">", at + 2)
            return end if closing < 0 else closing + 1
        text.data("<")  # "a < b", "<<", "<3": text
        return at + 1
    name_end = _past(_TAG_NAME, html, name_at)
    tag = html[name_at:name_end].lower()
    after = _tag_end(html, name_end)
    if after < 0:
        return end  # cut off by the end of the text: dropped, as a browser drops it
    self_closing = html[after - 2] == "/" and after - 2 >= name_end
    return _tag(html, closing_tag, tag, self_closing, after, text)


def _tag(
    html: str, closing_tag: bool, tag: str, self_closing: bool, after: int, text: _Text
) -> int:
    """Take a whole tag that ends just before `after`; the index where text resumes."""
    if closing_tag:
        text.end(tag)
        return after
    text.start(tag, self_closing)
    if tag not in _RAW_TEXT_TAGS or self_closing:
        return after
    raw_end = _RAW_TEXT_END[tag].search(html, after)
    if raw_end is None:
        return len(html)
    closed = _tag_end(html, raw_end.end())
    return len(html) if closed < 0 else closed


def html_to_text(html: str) -> tuple[str, set[str]]:
    """Plain text of an HTML fragment, and the media tags (img, video...) it dropped.

    Tags are stripped, <br> becomes a line break, block elements (<p>, <div>, lists...)
    paragraph breaks, entities are decoded, script and style content is dropped, and runs
    of spaces collapse as a browser would show them. The result holds no markup.
    """
    text = _Text()
    at, end = 0, len(html)
    while at < end:
        opening = html.find("<", at)
        if opening < 0:
            text.data(html[at:])
            break
        text.data(html[at:opening])
        at = _markup(html, opening, text)
    lines = [line.strip(" ").replace("\xa0", " ") for line in "".join(text.parts).split("\n")]
    plain = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return plain.strip(), text.dropped
