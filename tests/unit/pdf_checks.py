"""What a reader of a PDF gets back: the text pypdf extracts, and the fonts the pages draw
with. Shared by the PDF tests that print every script."""

from __future__ import annotations

import io
import re
import unicodedata
from typing import Any

from pypdf import PdfReader

SCRIPTS = "λ σ ≤ Łukasz 中文 العربية 😀"
"""Greek, maths, Latin Extended, CJK, Arabic (right to left, joined) and an emoji."""
ARABIC_SHAPED = "\ufe8d\ufedf\ufecc\ufeae\ufe91\ufef4\ufe94"
"""العربية in its contextual forms, as pypdf gives them back (logical order): alef isolated,
lam initial, ain medial, reh final, beh initial, yeh medial, teh marbuta final."""
ARABIC_LETTER = re.compile("[\u0621-\u064a]")
"""Arabic letters in their nominal form: what an unshaped line would hold."""
FACES = ("LiberationSans", "NotoSansArabic", "WenQuanYiMicroHei", "Symbola")
"""The embedded faces that text in `SCRIPTS` needs."""


def text(pdf: bytes) -> str:
    """Every page's extracted text."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def logical(extracted: str) -> str:
    """Extracted text compared as a reader reads it: presentation forms back to letters
    (NFKC) and no whitespace (pypdf moves the spaces around a right-to-left run). pypdf
    puts right-to-left runs back in logical order itself."""
    return "".join(unicodedata.normalize("NFKC", extracted).split())


def squashed(value: str) -> str:
    return "".join(value.split())


def assert_prints(pdf: bytes, *texts: str) -> str:
    """Each of `texts` comes back from the PDF, Arabic shaped, no character as a missing
    glyph (code 0, which ReportLab's ToUnicode maps to U+0000) or replaced; returns the
    extracted text."""
    extracted = text(pdf)
    assert "\x00" not in extracted and "\ufffd" not in extracted
    found = logical(extracted)
    for expected in texts:
        assert logical(expected) in found, expected
    if any(ARABIC_LETTER.search(value) for value in texts):
        # Shaped: every Arabic letter is drawn in its contextual (presentation) form.
        assert not ARABIC_LETTER.search(extracted)
        assert re.search("[\ufb50-\ufdff\ufe70-\ufefe]", extracted)
    return extracted


def fonts(pdf: bytes) -> set[str]:
    """The base names of the fonts the pages (and the forms they draw) use, without the
    subset tag: {"LiberationSans", "NotoSansArabic-Regular", ...}."""
    names: set[str] = set()

    def collect(resources: Any) -> None:
        for font in resources.get("/Font", {}).values():
            names.add(str(font.get_object()["/BaseFont"]).lstrip("/").split("+")[-1])
        for xobject in resources.get("/XObject", {}).values():
            inner = xobject.get_object().get("/Resources")
            if inner is not None:
                collect(inner.get_object())

    for page in PdfReader(io.BytesIO(pdf)).pages:
        collect(page["/Resources"].get_object())
    return names


def assert_faces(pdf: bytes) -> None:
    """The PDF embeds the faces `SCRIPTS` needs and no standard font (Helvetica & co.
    print Latin-1 only)."""
    used = fonts(pdf)
    for face in FACES:
        assert any(name.startswith(face) for name in used), (face, used)
    standard = {"Helvetica", "Times", "Courier", "Symbol", "ZapfDingbats"}
    assert not any(name.split("-")[0] in standard for name in used), used
