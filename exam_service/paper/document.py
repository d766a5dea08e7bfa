"""A paper exam as the printers and the scanner see it: plain data, no database.

Answers and keys are strings in the form's numbering (DESIGN.md): letters for `single`
and `multiple` ("B", "AC"), the letters in order for `ordering` ("CADB"), and for
`matching` the letter chosen for each prompt in prompt order ("BAC"); "" is unanswered.
`numeric`: the number ("-12.5"); its key also gives the accepted range,
"1200 (± 2%: 1176 to 1224)" (`exam_service.paper.answers.answer_text`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

INSTRUCTIONS = (
    "Write your name and candidate number in the boxes, and bubble the number on the answer sheet.",
    "Single-answer questions: fill one bubble. Questions that say (Choose two.) or "
    "(Choose three.): fill that many bubbles.",
    "Ordering questions: write the letters in the right order, e.g. CADB.",
    "Matching questions: for each numbered prompt write the letter of its match, in prompt "
    "order, e.g. BAC.",
    "Unanswered questions score nothing; there is no penalty for guessing.",
)


@dataclass(frozen=True)
class PaperQuestion:
    """One question as a form prints it."""

    number: int
    """1-based position in this form."""
    type: str
    """`single`, `multiple`, `ordering`, `matching` or `numeric`."""
    stem: str
    options: tuple[str, ...] = ()
    """Option texts in printed order (A, B, C, ...); for `ordering`, the things to order."""
    choose: int | None = None
    prompts: tuple[str, ...] = ()
    """Matching: prompt texts in printed order (numbered 1, 2, ...)."""
    choices: tuple[str, ...] = ()
    """Matching: choice texts in printed order (A, B, ...)."""
    case_id: str | None = None
    case_title: str | None = None
    case_scenario: str | None = None
    unit: str | None = None
    """`numeric`: the unit the answer is in (printed after the question), if any."""
    question_key: str = ""
    """A stable identity of the question (the same on every form), e.g. its revision id;
    renderers may use it to compute a question's layout once for all forms."""


@dataclass(frozen=True)
class PrintedForm:
    code: str
    """"A", "B", ..."""
    questions: tuple[PaperQuestion, ...]
    key: tuple[str, ...]
    """The answer string of each question, in this form's numbering."""


@dataclass(frozen=True)
class PaperExamDocument:
    exam_id: int
    title: str
    paper: str
    """`a4` or `letter`."""
    time_minutes: int | None
    forms: tuple[PrintedForm, ...]
    instructions: tuple[str, ...] = field(default=())

    def form(self, code: str) -> PrintedForm:
        for form in self.forms:
            if form.code == code:
                return form
        raise KeyError(code)


@dataclass(frozen=True)
class SheetCandidate:
    """Who an answer sheet is for; `number` is bubbled and printed on the sheet."""

    username: str
    display_name: str
    number: str
    """The candidate number: digits only, at most 8."""
