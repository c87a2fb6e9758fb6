"""The websocket: live events for all of a member's groups, resume, indicators, bad frames."""

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.config import Settings
from tests.helpers import Api, make_admin
from tests.process import earshot_admin
from tests.realtime.conftest import serve


async def test_a_bad_token_never_gets_a_socket(ws_url: str) -> None:
    for url in (f"{ws_url}?token=nope", ws_url):
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, subprotocols=["earshot", "bearer.nope"])  # type: ignore[list-item]
        assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{ws_url}?token=nope")
    assert refused.value.response.status_code == 403


async def test_members_hear_new_messages_and_outsiders_do_not(api: Api, ws: Any) -> None:
    amy, ben, eve = await api.register("amy"), await api.register("ben"), await api.register("eve")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    ben_ws, eve_ws = await ws(ben), await ws(eve)
    posted = await api.post(amy, gid, "hello everyone")
    frame = await ben_ws.recv()
    assert frame["type"] == "message.created" and frame["group_id"] == gid
    assert frame["seq"] == posted["seq"] and frame["data"]["text"] == "hello everyone"
    await eve_ws.nothing_within()


async def test_a_sync_from_zero_after_a_delete_replays_only_the_tombstone(
    api: Api, ws: Any
) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    said = await api.post(ben, gid, "something I regret saying")
    await api.ok(ben, "DELETE", f"/messages/{said['id']}")
    last = (await api.ok(amy, "GET", f"/groups/{gid}"))["last_seq"]
    frames = await (await ws(amy, cursors={gid: 0})).events(last)
    assert "regret" not in json.dumps(frames)
    about = [f for f in frames if f["data"].get("id") == said["id"]]
    assert [f["type"] for f in about] == ["message.created", "message.deleted"]
    assert all(f["data"]["deleted"] and f["data"]["text"] is None for f in about)


async def test_one_connection_carries_all_my_groups(api: Api, ws: Any) -> None:
    amy = await api.register("amy")
    first, second = await api.group(amy, "one"), await api.group(amy, "two")
    amy_ws = await ws(amy)
    await api.post(amy, first, "a")
    await api.post(amy, second, "b")
    frames = await amy_ws.events(2)
    assert [(f["group_id"], f["data"]["text"]) for f in frames] == [(first, "a"), (second, "b")]


async def test_sync_replays_after_the_cursor_then_goes_live_without_gap_or_duplicate(
    api: Api, ws: Any
) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    for i in range(30):
        await api.post(amy, gid, f"before {i}")
    ben_ws = await ws(ben, cursors={gid: 1})
    during = asyncio.gather(*[api.post(amy, gid, f"during {i}") for i in range(30)])
    await during
    last = (await api.ok(amy, "GET", f"/groups/{gid}"))["last_seq"]
    frames = await ben_ws.events(last - 1)
    assert [f["seq"] for f in frames] == list(range(2, last + 1))
    await ben_ws.nothing_within()


async def test_sync_after_being_offline_catches_up_exactly(api: Api, ws: Any) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    ben_ws = await ws(ben)
    await api.post(amy, gid, "seen live")
    seen = (await ben_ws.recv())["seq"]
    await ben_ws.conn.close()
    for i in range(5):
        await api.post(amy, gid, f"missed {i}")
    ben_again = await ws(ben, cursors={gid: seen})
    frames = await ben_again.events(5)
    assert [f["data"]["text"] for f in frames] == [f"missed {i}" for i in range(5)]
    assert [f["seq"] for f in frames] == list(range(seen + 1, seen + 6))


async def test_added_member_hears_the_group_without_reconnecting(api: Api, ws: Any) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    ben_ws = await ws(ben)
    await api.add(amy, gid, ben)
    joined = await ben_ws.recv()
    assert joined["type"] == "member.joined" and joined["data"]["user"]["id"] == ben.id
    await api.post(amy, gid, "welcome")
    assert (await ben_ws.recv())["data"]["text"] == "welcome"


async def test_removed_member_hears_member_left_and_then_nothing(api: Api, ws: Any) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    ben_ws = await ws(ben)
    await api.ok(amy, "DELETE", f"/groups/{gid}/members/{ben.id}")
    left = await ben_ws.recv()
    assert left["type"] == "member.left" and left["data"]["user"]["id"] == ben.id
    await api.post(amy, gid, "after ben left")
    await ben_ws.nothing_within()
    await ben_ws.send({"type": "sync", "cursors": {gid: 0}})
    refused = await ben_ws.recv()
    assert refused["type"] == "error" and refused["error"]["code"] == "group_not_found"


async def test_logout_closes_the_open_socket(api: Api, ws: Any) -> None:
    amy = await api.register("amy")
    amy_ws = await ws(amy)
    await api.ok(amy, "POST", "/auth/logout")
    with pytest.raises(ConnectionClosed) as closed:
        await amy_ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001


async def test_a_password_change_closes_every_socket_of_the_account(api: Api, ws: Any) -> None:
    amy = await api.register("amy")
    laptop, phone = await ws(amy), await ws(amy)
    body = {"current_password": "correct horse", "new_password": "battery staple"}
    fresh = await api.ok(amy, "POST", "/auth/password", json=body)
    for conn in (laptop, phone):
        with pytest.raises(ConnectionClosed) as closed:
            await conn.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
    amy.token = fresh["token"]
    again = await ws(amy)
    await again.send({"type": "ping"})
    assert await again.recv() == {"type": "pong"}


async def test_disabling_an_account_closes_every_socket_and_refuses_new_ones(
    api: Api, app: Any, ws: Any, ws_url: str
) -> None:
    boss, amy, ben = (
        await api.register("boss"),
        await api.register("amy"),
        await api.register("ben"),
    )
    await make_admin(app, boss)
    laptop, phone, bens = await ws(amy), await ws(amy), await ws(ben)
    await api.ok(boss, "POST", f"/admin/users/{amy.id}/disable", json={"reason": "left"})
    for conn in (laptop, phone):
        with pytest.raises(ConnectionClosed) as closed:
            await conn.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
    await bens.send({"type": "ping"})
    assert await bens.recv() == {"type": "pong"}  # nobody else is signed out
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{ws_url}?token={amy.token}")
    assert refused.value.response.status_code == 403


async def test_a_disable_at_the_command_line_without_redis_closes_the_socket_too(
    api: Api, app: Any, settings: Settings, ws: Any
) -> None:
    """`earshot admin` shares no broker with this server (no Redis): the hub's check of
    its sockets' tokens (every TOKEN_CHECK_S; run at once here) closes them."""
    amy, ben = await api.register("amy"), await api.register("ben")
    amys, bens = await ws(amy), await ws(ben)
    done = await earshot_admin(settings, "disable", amy.handle, "--reason", "left")
    assert done.returncode == 0, done.stderr
    await amys.send({"type": "ping"})
    assert await amys.recv() == {"type": "pong"}  # no notice reached this process
    assert await app.state.hub.close_signed_out() == 1
    with pytest.raises(ConnectionClosed) as closed:
        await amys.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
    await bens.send({"type": "ping"})
    assert await bens.recv() == {"type": "pong"}
    assert await app.state.hub.close_signed_out() == 0


async def test_recording_indicator_reaches_the_others_with_user_id(api: Api, ws: Any) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    amy_ws, ben_ws = await ws(amy), await ws(ben)
    await amy_ws.send({"type": "recording.started", "group_id": gid})
    frame = await ben_ws.recv()
    assert frame == {"type": "recording.started", "group_id": gid, "user_id": amy.id}
    await amy_ws.send({"type": "ping"})
    assert await amy_ws.recv() == {"type": "pong"}, "the sender does not hear itself"


async def test_bad_frames_get_error_frames_and_the_socket_stays_usable(api: Api, ws: Any) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    amy_ws = await ws(amy)
    cases = [
        ("not json at all", "invalid_frame"),
        ("[1, 2, 3]", "invalid_frame"),
        (json.dumps({"type": "dance"}), "unknown_type"),
        (json.dumps({"type": "sync", "cursors": {gid: -1}}), "invalid_frame"),
        (json.dumps({"type": "recording.started", "group_id": "nope"}), "group_not_found"),
        ("x" * (64 * 1024 + 1), "too_large"),
    ]
    for text, code in cases:
        await amy_ws.conn.send(text)
        frame = await amy_ws.recv()
        assert frame["type"] == "error" and frame["error"]["code"] == code, (text[:30], frame)
        assert frame["error"]["message"]
    await amy_ws.conn.send(b"\x00\x01 binary outside a live message")
    assert (await amy_ws.recv())["error"]["code"] == "no_live_message"
    await amy_ws.send({"type": "ping"})
    assert await amy_ws.recv() == {"type": "pong"}


async def test_flooding_is_rate_limited_then_closed(api: Api, ws: Any) -> None:
    amy = await api.register("amy")
    amy_ws = await ws(amy)
    for _ in range(80):  # over the burst of 60, under the closing point
        await amy_ws.conn.send('{"type":"ping"}')
    refusal = await amy_ws.recv_type("error")
    assert refusal["error"]["code"] == "rate_limited"
    assert refusal["error"]["details"]["retry_after_ms"] > 0
    await asyncio.sleep(0.2)  # the bucket refills
    await amy_ws.send({"type": "ping"})
    assert await amy_ws.recv_type("pong", "error") == {"type": "pong"}
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(2000):
            await amy_ws.conn.send('{"type":"ping"}')
        while True:
            await amy_ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4029


async def test_a_client_that_cannot_keep_up_is_dropped(api: Api, app: Any, ws: Any) -> None:
    app.state.runtime.settings.ws_send_queue = 4
    amy = await api.register("amy")
    gid = await api.group(amy)
    amy_ws = await ws(amy)
    broker = app.state.runtime.broker
    event = json.dumps({"type": "message.created", "group_id": gid, "seq": 999, "data": {}})
    for _ in range(50):  # a burst far faster than any socket drains
        await broker.publish("events", event.encode())
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await amy_ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008


async def test_a_reader_that_stops_reading_is_dropped_and_others_get_everything(
    api: Api, app: Any, ws: Any
) -> None:
    """Sends go straight to idle sockets; once one stops draining, its queue fills and it goes."""
    app.state.runtime.settings.ws_send_queue = 4
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    amy_ws, ben_ws = await ws(amy), await ws(ben)
    amy_ws.conn.transport.pause_reading()  # amy's app hangs; her socket buffers fill up
    latest = (await api.events(amy, gid))[-1]["seq"]
    broker, pad = app.state.runtime.broker, "x" * 60_000
    for seq in range(latest + 1, latest + 301):  # 18 MB: more than loopback buffers hold
        frame = {"type": "message.created", "group_id": gid, "seq": seq, "data": {"pad": pad}}
        await broker.publish("events", json.dumps(frame).encode())
        assert (await ben_ws.recv())["seq"] == seq
    amy_ws.conn.transport.resume_reading()
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await amy_ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008


async def test_server_shutdown_closes_sockets_with_1012_so_clients_resume(
    api: Api, app: Any
) -> None:
    amy = await api.register("amy")
    server, task, url = await serve(app)
    conn = await connect(f"{url}?token={amy.token}", compression=None)
    await conn.send('{"type":"ping"}')
    assert json.loads(await conn.recv()) == {"type": "pong"}
    server.should_exit = True
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(conn.recv(), 10)
    await task
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
