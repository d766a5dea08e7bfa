"""Text from data, made safe and tidy for ReportLab: the helpers every PDF module shares.

Question text, names and titles are data: they are capped, stripped of control
characters, and (for a `Paragraph`) escaped by the caller before they reach ReportLab.
"""

from __future__ import annotations

import re

from reportlab.pdfbase.pdfmetrics import stringWidth

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
BLANK_LINES = re.compile(r"\n\s*\n\s*")
FIT_TEXT = 400
"""What `fit_line` looks at: no single line of a PDF shows more."""


def clean_text(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis when cut; no control characters, tabs
    as spaces and at most one blank line in a row."""
    text = CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))
    text = BLANK_LINES.sub("\n\n", text.strip())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def char_widths(text: str, font: str, size: float) -> list[float]:
    """The advance of each character of `text`, measuring each distinct one once."""
    known: dict[str, float] = {}
    widths = []
    for char in text:
        width = known.get(char)
        if width is None:
            width = known[char] = stringWidth(char, font, size)
        widths.append(width)
    return widths


def fit_line(text: str, font: str, size: float, width: float) -> str:
    """Text on one line (for canvas strings and chart labels), shortened with an ellipsis
    to `width` points in `font` at `size`."""
    line = " ".join(clean_text(text, FIT_TEXT).split())
    if stringWidth(line, font, size) <= width:
        return line
    widths = char_widths(line, font, size)
    room, total, end = width - stringWidth("\u2026", font, size), 0.0, 0
    while end < len(line) and total + widths[end] <= room:
        total += widths[end]
        end += 1
    return line[:end].rstrip() + "\u2026"
