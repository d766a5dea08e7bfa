"""Helpers for the exam tests: blueprints and sittings over the API, and right or wrong
answers worked out from the bank (as an instructor sees it) for the items an attempt shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from tests.factories import Person

Client = AsyncTestClient  # type: ignore[type-arg]


def blueprint(identifier: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": identifier,
        "name": f"Blueprint {identifier}",
        "mode": "exam",
        "question_count": 5,
        "time_limit_seconds": 600,
        "scale": {"min": 100, "max": 1000, "pass": 720},
        "max_open_attempts": 5,
        "self_study": True,  # startable without a sitting, as these tests start them
    }
    body.update(fields)
    return body


async def make_blueprint(client: Client, admin: Person, identifier: str, **fields: Any) -> None:
    response = await client.post(
        "/api/v1/blueprints", json=blueprint(identifier, **fields), headers=admin.headers
    )
    assert response.status_code == 201, response.text


async def start(client: Client, person: Person, blueprint_id: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/attempts", json={"blueprint_id": blueprint_id}, headers=person.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def from_now(seconds: float) -> str:
    """An ISO 8601 moment `seconds` from now (negative: ago): tests set a sitting's window
    relative to the clock instead of waiting for it."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


async def make_sitting(
    client: Client, owner: Person, blueprint_id: str, cohort_ids: list[int], **fields: Any
) -> dict[str, Any]:
    """A sitting of `owner`'s, open since a minute ago unless `fields` say otherwise."""
    body = {
        "blueprint_id": blueprint_id,
        "cohort_ids": cohort_ids,
        "opens_at": from_now(-60),
        **fields,
    }
    response = await client.post("/api/v1/sittings", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def start_in(client: Client, person: Person, sitting_id: int, **fields: Any) -> Any:
    """The response to a start in a sitting (a refusal is for the test to check)."""
    return await client.post(
        "/api/v1/attempts", json={"sitting_id": sitting_id, **fields}, headers=person.headers
    )


async def bank_by_stem(client: Client, staff: Person) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/v1/questions", params={"limit": 200}, headers=staff.headers)
    return {q["stem"]: q for q in response.json()["items"]}


def right_answer(item: dict[str, Any], question: dict[str, Any]) -> Any:
    if item["type"] == "matching":
        prompt_no = {p["text"]: p["id"] for p in item["prompts"]}
        choice_letter = {c["text"]: c["id"] for c in item["choices"]}
        prompt_text = {p["id"]: p["text"] for p in question["prompts"]}
        choice_text = {c["id"]: c["text"] for c in question["choices"]}
        return {
            prompt_no[prompt_text[p]]: choice_letter[choice_text[c]]
            for p, c in question["key"].items()
        }
    letter = {o["text"]: o["id"] for o in item["options"]}
    text = {o["id"]: o["text"] for o in question["options"]}
    letters = [letter[text[k]] for k in question["key"]]
    # the service sends a multiple-answer key in letter order, as a candidate would tick it
    return letters if item["type"] == "ordering" else sorted(letters)


def wrong_answer(item: dict[str, Any], question: dict[str, Any]) -> Any:
    right = right_answer(item, question)
    if item["type"] == "matching":
        numbers = sorted(right)
        return {n: right[numbers[(i + 1) % len(numbers)]] for i, n in enumerate(numbers)}
    if item["type"] == "ordering":
        return list(reversed(right))
    letters = [o["id"] for o in item["options"]]
    wrong = [x for x in letters if x not in right]
    return wrong[: len(right)]


def no_secrets(body: Any, secrets: set[str]) -> list[str]:
    """Keys named like answers, or any rationale or explanation text, found in `body`."""
    found = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("key", "rationale", "rationales", "explanation", "review") and value:
                    found.append(f"{path}.{key}")
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]")
        elif isinstance(node, str) and node in secrets:
            found.append(f"{path} = {node[:40]!r}")

    walk(body, "$")
    return found
