"""How close the cohort and item reports come to one aggregate scan of the responses table.

What is measured: `exam_service.reports.service.cohort_report` (counted attempts "all")
and `item_report` (no cohort: every attempt at the blueprint), called in-process with an
`AsyncSession` as an admin, exactly as the API handlers call them, against a baseline in
the same run and the same session setup: one aggregate scan of the `responses` table,
`SELECT count(*), sum(length(answer::text)) FROM responses` (every attempt has one response
per item, so the baseline grows with the data just as the reports' work does). Each
timing is the best of 3 after one warm-up call. Printed per size: the attempts, the
baseline, each report's time and its ratio to the baseline (target: <= 2x), the peak of
the Python allocations during the report (`tracemalloc`, MiB) and how much the process's
max RSS (`resource.getrusage`) rose during it; then 10k vs 100k side by side (target:
flat memory, since the reports only pull per-bin, per-objective and per-revision rows
into Python).

How: a fresh PostgreSQL database `exam_bench_<random>` is created (asyncpg), migrated
(`exam_service.migrate.upgrade`), the default bank imported, and a 65-question blueprint
`bench-65` inserted (50 scored, 15 unscored, scale 100-1000, pass 720, raw cut 70). The
data is generated server-side with `INSERT ... SELECT ... FROM generate_series(...)`:
candidates (5 attempts each, all in one cohort owned by an instructor), submitted
attempts, 65 draws each (revisions by a per-attempt offset into the imported revisions;
points 0/1 from a per-revision facility plus a per-attempt ability), from the draws the
results (raw score, percent, the scaled score by the same piecewise-linear map as
`exam_service.grading.scoring.scaled_score`, passed), then the attempt items with the
options chosen on single and multiple items and the attempt's raw score, as grading
writes them, one response per item and the per-objective rows; then VACUUM ANALYZE.
The load runs with `session_replication_role = replica` (no per-row foreign-key checks: the
rows are generated consistent) and rebuilds the secondary indexes after the inserts. The
first size is loaded, measured, then the next size's extra attempts are added to the same
database and it is measured again. The database is dropped at the end.

`--explain` also prints, per report, every SQL statement it ran with its time, and
`EXPLAIN (ANALYZE, BUFFERS)` of the slowest ones. The exit code is 0 whatever the ratios;
it is non-zero only if something broke (a failed load or report, or a report that does
not count the attempts loaded).

Run: `make bench`, or `.venv/bin/python bench/reports.py --sizes 10000,100000`.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import resource
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from exam_service.auth.schemas import CurrentUser
from exam_service.bank.loader import load_bank
from exam_service.cli import import_bank_folder
from exam_service.db import create_engine, session_factory
from exam_service.migrate import upgrade
from exam_service.reports.service import cohort_report, item_report
from exam_service.settings import ROOT

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402  (the bench folder is not a package)
    DEFAULT_POSTGRES,
    asyncpg_dsn,
    new_database,
    summary_row,
)

TARGET_RATIO = 2.0
FLAT_MEMORY = 1.5
"""Python peak memory counts as flat if the largest size needs at most this times the
smallest's."""
BLUEPRINT = "bench-65"
ITEMS = 65
SCORED = 50
ATTEMPTS_PER_CANDIDATE = 5
REPEATS = 3
BASELINE_SQL = "SELECT count(*), sum(length(answer::text)) FROM responses"
PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$YmVuY2hiZW5jaA$bench-not-a-real-hash"
MIB = 1024 * 1024

# --- data ---------------------------------------------------------------------------------

SETUP_SQL = (
    # who: an admin (the viewer), an instructor owning the cohort
    f"""INSERT INTO users (username, display_name, role, password_hash, is_active, created_at)
    VALUES ('bench-admin', 'Bench admin', 'admin', '{PASSWORD_HASH}', true, now()),
           ('bench-instructor', 'Bench instructor', 'instructor', '{PASSWORD_HASH}', true,
            now())""",
    """INSERT INTO cohorts (name, owner_id, created_at)
    SELECT 'Bench cohort', id, now() FROM users WHERE username = 'bench-instructor'""",
    # the blueprint: seed-mock's settings with 65 questions, 15 of them unscored
    f"""INSERT INTO blueprints (id, name, description, mode, question_count,
        time_limit_seconds, grace_seconds, unscored_count, objective_weights,
        objective_counts, difficulty_mix, scale_min, scale_max, scale_pass, raw_cut,
        review_policy, shuffle_options, partial_credit, max_open_attempts, origin,
        created_at, updated_at)
    SELECT '{BLUEPRINT}', 'Bench mock exam (65 questions)', 'bench/reports.py', mode,
        {ITEMS}, 7800, grace_seconds, {ITEMS - SCORED}, objective_weights, objective_counts,
        difficulty_mix, 100, 1000, 720, 70.0, review_policy, shuffle_options, false,
        max_open_attempts, 'api', now(), now()
    FROM blueprints WHERE id = 'seed-mock'""",
)

# Per imported revision: its rank (for the per-attempt offset), a facility from its
# difficulty, the option ids of the key, the distractors, and an answer in display ids.
REVISIONS_SQL = """
CREATE TEMP TABLE bench_revisions ON COMMIT DROP AS
SELECT (row_number() OVER (ORDER BY r.id) - 1)::int AS rank,
    r.id, r.type,
    CASE r.difficulty WHEN 'easy' THEN 0.85 WHEN 'hard' THEN 0.45 ELSE 0.65 END
        + ((r.id * 37) % 21 - 10) / 100.0 AS facility,
    CASE WHEN r.type IN ('single', 'multiple') THEN (
        SELECT string_agg(k, ' ' ORDER BY k) FROM jsonb_array_elements_text(r.content -> 'key') k)
        END AS key_text,
    CASE WHEN r.type IN ('single', 'multiple') THEN (
        SELECT jsonb_agg(o ->> 'id') FROM jsonb_array_elements(r.content -> 'options') o
        WHERE NOT (r.content -> 'key') ? (o ->> 'id')) END AS distractors,
    CASE r.type
        WHEN 'matching' THEN jsonb_build_object(
            'prompts', (SELECT jsonb_agg(p ->> 'id')
                FROM jsonb_array_elements(r.content -> 'prompts') p),
            'choices', (SELECT jsonb_agg(c ->> 'id')
                FROM jsonb_array_elements(r.content -> 'choices') c))
        ELSE jsonb_build_object('options', (SELECT jsonb_agg(o ->> 'id')
            FROM jsonb_array_elements(r.content -> 'options') o))
    END AS layout,
    CASE r.type
        WHEN 'single' THEN '["B"]'::jsonb
        WHEN 'multiple' THEN '["A", "C"]'::jsonb
        WHEN 'ordering' THEN '["B", "A", "C", "D"]'::jsonb
        ELSE '{"1": "A", "2": "C", "3": "B"}'::jsonb
    END AS answer
FROM question_revisions r
"""

# Each new attempt's 65 draws: the revision (by a per-attempt offset into the imported
# revisions) and its points, 0 or 1 with chance the revision's facility plus the attempt's
# ability (its seed: -0.25..+0.25). A hash of (attempt, position) stands in for random()
# so that the results and the item rows, written by two statements, see the same points.
DRAWS = f"""SELECT a.id AS attempt_id, p AS position, r.id AS revision_id,
    ((hashint8(a.id::bigint * 1000 + p) & 2147483647) / 2147483648.0
        < greatest(0.02, least(0.98, r.facility + ((a.seed % 1000) / 1000.0 - 0.5) / 2))
    )::int::float AS points
FROM attempts a
CROSS JOIN generate_series(1, {ITEMS}) p
JOIN bench_revisions r ON r.rank = (a.id * {ITEMS} + p) % (SELECT count(*) FROM bench_revisions)
WHERE a.id > $1::int"""

# (table, statement, its parameters $1, $2, ... by name): "count" attempts to add,
# "candidates" to add, "first" new candidate's number, attempt ids "after" this are new
LOAD_SQL: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "users",
        f"""INSERT INTO users (username, display_name, role, password_hash, is_active,
            created_at)
        SELECT 'bench-cand-' || n, 'Candidate ' || n, 'candidate', '{PASSWORD_HASH}', true,
            now()
        FROM generate_series($1::int, $1::int + $2::int - 1) n""",
        ("first", "candidates"),
    ),
    (
        "cohort_members",
        """INSERT INTO cohort_members (cohort_id, user_id, added_at)
        SELECT c.id, u.id, now() FROM users u
        CROSS JOIN (SELECT id FROM cohorts WHERE name = 'Bench cohort') c
        WHERE u.role = 'candidate'
          AND u.id NOT IN (SELECT user_id FROM cohort_members)""",
        (),
    ),
    (
        "attempts",
        f"""WITH fresh AS (
            SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM users
            WHERE role = 'candidate' AND id NOT IN (SELECT user_id FROM attempts))
        INSERT INTO attempts (user_id, blueprint_id, seed, status, source, mode, started_at,
            deadline, closes_at, submitted_at, settings)
        SELECT f.id, '{BLUEPRINT}', (random() * 1e9)::bigint, 'submitted', 'online', 'exam',
            s.started, s.started + interval '130 minutes', s.started + interval '131 minutes',
            s.started + interval '90 minutes',
            jsonb_build_object('name', 'Bench mock exam (65 questions)',
                'scale', jsonb_build_object('min', 100, 'max', 1000, 'pass', 720,
                    'raw_cut', 70.0),
                'partial_credit', false, 'review_policy', 'after_submit',
                'grace_seconds', 30, 'time_limit_seconds', 7800)
        FROM generate_series(0, $1::int - 1) g
        JOIN fresh f ON f.k = g % $2::int
        CROSS JOIN LATERAL (SELECT now() - interval '1 minute' * (g + 100) AS started) s
        ORDER BY g""",
        ("count", "candidates"),
    ),
    (
        "results",
        # exam_service.grading.scoring.scaled_score with scale 100-1000, pass 720, cut 70
        f"""WITH d AS ({DRAWS})
        INSERT INTO results (attempt_id, raw_score, raw_possible, raw_percent,
            scaled_score, passed, objectives, graded_at)
        SELECT attempt_id, raw, possible, round(pct::numeric, 1), CASE
                WHEN pct <= 70 THEN round((100 + (720 - 100) * pct / 70)::numeric)
                ELSE round((720 + (1000 - 720) * (pct - 70) / (100 - 70))::numeric)
            END, pct >= 70, '[]'::jsonb, now()
        FROM (
            SELECT attempt_id, raw, possible, 100 * raw / possible AS pct FROM (
                SELECT attempt_id, sum(points) FILTER (WHERE position <= {SCORED}) AS raw,
                    count(*) FILTER (WHERE position <= {SCORED}) AS possible
                FROM d GROUP BY attempt_id) t) s
        ORDER BY attempt_id""",
        ("after",),
    ),
    (
        "attempt_items",
        # the same draws again, with the attempt's raw score that grading copies onto
        # its items; a right answer chose the key, a wrong one a distractor by position
        f"""WITH d AS ({DRAWS})
        INSERT INTO attempt_items (attempt_id, position, revision_id, scored, layout,
            points, chosen, attempt_score)
        SELECT d.attempt_id, d.position, d.revision_id, d.position <= {SCORED}, r.layout,
            d.points,
            CASE WHEN r.type IN ('single', 'multiple') THEN CASE WHEN d.points = 1
                THEN r.key_text
                ELSE r.distractors ->> ((d.attempt_id + d.position)
                    % jsonb_array_length(r.distractors))::int
            END END,
            s.raw_score
        FROM d JOIN bench_revisions r ON r.id = d.revision_id
        JOIN results s ON s.attempt_id = d.attempt_id
        ORDER BY d.attempt_id, d.position""",
        ("after",),
    ),
    (
        "responses",
        """INSERT INTO responses (attempt_id, position, answer, flagged, locked, saved_at)
        SELECT i.attempt_id, i.position, r.answer, i.position % 17 = 0, false, now()
        FROM attempt_items i JOIN bench_revisions r ON r.id = i.revision_id
        WHERE i.attempt_id > $1::int
        ORDER BY i.attempt_id, i.position""",
        ("after",),
    ),
    (
        "result_objectives",
        # what grading stores per objective node: each item counts once per node it
        # touches through any of its objectives and their ancestors
        """WITH RECURSIVE up(objective_id, node) AS (
            SELECT id, id FROM objectives
            UNION ALL
            SELECT up.objective_id, o.parent_id FROM up JOIN objectives o ON o.id = up.node
            WHERE o.parent_id IS NOT NULL),
        pairs AS (
            SELECT DISTINCT ro.revision_id, up.node FROM revision_objectives ro
            JOIN up ON up.objective_id = ro.objective_id)
        INSERT INTO result_objectives (attempt_id, objective_id, points, possible, percent)
        SELECT i.attempt_id, p.node, sum(i.points), count(*), 100.0 * sum(i.points) / count(*)
        FROM attempt_items i JOIN pairs p ON p.revision_id = i.revision_id
        WHERE i.scored AND i.attempt_id > $1::int
        GROUP BY i.attempt_id, p.node
        ORDER BY i.attempt_id, p.node""",
        ("after",),
    ),
)

LOADED = ("attempts", "attempt_items", "responses", "results", "result_objectives")
SECONDARY_INDEXES_SQL = """
SELECT i.indexname, i.indexdef FROM pg_indexes i
JOIN pg_class c ON c.relname = i.indexname
JOIN pg_index x ON x.indexrelid = c.oid
WHERE i.schemaname = 'public' AND i.tablename = ANY($1::text[])
  AND NOT x.indisprimary AND NOT x.indisunique
"""

TABLES = (
    "attempts",
    "attempt_items",
    "responses",
    "results",
    "result_objectives",
    "users",
)


@dataclass
class Load:
    attempts: int
    seconds: float
    steps: dict[str, tuple[int, float]]
    """Per table: rows inserted and seconds."""
    analyze_seconds: float


async def setup(url: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        async with connection.transaction():
            for sql in SETUP_SQL:
                await connection.execute(sql)
    finally:
        await connection.close()


async def add_attempts(url: str, count: int) -> Load:
    """`count` more submitted, graded attempts (and their candidates), then VACUUM ANALYZE."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute("SET synchronous_commit = off")
        # the generated rows reference only rows inserted just before them: foreign-key
        # triggers (one lookup per row) are skipped while loading; needs a superuser
        await connection.execute("SET session_replication_role = replica")
        await connection.execute("SET work_mem = '256MB'")
        await connection.execute("SET maintenance_work_mem = '512MB'")
        before = int(await connection.fetchval("SELECT coalesce(max(id), 0) FROM attempts"))
        first = 1 + int(
            await connection.fetchval("SELECT count(*) FROM users WHERE role = 'candidate'")
        )
        candidates = math.ceil(count / ATTEMPTS_PER_CANDIDATE)
        params = {"count": count, "candidates": candidates, "first": first, "after": before}
        steps: dict[str, tuple[int, float]] = {}
        started = time.perf_counter()
        async with connection.transaction():
            # the secondary indexes of the loaded tables are dropped and rebuilt after
            # (the same definitions): one sort each instead of millions of random inserts
            indexes = await connection.fetch(SECONDARY_INDEXES_SQL, list(LOADED))
            for index in indexes:
                await connection.execute(f'DROP INDEX "{index["indexname"]}"')
            await connection.execute(REVISIONS_SQL)
            for table, sql, names in LOAD_SQL:
                step = time.perf_counter()
                status = await connection.execute(sql, *(params[n] for n in names))
                steps[table] = (int(status.split()[-1]), time.perf_counter() - step)
            step = time.perf_counter()
            for index in indexes:
                await connection.execute(index["indexdef"])
            steps["(indexes)"] = (len(indexes), time.perf_counter() - step)
        loaded = time.perf_counter() - started
        step = time.perf_counter()
        await connection.execute("VACUUM (ANALYZE)")
        analyzed = time.perf_counter() - step
    finally:
        await connection.close()
    return Load(count, loaded + analyzed, steps, analyzed)


async def table_sizes(url: str) -> dict[str, tuple[int, int]]:
    """Per table: rows and total size in bytes (with indexes)."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        sizes = {}
        for table in TABLES:
            rows = int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
            size = int(await connection.fetchval("SELECT pg_total_relation_size($1)", table))
            sizes[table] = (rows, size)
        return sizes
    finally:
        await connection.close()


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Statement:
    sql: str
    params: Any
    seconds: float


@dataclass
class StatementLog:
    """The SQL an engine runs while `active`, with each statement's time."""

    active: bool = False
    statements: list[Statement] = field(default_factory=list)
    _started: float = 0.0

    def attach(self, engine: AsyncEngine) -> None:
        def before(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
            self._started = time.perf_counter()

        def after(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
            if self.active:
                self.statements.append(Statement(sql, params, time.perf_counter() - self._started))

        event.listen(engine.sync_engine, "before_cursor_execute", before)
        event.listen(engine.sync_engine, "after_cursor_execute", after)


@dataclass
class Timing:
    name: str
    best: float
    runs: list[float]
    peak_mib: float
    """tracemalloc peak during the (untimed) warm-up call."""
    rss_delta_mib: float
    """How much the process's max RSS rose during the warm-up call."""
    result: Any = None


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def measure(
    name: str,
    sessions: async_sessionmaker[AsyncSession],
    call: Callable[[AsyncSession], Awaitable[Any]],
) -> Timing:
    """One warm-up call under tracemalloc (memory), then the best of REPEATS timed calls,
    each in a new session, as a request gets one."""
    rss_before = max_rss_mib()
    tracemalloc.start()
    try:
        async with sessions() as session:
            result = await call(session)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_delta = max_rss_mib() - rss_before
    runs = []
    for _ in range(REPEATS):
        async with sessions() as session:
            started = time.perf_counter()
            result = await call(session)
            runs.append(time.perf_counter() - started)
    return Timing(name, min(runs), runs, peak / MIB, rss_delta, result)


async def baseline(session: AsyncSession) -> tuple[int, int]:
    row = (await session.execute(text(BASELINE_SQL))).one()
    return int(row[0]), int(row[1])


@dataclass
class SizeOutcome:
    attempts: int
    load: Load
    sizes: dict[str, tuple[int, int]]
    base: Timing
    cohort: Timing
    items: Timing
    problems: list[str]
    explained: list[str]


async def explain(engine: AsyncEngine, statements: list[Statement], top: int) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the `top` slowest statements, with their own params."""
    lines = []
    slowest = sorted(statements, key=lambda s: s.seconds, reverse=True)[:top]
    async with engine.connect() as connection:
        for statement in slowest:
            plan = await connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, statement.params
            )
            lines.append(f"-- {statement.seconds * 1000:.0f} ms:\n{statement.sql}")
            lines.append(f"-- params: {statement.params}")
            lines.extend(row[0] for row in plan.all())
            lines.append("")
    return lines


async def measure_size(
    url: str, attempts: int, load: Load, admin: CurrentUser, show_sql: bool
) -> SizeOutcome:
    engine = create_engine(url)
    log = StatementLog()
    log.attach(engine)
    sessions = session_factory(engine)
    try:
        async with engine.connect() as connection:
            cohort_id = int(
                (
                    await connection.execute(
                        text("SELECT id FROM cohorts WHERE name = :n"), {"n": "Bench cohort"}
                    )
                ).scalar_one()
            )
        base = await measure("baseline", sessions, baseline)
        cohort = await measure(
            "cohort report",
            sessions,
            lambda s: cohort_report(s, admin, cohort_id, BLUEPRINT, "all"),
        )
        items = await measure(
            "item report", sessions, lambda s: item_report(s, admin, BLUEPRINT, None)
        )
        problems = []
        if base.result[0] != attempts * ITEMS:
            problems.append(f"responses: {base.result[0]} rows, expected {attempts * ITEMS}")
        if cohort.result.attempts != attempts:
            problems.append(f"cohort report counted {cohort.result.attempts} attempts")
        if items.result.attempts != attempts or not items.result.items:
            problems.append(
                f"item report counted {items.result.attempts} attempts, "
                f"{len(items.result.items)} items"
            )
        explained: list[str] = []
        if show_sql:
            for name, call in (
                ("cohort report", lambda s: cohort_report(s, admin, cohort_id, BLUEPRINT, "all")),
                ("item report", lambda s: item_report(s, admin, BLUEPRINT, None)),
            ):
                log.statements.clear()
                log.active = True
                async with sessions() as session:
                    await call(session)
                log.active = False
                explained.append(f"== {name}: {len(log.statements)} statements")
                for statement in log.statements:
                    head = " ".join(statement.sql.split())[:110]
                    explained.append(f"  {statement.seconds * 1000:9.1f} ms  {head}")
                explained.append("")
                explained.extend(await explain(engine, log.statements, top=2))
    finally:
        await engine.dispose()
    sizes = await table_sizes(url)
    return SizeOutcome(attempts, load, sizes, base, cohort, items, problems, explained)


# --- reporting ----------------------------------------------------------------------------


def print_load(load: Load, total: int) -> None:
    print(
        f"  loaded {load.attempts} attempts (now {total}) in {load.seconds:.1f} s "
        f"(VACUUM ANALYZE {load.analyze_seconds:.1f} s of it)"
    )
    print("  " + ", ".join(f"{t} {n} rows {s:.1f} s" for t, (n, s) in load.steps.items()))


def print_size(outcome: SizeOutcome) -> None:
    sizes = ", ".join(f"{t} {n} ({b / MIB:.0f} MiB)" for t, (n, b) in outcome.sizes.items())
    print(f"  tables: {sizes}")
    print(
        f"  {'what':<15}{'best ms':>10}{'runs ms':>24}{'ratio':>8}"
        f"{'py peak MiB':>13}{'max RSS +MiB':>14}"
    )
    for timing in (outcome.base, outcome.cohort, outcome.items):
        runs = "/".join(f"{r * 1000:.0f}" for r in timing.runs)
        ratio = timing.best / outcome.base.best
        print(
            f"  {timing.name:<15}{timing.best * 1000:>10.1f}{runs:>24}{ratio:>7.2f}x"
            f"{timing.peak_mib:>13.2f}{timing.rss_delta_mib:>14.1f}"
        )
    for problem in outcome.problems:
        print(f"  BROKEN: {problem}")
    if outcome.explained:
        print()
        for line in outcome.explained:
            print(f"    {line}")


def print_summary(outcomes: list[SizeOutcome]) -> None:
    print("\nside by side")
    header = "".join(f"{o.attempts:>14}" for o in outcomes)
    print(f"  {'attempts':<34}{header}")
    rows: list[tuple[str, Callable[[SizeOutcome], str]]] = [
        ("baseline ms", lambda o: f"{o.base.best * 1000:.1f}"),
        ("cohort report ms", lambda o: f"{o.cohort.best * 1000:.1f}"),
        ("item report ms", lambda o: f"{o.items.best * 1000:.1f}"),
        ("cohort / baseline", lambda o: f"{o.cohort.best / o.base.best:.2f}x"),
        ("item / baseline", lambda o: f"{o.items.best / o.base.best:.2f}x"),
        ("cohort report py peak MiB", lambda o: f"{o.cohort.peak_mib:.2f}"),
        ("item report py peak MiB", lambda o: f"{o.items.peak_mib:.2f}"),
        ("cohort report max RSS +MiB", lambda o: f"{o.cohort.rss_delta_mib:.1f}"),
        ("item report max RSS +MiB", lambda o: f"{o.items.rss_delta_mib:.1f}"),
    ]
    for label, cell in rows:
        print(f"  {label:<34}" + "".join(f"{cell(o):>14}" for o in outcomes))
    print(f"  {'process max RSS MiB (end)':<34}{max_rss_mib():>14.0f}")
    print(f"\nverdict (targets: report/baseline <= {TARGET_RATIO:g}x; memory flat)")
    for o in outcomes:
        for timing in (o.cohort, o.items):
            ratio = timing.best / o.base.best
            met = "meets the target" if ratio <= TARGET_RATIO else "misses the target"
            print(f"  {o.attempts} attempts, {timing.name}: {ratio:.2f}x {met}")
            summary_row(
                "reports",
                f"{o.attempts} attempts, PostgreSQL",
                f"{timing.name} / one responses scan",
                f"{ratio:.2f}x ({timing.best * 1000:.0f} vs {o.base.best * 1000:.0f} ms)",
                f"<= {TARGET_RATIO:g}x",
                ratio <= TARGET_RATIO,
            )
    if len(outcomes) > 1:
        first, last = outcomes[0], outcomes[-1]
        for name, a, b in (
            ("cohort report", first.cohort, last.cohort),
            ("item report", first.items, last.items),
        ):
            growth = b.peak_mib / a.peak_mib
            print(
                f"  {name} py peak: {a.peak_mib:.2f} MiB at {first.attempts}, "
                f"{b.peak_mib:.2f} MiB at {last.attempts} ({growth:.2f}x)"
            )
            summary_row(
                "reports",
                f"{first.attempts} -> {last.attempts} attempts",
                f"{name} Python peak memory",
                f"{a.peak_mib:.2f} -> {b.peak_mib:.2f} MiB ({growth:.2f}x)",
                f"flat (<= {FLAT_MEMORY:g}x)",
                growth <= FLAT_MEMORY,
            )


# --- main ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> list[SizeOutcome]:
    database = new_database("postgresql", Path("."), args.postgres_url)
    outcomes: list[SizeOutcome] = []
    try:
        started = time.perf_counter()
        upgrade(database.url)
        bank = load_bank(ROOT / "question_bank")
        if bank.problems:
            raise RuntimeError(f"the bank has problems: {bank.problems[:3]}")
        asyncio.run(import_bank_folder(database.url, bank))
        asyncio.run(setup(database.url))
        print(f"migrated, bank imported in {time.perf_counter() - started:.1f} s", flush=True)
        admin_id = asyncio.run(admin_of(database.url))
        admin = CurrentUser(admin_id, "bench-admin", "admin", "Bench admin")
        loaded = 0
        for size in args.sizes:
            print(f"\n{size} attempts x {ITEMS} items", flush=True)
            load = asyncio.run(add_attempts(database.url, size - loaded))
            loaded = size
            print_load(load, loaded)
            outcome = asyncio.run(measure_size(database.url, size, load, admin, args.explain))
            print_size(outcome)
            outcomes.append(outcome)
            sys.stdout.flush()
    finally:
        database.drop()
    return outcomes


async def admin_of(url: str) -> int:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return int(await connection.fetchval("SELECT id FROM users WHERE username = 'bench-admin'"))
    finally:
        await connection.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="attempts, growing")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument(
        "--explain",
        action="store_true",
        help="per report: each statement's time and EXPLAIN (ANALYZE, BUFFERS) of the slowest",
    )
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes takes whole numbers, e.g. 10000,100000")
    if not args.sizes or any(b <= a for a, b in zip(args.sizes, args.sizes[1:], strict=False)):
        parser.error("--sizes must be growing, e.g. 10000,100000")
    if args.sizes[0] < 2:
        parser.error("--sizes: at least 2 attempts")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"reports: cohort_report (all attempts) and item_report (no cohort) vs one aggregate "
        f"scan of responses ({BASELINE_SQL}); in-process, AsyncSession on PostgreSQL; "
        f"best of {REPEATS} after a warm-up; sizes {', '.join(map(str, args.sizes))} attempts "
        f"of {ITEMS} items ({SCORED} scored), {ATTEMPTS_PER_CANDIDATE} attempts per candidate",
        flush=True,
    )
    try:
        outcomes = run(args)
    except Exception as exc:
        print(f"FAILED: {type(exc).__name__}: {exc}", flush=True)
        return 1
    print_summary(outcomes)
    return 1 if any(o.problems for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
