"""The environment the suite runs in is exactly the locked one, and the locks match pyproject."""

from __future__ import annotations

import importlib.util
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _lock_tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("lock_tool", ROOT / "tools" / "lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["lock_tool"] = module
    spec.loader.exec_module(module)
    return module


def test_every_locked_package_is_installed_at_its_locked_version() -> None:
    lock = _lock_tool()
    wrong = {}
    for name, version in lock.pins(lock.DEV_LOCK).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (version, installed)
    assert wrong == {}, f"locked vs installed: {wrong}; run `make` to install the lock"


def test_locks_agree_with_pyproject() -> None:
    assert _lock_tool().problems() == []


def test_check_notices_a_declaration_the_lock_was_not_made_from(tmp_path: Path) -> None:
    lock = _lock_tool()
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        (ROOT / "pyproject.toml")
        .read_text()
        .replace('"msgspec>=0.19",', '"msgspec>=0.19",\n    "tabulate>=0.9",')
    )
    lock.PYPROJECT = pyproject
    found = lock.problems()
    assert any("other declarations than pyproject.toml's" in p for p in found), found
    assert any("no pin for 'tabulate>=0.9'" in p for p in found), found


def test_check_notices_a_pin_outside_the_declared_range(tmp_path: Path) -> None:
    lock = _lock_tool()
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        (ROOT / "pyproject.toml").read_text().replace('"msgspec>=0.19"', '"msgspec>=99"')
    )
    lock.PYPROJECT = pyproject
    assert any("outside 'msgspec>=99'" in p for p in lock.problems())
