"""Quiz files over the API on both databases: upload GIFT, Moodle XML and YAML; export."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

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
