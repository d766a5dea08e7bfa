"""The bank's read API on both databases: objective tree, filters, pagination, detail."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import Person, import_folder

Client = AsyncTestClient  # type: ignore[type-arg]


@pytest.fixture
def client(client: AsyncTestClient, people: dict[str, Person]) -> AsyncTestClient:  # type: ignore[type-arg]
    """The app's client, signed in as the instructor (the bank with keys is staff-only)."""
    client.headers["Authorization"] = people["instructor"].headers["Authorization"]
    return client


@pytest.fixture
async def imported(db_url: str, bank_dir: Path) -> None:
    await import_folder(db_url, bank_dir)


def _find(tree: list[dict], code: str) -> dict:  # type: ignore[type-arg]
    for node in tree:
        if node["code"] == code:
            return node
        found = _find(node["children"], code)
        if found:
            return found
    return {}


@pytest.mark.usefixtures("imported")
async def test_objective_tree_counts_questions_per_node(client: Client) -> None:
    response = await client.get("/api/v1/objectives")
    assert response.status_code == 200
    tree = response.json()
    assert [n["code"] for n in tree] == ["MLA-C01"]
    exam = tree[0]
    assert exam["level"] == "exam" and exam["question_count"] == 7
    assert [d["code"] for d in exam["children"]] == ["D1", "D2", "D3", "D4"]
    assert [d["weight"] for d in exam["children"]] == [28, 26, 22, 24]
    # churn-algorithm (D2.1.2), churn-why-builtin (D2.1.1), algorithm-match (D2.1.3)
    assert _find(tree, "D2.1")["question_count"] == 3
    # regularization-pick-two is tagged D2.2.3 and D2.2.2 but counts once for D2.2
    assert _find(tree, "D2.2")["question_count"] == 3
    assert _find(tree, "D2.2.2")["question_count"] == 1
    assert _find(tree, "D2.1.1")["level"] == "objective"
    assert _find(tree, "D1")["question_count"] == 0


@pytest.mark.usefixtures("imported")
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"objective": "D2.2"}, ["amt-steps", "l1-zero-weights", "regularization-pick-two"]),
        ({"objective": "D2.2.2"}, ["regularization-pick-two"]),
        ({"type": "matching"}, ["algorithm-match"]),
        ({"type": "multiple", "objective": "D2"}, ["regularization-pick-two"]),
        ({"difficulty": "easy"}, ["algorithm-match", "churn-algorithm", "l1-zero-weights"]),
        ({"text": "CLARIFY"}, []),
        ({"text": "retention team"}, ["churn-explain"]),
        # words in the stem or the id, whatever their case, through SQLite's trigram index
        ({"text": "BAYESIAN HYPERPARAMETER"}, ["amt-steps"]),
        ({"text": "churn-"}, ["churn-algorithm", "churn-explain", "churn-why-builtin"]),
        ({"text": "5,000 sparse"}, ["l1-zero-weights"]),
        ({"text": 'say "yes"'}, []),
        # too short for a trigram, or with LIKE's wildcards: still found
        ({"text": "l1"}, ["l1-zero-weights"]),
        ({"text": "l1_zero"}, ["l1-zero-weights"]),
        ({"text": "built-in%designed"}, ["algorithm-match"]),
        ({"objective": "D4"}, []),
    ],
)
async def test_question_filters(client: Client, params: dict, expected: list[str]) -> None:  # type: ignore[type-arg]
    response = await client.get("/api/v1/questions", params=params)
    assert response.status_code == 200
    body = response.json()
    assert [q["id"] for q in body["items"]] == expected
    assert body["total"] == len(expected)


@pytest.mark.usefixtures("imported")
async def test_pagination(client: Client) -> None:
    first = (await client.get("/api/v1/questions", params={"limit": 3})).json()
    second = (await client.get("/api/v1/questions", params={"limit": 3, "offset": 3})).json()
    third = (await client.get("/api/v1/questions", params={"limit": 3, "offset": 6})).json()
    assert first["total"] == second["total"] == third["total"] == 7
    ids = [q["id"] for page in (first, second, third) for q in page["items"]]
    assert ids == sorted(ids) and len(set(ids)) == 7


@pytest.mark.usefixtures("imported")
async def test_question_detail_has_key_rationales_and_case(client: Client) -> None:
    response = await client.get("/api/v1/questions/churn-explain")
    assert response.status_code == 200
    body = response.json()
    current = body["current"]
    assert current["key"] == ["d"]
    assert current["case"]["id"] == "churn-retailer"
    assert "two years of customer records" in current["case"]["scenario"]
    assert all(o["rationale"] for o in current["options"])
    assert current["objectives"] == ["D2.3.1"]
    matching = (await client.get("/api/v1/questions/algorithm-match")).json()["current"]
    assert matching["key"] == {"p1": "kmeans", "p2": "rcf", "p3": "pca"}
    assert [c["id"] for c in matching["choices"]] == ["kmeans", "rcf", "pca", "linear"]


@pytest.mark.usefixtures("imported")
async def test_errors_are_problem_details(client: Client) -> None:
    missing = await client.get("/api/v1/questions/no-such-question")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["detail"] == (
        "there is no question 'no-such-question'; GET /api/v1/questions lists the bank"
    )
    unknown = await client.get("/api/v1/questions", params={"objective": "D9"})
    assert unknown.status_code == 404
    assert "there is no objective 'D9'" in unknown.json()["detail"]
    bad = await client.get("/api/v1/questions", params={"type": "essay", "limit": 0})
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    keys = {e["key"] for e in bad.json()["errors"]}
    assert "type" in keys or "limit" in keys
    nowhere = await client.get("/api/v1/nowhere")
    assert nowhere.status_code == 404 and nowhere.json()["status"] == 404
