"""A group as two coaches have it after a few weeks, made through the HTTP API: for the
browser tests and bench/web.py. Long names on purpose (they must ellipsize on a phone)."""

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from tests import audio_samples

PASSWORD = "correct horse battery"
LONG_GROUP = "Instructional coaches of the north district elementary schools, spring cohort two"
LONG_NAME = "Amelia Josephine Rivera-Castellanos de la Fuente"


@dataclass
class Coach:
    handle: str
    name: str
    token: str
    id: str


@dataclass
class Seeded:
    amy: Coach  # the owner, reading
    ben: Coach  # the member who sent the memos
    group_id: str
    memo_ids: list[str]  # ben's memos, oldest first (unheard by amy)


async def register(api: httpx.AsyncClient, handle: str, name: str) -> Coach:
    r = await api.post(
        "/auth/register", json={"handle": handle, "display_name": name, "password": PASSWORD}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return Coach(handle, name, body["token"], body["user"]["id"])


def as_(coach: Coach) -> dict[str, str]:
    return {"Authorization": f"Bearer {coach.token}"}


async def post_text(
    api: httpx.AsyncClient, who: Coach, gid: str, text: str, **extra: Any
) -> dict[str, Any]:
    r = await api.post(
        f"/groups/{gid}/messages",
        headers=as_(who),
        json={"text": text, "client_id": uuid4().hex, **extra},
    )
    assert r.status_code == 201, r.text
    return r.json()


async def upload(api: httpx.AsyncClient, who: Coach, gid: str, memo: bytes) -> dict[str, Any]:
    r = await api.post(
        f"/groups/{gid}/voice",
        headers=as_(who),
        files={"file": ("memo.mp3", memo)},
        data={"client_id": uuid4().hex},
    )
    assert r.status_code == 202, r.text
    return r.json()


async def statuses(api: httpx.AsyncClient, who: Coach, gid: str) -> set[str]:
    found: set[str] = set()
    before = ""
    while True:
        page = (await api.get(f"/groups/{gid}/messages?limit=100{before}", headers=as_(who))).json()
        found |= {m["voice"]["status"] for m in page["messages"] if m["kind"] == "voice"}
        if not page["has_more"]:
            return found
        before = f"&before={page['messages'][0]['seq']}"


async def seed_group(base_url: str, samples: Path, messages: int = 200, memos: int = 60) -> Seeded:
    """`messages` in one group, `memos` of them voice memos by Ben, evenly spread and
    all unheard by Amy; waits until every memo is ready."""
    memo = audio_samples.tone_mp3(samples, 1).read_bytes()
    async with httpx.AsyncClient(base_url=f"{base_url}/api/v1", timeout=60) as api:
        amy = await register(api, "amy", LONG_NAME)
        ben = await register(api, "ben", "Benjamin Okonkwo-Hartley the Third, literacy coach")
        await api.patch("/me", headers=as_(ben), json={"who_can_add_me": "anyone"})
        gid = (await api.post("/groups", headers=as_(amy), json={"name": LONG_GROUP})).json()["id"]
        r = await api.post(f"/groups/{gid}/members", headers=as_(amy), json={"handle": "ben"})
        assert r.status_code == 201, r.text
        at = {round((i + 1) * messages / memos) - 1 for i in range(memos)}  # the newest too
        memo_ids: list[str] = []
        for n in range(messages):
            if n in at:
                memo_ids.append((await upload(api, ben, gid, memo))["id"])
            else:
                who = amy if n % 3 == 0 else ben
                await post_text(
                    api,
                    who,
                    gid,
                    f"Note {n}: the observation rubric, row {n % 7}, "
                    "and what we saw in the fractions lesson.",
                )
        for _ in range(600):  # every memo converted
            if await statuses(api, amy, gid) <= {"ready"}:
                break
            await asyncio.sleep(0.25)
        else:
            raise AssertionError(f"memos not ready: {await statuses(api, amy, gid)}")
        return Seeded(amy, ben, gid, memo_ids)


async def pair_with_a_memo(
    api: httpx.AsyncClient, memo: bytes, *, sender: str = "ben"
) -> tuple[Coach, Coach, str, str]:
    """Amy Coach's group "Math" with Ben Coach in it, and a memo by `sender` ("amy" or
    "ben"), ready: (amy, ben, group id, memo id)."""
    amy = await register(api, "amy", "Amy Coach")
    ben = await register(api, "ben", "Ben Coach")
    await api.patch("/me", headers=as_(ben), json={"who_can_add_me": "anyone"})
    gid = (await api.post("/groups", headers=as_(amy), json={"name": "Math"})).json()["id"]
    r = await api.post(f"/groups/{gid}/members", headers=as_(amy), json={"handle": "ben"})
    assert r.status_code == 201, r.text
    mid = (await upload(api, amy if sender == "amy" else ben, gid, memo))["id"]
    for _ in range(400):
        if await statuses(api, amy, gid) == {"ready"}:
            break
        await asyncio.sleep(0.25)
    return amy, ben, gid, mid
