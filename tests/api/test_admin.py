"""Instance admins: who may use /api/v1/admin, what disabling does to an account, the
last admin kept, the server's size counted, and an admin kept out of others' groups."""

import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from app.config import Settings
from app.models import User
from app.services import admin
from app.services.context import transaction
from tests import audio_samples
from tests.helpers import Api, Person, assert_error, make_admin
from tests.services.helpers import processed, upload

PASSWORD = "correct horse"  # what Api.register gives everyone
REASON = {"reason": "Left the district in June."}
NOBODY = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
async def boss(api: Api, app: Any) -> Person:
    person = await api.register("boss")
    await make_admin(app, person)
    return person


def _admin_calls(uid: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", "/admin/users", None),
        ("POST", "/admin/users", {"handle": "newbie"}),
        ("POST", f"/admin/users/{uid}/disable", REASON),
        ("POST", f"/admin/users/{uid}/enable", None),
        ("POST", f"/admin/users/{uid}/promote", None),
        ("POST", f"/admin/users/{uid}/demote", None),
        ("GET", "/admin/stats", None),
    ]


async def _users(app: Any) -> list[tuple[str, bool, bool, str | None]]:
    async with app.state.runtime.sessions() as db:
        rows = await db.execute(
            select(
                User.handle, User.is_admin, User.disabled_at.is_not(None), User.disabled_reason
            ).order_by(User.handle)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_only_admins_may_use_the_admin_api(api: Api, app: Any, boss: Person) -> None:
    """Everyone else, a group owner included, gets 403 `admin_required` (no token: 401),
    and nothing changes."""
    amy = await api.register("amy")
    await api.group(amy)  # owning a group makes no admin
    before = await _users(app)
    for method, path, body in _admin_calls(boss.id):
        assert_error(await api.call(amy, method, path, json=body), 403, "admin_required")
        assert_error(await api.call(None, method, path, json=body), 401, "unauthorized")
    assert await _users(app) == before


async def test_is_admin_is_on_me_only(api: Api, boss: Person) -> None:
    amy = await api.register("amy")
    assert (await api.ok(boss, "GET", "/me"))["is_admin"] is True
    assert (await api.ok(amy, "GET", "/me"))["is_admin"] is False
    gid = await api.group(boss)
    await api.add(boss, gid, amy)
    members = (await api.ok(amy, "GET", f"/groups/{gid}/members"))["members"]
    assert members and all("is_admin" not in m["user"] for m in members)


async def test_admin_cannot_read_a_group_they_are_not_in(api: Api, boss: Person) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    message = await api.post(amy, gid, "only for the group")
    for path in (f"/groups/{gid}", f"/groups/{gid}/messages", f"/groups/{gid}/events"):
        assert_error(await api.call(boss, "GET", path), 404, "group_not_found")
    r = await api.call(boss, "GET", f"/messages/{message['id']}")
    assert_error(r, 404, "message_not_found")
    assert "only for the group" not in r.text


async def test_users_are_searched_by_prefix_and_paged(api: Api, app: Any, boss: Person) -> None:
    amy, amos = await api.register("amy"), await api.register("amos")
    ben = await api.register("ben")
    async with app.state.runtime.sessions() as db:
        await db.execute(update(User).where(User.id == ben.id).values(email="am.ben@district.org"))
        await db.commit()

    async def found(q: str) -> set[str]:
        page = await api.ok(boss, "GET", "/admin/users", params={"q": q})
        return {u["id"] for u in page["users"]}

    assert await found("am") == {amy.id, amos.id, ben.id}  # ben by his address
    assert await found("AMO") == {amos.id}  # handles and names, any case
    assert await found("Ben") == {ben.id}  # his display name
    assert await found("%") == await found("_") == set()  # no wildcard reaches LIKE
    everyone = await api.every_page(boss, "/admin/users", "users", "before", "id")
    assert everyone == [ben.id, amos.id, amy.id, boss.id]  # newest first, each once
    page = await api.ok(boss, "GET", "/admin/users", params={"q": "ben"})
    assert page["users"][0] | {"created_at": None} == {
        "id": ben.id,
        "handle": ben.handle,
        "display_name": "Ben",
        "created_at": None,
        "email": "am.ben@district.org",
        "email_verified": False,
        "is_admin": False,
        "disabled": False,
        "disabled_at": None,
        "disabled_reason": None,
    }
    r = await api.call(boss, "GET", "/admin/users", params={"before": NOBODY})
    assert_error(r, 422, "invalid_cursor")
    assert_error(await api.call(boss, "GET", "/admin/users", params={"q": "x" * 101}), 422)


async def test_deleted_accounts_are_not_listed(api: Api, boss: Person) -> None:
    amy = await api.register("amy")
    await api.ok(amy, "DELETE", "/me", json={"password": PASSWORD})
    page = await api.ok(boss, "GET", "/admin/users")
    assert [u["id"] for u in page["users"]] == [boss.id]
    assert_error(await api.call(boss, "POST", f"/admin/users/{amy.id}/enable"), 404)


async def test_a_disabled_account_is_signed_out_and_cannot_sign_in(api: Api, boss: Person) -> None:
    amy = await api.register("amy")
    out = await api.ok(boss, "POST", f"/admin/users/{amy.id}/disable", json=REASON)
    assert (out["disabled"], out["disabled_reason"]) == (True, REASON["reason"])
    assert out["disabled_at"] is not None
    assert_error(await api.call(amy, "GET", "/me"), 401, "unauthorized")
    login = {"handle": amy.handle, "password": PASSWORD}
    assert_error(await api.call(None, "POST", "/auth/login", json=login), 403, "account_disabled")
    wrong = {"handle": amy.handle, "password": "not her password"}
    r = await api.call(None, "POST", "/auth/login", json=wrong)
    assert_error(r, 401, "invalid_credentials")  # without the password, nothing is told
    again = await api.ok(boss, "POST", f"/admin/users/{amy.id}/disable", json={"reason": "x"})
    assert again == out  # disabling again changes nothing
    enabled = await api.ok(boss, "POST", f"/admin/users/{amy.id}/enable")
    assert (enabled["disabled"], enabled["disabled_reason"]) == (False, None)
    assert_error(await api.call(amy, "GET", "/me"), 401)  # the old token stays revoked
    token = (await api.ok(None, "POST", "/auth/login", json=login))["token"]
    me = await api.call(Person(amy.handle, token, amy.id), "GET", "/me")
    assert me.status_code == 200 and me.json()["id"] == amy.id


@pytest.mark.parametrize(
    "body", [{}, {"reason": ""}, {"reason": "  \n"}, {"reason": "x" * 501}, {"reason": "a\x00"}]
)
async def test_a_disable_without_a_sensible_reason_changes_nothing(
    api: Api, app: Any, boss: Person, body: dict[str, Any]
) -> None:
    amy = await api.register("amy")
    before = await _users(app)
    assert_error(await api.call(boss, "POST", f"/admin/users/{amy.id}/disable", json=body), 422)
    assert await _users(app) == before
    assert (await api.call(amy, "GET", "/me")).status_code == 200


async def test_unknown_accounts_are_404(api: Api, boss: Person) -> None:
    for action in ("enable", "promote", "demote"):
        r = await api.call(boss, "POST", f"/admin/users/{NOBODY}/{action}")
        assert_error(r, 404, "user_not_found")
    r = await api.call(boss, "POST", f"/admin/users/{NOBODY}/disable", json=REASON)
    assert_error(r, 404, "user_not_found")


async def test_the_last_admin_is_kept(api: Api, app: Any, boss: Person) -> None:
    before = await _users(app)
    r = await api.call(boss, "POST", f"/admin/users/{boss.id}/demote")
    assert_error(r, 409, "last_admin")
    r = await api.call(boss, "POST", f"/admin/users/{boss.id}/disable", json=REASON)
    assert_error(r, 409, "last_admin")
    assert await _users(app) == before
    amy = await api.register("amy")
    assert (await api.ok(boss, "POST", f"/admin/users/{amy.id}/promote"))["is_admin"] is True
    assert (await api.ok(amy, "GET", "/me"))["is_admin"] is True
    assert (await api.ok(boss, "POST", f"/admin/users/{boss.id}/demote"))["is_admin"] is False
    assert_error(await api.call(boss, "GET", "/admin/stats"), 403, "admin_required")
    assert_error(await api.call(amy, "POST", f"/admin/users/{amy.id}/demote"), 409, "last_admin")


async def test_a_disabled_admin_is_no_admin_to_keep(api: Api, boss: Person) -> None:
    """The last *enabled* admin: another admin who is disabled does not count."""
    amy = await api.register("amy")
    await api.ok(boss, "POST", f"/admin/users/{amy.id}/promote")
    await api.ok(boss, "POST", f"/admin/users/{amy.id}/disable", json=REASON)
    r = await api.call(boss, "POST", f"/admin/users/{boss.id}/demote")
    assert_error(r, 409, "last_admin")


async def test_an_admin_makes_accounts_on_a_closed_server(
    api: Api, settings: Settings, boss: Person, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings.registration = "closed"
    body = {"handle": "Newbie", "display_name": "New Coach"}
    r = await api.call(None, "POST", "/auth/register", json=body | {"password": "a new password"})
    assert_error(r, 403, "registration_closed")
    made = await api.ok(boss, "POST", "/admin/users", json=body)
    assert made["user"]["handle"] == "newbie" and made["user"]["is_admin"] is False
    link = urlsplit(made["password_link"])
    assert link.path == "/reset-password"
    token = parse_qs(link.query)["token"][0]
    assert token not in caplog.text  # shown once, never logged
    assert made["user"]["id"] in caplog.text  # the admin action is logged
    login = {"handle": "newbie", "password": "a new password"}
    assert_error(await api.call(None, "POST", "/auth/login", json=login), 401)  # none yet
    confirm = {"token": token, "new_password": "a new password"}
    assert (await api.call(None, "POST", "/auth/password-reset/confirm", json=confirm)).is_success
    again = await api.call(None, "POST", "/auth/password-reset/confirm", json=confirm)
    assert_error(again, 422, "invalid_token")  # one use
    assert (await api.call(None, "POST", "/auth/login", json=login)).status_code == 200
    assert_error(await api.call(boss, "POST", "/admin/users", json=body), 409, "handle_taken")
    r = await api.call(boss, "POST", "/admin/users", json={"handle": "chief", "admin": True})
    assert r.status_code == 201 and r.json()["user"]["is_admin"] is True


async def test_a_made_account_with_an_address_needs_email_set_up(
    api: Api, app: Any, boss: Person
) -> None:
    before = await _users(app)
    body = {"handle": "newbie", "email": "newbie@district.org"}
    r = await api.call(boss, "POST", "/admin/users", json=body)
    assert_error(r, 409, "email_not_configured")
    assert await _users(app) == before


async def test_stats_count_the_server(api: Api, app: Any, boss: Person, samples: Path) -> None:
    empty = await api.ok(boss, "GET", "/admin/stats")
    assert empty == {
        "accounts": 1,
        "active_accounts": 0,
        "disabled_accounts": 0,
        "admins": 1,
        "groups": 0,
        "messages": 0,
        "memos": 0,
        "audio_minutes": 0.0,
        "bytes_stored": 0,
    }
    amy, ben, cara, gone = (
        await api.register("amy"),
        await api.register("ben"),
        await api.register("cara"),
        await api.register("gone"),
    )
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    await api.add(amy, gid, cara)
    await api.post(amy, gid, "kept")
    dropped = await api.post(amy, gid, "deleted")
    await api.ok(amy, "DELETE", f"/messages/{dropped['id']}")
    r = await upload(api, ben, gid, audio_samples.client_file(samples, "mp3"))
    memo = await processed(app, api, ben, r.json()["id"])
    await api.ok(cara, "POST", f"/messages/{memo['id']}/listened", json={})
    await api.ok(boss, "POST", f"/admin/users/{ben.id}/disable", json=REASON)
    await api.ok(gone, "DELETE", "/me", json={"password": PASSWORD})
    stats = await api.ok(boss, "GET", "/admin/stats")
    assert stats == {
        "accounts": 4,  # the deleted one is gone
        "active_accounts": 2,  # amy posted, cara listened; ben posted, but is disabled
        "disabled_accounts": 1,
        "admins": 1,
        "groups": 1,
        "messages": 2,  # the deleted text is not counted
        "memos": 1,
        "audio_minutes": round(memo["voice"]["duration_ms"] / 60_000, 1),
        "bytes_stored": memo["voice"]["size_bytes"],
    }


async def test_deleting_an_account_forgets_its_admin_rights_and_reason(
    api: Api, app: Any, boss: Person
) -> None:
    amy = await api.register("amy")
    await api.ok(boss, "POST", f"/admin/users/{amy.id}/promote")
    await api.ok(boss, "POST", f"/admin/users/{amy.id}/disable", json=REASON)
    async with transaction(app.state.runtime) as ctx:
        await admin.delete_user(ctx, amy.id)
    async with app.state.runtime.sessions() as db:
        row = await db.get(User, amy.id)
        assert row is not None and row.deleted_at is not None
        assert (row.is_admin, row.disabled_at, row.disabled_reason) == (False, None, None)
