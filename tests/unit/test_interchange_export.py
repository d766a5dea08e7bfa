"""Exports: the default bank written to each format and read back gives the same questions,
for what each format can carry; the QTI package is well-formed and complete."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from exam_service.bank.format import OptionFile, QuestionFile
from exam_service.bank.formats import qti
from exam_service.bank.formats.common import case_stem, one_instance
from exam_service.bank.interchange import EXPORT_FORMATS, export_bank, parse_import
from exam_service.bank.loader import Bank, QuestionSpec, build_question, load_bank
from exam_service.grading import numeric
from tests.conftest import FIXTURE_BANK

DEFAULT_BANK = Path(__file__).parents[2] / "question_bank"
NS = f"{{{qti.QTI}}}"
PACKAGE = f"{{{qti.PACKAGE}}}"


@pytest.fixture(scope="module")
def bank() -> Bank:
    loaded = load_bank(DEFAULT_BANK)
    assert loaded.problems == [] and len(loaded.questions) >= 150
    return loaded


@pytest.fixture(scope="module")
def small() -> Bank:
    return load_bank(FIXTURE_BANK)


def carried(spec: QuestionSpec) -> dict[str, Any]:
    """What GIFT and Moodle XML carry of a question: no difficulty, source, case (the
    scenario goes into the stem), option or choice ids, nor matching rationales."""
    content = spec.content
    out: dict[str, Any] = {
        "type": spec.type,
        "stem": case_stem(spec),
        "explanation": content["explanation"],
        "objectives": spec.objectives,
        "tags": content["tags"],
    }
    if spec.type == "numeric":
        out |= numeric_carried(spec)
    elif spec.type == "matching":
        choices = {c["id"]: c["text"] for c in content["choices"]}
        out["pairs"] = [(p["text"], choices[content["key"][p["id"]]]) for p in content["prompts"]]
        out["choices"] = sorted(choices.values())
    else:
        key = set(content["key"])
        out["options"] = [(o["text"], o["id"] in key, o["rationale"]) for o in content["options"]]
        out["choose"] = content.get("choose")
    return out


def numeric_carried(spec: QuestionSpec) -> dict[str, Any]:
    """What GIFT and Moodle XML carry of a numeric question: the answer, the tolerance and
    the partial band as absolute widths around it, the unit, the rationale and the known
    mistakes."""
    content = spec.content
    centre = numeric.exact(content["key"])

    def width(raw: Any) -> numeric.Number:
        return numeric.stored(numeric.parse_tolerance(raw).width(centre))

    partial = content["partial"]
    return {
        "answer": content["key"],
        "tolerance": width(content["tolerance"]),
        "unit": content["unit"],
        "partial": (width(partial["tolerance"]), partial["credit"]) if partial else None,
        "rationale": content["rationale"],
        "mistakes": [(m["value"], m["rationale"]) for m in content["mistakes"]],
    }


def make_question(
    stem: str, texts: list[str], rationales: list[str], explanation: str, right: int
) -> QuestionSpec:
    options = [
        OptionFile(text=text, rationale=rationale, correct=i < right)
        for i, (text, rationale) in enumerate(zip(texts, rationales, strict=False))
    ]
    """A single (right == 1) or multiple question under D2.1.2, and D2.1.3 as a tag."""
    q = QuestionFile(
        id="q1",
        type="single" if right == 1 else "multiple",
        objectives=["D2.1.2", "D2.1.3"],
        difficulty="medium",
        source="Fuzz",
        stem=stem,
        explanation=explanation,
        options=options,
        choose=None if right == 1 else right,
    )
    return build_question(q, None, "fuzz.yaml", 1)


def write_bank(tmp_path: Path, source: Path, questions: bytes) -> Bank:
    """A copy of a bank whose questions are the one exported file."""
    target = tmp_path / "bank"
    shutil.copytree(source, target)
    for old in (target / "questions").glob("*.yaml"):
        old.unlink()
    (target / "questions" / "exported.yaml").write_bytes(questions)
    return load_bank(target)


# --- YAML: exact ----------------------------------------------------------------------------


@pytest.mark.parametrize("source", [DEFAULT_BANK, FIXTURE_BANK], ids=["default", "fixture"])
def test_yaml_export_loads_back_with_identical_hashes(tmp_path: Path, source: Path) -> None:
    original = load_bank(source)
    body, media_type, extension = export_bank("yaml", original.questions, original.objectives)
    assert (media_type, extension) == ("application/yaml", "yaml")
    reloaded = write_bank(tmp_path, source, body)
    assert reloaded.problems == []
    assert [q.content_hash for q in reloaded.questions] == [
        q.content_hash for q in original.questions
    ]
    assert [(q.id, q.case_id, q.case_scenario) for q in reloaded.questions] == [
        (q.id, q.case_id, q.case_scenario) for q in original.questions
    ]


def test_yaml_export_imports_back_with_identical_hashes(bank: Bank) -> None:
    body, _, _ = export_bank("yaml", bank.questions, bank.objectives)
    result = parse_import("bank.yaml", body, None, bank.objectives)
    assert result.format == "yaml" and result.errors == []
    assert [q.content_hash for q in result.specs] == [q.content_hash for q in bank.questions]


def test_yaml_export_writes_cases_once_and_only_non_default_ids(small: Bank) -> None:
    body = export_bank("yaml", small.questions, small.objectives)[0].decode()
    assert body.count("- id: churn-retailer") == 1
    assert "objectives: [D2.2.3, D2.2.2]" in body
    assert "\n        id: " not in body  # option and prompt ids are the loader's defaults
    assert "      - id: kmeans\n        text: K-Means" in body


# --- GIFT and Moodle XML: what they carry ---------------------------------------------------


@pytest.mark.parametrize("fmt", ["gift", "moodle-xml"])
def test_default_bank_round_trips_for_what_the_format_carries(bank: Bank, fmt: str) -> None:
    body, _, extension = export_bank(fmt, bank.questions, bank.objectives)
    result = parse_import(f"bank.{extension}", body, None, bank.objectives)
    assert result.format == fmt
    assert result.errors == [] and result.skipped == []
    # a template is written as one drawn instance: its values in the texts and the answer
    instances = [one_instance(q)[0] for q in bank.questions]
    expected = {q.id: carried(q) for q in instances if q.type != "ordering"}
    assert {q.id: carried(q) for q in result.specs} == expected
    ordering = [q for q in bank.questions if q.type == "ordering"]
    assert ordering  # GIFT and Moodle XML have no ordering type: they are left out
    assert len(result.specs) == len(bank.questions) - len(ordering)
    assert {q.difficulty for q in result.specs} == {"medium"}
    assert all(q.source.startswith(f"imported from bank.{extension}") for q in result.specs)
    # Only the matching questions lose something: their prompts' rationales.
    matching = {q.id for q in bank.questions if q.type == "matching"}
    assert {w.question for w in result.warnings} == matching
    assert all("no feedback for prompt(s)" in w.message for w in result.warnings)


def test_gift_export_guards_text_that_looks_like_gift_syntax(small: Bank) -> None:
    spec = make_question(
        "[html]<b>Which</b>: {this} or ~that = #1?\n\nTwo paragraphs, C:\\new",
        ["%50% of the data", "[markdown]**x**", "a -> b"],
        ["[html]<i>why</i>", "100%", "#"],
        "[plain] ####",
        1,
    )
    body, _, _ = export_bank("gift", [spec], small.objectives)
    result = parse_import("q.gift", body, None, small.objectives)
    assert result.errors == [] and carried(result.specs[0]) == carried(spec)


def test_gift_export_groups_by_category_and_notes_what_it_leaves_out(bank: Bank) -> None:
    body, media_type, extension = export_bank("gift", bank.questions, bank.objectives)
    text = body.decode()
    assert (media_type, extension) == ("text/plain", "gift")  # HTTP adds the charset
    assert "$CATEGORY: $course$/top/MLA-C01/D2/D2.1/D2.1.1\n" in text
    ordering = [q.id for q in bank.questions if q.type == "ordering"]
    for qid in ordering:
        assert f"// {qid}: left out, GIFT has no ordering questions" in text
    tagged = next(q for q in bank.questions if len(q.objectives) > 1)
    assert f"// [tag:{tagged.objectives[1]}]\n::{tagged.id}::" in text
    assert "~%50%" in text  # multiple: the right answers share the credit


def test_moodle_xml_export_puts_each_question_under_its_primary_objective(bank: Bank) -> None:
    body, media_type, extension = export_bank("moodle-xml", bank.questions, bank.objectives)
    assert (media_type, extension) == ("application/xml", "xml")
    primary = {q.id: q.objectives[0] for q in bank.questions}
    category = ""
    placed = 0
    for question in fromstring(body, forbid_dtd=True).findall("question"):
        if question.get("type") == "category":
            category = question.findtext("category/text")
            continue
        assert category.endswith("/" + primary[question.findtext("name/text")])
        placed += 1
    assert placed == len([q for q in bank.questions if q.type != "ordering"])
    spec = next(q for q in bank.questions if q.type == "multiple" and q.content["choose"] == 2)
    multiple = next(
        q for q in fromstring(body).findall("question") if q.findtext("name/text") == spec.id
    )
    assert multiple.findtext("single") == "false"
    keyed = [o["id"] in spec.content["key"] for o in spec.content["options"]]
    assert keyed.count(False) == 3
    assert [a.get("fraction") for a in multiple.findall("answer")] == [
        "50" if right else "-33.33333" for right in keyed
    ]


# --- grades Moodle accepts for multiple questions -------------------------------------------

# Moodle's grade list as question_bank::fraction_options_full holds it (fractions of 1),
# and the tolerance within which its importers match a fraction to the list (else they
# refuse the question). Negatives of each are valid too.
MOODLE_FRACTIONS = (
    1.0, 0.9, 0.8333333, 0.8, 0.75, 0.7, 0.6666667, 0.6, 0.5, 0.4, 0.3333333, 0.3, 0.25,
    0.2, 0.1666667, 0.1428571, 0.125, 0.1111111, 0.1, 0.05, 0.0,
)  # fmt: skip
MOODLE_TOLERANCE = 0.00001


def moodle_accepts(percent: float) -> bool:
    return any(
        abs(percent / 100 - sign * fraction) < MOODLE_TOLERANCE
        for fraction in MOODLE_FRACTIONS
        for sign in (1, -1)
    )


def grades_in(fmt: str, body: bytes) -> dict[str, list[float]]:
    """Per question id, the grade in percent of each answer as the exported file gives it."""
    found: dict[str, list[float]] = {}
    if fmt == "moodle-xml":
        for question in fromstring(body, forbid_dtd=True).findall("question"):
            if question.get("type") == "multichoice":
                answers = question.findall("answer")
                found[question.findtext("name/text")] = [float(a.get("fraction")) for a in answers]
        return found
    for block in body.decode().split("\n\n"):
        title = re.search(r"^::(.+?)::", block, re.M)
        if title and "\n~%" in block:  # a multiple question: every answer weighted
            found[title[1]] = [float(w) for w in re.findall(r"^~%(-?[0-9.]+)%", block, re.M)]
    return found


def assert_moodle_grades_them_right(grades: list[float], keyed: list[bool]) -> None:
    assert all(moodle_accepts(g) for g in grades), grades
    right = [g for g, k in zip(grades, keyed, strict=True) if k]
    wrong = [g for g, k in zip(grades, keyed, strict=True) if not k]
    assert all(g > 0 for g in right) and all(g < 0 for g in wrong), grades
    assert abs(sum(right) - 100) < 0.001  # Moodle's form wants the right ones to make 100%
    # Ticking every box scores 0: Moodle adds the grades of the ticked boxes, floor 0.
    assert abs(sum(wrong) + 100) < 0.001 if len(wrong) <= 20 else sum(wrong) < -100


@pytest.mark.parametrize("fmt", ["gift", "moodle-xml"])
@pytest.mark.parametrize(("right", "wrong"), [(2, 1), (2, 3), (3, 4), (4, 7), (6, 9), (7, 11)])
def test_multiple_exports_grade_wrong_answers_negative(
    small: Bank, fmt: str, right: int, wrong: int
) -> None:
    texts = [f"Option {n}" for n in range(right + wrong)]
    spec = make_question("Which ones?", texts, ["Why."] * len(texts), "Because.", right)
    body, _, extension = export_bank(fmt, [spec], small.objectives)
    assert_moodle_grades_them_right(
        grades_in(fmt, body)["q1"], [n < right for n in range(len(texts))]
    )
    result = parse_import(f"q.{extension}", body, fmt, small.objectives)
    assert result.errors == [] and [carried(q) for q in result.specs] == [carried(spec)]


@pytest.mark.parametrize("fmt", ["gift", "moodle-xml"])
def test_every_multiple_question_of_the_default_bank_is_graded_as_moodle_needs(
    bank: Bank, fmt: str
) -> None:
    body, _, _ = export_bank(fmt, bank.questions, bank.objectives)
    grades = grades_in(fmt, body)
    multiple = [q for q in bank.questions if q.type == "multiple"]
    assert multiple and {q.id for q in multiple} <= set(grades)
    for q in multiple:
        keyed = [o["id"] in q.content["key"] for o in q.content["options"]]
        assert_moodle_grades_them_right(grades[q.id], keyed)


def test_many_wrong_answers_take_the_smallest_grade_and_too_many_right_are_left_out(
    small: Bank,
) -> None:
    texts = [f"Option {n}" for n in range(24)]
    wide = make_question("Which two?", texts, ["Why."] * 24, "Because.", 2)
    body, _, _ = export_bank("moodle-xml", [wide], small.objectives)
    assert grades_in("moodle-xml", body)["q1"] == [50.0, 50.0] + [-5.0] * 22
    crowded = make_question("Which 21?", texts, ["Why."] * 24, "Because.", 21)
    for fmt in ("gift", "moodle-xml"):
        text = export_bank(fmt, [crowded], small.objectives)[0].decode()
        assert "q1: left out, Moodle's grades share 100% among 20 answers at most" in text
        assert "Which 21?" not in text


def test_negative_credit_is_a_wrong_answer_on_import(small: Bank) -> None:
    body = (
        "::Two::Which two? {~%50%A ~%50%B ~%-50%C ~%-50%D}\n\n"
        "::One::Which one? {=A ~%-100%B ~%-33.33333%C}\n"
    )
    result = parse_import("q.gift", body.encode(), None, small.objectives, None, "D2.1.2")
    two, one = result.specs
    assert two.content["key"] == ["a", "b"] and two.content["choose"] == 2
    assert one.type == "single" and one.content["key"] == ["a"]


def test_moodle_xml_export_notes_what_it_leaves_out(small: Bank) -> None:
    body = export_bank("moodle-xml", small.questions, small.objectives)[0].decode()
    assert "<!-- amt-steps: left out, Moodle XML has no ordering questions -->" in body


def test_an_unknown_export_format_is_refused(small: Bank) -> None:
    with pytest.raises(ValueError, match="unknown export format 'pdf'"):
        export_bank("pdf", small.questions, small.objectives)
    assert EXPORT_FORMATS == ("yaml", "gift", "moodle-xml", "qti")


# --- QTI 3.0 --------------------------------------------------------------------------------


def package(questions: list[QuestionSpec], bank: Bank) -> dict[str, Any]:
    body, media_type, extension = export_bank("qti", questions, bank.objectives)
    assert (media_type, extension) == ("application/zip", "zip")
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {
            name: fromstring(archive.read(name), forbid_dtd=True) for name in archive.namelist()
        }


def test_qti_package_lists_every_item_in_its_manifest_and_test(bank: Bank) -> None:
    files = package(bank.questions, bank)
    items = {name for name in files if name.startswith("items/")}
    assert len(items) == len(bank.questions)
    manifest = files["imsmanifest.xml"]
    assert manifest.tag == f"{PACKAGE}manifest"
    hrefs = {f.get("href") for f in manifest.iter(f"{PACKAGE}file")}
    assert hrefs == items | {"assessment-test.xml"}
    test = files["assessment-test.xml"]
    assert test.tag == f"{NS}qti-assessment-test"
    (part,) = test.findall(f"{NS}qti-test-part")
    sections = part.findall(f"{NS}qti-assessment-section")
    primaries = list(dict.fromkeys(q.objectives[0] for q in bank.questions))
    order = [o.code for o in bank.objectives]
    assert [s.get("identifier") for s in sections] == [
        f"S-{code}" for code in sorted(primaries, key=order.index)
    ]
    refs = {r.get("href") for r in test.iter(f"{NS}qti-assessment-item-ref")}
    assert refs == items


def test_qti_items_declare_the_key_and_the_scoring(small: Bank) -> None:
    files = package(small.questions, small)
    spec = {q.id: q for q in small.questions}

    def item(qid: str) -> Any:
        root = files[f"items/{qid}.xml"]
        assert root.tag == f"{NS}qti-assessment-item" and root.get("identifier") == qid
        return root

    def correct(root: Any) -> list[str]:
        path = f"{NS}qti-response-declaration/{NS}qti-correct-response/{NS}qti-value"
        return [value.text for value in root.findall(path)]

    def template(root: Any) -> str:
        processing = root.find(f"{NS}qti-response-processing")
        return str(processing.get("template")).rsplit("/", 1)[1]

    single = item("churn-algorithm")
    assert correct(single) == spec["churn-algorithm"].content["key"] == ["b"]
    interaction = single.find(f".//{NS}qti-choice-interaction")
    assert interaction.get("max-choices") == "1"
    assert len(interaction.findall(f"{NS}qti-simple-choice")) == 4
    assert template(single) == "match_correct.xml"
    assert "Churn at an online retailer" in "".join(single.itertext())  # the case travels

    multiple = item("regularization-pick-two")
    assert correct(multiple) == ["a", "b"]
    assert multiple.find(f".//{NS}qti-choice-interaction").get("max-choices") == "2"
    mapping = {e.get("map-key"): e.get("mapped-value") for e in multiple.iter(f"{NS}qti-map-entry")}
    assert mapping == {"a": "0.5", "b": "0.5", "c": "-0.5", "d": "-0.5", "e": "-0.5"}
    assert template(multiple) == "map_response.xml"

    ordering = item("amt-steps")
    declaration = ordering.find(f"{NS}qti-response-declaration")
    assert declaration.get("cardinality") == "ordered"
    assert correct(ordering) == ["a", "b", "c", "d"]
    assert ordering.find(f".//{NS}qti-order-interaction").get("shuffle") == "true"

    matching = item("algorithm-match")
    declaration = matching.find(f"{NS}qti-response-declaration")
    assert declaration.get("base-type") == "directedPair"
    assert correct(matching) == ["P-p1 C-kmeans", "P-p2 C-rcf", "P-p3 C-pca"]
    sets = matching.findall(f".//{NS}qti-simple-match-set")
    assert [len(s) for s in sets] == [3, 4]


def test_qti_export_is_deterministic(small: Bank) -> None:
    first = export_bank("qti", small.questions, small.objectives)[0]
    assert first == export_bank("qti", small.questions, small.objectives)[0]


def test_qti_identifiers_never_start_with_a_digit() -> None:
    assert qti.identifier("2024-quiz") == "Q-2024-quiz"
    assert qti.identifier("d21-x") == "d21-x"
    assert qti.identifier("a b/c") == "a_b_c"
