"""Quiz files over the API on both databases: upload GIFT, Moodle XML and YAML; export;
numeric questions in and out of GIFT, Moodle XML and QTI."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import Person, import_folder

Client = AsyncTestClient  # type: ignore[type-arg]
FILES = Path(__file__).parents[1] / "fixtures" / "interchange"


@pytest.fixture(autouse=True)
async def bank(db_url: str, bank_dir: Path) -> None:
    await import_folder(db_url, bank_dir)


async def upload(client: Client, who: Person, name: str, **params: str) -> object:
    return await client.post(
        "/api/v1/bank/imports",
        files={"file": (name, (FILES / name).read_bytes())},
        params=params,
        headers=who.headers,
    )


async def test_gift_upload_creates_questions(client: Client, people: dict[str, Person]) -> None:
    teacher = people["instructor"]
    week2 = '{"Week 2/Training": "D2.2.3"}'
    dry = await upload(client, teacher, "constructs.gift", dry_run="true", mapping=week2)
    assert dry.status_code == 200, dry.text  # type: ignore[attr-defined]
    report = dry.json()  # type: ignore[attr-defined]
    assert report["format"] == "gift" and report["dry_run"] is True and report["created"] > 5
    assert report["skipped"] == [] and report["errors"] == []
    listed = await client.get("/api/v1/questions", params={"limit": 200}, headers=teacher.headers)
    assert listed.json()["total"] == 7  # nothing stored by the dry run

    real = (await upload(client, teacher, "constructs.gift", mapping=week2)).json()  # type: ignore[attr-defined]
    assert real["created"] == report["created"]
    question = await client.get(
        f"/api/v1/questions/{real['questions'][0]}", headers=teacher.headers
    )
    assert question.status_code == 200
    assert question.json()["current"]["source"].startswith("imported from constructs.gift")
    again = (await upload(client, teacher, "constructs.gift", mapping=week2)).json()  # type: ignore[attr-defined]
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, real["created"])


async def test_errors_import_nothing_unless_partial(
    client: Client, people: dict[str, Person]
) -> None:
    teacher = people["instructor"]
    refused = await upload(client, teacher, "errors.gift")
    assert refused.status_code == 422  # type: ignore[attr-defined]
    body = refused.json()  # type: ignore[attr-defined]
    assert "nothing was imported" in body["detail"]
    assert all("errors.gift line " in e for e in body["errors"])
    partial = await upload(client, teacher, "errors.gift", partial="true")
    assert partial.status_code == 200  # type: ignore[attr-defined]
    assert partial.json()["errors"]  # type: ignore[attr-defined]


async def test_moodle_xml_with_a_dtd_is_refused(client: Client, people: dict[str, Person]) -> None:
    payload = (
        b'<?xml version="1.0"?><!DOCTYPE quiz [<!ENTITY x "boom">]>'
        b"<quiz><question type='truefalse'><name><text>&x;</text></name></question></quiz>"
    )
    response = await client.post(
        "/api/v1/bank/imports",
        files={"file": ("evil.xml", payload)},
        headers=people["instructor"].headers,
    )
    assert response.status_code == 422
    assert "evil.xml" in response.json()["errors"][0]


@pytest.mark.parametrize(
    ("fmt", "media"),
    [
        ("yaml", "application/yaml"),
        ("gift", "text/plain"),
        ("moodle-xml", "application/xml"),
        ("qti", "application/zip"),
    ],
)
async def test_exports(client: Client, people: dict[str, Person], fmt: str, media: str) -> None:
    response = await client.get(
        "/api/v1/bank/export", params={"format": fmt}, headers=people["instructor"].headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    if fmt == "qti":
        names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
        assert "imsmanifest.xml" in names and len(names) >= 8
    else:
        assert "churn" in response.text.lower()


async def test_yaml_export_round_trips(client: Client, people: dict[str, Person]) -> None:
    teacher = people["instructor"]
    exported = await client.get(
        "/api/v1/bank/export", params={"format": "yaml"}, headers=teacher.headers
    )
    response = await client.post(
        "/api/v1/bank/imports",
        files={"file": ("bank.yaml", exported.content)},
        headers=teacher.headers,
    )
    assert response.status_code == 200, response.text
    assert (
        response.json()["created"],
        response.json()["updated"],
        response.json()["unchanged"],
    ) == (0, 0, 7)


async def test_text_downloads_name_their_charset_once(
    client: Client, people: dict[str, Person]
) -> None:
    teacher = people["instructor"].headers
    gift = await client.get("/api/v1/bank/export", params={"format": "gift"}, headers=teacher)
    assert gift.status_code == 200
    assert gift.headers["content-type"] == "text/plain; charset=utf-8"
    items = await client.get(
        "/api/v1/reports/items",
        params={"blueprint_id": "starter-mock", "format": "csv"},
        headers=teacher,
    )
    assert items.status_code == 200, items.text
    assert items.headers["content-type"] == "text/csv; charset=utf-8"


async def test_a_file_with_too_many_questions_is_refused_with_what_to_do(
    client: Client, people: dict[str, Person]
) -> None:
    body = "".join(f"::Q{n}::True? {{T}}\n\n" for n in range(5_001)).encode()
    response = await client.post(
        "/api/v1/bank/imports",
        files={"file": ("big.gift", body)},
        params={"default_objective": "D2.1.2"},
        headers=people["instructor"].headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        "big.gift line 10001: more than 5,000 questions in one file (the one here is number "
        "5,001): split the file into parts of at most 5,000 questions and import each part"
    ]


async def test_a_moodle_export_read_back_into_its_bank_replaces_nothing_unasked(
    client: Client, people: dict[str, Person]
) -> None:
    # Moodle XML carries no difficulty or source, so its questions read back differ from
    # the bank's: importing the export over the bank must not overwrite them silently.
    teacher = people["instructor"].headers
    exported = await client.get(
        "/api/v1/bank/export", params={"format": "moodle-xml"}, headers=teacher
    )
    assert 'fraction="-' in exported.text  # wrong answers of multiple questions: negative
    again = await client.post(
        "/api/v1/bank/imports",
        files={"file": ("bank.xml", exported.content)},
        headers=teacher,
    )
    assert again.status_code == 409
    problem = again.json()
    assert len(problem["errors"]) == 6  # every question but the ordering one, left out
    assert (
        "bank.xml [regularization-pick-two]: 'regularization-pick-two' (other content)"
        in (problem["errors"])
    )


# --- numeric questions ----------------------------------------------------------------------

NUMERIC_YAML = """\
questions:
  - id: iterations-per-epoch
    type: numeric
    objectives: [D2.2.5]
    difficulty: easy
    source: "Worked Examples: iterations per epoch"
    stem: A training set has 60,000 samples and the batch size is 50. Iterations per epoch?
    answer: 1200
    tolerance: 2%
    unit: iterations
    partial: {tolerance: 5%, credit: 0.5}
    rationale: 60,000 samples / 50 samples per batch = 1,200 iterations.
    mistakes:
      - {value: 3000000, rationale: That multiplies the samples by the batch size; divide.}
    explanation: One epoch passes every sample once, and each iteration takes one batch.
"""
NUMERIC_DETAIL = {  # as GIFT and Moodle XML carry it: the tolerances absolute
    "tolerance": 24,
    "unit": "iterations",
    "partial": {"tolerance": 60, "credit": 0.5},
    "rationale": "60,000 samples / 50 samples per batch = 1,200 iterations.",
    "mistakes": [
        {"value": 3000000, "rationale": "That multiplies the samples by the batch size; divide."}
    ],
}


async def current(client: Client, who: Person, qid: str) -> Any:
    """The current revision of a bank question, with its key."""
    response = await client.get(f"/api/v1/questions/{qid}", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()["current"]


async def send(client: Client, who: Person, name: str, body: bytes, **params: str) -> Any:
    return await client.post(
        "/api/v1/bank/imports", files={"file": (name, body)}, params=params, headers=who.headers
    )


async def test_numerical_uploads_become_numeric_questions(
    client: Client, people: dict[str, Person]
) -> None:
    teacher = people["instructor"]
    gift = await upload(client, teacher, "numerical.gift")
    assert gift.status_code == 200, gift.text  # type: ignore[attr-defined]
    report = gift.json()  # type: ignore[attr-defined]
    assert (report["format"], report["created"], report["skipped"]) == ("gift", 7, [])
    assert (
        "numerical.gift line 27 [crowded]: answer 4 (100 \u00b1 10, 25%) is not kept: the bank "
        "has one partial-credit band"
    ) in report["warnings"]
    question = await current(client, teacher, "iterations")
    assert (question["type"], question["key"], question["objectives"]) == (
        "numeric",
        1200,
        ["D2.2.5"],
    )
    assert question["numeric"] == {
        "tolerance": 0,
        "unit": "iterations",
        "partial": {"tolerance": 60, "credit": 0.5},
        "rationale": "60,000 / 50 = 1,200.",
        "mistakes": [
            {"value": 3000000, "rationale": "That multiplies the samples by the batch size."}
        ],
    }

    # Moodle XML's "Iterations" has the same id and other content: replaced only when asked
    refused = await upload(client, teacher, "numerical.xml")
    assert refused.status_code == 409  # type: ignore[attr-defined]
    moodle = await upload(client, teacher, "numerical.xml", overwrite="true")
    assert moodle.status_code == 200, moodle.text  # type: ignore[attr-defined]
    assert (moodle.json()["created"], moodle.json()["updated"]) == (1, 1)  # type: ignore[attr-defined]
    question = await current(client, teacher, "iterations")
    assert question["revision"] == 2 and question["numeric"]["tolerance"] == 24
    batch = await current(client, teacher, "global-batch")
    assert (batch["key"], batch["numeric"]["mistakes"]) == (
        256,
        [{"value": 32, "rationale": "One GPU's batch."}],
    )


@pytest.mark.parametrize(("fmt", "name"), [("gift", "bank.gift"), ("moodle-xml", "bank.xml")])
async def test_numeric_questions_export_and_import_back(
    client: Client, people: dict[str, Person], fmt: str, name: str
) -> None:
    teacher = people["instructor"]
    created = await send(client, teacher, "numeric.yaml", NUMERIC_YAML.encode())
    assert created.status_code == 200 and created.json()["created"] == 1, created.text
    exported = await client.get(
        "/api/v1/bank/export", params={"format": fmt}, headers=teacher.headers
    )
    assert exported.status_code == 200
    assert "left out, numeric" not in exported.text
    assert "the tolerance 2% is written as the absolute 24 (2% of 1200)" in exported.text
    # Read back, the file replaces the bank's questions (it carries no difficulty or source)
    back = await send(client, teacher, name, exported.content, overwrite="true")
    assert back.status_code == 200, back.text
    assert back.json()["errors"] == [] and back.json()["skipped"] == []
    question = await current(client, teacher, "iterations-per-epoch")
    assert question["revision"] == 2 and question["source"].startswith(f"imported from {name}")
    assert (question["type"], question["key"]) == ("numeric", 1200)
    assert question["numeric"] == NUMERIC_DETAIL
    assert question["explanation"] == (
        "One epoch passes every sample once, and each iteration takes one batch."
    )


async def test_qti_export_carries_numeric_items(client: Client, people: dict[str, Person]) -> None:
    teacher = people["instructor"]
    created = await send(client, teacher, "numeric.yaml", NUMERIC_YAML.encode())
    assert created.status_code == 200, created.text
    response = await client.get(
        "/api/v1/bank/export", params={"format": "qti"}, headers=teacher.headers
    )
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert len(archive.namelist()) == 2 + 8  # manifest, test, the 7 fixture items and this one
    item = archive.read("items/iterations-per-epoch.xml").decode()
    assert 'cardinality="single" base-type="float"' in item
    assert "<qti-text-entry-interaction" in item
    assert '<qti-equal tolerance-mode="relative" tolerance="2"' in item
    assert "items/iterations-per-epoch.xml" in archive.read("imsmanifest.xml").decode()
    assert "iterations-per-epoch" in archive.read("assessment-test.xml").decode()


async def test_a_template_is_exported_as_one_drawn_instance(
    client: Client, people: dict[str, Person]
) -> None:
    teacher = people["instructor"]
    templates = Path(__file__).parents[1] / "fixtures" / "templates" / "templates.yaml"
    created = await send(client, teacher, "templates.yaml", templates.read_bytes())
    assert created.status_code == 200 and created.json()["created"] == 2, created.text
    for fmt in ("gift", "moodle-xml"):
        exported = await client.get(
            "/api/v1/bank/export", params={"format": fmt}, headers=teacher.headers
        )
        assert exported.status_code == 200
        assert (
            "template-iterations: a template, drawn anew for every attempt; this format cannot "
            "carry its variables, so one drawn instance is written (batch = "
        ) in exported.text
        assert "{samples}" not in exported.text
    yaml_export = await client.get(
        "/api/v1/bank/export", params={"format": "yaml"}, headers=teacher.headers
    )
    assert "samples % batch == 0" in yaml_export.text  # the bank's own format keeps it whole
