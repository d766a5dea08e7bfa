"""How the service copes with a big bank: 1,000, 10,000 and 100,000 generated questions.

What is measured, per bank and backend: a bank folder is generated in a temporary folder
(an objective tree of 4 domains x 5 tasks x 6 objectives, questions of every type but
numeric in proportions like the default bank's, some in cases of three, stems drawn from a
small vocabulary so text search finds something, and a 30-question blueprint weighted over
the 20 tasks with a difficulty mix, like `seed-mock`), then:

- import: `load_bank` (reading and checking the YAML files) and `import_bank_folder` (the
  database), each timed, as `exam-service bank import` does them, into a fresh database;
- starts: one app instance (`python -m exam_service serve`) on that database; the first
  `POST /api/v1/attempts` after `/ready` (it reads the question pool) and the median and
  p90 of the next `--starts` starts (each by another candidate, one after another);
- memory: the server's RSS after `/ready`, after the starts and its peak (`VmHWM`);
- the question list: `GET /api/v1/questions` as an instructor, plain, by domain, by type
  and difficulty, by a word in few stems, by a word in many, and a page deep in the list,
  each `--repeats` times (median and worst).

The default bank (178 questions, `seed-mock`) is measured the same way as the baseline.

Targets: the median start with 100,000 questions within 2x of the default bank's, the first
start under 1 s, every list and search median under 100 ms. Exit 1 when one is missed or a
run failed.

Run: `.venv/bin/python bench/bank_size.py` (SQLite; several minutes, most of it reading
the 100,000-question YAML), `--backends sqlite,postgresql`, `--sizes 1000,10000`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402  (the bench folder is not a package)
    DEFAULT_POSTGRES,
    Server,
    bench_settings,
    make_candidates,
    new_database,
    percentile,
    summary_row,
)

from exam_service.auth.passwords import hash_password  # noqa: E402
from exam_service.auth.schemas import CurrentUser  # noqa: E402
from exam_service.auth.security import issue_token, jwt_auth  # noqa: E402
from exam_service.auth.service import create_user  # noqa: E402
from exam_service.bank.loader import load_bank  # noqa: E402
from exam_service.cli import import_bank_folder  # noqa: E402
from exam_service.db import create_engine, session_factory  # noqa: E402
from exam_service.migrate import upgrade  # noqa: E402
from exam_service.settings import ROOT, Settings  # noqa: E402

DOMAINS, TASKS, OBJECTIVES = 4, 5, 6
PER_FILE = 500
BLUEPRINT = "bench-size"
DEFAULT_BLUEPRINT = "seed-mock"
RARE_WORD = "quokka"
"""In about one stem of 2,000: a search that finds few."""
COMMON_WORD = "latency"
"""In about one stem of 10: a search that finds many."""
WORDS = (  # noqa: SIM905
    "model training data feature endpoint batch epoch metric bias drift pipeline registry "
    "instance container tuning threshold label sample cluster shard replica storage bucket "
    "queue stream schema index cache budget quota region account policy role network "
    "subnet gateway throughput accuracy precision recall gradient weight layer tensor"
).split()
TYPES = ("single",) * 14 + ("multiple",) * 3 + ("ordering", "matching")
"""Shares like the default bank's: 137 single, 34 multiple, 17 ordering, 17 matching."""
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
DIFFICULTIES = ("easy",) * 3 + ("medium",) * 5 + ("hard",) * 2


# --- the generated bank -------------------------------------------------------------------


def leaf_codes() -> list[str]:
    return [
        f"G{d}.{t}.{o}"
        for d in range(1, DOMAINS + 1)
        for t in range(1, TASKS + 1)
        for o in range(1, OBJECTIVES + 1)
    ]


def objective_tree() -> dict[str, Any]:
    return {
        "exam": {
            "code": "GEN",
            "title": "Generated exam",
            "children": [
                {
                    "code": f"G{d}",
                    "title": f"Domain {d}",
                    "weight": 25,
                    "children": [
                        {
                            "code": f"G{d}.{t}",
                            "title": f"Task {d}.{t}",
                            "children": [
                                {"code": f"G{d}.{t}.{o}", "title": f"Objective {d}.{t}.{o}"}
                                for o in range(1, OBJECTIVES + 1)
                            ],
                        }
                        for t in range(1, TASKS + 1)
                    ],
                }
                for d in range(1, DOMAINS + 1)
            ],
        }
    }


def sentence(rng: random.Random, words: int) -> str:
    chosen = [rng.choice(WORDS) for _ in range(words)]
    if rng.random() < 0.1:
        chosen[rng.randrange(words)] = COMMON_WORD
    if rng.random() < 0.0005:
        chosen[rng.randrange(words)] = RARE_WORD
    return " ".join(chosen).capitalize()


def question(n: int, rng: random.Random, objective: str, case: str | None) -> dict[str, Any]:
    kind = rng.choice(TYPES)
    q: dict[str, Any] = {
        "id": f"gen-{n:06d}",
        "type": kind,
        "objectives": [objective],
        "difficulty": rng.choice(DIFFICULTIES),
        "source": "generated",
        "stem": f"Question {n}: {sentence(rng, 24)}?",
        "explanation": sentence(rng, 30) + ".",
    }
    if case:
        q["case"] = case
    if kind == "matching":
        choices = [{"id": f"c{k}", "text": sentence(rng, 3)} for k in range(6)]
        q["prompts"] = [
            {"text": sentence(rng, 8), "match": f"c{k}", "rationale": sentence(rng, 10)}
            for k in range(4)
        ]
        q["choices"] = choices
        return q
    count = 5 if kind in ("multiple", "ordering") else 4
    right = set(rng.sample(range(count), 2)) if kind == "multiple" else {rng.randrange(count)}
    q["options"] = [
        {"text": f"{k}. {sentence(rng, 6)}", "rationale": sentence(rng, 12)}
        | ({"correct": True} if kind != "ordering" and k in right else {})
        for k in range(count)
    ]
    if kind == "multiple":
        q["choose"] = 2
    return q


def generate_bank(folder: Path, size: int, seed: int = 21) -> Path:
    """A bank folder of `size` questions; returns it."""
    rng = random.Random(seed)
    (folder / "questions").mkdir(parents=True)
    (folder / "blueprints").mkdir()
    (folder / "objectives.yaml").write_text(yaml.safe_dump(objective_tree(), sort_keys=False))
    leaves = leaf_codes()
    for start in range(0, size, PER_FILE):
        cases, questions = [], []
        n = start
        while n < min(size, start + PER_FILE):
            objective = rng.choice(leaves)
            if rng.random() < 0.01 and n + 3 <= min(size, start + PER_FILE):
                case = f"case-{n:06d}"
                cases.append({"id": case, "title": sentence(rng, 4), "scenario": sentence(rng, 60)})
                questions += [question(n + k, rng, objective, case) for k in range(3)]
                n += 3
                continue
            questions.append(question(n, rng, objective, None))
            n += 1
        body = {"cases": cases, "questions": questions} if cases else {"questions": questions}
        path = folder / "questions" / f"gen-{start // PER_FILE:04d}.yaml"
        path.write_text(yaml.dump(body, Dumper=DUMPER, sort_keys=False, width=100))
    blueprint = {
        "id": BLUEPRINT,
        "name": "Generated bank, 30-question mock",
        "mode": "exam",
        "question_count": 30,
        "time_limit_seconds": 3600,
        "grace_seconds": 30,
        "objective_weights": {f"G{d}.{t}": 1 for d in range(1, 5) for t in range(1, 6)},
        "difficulty_mix": {"easy": 30, "medium": 50, "hard": 20},
        "scale": {"min": 100, "max": 1000, "pass": 720},
        "review_policy": "after_submit",
        "shuffle_options": True,
        "max_open_attempts": 1,
        "self_study": True,
    }
    (folder / "blueprints" / f"{BLUEPRINT}.yaml").write_text(
        yaml.safe_dump(blueprint, sort_keys=False)
    )
    return folder


# --- one measurement ----------------------------------------------------------------------


@dataclass
class Outcome:
    label: str
    questions: int
    backend: str
    load_s: float = 0.0
    import_s: float = 0.0
    ready_s: float = 0.0
    first_start_ms: float = 0.0
    starts_ms: list[float] = field(default_factory=list)
    baseline_starts_ms: list[float] = field(default_factory=list)
    """The default bank's starts, each sent just before one of these (same load)."""
    rss_ready_mib: float = 0.0
    rss_after_mib: float = 0.0
    rss_peak_mib: float = 0.0
    lists: dict[str, tuple[float, float, int]] = field(default_factory=dict)
    """Per query: median ms, worst ms, total matches."""

    @property
    def median_start(self) -> float:
        return statistics.median(self.starts_ms)

    @property
    def ratio(self) -> float:
        return self.median_start / statistics.median(self.baseline_starts_ms)


def rss_mib(pid: int) -> tuple[float, float]:
    """VmRSS and VmHWM of a process, MiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]


async def staff_token(settings: Settings) -> str:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            user = await create_user(
                session,
                "bench-instructor",
                "unused",
                "instructor",
                password_hash=hash_password(uuid.uuid4().hex),
            )
            me = CurrentUser(user.id, user.username, user.role, user.display_name)
            await session.commit()
    finally:
        await engine.dispose()
    return issue_token(jwt_auth(settings), me, settings.token_ttl_seconds)


def list_queries() -> dict[str, dict[str, Any]]:
    return {
        "plain": {},
        "domain": {"objective": "G2"},
        "type+difficulty": {"type": "matching", "difficulty": "hard"},
        f"text '{RARE_WORD}' (few)": {"text": RARE_WORD},
        f"text '{COMMON_WORD}' (many)": {"text": COMMON_WORD},
        "page at offset 5000": {"offset": 5000},
    }


DEFAULT_LIST_QUERIES = {
    "plain": {},
    "domain": {"objective": "D2"},
    "type+difficulty": {"type": "matching", "difficulty": "hard"},
    "text 'overfitting'": {"text": "overfitting"},
}


@dataclass
class Instance:
    """A bank imported into a fresh database and one app instance serving it."""

    outcome: Outcome
    blueprint: str
    settings: Settings
    server: Server
    drop: Any
    staff: str = ""
    batches: int = 0

    def start(self, client: httpx.Client, token: str) -> float:
        """One `POST /api/v1/attempts`; its milliseconds."""
        t0 = time.perf_counter()
        reply = client.post(
            f"{self.server.base}/api/v1/attempts",
            json={"blueprint_id": self.blueprint},
            headers={"Authorization": f"Bearer {token}"},
        )
        ms = (time.perf_counter() - t0) * 1000
        if reply.status_code != 201:
            raise RuntimeError(f"start: {reply.status_code} {reply.text[:300]}")
        return ms

    def candidates(self, count: int) -> list[str]:
        self.batches += 1
        return asyncio.run(make_candidates(self.settings, count, f"batch{self.batches}"))

    def pid(self) -> int:
        assert self.server.process is not None
        return self.server.process.pid

    def stop(self) -> None:
        try:
            self.server.stop()
        finally:
            self.drop()


def open_instance(
    label: str,
    backend: str,
    bank_path: Path,
    blueprint: str,
    args: argparse.Namespace,
    folder: Path,
) -> Instance:
    """Import the bank into a fresh database (timed), start a server on it, wait for /ready
    (timed: it reads the question pool before it accepts requests)."""
    database = new_database(backend, folder, args.postgres_url)
    try:
        settings = dataclasses.replace(bench_settings(database.url, folder), bank_path=bank_path)
        upgrade(settings.database_url)
        began = time.perf_counter()
        bank = load_bank(bank_path)
        loaded = time.perf_counter()
        if bank.problems:
            raise RuntimeError(f"the bank has problems: {bank.problems[:3]}")
        asyncio.run(import_bank_folder(settings.database_url, bank))
        outcome = Outcome(label, len(bank.questions), backend)
        outcome.load_s = loaded - began
        outcome.import_s = time.perf_counter() - loaded
        del bank
        print(
            f"  {label}: {outcome.questions} questions; read and checked in "
            f"{outcome.load_s:.1f} s, imported in {outcome.import_s:.1f} s",
            flush=True,
        )
        server = Server(settings, folder / "server.log")
        instance = Instance(outcome, blueprint, settings, server, database.drop)
        instance.staff = asyncio.run(staff_token(settings))
        token = instance.candidates(1)[0]
        server.start()
        outcome.ready_s = server.wait_ready(300)
        outcome.rss_ready_mib = rss_mib(instance.pid())[0]
        with httpx.Client(timeout=60) as client:
            outcome.first_start_ms = instance.start(client, token)
        return instance
    except BaseException:
        database.drop()
        raise


def measure_lists(instance: Instance, queries: dict[str, dict[str, Any]], repeats: int) -> None:
    with httpx.Client(base_url=instance.server.base, timeout=60) as client:
        for name, params in queries.items():
            times, total = [], 0
            for _ in range(repeats):
                t0 = time.perf_counter()
                reply = client.get(
                    "/api/v1/questions",
                    params=params,
                    headers={"Authorization": f"Bearer {instance.staff}"},
                )
                times.append((time.perf_counter() - t0) * 1000)
                if reply.status_code != 200:
                    raise RuntimeError(f"list {name}: {reply.status_code} {reply.text[:300]}")
                total = reply.json()["total"]
            instance.outcome.lists[name] = (statistics.median(times), max(times), total)


def measure_starts(big: Instance, baseline: Instance, count: int) -> None:
    """`count` starts on each, alternating (the default bank's first), one candidate each."""
    mine, theirs = big.candidates(count), baseline.candidates(count)
    with httpx.Client(timeout=60) as client:
        for token, other in zip(mine, theirs, strict=True):
            big.outcome.baseline_starts_ms.append(baseline.start(client, other))
            big.outcome.starts_ms.append(big.start(client, token))


def show(outcome: Outcome) -> None:
    starts = outcome.starts_ms
    ratio = (
        f"; the default bank's alongside: median "
        f"{statistics.median(outcome.baseline_starts_ms):.1f} ms, ratio {outcome.ratio:.2f}x"
        if outcome.baseline_starts_ms
        else ""
    )
    print(
        f"  {outcome.label} on {outcome.backend}: /ready after {outcome.ready_s:.1f} s; first "
        f"start {outcome.first_start_ms:.0f} ms; next {len(starts)}: median "
        f"{outcome.median_start:.1f} ms, p90 {percentile(starts, 0.9):.1f} ms{ratio}",
        flush=True,
    )
    print(
        f"    server RSS: {outcome.rss_ready_mib:.0f} MiB at /ready, "
        f"{outcome.rss_after_mib:.0f} MiB after, peak {outcome.rss_peak_mib:.0f} MiB",
        flush=True,
    )
    for name, (median, worst, total) in outcome.lists.items():
        print(
            f"    GET /api/v1/questions {name}: {median:.1f} ms median, {worst:.1f} ms worst "
            f"({total} matches)",
            flush=True,
        )


def record(outcome: Outcome, baseline: bool) -> bool:
    scenario = f"{outcome.questions} questions, {outcome.backend}"
    row = lambda *a: summary_row("bank size", *a)  # noqa: E731
    row(scenario, "read / import", f"{outcome.load_s:.1f} / {outcome.import_s:.1f} s")
    first_ok = outcome.first_start_ms < 1000
    row(
        "",
        "/ready, first start",
        f"{outcome.ready_s:.1f} s, {outcome.first_start_ms:.0f} ms",
        "first < 1 s",
        first_ok,
    )
    ok = first_ok
    if baseline:
        row("", "median start", f"{outcome.median_start:.1f} ms")
    else:
        big = outcome.questions >= 100_000
        good = outcome.ratio <= 2
        ok &= good or not big
        row(
            "",
            "median start / default bank's",
            f"{outcome.ratio:.2f}x ({outcome.median_start:.1f} vs "
            f"{statistics.median(outcome.baseline_starts_ms):.1f} ms)",
            "<= 2x" if big else "",
            good if big else None,
        )
    row(
        "",
        "server RSS at /ready, peak",
        f"{outcome.rss_ready_mib:.0f}, {outcome.rss_peak_mib:.0f} MiB",
    )
    name, (median, _worst, _total) = max(outcome.lists.items(), key=lambda kv: kv[1][0])
    good = median < 100
    ok &= good
    row("", "slowest list/search median", f"{median:.1f} ms ({name})", "< 100 ms", good)
    return ok


def run_backend(backend: str, args: argparse.Namespace) -> bool:
    ok = True
    with tempfile.TemporaryDirectory(prefix="bank-size-") as tmp:
        root = Path(tmp)
        print(f"\n{backend}", flush=True)
        (root / "default").mkdir()
        baseline = open_instance(
            "default bank",
            backend,
            ROOT / "question_bank",
            DEFAULT_BLUEPRINT,
            args,
            root / "default",
        )
        try:
            measure_lists(baseline, DEFAULT_LIST_QUERIES, args.repeats)
            for n, size in enumerate(args.sizes):
                folder = root / f"size-{size}"
                folder.mkdir()
                t0 = time.perf_counter()
                bank_path = generate_bank(folder / "bank", size)
                print(
                    f"  generated {size} questions in {time.perf_counter() - t0:.1f} s", flush=True
                )
                try:
                    big = open_instance(
                        f"{size} questions", backend, bank_path, BLUEPRINT, args, folder
                    )
                except Exception as exc:
                    print(f"  FAILED: {type(exc).__name__}: {exc}", flush=True)
                    summary_row(
                        "bank size",
                        f"{size} questions, {backend}",
                        "run",
                        str(exc)[:80],
                        "completes",
                        False,
                    )
                    ok = False
                    continue
                try:
                    measure_starts(big, baseline, args.starts)
                    if n == 0:  # the default bank's own figures, from the first pairing
                        baseline.outcome.starts_ms = list(big.outcome.baseline_starts_ms)
                    measure_lists(big, list_queries(), args.repeats)
                    big.outcome.rss_after_mib, big.outcome.rss_peak_mib = rss_mib(big.pid())
                finally:
                    big.stop()
                show(big.outcome)
                ok &= record(big.outcome, False)
                shutil.rmtree(bank_path)
            if baseline.outcome.starts_ms:
                baseline.outcome.rss_after_mib, baseline.outcome.rss_peak_mib = rss_mib(
                    baseline.pid()
                )
                show(baseline.outcome)
                ok &= record(baseline.outcome, True)
        finally:
            baseline.stop()
    return ok


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--starts", type=int, default=30, help="starts after the first")
    parser.add_argument("--repeats", type=int, default=7, help="of each list query")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ok = True
    for backend in args.backends.split(","):
        ok &= run_backend(backend, args)
    print("\nall targets met" if ok else "\nsome target missed (see above)", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
