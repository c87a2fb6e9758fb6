"""The group's visible trust agreement: its norms, who may export it, and its pins."""

from typing import Any

from sqlalchemy import func, select

from app.models import Pin
from tests.helpers import Api, Person, assert_error
from tests.realtime.conftest import ws, ws_url  # noqa: F401 (websocket fixtures)


async def roles(api: Api) -> tuple[str, dict[str, Person]]:
    """A group with one person in each role, a removed member and an outsider."""
    people = {name: await api.register(name) for name in ("owner", "mod", "member", "gone", "out")}
    gid = await api.group(people["owner"])
    await api.add(people["owner"], gid, people["mod"], "moderator")
    await api.add(people["owner"], gid, people["member"])
    await api.add(people["owner"], gid, people["gone"])
    await api.ok(people["owner"], "DELETE", f"/groups/{gid}/members/{people['gone'].id}")
    return gid, people


def pin(api: Api, who: Person, gid: str, mid: str, method: str = "PUT") -> Any:
    return api.call(who, method, f"/groups/{gid}/pins/{mid}")


async def test_a_new_group_has_no_norms_no_exports_and_no_pins(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    group = await api.ok(amy, "GET", f"/groups/{gid}")
    assert (group["norms"], group["export_policy"], group["pinned"]) == ("", "nobody", [])
    [listed] = (await api.ok(amy, "GET", "/groups"))["groups"]
    assert (listed["norms"], listed["export_policy"], listed["pinned"]) == ("", "nobody", [])


async def test_moderators_and_the_owner_write_the_norms_others_cannot(api: Api) -> None:
    gid, p = await roles(api)
    norms = "Tag a vox if you are responding to them.\nMove side conversations to side voxes."
    group = await api.ok(p["mod"], "PATCH", f"/groups/{gid}", json={"norms": norms})
    assert group["norms"] == norms
    before = await api.events(p["owner"], gid)
    assert_error(
        await api.call(p["member"], "PATCH", f"/groups/{gid}", json={"norms": "mine"}), 403
    )
    for who in ("gone", "out"):
        r = await api.call(p[who], "PATCH", f"/groups/{gid}", json={"norms": "mine"})
        assert_error(r, 404, "group_not_found")
    assert await api.events(p["owner"], gid) == before
    seen = await api.ok(p["member"], "GET", f"/groups/{gid}")
    assert seen["norms"] == norms, "every member reads them"
    cleared = await api.ok(p["owner"], "PATCH", f"/groups/{gid}", json={"norms": ""})
    assert cleared["norms"] == ""


async def test_norms_are_bounded_plain_text_and_bad_input_changes_nothing(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    await api.ok(amy, "PATCH", f"/groups/{gid}", json={"norms": "Be kind"})
    before = await api.events(amy, gid)
    for bad in ("x" * 2001, "nul \x00 byte", 42, ["list"]):
        r = await api.call(amy, "PATCH", f"/groups/{gid}", json={"norms": bad})
        assert_error(r, 422)
    assert (await api.ok(amy, "GET", f"/groups/{gid}"))["norms"] == "Be kind"
    assert await api.events(amy, gid) == before
    group = await api.ok(amy, "PATCH", f"/groups/{gid}", json={"norms": "é" * 2000})
    assert group["norms"] == "é" * 2000, "the bound counts characters, not bytes"


async def test_only_the_owner_decides_who_may_export(api: Api) -> None:
    gid, p = await roles(api)
    before = await api.events(p["owner"], gid)
    for who, status in (("mod", 403), ("member", 403), ("gone", 404), ("out", 404)):
        r = await api.call(p[who], "PATCH", f"/groups/{gid}", json={"export_policy": "owner"})
        assert_error(r, status)
    r = await api.call(p["owner"], "PATCH", f"/groups/{gid}", json={"export_policy": "anyone"})
    assert_error(r, 422)
    assert await api.events(p["owner"], gid) == before
    assert (await api.ok(p["member"], "GET", f"/groups/{gid}"))["export_policy"] == "nobody"
    r = await api.call(
        p["mod"], "PATCH", f"/groups/{gid}", json={"name": "Renamed", "export_policy": "owner"}
    )
    assert_error(r, 403)
    assert (await api.ok(p["owner"], "GET", f"/groups/{gid}"))["name"] == "Coaches", "no part"
    group = await api.ok(p["owner"], "PATCH", f"/groups/{gid}", json={"export_policy": "owner"})
    assert group["export_policy"] == "owner"
    assert (await api.ok(p["member"], "GET", f"/groups/{gid}"))["export_policy"] == "owner"


async def test_every_member_hears_norms_and_policy_changes_in_order(
    api: Api,
    ws: Any,  # noqa: F811
) -> None:
    gid, p = await roles(api)
    start = (await api.ok(p["member"], "GET", f"/groups/{gid}"))["last_seq"]
    socket = await ws(p["member"])
    await api.ok(p["mod"], "PATCH", f"/groups/{gid}", json={"norms": "Listen first"})
    await api.ok(p["owner"], "PATCH", f"/groups/{gid}", json={"export_policy": "owner"})
    live = [await socket.recv_type("group.updated", "moderation.logged") for _ in range(4)]
    assert [(f["type"], f["data"].get("action")) for f in live] == [
        ("moderation.logged", "group.norms_changed"),
        ("group.updated", None),
        ("moderation.logged", "group.export_policy_changed"),
        ("group.updated", None),
    ]
    assert live[1]["data"]["norms"] == "Listen first"
    assert live[1]["data"]["export_policy"] == "nobody"
    assert live[3]["data"]["export_policy"] == "owner"
    assert live[2]["data"]["details"] == {"from": "nobody", "to": "owner"}
    assert "Listen" not in str(live[0]["data"]), "the log keeps no content"
    seqs = [f["seq"] for f in live]
    assert seqs == sorted(seqs) and seqs[0] > start
    replay = [e for e in await api.events(p["member"], gid, start) if e["seq"] in seqs]
    assert [(e["seq"], e["type"], e["data"]) for e in replay] == [
        (f["seq"], f["type"], f["data"]) for f in live
    ]


async def test_moderators_pin_up_to_five_messages_in_pin_order(api: Api) -> None:
    gid, p = await roles(api)
    posted = [(await api.post(p["member"], gid, f"note {i}"))["id"] for i in range(6)]
    order = [posted[3], posted[0], posted[4], posted[1], posted[2]]
    for i, mid in enumerate(order):
        who = p["owner"] if i % 2 else p["mod"]
        r = await pin(api, who, gid, mid)
        assert r.status_code == 200, r.text
        assert r.json()["pinned"] == order[: i + 1]
    before = await api.events(p["owner"], gid)
    error = assert_error(await pin(api, p["mod"], gid, posted[5]), 409, "too_many_pins")
    assert error["details"] == {"max": 5}
    assert await api.events(p["owner"], gid) == before
    assert (await pin(api, p["mod"], gid, posted[0])).json()["pinned"] == order, "pinned already"
    unpinned = (await pin(api, p["mod"], gid, posted[0], "DELETE")).json()["pinned"]
    assert unpinned == [posted[3], posted[4], posted[1], posted[2]]
    again = await pin(api, p["owner"], gid, posted[0])
    assert again.json()["pinned"] == [posted[3], posted[4], posted[1], posted[2], posted[0]]
    group = await api.ok(p["member"], "GET", f"/groups/{gid}")
    assert group["pinned"] == again.json()["pinned"], "every member sees the pins"


async def test_pin_and_unpin_are_idempotent_and_announce_only_changes(
    api: Api,
    ws: Any,  # noqa: F811
) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    mid = (await api.post(amy, gid, "read me first"))["id"]
    start = (await api.ok(amy, "GET", f"/groups/{gid}"))["last_seq"]
    socket = await ws(ben)
    for _ in range(2):
        assert (await pin(api, amy, gid, mid)).json()["pinned"] == [mid]
    for _ in range(2):
        assert (await pin(api, amy, gid, mid, "DELETE")).json()["pinned"] == []
    await api.post(amy, gid, "after")  # the socket's last frame: nothing came between
    live = await socket.events(3)
    replay = await api.events(ben, gid, start)
    assert [(e["seq"], e["type"], e["data"]) for e in replay] == [
        (f["seq"], f["type"], f["data"]) for f in live
    ]
    assert [(e["type"], e["data"]) for e in replay[:2]] == [
        ("pin.added", {"group_id": gid, "message_id": mid, "pinned": [mid]}),
        ("pin.removed", {"group_id": gid, "message_id": mid, "pinned": []}),
    ]
    assert [e["seq"] for e in replay] == [start + 1, start + 2, start + 3]


async def test_who_may_pin_and_what_may_be_pinned(api: Api, app: Any) -> None:
    gid, p = await roles(api)
    mid = (await api.post(p["member"], gid, "ours"))["id"]
    elsewhere = await api.group(p["out"], "Other")
    theirs = (await api.post(p["out"], elsewhere, "theirs"))["id"]
    before = await api.events(p["owner"], gid)
    for method in ("PUT", "DELETE"):
        assert_error(await pin(api, p["member"], gid, mid, method), 403)
        for who in ("gone", "out"):
            assert_error(await pin(api, p[who], gid, mid, method), 404, "group_not_found")
        for bad in (theirs, "00000000-0000-0000-0000-000000000000"):
            assert_error(await pin(api, p["mod"], gid, bad, method), 404, "message_not_found")
        assert_error(await pin(api, p["mod"], gid, "not an id!", method), 422)
    assert await api.events(p["owner"], gid) == before
    async with app.state.runtime.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Pin)) == 0


async def test_a_deleted_message_is_unpinned_and_cannot_be_pinned(
    api: Api,
    app: Any,
    ws: Any,  # noqa: F811
) -> None:
    gid, p = await roles(api)
    keep = (await api.post(p["member"], gid, "keep"))["id"]
    slip = (await api.post(p["member"], gid, "a slip"))["id"]
    await pin(api, p["mod"], gid, keep)
    await pin(api, p["mod"], gid, slip)
    socket = await ws(p["owner"])
    await api.ok(p["member"], "DELETE", f"/messages/{slip}")
    deleted = await socket.recv_type("message.deleted")
    removed = await socket.recv_type("pin.removed")
    assert removed["seq"] == deleted["seq"] + 1
    assert removed["data"] == {"group_id": gid, "message_id": slip, "pinned": [keep]}
    assert (await api.ok(p["member"], "GET", f"/groups/{gid}"))["pinned"] == [keep]
    assert_error(await pin(api, p["mod"], gid, slip), 404, "message_not_found")
    replayed = [e["type"] for e in await api.events(p["owner"], gid, deleted["seq"] - 1)]
    assert replayed == ["message.deleted", "pin.removed"]
    async with app.state.runtime.sessions() as db:
        assert list(await db.scalars(select(Pin.message_id))) == [keep]


async def test_a_deleted_group_takes_its_pins(api: Api, app: Any) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    await pin(api, amy, gid, (await api.post(amy, gid, "x"))["id"])
    await api.ok(amy, "DELETE", f"/groups/{gid}")
    async with app.state.runtime.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Pin)) == 0
