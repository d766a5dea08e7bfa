"""Numeric questions through the HTTP API on both databases: an attempt shows them without
keys, saves "1,200" and "1.2e3" as 1200 and refuses "twelve" saying what to type, grades
within the tolerance and the partial band, reviews with the working and the mistake typed,
checks in practice, reports where the answers fell, prints the score report, and takes
paper answers as numbers (the printouts and scans of numeric questions:
test_paper_numeric.py)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pypdf import PdfReader

from tests.factories import Person, import_folder, write_questions
from tests.integration.exam_helpers import make_blueprint, no_secrets, start

Client = AsyncTestClient  # type: ignore[type-arg]

# Three numeric questions on objectives the fixture bank leaves empty (D3, D4), so a
# blueprint of those objectives draws just these.
NUMERIC_QUESTIONS = """\
questions:
  - id: iterations-per-epoch
    type: numeric
    objectives: [D3]
    difficulty: easy
    source: "Worked Examples: iterations per epoch"
    stem: >
      A training set has 60,000 samples and the batch size is 50. How many iterations make
      one epoch?
    answer: 1200
    tolerance: 2%
    unit: iterations
    partial: {tolerance: 5%, credit: 0.5}
    rationale: 60,000 samples / 50 samples per batch = 1,200 iterations.
    mistakes:
      - {value: 3000000, rationale: That multiplies the samples by the batch size; divide them.}
    explanation: One epoch passes every sample once, and each iteration takes one batch.

  - id: spot-saving
    type: numeric
    objectives: [D3]
    difficulty: medium
    source: "Worked Examples: Managed Spot Training"
    stem: >
      A training job costs $40 on demand and $12 with Managed Spot Training. What percent
      is saved?
    answer: 70
    tolerance: 0.5
    unit: "%"
    rationale: (40 - 12) / 40 = 0.70, a saving of 70%.
    mistakes:
      - {value: 30, rationale: "30% is the share still paid (12 / 40), not the saving."}
    explanation: The saving is the difference over the on-demand price.

  - id: global-batch
    type: numeric
    objectives: [D4]
    difficulty: easy
    source: "Worked Examples: data parallelism"
    stem: Data parallelism on 8 GPUs with a batch of 32 per GPU. What is the global batch size?
    answer: 256
    rationale: 8 GPUs x 32 samples = 256 samples per step.
    mistakes:
      - {value: 32, rationale: 32 is one GPU's batch; every GPU takes its own.}
    explanation: Under data parallelism each GPU processes its own batch of the global one.
"""
SECRETS = {
    "60,000 samples / 50 samples per batch = 1,200 iterations.",
    "One epoch passes every sample once, and each iteration takes one batch.",
    "30% is the share still paid (12 / 40), not the saving.",
}


@pytest.fixture(autouse=True)
async def bank(db_url: str, bank_dir: Path, cohort_id: int) -> None:
    write_questions(bank_dir, "numeric.yaml", NUMERIC_QUESTIONS)
    await import_folder(db_url, bank_dir)


async def numeric_blueprint(client: Client, admin: Person, identifier: str, **fields: Any) -> None:
    await make_blueprint(
        client,
        admin,
        identifier,
        question_count=3,
        objective_counts={"D3": 2, "D4": 1},
        **fields,
    )


def by_question(attempt: dict[str, Any]) -> dict[str, int]:
    """Question id -> position, from the stems (candidates never see the bank's ids)."""
    starts = {
        "A training set has 60,000": "iterations-per-epoch",
        "A training job costs": "spot-saving",
        "Data parallelism on 8 GPUs": "global-batch",
    }
    found = {}
    for item in attempt["items"]:
        for prefix, qid in starts.items():
            if item["stem"].startswith(prefix):
                found[qid] = item["position"]
    assert len(found) == 3, attempt["items"]
    return found


async def save(client: Client, who: Person, attempt_id: int, position: int, answer: Any) -> Any:
    return await client.put(
        f"/api/v1/attempts/{attempt_id}/responses/{position}",
        json={"answer": answer, "flagged": False},
        headers=who.headers,
    )


async def test_an_attempt_with_numeric_items(client: Client, people: dict[str, Person]) -> None:
    candidate = people["candidate"]
    await numeric_blueprint(client, people["admin"], "numeric", partial_credit=True)
    attempt = await start(client, candidate, "numeric")
    assert no_secrets(attempt, SECRETS) == []
    at = by_question(attempt)
    item = next(i for i in attempt["items"] if i["position"] == at["iterations-per-epoch"])
    assert (item["type"], item["unit"], item["options"], item["answer"]) == (
        "numeric",
        "iterations",
        [],
        None,
    )
    url = f"/api/v1/attempts/{attempt['id']}"

    # "1,200", "1200" and "1.2e3" are the same number, stored as 1200
    for typed in ("1,200", "1200", "1.2e3", "1200 iterations"):
        saved = await save(client, candidate, attempt["id"], at["iterations-per-epoch"], typed)
        assert saved.status_code == 200, saved.text
        assert saved.json()["answer"] == 1200
    refused = await save(client, candidate, attempt["id"], at["iterations-per-epoch"], "twelve")
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        f"question {at['iterations-per-epoch']}: 'twelve' is not a number: type digits, e.g. "
        "1200, 1,200, 1.5 or 1.2e3 (the answer is in iterations; typing the unit is optional)"
    )
    comma = await save(client, candidate, attempt["id"], at["spot-saving"], "69,5")
    assert comma.status_code == 422
    assert "write decimals with a point (1.5, 0.125)" in comma.json()["detail"]
    # a refused save leaves the answer saved before
    shown = (await client.get(url, headers=candidate.headers)).json()
    answers = {i["position"]: i["answer"] for i in shown["items"]}
    assert answers[at["iterations-per-epoch"]] == 1200 and shown["answered"] == 1

    assert (await save(client, candidate, attempt["id"], at["spot-saving"], "30 %")).json()[
        "answer"
    ] == 30
    assert (await save(client, candidate, attempt["id"], at["global-batch"], 256.0)).json()[
        "answer"
    ] == 256

    result = (await client.post(f"{url}/submit", headers=candidate.headers)).json()
    assert (result["raw_score"], result["raw_possible"]) == (2.0, 3)
    review = {r["question_id"]: r for r in result["review"]}
    iterations = review["iterations-per-epoch"]
    assert iterations["points"] == 1.0 and iterations["answer"] == 1200
    assert iterations["key"] == {
        "value": 1200,
        "tolerance": "2%",
        "low": 1176,
        "high": 1224,
        "unit": "iterations",
        "partial": {"tolerance": "5%", "credit": 0.5, "low": 1140, "high": 1260},
    }
    assert iterations["rationales"] == {
        "key": "60,000 samples / 50 samples per batch = 1,200 iterations."
    }
    assert iterations["mistake"] is None and iterations["unit"] == "iterations"
    spot = review["spot-saving"]
    assert (spot["answer"], spot["points"], spot["unit"]) == (30, 0.0, "%")
    assert spot["mistake"] == "30% is the share still paid (12 / 40), not the saving."
    assert review["global-batch"]["points"] == 1.0

    # the score report prints the numbers with their unit, the mistake and the working
    pdf = await client.get(f"{url}/report.pdf", headers=candidate.headers)
    assert pdf.status_code == 200
    text = " ".join(
        " ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(pdf.content)).pages
    )
    assert "Your answer: 30 %" in text
    assert "Correct answer: 70 % (accepted: 69.5 to 70.5 %)" in text
    assert "A common mistake: 30% is the share still paid (12 / 40), not the saving." in text
    assert "(40 - 12) / 40 = 0.70, a saving of 70%." in text

    # the result page shows them too
    page = await client.get(f"/attempts/{attempt['id']}/result", headers=candidate.headers)
    assert page.status_code == 200
    assert "Your answer: <strong>30 %</strong>; key: <strong>70 % (accepted: 69.5 to 70.5 %)" in (
        page.text
    )
    assert "A common mistake: 30% is the share still paid (12 / 40), not the saving." in page.text


async def test_the_partial_band_pays_its_credit_only_with_partial_credit(
    client: Client, people: dict[str, Person]
) -> None:
    candidate = people["candidate"]
    scores = {}
    for identifier, partial in (("numeric-partial", True), ("numeric-strict", False)):
        await numeric_blueprint(client, people["admin"], identifier, partial_credit=partial)
        attempt = await start(client, candidate, identifier)
        at = by_question(attempt)
        # 1260 is 5% above 1200: the partial band's edge, which counts
        saved = await save(client, candidate, attempt["id"], at["iterations-per-epoch"], "1,260")
        assert saved.status_code == 200
        submitted = await client.post(
            f"/api/v1/attempts/{attempt['id']}/submit", headers=candidate.headers
        )
        review = {r["question_id"]: r for r in submitted.json()["review"]}
        scores[identifier] = review["iterations-per-epoch"]["points"]
    assert scores == {"numeric-partial": 0.5, "numeric-strict": 0.0}


async def test_practice_check_shows_the_key_and_the_mistake(
    client: Client, people: dict[str, Person]
) -> None:
    candidate = people["candidate"]
    await numeric_blueprint(
        client, people["admin"], "numeric-practice", mode="practice", time_limit_seconds=None
    )
    attempt = await start(client, candidate, "numeric-practice")
    at = by_question(attempt)
    position = at["iterations-per-epoch"]
    await save(client, candidate, attempt["id"], position, "3,000,000")
    checked = await client.post(
        f"/api/v1/attempts/{attempt['id']}/responses/{position}/check", headers=candidate.headers
    )
    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert (body["correct"], body["points"], body["feedback"]) == (False, 0.0, "full")
    assert body["key"]["value"] == 1200 and body["answer"] == 3000000
    assert body["mistake"] == "That multiplies the samples by the batch size; divide them."
    assert body["rationales"]["key"].startswith("60,000 samples")


async def test_item_report_shows_where_numeric_answers_fell(
    client: Client, people: dict[str, Person]
) -> None:
    candidate = people["candidate"]
    await numeric_blueprint(client, people["admin"], "numeric-report", max_open_attempts=1)
    typed = ["1200", "1,250", "3,000,000", "3e6", ""]  # right, partial, wrong twice, none
    for answer in typed:
        attempt = await start(client, candidate, "numeric-report")
        at = by_question(attempt)
        if answer:
            saved = await save(client, candidate, attempt["id"], at["iterations-per-epoch"], answer)
            assert saved.status_code == 200
        await save(client, candidate, attempt["id"], at["global-batch"], 32)
        await client.post(f"/api/v1/attempts/{attempt['id']}/submit", headers=candidate.headers)
    response = await client.get(
        "/api/v1/reports/items",
        params={"blueprint_id": "numeric-report"},
        headers=people["instructor"].headers,
    )
    assert response.status_code == 200, response.text
    items = {i["question_id"]: i for i in response.json()["items"]}
    iterations = items["iterations-per-epoch"]
    assert iterations["type"] == "numeric" and iterations["responses"] == 5
    assert iterations["facility"] == 0.2  # all-or-nothing: the partial answer scored 0
    assert iterations["options"] == []
    assert iterations["numeric"] == {
        "right": 0.2,
        "partial": 0.2,
        "wrong": 0.4,
        "unanswered": 0.2,
        "common_wrong": [
            {"value": "3000000", "band": "wrong", "count": 2, "share": 0.4, "known_mistake": True},
            {"value": "1250", "band": "partial", "count": 1, "share": 0.2, "known_mistake": False},
        ],
    }
    batch = items["global-batch"]["numeric"]
    assert (batch["right"], batch["wrong"]) == (0.0, 1.0)
    assert batch["common_wrong"] == [
        {"value": "32", "band": "wrong", "count": 5, "share": 1.0, "known_mistake": True}
    ]
    assert items["spot-saving"]["numeric"]["unanswered"] == 1.0

    csv_text = (
        await client.get(
            "/api/v1/reports/items",
            params={"blueprint_id": "numeric-report", "format": "csv"},
            headers=people["instructor"].headers,
        )
    ).text
    rows = {r["question_id"]: r for r in csv.DictReader(io.StringIO(csv_text))}
    assert rows["iterations-per-epoch"]["numeric_common_wrong"] == "3000000 x2; 1250 x1"
    assert rows["iterations-per-epoch"]["numeric_partial"] == "0.2"
    page = await client.get(
        "/items", params={"blueprint_id": "numeric-report"}, headers=people["instructor"].headers
    )
    assert page.status_code == 200
    assert "right 20%, partial 20%, wrong 40%, none 20%" in page.text
    assert "3000000 (2, a listed mistake)" in page.text


async def test_paper_answers_take_numbers(client: Client, people: dict[str, Person]) -> None:
    teacher = people["instructor"]
    await numeric_blueprint(client, people["admin"], "numeric-paper")
    made = await client.post(
        "/api/v1/paper-exams",
        json={"blueprint_id": "numeric-paper", "title": "Numbers", "forms": 1, "seed": 7},
        headers=teacher.headers,
    )
    assert made.status_code == 201, made.text
    exam_id = made.json()["id"]

    url = f"/api/v1/paper-exams/{exam_id}/responses"
    bad = await client.post(
        url,
        content=b'candidate,form,1,2,3\ncandidate,A,"1,200",twelve,256\n',
        headers={**teacher.headers, "content-type": "text/csv"},
    )
    assert bad.status_code == 422
    [problem] = bad.json()["errors"]
    assert (problem["row"], problem["column"]) == (2, "2")
    assert "'twelve' is not a number: type digits" in problem["message"]

    sent = ["1,200", "1.2e3", "1200"]  # whatever each question is, the same number
    graded = await client.post(
        url,
        content=("candidate,form,1,2,3\ncandidate,A," + ",".join(f'"{a}"' for a in sent)).encode(),
        headers={**teacher.headers, "content-type": "text/csv"},
    )
    assert graded.status_code == 200, graded.text
    attempt_id = graded.json()["imported"][0]["attempt_id"]
    result = (
        await client.get(f"/api/v1/attempts/{attempt_id}/result", headers=teacher.headers)
    ).json()
    review = {r["question_id"]: r for r in result["review"]}
    assert {qid: (r["answer"], r["points"]) for qid, r in review.items()} == {
        "iterations-per-epoch": (1200, 1.0),
        "spot-saving": (1200, 0.0),
        "global-batch": (1200, 0.0),
    }
