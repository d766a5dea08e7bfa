"""Numeric answers: what is read as a number, the bands that score it, and how an attempt
shows, checks and keys a numeric item."""

from __future__ import annotations

from typing import Any

import pytest

from exam_service.exams.delivery import (
    AnswerRejected,
    answer_spec,
    check_answer,
    display_key,
    numeric_mistake,
    rationales,
    shown,
)
from exam_service.grading import numeric
from exam_service.grading.scoring import item_points

CONTENT: dict[str, Any] = {
    "key": 1200,
    "tolerance": "2%",
    "unit": "iterations",
    "partial": {"tolerance": "5%", "credit": 0.5},
    "rationale": "60,000 / 50 = 1,200",
    "mistakes": [
        {"value": 3000000, "rationale": "multiplied instead of divided"},
        {"value": 1100, "rationale": "left out the last batch"},
    ],
    "explanation": "One epoch passes every sample once.",
    "tags": [],
}
SPEC = answer_spec("numeric", CONTENT, {"options": []})


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("1,200", 1200),
        ("1200", 1200),
        ("1.2e3", 1200),
        ("1.2E3", 1200),
        (" 1 200 ", 1200),
        ("1\u00a0200", 1200),
        ("1'200", 1200),
        ("12,345,678.5", 12345678.5),
        ("+1200", 1200),
        ("\u22121200", -1200),  # the minus sign
        (".5", 0.5),
        ("5.", 5),
        ("0", 0),
        ("-0", 0),
        ("1200 iterations", 1200),
        ("1200Iterations", 1200),
        (1200, 1200),
        (1200.0, 1200),
        (0.1, 0.1),
        (1e20, 1e20),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_numbers_are_read_and_stored_normalised(sent: object, stored: object) -> None:
    got = check_answer(SPEC, sent)
    assert got == stored and type(got) is type(stored)


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        ("twelve", "'twelve' is not a number: type digits, e.g. 1200, 1,200, 1.5 or 1.2e3 "),
        ("twelve", "(the answer is in iterations; typing the unit is optional)"),
        ("1,5", "'1,5': write decimals with a point (1.5, 0.125)"),
        ("0,125", "a comma only separates thousands in groups of three digits (1,200)"),
        ("1.234,5", "write decimals with a point"),
        ("12,00", "write decimals with a point"),
        ("1200 s", "'1200 s': the answer is in iterations; type the number alone, e.g. 1200"),
        ("1e999", "the number is too large"),
        ("1" * 51, "the answer has 51 characters; type the number alone (at most 50"),
        (True, "a numeric answer is a number, not true"),
        (["1200"], "a numeric answer is a number or a string holding one"),
    ],
)
def test_what_is_not_a_number_is_refused_saying_what_to_type(sent: object, message: str) -> None:
    with pytest.raises(AnswerRejected) as caught:
        check_answer(SPEC, sent)
    assert message in str(caught.value)


def test_a_question_without_unit_refuses_a_typed_unit() -> None:
    spec = answer_spec("numeric", {**CONTENT, "unit": None}, {})
    with pytest.raises(AnswerRejected, match="no unit is asked for; type the number alone"):
        check_answer(spec, "30 %")


def test_number_text_is_one_text_per_number() -> None:
    assert numeric.number_text(1200.0) == "1200"
    assert numeric.number_text(0.1) == "0.1"
    assert numeric.number_text(1e20) == "1e+20"
    assert numeric.number_text(10**20) == "1e+20"  # PostgreSQL's jsonb gives it back as an int
    assert numeric.number_text(-2.5) == "-2.5"


@pytest.mark.parametrize(
    ("raw", "relative", "text"),
    [(None, False, "\u00b1 0"), (0.5, False, "\u00b1 0.5"), ("2%", True, "\u00b1 2%"),
     (" 2.5 % ", True, "\u00b1 2.5%"), ("0.5", False, "\u00b1 0.5")],
)  # fmt: skip
def test_tolerances(raw: object, relative: bool, text: str) -> None:
    tolerance = numeric.parse_tolerance(raw)
    assert (tolerance.relative, tolerance.text()) == (relative, text)


@pytest.mark.parametrize(
    ("raw", "message"),
    [(-1, "a finite number of 0 or more"), ("two", "write 0.5 (plus or minus 0.5) or '2%'"),
     ("0%", "more than 0% and below 100%"), ("150%", "more than 0% and below 100%"),
     (True, "not true or false")],
)  # fmt: skip
def test_bad_tolerances_say_what_to_write(raw: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        numeric.parse_tolerance(raw)
    assert message in str(caught.value)


def key(value: float, tolerance: object, partial: object = None) -> dict[str, Any]:
    content = {"key": value, "tolerance": tolerance, "partial": partial}
    return numeric.numeric_key(content)


@pytest.mark.parametrize(
    ("tolerance", "answer", "band"),
    [
        # absolute, both edges included, in decimal arithmetic (1.3 - 1.0 is not 0.3 in binary)
        (0.3, 1.3, "right"),
        (0.3, 0.7, "right"),
        (0.3, 1.3000001, "wrong"),
        (0.3, 0.6999999, "wrong"),
        (0, 1.0, "right"),
        (0, 1.0000001, "wrong"),
        # relative: 10% of 1.0
        ("10%", 1.1, "right"),
        ("10%", 0.9, "right"),
        ("10%", 1.1000001, "wrong"),
    ],
)
def test_band_edges_are_inclusive(tolerance: object, answer: float, band: str) -> None:
    assert numeric.band(key(1.0, tolerance), answer) == band


def test_relative_tolerance_of_a_negative_answer_uses_its_size() -> None:
    negative = key(-100, "5%")
    assert (negative["low"], negative["high"]) == (-105, -95)
    assert numeric.band(negative, -105) == "right" and numeric.band(negative, -94.9) == "wrong"


def test_relative_tolerance_around_zero_accepts_only_zero() -> None:
    around_zero = key(0, "5%", {"tolerance": "50%", "credit": 0.5})
    assert (around_zero["low"], around_zero["high"]) == (0, 0)
    assert numeric.band(around_zero, 0) == "right"
    assert numeric.band(around_zero, 0.0) == "right"
    assert numeric.band(around_zero, 1e-12) == "wrong"
    assert numeric.band(around_zero, -1e-12) == "wrong"
    # an absolute tolerance around 0 works as anywhere else
    assert numeric.band(key(0, 0.01), -0.01) == "right"


@pytest.mark.parametrize(
    ("answer", "partial_credit", "points"),
    [
        (1200, False, 1.0),
        (1224, False, 1.0),  # 2% edge
        (1176, True, 1.0),
        (1225, True, 0.5),  # past 2%, within 5%
        (1260, True, 0.5),  # 5% edge
        (1260, False, 0.0),  # no partial credit on this blueprint
        (1261, True, 0.0),
        (1139, True, 0.0),
        (None, True, 0.0),
    ],
)
def test_points_within_the_tolerance_the_partial_band_or_nothing(
    answer: float | None, partial_credit: bool, points: float
) -> None:
    the_key = display_key("numeric", CONTENT, {})
    assert item_points("numeric", the_key, answer, partial_credit=partial_credit) == points


def test_zero_is_an_answer_not_a_blank() -> None:
    zero_key = display_key("numeric", {**CONTENT, "key": 0, "tolerance": 0.5}, {})
    assert item_points("numeric", zero_key, 0) == 1.0
    assert item_points("numeric", zero_key, 0.5) == 1.0


def test_the_key_shows_the_accepted_range_and_a_template_may_draw_its_own_answer() -> None:
    assert display_key("numeric", CONTENT, {}) == {
        "value": 1200,
        "tolerance": "2%",
        "low": 1176,
        "high": 1224,
        "unit": "iterations",
        "partial": {"tolerance": "5%", "credit": 0.5, "low": 1140, "high": 1260},
    }
    drawn = display_key("numeric", CONTENT, {"key": 500})
    assert (drawn["value"], drawn["low"], drawn["high"]) == (500, 490, 510)
    assert item_points("numeric", drawn, 510) == 1.0 and item_points("numeric", drawn, 1200) == 0
    text = numeric.shown_text(display_key("numeric", CONTENT, {}), "s")
    assert text == "1200 s (accepted: 1176 to 1224 s); partial credit from 1140 to 1260 s"
    assert numeric.shown_text(1150, "s") == "1150 s"


def test_a_known_mistake_is_recognised_within_the_tolerance_of_its_value() -> None:
    assert numeric_mistake(CONTENT, {}, 3000000) == "multiplied instead of divided"
    assert numeric_mistake(CONTENT, {}, 3050000) == "multiplied instead of divided"  # within 2%
    assert numeric_mistake(CONTENT, {}, 3100000) is None
    assert numeric_mistake(CONTENT, {}, 1100) == "left out the last batch"
    assert numeric_mistake(CONTENT, {}, 1200) is None  # right answers are no mistake
    assert numeric_mistake(CONTENT, {}, None) is None
    # a template's drawn mistake values replace the bank's, in the same order
    assert numeric_mistake(CONTENT, {"mistakes": [7, 9]}, 9) == "left out the last batch"


def test_numeric_items_show_no_options_and_their_rationale_under_key() -> None:
    assert shown(CONTENT, {"options": []}) == {"options": [], "prompts": [], "choices": []}
    assert rationales(CONTENT, {"options": []}) == {"key": "60,000 / 50 = 1,200"}
    assert SPEC.unit == "iterations"


def test_chosen_text_records_band_and_number() -> None:
    the_key = display_key("numeric", CONTENT, {})
    assert numeric.chosen_text(the_key, 1200.0) == "right:1200"
    assert numeric.chosen_text(the_key, 1250) == "partial:1250"
    assert numeric.chosen_text(the_key, 12) == "wrong:12"
