"""QTI 3.0 export: a content package (zip) that QTI 3 delivery systems can import.

The package holds `imsmanifest.xml`, `assessment-test.xml` (one test part, one section
per primary objective, in the objective tree's order) and `items/<id>.xml`, one
assessment item per question. `single` and `multiple` become a choice interaction
(max-choices 1 or `choose`), `ordering` an order interaction and `matching` a match
interaction (prompts on the left, choices on the right). Each item declares its correct
response and scores with a standard template: match_correct (all or nothing), except
`multiple`, which uses map_response with +1/N for each right choice and -1/N for each
wrong one, floored at 0 (the service's partial-credit rule).

`numeric` becomes a text-entry interaction (after the stem, with the unit after the box)
whose response is declared `float` with the answer as its correct response, scored by
response processing written out (no standard template compares within a tolerance):
SCORE 1 when `qti-equal` finds the response within the tolerance of the correct value
(`tolerance-mode` absolute, or relative for a percent of a positive answer; a percent of
a negative answer is written as its absolute width, since QTI's relative band
x*(1-t/100)..x*(1+t/100) runs backwards below 0), else the partial band's credit when the
response is within it, else 0. Both edges count, as in the bank. The known mistakes are
not carried (they only choose a rationale, which QTI items here do not show).

QTI carries the stem, the options, the key and the scoring. This export does not carry
rationales and explanations (templates set no feedback outcome), difficulty, source or
tags; a case is printed before its question's stem in every item that uses it. A question
template is written as one drawn instance (`common.one_instance`), with a comment in its
item naming the values (QTI's own template processing is not written). Export
only: there is no QTI import.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

from exam_service.bank.formats.common import one_instance, text_paragraphs, xml_safe
from exam_service.bank.loader import ObjectiveSpec, QuestionSpec
from exam_service.grading import numeric

QTI = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
PACKAGE = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML = "http://www.w3.org/XML/1998/namespace"
SCHEMA = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd"
TEMPLATES = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/"
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)  # fixed, so the same bank gives the same bytes


def identifier(value: str, prefix: str = "Q-") -> str:
    """A QTI identifier: letters, digits, '.', '_', '-', starting with a letter or '_'."""
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", value)
    return clean if clean[:1].isalpha() or clean[:1] == "_" else prefix + clean


def _el(parent: ET.Element | None, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    # Plain tag names and an xmlns attribute on the root: ElementTree's default_namespace
    # refuses unqualified attributes, and register_namespace would change global state.
    if parent is None:
        attrs = {"xmlns": QTI, **attrs}
    element = ET.Element(tag, attrs) if parent is None else ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = xml_safe(text)
    return element


def _paragraphs(parent: ET.Element, text: str) -> None:
    for lines in text_paragraphs(text):
        paragraph = _el(parent, "p", lines[0])
        for line in lines[1:]:
            _el(paragraph, "br").tail = xml_safe(line)


def _score(item: ET.Element, maximum: str = "1") -> None:
    for name, value in (("SCORE", "0"), ("MAXSCORE", maximum)):
        outcome = _el(
            item,
            "qti-outcome-declaration",
            identifier=name,
            cardinality="single",
            **{"base-type": "float"},
        )
        _el(_el(outcome, "qti-default-value"), "qti-value", value)


def _response(item: ET.Element, cardinality: str, base_type: str, values: list[str]) -> ET.Element:
    declaration = _el(
        item,
        "qti-response-declaration",
        identifier="RESPONSE",
        cardinality=cardinality,
        **{"base-type": base_type},
    )
    correct = _el(declaration, "qti-correct-response")
    for value in values:
        _el(correct, "qti-value", value)
    return declaration


def _number(value: float) -> str:
    return f"{value:.6g}"


def _tolerance(answer: numeric.Number, raw: object) -> dict[str, str]:
    """The attributes of a qti-equal that accepts the band `raw` around `answer`."""
    tolerance = numeric.parse_tolerance(raw)
    if tolerance.amount == 0:
        return {"tolerance-mode": "exact"}
    if tolerance.relative and answer > 0:
        mode, amount = "relative", numeric.stored(tolerance.amount)
    else:
        mode, amount = "absolute", numeric.stored(tolerance.width(numeric.exact(answer)))
    return {
        "tolerance-mode": mode,
        "tolerance": numeric.number_text(amount),
        "include-lower-bound": "true",
        "include-upper-bound": "true",
    }


def _set_score(parent: ET.Element, score: str) -> None:
    outcome = _el(parent, "qti-set-outcome-value", identifier="SCORE")
    _el(outcome, "qti-base-value", score, **{"base-type": "float"})


def _numeric_scoring(item: ET.Element, content: Mapping[str, Any]) -> None:
    """Response processing of a numeric item: 1 within the tolerance, the partial band's
    credit within it, else 0 (no answer compares as NULL, so scores 0)."""
    key = numeric.stored(content["key"])
    processing = _el(item, "qti-response-processing")
    condition = _el(processing, "qti-response-condition")
    bands = [("qti-response-if", content.get("tolerance"), "1")]
    partial = content.get("partial")
    if partial:
        credit = numeric.number_text(float(partial["credit"]))
        bands.append(("qti-response-else-if", partial["tolerance"], credit))
    for tag, tolerance, score in bands:
        branch = _el(condition, tag)
        equal = _el(branch, "qti-equal", **_tolerance(key, tolerance))
        _el(equal, "qti-correct", identifier="RESPONSE")  # x, the first: the band is around it
        _el(equal, "qti-variable", identifier="RESPONSE")
        _set_score(branch, score)
    _set_score(_el(condition, "qti-response-else"), "0")


def item_xml(q: QuestionSpec, note: str | None = None) -> ET.Element:
    """The qti-assessment-item of one question; `note` (a template's) as a comment in it."""
    content = q.content
    item = _el(
        None,
        "qti-assessment-item",
        identifier=identifier(q.id),
        title=xml_safe(q.id),
        adaptive="false",
        **{
            "time-dependent": "false",
            f"{{{XML}}}lang": "en",
            f"{{{XSI}}}schemaLocation": f"{QTI} {SCHEMA}",
        },
    )
    if note:
        item.append(ET.Comment(" " + xml_safe(f"{q.id}: {note}").replace("--", "- -") + " "))
    template = "match_correct"
    if q.type == "numeric":
        _response(item, "single", "float", [numeric.number_text(content["key"])])
    elif q.type == "matching":
        # Prefixed, as the two sets' identifiers must differ and "p1" may name a choice too.
        prompt_ids = {p["id"]: identifier("P-" + p["id"]) for p in content["prompts"]}
        choice_ids = {c["id"]: identifier("C-" + c["id"]) for c in content["choices"]}
        pairs = [f"{prompt_ids[p]} {choice_ids[c]}" for p, c in content["key"].items()]
        _response(item, "multiple", "directedPair", pairs)
    else:
        option_ids = {o["id"]: identifier(o["id"], "O-") for o in content["options"]}
        keys = [option_ids[k] for k in content["key"]]
        if q.type == "ordering":
            _response(item, "ordered", "identifier", keys)
        elif q.type == "single":
            _response(item, "single", "identifier", keys)
        else:
            template = "map_response"
            declaration = _response(item, "multiple", "identifier", keys)
            share = 1 / len(keys)
            mapping = _el(
                declaration,
                "qti-mapping",
                **{"lower-bound": "0", "upper-bound": "1", "default-value": "0"},
            )
            for ident in option_ids.values():
                value = share if ident in keys else -share
                _el(mapping, "qti-map-entry", **{"map-key": ident, "mapped-value": _number(value)})
    _score(item)

    body = _el(item, "qti-item-body")
    if q.case_id is not None:
        case = _el(body, "div", **{"class": "case"})
        _el(case, "h2", q.case_title or "")
        _paragraphs(case, q.case_scenario or "")
    _paragraphs(body, q.stem)
    common = {"response-identifier": "RESPONSE", "shuffle": "true"}
    if q.type == "numeric":
        answer = _el(body, "p")
        entry = _el(
            answer,
            "qti-text-entry-interaction",
            **{"response-identifier": "RESPONSE", "expected-length": "15"},
        )
        if content.get("unit"):
            entry.tail = xml_safe(" " + content["unit"])
        _numeric_scoring(item, content)
        return item
    if q.type == "matching":
        prompts, choices = content["prompts"], content["choices"]
        interaction = _el(
            body,
            "qti-match-interaction",
            **common,
            **{"max-associations": str(len(prompts)), "min-associations": "0"},
        )
        left = _el(interaction, "qti-simple-match-set")
        for prompt in prompts:
            _el(
                left,
                "qti-simple-associable-choice",
                prompt["text"],
                identifier=prompt_ids[prompt["id"]],
                **{"match-max": "1"},
            )
        right = _el(interaction, "qti-simple-match-set")
        for choice in choices:
            _el(
                right,
                "qti-simple-associable-choice",
                choice["text"],
                identifier=choice_ids[choice["id"]],
                **{"match-max": str(len(prompts))},
            )
    else:
        if q.type == "ordering":
            interaction = _el(body, "qti-order-interaction", **common)
        else:
            choose = str(content.get("choose") or 1)
            interaction = _el(
                body,
                "qti-choice-interaction",
                **common,
                **{"max-choices": choose, "min-choices": "0"},
            )
        for option in content["options"]:
            _el(
                interaction,
                "qti-simple-choice",
                option["text"],
                identifier=option_ids[option["id"]],
            )
    _el(item, "qti-response-processing", template=f"{TEMPLATES}{template}.xml")
    return item


def assessment_test_xml(
    questions: Sequence[QuestionSpec], objectives: Sequence[ObjectiveSpec]
) -> ET.Element:
    """The qti-assessment-test: a section per primary objective, items in bank order."""
    order = {o.code: i for i, o in enumerate(objectives)}
    titles = {o.code: o.title for o in objectives}
    sections: dict[str, list[QuestionSpec]] = {}
    for q in questions:
        sections.setdefault(q.objectives[0], []).append(q)
    roots = [o for o in objectives if o.parent_code is None]
    test = _el(
        None,
        "qti-assessment-test",
        identifier="exam-service-bank",
        title=xml_safe(roots[0].title if roots else "Question bank"),
    )
    part = _el(
        test,
        "qti-test-part",
        identifier="part-1",
        **{"navigation-mode": "nonlinear", "submission-mode": "simultaneous"},
    )
    used: set[str] = set()
    for code in sorted(sections, key=lambda c: order.get(c, len(order))):
        ident = identifier(f"S-{code}")
        while ident in used:
            ident += "_"
        used.add(ident)
        title = f"{code} {titles[code]}" if code in titles else code
        section = _el(
            part, "qti-assessment-section", identifier=ident, title=xml_safe(title), visible="true"
        )
        for q in sections[code]:
            ident = identifier(q.id)
            _el(section, "qti-assessment-item-ref", identifier=ident, href=f"items/{ident}.xml")
    return test


def manifest_xml(questions: Sequence[QuestionSpec]) -> ET.Element:
    """The IMS content package manifest listing the test and every item."""

    def el(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
        return ET.SubElement(parent, tag, attrs)

    manifest = ET.Element(
        "manifest", {"xmlns": PACKAGE, "identifier": "MANIFEST-exam-service-bank"}
    )
    metadata = el(manifest, "metadata")
    el(metadata, "schema").text = "QTI Package"
    el(metadata, "schemaversion").text = "3.0.0"
    el(manifest, "organizations")
    resources = el(manifest, "resources")
    test = el(
        resources,
        "resource",
        identifier="TEST-exam-service-bank",
        type="imsqti_test_xmlv3p0",
        href="assessment-test.xml",
    )
    el(test, "file", href="assessment-test.xml")
    for q in questions:
        el(test, "dependency", identifierref=f"ITEM-{identifier(q.id)}")
    for q in questions:
        href = f"items/{identifier(q.id)}.xml"
        resource = el(
            resources,
            "resource",
            identifier=f"ITEM-{identifier(q.id)}",
            type="imsqti_item_xmlv3p0",
            href=href,
        )
        el(resource, "file", href=href)
    return manifest


def _document(element: ET.Element) -> bytes:
    ET.indent(element)
    body = ET.tostring(element, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode()


def export(questions: Sequence[QuestionSpec], objectives: Sequence[ObjectiveSpec]) -> bytes:
    """The QTI 3.0 package of the questions, as zip bytes; a template as one drawn
    instance (`common.one_instance`) with a comment in its item."""
    drawn = [one_instance(q) for q in questions]
    questions = [q for q, _ in drawn]
    files = [
        ("imsmanifest.xml", _document(manifest_xml(questions))),
        ("assessment-test.xml", _document(assessment_test_xml(questions, objectives))),
    ]
    files += [(f"items/{identifier(q.id)}.xml", _document(item_xml(q, note))) for q, note in drawn]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in files:
            package.writestr(zipfile.ZipInfo(name, _ZIP_TIME), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
