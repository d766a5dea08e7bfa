"""Text from data, made safe and printable for ReportLab: the fonts and helpers every PDF
module shares.

Question text, names and titles are data: they are capped, stripped of control characters
and NFC-normalised (`clean_text`), and reach a `Paragraph` only through `markup`, which
escapes them (ReportLab markup is code: CVE-2023-33733). Canvas strings (`draw_string`,
`pieces`) are raw text and parse no markup.

Fonts. ReportLab's standard fonts cover Latin-1 only, so every PDF uses TrueType fonts
embedded as subsets. `SANS`, `SANS_BOLD`, `SANS_ITALIC` and `SANS_BOLD_ITALIC` are font
names of our own; each character prints in the first face that has its glyph (`runs`):

    face     files (Debian package; licence)                  prints
    sans     Liberation Sans R/B/I/BI (fonts-liberation;      Latin, Greek, Cyrillic, with
             GPL-2 with the font-embedding exception)         Helvetica's metrics, so the
                                                              layouts keep their size
    dejavu   DejaVu Sans R/B (fonts-dejavu-core; Bitstream    maths (≤ ∑ √), arrows, IPA,
             Vera licence; upright in italic text)            Armenian, Georgian, ...
    arabic   Noto Sans Arabic R/B (fonts-noto-core; OFL 1.1)  Arabic, Persian, Urdu
    hebrew   Noto Sans Hebrew R/B (fonts-noto-core; OFL 1.1)  Hebrew
    cjk      WenQuanYi Micro Hei (fonts-wqy-microhei;         Chinese, Japanese, Korean
             Apache 2.0 or GPL-3 with the font exception)
    symbols  Symbola (fonts-symbola; "free for any use")      emoji, other symbols

A character of a script that has a face of its own (Arabic, Hebrew, CJK, emoji) goes to
that face before the general chain, so one script never mixes two designs; spaces, digits
and punctuation stay in the face of the text around them when it has them. Noto's CJK
fonts are not used: Debian ships them as OpenType/CFF, which ReportLab cannot embed
(TrueType outlines only); WenQuanYi Micro Hei is TrueType and covers the 20,902 unified
ideographs, kana and the 11,172 Hangul syllables (Droid Sans Fallback, which it extends,
has no Hangul). Colour emoji fonts (bitmaps) cannot be embedded either: emoji print as
Symbola's black-and-white outlines. A character no face has prints as U+FFFD (the
replacement character), never as an empty box; default-ignorable ones (joiners, variation
selectors, bidi controls) and skin-tone modifiers are dropped, so an emoji sequence prints
as its emoji one by one.

Where the fonts come from: Debian's packages (`DEBIAN_PACKAGES`; `make` and `.ci/run`
install them with apt when missing and run as root, the Dockerfile copies the few files it
needs), never downloaded by the code. Each file is looked up by name in the folders of
`EXAM_FONT_DIR` (os.pathsep-separated, searched first; read when a PDF first needs a font,
not at import), then under /usr/share/fonts and /usr/local/share/fonts. The sans face is
required: without it the first PDF raises `FontsMissing`, naming the files, the folders
searched and the packages to install. A missing fallback face is logged once as a warning
and its characters print as U+FFFD. `python -m exam_service.typeset` lists every file and
exits 1 when one is missing.

Right-to-left text (Arabic, Hebrew): lines are broken in logical order; each line is then
shaped and put in visual order (`visual`). arabic-reshaper replaces Arabic letters by their
contextual presentation forms (initial, medial, final, isolated, lam-alef ligatures) and
keeps the harakat (Noto's mark glyphs sit on the letter drawn after them, which is their
letter once the line is reversed); python-bidi applies the Unicode bidirectional algorithm
to the line. ReportLab's own shaping needs uharfbuzz and its bidi support needs rlbidi,
which is not on the package index; and presentation forms extract from the PDF as the
right letters (NFKC maps them back), where harfbuzz's contextual glyphs would extract as
private-use characters. Not done: ligatures other than lam-alef, mark positioning from the
font's GPOS table, right alignment (paragraphs are left-aligned whatever their direction).

Speed: the face of each character is looked up once (`_face_of`), the pieces and width of
each line once (`pieces`, `text_width`, both cached), and ASCII skips both. A subset's font
program is made, compressed and its widths written once per distinct set of characters
(`_EmbeddedFont`), so a batch of booklets pays for its fonts once.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import arabic_reshaper
from bidi import get_base_level, get_display
from reportlab.lib.fonts import addMapping
from reportlab.lib.rl_accel import fp_str
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import PDFObject
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFont

log = logging.getLogger(__name__)

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
BLANK_LINES = re.compile(r"\n\s*\n\s*")
FIT_TEXT = 400
"""What `fit_line` looks at: no single line of a PDF shows more."""
ELLIPSIS = "\u2026"
REPLACEMENT = "\ufffd"
LRM, RLM = "\u200e", "\u200f"

SANS, SANS_BOLD, SANS_ITALIC, SANS_BOLD_ITALIC = (
    "ExamSans",
    "ExamSans-Bold",
    "ExamSans-Italic",
    "ExamSans-BoldItalic",
)
STYLES = (SANS, SANS_BOLD, SANS_ITALIC, SANS_BOLD_ITALIC)
"""Our font names, in the order of a face's files: regular, bold, italic, bold italic."""

FONT_DIR_VARIABLE = "EXAM_FONT_DIR"
SYSTEM_FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
DEBIAN_PACKAGES = (
    "fonts-liberation",
    "fonts-dejavu-core",
    "fonts-noto-core",
    "fonts-wqy-microhei",
    "fonts-symbola",
)
"""What `make`, `.ci/run` and the Dockerfile install."""


# ---- Cleaning ---------------------------------------------------------------------------


def clean_text(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis when cut; NFC-normalised (an accent
    typed as a combining mark joins its letter), no control characters, tabs as spaces and
    at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text)
    text = CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))
    text = BLANK_LINES.sub("\n\n", text.strip())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


# ---- Faces ------------------------------------------------------------------------------


def _ranges(*spans: tuple[int, int]) -> Callable[[int], bool]:
    def contains(code: int) -> bool:
        return any(low <= code <= high for low, high in spans)

    return contains


@dataclass(frozen=True)
class FaceSpec:
    """A face of the chain: its font name prefix, the file names that may hold each style
    (regular, bold, italic, bold italic; an empty tuple borrows the regular), the Debian
    package, and the characters it is preferred for before the general chain."""

    key: str
    name: str
    files: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]
    package: str
    prefers: Callable[[int], bool] = field(default=lambda code: False)
    required: bool = False


SANS_FACE = FaceSpec(
    "sans",
    "ExamSans",
    (
        ("LiberationSans-Regular.ttf",),
        ("LiberationSans-Bold.ttf",),
        ("LiberationSans-Italic.ttf",),
        ("LiberationSans-BoldItalic.ttf",),
    ),
    "fonts-liberation",
    required=True,
)
FALLBACKS = (
    FaceSpec(
        "dejavu",
        "ExamDejaVu",
        (("DejaVuSans.ttf",), ("DejaVuSans-Bold.ttf",), (), ()),
        "fonts-dejavu-core",
    ),
    FaceSpec(
        "arabic",
        "ExamArabic",
        (("NotoSansArabic-Regular.ttf",), ("NotoSansArabic-Bold.ttf",), (), ()),
        "fonts-noto-core",
        _ranges(
            (0x0600, 0x06FF), (0x0750, 0x077F), (0x0870, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFE)
        ),
    ),
    FaceSpec(
        "hebrew",
        "ExamHebrew",
        (("NotoSansHebrew-Regular.ttf",), ("NotoSansHebrew-Bold.ttf",), (), ()),
        "fonts-noto-core",
        _ranges((0x0590, 0x05FF), (0xFB1D, 0xFB4F)),
    ),
    FaceSpec(
        "cjk",
        "ExamCJK",
        (("wqy-microhei.ttc",), (), (), ()),
        "fonts-wqy-microhei",
        _ranges(
            (0x1100, 0x11FF),
            (0x2E80, 0x2FDF),
            (0x3000, 0x31FF),
            (0x3400, 0x4DBF),
            (0x4E00, 0x9FFF),
            (0xA960, 0xA97F),
            (0xAC00, 0xD7AF),
            (0xF900, 0xFAFF),
            (0xFE30, 0xFE4F),
            (0xFF00, 0xFFEF),
            (0x20000, 0x2FFFF),
        ),
    ),
    FaceSpec(
        "symbols",
        "ExamSymbols",
        (("Symbola_hint.ttf", "Symbola.ttf"), (), (), ()),
        "fonts-symbola",
        _ranges((0x1F000, 0x1FAFF)),
    ),
)
FACES = (SANS_FACE, *FALLBACKS)


class FontsMissing(RuntimeError):
    """A font the PDFs cannot do without is not installed."""


class _EmbeddedFont(TTFont):  # type: ignore[misc]  # reportlab ships no type hints
    """A TrueType font embedded as subsets, each subset's font file made and compressed
    once per distinct set of characters and reused by every later PDF: ReportLab would make
    it anew for each document (costing a booklet more than drawing its text) and leave it
    uncompressed in uncompressed documents (the booklets: about 35 KiB a face instead of
    15). ASCII keeps its own codes in the first subset (`asciiReadable`), which `paper.pdf`
    relies on to write ASCII text without encoding it."""

    def __init__(self, name: str, path: Path) -> None:
        super().__init__(name, str(path), asciiReadable=True)
        face = self.face
        make, add = face.makeSubset, face.addSubsetObjects
        made: dict[tuple[int, ...], bytes] = {}

        def make_subset(codes: Sequence[int]) -> bytes:
            key = tuple(codes)
            found = made.get(key)
            if found is None:
                if len(made) >= 256:
                    made.clear()
                found = made[key] = make(codes)
            return found

        def add_subset(doc: Any, font_name: str, codes: Sequence[int]) -> Any:
            descriptor = add(doc, font_name, codes)
            # ReportLab files the subset's font program under this name (ttfonts.py).
            doc.idToObject[f"fontFile:{face.filename}({font_name})"].filters = [_FLATE]
            return descriptor

        face.makeSubset, face.addSubsetObjects = make_subset, add_subset
        self._widths: dict[tuple[int, ...], _Preformatted] = {}

    def addObjects(self, doc: Any) -> None:
        """ReportLab's font objects, each subset's widths written once per distinct subset
        (formatting them number by number took a booklet about half a millisecond), and
        characters beyond U+FFFF (emoji) mapped back to text as UTF-16, as the ToUnicode
        map must be: ReportLab writes their code point as is, which readers reject, so an
        emoji would not copy or extract. The ToUnicode map is handed over as bytes."""
        state = self.state.get(doc)
        if state is None:
            super().addObjects(doc)
            return
        subsets = [tuple(codes) for codes in state.subsets]
        names = [self.getSubsetInternalName(n, doc)[1:] for n in range(len(subsets))]
        super().addObjects(doc)
        fonts = doc.idToObject["BasicFonts"].dict
        for name, codes in zip(names, subsets, strict=True):
            widths = self._widths.get(codes)
            if widths is None:
                if len(self._widths) >= 256:
                    self._widths.clear()
                numbers = " ".join(fp_str(self.face.getCharWidth(code)) for code in codes)
                widths = self._widths[codes] = _Preformatted(f"[{numbers}]".encode("ascii"))
            font = fonts[name]
            font.Widths = widths
            to_unicode = doc.idToObject[font.ToUnicode.name]
            cmap = to_unicode.content
            if max(codes) > 0xFFFF:
                cmap = ASTRAL.sub(_utf16, cmap)
            # As bytes: ReportLab would encode the text through its PDFDocEncoding codec
            # character by character.
            to_unicode.content = cmap.encode("ascii") if cmap.isascii() else cmap


ASTRAL = re.compile(r"(?<=> )<([0-9A-F]{5,6})>")
"""A ToUnicode destination beyond U+FFFF, as ReportLab writes it."""


def _utf16(match: re.Match[str]) -> str:
    return "<" + chr(int(match[1], 16)).encode("utf-16-be").hex().upper() + ">"


class _Preformatted(PDFObject):  # type: ignore[misc]  # reportlab ships no type hints
    """A PDF value already written out."""

    def __init__(self, code: bytes) -> None:
        self.code = code

    def format(self, document: Any) -> bytes:
        return self.code


class _CachedFlate:
    """zlib for PDF streams that repeat from document to document (font programs): each
    distinct content is compressed once."""

    pdfname = "FlateDecode"

    def __init__(self) -> None:
        self.done: dict[bytes, bytes] = {}

    def encode(self, content: bytes) -> bytes:
        found = self.done.get(content)
        if found is None:
            if len(self.done) >= 256:
                self.done.clear()
            found = self.done[content] = zlib.compress(content)
        return found


_FLATE = _CachedFlate()


@dataclass(frozen=True)
class Face:
    """A loaded face: its spec, our font name for each style, and the characters all of its
    styles have (so a character's face never depends on bold or italic)."""

    spec: FaceSpec
    names: tuple[str, str, str, str]
    covers: frozenset[int] = field(repr=False)

    @property
    def base(self) -> bool:
        return self.spec is SANS_FACE


def font_dirs() -> list[Path]:
    """The folders searched for font files, in order."""
    given = os.environ.get(FONT_DIR_VARIABLE, "")
    return [Path(part) for part in given.split(os.pathsep) if part] + list(SYSTEM_FONT_DIRS)


def _index(folders: Iterable[Path]) -> dict[str, Path]:
    """Every font file under `folders` by file name; the first folder wins."""
    found: dict[str, Path] = {}
    for folder in folders:
        for root, _, files in os.walk(folder):
            for name in sorted(files):
                if name.lower().endswith((".ttf", ".ttc")):
                    found.setdefault(name, Path(root) / name)
    return found


class _Registry:
    """The faces loaded in this process: the sans face when the first PDF needs a font,
    each fallback when a character first needs it (the CJK face alone takes about 0.14 s
    to read)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.files: dict[str, Path] | None = None
        self.loaded: dict[str, Face | None] = {}

    def file_index(self) -> dict[str, Path]:
        if self.files is None:
            self.files = _index(font_dirs())
        return self.files

    def find(self, spec: FaceSpec) -> list[Path | None]:
        """The file of each style, None where none of its names is installed."""
        files = self.file_index()
        return [next((files[n] for n in names if n in files), None) for names in spec.files]

    def face(self, spec: FaceSpec) -> Face | None:
        if spec.key in self.loaded:
            return self.loaded[spec.key]
        with self.lock:
            if spec.key not in self.loaded:
                self.loaded[spec.key] = self._load(spec)
            return self.loaded[spec.key]

    def _load(self, spec: FaceSpec) -> Face | None:
        paths = self.find(spec)
        if paths[0] is None or (spec.required and None in paths):
            missing = [
                names[0]
                for names, path in zip(spec.files, paths, strict=True)
                if names and path is None
            ]
            message = (
                f"font files {', '.join(missing)} not found in {', '.join(map(str, font_dirs()))}: "
                f"install the Debian package {spec.package} (make and .ci/run do when run "
                f"as root: apt-get install {' '.join(DEBIAN_PACKAGES)}), or set "
                f"{FONT_DIR_VARIABLE} to a folder that holds them"
            )
            if spec.required:
                raise FontsMissing(message)
            log.warning("%s; its characters print as U+FFFD", message)
            return None
        names: list[str] = []
        covers: set[int] | None = None
        fonts: dict[Path, str] = {}
        for style, path in zip(STYLES, paths, strict=True):
            path = path or paths[0]
            assert path is not None
            name = fonts.get(path)
            if name is None:
                name = spec.name + style.removeprefix(SANS)
                font = _EmbeddedFont(name, path)
                pdfmetrics.registerFont(font)
                fonts[path] = name
                cmap = set(font.face.charToGlyph)
                covers = cmap if covers is None else covers & cmap
            names.append(name)
        regular, bold, italic, bold_italic = names
        for font_name in {spec.name, *names}:
            # Paragraph markup (<b>, <i>, <font name=...>) finds the styles of a face by
            # its family, whichever of its font names is current.
            addMapping(font_name, 0, 0, regular)
            addMapping(font_name, 1, 0, bold)
            addMapping(font_name, 0, 1, italic)
            addMapping(font_name, 1, 1, bold_italic)
        covers = (covers or set()) - {0}
        return Face(spec, (regular, bold, italic, bold_italic), frozenset(covers))


_REGISTRY = _Registry()


def register() -> None:
    """Load the sans face (raising `FontsMissing` when it is not installed): every PDF
    function calls this before it names `SANS` or its styles."""
    _REGISTRY.face(SANS_FACE)


def missing_fonts() -> list[str]:
    """One line per font file not installed (empty when every face is complete)."""
    lines = []
    for spec in FACES:
        for names, path in zip(spec.files, _REGISTRY.find(spec), strict=True):
            if names and path is None:
                lines.append(f"{names[0]} (Debian package {spec.package})")
    return lines


def _sans() -> Face:
    face = _REGISTRY.face(SANS_FACE)
    assert face is not None, "a missing sans face raises FontsMissing"
    return face


@lru_cache(maxsize=8192)
def _face_of(char: str) -> Face | None:
    """The face that prints `char`: the sans face, else the face preferred for its script,
    else the first fallback that has it; None when no installed face has it."""
    code = ord(char)
    sans = _sans()
    if code in sans.covers:
        return sans
    for spec in FALLBACKS:
        if spec.prefers(code):
            face = _REGISTRY.face(spec)
            if face is not None and code in face.covers:
                return face
    for spec in FALLBACKS:
        face = _REGISTRY.face(spec)
        if face is not None and code in face.covers:
            return face
    return None


_IGNORABLE = _ranges(
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
    (0x1F3FB, 0x1F3FF),
)
"""Unicode's default-ignorable code points (joiners, variation selectors, bidi controls,
soft hyphens): invisible, and already used up by shaping and bidi when they mattered, so
they are dropped rather than drawn with whatever glyph a face gives them. So are the emoji
skin-tone modifiers, which only a colour emoji font joins to their emoji (Symbola draws
them as swatches)."""


# ---- Runs, pieces and widths ------------------------------------------------------------

RTL = re.compile(
    "[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefe\U00010800-\U00010fff\U0001e800-\U0001efff]"
)
"""Characters of right-to-left scripts: a line without one needs no bidi or shaping."""
_RESHAPER = arabic_reshaper.ArabicReshaper(configuration={"delete_harakat": False})


@lru_cache(maxsize=16384)
def visual(line: str) -> str:
    """One line of text in the order it is drawn, left to right: a line with right-to-left
    characters gets Arabic presentation forms and the Unicode bidirectional algorithm
    (base direction from its first strong character); any other line is returned as is."""
    if not RTL.search(line):
        return line
    shown = get_display(_RESHAPER.reshape(line))
    assert isinstance(shown, str)
    return shown


@lru_cache(maxsize=32768)
def runs(text: str) -> tuple[tuple[Face, str], ...]:
    """`text` split into runs of characters printed by one face (`_face_of`), in order. A
    character that is not a letter (space, digit, punctuation, mark) stays in the face of
    the run before it when that face has it. Characters no face has become U+FFFD;
    default-ignorable ones are dropped."""
    sans = _sans()
    if text.isascii():
        return ((sans, text),) if text else ()
    result: list[tuple[Face, str]] = []
    face: Face | None = None
    piece: list[str] = []
    for char in text:
        code = ord(char)
        if _IGNORABLE(code):
            continue
        if face is not None and code in face.covers and unicodedata.category(char)[0] != "L":
            piece.append(char)
            continue
        found = _face_of(char)
        if found is None:
            char = REPLACEMENT
            found = _face_of(char) or sans
            if ord(REPLACEMENT) not in found.covers:
                char = "?"
        if found is not face:
            if piece and face is not None:
                result.append((face, "".join(piece)))
            face, piece = found, []
        piece.append(char)
    if piece and face is not None:
        result.append((face, "".join(piece)))
    return tuple(result)


def _style(font: str) -> int:
    try:
        return STYLES.index(font)
    except ValueError:
        raise ValueError(f"font must be one of {', '.join(STYLES)}, not {font!r}") from None


@lru_cache(maxsize=32768)
def pieces(line: str, font: str) -> tuple[tuple[str, str], ...]:
    """A line as drawn: (ReportLab font name, text) pieces left to right, in the style
    `font` (one of `STYLES`); right-to-left text already in visual order and shaped."""
    style = _style(font)
    return tuple((face.names[style], text) for face, text in runs(visual(line)))


@lru_cache(maxsize=32768)
def _width(line: str, font: str) -> float:
    register()
    if line.isascii():
        return float(stringWidth(line, font, 1000.0))
    return float(sum(stringWidth(text, name, 1000.0) for name, text in pieces(line, font)))


def text_width(line: str, font: str, size: float) -> float:
    """The width in points of one line of text in `font` (one of `STYLES`) at `size`."""
    return _width(line, font) * size / 1000.0


def draw_string(
    canvas: Any, x: float, y: float, text: str, font: str, size: float, anchor: str = "start"
) -> None:
    """One line of raw text on a ReportLab canvas in the current fill colour, each piece
    in its face; `anchor` is start, middle or end."""
    text_object = canvas.beginText()
    text_object.setTextOrigin(_start(x, text, font, size, anchor), y)
    for name, piece in pieces(text, font):
        text_object.setFont(name, size)
        text_object.textOut(piece)
    canvas.drawText(text_object)


def placed(
    x: float, text: str, font: str, size: float, anchor: str = "start"
) -> list[tuple[float, str, str]]:
    """(x, font name, text) of each piece of a line, for graphics that draw strings one font
    at a time (`reportlab.graphics.shapes.String`)."""
    left = _start(x, text, font, size, anchor)
    result = []
    for name, piece in pieces(text, font):
        result.append((left, name, piece))
        left += stringWidth(piece, name, size)
    return result


def _start(x: float, text: str, font: str, size: float, anchor: str) -> float:
    if anchor == "start":
        return x
    width = text_width(text, font, size)
    if anchor == "middle":
        return x - width / 2
    if anchor == "end":
        return x - width
    raise ValueError(f"anchor must be start, middle or end, not {anchor!r}")


# ---- Lines ------------------------------------------------------------------------------

_CJK_CLASS = (
    "\u1100-\u11ff\u2e80-\u2fdf\u3000-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f"
    "\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0002ffff"
)
TOKENS = re.compile(rf"\s+|[{_CJK_CLASS}]|[^\s{_CJK_CLASS}]+")
"""Spaces, one CJK character (a line may break on either side of it), or a word."""


def wrap(text: str, font: str, size: float, width: float, lead: float = 0.0) -> tuple[str, ...]:
    """Lines of at most `width` points (the first `lead` points narrower), in logical order:
    words wrapped, CJK text broken between characters, over-long words cut, one empty line
    between paragraphs.

    A paragraph has one direction, that of its first strong character (Unicode's rule P2),
    but `visual` sees one line at a time: so each line of a paragraph with right-to-left
    text starts with a mark of the paragraph's direction (LRM or RLM, invisible and never
    drawn), lest a line of an English paragraph that starts with an Arabic word be laid
    out right to left."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        if not paragraph.strip():
            lines.append("")
            continue
        wrapped = _wrap_paragraph(paragraph, font, size, width, width - lead * (not lines))
        if RTL.search(paragraph):
            mark = RLM if get_base_level(paragraph) else LRM
            wrapped = [mark + line for line in wrapped]
        lines.extend(wrapped)
    return tuple(lines) or ("",)


def _wrap_paragraph(
    paragraph: str, font: str, size: float, width: float, first: float
) -> list[str]:
    space = text_width(" ", font, size)
    lines: list[str] = []
    line, used, room, spaced = "", 0.0, first, False
    for token in TOKENS.findall(paragraph):
        if token.isspace():
            spaced = bool(line)
            continue
        token_width = text_width(token, font, size)
        gap = space if spaced else 0.0
        spaced = False
        if not line or used + gap + token_width <= room:
            if line and gap:
                line += " "
            line, used = line + token, used + gap + token_width
            if used <= room:
                continue
        elif token_width <= width:
            lines.append(line)
            line, used, room = token, token_width, width
            continue
        else:
            lines.append(line)
            line, used, room = token, token_width, width
        # The line holds one word wider than the room: cut it between characters.
        cut = _cut(line, font, size, room, width)
        lines.extend(cut[:-1])
        line, room = cut[-1], width
        used = text_width(line, font, size)
    lines.append(line)
    return lines


def _cut(word: str, font: str, size: float, first: float, width: float) -> list[str]:
    parts: list[str] = []
    room = first
    while word:
        end = _fitting(word, font, size, room)
        parts.append(word[:end])
        word, room = word[end:], width
    return parts or [""]


def _fitting(text: str, font: str, size: float, room: float) -> int:
    """How many leading characters of `text` fit in `room` points (at least one)."""
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if text_width(text[:middle], font, size) <= room:
            low = middle
        else:
            high = middle - 1
    return low


def fit_line(text: str, font: str, size: float, width: float) -> str:
    """Text on one line (for canvas strings and chart labels), shortened with an ellipsis
    to `width` points in `font` (one of `STYLES`) at `size`."""
    line = " ".join(clean_text(text, FIT_TEXT).split())
    if text_width(line, font, size) <= width:
        return line
    room = width - text_width(ELLIPSIS, font, size)
    end = _fitting(line, font, size, room) if line else 0
    if end == 1 and text_width(line[:1], font, size) > room:
        end = 0
    return line[:end].rstrip() + ELLIPSIS


# ---- Paragraph markup -------------------------------------------------------------------


def markup(
    text: str,
    limit: int,
    *,
    font: str = SANS,
    size: float = 10.0,
    width: float | None = None,
    lead: float = 0.0,
) -> str:
    """Text from data as safe `Paragraph` markup: capped and cleaned, every piece escaped
    (so tags, entities and CVE-2023-33733 payloads print literally), characters the sans
    face lacks in `<font name=...>` runs of their face, line breaks as `<br/>`.

    A Paragraph breaks lines itself, in the order of its text; right-to-left text must be
    broken first and each line reordered, so text with right-to-left characters is broken
    here at `width` points in `font` at `size` (the first line `lead` points narrower, for
    a label before it) when `width` is given, and line by line as written otherwise."""
    text = clean_text(text, limit)
    if width is not None and RTL.search(text):
        lines: Sequence[str] = wrap(text, font, size, width - 1.0, lead)
    else:
        lines = text.split("\n")
    return "<br/>".join(_line_markup(line) for line in lines)


def _line_markup(line: str) -> str:
    if line.isascii():
        return escape(line)
    parts = []
    for face, piece in runs(visual(line)):
        shown = escape(piece)
        parts.append(shown if face.base else f'<font name="{face.spec.name}">{shown}</font>')
    return "".join(parts)


def _report() -> int:
    """`python -m exam_service.typeset`: where each face's files are, 1 if any is missing."""
    for spec in FACES:
        for names, path in zip(spec.files, _REGISTRY.find(spec), strict=True):
            if names:
                print(f"{spec.key:8} {names[0]:32} {path or 'MISSING (' + spec.package + ')'}")
    missing = missing_fonts()
    if missing:
        print(
            f"{len(missing)} font files missing: apt-get install {' '.join(DEBIAN_PACKAGES)}, "
            f"or set {FONT_DIR_VARIABLE}",
            file=sys.stderr,
        )
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(_report())
