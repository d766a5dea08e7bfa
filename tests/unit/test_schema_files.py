"""The JSON Schemas published for editors match the format the loader enforces."""

from __future__ import annotations

import json
from pathlib import Path

from exam_service.bank.format import json_schemas

SCHEMA_DIR = Path(__file__).parents[2] / "question_bank" / "schema"


def test_published_schemas_are_current() -> None:
    for name, body in json_schemas().items():
        published = SCHEMA_DIR / name
        assert published.read_bytes() == body, f"run `exam-service bank schema` to refresh {name}"


def test_question_schema_names_every_type() -> None:
    schema = json.loads((SCHEMA_DIR / "questions.schema.json").read_text())
    question = schema["$defs"]["QuestionFile"]
    assert set(question["properties"]["type"]["enum"]) == {
        "single",
        "multiple",
        "ordering",
        "matching",
        "numeric",
    }
    assert set(question["required"]) >= {"id", "type", "objectives", "stem", "explanation"}
