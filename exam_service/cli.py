"""The `exam-service` command (also `python -m exam_service`)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from exam_service.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from exam_service.bank.loader import Bank
    from exam_service.bank.service import ImportCounts
    from exam_service.grading.irt import Model

T = TypeVar("T")


def _bank_path(value: str | None, settings: Settings) -> Path:
    return Path(value) if value else settings.bank_path


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from exam_service.app import InsecureSettings, create_app

    host = args.host or settings.host
    port = args.port or settings.port
    try:
        app = create_app(settings)
    except InsecureSettings as exc:
        print(f"exam-service: refusing to start: {exc}", file=sys.stderr)
        return 2
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    print(f"exam_service is serving on http://{shown}:{port}")
    print(f"API docs: http://{shown}:{port}/schema  (OpenAPI JSON at /schema/openapi.json)")
    # Forwarded headers are read by the app, from EXAM_TRUSTED_PROXIES only (http.client_address).
    # uvicorn's own records go to the app's log format (log_config=None leaves logging as
    # create_app set it); the app logs each request itself, with its id (observability.py).
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from exam_service.migrate import upgrade

    upgrade(settings.database_url, args.revision)
    print(f"database at {args.revision}: {settings.database_url}")
    return 0


def cmd_db_downgrade(args: argparse.Namespace, settings: Settings) -> int:
    from exam_service.migrate import downgrade

    downgrade(settings.database_url, args.revision)
    print(f"database downgraded to {args.revision}")
    return 0


def cmd_bank_validate(args: argparse.Namespace, settings: Settings) -> int:
    from exam_service.bank.loader import load_bank

    bank = load_bank(_bank_path(args.path, settings))
    for problem in bank.problems:
        print(problem, file=sys.stderr)
    if bank.problems:
        print(f"{len(bank.problems)} problem(s) in {bank.root}", file=sys.stderr)
        return 1
    print(
        f"{bank.root}: {len(bank.questions)} questions, {len(bank.objectives)} objectives, "
        f"{len(bank.blueprints)} blueprints ({len(bank.example_blueprints)} examples): valid"
    )
    return 0


async def _import_file(settings: Settings, args: argparse.Namespace, path: Path) -> int:
    from exam_service.bank import interchange
    from exam_service.bank.service import import_questions, objective_specs
    from exam_service.db import one_session
    from exam_service.errors import ExamServiceError

    mapping = dict(rule.split("=", 1) for rule in args.map or [])
    async with one_session(settings.database_url) as session:
        parsed = interchange.parse_import(
            path.name,
            path.read_bytes(),
            args.format,
            await objective_specs(session),
            mapping,
            args.default_objective,
        )
        for issue in parsed.errors + parsed.skipped + parsed.warnings:
            kind = (
                "error"
                if issue in parsed.errors
                else "skipped"
                if issue in parsed.skipped
                else "warning"
            )
            print(f"{kind}: {issue}", file=sys.stderr)
        if parsed.errors and not args.partial:
            print(
                f"nothing imported: {len(parsed.errors)} question(s) have errors; fix them "
                "or pass --partial to import the rest",
                file=sys.stderr,
            )
            return 1
        try:
            counts = await import_questions(
                session,
                parsed.specs,
                dry_run=args.dry_run,
                overwrite=args.overwrite,
                file=path.name,
            )
        except ExamServiceError as exc:
            print(f"exam-service: {exc.detail}", file=sys.stderr)
            return 1
    for qid in counts.replaced:
        print(
            f"warning: {path.name} [{qid}]: replaces the bank's question {qid!r}", file=sys.stderr
        )
    verb = "would create" if args.dry_run else "created"
    print(
        f"{path.name} ({parsed.format}): {verb} {counts.created}, updated {counts.updated}, "
        f"unchanged {counts.unchanged}, skipped {len(parsed.skipped)}, errors {len(parsed.errors)}"
    )
    return 0


async def import_bank_folder(database_url: str, bank: Bank) -> ImportCounts:
    """Import a checked bank folder in one transaction: objectives and questions
    (`bank.service.import_bank`), then the folder's blueprints
    (`exams.blueprints.sync_file_blueprints`)."""
    from exam_service.bank.service import import_bank
    from exam_service.db import one_session
    from exam_service.exams.blueprints import sync_file_blueprints

    async with one_session(database_url) as session:
        counts = await import_bank(session, bank)
        counts.blueprints = await sync_file_blueprints(session, [b.spec for b in bank.blueprints])
        await session.commit()
        if counts.created + counts.updated >= ANALYZE_AFTER:
            await _refresh_bank_tables(session)
    return counts


ANALYZE_AFTER = 1000
"""Questions created or revised by one import above which the bank's tables are analyzed
(PostgreSQL: vacuumed and analyzed)."""
BANK_TABLES = ("questions", "question_revisions", "revision_objectives")


async def _refresh_bank_tables(session: AsyncSession) -> None:
    """Fresh planner statistics after a big import, or the question list's plans ignore the
    new indexes until autovacuum gets to the tables (10,000 questions on PostgreSQL: a word
    search 92 -> 47 ms). PostgreSQL also gets a VACUUM: it marks the new rows' pages all
    visible, without which the list's counts cannot be answered from the indexes alone
    (100,000 questions, a whole domain: 111 -> 27 ms for the count)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncEngine

    engine = session.bind
    if isinstance(engine, AsyncEngine) and engine.dialect.name == "postgresql":
        async with engine.connect() as connection:  # VACUUM runs outside a transaction
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            for table in BANK_TABLES:
                await autocommit.execute(text(f"VACUUM (ANALYZE) {table}"))
        return
    for table in BANK_TABLES:
        await session.execute(text(f"ANALYZE {table}"))
    await session.commit()


def cmd_bank_import(args: argparse.Namespace, settings: Settings) -> int:
    from exam_service.bank.loader import load_bank

    if args.path and Path(args.path).is_file():
        return asyncio.run(_import_file(settings, args, Path(args.path)))
    bank = load_bank(_bank_path(args.path, settings))
    if bank.problems:
        for problem in bank.problems:
            print(problem, file=sys.stderr)
        print(
            f"nothing imported: fix the {len(bank.problems)} problem(s) above, then run again",
            file=sys.stderr,
        )
        return 1
    counts = asyncio.run(import_bank_folder(settings.database_url, bank))
    print(
        f"bank {bank.root}: created {counts.created}, updated {counts.updated}, "
        f"unchanged {counts.unchanged}, retired {counts.retired}; "
        f"blueprints created or changed {counts.blueprints}"
    )
    return 0


def cmd_bank_lint(args: argparse.Namespace, settings: Settings) -> int:
    from exam_service.bank.lint import figures_report, lint_bank
    from exam_service.bank.loader import load_bank

    bank = load_bank(_bank_path(args.path, settings))
    if bank.problems:
        for problem in bank.problems:
            print(problem, file=sys.stderr)
        print("the bank is not valid: fix the problems above before linting", file=sys.stderr)
        return 1
    if args.figures:
        print(figures_report(bank))
    findings = lint_bank(bank, min_per_objective=args.min_per_objective)
    for finding in findings:
        print(finding, file=sys.stderr)
    if findings:
        print(f"{len(findings)} finding(s) in {bank.root}", file=sys.stderr)
        return 1
    print(f"{bank.root}: {len(bank.questions)} questions pass every quality check")
    return 0


def cmd_bank_stats(args: argparse.Namespace, settings: Settings) -> int:
    from exam_service.bank.loader import load_bank
    from exam_service.bank.stats import stats_table

    bank = load_bank(_bank_path(args.path, settings))
    for problem in bank.problems:
        print(problem, file=sys.stderr)
    print(stats_table(bank), end="")
    return 1 if bank.problems else 0


def cmd_bank_export(args: argparse.Namespace, settings: Settings) -> int:
    from exam_service.bank import interchange
    from exam_service.bank.service import current_specs, objective_specs

    async def collect() -> tuple[bytes, str, str]:
        from exam_service.db import one_session

        async with one_session(settings.database_url) as session:
            return interchange.export_bank(
                args.format, await current_specs(session), await objective_specs(session)
            )

    body, _media, extension = asyncio.run(collect())
    if args.out:
        Path(args.out).write_bytes(body)
        print(f"wrote {args.out} ({len(body)} bytes, .{extension})", file=sys.stderr)
    else:
        sys.stdout.buffer.write(body)
    return 0


def cmd_bank_schema(args: argparse.Namespace, settings: Settings) -> int:
    from exam_service.bank.format import json_schemas

    out = Path(args.out) if args.out else settings.bank_path / "schema"
    out.mkdir(parents=True, exist_ok=True)
    for name, body in json_schemas().items():
        (out / name).write_bytes(body)
        print(out / name)
    return 0


async def _with_session(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from exam_service.db import one_session

    async with one_session(database_url) as session:
        return await work(session)


def cmd_users_create(args: argparse.Namespace, settings: Settings) -> int:
    from exam_service.auth.service import create_user
    from exam_service.errors import ExamServiceError

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.username}: ")
        if getpass.getpass("again: ") != password:
            print("the two passwords differ; nothing was created", file=sys.stderr)
            return 1
    try:
        user = asyncio.run(
            _with_session(
                settings.database_url,
                lambda s: create_user(s, args.username, password, args.role, args.display_name),
            )
        )
    except ExamServiceError as exc:
        print(f"exam-service: {exc.detail}", file=sys.stderr)
        return 1
    print(f"created {user.role} {user.username!r} (id {user.id})")
    return 0


def cmd_demo_accounts(args: argparse.Namespace, settings: Settings) -> int:
    from exam_service.auth.service import create_demo_accounts

    target = settings.data_dir / "demo-accounts.txt"
    passwords = asyncio.run(_with_session(settings.database_url, create_demo_accounts))
    if passwords is None:
        where = f" (passwords saved in {target})" if target.exists() else ""
        print(f"users exist already; no demo accounts made{where}")
        return 0
    lines = [f"{name}  password: {password}" for name, password in passwords.items()]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        "Demo accounts made by `exam-service demo-accounts` (shown once on screen):\n"
        + "\n".join(lines)
        + "\n",
        encoding="utf-8",
    )
    target.chmod(0o600)
    print("demo accounts (sign in at /login; also saved in " + str(target) + "):")
    for line in lines:
        print("  " + line)
    return 0


class Progress:
    """A one-line progress bar on a terminal; silent when stderr is piped or redirected."""

    def __init__(self, total: int, what: str) -> None:
        self.total, self.what, self.done = total, what, 0
        self.live = sys.stderr.isatty()

    def step(self) -> None:
        self.done += 1
        if self.live:
            filled = round(30 * self.done / self.total)
            bar = "#" * filled + "-" * (30 - filled)
            end = "\n" if self.done == self.total else ""
            print(f"\r[{bar}] {self.done}/{self.total} {self.what}", end=end, file=sys.stderr)


async def _make_paper_exam(settings: Settings, args: argparse.Namespace) -> Any:
    from exam_service.auth.service import current_user, paper_exam_owner
    from exam_service.db import one_session
    from exam_service.paper import service

    async with one_session(settings.database_url) as session:
        owner = await paper_exam_owner(session, args.owner)
        if owner is None:
            raise LookupError(
                f"no user {args.owner!r}" if args.owner else "no instructor or admin exists"
            )
        exam = await service.create_paper_exam(
            session,
            current_user(owner),
            args.blueprint,
            args.title or args.blueprint,
            args.forms,
            args.seed,
            args.paper,
        )
        return exam.id, await service.document(session, exam)


def cmd_paper_render(args: argparse.Namespace, settings: Settings) -> int:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from exam_service.errors import ExamServiceError
    from exam_service.paper import pdf
    from exam_service.paper.document import SheetCandidate
    from exam_service.paper.service import key_csv

    try:
        exam_id, doc = asyncio.run(_make_paper_exam(settings, args))
    except (ExamServiceError, LookupError) as exc:
        message = exc.detail if isinstance(exc, ExamServiceError) else str(exc)
        print(f"exam-service: {message}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    codes = [form.code for form in doc.forms]
    progress = Progress(len(codes), "booklets")
    booklets: dict[str, bytes] = {}
    if args.processes > 1 and len(codes) > 1:
        with ProcessPoolExecutor(min(args.processes, len(codes))) as pool:
            futures = {pool.submit(pdf.booklet_pdf, doc, code): code for code in codes}
            for future in as_completed(futures):
                booklets[futures[future]] = future.result()
                progress.step()
    else:
        for code in codes:
            booklets[code] = pdf.booklet_pdf(doc, code)
            progress.step()
    for code in codes:
        (out / f"exam-{exam_id}-form-{code}-booklet.pdf").write_bytes(booklets[code])
        (out / f"exam-{exam_id}-form-{code}-key.pdf").write_bytes(pdf.key_pdf(doc, code))
        (out / f"exam-{exam_id}-form-{code}-key.csv").write_bytes(key_csv(doc, code))
        if args.sheets:
            spare = [SheetCandidate("", "", "")] * args.sheets
            sheets = pdf.answer_sheets_pdf(doc, code, spare)
            (out / f"exam-{exam_id}-form-{code}-answer-sheets.pdf").write_bytes(sheets)
    print(f"paper exam {exam_id}: {len(codes)} form(s) written to {out}")
    return 0


async def _calibrate(settings: Settings, model: Model | None) -> str:
    from exam_service.calibration import runs, service
    from exam_service.db import one_session

    async with one_session(settings.database_url) as session:
        summary = await runs.calibrate_now(session, model=model)
        names = await service.revision_names(session, summary.misfits)
    if summary.responses == 0:
        return "no graded attempts yet: nothing to calibrate"
    return "calibrated " + runs.describe(summary, names)


def cmd_calibrate(args: argparse.Namespace, settings: Settings) -> int:
    from exam_service.errors import ExamServiceError

    try:
        print(asyncio.run(_calibrate(settings, args.model)))
    except ExamServiceError as exc:
        print(f"exam-service: {exc.detail}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exam-service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server (uvicorn)")
    serve.add_argument("--host", help="default: EXAM_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default: EXAM_PORT or 8000")
    serve.set_defaults(handler=cmd_serve)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    up = db.add_parser("upgrade", help="migrate the database to a revision (default: head)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=cmd_db_upgrade)
    down = db.add_parser("downgrade", help="migrate the database down to a revision")
    down.add_argument("revision")
    down.set_defaults(handler=cmd_db_downgrade)

    bank = commands.add_parser("bank", help="the question bank").add_subparsers(
        dest="bank", required=True
    )
    validate = bank.add_parser("validate", help="check a bank folder; report every problem")
    validate.add_argument("path", nargs="?", help="default: EXAM_BANK_PATH or question_bank/")
    validate.set_defaults(handler=cmd_bank_validate)
    imp = bank.add_parser("import", help="import a bank folder (idempotent)")
    imp.add_argument(
        "path",
        nargs="?",
        help="a bank folder (default: EXAM_BANK_PATH), or a GIFT, Aiken, Moodle XML or YAML file",
    )
    imp.add_argument("--format", choices=["gift", "aiken", "moodle-xml", "yaml"])
    imp.add_argument("--default-objective", help="objective code for unmapped questions")
    imp.add_argument(
        "--map", action="append", metavar="CATEGORY=CODE", help="map a category or tag"
    )
    imp.add_argument("--dry-run", action="store_true", help="report, store nothing")
    imp.add_argument("--partial", action="store_true", help="import the good questions")
    imp.add_argument(
        "--overwrite",
        action="store_true",
        help="replace bank questions whose id the file reuses with other content",
    )
    imp.set_defaults(handler=cmd_bank_import)
    export = bank.add_parser("export", help="write the active bank in a standard format")
    export.add_argument("--format", choices=["yaml", "gift", "moodle-xml", "qti"], default="yaml")
    export.add_argument("--out", help="file to write (default: standard output)")
    export.set_defaults(handler=cmd_bank_export)
    lint = bank.add_parser("lint", help="quality checks: coverage, key balance, duplicates")
    lint.add_argument("path", nargs="?", help="default: EXAM_BANK_PATH or question_bank/")
    lint.add_argument(
        "--min-per-objective", type=int, default=10, help="questions each leaf objective needs"
    )
    lint.add_argument(
        "--figures",
        action="store_true",
        help="also print each test-wise strategy's score against chance and the cue shares, "
        "for the bank and each file",
    )
    lint.set_defaults(handler=cmd_bank_lint)
    stats = bank.add_parser("stats", help="questions per objective and type (Markdown)")
    stats.add_argument("path", nargs="?", help="default: EXAM_BANK_PATH or question_bank/")
    stats.set_defaults(handler=cmd_bank_stats)
    schema = bank.add_parser("schema", help="write the bank files' JSON Schemas")
    schema.add_argument("--out", help="default: <bank>/schema")
    schema.set_defaults(handler=cmd_bank_schema)
    users = commands.add_parser("users", help="user accounts").add_subparsers(
        dest="users", required=True
    )
    create = users.add_parser("create", help="create a user; the password is asked for")
    create.add_argument("--role", required=True, choices=["admin", "instructor", "candidate"])
    create.add_argument("--username", required=True)
    create.add_argument("--display-name", default="")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.set_defaults(handler=cmd_users_create)

    paper = commands.add_parser("paper", help="paper exams").add_subparsers(
        dest="paper", required=True
    )
    render = paper.add_parser(
        "render", help="draw a paper exam and write its booklets, keys and answer sheets"
    )
    render.add_argument("--blueprint", required=True)
    render.add_argument("--forms", type=int, default=1, help="1-26 forms (A, B, ...)")
    render.add_argument("--out", required=True, help="folder for the PDFs")
    render.add_argument("--title", default="")
    render.add_argument("--seed", type=int, help="draw the same exam again with the same seed")
    render.add_argument("--paper", choices=["a4", "letter"], default="a4")
    render.add_argument("--sheets", type=int, default=0, help="blank answer sheets per form")
    render.add_argument("--owner", help="the instructor who owns it (default: the first one)")
    render.add_argument("--processes", type=int, default=0, help="render forms in N processes")
    render.set_defaults(handler=cmd_paper_render)

    calibrate = commands.add_parser(
        "calibrate",
        help="fit item response theory parameters from every graded attempt, now",
    )
    calibrate.add_argument(
        "--model",
        choices=["rasch", "2pl"],
        help="default: the model in use (the last run's; 2pl before any run)",
    )
    calibrate.set_defaults(handler=cmd_calibrate)

    demo = commands.add_parser(
        "demo-accounts", help="on an empty database, make demo users and print their passwords"
    )
    demo.set_defaults(handler=cmd_demo_accounts)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"exam-service: {exc}", file=sys.stderr)
        return 2
    code: int = args.handler(args, settings)
    return code


if __name__ == "__main__":
    sys.exit(main())
