"""One Settings object, read from the EXAM_* environment variables (never at import time)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{ROOT / 'var' / 'exam_service.sqlite3'}"
DEFAULT_SECRET_KEY = "development-only-secret-change-me"
DEFAULT_SQLITE_BUSY_MS = 10_000
"""How long a SQLite write waits for the file's write lock before it gives up."""
LOG_LEVELS = {"critical": 50, "error": 40, "warning": 30, "info": 20, "debug": 10, "trace": 5}
"""EXAM_LOG_LEVEL's values (uvicorn's names) and the `logging` level of each."""


@dataclass(frozen=True)
class Settings:
    """Runtime configuration; every field has an `EXAM_<NAME>` environment variable."""

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str = DEFAULT_SECRET_KEY
    env: str = "development"
    bank_path: Path = field(default=ROOT / "question_bank")
    log_level: str = "info"
    """The app's and uvicorn's log level; at info every request is logged (one line)."""
    data_dir: Path = field(default=ROOT / "var")
    """Local files other than the database: the demo accounts' passwords."""
    token_ttl_seconds: int = 12 * 3600
    access_refresh_seconds: int = 2
    """How often each instance re-reads deactivations, role and password changes and
    sign-outs made anywhere (`auth/revocation.py`); 0: before every signed-in request."""
    max_body_bytes: int = 2 * 1024 * 1024
    signin_max_failures: int = 5
    signin_window_seconds: int = 300
    sweep_interval_seconds: int = 15
    """How often each instance closes expired attempts; 0 turns the background sweep off."""
    calibration_interval_seconds: int = 3600
    """How often the item parameters are fitted again in the background (one instance runs
    it, and only when something was graded since); 0 turns the background run off."""
    sqlite_busy_timeout_ms: int = DEFAULT_SQLITE_BUSY_MS
    """How long a write waits for SQLite's write lock; past it the request gets 503 with
    Retry-After (nothing of it was written)."""

    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks (CIDR) of the reverse proxies in front of the service. Only a
    request from one of them may name the client in X-Forwarded-For; by default none is
    trusted and the client is the connection's peer (the sign-in limit counts by it)."""
    heavy_workers: int = 0
    """Processes for CPU-heavy work (imports, exports, scans, PDFs, big CSVs); 0: one
    fewer than the CPUs, at least one."""
    heavy_queue: int = 8
    """Heavy jobs that may wait for a worker; past that, 503 with Retry-After."""
    metrics_token: str = ""
    """The bearer token a Prometheus scraper sends to /metrics; empty: only admins' tokens."""
    tracing: bool = False
    """OpenTelemetry traces through Litestar's plugin, exported as the OTEL_* variables say."""

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()

        def number(name: str, default: int) -> int:
            text = env.get(name, str(default))
            if not text.isdigit():
                raise ValueError(f"{name} must be a whole number, got {text!r}")
            return int(text)

        def networks(name: str) -> tuple[str, ...]:
            found = []
            for part in env.get(name, "").replace(" ", "").split(","):
                if not part:
                    continue
                try:
                    found.append(str(ipaddress.ip_network(part, strict=False)))
                except ValueError:
                    raise ValueError(
                        f"{name} lists {part!r}, which is not an IP address or network; "
                        "give addresses or CIDR networks separated by commas"
                    ) from None
            return tuple(found)

        port_text = env.get("EXAM_PORT", str(defaults.port))
        if not port_text.isdigit():
            raise ValueError(f"EXAM_PORT must be a port number, got {port_text!r}")
        environment = env.get("EXAM_ENV", defaults.env)
        if environment not in ("development", "production"):
            raise ValueError(f"EXAM_ENV must be 'development' or 'production', got {environment!r}")
        log_level = env.get("EXAM_LOG_LEVEL", defaults.log_level).lower()
        if log_level not in LOG_LEVELS:
            raise ValueError(
                f"EXAM_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}"
            )
        tracing = env.get("EXAM_TRACING", "off").lower()
        if tracing not in ("on", "off", "true", "false", "1", "0", ""):
            raise ValueError(f"EXAM_TRACING must be 'on' or 'off', got {tracing!r}")
        return cls(
            database_url=env.get("EXAM_DATABASE_URL", defaults.database_url),
            host=env.get("EXAM_HOST", defaults.host),
            port=int(port_text),
            secret_key=env.get("EXAM_SECRET_KEY", defaults.secret_key),
            env=environment,
            bank_path=Path(env.get("EXAM_BANK_PATH", str(defaults.bank_path))),
            log_level=log_level,
            data_dir=Path(env.get("EXAM_DATA_DIR", str(defaults.data_dir))),
            token_ttl_seconds=number("EXAM_TOKEN_TTL_SECONDS", defaults.token_ttl_seconds),
            access_refresh_seconds=number(
                "EXAM_ACCESS_REFRESH_SECONDS", defaults.access_refresh_seconds
            ),
            max_body_bytes=number("EXAM_MAX_BODY_BYTES", defaults.max_body_bytes),
            signin_max_failures=number("EXAM_SIGNIN_MAX_FAILURES", defaults.signin_max_failures),
            signin_window_seconds=number(
                "EXAM_SIGNIN_WINDOW_SECONDS", defaults.signin_window_seconds
            ),
            sweep_interval_seconds=number(
                "EXAM_SWEEP_INTERVAL_SECONDS", defaults.sweep_interval_seconds
            ),
            calibration_interval_seconds=number(
                "EXAM_CALIBRATION_INTERVAL_SECONDS", defaults.calibration_interval_seconds
            ),
            sqlite_busy_timeout_ms=number(
                "EXAM_SQLITE_BUSY_TIMEOUT_MS", defaults.sqlite_busy_timeout_ms
            ),
            trusted_proxies=networks("EXAM_TRUSTED_PROXIES"),
            heavy_workers=number("EXAM_HEAVY_WORKERS", defaults.heavy_workers),
            heavy_queue=number("EXAM_HEAVY_QUEUE", defaults.heavy_queue),
            metrics_token=env.get("EXAM_METRICS_TOKEN", defaults.metrics_token).strip(),
            tracing=tracing in ("on", "true", "1"),
        )
