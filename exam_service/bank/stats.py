"""Question counts per objective and type, as the Markdown table the README shows."""

from __future__ import annotations

from collections import Counter

from exam_service.bank.loader import Bank

TYPES = ("single", "multiple", "ordering", "matching", "numeric")
ALWAYS_SHOWN = 4
"""The first four types always have a column; `numeric` once the bank has such questions."""


def stats_table(bank: Bank) -> str:
    """One row per objective node that has questions below it; each question counts once,
    under its primary (first) objective and that objective's ancestors."""
    parent = {o.code: o.parent_code for o in bank.objectives}
    counts: dict[str, Counter[str]] = {o.code: Counter() for o in bank.objectives}
    for q in bank.questions:
        node: str | None = q.objectives[0]
        while node is not None:
            counts[node][q.type] += 1
            node = parent[node]
    present = {q.type for q in bank.questions}
    types = [t for i, t in enumerate(TYPES) if i < ALWAYS_SHOWN or t in present]
    lines = [
        "| objective | title | " + " | ".join(types) + " | total |",
        "| --- | --- | " + " | ".join("---:" for _ in types) + " | ---: |",
    ]
    for o in bank.objectives:
        row = counts[o.code]
        if not row:
            continue
        code = f"**{o.code}**" if o.level != "objective" else o.code
        cells = " | ".join(str(row[t]) for t in types)
        lines.append(f"| {code} | {o.title} | {cells} | {sum(row.values())} |")
    cases = {q.case_id for q in bank.questions if q.case_id}
    lines.append("")
    lines.append(f"{len(bank.questions)} questions, {len(cases)} cases.")
    return "\n".join(lines) + "\n"
