"""Numeric questions in and out of GIFT, Moodle XML and QTI 3: numerical answers read into
the answer, its tolerance, the partial band and the known mistakes (and what has no place
named in a warning); exports that read back to the same numbers; QTI items that score
within the tolerance."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from exam_service.bank.format import MistakeFile, PartialBand, QuestionFile
from exam_service.bank.formats import qti
from exam_service.bank.formats.common import read_number
from exam_service.bank.interchange import ParsedImport, export_bank, parse_import
from exam_service.bank.loader import QuestionSpec, build_question, check_question, load_bank
from exam_service.grading import numeric
from tests.conftest import FIXTURE_BANK

SAMPLES = Path(__file__).parents[1] / "fixtures" / "interchange"
OBJECTIVES = load_bank(FIXTURE_BANK).objectives
CODES = {o.code for o in OBJECTIVES}
NS = f"{{{qti.QTI}}}"


def run(name: str, body: bytes | None = None, fmt: str | None = None) -> ParsedImport:
    data = (SAMPLES / name).read_bytes() if body is None else body
    return parse_import(name, data, fmt, OBJECTIVES, None, "D2.1.2")


def by_id(result: ParsedImport) -> dict[str, QuestionSpec]:
    return {spec.id: spec for spec in result.specs}


def numbers(spec: QuestionSpec) -> dict[str, Any]:
    """The numeric fields of a question's content."""
    names = ("key", "tolerance", "unit", "partial", "rationale", "mistakes")
    return {name: spec.content[name] for name in names}


def warned(result: ParsedImport, qid: str) -> list[str]:
    return [w.message for w in result.warnings if w.question == qid]


def make_numeric(
    qid: str = "iterations",
    answer: float = 1200,
    tolerance: float | str | None = "2%",
    unit: str | None = "iterations",
    partial: PartialBand | None = None,
    mistakes: list[MistakeFile] | None = None,
    rationale: str = "60,000 / 50 = 1,200.",
    stem: str = "60,000 samples, batch 50: how many iterations make one epoch?",
) -> QuestionSpec:
    q = QuestionFile(
        id=qid,
        type="numeric",
        objectives=["D2.1.2", "D2.1.3"],
        difficulty="easy",
        source="Worked examples",
        stem=stem,
        explanation="One epoch passes every sample once.",
        answer=answer,
        tolerance=tolerance,
        unit=unit,
        partial=partial,
        rationale=rationale,
        mistakes=mistakes or [],
    )
    assert check_question(q, CODES, {}) == []
    return build_question(q, None, "numeric.yaml", 1)


def absolute(spec: QuestionSpec) -> dict[str, Any]:
    """What GIFT and Moodle XML carry of a numeric question: every band as its absolute
    width around the answer."""
    content = spec.content
    centre = numeric.exact(content["key"])

    def width(raw: Any) -> numeric.Number:
        return numeric.stored(numeric.parse_tolerance(raw).width(centre))

    partial = content["partial"]
    return {
        "stem": spec.stem,
        "explanation": content["explanation"],
        "objectives": spec.objectives,
        "answer": content["key"],
        "tolerance": width(content["tolerance"]),
        "unit": content["unit"],
        "partial": (width(partial["tolerance"]), partial["credit"]) if partial else None,
        "rationale": content["rationale"],
        "mistakes": [(m["value"], m["rationale"]) for m in content["mistakes"]],
    }


# --- reading numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("1200", 1200), ("-0.5", -0.5), ("1.2e3", 1200), ("+.25", 0.25), ("1200.0000000", 1200)],
)
def test_numbers_are_read_as_the_formats_write_them(text: str, value: float) -> None:
    assert read_number(text) == value


@pytest.mark.parametrize("text", ["1,200", "twelve", "inf", "nan", "1_000", "", "0x10", "1e99999"])
def test_anything_else_is_refused_saying_what_to_write(text: str) -> None:
    with pytest.raises(ValueError, match="write digits with a point for decimals"):
        read_number(text)


# --- GIFT in --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gift() -> ParsedImport:
    return run("numerical.gift")


def test_gift_numerical_forms_become_numeric_questions(gift: ParsedImport) -> None:
    assert gift.errors == [] and gift.skipped == []
    questions = by_id(gift)
    assert list(questions) == [
        "epochs",
        "range",
        "iterations",
        "spot-saving",
        "negative",
        "scientific",
        "crowded",
    ]
    assert {q.type for q in questions.values()} == {"numeric"}
    assert {q.objectives for q in questions.values()} == {("D2.2.5",)}  # from $CATEGORY
    # {#25:5}: 25 plus or minus 5
    assert numbers(questions["epochs"]) == {
        "key": 25,
        "tolerance": 5,
        "unit": None,
        "partial": None,
        "rationale": "",
        "mistakes": [],
    }
    # {#1..5}: the midpoint, plus or minus half the width
    assert (questions["range"].content["key"], questions["range"].content["tolerance"]) == (3, 2)
    assert (questions["negative"].content["key"], questions["negative"].content["tolerance"]) == (
        -1.5,
        0.01,
    )
    scientific = questions["scientific"].content
    assert (scientific["key"], scientific["tolerance"]) == (1200, 50)


def test_gift_weighted_answers_give_the_partial_band_and_the_known_mistakes(
    gift: ParsedImport,
) -> None:
    iterations = by_id(gift)["iterations"]
    assert numbers(iterations) == {
        "key": 1200,
        "tolerance": 0,
        "unit": "iterations",  # from the // [unit:iterations] comment
        "partial": {"tolerance": 60, "credit": 0.5},
        "rationale": "60,000 / 50 = 1,200.",
        "mistakes": [
            {"value": 3000000, "rationale": "That multiplies the samples by the batch size."}
        ],
    }
    assert iterations.stem == "60,000 samples, batch 50: how many iterations make one epoch?"
    assert iterations.content["explanation"] == "An epoch passes every sample once."
    assert warned(gift, "iterations") == [
        "answer 2 (1200 \u00b1 60, 50%): its feedback is not kept (the partial band has none)"
    ]


def test_gift_feedback_becomes_the_rationale_else_the_general_feedback_else_a_warning(
    gift: ParsedImport,
) -> None:
    questions = by_id(gift)
    assert questions["negative"].content["rationale"] == "1.0 - 2.5 = -1.5"
    assert questions["range"].content["rationale"] == "Any size from 1 to 5 works."
    assert warned(gift, "range") == [
        "no feedback on the right answer: its rationale is the general feedback; write how "
        "the answer is worked out in the bank"
    ]
    assert warned(gift, "epochs") == [
        "no feedback on the right answer and no general feedback: imported with an empty "
        "rationale; write how the answer is worked out in the bank",
        "no general feedback: imported with an empty explanation; write one in the bank",
    ]


def test_gift_answers_with_no_place_are_named_in_warnings(gift: ParsedImport) -> None:
    spot = by_id(gift)["spot-saving"].content
    assert spot["mistakes"] == [{"value": 30, "rationale": "30% is the share still paid."}]
    assert warned(gift, "spot-saving") == [
        "answer 2 (30 \u00b1 1, 25%): its 25% credit is not kept; it is a known mistake "
        "(scores 0, its feedback shown in the review)",
        "answer 2 (30 \u00b1 1, 25%): its tolerance is not kept; the bank matches a known "
        "mistake within the question's tolerance (\u00b1 0.5)",
        "answer 3 (*, any other value): its feedback is not kept (the bank has no feedback "
        "for every other answer)",
    ]
    crowded = by_id(gift)["crowded"].content
    assert crowded["partial"] == {"tolerance": 5, "credit": 0.5}
    assert [m["value"] for m in crowded["mistakes"]] == [104, 200, 300]
    found = warned(gift, "crowded")
    for expected in (
        "answer 4 (100 \u00b1 10, 25%) is not kept: the bank has one partial-credit band",
        "answer 5 (100.5) lies within the right answer's tolerance: not kept",
        "answer 6 (150) has no feedback: not kept (every value outside the bands scores 0)",
        "answer 8 (200) repeats the value 200: not kept",
        "answer 9 (300 \u00b1 3): its tolerance is not kept; the bank matches a known mistake "
        "within the question's tolerance (\u00b1 1)",
        "answer 2 (104) comes before the partial band and lies in it: here it earns the "
        "partial credit (its feedback is still shown)",
    ):
        assert expected in found, found


GIFT_ERRORS = [
    ("::A::Q {#abc}", "answer 1: 'abc' is not a number: write digits with a point"),
    ("::A::Q {#5..1}", "answer 1: the range 5..1 runs backwards: write min..max"),
    ("::A::Q {#3:-1}", "answer 1: the tolerance -1 is negative: use 0 or more"),
    ("::A::Q {#3:x}", "answer 1's tolerance: 'x' is not a number"),
    ("::A::Q {#=}", "answer 1 is empty: write value:tolerance (3:0.5) or min..max (1..5)"),
    ("::A::Q {#=%150%3}", "answer 1 has weight 150%: use 0 to 100"),
    ("::A::Q {#=%50%3:1}", "no numerical answer gives full marks: mark the right one"),
    ("::A::Q {#=1:0 =2:0}", "2 numerical answers give full marks (answer 1 (1), answer 2 (2))"),
]


@pytest.mark.parametrize(("text", "message"), GIFT_ERRORS)
def test_gift_numerical_errors_say_what_to_write(text: str, message: str) -> None:
    result = run("q.gift", text.encode(), "gift")
    assert result.specs == []
    assert [e.where for e in result.errors] == ["line 1"]
    assert message in result.errors[0].message, result.errors[0].message


def test_a_unit_comment_on_another_question_is_ignored_with_a_warning() -> None:
    result = run("q.gift", b"// [unit:s]\n::A::True? {T#No.#Yes. ####Because.}\n", "gift")
    assert result.errors == [] and result.specs[0].type == "single"
    assert "a // [unit:...] comment applies to numerical questions only: ignored" in (
        warned(result, "a")
    )


# --- Moodle XML in --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moodle() -> ParsedImport:
    return run("numerical.xml")


def test_moodle_numerical_becomes_a_numeric_question(moodle: ParsedImport) -> None:
    assert moodle.errors == [] and moodle.skipped == []
    iterations = by_id(moodle)["iterations"]
    assert numbers(iterations) == {
        "key": 1200,
        "tolerance": 24,  # Moodle's tolerance is absolute
        "unit": "iterations",  # the unit of multiplier 1
        "partial": {"tolerance": 60, "credit": 0.5},  # "1200.0000000" is the same value
        "rationale": "60,000 / 50 = 1,200.",
        "mistakes": [
            {"value": 3000000, "rationale": "That multiplies the samples by the batch size."}
        ],
    }
    assert iterations.stem == "60,000 samples, batch 50: how many iterations make one epoch?"
    assert iterations.content["explanation"] == "An epoch passes every sample once."
    assert iterations.objectives == ("D2.2.5",)
    where = 'question[2] (numerical "Iterations")'
    assert [(w.where, w.message) for w in moodle.warnings if w.question == "iterations"] == [
        (
            where,
            "unit(s) k iterations (multiplier 0.001) not kept: the bank takes one unit, the "
            "answer's own (multiplier 1, at most 20 characters); answers are in iterations",
        ),
        (
            where,
            "Moodle graded the unit (unitgradingtype 1): here typing the unit is optional and "
            "never costs marks",
        ),
        (
            where,
            "answer 4 (*, any other value): its feedback is not kept (the bank has no feedback "
            "for every other answer)",
        ),
    ]


def test_moodle_numerical_without_tolerance_or_answer_feedback(moodle: ParsedImport) -> None:
    batch = by_id(moodle)["global-batch"]
    assert numbers(batch) == {
        "key": 256,
        "tolerance": 0,
        "unit": None,  # its only unit has multiplier 1000: named in a warning
        "partial": None,
        "rationale": "8 x 32 = 256 samples per step.",  # the general feedback
        "mistakes": [{"value": 32, "rationale": "One GPU's batch."}],
    }
    assert any("k samples (multiplier 1000) not kept" in m for m in warned(moodle, "global-batch"))


def numerical_xml(answers: str) -> bytes:
    return (
        '<quiz><question type="numerical"><name><text>Bad</text></name>'
        "<questiontext><text>How many?</text></questiontext>"
        f"{answers}</question></quiz>"
    ).encode()


@pytest.mark.parametrize(
    ("answers", "where", "message"),
    [
        (
            '<answer fraction="100"><text>twelve</text></answer>',
            "answer[1]",
            "'twelve' is not a number: write digits with a point for decimals, e.g. 1200, 0.5 "
            "or 1.2e3 (or * for any other value)",
        ),
        (
            '<answer fraction="100"><text>12</text><tolerance>-1</tolerance></answer>',
            "answer[1]/tolerance",
            "the tolerance -1 is negative: use 0 or more",
        ),
        (
            '<answer fraction="lots"><text>12</text></answer>',
            "answer[1]",
            'fraction="lots" is not a percentage: use 0 to 100',
        ),
        ("", "", "no <answer> elements: add the right answer with its <tolerance>"),
    ],
)
def test_moodle_numerical_errors_name_the_element(answers: str, where: str, message: str) -> None:
    result = run("bad.xml", numerical_xml(answers), "moodle-xml")
    label = 'question[1] (numerical "Bad")'
    assert [(e.where, e.message) for e in result.errors] == [
        (f"{label}/{where}" if where else label, message)
    ]


# --- out, and back in -----------------------------------------------------------------------

ROUND_TRIP = [
    make_numeric(),  # 2% of 1200, written as 24
    make_numeric(
        "spot-saving",
        70,
        0.5,
        "%",
        PartialBand(2, 0.5),
        [MistakeFile(30, "30% is what is still paid: the saving is 70%.")],
        "(40 - 12) / 40 = 0.7: 70%.",
        stem="On demand {$40}, with Spot $12 ~ what percent = saved? #1",
    ),
    make_numeric(
        "lora",
        131072,
        None,
        "parameters",
        PartialBand("1%", 0.25),
        [
            MistakeFile(65536, "One matrix of the two."),
            MistakeFile(16777216, "The frozen matrix: {not} trained # at all."),
        ],
    ),
    make_numeric("loss-change", -1.5, "2%", None, None, [], "1.0 - 2.5 = -1.5; 2% is 0.03."),
    make_numeric("small", 0.0001, 0.00005, "s", PartialBand(0.0002, 0.75), []),
    make_numeric("huge", 1.5e20, "0.5%", None, None, [MistakeFile(1.5e19, "Off by ten.")]),
]


@pytest.mark.parametrize("fmt", ["gift", "moodle-xml"])
def test_numeric_questions_round_trip(fmt: str) -> None:
    body, _, extension = export_bank(fmt, ROUND_TRIP, OBJECTIVES)
    result = parse_import(f"bank.{extension}", body, None, OBJECTIVES)
    assert result.format == fmt
    assert result.errors == [] and result.skipped == [] and result.warnings == []
    assert [absolute(q) for q in result.specs] == [absolute(q) for q in ROUND_TRIP]
    assert {q.type for q in result.specs} == {"numeric"}


def test_gift_export_writes_absolute_tolerances_with_a_comment() -> None:
    text = export_bank("gift", ROUND_TRIP[:3], OBJECTIVES)[0].decode()
    assert "numeric questions are not exported" not in text
    block = text.split("::iterations::")[1].split("\n}\n")[0]
    assert block.splitlines()[1:] == [
        "=1200:24#60,000 / 50 \\= 1,200.",
        "####One epoch passes every sample once.",
    ]
    assert (
        "// iterations: the tolerance 2% is written as the absolute 24 (2% of 1200); GIFT "
        "tolerances are absolute\n// [unit:iterations]"
    ) in text
    spot = text.split("::spot-saving::")[1].split("\n}\n")[0]
    assert spot.splitlines() == [
        "On demand \\{$40\\}, with Spot $12 \\~ what percent \\= saved? \\#1 {#",
        "=70:0.5#(40 - 12) / 40 \\= 0.7\\: 70%.",
        "=%50%70:2",
        "=%0%30:0.5#30% is what is still paid\\: the saving is 70%.",
        "####One epoch passes every sample once.",
    ]
    lora = text.split("// lora: ")[1]
    assert lora.startswith("the partial band 1% is written as the absolute 1310.72")


def test_moodle_xml_export_writes_a_numerical_question() -> None:
    body = export_bank("moodle-xml", ROUND_TRIP[:2], OBJECTIVES)[0]
    text = body.decode()
    assert "<!-- iterations: the tolerance 2% is written as the absolute 24 (2% of 1200)" in text
    questions = [q for q in fromstring(body, forbid_dtd=True) if q.get("type") == "numerical"]
    assert len(questions) == 2
    spot = questions[1]
    assert spot.findtext("name/text") == "spot-saving"
    answers = [
        (
            a.get("fraction"),
            a.findtext("text"),
            a.findtext("tolerance"),
            a.findtext("feedback/text"),
        )
        for a in spot.findall("answer")
    ]
    assert answers == [
        ("100", "70", "0.5", "<p>(40 - 12) / 40 = 0.7: 70%.</p>"),
        ("50", "70", "2", ""),
        ("0", "30", "0.5", "<p>30% is what is still paid: the saving is 70%.</p>"),
    ]
    assert spot.findtext("unitgradingtype") == "0"  # the unit is optional, as in the bank
    assert [(u.findtext("multiplier"), u.findtext("unit_name")) for u in spot.iter("unit")] == [
        ("1", "%")
    ]


def test_a_partial_credit_moodle_does_not_offer_is_noted() -> None:
    odd = make_numeric("odd", 10, 1, None, PartialBand(3, 0.37), [])
    for fmt in ("gift", "moodle-xml"):
        text = export_bank(fmt, [odd], OBJECTIVES)[0].decode()
        assert "odd: 37% is not a grade Moodle's question form offers" in text


finite = st.decimals(
    min_value=-(10**9), max_value=10**9, places=3, allow_nan=False, allow_infinity=False
)


@settings(max_examples=150, deadline=None)
@given(
    answer=finite,
    spread=st.decimals(min_value=0, max_value=1000, places=3),
    relative=st.booleans(),
    credit=st.sampled_from([0.1, 0.25, 1 / 3, 0.5, 0.75, 0.9]),
    offsets=st.lists(st.integers(min_value=2, max_value=10**6), max_size=4, unique=True),
)
def test_any_numeric_question_round_trips(
    answer: Any, spread: Any, relative: bool, credit: float, offsets: list[int]
) -> None:
    value = numeric.stored(answer)
    tolerance: float | str | None = numeric.stored(spread)
    if relative and value != 0:
        tolerance = f"{numeric.number_text(numeric.stored(spread / 20 + 1))}%"
    centre = numeric.exact(value)
    band = numeric.parse_tolerance(tolerance).width(centre)
    wider = numeric.stored(band * 2 + 1)
    mistakes = [
        MistakeFile(numeric.stored(centre + band * 3 + offset), f"Mistake {n}.")
        for n, offset in enumerate(offsets)
    ]
    spec = make_numeric("q", value, tolerance, "kg", PartialBand(wider, credit), mistakes)
    for fmt in ("gift", "moodle-xml"):
        body, _, extension = export_bank(fmt, [spec], OBJECTIVES)
        result = parse_import(f"q.{extension}", body, None, OBJECTIVES)
        assert result.errors == [] and result.warnings == []
        assert [absolute(q) for q in result.specs] == [absolute(spec)]


# --- QTI 3 ----------------------------------------------------------------------------------


def items(questions: list[QuestionSpec]) -> dict[str, Any]:
    body = export_bank("qti", questions, OBJECTIVES)[0]
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {n: fromstring(archive.read(n), forbid_dtd=True) for n in archive.namelist()}


def scoring(item: Any) -> list[tuple[str, dict[str, str], list[str], str]]:
    """Each branch of the response condition: its tag, the qti-equal's attributes, the
    operands' tags, and the score it sets."""
    condition = item.find(f"{NS}qti-response-processing/{NS}qti-response-condition")
    branches = []
    for branch in condition:
        equal = branch.find(f"{NS}qti-equal")
        operands = [] if equal is None else [child.tag.removeprefix(NS) for child in equal]
        score = branch.find(f"{NS}qti-set-outcome-value/{NS}qti-base-value")
        assert score.get("base-type") == "float"
        branches.append(
            (
                branch.tag.removeprefix(NS),
                {} if equal is None else dict(equal.attrib),
                operands,
                score.text,
            )
        )
    return branches


def test_qti_numeric_item_declares_a_float_response_and_scores_within_the_tolerance() -> None:
    files = items(ROUND_TRIP)
    assert {f"items/{q.id}.xml" for q in ROUND_TRIP} <= set(files)
    item = files["items/iterations.xml"]
    # the same structure as every other item: declarations, body, then response processing
    assert [child.tag.removeprefix(NS) for child in item] == [
        "qti-response-declaration",
        "qti-outcome-declaration",
        "qti-outcome-declaration",
        "qti-item-body",
        "qti-response-processing",
    ]
    declaration = item.find(f"{NS}qti-response-declaration")
    assert (declaration.get("cardinality"), declaration.get("base-type")) == ("single", "float")
    assert declaration.get("identifier") == "RESPONSE"
    assert declaration.findtext(f"{NS}qti-correct-response/{NS}qti-value") == "1200"
    entry = item.find(f"{NS}qti-item-body/{NS}p/{NS}qti-text-entry-interaction")
    assert entry.get("response-identifier") == "RESPONSE"
    assert entry.tail == " iterations"  # the unit after the box
    processing = item.find(f"{NS}qti-response-processing")
    assert processing.get("template") is None  # written out: no template has a tolerance
    both = {"include-lower-bound": "true", "include-upper-bound": "true"}
    assert scoring(item) == [
        (
            "qti-response-if",
            {"tolerance-mode": "relative", "tolerance": "2", **both},
            ["qti-correct", "qti-variable"],
            "1",
        ),
        ("qti-response-else", {}, [], "0"),
    ]


def test_qti_numeric_partial_band_and_tolerance_modes() -> None:
    files = items(ROUND_TRIP)
    both = {"include-lower-bound": "true", "include-upper-bound": "true"}
    spot = scoring(files["items/spot-saving.xml"])
    assert [(tag, attrs, score) for tag, attrs, _, score in spot] == [
        ("qti-response-if", {"tolerance-mode": "absolute", "tolerance": "0.5", **both}, "1"),
        ("qti-response-else-if", {"tolerance-mode": "absolute", "tolerance": "2", **both}, "0.5"),
        ("qti-response-else", {}, "0"),
    ]
    lora = scoring(files["items/lora.xml"])
    assert [(attrs, score) for _, attrs, _, score in lora[:2]] == [
        ({"tolerance-mode": "exact"}, "1"),
        ({"tolerance-mode": "relative", "tolerance": "1", **both}, "0.25"),
    ]
    # 2% of a negative answer: QTI's relative band would run backwards, so it is absolute
    negative = scoring(files["items/loss-change.xml"])
    assert negative[0][1] == {"tolerance-mode": "absolute", "tolerance": "0.03", **both}


def test_qti_numeric_items_are_in_the_manifest_and_the_test() -> None:
    files = items(ROUND_TRIP)
    hrefs = {f.get("href") for f in files["imsmanifest.xml"].iter() if f.tag.endswith("file")}
    assert {f"items/{q.id}.xml" for q in ROUND_TRIP} <= hrefs
    refs = [
        r.get("identifier")
        for r in files["assessment-test.xml"].iter(f"{NS}qti-assessment-item-ref")
    ]
    assert refs == [q.id for q in ROUND_TRIP]


# --- templates ------------------------------------------------------------------------------

TEMPLATES = Path(__file__).parents[1] / "fixtures" / "templates" / "templates.yaml"


@pytest.fixture(scope="module")
def template_specs() -> list[QuestionSpec]:
    result = parse_import("templates.yaml", TEMPLATES.read_bytes(), "yaml", OBJECTIVES)
    assert result.errors == [] and len(result.specs) == 2
    assert all(q.content.get("template") for q in result.specs)
    return result.specs


def test_yaml_export_keeps_a_template_whole(template_specs: list[QuestionSpec]) -> None:
    body, _, _ = export_bank("yaml", template_specs, OBJECTIVES)
    assert "answer: iterations\n" in body.decode() and "samples % batch == 0" in body.decode()
    back = parse_import("bank.yaml", body, None, OBJECTIVES)
    assert back.errors == []
    assert [q.content_hash for q in back.specs] == [q.content_hash for q in template_specs]


@pytest.mark.parametrize("fmt", ["gift", "moodle-xml"])
def test_a_template_is_exported_as_one_drawn_instance(
    template_specs: list[QuestionSpec], fmt: str
) -> None:
    iterations, batch = template_specs
    body, _, extension = export_bank(fmt, template_specs, OBJECTIVES)
    text = body.decode()
    values = iterations.content["template"]["variables"]
    assert set(values) == {"samples", "batch"}
    note = re.search(
        r"template-iterations: a template, drawn anew for every attempt; this format cannot "
        r"carry its variables, so one drawn instance is written \((batch = \d+, samples = "
        r"[\d,]+, iterations = [\d,]+, product = [\d,]+)\)",
        text,
    )
    assert note, text[:1500]
    drawn = dict(pair.split(" = ") for pair in note[1].split(", "))
    samples, size = int(drawn["samples"].replace(",", "")), int(drawn["batch"])
    assert iterations.content["key"] == samples // size  # the bank's reference draw
    assert "{samples}" not in text and "{total}" not in text

    back = by_id(parse_import(f"t.{extension}", body, None, OBJECTIVES))
    numeric_back = back["template-iterations"]
    assert numeric_back.content["key"] == samples // size
    assert numeric_back.stem.startswith(f"A training set has {drawn['samples']} samples")
    assert numeric_back.content["rationale"] == (
        f"{drawn['samples']} samples / {size} samples per batch = {drawn['iterations']} iterations."
    )
    assert numeric_back.content["mistakes"] == [
        {
            "value": samples * size,
            "rationale": f"{drawn['product']} multiplies the samples by the batch size; "
            "divide them.",
        }
    ]
    assert "template" not in numeric_back.content
    single = back["template-global-batch"]
    options = {o["text"] for o in single.content["options"]}
    assert not any("{" in t for t in options)
    (right,) = [o["text"] for o in single.content["options"] if o["id"] in single.content["key"]]
    gpus = re.search(r"on (\d+) GPUs with a batch of (\d+)", single.stem)
    assert gpus and int(right.replace(",", "")) == int(gpus[1]) * int(gpus[2])
    assert batch.id == single.id


def test_a_template_item_in_qti_is_one_drawn_instance_with_a_comment(
    template_specs: list[QuestionSpec],
) -> None:
    body = export_bank("qti", template_specs, OBJECTIVES)[0]
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        item = archive.read("items/template-iterations.xml").decode()
    assert "<!-- template-iterations: a template, drawn anew for every attempt" in item
    assert "{samples}" not in item
    key = template_specs[0].content["key"]
    assert f"<qti-value>{key}</qti-value>" in item
