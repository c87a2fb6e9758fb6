"""Servers killed (SIGKILL) at random moments of uploads, live memos and deletes lose nothing.

Twelve rounds (EARSHOT_CRASH_ROUNDS=N runs more) share one data directory (SQLite
and local files, as the embedded default keeps them). Each round starts a server,
which adopts what the last one left, sets a few operations going at once (uploads
of real speech in the formats phones send, a live push-to-talk memo streamed over
the websocket, deletes of earlier memos, sometimes of the memo being recorded) and
kills the server after a random short delay. The plan of every round comes from
one seeded random generator, so a failing run can be replayed; the moment each
operation is cut is up to the machine.

What must hold afterwards (DESIGN.md, principle 1): every memo answered 202 is
`ready` (the whole file was stored before the answer), every live memo that
started is `ready` or `failed`, nothing stays `live` or `processing`, and
`earshot fsck` finds no row pointing at a missing blob. A kill between two
writes may leak storage (blobs of an upload whose row never committed, of a
memo deleted a moment before, an original kept after conversion, a temporary
file, an empty directory); those are the only problems fsck may report, and
`--repair` removes them.
"""

import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from tests import audio_samples
from tests.process import ServerProcess
from tests.realtime.test_live import cut
from tests.services.test_fsck import problems_listed

SEED = 20261123
ROUNDS = int(os.environ.get("EARSHOT_CRASH_ROUNDS", "12"))
FORMATS = ("iphone_m4a", "chrome_webm", "mp3", "firefox_ogg", "android_3gp")
# What a kill between two writes may leave behind: storage leaked, nothing lost.
CRASH_LEAKS = {"orphan_blobs", "deleted_blobs", "leftover_original", "stray_temp", "empty_dirs"}
EARSHOT = Path(sys.executable).with_name("earshot")
SETTLE_S = 120
SERVER = {
    "transcode_workers": "1",
    "argon2_time_cost": "1",
    "argon2_memory_kib": "1024",
    "argon2_parallelism": "1",
    "uploads_per_minute": "10000",
}


@dataclass
class Ledger:
    """What the clients were told, which is what the server must honour."""

    uploads: dict[str, str] = field(default_factory=dict)  # answered 202: id -> client_id
    live: set[str] = field(default_factory=set)  # live.started received
    deleted: set[str] = field(default_factory=set)  # DELETE answered 204
    tried_to_delete: set[str] = field(default_factory=set)  # DELETE sent, whatever came back

    def known(self) -> set[str]:
        return set(self.uploads) | self.live


@dataclass
class Plan:
    """One round's operations and when the kill comes, all drawn from the seeded generator."""

    uploads: list[tuple[str, str, bytes]]  # client_id, file name, the file
    live_chunks: list[bytes]
    delete: str | None  # an earlier memo to delete
    delete_live_after: int | None  # delete the live memo after this many chunks
    kill_after_s: float


def _plan(rng: random.Random, n: int, ledger: Ledger, files: dict[str, Path]) -> Plan:
    recording = files["chrome_webm"].read_bytes()
    chunks = cut(recording, seed=rng.randrange(1_000_000))
    candidates = sorted(ledger.known() - ledger.deleted)
    return Plan(
        uploads=[
            (f"r{n}-u{i}", path.name, path.read_bytes())
            for i, path in enumerate(files[rng.choice(FORMATS)] for _ in range(rng.randint(1, 3)))
        ],
        live_chunks=chunks[: rng.randint(0, len(chunks))],
        delete=rng.choice(candidates) if candidates and rng.random() < 0.7 else None,
        delete_live_after=rng.randint(0, 8) if rng.random() < 0.25 else None,
        kill_after_s=rng.uniform(0.05, 1.5),
    )


async def _upload(
    http: httpx.AsyncClient, auth: dict[str, str], gid: str, upload: tuple[str, str, bytes],
    ledger: Ledger,
) -> None:  # fmt: skip
    client_id, name, recording = upload
    r = await http.post(
        f"/api/v1/groups/{gid}/voice",
        headers=auth,
        files={"file": (name, recording)},
        data={"client_id": client_id},
    )
    assert r.status_code == 202, r.text  # a killed server answers nothing, never an error
    ledger.uploads[r.json()["id"]] = client_id


async def _delete(http: httpx.AsyncClient, auth: dict[str, str], mid: str, ledger: Ledger) -> None:
    ledger.tried_to_delete.add(mid)
    r = await http.delete(f"/api/v1/messages/{mid}", headers=auth)
    assert r.status_code == 204, r.text
    ledger.deleted.add(mid)


async def _live(
    server: ServerProcess, http: httpx.AsyncClient, token: str, gid: str, plan: Plan,
    ledger: Ledger, n: int,
) -> None:  # fmt: skip
    url = server.url.replace("http", "ws", 1) + f"/api/v1/ws?token={token}"
    async with connect(url, compression=None) as conn:
        await conn.send(json.dumps({"type": "sync", "cursors": {}}))
        await conn.send(
            json.dumps({"type": "live.start", "group_id": gid, "mime": "audio/webm;codecs=opus",
                        "client_id": f"r{n}-live"})
        )  # fmt: skip
        while (frame := json.loads(await conn.recv()))["type"] != "live.started":
            pass
        mid = frame["message_id"]
        ledger.live.add(mid)
        for i, chunk in enumerate(plan.live_chunks):
            if i == plan.delete_live_after:
                await _delete(http, {"Authorization": f"Bearer {token}"}, mid, ledger)
            await conn.send(chunk)
            await asyncio.sleep(0.03)  # a recorder's timeslices, faster than real time
        await conn.send(json.dumps({"type": "live.end"}))
        while json.loads(await conn.recv())["type"] != "live.ended":
            pass


async def _round(
    server: ServerProcess, who: dict[str, str], plan: Plan, ledger: Ledger, n: int
) -> None:
    auth = {"Authorization": f"Bearer {who['token']}"}
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        operations = [_upload(http, auth, who["gid"], up, ledger) for up in plan.uploads]
        operations.append(_live(server, http, who["token"], who["gid"], plan, ledger, n))
        if plan.delete:
            operations.append(_delete(http, auth, plan.delete, ledger))
        tasks = [asyncio.create_task(op) for op in operations]
        await asyncio.sleep(plan.kill_after_s)
        server.kill()
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, AssertionError):
                raise result  # a wrong answer, as opposed to a cut connection


def _register(server: ServerProcess) -> dict[str, str]:
    with httpx.Client(base_url=server.url, timeout=20) as http:
        token = http.post(
            "/api/v1/auth/register",
            json={"handle": "amy", "display_name": "Amy", "password": "a long password"},
        ).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        gid = http.post("/api/v1/groups", headers=auth, json={"name": "Coaches"}).json()["id"]
    return {"token": token, "gid": gid}


async def _settled_messages(
    server: ServerProcess, who: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Every message of the group, once none is live or processing (a bounded wait)."""
    auth = {"Authorization": f"Bearer {who['token']}"}
    deadline = time.monotonic() + SETTLE_S
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        while True:
            messages: dict[str, dict[str, Any]] = {}
            after, more = 0, True
            while more:
                page = (
                    await http.get(
                        f"/api/v1/groups/{who['gid']}/messages",
                        headers=auth,
                        params={"after": after, "limit": 100},
                    )
                ).json()
                messages |= {m["id"]: m for m in page["messages"]}
                more = page["has_more"]
                after = max([after, *(m["seq"] for m in page["messages"])])
            busy = [
                m["id"]
                for m in messages.values()
                if m["voice"] and m["voice"]["status"] in ("live", "processing")
            ]
            if not busy:
                return messages
            assert time.monotonic() < deadline, f"still live or processing: {busy}"
            await asyncio.sleep(0.5)


def _fsck(data: Path, *args: str) -> tuple[int, str, dict[str, list[str]]]:
    """`earshot fsck` on the data directory: exit code, report, and problems by kind."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_")}
    env["EARSHOT_DATA_DIR"] = str(data)
    done = subprocess.run(
        [str(EARSHOT), "fsck", *args], env=env, capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stdout + done.stderr, problems_listed(done.stdout)


async def test_sigkills_during_uploads_live_memos_and_deletes_lose_nothing(
    tmp_path: Path, samples: Path
) -> None:
    data, log = tmp_path / "data", tmp_path / "server.log"
    files = {kind: audio_samples.client_file(samples, kind) for kind in FORMATS}
    rng = random.Random(SEED)
    ledger = Ledger()
    who: dict[str, str] = {}
    for n in range(ROUNDS):
        server = ServerProcess(data, log=log, **SERVER).start()
        with contextlib.ExitStack() as cleanup:
            cleanup.callback(server.stop)
            if not who:
                who = _register(server)
            await _round(server, who, _plan(rng, n, ledger, files), ledger, n)

    server = ServerProcess(data, log=log, **(SERVER | {"transcode_workers": "2"})).start()
    try:
        messages = await _settled_messages(server, who)
    finally:
        server.stop()

    assert ledger.uploads and ledger.live and ledger.deleted, "the rounds exercised every path"
    for mid in ledger.uploads:
        memo = messages.get(mid)
        assert memo is not None, f"upload {mid} was answered 202 and then lost"
        if memo["deleted"]:
            assert mid in ledger.tried_to_delete
        else:
            assert memo["voice"]["status"] == "ready", memo
    for mid in ledger.live:
        memo = messages.get(mid)
        assert memo is not None, f"live memo {mid} started and then vanished"
        assert memo["deleted"] or memo["voice"]["status"] in ("ready", "failed"), memo
    for mid in ledger.deleted:
        assert messages[mid]["deleted"], f"{mid} was deleted (204) and came back"

    code, report, problems = _fsck(data, "--grace-s", "0")  # no server runs: nothing uploads
    print(
        f"{len(ledger.uploads)} uploads answered 202, {len(ledger.live)} live memos started, "
        f"{len(ledger.deleted)} deletes answered 204 of {len(ledger.tried_to_delete)} tried\n"
        f"{report}"
    )
    assert set(problems) <= CRASH_LEAKS, report
    assert not set(problems.get("orphan_blobs", [])) & {f"voice/{m}/" for m in ledger.known()}
    assert {p.split("/")[1] for p in problems.get("deleted_blobs", [])} <= ledger.tried_to_delete
    assert code == (1 if problems else 0), report

    code, report, _ = _fsck(data, "--grace-s", "0", "--repair")
    assert code == 0, report
    code, report, problems = _fsck(data, "--grace-s", "0")
    assert (code, problems) == (0, {}), report
    blobs = data / "blobs" / "voice"
    for mid in ledger.deleted | {m for m, memo in messages.items() if memo["deleted"]}:
        left = sorted(str(p.relative_to(blobs)) for p in (blobs / mid).rglob("*"))
        assert not (blobs / mid).exists(), f"the deleted memo {mid} still has {left}"
    for mid, memo in messages.items():
        if memo["voice"] and memo["voice"]["status"] == "ready":
            assert sorted(p.name for p in (blobs / mid).iterdir()) in (
                ["audio.ogg"],
                ["audio.mp3", "audio.ogg"],
            ), mid
