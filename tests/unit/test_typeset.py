"""The shared text helpers: every character prints in a face that has its glyph, right-to-left
text is shaped and put in visual order, lines wrap within their width in every script,
Paragraph markup stays escaped, and a missing font is said plainly."""

from __future__ import annotations

import io
import logging
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Paragraph, SimpleDocTemplate

from exam_service import typeset
from exam_service.typeset import (
    SANS,
    SANS_BOLD,
    FontsMissing,
    fit_line,
    markup,
    missing_fonts,
    register,
    runs,
    text_width,
    visual,
    wrap,
)
from tests.unit.pdf_checks import SCRIPTS, assert_faces, assert_prints

PWNED = Path("/tmp/pwned")
EXPLOIT = (
    "<para><font color=\"[[[getattr(pow, Word('__globals__'))['os'].system('touch /tmp/pwned')"
    ']]]">exploit</font></para>'
)
EVERY_SCRIPT = (
    "Łukasz Żółć naïve λσω Жук ≤ ≠ ∑ √ ⊕ → ✓ Ա ა "
    "中文 日本語 かな カナ 한국어 العربية فارسی שלום 😀 🧠"
)
ARABIC = (
    "هذا سؤال طويل عن تدريب النماذج في الحوسبة السحابية ويجب أن يلتف على عدة أسطر "
    "بالترتيب الصحيح من اليمين إلى اليسار"
)


def unmarked(lines: tuple[str, ...]) -> list[str]:
    """Lines without the direction mark `wrap` starts them with."""
    return [line.lstrip("\u200e\u200f") for line in lines]


def faces_of(text: str) -> dict[str, str]:
    """Which face prints each visible character of `text`."""
    return {char: face.spec.key for face, piece in runs(visual(text)) for char in piece}


def test_every_face_is_installed() -> None:
    missing = missing_fonts()
    assert not missing, (
        f"font files missing: {missing}; run `apt-get install "
        f"{' '.join(typeset.DEBIAN_PACKAGES)}` (make and .ci/run do as root)"
    )


def test_every_character_prints_in_a_face_that_has_its_glyph() -> None:
    register()
    for face, piece in runs(visual(EVERY_SCRIPT)):
        for char in piece:
            assert ord(char) in face.covers, (char, face.spec.key)
    faces = faces_of(EVERY_SCRIPT)
    assert {faces[char] for char in "Łλ≤Ж"} == {"sans"}
    assert {faces[char] for char in "⊕ԱაЖ" if char != "Ж"} == {"dejavu"}
    assert {faces[char] for char in "中日か카한"[:3] + "한"} == {"cjk"}
    assert {faces[char] for char in "😀🧠"} == {"symbols"}
    assert faces["ש"] == "hebrew"
    assert {faces[char] for char in visual("العربية")} == {"arabic"}


def test_spaces_and_digits_stay_in_the_face_of_their_text() -> None:
    pieces = runs(visual("عربي 123 عربي"))
    assert len(pieces) == 1 and pieces[0][0].spec.key == "arabic"


def test_a_character_no_face_has_prints_as_the_replacement_character() -> None:
    shown = "".join(piece for _, piece in runs("a\u0378b"))
    assert shown == "a\ufffdb"


def test_invisible_characters_and_skin_tones_are_dropped() -> None:
    shown = "".join(piece for _, piece in runs("👍\U0001f3fd 😀\ufe0f x\u200dy\u00adz"))
    assert shown == "👍 😀 xyz"


def test_arabic_is_shaped_and_drawn_right_to_left() -> None:
    # ع initial, ر final, ب initial, ي final: drawn from the right, so reversed here.
    assert visual("عربي") == "\ufef2\ufe91\ufeae\ufecb"
    assert visual("لا") == "\ufefb"  # the lam-alef ligature
    assert visual("abc عربي def") == "abc \ufef2\ufe91\ufeae\ufecb def"
    assert visual("שלום עולם") == "םלוע םולש"
    assert "\u064e" in visual("مَرْحَبًا")  # harakat are kept
    assert visual("plain text ≤ 中文") == "plain text ≤ 中文"


@pytest.mark.parametrize(
    "text",
    [
        "中文的句子没有空格所以每个字之间都可以换行" * 4,
        ARABIC * 2,
        "x" * 300,
        f"{SCRIPTS} " * 8,
    ],
)
def test_lines_wrap_within_their_width_in_every_script(text: str) -> None:
    width = 150.0
    lines = wrap(text, SANS, 10, width)
    assert len(lines) > 2
    assert all(text_width(line, SANS, 10) <= width for line in lines)
    kept = "".join(text.split())
    assert "".join("".join(unmarked(lines)).split()) == kept  # nothing lost, order kept


def test_right_to_left_lines_are_broken_in_logical_order() -> None:
    lines = wrap(ARABIC, SANS, 10, 200)
    assert len(lines) >= 2
    assert " ".join(unmarked(lines)) == ARABIC
    assert unmarked(lines)[0].startswith("هذا")


def test_every_line_keeps_the_direction_of_its_paragraph() -> None:
    second = "العربية 😀 end"
    width = max(text_width("abcdefghij", SANS, 10), text_width(second, SANS, 10)) + 1
    lines = wrap(f"abcdefghij {second}", SANS, 10, width)
    assert unmarked(lines) == ["abcdefghij", second]
    # An English paragraph's line that starts with Arabic still reads left to right ...
    shown = visual(lines[1]).lstrip("\u200e")
    assert shown.startswith("\ufe94") and shown.endswith("😀 end")
    # ... where alone it would be a right-to-left line.
    assert visual(second).startswith("end 😀")
    arabic = wrap(f"{ARABIC} SageMaker {ARABIC}", SANS, 10, 150)
    assert all(line.startswith("\u200f") for line in arabic)


def test_fit_line_shortens_any_script_with_an_ellipsis() -> None:
    for text in (ARABIC, "中文" * 40, SCRIPTS * 5):
        line = fit_line(text, SANS_BOLD, 9, 120)
        assert line.endswith("\u2026")
        assert text_width(line, SANS_BOLD, 9) <= 120
        assert text.startswith(line[:-1].rstrip())


def test_markup_escapes_data_and_names_each_face() -> None:
    PWNED.unlink(missing_ok=True)
    code = markup(f"{EXPLOIT} {SCRIPTS}", 500)
    assert "<para>" not in code and "&lt;para&gt;" in code
    assert '<font name="ExamCJK">中文 </font>' in code
    assert '<font name="ExamSymbols">😀</font>' in code
    buffer = io.BytesIO()
    style = ParagraphStyle("body", fontName=SANS, fontSize=10)
    document = SimpleDocTemplate(buffer, initialFontName=SANS)
    document.build([Paragraph(code, style), Paragraph(f"<b>{code}</b>", style)])
    assert_prints(buffer.getvalue(), EXPLOIT, SCRIPTS)
    assert_faces(buffer.getvalue())
    assert not PWNED.exists()


def test_markup_breaks_right_to_left_text_for_its_paragraph() -> None:
    code = markup(ARABIC, 500, size=10, width=200)
    assert code.count("<br/>") >= 1
    buffer = io.BytesIO()
    style = ParagraphStyle("body", fontName=SANS, fontSize=10)
    SimpleDocTemplate(buffer, leftMargin=50, rightMargin=595 - 50 - 200 - 12).build(
        [Paragraph(code, style)]
    )
    lines = PdfReader(buffer).pages[0].extract_text().splitlines()
    assert len(lines) == code.count("<br/>") + 1  # ReportLab broke no line again
    assert_prints(buffer.getvalue(), ARABIC)


def test_a_missing_sans_face_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(typeset, "SYSTEM_FONT_DIRS", ())
    monkeypatch.setenv("EXAM_FONT_DIR", str(tmp_path))
    with pytest.raises(FontsMissing) as error:
        typeset._Registry().face(typeset.SANS_FACE)
    message = str(error.value)
    assert "LiberationSans-Regular.ttf" in message and str(tmp_path) in message
    assert "fonts-liberation" in message and "EXAM_FONT_DIR" in message


def test_a_missing_fallback_face_is_logged_and_the_folder_setting_is_searched_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    installed = typeset._Registry().find(typeset.SANS_FACE)
    for path in installed:
        assert path is not None
        shutil.copy(path, tmp_path / path.name)
    monkeypatch.setattr(typeset, "SYSTEM_FONT_DIRS", ())
    monkeypatch.setenv("EXAM_FONT_DIR", str(tmp_path))
    registry = typeset._Registry()
    assert registry.find(typeset.SANS_FACE)[0] == tmp_path / "LiberationSans-Regular.ttf"
    cjk = next(spec for spec in typeset.FALLBACKS if spec.key == "cjk")
    with caplog.at_level(logging.WARNING, logger="exam_service.typeset"):
        assert registry.face(cjk) is None
    assert "fonts-wqy-microhei" in caplog.text and "U+FFFD" in caplog.text
