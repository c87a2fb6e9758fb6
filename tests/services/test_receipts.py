"""Who has listened: receipts, listen counts and each member's unheard count."""

from pathlib import Path
from typing import Any

import pytest

from tests import audio_samples
from tests.helpers import Api, Person, assert_error
from tests.services.helpers import processed, upload


@pytest.fixture
async def trio(api: Api, app: Any, samples: Path) -> tuple[Person, Person, Person, str, str]:
    amy, ben, cy = await api.register("amy"), await api.register("ben"), await api.register("cy")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    await api.add(amy, gid, cy)
    r = await upload(api, amy, gid, audio_samples.client_file(samples, "mp3"))
    await processed(app, api, amy, r.json()["id"])
    return amy, ben, cy, gid, r.json()["id"]


async def test_listening_is_recorded_once_with_the_first_time(api: Api, trio: Any) -> None:
    _, ben, _, gid, mid = trio
    first = await api.ok(ben, "POST", f"/messages/{mid}/listened", json={"position_ms": 1200})
    assert first["message_id"] == mid and first["user_id"] == ben.id
    again = await api.ok(ben, "POST", f"/messages/{mid}/listened", json={})
    assert again["listened_at"] == first["listened_at"]
    listened = [e for e in await api.events(ben, gid) if e["type"] == "receipt.listened"]
    assert [e["data"] for e in listened] == [first]


async def test_sender_sees_who_listened(api: Api, trio: Any) -> None:
    amy, ben, cy, _, mid = trio
    await api.ok(cy, "POST", f"/messages/{mid}/listened")
    await api.ok(ben, "POST", f"/messages/{mid}/listened")
    receipts = (await api.ok(amy, "GET", f"/messages/{mid}/receipts"))["receipts"]
    assert [r["user"]["id"] for r in receipts] == [cy.id, ben.id]
    memo = await api.ok(amy, "GET", f"/messages/{mid}")
    assert memo["voice"]["listen_count"] == 2
    assert memo["voice"]["listened_by_me"] is False
    assert (await api.ok(ben, "GET", f"/messages/{mid}"))["voice"]["listened_by_me"] is True


async def test_unheard_count_is_per_member_and_ignores_own_memos(api: Api, trio: Any) -> None:
    amy, ben, cy, gid, mid = trio
    assert (await api.ok(amy, "GET", f"/groups/{gid}"))["unheard_count"] == 0
    assert (await api.ok(ben, "GET", f"/groups/{gid}"))["unheard_count"] == 1
    await api.ok(ben, "POST", f"/messages/{mid}/listened")
    assert (await api.ok(ben, "GET", f"/groups/{gid}"))["unheard_count"] == 0
    assert (await api.ok(cy, "GET", "/groups"))["groups"][0]["unheard_count"] == 1
    await api.ok(amy, "DELETE", f"/messages/{mid}")
    assert (await api.ok(cy, "GET", f"/groups/{gid}"))["unheard_count"] == 0


async def test_outsiders_cannot_listen_or_see_receipts(api: Api, trio: Any) -> None:
    _, _, _, _, mid = trio
    eve = await api.register("eve")
    assert_error(await api.call(eve, "POST", f"/messages/{mid}/listened"), 404, "message_not_found")
    assert_error(await api.call(eve, "GET", f"/messages/{mid}/receipts"), 404)


async def test_text_messages_cannot_be_listened_to(api: Api, trio: Any) -> None:
    amy, ben, _, gid, _ = trio
    text = await api.post(amy, gid, "read me")
    assert_error(await api.call(ben, "POST", f"/messages/{text['id']}/listened"), 422, "not_voice")
