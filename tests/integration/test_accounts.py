"""Accounts: admins deactivate and reactivate users, change roles and set passwords; users
change their own password; signing out ends a token. Every such change stops the tokens
it ends on the instance that made it at once, and on every other instance within
EXAM_ACCESS_REFRESH_SECONDS (two apps on one database here, as two servers would be)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from exam_service.app import create_app
from exam_service.auth import accounts
from exam_service.auth.revocation import Revocations
from exam_service.auth.schemas import UserChange
from exam_service.auth.security import jwt_auth
from exam_service.db import create_engine, session_factory
from exam_service.errors import Conflict
from exam_service.settings import Settings
from tests.factories import PASSWORD, Person, make_people

Client = AsyncTestClient  # type: ignore[type-arg]
REFRESH = 1
"""The refresh interval of the two-instance tests, in seconds (the default is 2)."""
NEW_PASSWORD = "a brand new passphrase"


@asynccontextmanager
async def two_instances(settings: Settings) -> AsyncIterator[tuple[Client, Client]]:
    """Two apps on one database, each with its own view of revoked tokens."""
    quick = replace(settings, access_refresh_seconds=REFRESH)
    async with (
        AsyncTestClient(app=create_app(quick)) as one,
        AsyncTestClient(app=create_app(quick)) as two,
    ):
        yield one, two


async def refused_after(client: Client, headers: dict[str, str], limit: float) -> tuple[float, str]:
    """Seconds until `client` answers 401 to GET /api/v1/me (asked every 50 ms), and why."""
    began = time.monotonic()
    while True:
        response = await client.get("/api/v1/me", headers=headers)
        waited = time.monotonic() - began
        if response.status_code == 401:
            return waited, response.json()["detail"]
        assert response.status_code == 200, response.text
        assert waited < limit, f"still signed in after {waited:.1f} s"
        await asyncio.sleep(0.05)


async def sign_in(client: Client, username: str, password: str = PASSWORD) -> Any:
    """POST /api/v1/auth/token as an API client does: without the browser's cookies."""
    kept = dict(client.cookies)
    client.cookies.clear()
    try:
        return await client.post(
            "/api/v1/auth/token", json={"username": username, "password": password}
        )
    finally:
        for name, value in kept.items():
            client.cookies.set(name, value)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def browser_sign_in(client: Client, username: str, password: str = PASSWORD) -> str:
    """Sign in through the /login form; the client keeps the cookies. Returns the CSRF token."""
    page = await client.get("/login")
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    signed = await client.post(
        "/login",
        data={"username": username, "password": password, "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    return csrf


async def test_deactivation_stops_tokens_on_every_instance(
    settings: Settings, people: dict[str, Person]
) -> None:
    candidate, admin = people["candidate"], people["admin"]
    async with two_instances(settings) as (one, two):
        assert (await two.get("/api/v1/me", headers=candidate.headers)).status_code == 200
        changed = await one.patch(
            f"/api/v1/users/{candidate.user.id}", json={"active": False}, headers=admin.headers
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["active"] is False and changed.json()["username"] == "candidate"

        here = await one.get("/api/v1/me", headers=candidate.headers)
        assert here.status_code == 401  # at once where the change was made
        assert "the account is deactivated" in here.json()["detail"]
        waited, reason = await refused_after(two, candidate.headers, limit=5)
        assert waited <= REFRESH + 1, waited
        assert "deactivated" in reason

        refused = await sign_in(two, "candidate")
        assert refused.status_code == 403
        assert refused.json()["detail"] == (
            "the account 'candidate' is deactivated; ask an admin to reactivate it"
        )
        wrong = await sign_in(two, "candidate", "not the password")
        assert wrong.status_code == 401  # only the password's owner learns it is deactivated

        back = await two.patch(
            f"/api/v1/users/{candidate.user.id}", json={"active": True}, headers=admin.headers
        )
        assert back.status_code == 200 and back.json()["active"] is True
        # tokens from before the deactivation stay ended; a new sign-in works
        assert (await two.get("/api/v1/me", headers=candidate.headers)).status_code == 401
        token = (await sign_in(one, "candidate")).json()["access_token"]
        for instance in (one, two):
            assert (await instance.get("/api/v1/me", headers=bearer(token))).status_code == 200
        # the other users' tokens were never touched
        assert (await two.get("/api/v1/me", headers=people["instructor"].headers)).status_code == (
            200
        )


async def test_role_change_ends_sign_ins_at_once_here_and_within_the_interval_elsewhere(
    settings: Settings, people: dict[str, Person]
) -> None:
    teacher, admin = people["instructor"], people["admin"]
    async with two_instances(settings) as (one, two):
        assert (await two.get("/api/v1/cohorts", headers=teacher.headers)).status_code == 200
        changed = await one.patch(
            f"/api/v1/users/{teacher.user.id}", json={"role": "candidate"}, headers=admin.headers
        )
        assert changed.status_code == 200 and changed.json()["role"] == "candidate"

        here = await one.get("/api/v1/cohorts", headers=teacher.headers)
        assert here.status_code == 401
        assert "password or role changed" in here.json()["detail"]
        waited, reason = await refused_after(two, teacher.headers, limit=5)
        assert waited <= REFRESH + 1 and "role changed" in reason

        token = (await sign_in(two, "instructor")).json()["access_token"]
        me = await two.get("/api/v1/me", headers=bearer(token))
        assert me.json()["role"] == "candidate"
        staff_only = await one.get("/api/v1/cohorts", headers=bearer(token))
        assert staff_only.status_code == 403
        assert "you are signed in as a candidate" in staff_only.json()["detail"]


async def test_signing_out_ends_the_cookie_on_every_instance_and_nothing_else(
    settings: Settings, people: dict[str, Person]
) -> None:
    candidate = people["candidate"]
    async with two_instances(settings) as (one, two):
        csrf = await browser_sign_in(one, "candidate")
        cookie = one.cookies.get("exam_session")
        assert cookie
        two.cookies.set("exam_session", cookie)
        assert (await two.get("/api/v1/me")).json()["username"] == "candidate"

        out = await one.post("/logout", data={"_csrf_token": csrf}, follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert "exam_session" not in one.cookies  # the browser forgets it...
        one.cookies.set("exam_session", cookie)  # ...and a copy of it no longer works
        here = await one.get("/api/v1/me")
        assert here.status_code == 401 and "signing out" in here.json()["detail"]
        page = await one.get("/", headers={"accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/"
        waited, reason = await refused_after(two, {}, limit=5)
        assert waited <= REFRESH + 1 and "signing out" in reason

        # the user's other sign-ins (here an API token) go on
        for instance in (one, two):
            instance.cookies.clear()
            assert (await instance.get("/api/v1/me", headers=candidate.headers)).status_code == 200


async def test_an_api_client_revokes_its_own_token(
    client: Client, settings: Settings, people: dict[str, Person]
) -> None:
    token = (await sign_in(client, "candidate")).json()["access_token"]
    assert (await client.delete("/api/v1/auth/token", headers=bearer(token))).status_code == 204
    refused = await client.get("/api/v1/me", headers=bearer(token))
    assert refused.status_code == 401 and "signing out" in refused.json()["detail"]
    again = await client.delete("/api/v1/auth/token", headers=bearer(token))
    assert again.status_code == 401
    assert (await client.get("/api/v1/me", headers=people["candidate"].headers)).status_code == 200

    # a token from before tokens had ids can only be ended with all of the user's sign-ins
    auth = jwt_auth(settings)
    old = auth.create_token(
        identifier=str(people["instructor"].user.id),
        token_expiration=timedelta(hours=1),
        token_extras={"username": "instructor", "role": "instructor", "display_name": "i"},
    )
    assert (await client.get("/api/v1/me", headers=bearer(old))).status_code == 200
    assert (await client.delete("/api/v1/auth/token", headers=bearer(old))).status_code == 204
    assert (await client.get("/api/v1/me", headers=bearer(old))).status_code == 401
    ended = await client.get("/api/v1/me", headers=people["instructor"].headers)
    assert ended.status_code == 401


async def test_a_user_changes_their_own_password(
    settings: Settings, people: dict[str, Person]
) -> None:
    candidate = people["candidate"]
    strict = replace(settings, signin_max_failures=3, access_refresh_seconds=REFRESH)
    async with (
        AsyncTestClient(app=create_app(strict)) as one,
        AsyncTestClient(app=create_app(strict)) as two,
    ):
        url = "/api/v1/me/password"
        short = await one.post(
            url,
            json={"current_password": PASSWORD, "new_password": "short"},
            headers=candidate.headers,
        )
        assert short.status_code == 422 and "use at least 10" in short.json()["detail"]
        same = await one.post(
            url,
            json={"current_password": PASSWORD, "new_password": PASSWORD},
            headers=candidate.headers,
        )
        assert same.status_code == 422 and "is the current one" in same.json()["detail"]
        wrong = await one.post(
            url,
            json={"current_password": "a wrong guess", "new_password": NEW_PASSWORD},
            headers=candidate.headers,
        )
        assert wrong.status_code == 403
        assert "the current password is wrong" in wrong.json()["detail"]

        changed = await one.post(
            url,
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            headers=candidate.headers,
        )
        assert changed.status_code == 200, changed.text
        fresh = bearer(changed.json()["access_token"])
        assert (await one.get("/api/v1/me", headers=candidate.headers)).status_code == 401
        assert (await one.get("/api/v1/me", headers=fresh)).status_code == 200
        waited, _ = await refused_after(two, candidate.headers, limit=5)
        assert waited <= REFRESH + 1
        assert (await two.get("/api/v1/me", headers=fresh)).status_code == 200
        assert (await sign_in(two, "candidate")).status_code == 401
        assert (await sign_in(two, "candidate", NEW_PASSWORD)).status_code == 200

        # guessing the current password with a stolen token meets the sign-in limit
        for _ in range(3):  # the right password above cleared the earlier wrong guess
            guess = await one.post(
                url,
                json={"current_password": "another guess", "new_password": "whatever it is"},
                headers=fresh,
            )
            assert guess.status_code == 403
        stopped = await one.post(
            url,
            json={"current_password": NEW_PASSWORD, "new_password": "whatever it is"},
            headers=fresh,
        )
        assert stopped.status_code == 429 and "try again in" in stopped.json()["detail"]


async def test_the_password_page(client: Client, people: dict[str, Person]) -> None:
    csrf = await browser_sign_in(client, "candidate")
    old_cookie = client.cookies.get("exam_session")
    page = await client.get("/account/password")
    assert page.status_code == 200 and "Change your password" in page.text
    form = {"_csrf_token": csrf, "current_password": PASSWORD}
    differ = await client.post(
        "/account/password",
        data={**form, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD + "!"},
    )
    assert differ.status_code == 422 and "the two new passwords differ" in differ.text
    done = await client.post(
        "/account/password",
        data={**form, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/account/password?changed=true"
    new_cookie = client.cookies.get("exam_session")
    assert new_cookie and new_cookie != old_cookie
    shown = await client.get("/account/password?changed=true")
    assert "Your password was changed" in shown.text  # this browser is still signed in
    assert (await client.get("/api/v1/me", headers=people["candidate"].headers)).status_code == 401
    client.cookies.set("exam_session", old_cookie or "")
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_the_last_active_admin_stays(client: Client, people: dict[str, Person]) -> None:
    admin = people["admin"]
    me_url = f"/api/v1/users/{admin.user.id}"
    for change in ({"active": False}, {"role": "instructor"}):
        refused = await client.patch(me_url, json=change, headers=admin.headers)
        assert refused.status_code == 409, refused.text
        assert refused.json()["detail"] == (
            "'admin' is the only active admin; make another user an admin before "
            "deactivating or demoting this one"
        )
    assert (await client.get("/api/v1/me", headers=admin.headers)).status_code == 200

    teacher_url = f"/api/v1/users/{people['instructor'].user.id}"
    promoted = await client.patch(teacher_url, json={"role": "admin"}, headers=admin.headers)
    assert promoted.status_code == 200
    second = bearer((await sign_in(client, "instructor")).json()["access_token"])
    # with another active admin, an admin may step down; their own sign-ins end
    stepped = await client.patch(me_url, json={"role": "instructor"}, headers=admin.headers)
    assert stepped.status_code == 200 and stepped.json()["role"] == "instructor"
    assert (await client.get("/api/v1/me", headers=admin.headers)).status_code == 401
    last = await client.patch(teacher_url, json={"active": False}, headers=second)
    assert last.status_code == 409 and "'instructor' is the only active admin" in last.text
    # a deactivated admin does not count
    deactivated = await client.patch(me_url, json={"active": False}, headers=second)
    assert deactivated.status_code == 200
    back = await client.patch(me_url, json={"role": "admin"}, headers=second)
    assert back.status_code == 200 and back.json() | {"created_at": None} == {
        "id": admin.user.id,
        "username": "admin",
        "display_name": "admin",
        "role": "admin",
        "active": False,
        "created_at": None,
    }
    assert (
        await client.patch(teacher_url, json={"role": "candidate"}, headers=second)
    ).status_code == 409


async def test_two_admins_demoting_each_other_at_once_leave_one(
    settings: Settings, people: dict[str, Person]
) -> None:
    """Each change alone keeps an admin; both at once would leave none: one must fail."""
    more = await make_people(settings, ("second-admin", "admin"))
    first, second = people["admin"].user.id, more["second-admin"].user.id
    engines = [create_engine(settings.database_url) for _ in range(2)]
    try:

        async def demote(engine: Any, user_id: int) -> str:
            async with session_factory(engine)() as session:
                revocations = Revocations(engine, 2)
                try:
                    await accounts.change_user(
                        session, revocations, user_id, UserChange(role="candidate")
                    )
                except Conflict:
                    return "refused"
                return "done"

        outcomes = await asyncio.gather(demote(engines[0], first), demote(engines[1], second))
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(outcomes) == ["done", "refused"]


async def test_changing_a_user_says_what_is_wrong(
    client: Client, people: dict[str, Person]
) -> None:
    admin = people["admin"].headers
    url = f"/api/v1/users/{people['candidate'].user.id}"
    empty = await client.patch(url, json={}, headers=admin)
    assert empty.status_code == 422 and "changes nothing" in empty.json()["detail"]
    typo = await client.patch(url, json={"is_active": False}, headers=admin)
    assert typo.status_code == 400 and "is_active" in typo.text
    short = await client.patch(url, json={"password": "short"}, headers=admin)
    assert short.status_code == 422 and "use at least 10" in short.json()["detail"]
    role = await client.patch(url, json={"role": "owner"}, headers=admin)
    assert role.status_code == 400
    missing = await client.patch("/api/v1/users/999999", json={"active": False}, headers=admin)
    assert missing.status_code == 404 and "there is no user 999999" in missing.json()["detail"]
    as_teacher = await client.patch(
        url, json={"active": False}, headers=people["instructor"].headers
    )
    assert as_teacher.status_code == 403

    # a new name ends nothing; a new password ends every sign-in and replaces the old one
    renamed = await client.patch(url, json={"display_name": "Cand Idate"}, headers=admin)
    assert renamed.status_code == 200 and renamed.json()["display_name"] == "Cand Idate"
    assert (await client.get("/api/v1/me", headers=people["candidate"].headers)).status_code == 200
    reset = await client.patch(url, json={"password": NEW_PASSWORD}, headers=admin)
    assert reset.status_code == 200
    assert (await client.get("/api/v1/me", headers=people["candidate"].headers)).status_code == 401
    assert (await sign_in(client, "candidate")).status_code == 401
    signed = await sign_in(client, "candidate", NEW_PASSWORD)
    assert signed.status_code == 200
    me = await client.get("/api/v1/me", headers=bearer(signed.json()["access_token"]))
    assert me.json()["display_name"] == "Cand Idate"


async def test_admins_list_users_a_page_at_a_time(
    client: Client, people: dict[str, Person]
) -> None:
    admin = people["admin"].headers
    everyone = await client.get("/api/v1/users", headers=admin)
    assert everyone.status_code == 200
    body = everyone.json()
    assert body["total"] == 5 and body["limit"] == 50 and body["offset"] == 0
    assert [u["username"] for u in body["items"]] == [
        "admin",
        "candidate",
        "instructor",
        "other-candidate",
        "other-instructor",
    ]
    assert body["items"][0].keys() == {
        "id",
        "username",
        "display_name",
        "role",
        "active",
        "created_at",
    }
    page = await client.get("/api/v1/users", params={"limit": 2, "offset": 2}, headers=admin)
    assert [u["username"] for u in page.json()["items"]] == ["instructor", "other-candidate"]
    assert page.json()["total"] == 5
    candidates = await client.get("/api/v1/users", params={"role": "candidate"}, headers=admin)
    assert [u["username"] for u in candidates.json()["items"]] == ["candidate", "other-candidate"]
    await client.patch(
        f"/api/v1/users/{people['other-candidate'].user.id}", json={"active": False}, headers=admin
    )
    inactive = await client.get("/api/v1/users", params={"active": "false"}, headers=admin)
    assert [u["username"] for u in inactive.json()["items"]] == ["other-candidate"]
    found = await client.get("/api/v1/users", params={"text": "OTHER-I"}, headers=admin)
    assert [u["username"] for u in found.json()["items"]] == ["other-instructor"]
    too_many = await client.get("/api/v1/users", params={"limit": 500}, headers=admin)
    assert too_many.status_code == 400


async def test_the_users_page(client: Client, people: dict[str, Person]) -> None:
    admin = people["admin"].headers
    candidate_id = people["candidate"].user.id
    page = await client.get("/admin/users", params={"role": "candidate"}, headers=admin)
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert 'aria-label="Deactivate candidate"' in page.text
    assert "Deactivate admin" not in page.text  # filtered to candidates
    back = "role=candidate"

    done = await client.post(
        f"/admin/users/{candidate_id}",
        data={"active": "false", "back": back},
        headers=admin,
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == (
        f"/admin/users?role=candidate&done=deactivated&user={candidate_id}#user-{candidate_id}"
    )
    shown = await client.get(done.headers["location"], headers=admin)
    assert "candidate is deactivated; their sign-ins have ended." in shown.text
    assert 'aria-label="Reactivate candidate"' in shown.text
    assert (await client.get("/api/v1/me", headers=people["candidate"].headers)).status_code == 401

    role = await client.post(
        f"/admin/users/{candidate_id}", data={"role": "instructor"}, headers=admin
    )
    assert role.status_code == 200 and "now has the role instructor" in role.text
    password = await client.post(
        f"/admin/users/{candidate_id}", data={"password": "short"}, headers=admin
    )
    assert password.status_code == 422 and "use at least 10" in password.text
    self_demotion = await client.post(
        f"/admin/users/{people['admin'].user.id}", data={"active": "false"}, headers=admin
    )
    assert self_demotion.status_code == 409
    assert "&#39;admin&#39; is the only active admin" in self_demotion.text
    two_at_once = await client.post(
        f"/admin/users/{candidate_id}", data={"active": "true", "role": "admin"}, headers=admin
    )
    assert two_at_once.status_code == 422 and "one thing at a time" in two_at_once.text
    nobody = await client.post("/admin/users/999999", data={"active": "true"}, headers=admin)
    assert nobody.status_code == 404


async def test_a_deactivated_user_is_told_on_the_sign_in_page(
    client: Client, people: dict[str, Person]
) -> None:
    await client.patch(
        f"/api/v1/users/{people['candidate'].user.id}",
        json={"active": False},
        headers=people["admin"].headers,
    )
    page = await client.get("/login")
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    refused = await client.post(
        "/login", data={"username": "candidate", "password": PASSWORD, "_csrf_token": csrf}
    )
    assert refused.status_code == 403
    assert "the account &#39;candidate&#39; is deactivated; ask an admin" in refused.text


def test_the_refresh_interval_is_a_setting() -> None:
    assert Settings().access_refresh_seconds == 2  # the 5-second promise, with room to spare
    assert Settings.from_env({"EXAM_ACCESS_REFRESH_SECONDS": "0"}).access_refresh_seconds == 0
