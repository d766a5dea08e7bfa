"""Reads scanned answer sheets: which paper exam, form and candidate each page is, and the
answer of every question, with anything uncertain sent to a person instead of guessed.

    read_scans(data, content_type, sheets) -> list[SheetReading]    one per page, in order
    read_page(image, page, sheets) -> SheetReading                  one greyscale image

`data` is PNG or JPEG bytes (one sheet) or a PDF (one sheet per page, rasterised with
pypdfium2). `sheets(exam_id, form)` returns the `SheetLayout` of that form
(`exam_service.paper.sheet.form_sheet`), or None when there is no such paper exam or form:
the scanner only knows where bubbles are from that one geometry module.

How a page is read (OpenCV):
1. The four solid corner squares are found (dark, square, solid blobs nearest the image's
   corners); their spacing tells A4 from Letter. A perspective transform maps them onto the
   sheet's known geometry at `SCALE` pixels per point, so rotation by a few degrees, scale,
   offset and a landscape or upside-down scan do not matter.
2. Grey levels are normalised to "ink" between the paper (a bright percentile of the page)
   and the black of the corner squares. Continuous rather than a binary (Otsu) threshold:
   a faint mark then measures as faint, lands between the thresholds and goes to review,
   instead of vanishing below a threshold or passing above it.
3. The QR code gives exam id, form and candidate number; the number bubbles are read too,
   and the two are cross-checked.
4. Each bubble's fill is the mean of (a) the ink share of its inner disk (inside the printed
   outline, so the outline never counts) and (b) the ink share of its emptiest eighth (45°
   sector), minus the sheet's blank level (the median bubble, i.e. the printed letter).
   Part (b) means a mark must cover the whole bubble: a solid fill reads about 0.9.

Thresholds (`FILLED`, `BLANK`): fill > 0.45 is filled, < 0.15 blank, anything between is
a `review`. A light mark (35% grey) reads about 0.3 and a half-filled bubble about 0.2:
review. A crossed-out bubble (an X through it) leaves its emptiest sectors nearly white, so
it reads about 0.3, far lighter than a solid fill: review, counted neither as an answer nor
as a cancellation; a person decides. Two filled bubbles on a `single` row: review. A
`multiple` row is `ok` with every filled letter when no bubble is in between.
Ordering and matching rows have write-in boxes; handwriting is not read: a row with ink in
any box is `review` with a PNG crop of the row to type the letters from, an empty row is
`blank`. Every `review` answer carries its crop.

A numeric question's digit grid (`sheet.numeric_row`) is read column by column: one filled
bubble gives the column's character (the minus, the point or a digit), an empty column is
blank. Blank columns before and after the number are allowed; the value is the characters
in order ("-12.5"), which grading reads like a typed answer (`numeric.read_answer`). It is
`review`, with a `note` naming the column, for two bubbles in one column, an unclear
(light, partial or crossed-out) mark, a blank column between characters, two points, a
minus or a point without digits, or a box written in over an empty column (the candidate
wrote the digit but did not fill its bubble). The boxes are otherwise not read.

A page without corner marks, or with neither a readable QR code nor a readable candidate
number, is still returned (with its page number and the reason in `problems`), never
dropped. Malformed uploads (not an image or PDF, too many pixels or pages) raise ValueError.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt
import pypdfium2 as pdfium

from exam_service.paper.sheet import (
    BUBBLE_RADIUS,
    MINUS,
    PAGE_SIZES,
    POINT,
    Box,
    Bubble,
    SheetFrame,
    SheetLayout,
    SheetRow,
    parse_qr_payload,
    sheet_frame,
)

Image = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.float32]
SheetLookup = Callable[[int, str], SheetLayout | None]

FILLED = 0.45
"""A bubble whose fill is above this is marked."""
BLANK = 0.15
"""A bubble whose fill is below this is empty; in between is sent for review."""
BOX_INK = 0.012
"""Share of a write-in box's pixels that must be ink for it to count as written in."""
SCALE = 2.0
"""Pixels per point of the normalised sheet image the bubbles are measured on."""
CROP_SCALE = 4.0
"""Pixels per point of the crops shown to reviewers."""
PDF_DPI = 200
MAX_PIXELS = 60_000_000
MAX_PAGES = 1000
INNER = 0.68
"""The measured disk's radius as a share of the bubble's: well inside the printed outline."""
ASPECT_TOLERANCE = 0.04

SUPPORTED = "PNG, JPEG or PDF"


@dataclass(frozen=True)
class AnswerReading:
    """One question's answer as read from a sheet."""

    number: int
    value: str
    """Letters as in the key ("B", "AC"); "" when blank or sent for review."""
    confidence: float
    """0.5 (a bubble at the edge of the review band) to 1.0 (every bubble clearly filled
    or clearly empty); 0.0 for `review`."""
    status: str
    """`ok`, `blank` or `review`."""
    crop_png: bytes | None = None
    """For `review`: the row as a PNG, for a person to read."""
    fills: tuple[float, ...] = ()
    """Each bubble's fill (0 empty .. 1 solid), A first; for boxes, each box's ink share;
    for a digit grid, its bubbles' fills column by column (`SheetRow.columns`)."""
    note: str = ""
    """For a digit grid sent to `review`: what is unclear, naming the column."""


@dataclass(frozen=True)
class SheetReading:
    """One scanned page."""

    page: int
    """1-based page of the upload."""
    exam_id: int | None
    form: str | None
    candidate_number: str | None
    answers: list[AnswerReading] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Why the page (or its identity) needs a person; empty when read cleanly."""

    @property
    def reviews(self) -> list[AnswerReading]:
        return [answer for answer in self.answers if answer.status == "review"]

    @property
    def identified(self) -> bool:
        """Exam, form and candidate are all known and the answers were read."""
        return (
            self.exam_id is not None
            and self.form is not None
            and self.candidate_number is not None
            and bool(self.answers)
        )


# ---- Input ------------------------------------------------------------------------------


def read_scans(data: bytes, content_type: str, sheets: SheetLookup) -> list[SheetReading]:
    """Every page of an upload, in order (see the module docstring)."""
    return [read_page(image, page, sheets) for page, image in _pages(data, content_type)]


def _pages(data: bytes, content_type: str) -> Iterator[tuple[int, Image | None]]:
    kind = _kind(data, content_type)
    if kind == "pdf":
        yield from _pdf_pages(data)
        return
    width, height = _image_size(data, kind)
    if width * height > MAX_PIXELS:
        raise ValueError(
            f"the image is {width}x{height} pixels; scan at 300 dpi or less (at most "
            f"{MAX_PIXELS // 1_000_000} megapixels)"
        )
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if decoded is None:
        raise ValueError(f"the {kind.upper()} image could not be decoded; upload it again")
    yield 1, np.asarray(decoded, dtype=np.uint8)


def _kind(data: bytes, content_type: str) -> str:
    """`pdf`, `png` or `jpeg`, from the bytes themselves; the declared type must agree."""
    declared = content_type.split(";")[0].strip().lower()
    if data.startswith(b"%PDF-"):
        kind = "pdf"
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = "png"
    elif data.startswith(b"\xff\xd8\xff"):
        kind = "jpeg"
    else:
        raise ValueError(f"the upload is not a {SUPPORTED} file")
    accepted = {
        "pdf": {"application/pdf"},
        "png": {"image/png"},
        "jpeg": {"image/jpeg", "image/jpg", "image/pjpeg"},
    }[kind]
    if declared not in accepted | {"application/octet-stream", ""}:
        raise ValueError(f"the upload is a {kind.upper()} file but was sent as {declared!r}")
    return kind


def _image_size(data: bytes, kind: str) -> tuple[int, int]:
    """Width and height from the image header, to refuse huge images before decoding."""
    if kind == "png":
        if len(data) < 24:
            raise ValueError("the PNG image is truncated; upload it again")
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            index += 1
            continue
        marker = data[index + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            index += 1 if marker == 0xFF else 2
            continue
        length = int.from_bytes(data[index + 2 : index + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return int(width), int(height)
        index += 2 + length
    raise ValueError("the JPEG image has no size header; upload it again")


def _pdf_pages(data: bytes) -> Iterator[tuple[int, Image | None]]:
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        raise ValueError(f"the PDF could not be opened ({error}); upload it again") from None
    try:
        if len(pdf) > MAX_PAGES:
            raise ValueError(f"the PDF has {len(pdf)} pages; upload at most {MAX_PAGES} at once")
        for index in range(len(pdf)):
            page = pdf[index]
            try:
                width, height = page.get_size()
                scale = PDF_DPI / 72
                if width * height * scale * scale > MAX_PIXELS:
                    scale = math.sqrt(MAX_PIXELS / (width * height))
                pixels = page.render(scale=scale, grayscale=True).to_numpy()
                # a copy: the array views memory that pdfium frees with the bitmap
                image = np.array(pixels[:, :, 0] if pixels.ndim == 3 else pixels, np.uint8)
            except pdfium.PdfiumError:
                image = None
            finally:
                page.close()
            yield index + 1, image
    finally:
        pdf.close()


# ---- One page ---------------------------------------------------------------------------


def read_page(image: Image | None, page: int, sheets: SheetLookup) -> SheetReading:
    """One greyscale page (None when it could not be rasterised)."""
    if image is None or image.size == 0:
        return _unreadable(page, "the page could not be rasterised")
    if image.ndim == 3:
        image = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    if image.shape[1] > image.shape[0]:
        image = np.asarray(cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE), dtype=np.uint8)
    found = _find_marks(image)
    if found is None:
        return _unreadable(
            page,
            "no answer sheet found: the four black corner squares are not all visible; scan "
            "the whole sheet, flat, at 150 dpi or more",
        )
    marks, paper = found
    sheet = _Sheet.upright(image, marks, sheet_frame(paper))
    if sheet.contrast < 60:
        return _unreadable(page, "the scan is too faint to read: scan it darker")
    return sheet.read(page, sheets)


def _unreadable(page: int, why: str) -> SheetReading:
    return SheetReading(page=page, exam_id=None, form=None, candidate_number=None, problems=[why])


def _find_marks(image: Image) -> tuple[Floats, str] | None:
    """The centres of the four corner squares (top-left, top-right, bottom-right,
    bottom-left) and the paper their spacing fits, or None."""
    height, width = image.shape
    otsu, _ = cv2.threshold(image, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    _, binary = cv2.threshold(image, min(otsu, 128.0), 255, cv2.THRESH_BINARY_INV)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    expected = 16.0 * width / 600.0  # the mark's side if the image is the whole page
    candidates: list[tuple[float, float]] = []
    for contour in contours:
        area = cv2.contourArea(contour)
        if not (0.5 * expected) ** 2 <= area <= (1.8 * expected) ** 2:
            continue
        (cx, cy), (rw, rh), _ = cv2.minAreaRect(contour)
        if min(rw, rh) <= 0 or max(rw, rh) / min(rw, rh) > 1.3:
            continue
        if area / (rw * rh) < 0.86 or area / cv2.contourArea(cv2.convexHull(contour)) < 0.92:
            continue  # a circle (a filled bubble) fills 0.79 of its box; a square nearly 1
        x, y, w, h = cv2.boundingRect(contour)
        if binary[y : y + h, x : x + w].mean() < 0.75 * 255:
            continue  # hollow: a QR code's finder pattern is a ring around a smaller square
        candidates.append((cx, cy))
    if len(candidates) < 4:
        return None
    points = np.array(candidates, dtype=np.float32)
    corners = np.array([(0, 0), (width, 0), (width, height), (0, height)], dtype=np.float32)
    chosen = []
    for corner in corners:
        near = points[
            ((points[:, 0] < width / 2) == (corner[0] == 0))
            & ((points[:, 1] < height / 2) == (corner[1] == 0))
        ]
        if len(near) == 0:
            return None
        chosen.append(near[np.argmin(np.hypot(*(near - corner).T))])
    marks = np.array(chosen, dtype=np.float32)
    paper = _paper(marks)
    return None if paper is None else (marks, paper)


def _paper(marks: Floats) -> str | None:
    """The paper whose corner-mark rectangle has the found marks' proportions."""
    top, right, bottom, left = (float(np.hypot(*(marks[(i + 1) % 4] - marks[i]))) for i in range(4))
    if min(top, bottom) < 0.9 * max(top, bottom) or min(left, right) < 0.9 * max(left, right):
        return None
    aspect = (left + right) / (top + bottom)
    for paper in PAGE_SIZES:
        centres = sheet_frame(paper).mark_centres
        expected = (centres[3][1] - centres[0][1]) / (centres[1][0] - centres[0][0])
        if abs(aspect / expected - 1) <= ASPECT_TOLERANCE:
            return paper
    return None


# ---- The normalised sheet ---------------------------------------------------------------


class _Sheet:
    """A page warped onto its sheet's geometry, with grey levels normalised to ink."""

    def __init__(self, image: Image, marks: Floats, frame: SheetFrame) -> None:
        self.image, self.marks, self.frame = image, marks, frame
        target = np.array(frame.mark_centres, dtype=np.float32) * SCALE
        self.transform = cv2.getPerspectiveTransform(marks, target)
        size = (round(frame.width * SCALE), round(frame.height * SCALE))
        shrink = float(np.hypot(*(marks[1] - marks[0]))) / float(target[1][0] - target[0][0])
        source = cv2.GaussianBlur(image, (0, 0), shrink / 2) if shrink > 1.3 else image
        warped = cv2.warpPerspective(
            source, self.transform, size, flags=cv2.INTER_LINEAR, borderValue=255
        )
        self.grey: Image = np.asarray(warped, dtype=np.uint8)
        ink = np.concatenate([self._pixels(mark, 0.25).ravel() for mark in frame.marks])
        self.black = float(np.median(ink))
        self.white = float(np.percentile(self.grey, 90))
        self.contrast = self.white - self.black
        span = max(self.contrast, 1.0)
        self.ink: Floats = np.clip((self.white - self.grey.astype(np.float32)) / span, 0, 1)
        self.qr_text = self._qr()

    @classmethod
    def upright(cls, image: Image, marks: Floats, frame: SheetFrame) -> _Sheet:
        """The sheet the right way up: as scanned if its QR code reads, else turned round
        if that reads, else as scanned."""
        sheet = cls(image, marks, frame)
        if sheet.qr_text is None:
            turned = cls(image, np.roll(marks, 2, axis=0), frame)
            if turned.qr_text is not None:
                return turned
        return sheet

    def _pixels(self, box: Box, inset: float) -> Image:
        x0, y0 = box.x + box.width * inset, box.y + box.height * inset
        x1, y1 = box.right - box.width * inset, box.bottom - box.height * inset
        return self.grey[
            round(y0 * SCALE) : round(y1 * SCALE), round(x0 * SCALE) : round(x1 * SCALE)
        ]

    def _qr(self) -> str | None:
        box = self.frame.qr
        margin = 14.0
        crop = self._pixels(
            Box(box.x - margin, box.y - margin, box.width + 2 * margin, box.height + 2 * margin),
            0.0,
        )
        detector = cv2.QRCodeDetector()
        for attempt in (crop, cv2.resize(crop, None, fx=2, fy=2)):
            try:
                text, _, _ = detector.detectAndDecode(attempt)
            except cv2.error:
                continue
            if text:
                return str(text)
        return None

    def crop(self, box: Box) -> bytes:
        """The region (in points, plus a little room) cut from the scan itself at
        `CROP_SCALE`, as PNG."""
        x0, y0 = box.x - 4.0, box.y - 1.5
        width, height = box.width + 8.0, box.height + 3.0
        ratio = CROP_SCALE / SCALE
        place = np.array(
            [[ratio, 0, -x0 * CROP_SCALE], [0, ratio, -y0 * CROP_SCALE], [0, 0, 1]],
            dtype=np.float64,
        )
        size = (round(width * CROP_SCALE), round(height * CROP_SCALE))
        region = cv2.warpPerspective(
            self.image, place @ self.transform, size, flags=cv2.INTER_LINEAR, borderValue=255
        )
        ok, png = cv2.imencode(".png", region)
        assert ok, "OpenCV encodes any greyscale image as PNG"
        return bytes(png.tobytes())

    # -- measuring --

    def fills(self, bubbles: Sequence[Bubble], radius: float) -> Floats:
        """Each bubble's raw fill: mean of its inner disk's ink and its emptiest eighth's."""
        offsets, sectors = _disk(radius * INNER * SCALE)
        centres = np.array([(b.x, b.y) for b in bubbles], dtype=np.float32) * SCALE
        xs = np.rint(centres[:, 0:1]).astype(np.int64) + offsets[None, :, 0]
        ys = np.rint(centres[:, 1:2]).astype(np.int64) + offsets[None, :, 1]
        height, width = self.ink.shape
        values = self.ink[np.clip(ys, 0, height - 1), np.clip(xs, 0, width - 1)]
        mean = values.mean(axis=1)
        per_sector = (values @ sectors) / sectors.sum(axis=0)
        result: Floats = ((mean + per_sector.min(axis=1)) / 2).astype(np.float32)
        return result

    def box_ink(self, box: Box) -> float:
        """Share of ink pixels inside a write-in box, its printed outline left out."""
        inset = 2.5
        inner = Box(box.x + inset, box.y + inset, box.width - 2 * inset, box.height - 2 * inset)
        x0, y0 = round(inner.x * SCALE), round(inner.y * SCALE)
        x1, y1 = round(inner.right * SCALE), round(inner.bottom * SCALE)
        region = self.ink[y0:y1, x0:x1]
        return float((region > 0.5).mean()) if region.size else 0.0

    # -- reading --

    def read(self, page: int, sheets: SheetLookup) -> SheetReading:
        problems: list[str] = []
        base = self._blank_level(self.frame.number_grid)
        bubbled = self._number(base, problems)
        parsed = parse_qr_payload(self.qr_text) if self.qr_text else None
        if self.qr_text and parsed is None:
            problems.append("the QR code is not one of this service's answer sheets")
        if parsed is None:
            problems.append("the QR code could not be read: check which exam and form this is")
            if bubbled is None:
                problems.append("neither the QR code nor the candidate number could be read")
            return SheetReading(page, None, None, bubbled, [], problems)
        exam_id, form, printed = parsed
        number = _candidate(printed or None, bubbled, problems)
        if number is None and not problems:
            problems.append("the sheet has no candidate number: bubble it, then scan again")
        layout = sheets(exam_id, form)
        if layout is None:
            problems.append(
                f"the QR code names paper exam {exam_id} form {form}, which does not "
                "exist: was the sheet printed for another exam?"
            )
            return SheetReading(page, exam_id, form, number, [], problems)
        if layout.frame.paper != self.frame.paper:
            problems.append(
                f"the sheet is printed on {self.frame.paper} but form {form} is laid out for "
                f"{layout.frame.paper}: print the form's own sheets"
            )
            return SheetReading(page, exam_id, form, number, [], problems)
        answers = self._answers(layout)
        return SheetReading(page, exam_id, form, number, answers, problems)

    def _blank_level(self, columns: Sequence[Sequence[Bubble]]) -> float:
        """The fill of an empty bubble on this sheet (its printed letter), from the median
        bubble: most bubbles on a sheet are empty."""
        bubbles = [bubble for column in columns for bubble in column]
        if not bubbles:
            return 0.0
        raw = self.fills(bubbles, BUBBLE_RADIUS)
        return min(float(np.median(raw)), 0.2)

    def _number(self, base: float, problems: list[str]) -> str | None:
        """The candidate number bubbled on the sheet: one digit per column, from the left;
        None when no column is filled or a column is unclear."""
        digits: list[str] = []
        ended = False
        for column in self.frame.number_grid:
            fills = _corrected(self.fills(column, BUBBLE_RADIUS), base)
            marked = [b.label for b, f in zip(column, fills, strict=True) if f > FILLED]
            unclear = any(BLANK <= f <= FILLED for f in fills)
            if unclear or len(marked) > 1:
                problems.append("a candidate-number column has an unclear or double mark")
                return None
            if not marked:
                ended = True
                continue
            if ended:
                problems.append("the candidate number has an empty column between digits")
                return None
            digits.append(marked[0])
        return "".join(digits) or None

    def _answers(self, layout: SheetLayout) -> list[AnswerReading]:
        bubbles = [bubble for row in layout.rows for bubble in row.bubbles]
        raw = self.fills(bubbles, layout.bubble_radius) if bubbles else np.zeros(0, np.float32)
        base = min(float(np.median(raw)), 0.2) if len(raw) else 0.0
        fills = _corrected(raw, base)
        answers, start = [], 0
        for row in layout.rows:
            if row.boxes and not row.numeric:
                answers.append(self._boxes(row))
                continue
            row_fills = fills[start : start + len(row.bubbles)]
            start += len(row.bubbles)
            reader = self._grid if row.numeric else self._bubbles
            answers.append(reader(row, row_fills))
        return answers

    def _bubbles(self, row: SheetRow, fills: Floats) -> AnswerReading:
        rounded = tuple(round(float(f), 3) for f in fills)
        marked = "".join(b.label for b, f in zip(row.bubbles, fills, strict=True) if f > FILLED)
        unclear = any(BLANK <= f <= FILLED for f in fills)
        if unclear or (row.single and len(marked) > 1):
            return AnswerReading(row.number, "", 0.0, "review", self.crop(row.area), rounded)
        margins = [
            (f - FILLED) / (1 - FILLED) if f > FILLED else (BLANK - f) / BLANK for f in fills
        ]
        confidence = round(0.5 + 0.5 * min(1.0, max(0.0, min(margins))), 3)
        return AnswerReading(
            row.number, marked, confidence, "ok" if marked else "blank", None, rounded
        )

    def _grid(self, row: SheetRow, fills: Floats) -> AnswerReading:
        """A numeric question's digit grid (see the module docstring)."""
        rounded = tuple(round(float(f), 3) for f in fills)
        characters, problems, start = [], [], 0
        for index, (column, box) in enumerate(zip(row.columns, row.boxes, strict=True)):
            column_fills = fills[start : start + len(column)]
            start += len(column)
            name = column_name(index)
            marked = [b.label for b, f in zip(column, column_fills, strict=True) if f > FILLED]
            unclear = any(BLANK <= f <= FILLED for f in column_fills)
            if len(marked) > 1:
                problems.append(f"{name}: two bubbles filled ({' and '.join(marked)})")
            elif unclear:
                problems.append(f"{name}: a light, partial or crossed-out mark")
            elif not marked and self.box_ink(box) >= BOX_INK:
                problems.append(f"{name}: written in the box but no bubble filled")
            # "?" for an unclear column: not blank, so no gap is reported around it
            characters.append(marked[0] if len(marked) == 1 else "?" if marked or unclear else "")
        problems += _grid_problems(characters)
        if problems:
            note = "; ".join(problems)
            return AnswerReading(row.number, "", 0.0, "review", self.crop(row.area), rounded, note)
        value = "".join(characters).replace(MINUS, "-")
        if not value:
            return AnswerReading(row.number, "", 1.0, "blank", None, rounded)
        margins = [
            (f - FILLED) / (1 - FILLED) if f > FILLED else (BLANK - f) / BLANK for f in fills
        ]
        confidence = round(0.5 + 0.5 * min(1.0, max(0.0, min(margins))), 3)
        return AnswerReading(row.number, value, confidence, "ok", None, rounded)

    def _boxes(self, row: SheetRow) -> AnswerReading:
        inks = tuple(round(self.box_ink(box), 3) for box in row.boxes)
        if max(inks) < BOX_INK:
            return AnswerReading(row.number, "", 1.0, "blank", None, inks)
        return AnswerReading(row.number, "", 0.0, "review", self.crop(row.area), inks)


def column_name(index: int) -> str:
    """A digit grid's column as a reviewer is told of it: the sign column, then digit
    columns 1, 2, ... from the left."""
    return "the sign column" if index == 0 else f"digit column {index}"


def _grid_problems(characters: Sequence[str]) -> list[str]:
    """What makes a digit grid's characters (one per column, the sign column first; ""
    for blank, "?" for unclear) not one number."""
    sign, digits = characters[0], characters[1:]
    used = [index for index, character in enumerate(digits, 1) if character]
    problems = []
    if used:
        gaps = [index for index in range(used[0], used[-1]) if not digits[index - 1]]
        problems += [f"{column_name(index)} is blank between characters" for index in gaps]
    points = [index for index in used if digits[index - 1] == POINT]
    if len(points) > 1:
        listed = " and ".join(map(str, points))
        problems.append(f"two decimal points (digit columns {listed})")
    if not any(digits[index - 1] != POINT for index in used):
        if sign:
            problems.append("a minus sign but no digits")
        elif points:
            problems.append("a decimal point but no digits")
    return problems


def _corrected(raw: Floats, base: float) -> Floats:
    """Fills with the sheet's blank level taken off, rescaled to 0..1."""
    result: Floats = np.clip((raw - base) / (1 - base), 0, 1).astype(np.float32)
    return result


def _candidate(printed: str | None, bubbled: str | None, problems: list[str]) -> str | None:
    """The candidate number from the QR code and the bubbles; None when they disagree."""
    if printed and bubbled and printed != bubbled:
        problems.append(
            f"the QR code says candidate {printed} but the number bubbles say {bubbled}: check "
            "whose sheet this is"
        )
        return None
    return printed or bubbled


_DISKS: dict[float, tuple[npt.NDArray[np.int64], Floats]] = {}


def _disk(radius: float) -> tuple[npt.NDArray[np.int64], Floats]:
    """Pixel offsets (x, y) inside a disk and a one-hot matrix of their 45° sectors."""
    found = _DISKS.get(radius)
    if found is None:
        reach = math.ceil(radius)
        ys, xs = np.mgrid[-reach : reach + 1, -reach : reach + 1]
        inside = xs**2 + ys**2 <= radius**2
        offsets = np.stack([xs[inside], ys[inside]], axis=1).astype(np.int64)
        angles = np.arctan2(offsets[:, 1], offsets[:, 0])
        # Sectors centred on 0°, 45°, 90°, ...: the arms of an X (or a +) run along the
        # middle of four of them and leave the four between nearly empty.
        sector = ((angles + math.pi + math.pi / 8) / (math.pi / 4)).astype(np.int64) % 8
        centre = (offsets == 0).all(axis=1)
        onehot = np.zeros((len(offsets), 8), dtype=np.float32)
        onehot[np.arange(len(offsets)), sector] = 1.0
        onehot[centre] = 1.0  # the centre pixel belongs to every sector
        found = _DISKS[radius] = (offsets, onehot)
    return found
