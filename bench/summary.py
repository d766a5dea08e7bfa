"""The table `make bench` ends with: the headline figures of every bench in one place.

Each bench script records its headline figures with `common.summary_row`; under
`make bench` they go, one JSON object per line, to the file named by EXAM_BENCH_SUMMARY.

- `python bench/summary.py run bench/paper.py [ARGS...]` runs one bench script with this
  interpreter (its output passes through), prints its wall time, records it as the figure
  "wall time" (target: exit code 0) and exits with the script's exit code. The Makefile
  runs every script this way.
- `python bench/summary.py [FILE]` prints the rows of FILE (default: $EXAM_BENCH_SUMMARY)
  as one aligned table, bench | scenario | figure | value | target | verdict, where the
  verdict is "ok", "FAIL" or blank for a figure without a target, then the total wall
  time of the scripts. It exits 0 whatever the figures are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SUMMARY_ENV, summary_row  # noqa: E402  (the bench folder is not a package)

COLUMNS = ("bench", "scenario", "figure", "value", "target", "verdict")
WALL_TIME = "wall time"
BUDGET_MINUTES = 30
"""What the whole of `make bench` should take on the 2-core development machine (15 before
heavy, irt, db_restart, sitting_zip and bank_size joined it)."""


def run(script: str, args: list[str]) -> int:
    """Run one bench script, time it and record the time; returns its exit code."""
    bench = Path(script).stem.replace("_", " ")
    print(f"\n===== {script} {' '.join(args)}".rstrip(), flush=True)
    began = time.perf_counter()
    code = subprocess.run([sys.executable, script, *args], check=False).returncode
    seconds = time.perf_counter() - began
    print(f"===== {script}: {seconds:.1f} s wall time, exit code {code}", flush=True)
    value = f"{seconds:.1f} s" + (f" (exit code {code})" if code else "")
    summary_row(bench, "", WALL_TIME, value, "exit code 0", code == 0)
    return code


def read_rows(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The recorded rows, and how many lines could not be read."""
    rows, unreadable = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            unreadable += 1
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            unreadable += 1
    return rows, unreadable


def verdict(ok: Any) -> str:
    if ok is None:
        return ""
    return "ok" if ok else "FAIL"


def wall_seconds(row: dict[str, Any]) -> float:
    try:
        return float(str(row["value"]).split()[0])
    except (KeyError, ValueError, IndexError):
        return 0.0


def table(rows: list[dict[str, Any]]) -> list[list[str]]:
    """One line of cells per row; a bench or scenario equal to the line above is blanked."""
    lines: list[list[str]] = []
    previous = ("", "")
    for row in rows:
        bench, scenario = str(row.get("bench", "")), str(row.get("scenario", ""))
        same_bench = bench == previous[0]
        lines.append(
            [
                "" if same_bench else bench,
                "" if same_bench and scenario == previous[1] else scenario,
                str(row.get("figure", "")),
                str(row.get("value", "")),
                str(row.get("target", "")),
                verdict(row.get("ok")),
            ]
        )
        previous = (bench, scenario)
    return lines


def print_table(path: Path) -> None:
    if not path.is_file():
        print(f"bench summary: no file at {path}; nothing was recorded")
        return
    rows, unreadable = read_rows(path)
    walls = [row for row in rows if row.get("figure") == WALL_TIME]
    # Figures grouped by bench, in the order the benches ran; each bench's wall time last.
    order = list(dict.fromkeys(str(row.get("bench", "")) for row in rows))
    ordered = sorted(
        rows,
        key=lambda r: (order.index(str(r.get("bench", ""))), r.get("figure") == WALL_TIME),
    )
    lines = table(ordered)
    if walls:
        total = sum(wall_seconds(row) for row in walls)
        lines.append(
            [
                "all",
                f"{len(walls)} scripts",
                "total wall time",
                f"{total:.0f} s ({total / 60:.1f} min)",
                f"< {BUDGET_MINUTES} min",
                verdict(total < BUDGET_MINUTES * 60),
            ]
        )
    widths = [max(len(cells[n]) for cells in [list(COLUMNS), *lines]) for n in range(6)]
    rule = "-+-".join("-" * w for w in widths)

    def show(cells: list[str]) -> str:
        return " | ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()

    print(f"\nbench summary ({path})")
    print(show(list(COLUMNS)))
    print(rule)
    for n, cells in enumerate(lines):
        if n and cells[0]:
            print(rule)  # a rule between benches
        print(show(cells))
    failed = sum(1 for row in rows if row.get("ok") is False)
    print(f"\n{len(rows)} figures, {failed} FAIL", end="")
    print(f"; {unreadable} unreadable line(s) skipped" if unreadable else "")


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"]:
        if len(argv) < 2:
            print("usage: summary.py run SCRIPT [ARGS...]", file=sys.stderr)
            return 2
        return run(argv[1], argv[2:])
    named = argv[0] if argv else os.environ.get(SUMMARY_ENV)
    if not named:
        print(f"usage: summary.py [FILE], or set {SUMMARY_ENV}", file=sys.stderr)
        return 0
    print_table(Path(named))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
