"""The database backends every DB test runs on, and how a test narrows them.

Tests that touch the database take the `migrated_url` fixture (directly or through
`db_url`, `settings`, `client`), which conftest parametrises over `BACKENDS`. A test that
is about one backend's own behaviour runs on that backend alone with `@only_on(...)`,
so its other parametrisation is not collected at all (never skipped at run time).
"""

from __future__ import annotations

import pytest

BACKENDS = ["sqlite", "postgresql"]


def only_on(backend: str) -> pytest.MarkDecorator:
    """Run the decorated test on `backend` only (`"sqlite"` or `"postgresql"`)."""
    assert backend in BACKENDS, backend
    return pytest.mark.parametrize("migrated_url", [backend], indirect=True)
