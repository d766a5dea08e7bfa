"""The `exam-service` command as a user runs it: exit codes and what it prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exam_service.cli import main
from tests.backends import BACKENDS
from tests.conftest import FIXTURE_BANK, DatabaseFactory


def test_validate_good_bank(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bank", "validate", str(FIXTURE_BANK)]) == 0
    assert "7 questions, 22 objectives, 1 blueprints (0 examples): valid" in capsys.readouterr().out


def test_validate_reports_problems_and_fails(
    bank_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = bank_dir / "questions" / "starter.yaml"
    path.write_text(path.read_text().replace("objectives: [D2.1.2]", "objectives: [D2.1.99]"))
    assert main(["bank", "validate", str(bank_dir)]) == 1
    err = capsys.readouterr().err
    assert "questions/starter.yaml:12: [churn-algorithm] unknown objective 'D2.1.99'" in err
    assert "1 problem(s)" in err


@pytest.mark.parametrize("backend", BACKENDS)
def test_db_upgrade_and_import_twice(
    backend: str,
    databases: DatabaseFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("EXAM_DATABASE_URL", databases.new(backend))
    assert main(["db", "upgrade"]) == 0
    assert main(["bank", "import", str(FIXTURE_BANK)]) == 0
    assert "created 7, updated 0, unchanged 0, retired 0" in capsys.readouterr().out
    assert main(["bank", "import", str(FIXTURE_BANK)]) == 0
    assert "created 0, updated 0, unchanged 7, retired 0" in capsys.readouterr().out


def test_import_refuses_an_invalid_bank(
    bank_dir: Path,
    databases: DatabaseFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("EXAM_DATABASE_URL", databases.new("sqlite"))
    (bank_dir / "questions" / "broken.yaml").write_text("questions: [\n")
    assert main(["bank", "import", str(bank_dir)]) == 1
    err = capsys.readouterr().err
    assert "questions/broken.yaml" in err and "YAML syntax error" in err
    assert "nothing imported" in err


def test_bad_setting_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAM_PORT", "eighty")
    result = subprocess.run(
        [sys.executable, "-m", "exam_service", "bank", "validate", str(FIXTURE_BANK)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "EXAM_PORT must be a port number, got 'eighty'" in result.stderr
