"""Creating, listing, renaming and deleting groups."""

import asyncio
from typing import Any

from tests.helpers import Api, assert_error


async def test_creator_owns_the_new_group(api: Api) -> None:
    amy = await api.register("amy")
    r = await api.call(amy, "POST", "/groups", json={"name": "  K-5 coaches ", "description": "hi"})
    assert r.status_code == 201
    group = r.json()
    assert group["name"] == "K-5 coaches"
    assert group["role"] == "owner"
    assert group["member_count"] == 1
    assert group["unheard_count"] == 0
    assert group["last_message"] is None
    assert group["last_seq"] == 1  # the owner's member.joined event


async def test_group_list_is_most_recent_activity_first(api: Api) -> None:
    amy = await api.register("amy")
    first = await api.group(amy, "first")
    second = await api.group(amy, "second")
    names = [g["name"] for g in (await api.ok(amy, "GET", "/groups"))["groups"]]
    assert names == ["second", "first"]
    await api.post(amy, first, "bump")
    groups = (await api.ok(amy, "GET", "/groups"))["groups"]
    assert [g["id"] for g in groups] == [first, second]
    assert groups[0]["last_message"]["text"] == "bump"


async def test_group_list_shows_only_my_groups(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    await api.group(amy)
    assert (await api.ok(ben, "GET", "/groups"))["groups"] == []


async def test_repeated_create_with_client_id_returns_the_first_group(api: Api) -> None:
    amy = await api.register("amy")
    body = {"name": "Coaches", "client_id": "c-1"}
    first = await api.call(amy, "POST", "/groups", json=body)
    again = await api.call(amy, "POST", "/groups", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert len((await api.ok(amy, "GET", "/groups"))["groups"]) == 1


async def test_concurrent_creates_with_one_client_id_make_one_group(api: Api) -> None:
    amy = await api.register("amy")
    body = {"name": "Coaches", "client_id": "c-2"}
    results = await asyncio.gather(*[api.call(amy, "POST", "/groups", json=body) for _ in range(4)])
    assert sorted(r.status_code for r in results) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in results}) == 1


async def test_moderator_renames_group_and_members_get_an_event(api: Api) -> None:
    amy, mo = await api.register("amy"), await api.register("mo")
    gid = await api.group(amy)
    await api.add(amy, gid, mo, "moderator")
    r = await api.call(mo, "PATCH", f"/groups/{gid}", json={"name": "Renamed"})
    assert r.status_code == 200
    assert r.json()["name"] == "Renamed"
    assert r.json()["role"] == "moderator"
    last = (await api.events(amy, gid))[-1]
    assert last["type"] == "group.updated"
    assert last["data"]["name"] == "Renamed"
    assert r.json()["last_seq"] == last["seq"]


async def test_owner_deletes_group_and_it_is_gone_for_everyone(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    mid = (await api.post(ben, gid))["id"]
    assert (await api.call(amy, "DELETE", f"/groups/{gid}")).status_code == 204
    assert_error(await api.call(ben, "GET", f"/groups/{gid}"), 404, "group_not_found")
    assert_error(await api.call(ben, "GET", f"/messages/{mid}"), 404, "message_not_found")
    assert (await api.ok(ben, "GET", "/groups"))["groups"] == []


async def test_outsider_cannot_tell_a_group_exists(api: Api) -> None:
    amy, eve = await api.register("amy"), await api.register("eve")
    gid = await api.group(amy)
    real = await api.call(eve, "GET", f"/groups/{gid}")
    fake = await api.call(eve, "GET", "/groups/00000000-0000-0000-0000-000000000000")
    assert_error(real, 404, "group_not_found")
    assert real.json() == fake.json()


async def _pages(api: Api, who: Any, limit: int) -> list[list[str]]:
    """Every page of the caller's group names, following `next_cursor`."""
    pages, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        body = await api.ok(who, "GET", "/groups", params=params)
        pages.append([g["name"] for g in body["groups"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_the_group_list_comes_in_pages_by_cursor(api: Api) -> None:
    amy = await api.register("amy")
    ids = {name: await api.group(amy, name) for name in ("a", "b", "c", "d", "e")}
    assert await _pages(api, amy, 2) == [["e", "d"], ["c", "b"], ["a"]]
    await api.post(amy, ids["b"], "b is busy again")
    assert await _pages(api, amy, 3) == [["b", "e", "d"], ["c", "a"]]
    whole = await api.ok(amy, "GET", "/groups")
    assert [g["name"] for g in whole["groups"]] == ["b", "e", "d", "c", "a"]
    assert whole["next_cursor"] is None, "one page holds them all by default"


async def test_a_cursor_that_the_server_did_not_give_is_refused(api: Api) -> None:
    amy = await api.register("amy")
    await api.group(amy)
    for cursor in ("nonsense", "WyJ4IiwieSJd", "e30"):  # garbage, ["x","y"], {}
        r = await api.call(amy, "GET", "/groups", params={"cursor": cursor})
        assert_error(r, 422, "invalid_cursor")
    assert_error(await api.call(amy, "GET", "/groups", params={"limit": 101}), 422)


async def test_a_deleted_text_stays_the_group_s_latest_message_as_a_tombstone(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    await api.post(amy, gid, "first")
    gone = await api.post(amy, gid, "second")
    await api.ok(amy, "DELETE", f"/messages/{gone['id']}")
    latest = (await api.ok(amy, "GET", f"/groups/{gid}"))["last_message"]
    assert (latest["id"], latest["deleted"]) == (gone["id"], True)
