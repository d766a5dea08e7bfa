"""Quality checks on a valid bank: the habits of a good item writer, measured.

Pure: works on a loaded `Bank`. Each rule has a name, so a report reads
`questions/x.yaml:12: [q-id] key-position: ...`. The rules and their thresholds:

- coverage: every leaf objective (level `objective`) has at least `min_per_objective`
  active questions tagged with it.
- key-position: in `single` questions, no option position holds more than 40% of keys.
- key-longest: at most 40% of `single` keys are strictly the longest option.
- near-duplicate: no two stems share 80% or more of their words (Jaccard index of the
  word sets).
- above: no option says "all of the above" or "none of the above".
- choose-stated: every `multiple` stem says "(Choose N.)" with N equal to `choose`.
- rationale: every option and prompt has a rationale of at least three words that does
  not merely repeat the option.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import combinations

from exam_service.bank.loader import Bank, QuestionSpec

NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5}
KEY_SHARE_LIMIT = 0.40
SIMILARITY_LIMIT = 0.80


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    question_id: str | None = None
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file else ""
        who = f"[{self.question_id}] " if self.question_id else ""
        return f"{where}{who}{self.rule}: {self.message}"


def _finding(rule: str, message: str, q: QuestionSpec | None = None) -> Finding:
    if q is None:
        return Finding(rule, message)
    return Finding(rule, message, q.id, q.file, q.line)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def coverage(bank: Bank, min_per_objective: int) -> list[Finding]:
    tagged = Counter(code for q in bank.questions for code in set(q.objectives))
    return [
        _finding(
            "coverage",
            f"objective {o.code} ({o.title}) has {tagged[o.code]} questions; "
            f"write at least {min_per_objective - tagged[o.code]} more",
        )
        for o in bank.objectives
        if o.level == "objective" and tagged[o.code] < min_per_objective
    ]


def key_balance(bank: Bank) -> list[Finding]:
    singles = [q for q in bank.questions if q.type == "single"]
    if not singles:
        return []
    findings: list[Finding] = []
    positions = Counter(
        [o["id"] for o in q.content["options"]].index(q.content["key"][0]) + 1 for q in singles
    )
    for position, count in sorted(positions.items()):
        if count / len(singles) > KEY_SHARE_LIMIT:
            findings.append(
                _finding(
                    "key-position",
                    f"position {position} holds the key in {count} of {len(singles)} single "
                    f"questions ({count / len(singles):.0%} > {KEY_SHARE_LIMIT:.0%}); move some "
                    "keys to other positions",
                )
            )
    longest = 0
    for q in singles:
        lengths = {o["id"]: len(o["text"]) for o in q.content["options"]}
        key_length = lengths[q.content["key"][0]]
        if all(key_length > n for oid, n in lengths.items() if oid != q.content["key"][0]):
            longest += 1
    if longest / len(singles) > KEY_SHARE_LIMIT:
        findings.append(
            _finding(
                "key-longest",
                f"the key is the longest option in {longest} of {len(singles)} single questions "
                f"({longest / len(singles):.0%} > {KEY_SHARE_LIMIT:.0%}); lengthen distractors "
                "or shorten keys",
            )
        )
    return findings


def near_duplicates(bank: Bank) -> list[Finding]:
    words = [(q, _words(q.stem)) for q in bank.questions]
    findings = []
    for (a, wa), (b, wb) in combinations(words, 2):
        union = wa | wb
        if union and len(wa & wb) / len(union) >= SIMILARITY_LIMIT:
            findings.append(
                _finding(
                    "near-duplicate",
                    f"the stem is nearly the same as {b.id!r} ({b.file}:{b.line}); "
                    "rewrite one of them or retire it",
                    a,
                )
            )
    return findings


def per_question(q: QuestionSpec) -> list[Finding]:
    findings: list[Finding] = []
    items = q.content.get("options", []) + q.content.get("prompts", [])
    for item in items:
        if re.search(r"\b(all|none) of the above\b", item["text"], re.IGNORECASE):
            findings.append(
                _finding("above", f"option {item['text']!r}: write a real alternative", q)
            )
        rationale = item["rationale"]
        if len(rationale.split()) < 3 or rationale.strip().lower() == item["text"].lower():
            findings.append(
                _finding(
                    "rationale",
                    f"option {item['text']!r} has no real rationale ({rationale!r}); say "
                    "why it is right or wrong",
                    q,
                )
            )
    if q.type == "multiple":
        match = re.search(r"\(choose (\w+)\.?\)", q.stem, re.IGNORECASE)
        stated = None
        if match:
            word = match.group(1).lower()
            stated = int(word) if word.isdigit() else NUMBERS.get(word)
        if stated != q.content["choose"]:
            findings.append(
                _finding(
                    "choose-stated",
                    f"the stem must end with '(Choose {_spell(q.content['choose'])}.)' to "
                    "tell the candidate how many to pick",
                    q,
                )
            )
    return findings


def _spell(n: int) -> str:
    return next((word for word, value in NUMBERS.items() if value == n), str(n))


def lint_bank(bank: Bank, min_per_objective: int = 10) -> list[Finding]:
    """Every finding of every rule on a bank that has passed validation."""
    findings = coverage(bank, min_per_objective) + key_balance(bank) + near_duplicates(bank)
    for q in bank.questions:
        findings.extend(per_question(q))
    return findings
