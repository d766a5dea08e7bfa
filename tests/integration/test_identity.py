"""Sign-in, tokens, users, cohorts, the browser session and the limits around them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from litestar import Request
from litestar.testing import AsyncTestClient

from exam_service.app import InsecureSettings, create_app
from exam_service.cli import main
from exam_service.http import client_address
from exam_service.migrate import upgrade
from exam_service.settings import Settings
from tests.factories import PASSWORD, Person, make_people

Client = AsyncTestClient  # type: ignore[type-arg]


async def sign_in(client: Client, username: str, password: str = PASSWORD) -> dict:  # type: ignore[type-arg]
    response = await client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}
    )
    return {"status": response.status_code, "body": response.json(), "headers": response.headers}


async def test_token_then_me(client: Client, people: dict[str, Person]) -> None:
    result = await sign_in(client, "Candidate")  # usernames are case-insensitive
    assert result["status"] == 200
    body = result["body"]
    assert body["token_type"] == "bearer" and body["expires_in"] == 12 * 3600
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json() == {
        "id": people["candidate"].user.id,
        "username": "candidate",
        "role": "candidate",
        "display_name": "candidate",
    }


async def test_unknown_user_and_wrong_password_look_the_same(
    client: Client, people: dict[str, Person]
) -> None:
    unknown = await sign_in(client, "nobody-at-all")
    wrong = await sign_in(client, "candidate", "not the password")
    assert unknown["status"] == wrong["status"] == 401
    assert unknown["body"]["detail"] == wrong["body"]["detail"]
    assert "wrong username or password" in wrong["body"]["detail"]
    assert wrong["headers"]["www-authenticate"] == "Bearer"


async def test_tokens_expire(settings: Settings) -> None:
    short = replace(settings, token_ttl_seconds=3)
    person = (await make_people(short, ("brief", "candidate")))["brief"]
    async with AsyncTestClient(app=create_app(short)) as client:
        assert (await client.get("/api/v1/me", headers=person.headers)).status_code == 200
        await asyncio.sleep(4.1)
        expired = await client.get("/api/v1/me", headers=person.headers)
    assert expired.status_code == 401
    assert "sign in first" in expired.json()["detail"]


async def test_tampered_tokens_are_refused(
    client: Client, people: dict[str, Person], settings: Settings
) -> None:
    token = people["candidate"].token
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for forged in (
        f"{header}.{payload}.{flipped}",
        f"{header}.{people['admin'].token.split('.')[1]}.{signature}",  # admin's claims
        f"{header}.{payload}.",
    ):
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401, forged
    other_key = replace(settings, secret_key="another-secret-" + "x" * 40)
    stranger = (await make_people(other_key, ("stranger", "admin")))["stranger"]
    response = await client.get("/api/v1/questions", headers=stranger.headers)
    assert response.status_code == 401


async def test_sign_in_is_rate_limited(settings: Settings) -> None:
    strict = replace(settings, signin_max_failures=3, signin_window_seconds=60)
    await make_people(strict, ("target", "candidate"), ("bystander", "candidate"))
    async with AsyncTestClient(app=create_app(strict)) as client:
        for _ in range(3):
            assert (await sign_in(client, "target", "guess"))["status"] == 401
        blocked = await sign_in(client, "target", PASSWORD)
        assert blocked["status"] == 429
        retry_after = int(blocked["headers"]["retry-after"])
        assert 0 < retry_after <= 60
        assert f"try again in {retry_after} seconds" in blocked["body"]["detail"]
        assert blocked["headers"]["content-type"].startswith("application/problem+json")
        # The limit is per username and client: the bystander still signs in.
        assert (await sign_in(client, "bystander"))["status"] == 200


async def test_failures_below_the_limit_reset_on_success(settings: Settings) -> None:
    strict = replace(settings, signin_max_failures=3, signin_window_seconds=60)
    await make_people(strict, ("forgetful", "candidate"))
    async with AsyncTestClient(app=create_app(strict)) as client:
        for _ in range(2):
            assert (await sign_in(client, "forgetful", "guess"))["status"] == 401
        assert (await sign_in(client, "forgetful"))["status"] == 200
        for _ in range(2):
            assert (await sign_in(client, "forgetful", "guess"))["status"] == 401
        assert (await sign_in(client, "forgetful"))["status"] == 200


async def test_admin_creates_users(client: Client, people: dict[str, Person]) -> None:
    admin = people["admin"].headers
    created = await client.post(
        "/api/v1/users",
        headers=admin,
        json={
            "username": "Newbie",
            "password": "ten or more chars",
            "role": "instructor",
            "display_name": "New Instructor",
        },
    )
    assert created.status_code == 201
    assert created.json()["username"] == "newbie" and created.json()["role"] == "instructor"
    assert (await sign_in(client, "newbie", "ten or more chars"))["status"] == 200

    again = await client.post(
        "/api/v1/users",
        headers=admin,
        json={"username": "newbie", "password": "ten or more chars", "role": "candidate"},
    )
    assert again.status_code == 409 and "taken" in again.json()["detail"]
    short = await client.post(
        "/api/v1/users",
        headers=admin,
        json={"username": "shorty", "password": "short", "role": "candidate"},
    )
    assert short.status_code == 422 and "use at least 10" in short.json()["detail"]
    bad_role = await client.post(
        "/api/v1/users",
        headers=admin,
        json={"username": "boss", "password": "ten or more chars", "role": "owner"},
    )
    assert bad_role.status_code == 400
    assert bad_role.json()["errors"][0]["key"] == "role"


async def test_cohorts(client: Client, people: dict[str, Person]) -> None:
    teacher = people["instructor"].headers
    created = await client.post("/api/v1/cohorts", headers=teacher, json={"name": "Spring 2027"})
    assert created.status_code == 201
    cohort = created.json()
    assert cohort["owner"]["username"] == "instructor" and cohort["members"] == []
    members_url = f"/api/v1/cohorts/{cohort['id']}/members"

    added = await client.post(
        members_url,
        headers=teacher,
        json={"usernames": ["candidate"], "user_ids": [people["other-candidate"].user.id]},
    )
    assert added.status_code == 200
    assert [m["username"] for m in added.json()["members"]] == ["candidate", "other-candidate"]
    repeat = await client.post(members_url, headers=teacher, json={"usernames": ["candidate"]})
    assert len(repeat.json()["members"]) == 2

    unknown = await client.post(
        members_url,
        headers=teacher,
        json={"usernames": ["ghost", "candidate"], "user_ids": [999999]},
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "no such user: 999999, ghost; nobody was added"
    staff = await client.post(members_url, headers=teacher, json={"usernames": ["admin"]})
    assert staff.status_code == 422 and "admin is not a candidate" in staff.json()["detail"]
    empty = await client.post(members_url, headers=teacher, json={})
    assert empty.status_code == 422

    listed = await client.get("/api/v1/cohorts", headers=teacher)
    assert [(c["name"], c["member_count"]) for c in listed.json()] == [("Spring 2027", 2)]
    assert (
        await client.get("/api/v1/cohorts", headers=people["other-instructor"].headers)
    ).json() == []
    everything = await client.get("/api/v1/cohorts", headers=people["admin"].headers)
    assert [c["name"] for c in everything.json()] == ["Spring 2027"]

    for_someone = await client.post(
        "/api/v1/cohorts",
        headers=teacher,
        json={"name": "Not mine", "owner_id": people["other-instructor"].user.id},
    )
    assert for_someone.status_code == 422 and "only an admin" in for_someone.json()["detail"]
    by_admin = await client.post(
        "/api/v1/cohorts",
        headers=people["admin"].headers,
        json={"name": "Assigned", "owner_id": people["other-instructor"].user.id},
    )
    assert by_admin.status_code == 201
    assert by_admin.json()["owner"]["username"] == "other-instructor"


async def test_browser_sign_in_with_csrf(client: Client, people: dict[str, Person]) -> None:
    page = await client.get("/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert client.cookies.get("exam_csrf")

    forged = await client.post(
        "/login", data={"username": "candidate", "password": PASSWORD}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert "CSRF token is missing or stale" in forged.json()["detail"]

    signed = await client.post(
        "/login",
        data={"username": "candidate", "password": PASSWORD, "_csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    set_cookie = signed.headers["set-cookie"]
    assert "exam_session=" in set_cookie and "HttpOnly" in set_cookie
    assert "SameSite=lax" in set_cookie or "samesite=lax" in set_cookie.lower()

    home = await client.get("/")
    assert home.status_code == 200 and "signed in as <strong>candidate</strong>" in home.text
    assert (await client.get("/api/v1/me")).json()["username"] == "candidate"

    # An unsafe API call riding on the cookie needs the CSRF header too.
    teacher_cookie_free = await client.post("/api/v1/cohorts", json={"name": "x"})
    assert teacher_cookie_free.status_code == 403

    out = await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    client.cookies.delete("exam_session")
    again = await client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/login?next=/"


async def test_failed_browser_sign_in_shows_the_reason(
    client: Client, people: dict[str, Person]
) -> None:
    page = await client.get("/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = await client.post(
        "/login",
        data={"username": "<script>x</script>", "password": "nope", "_csrf_token": token},
    )
    assert response.status_code == 401
    assert "wrong username or password" in response.text
    assert "<script>x</script>" not in response.text and "&lt;script&gt;" in response.text


async def test_oversized_bodies_get_413(settings: Settings) -> None:
    small = replace(settings, max_body_bytes=1000)
    async with AsyncTestClient(app=create_app(small)) as client:
        response = await client.post(
            "/api/v1/auth/token", json={"username": "x" * 2000, "password": "y"}
        )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "EXAM_MAX_BODY_BYTES" in response.json()["detail"]


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(InsecureSettings, match="EXAM_SECRET_KEY"):
        create_app(Settings(env="production"))
    with pytest.raises(InsecureSettings):
        create_app(Settings(env="production", secret_key="too-short"))
    create_app(Settings(env="production", secret_key="k" * 40))


def test_serve_refuses_to_start_with_the_default_secret(tmp_path: pytest.TempPathFactory) -> None:
    env = {"EXAM_ENV": "production", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "exam_service", "serve", "--port", "8999"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "refusing to start" in result.stderr and "EXAM_SECRET_KEY" in result.stderr


def test_users_create_from_the_command_line(
    databases: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = databases.new("sqlite")  # type: ignore[attr-defined]
    monkeypatch.setenv("EXAM_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a fine long password\n"))
    assert (
        main(["users", "create", "--role", "instructor", "--username", "Teach", "--password-stdin"])
        == 0
    )
    assert "created instructor 'teach'" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("short\n"))
    assert (
        main(["users", "create", "--role", "candidate", "--username", "kid", "--password-stdin"])
        == 1
    )
    assert "use at least 10" in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_demo_accounts_once(
    backend: str,
    databases: object,
    tmp_path: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("EXAM_DATABASE_URL", databases.new(backend))  # type: ignore[attr-defined]
    monkeypatch.setenv("EXAM_DATA_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["demo-accounts"]) == 0
    shown = capsys.readouterr().out
    saved = (tmp_path / "demo-accounts.txt").read_text()  # type: ignore[operator]
    passwords = dict(re.findall(r"(demo-\w+)  password: (\S+)", shown))
    assert set(passwords) == {"demo-admin", "demo-instructor", "demo-candidate"}
    for name, password in passwords.items():
        assert f"{name}  password: {password}" in saved
    assert oct((tmp_path / "demo-accounts.txt").stat().st_mode)[-3:] == "600"  # type: ignore[operator]
    assert main(["demo-accounts"]) == 0
    assert "users exist already" in capsys.readouterr().out
    assert (tmp_path / "demo-accounts.txt").read_text() == saved  # type: ignore[operator]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_forwarded_for_from_an_untrusted_client_cannot_dodge_the_sign_in_limit(
    tmp_path: Path,
) -> None:
    """Through the real server (`exam-service serve`): a client that names a new address
    in X-Forwarded-For on every try is still counted as itself, and is stopped."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'exam.sqlite3'}"
    upgrade(database_url)
    settings = Settings(database_url=database_url, data_dir=tmp_path / "var")
    asyncio.run(make_people(settings, ("target", "candidate")))
    port = _free_port()
    env = {
        **os.environ,
        "EXAM_DATABASE_URL": database_url,
        "EXAM_PORT": str(port),
        "EXAM_SWEEP_INTERVAL_SECONDS": "0",
        "EXAM_SIGNIN_MAX_FAILURES": "3",
    }
    env.pop("EXAM_TRUSTED_PROXIES", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "exam_service", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        statuses = []
        for attempt in range(6):
            request = urllib.request.Request(
                f"{base}/api/v1/auth/token",
                data=json.dumps({"username": "target", "password": "guess"}).encode(),
                headers={
                    "content-type": "application/json",
                    "x-forwarded-for": f"198.51.100.{attempt + 1}",
                },
            )
            try:
                urllib.request.urlopen(request, timeout=5)
                statuses.append(200)
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
        assert statuses == [401, 401, 401, 429, 429, 429]
    finally:
        server.terminate()
        server.wait(timeout=10)


def _request(peer: str, forwarded: str | None) -> Request[Any, Any, Any]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    scope: Any = {"type": "http", "client": (peer, 5000), "headers": headers, "app": None}
    return Request(scope)


def test_only_configured_proxies_may_name_the_client() -> None:
    trusting = Settings(trusted_proxies=("10.0.0.0/8",))
    # a trusted proxy's header is read from the right, skipping trusted hops
    assert client_address(_request("10.0.0.5", "203.0.113.9, 10.1.2.3"), trusting) == (
        "203.0.113.9"
    )
    # a client that sends its own header behind the proxy cannot choose the first entry
    assert client_address(_request("10.0.0.5", "1.2.3.4, 203.0.113.9"), trusting) == ("203.0.113.9")
    # anyone else's header is ignored, and so is every header by default
    assert client_address(_request("192.0.2.7", "203.0.113.9"), trusting) == "192.0.2.7"
    assert client_address(_request("10.0.0.5", "203.0.113.9"), Settings()) == "10.0.0.5"
    # a proxy that sends no header (or only trusted hops) is the client itself
    assert client_address(_request("10.0.0.5", None), trusting) == "10.0.0.5"


def test_trusted_proxies_setting_is_checked() -> None:
    parsed = Settings.from_env({"EXAM_TRUSTED_PROXIES": "10.0.0.1, 172.16.0.0/12"})
    assert parsed.trusted_proxies == ("10.0.0.1/32", "172.16.0.0/12")
    with pytest.raises(ValueError, match="not an IP address or network"):
        Settings.from_env({"EXAM_TRUSTED_PROXIES": "proxy.local"})


async def test_deeply_nested_json_is_refused_with_a_reason(
    client: Client, people: dict[str, Person]
) -> None:
    """A body of 1,000 nested arrays once crashed the JSON decoder into a 500."""
    deep = "[" * 1000 + "]" * 1000
    for path, headers in (
        ("/api/v1/auth/token", {}),
        ("/api/v1/cohorts", people["instructor"].headers),
    ):
        response = await client.post(
            path, content=deep, headers={**headers, "content-type": "application/json"}
        )
        assert response.status_code == 400, response.text
        assert "nested too deeply" in response.json()["detail"]
    inside = '{"username": ' + deep + ', "password": "x"}'
    response = await client.post(
        "/api/v1/auth/token", content=inside, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and "nested too deeply" in response.json()["detail"]
