"""Questions written back as a bank questions file (YAML), round-trip exact.

The bank's own format carries everything, templates included (their variables, derived
values, constraints and expressions): loading the exported file with the loader gives the
same content hashes. Option and prompt ids are written only where they differ
from the defaults the loader gives (a, b, c... and p1, p2...); the cases the questions
use are written under `cases:`. Questions imported with an empty rationale or
explanation are written as they are (""), and the loader then asks for the missing text.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import Any

import yaml

from exam_service.bank.loader import QuestionSpec

_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")


class _Flow(list[str]):
    """A short list written on one line: `objectives: [D2.1.2]`."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # list items indented under their key


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Text with line breaks reads best as a literal block; the emitter falls back to a
    # quoted scalar by itself where a block could not hold the text exactly. YAML also
    # breaks lines at CR, NEL, LS and PS: only double quotes keep those (as escapes).
    style = '"' if _OTHER_BREAKS.search(value) else "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _flow(dumper: yaml.SafeDumper, value: _Flow) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)


_Dumper.add_representer(str, _text)
_Dumper.add_representer(_Flow, _flow)


def _question(q: QuestionSpec) -> dict[str, Any]:
    content = q.content
    out: dict[str, Any] = {"id": q.id, "type": q.type}
    if q.case_id is not None:
        out["case"] = q.case_id
    out |= {
        "objectives": _Flow(q.objectives),
        "difficulty": q.difficulty,
        "source": q.source,
    }
    template = content.get("template")
    if template:
        out |= _template(template)
    out["stem"] = q.stem
    if q.type == "multiple":
        out["choose"] = content["choose"]
    if q.type == "numeric":
        out |= _numeric(content)
    elif q.type == "matching":
        prompts = []
        for i, prompt in enumerate(content["prompts"], 1):
            entry = {
                "text": prompt["text"],
                "match": content["key"][prompt["id"]],
                "rationale": prompt["rationale"],
            }
            if prompt["id"] != f"p{i}":
                entry["id"] = prompt["id"]
            prompts.append(entry)
        out["prompts"] = prompts
        out["choices"] = [{"id": c["id"], "text": c["text"]} for c in content["choices"]]
    else:
        key = set(content["key"])
        options = []
        for i, option in enumerate(content["options"]):
            item: dict[str, Any] = {"text": option["text"]}
            if q.type != "ordering" and option["id"] in key:
                item["correct"] = True
            item["rationale"] = option["rationale"]
            if i >= len(string.ascii_lowercase) or option["id"] != string.ascii_lowercase[i]:
                item["id"] = option["id"]
            options.append(item)
        out["options"] = options
    out["explanation"] = content["explanation"]
    if content.get("tags"):
        out["tags"] = _Flow(content["tags"])
    return out


def _template(template: dict[str, Any]) -> dict[str, Any]:
    """A template's variables, derived values and constraints as its bank file wrote them."""
    out: dict[str, Any] = {"variables": {n: dict(v) for n, v in template["variables"].items()}}
    if template.get("derived"):
        out["derived"] = {name: text for name, text in template["derived"]}
    if template.get("constraints"):
        out["constraints"] = list(template["constraints"])
    return out


def _numeric(content: dict[str, Any]) -> dict[str, Any]:
    """A numeric question's fields, as the loader reads them back to the same content: a
    template's answer and mistakes as its expressions (the content holds their values at
    the reference draw)."""
    template = content.get("template") or {}
    out: dict[str, Any] = {"answer": template.get("answer", content["key"])}
    if content.get("tolerance"):
        out["tolerance"] = content["tolerance"]
    if content.get("unit") is not None:
        out["unit"] = content["unit"]
    if content.get("partial"):
        out["partial"] = dict(content["partial"])
    out["rationale"] = content["rationale"]
    if content.get("mistakes"):
        values = template.get("mistakes") or [m["value"] for m in content["mistakes"]]
        out["mistakes"] = [
            {"value": value, "rationale": m["rationale"]}
            for value, m in zip(values, content["mistakes"], strict=True)
        ]
    return out


def export(questions: Sequence[QuestionSpec]) -> str:
    """A questions file holding `questions` and the cases they use."""
    cases: dict[str, dict[str, str]] = {}
    for q in questions:
        if q.case_id is not None and q.case_id not in cases:
            cases[q.case_id] = {
                "id": q.case_id,
                "title": q.case_title or "",
                "scenario": q.case_scenario or "",
            }
    document: dict[str, Any] = {}
    if cases:
        document["cases"] = list(cases.values())
    document["questions"] = [_question(q) for q in questions]
    body = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=92, indent=2
    )
    # Blank lines between cases, questions and the two lists, as in the bank's own files.
    body = re.sub(r"(?<!:)\n(  - id: )", r"\n\n\1", body)
    body = body.replace("\nquestions:\n", "\n\nquestions:\n", 1)
    header = (
        "# yaml-language-server: $schema=../schema/questions.schema.json\n"
        "# Exported by exam_service: a bank questions file (question_bank/questions/).\n"
    )
    return header + body
