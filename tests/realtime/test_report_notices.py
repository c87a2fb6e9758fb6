"""Moderators hear of a new report at once; nobody else's socket ever carries it."""

import asyncio
import json
from typing import Any

from tests.helpers import Api
from tests.realtime.conftest import Client


async def frames_within(client: Client, seconds: float) -> list[dict[str, Any]]:
    got = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            got.append(await client.recv(left))
        except TimeoutError:
            break
    return got


async def test_a_new_report_reaches_the_moderators_sockets_only(api: Api, ws: Any) -> None:
    amy, mo, ben, eve = (
        await api.register("amy"),
        await api.register("mo"),
        await api.register("ben"),
        await api.register("eve"),
    )
    gid, elsewhere = await api.group(amy), await api.group(eve, "Eve's own group")
    await api.add(amy, gid, mo, "moderator")
    await api.add(amy, gid, ben)
    await api.add(amy, gid, eve)
    await api.add(eve, elsewhere, mo, "moderator")  # a moderator of another group only
    said = await api.post(eve, gid, "something to report")
    owner_ws, mod_ws, reporter_ws, sender_ws = (
        await ws(amy),
        await ws(mo),
        await ws(ben),
        await ws(eve),
    )

    reason = "names a colleague's evaluation"
    report = await api.ok(ben, "POST", f"/messages/{said['id']}/reports", json={"reason": reason})
    for moderator in (owner_ws, mod_ws):
        notice = await moderator.recv_type("report.created")
        assert notice == {
            "type": "report.created",
            "group_id": gid,
            "report": {"id": report["id"], "message_id": said["id"]},
            "open_reports": 1,
        }
    await api.ok(
        mo, "POST", f"/groups/{gid}/reports/{report['id']}/resolve", json={"action": "dismiss"}
    )
    resolved = await owner_ws.recv_type("report.resolved")
    assert (resolved["report"]["id"], resolved["report"]["resolution"]) == (report["id"], "dismiss")
    assert resolved["open_reports"] == 0
    for member in (reporter_ws, sender_ws):
        frames = await frames_within(member, 0.7)
        assert [f["type"] for f in frames] == ["moderation.logged"], "only the public log line"
        assert frames[0]["data"]["details"] == {"action": "dismiss"}
        assert reason not in json.dumps(frames) and ben.id not in json.dumps(frames)
