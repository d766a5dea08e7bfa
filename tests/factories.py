"""Small helpers that tests use to build what they need."""

from __future__ import annotations

from pathlib import Path

from exam_service.bank.loader import Bank, load_bank
from exam_service.bank.service import ImportCounts, import_bank_into


def checked_bank(path: Path) -> Bank:
    bank = load_bank(path)
    assert bank.problems == [], "\n".join(map(str, bank.problems))
    return bank


async def import_folder(db_url: str, path: Path) -> ImportCounts:
    return await import_bank_into(db_url, checked_bank(path))


def write_questions(bank: Path, name: str, body: str) -> Path:
    path = bank / "questions" / name
    path.write_text(body, encoding="utf-8")
    return path
