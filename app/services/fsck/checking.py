"""Checking: compare every voice memo's row with its blobs, and every group's event log
with its seq; each problem is confirmed by a second look (see `app.services.fsck`)."""

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select

from app.kinds import UNFINISHED, VoiceStatus
from app.models import Event, Group, Message, utcnow
from app.services import leases
from app.services.context import Runtime
from app.services.fsck.findings import (
    ADOPTABLE,
    AUDIO_SIZE,
    DELETED_BLOBS,
    DELETED_RECENTLY,
    EMPTY_DIRS,
    EVENT_GAP,
    GRACE_S,
    IN_PROGRESS,
    LEFTOVER_ORIGINAL,
    MISSING_AUDIO,
    MISSING_ORIGINAL,
    ORPHAN_BLOBS,
    RECENT_BLOBS,
    STRAY_TEMP,
    UNKNOWN_BLOBS,
    Finding,
    Report,
    VoiceRow,
)
from app.storage.blobs import StoredBlob
from app.storage.keys import voice_prefix

VOICE_DIR = "voice/"
# Blobs no message owns: people's and groups' exports (app.services.exports) and
# avatars (app.services.avatars).
OTHER_BLOB_DIRS = ("exports/", "group-exports/", "avatars/")

_MEMO_BLOB = re.compile(r"voice/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/.+")


def by_memo(stored: Iterable[StoredBlob]) -> tuple[dict[str, list[StoredBlob]], list[StoredBlob]]:
    """The blobs grouped by the message id of their prefix, and those of no memo prefix."""
    memos: dict[str, list[StoredBlob]] = defaultdict(list)
    unknown = []
    for blob in stored:
        if match := _MEMO_BLOB.fullmatch(blob.key):
            memos[match.group(1)].append(blob)
        else:
            unknown.append(blob)
    return memos, unknown


# Reading the database.


async def voice_rows(rt: Runtime, ids: Iterable[str] | None = None) -> dict[str, VoiceRow]:
    """Voice memos by id (all of them, or those of `ids`)."""
    query = select(Message.id, Message.voice_status, Message.deleted_at, Message.size_bytes).where(
        Message.kind == "voice"
    )
    if ids is not None:
        query = query.where(Message.id.in_(list(ids)))
    async with rt.sessions() as db:
        rows = (await db.execute(query)).all()
    return {
        mid: VoiceRow(mid, status, deleted is not None, size) for mid, status, deleted, size in rows
    }


async def event_gaps(rt: Runtime, group_id: str | None = None) -> list[Finding]:
    """Groups whose stored events are not exactly seq 1..last_seq."""
    query = (
        select(Group.id, Group.last_seq, func.count(Event.seq), func.max(Event.seq))
        .outerjoin(Event, Event.group_id == Group.id)
        .group_by(Group.id, Group.last_seq)
    )
    if group_id is not None:
        query = query.where(Group.id == group_id)
    async with rt.sessions() as db:
        rows = (await db.execute(query)).all()
    return [
        Finding(
            EVENT_GAP,
            gid,
            f"last seq {last_seq}, {count} events stored, the highest {highest or 0}",
            group=gid,
        )
        for gid, last_seq, count, highest in rows
        if count != last_seq or (highest or 0) != last_seq
    ]


# Judging one memo.


def classify_memo(
    mid: str,
    row: VoiceRow | None,
    blobs: list[StoredBlob],
    *,
    adoptable: bool,
    now: datetime,
    grace_s: float,
) -> list[Finding]:
    """What is wrong (or worth knowing) about one memo's row and its blobs."""
    if row is None:
        return _unreferenced(mid, blobs, now, grace_s)
    prefix = voice_prefix(mid)
    if row.deleted:
        if not blobs:
            return []
        if _young(blobs, now, grace_s):
            return [Finding(DELETED_RECENTLY, prefix, _describe(blobs), memo=mid)]
        return [Finding(DELETED_BLOBS, prefix, _describe(blobs), memo=mid, fix="delete_prefix")]
    named = {b.key.removeprefix(prefix): b for b in blobs if not b.temp}
    found = _by_status(mid, row, named.get("original"), named.get("audio.ogg"), adoptable)
    for temp in blobs:
        if temp.temp and _age_s(temp, now) >= grace_s:
            found.append(
                Finding(STRAY_TEMP, temp.key, _describe([temp]), memo=mid, fix="delete_temp")
            )
    return found


def _by_status(
    mid: str,
    row: VoiceRow,
    original: StoredBlob | None,
    audio: StoredBlob | None,
    adoptable: bool,
) -> list[Finding]:
    if row.status == VoiceStatus.READY:
        if audio is None and original is not None:
            detail = "its original is kept: --repair converts it again"
            return [Finding(MISSING_AUDIO, mid, detail, memo=mid, fix="requeue")]
        if audio is None:
            detail = "no original either: --repair marks it failed"
            return [Finding(MISSING_AUDIO, mid, detail, memo=mid, fix="mark_lost")]
        if row.size_bytes is not None and audio.size != row.size_bytes:
            detail = f"the audio is {audio.size} bytes, the database says {row.size_bytes}"
            return [Finding(AUDIO_SIZE, mid, detail, memo=mid)]
        if original is not None:
            detail = f"{original.size} bytes"
            return [
                Finding(LEFTOVER_ORIGINAL, original.key, detail, memo=mid, fix="delete_original")
            ]
        return []
    if row.status not in UNFINISHED:
        return []  # failed: its original, if any, is kept on purpose
    found = [Finding(ADOPTABLE if adoptable else IN_PROGRESS, mid, row.status, memo=mid)]
    if original is None:
        if adoptable:
            detail = f"{row.status}, and nobody holds it: --repair marks it failed"
        else:
            detail = f"{row.status}, held by a running server, which decides what becomes of it"
        fix = "mark_unrecorded" if adoptable else None
        found.append(Finding(MISSING_ORIGINAL, mid, detail, memo=mid, fix=fix))
    return found


def _unreferenced(
    mid: str, blobs: list[StoredBlob], now: datetime, grace_s: float
) -> list[Finding]:
    """Blobs whose prefix names no voice memo: orphans once the grace period is over."""
    prefix = voice_prefix(mid)
    if _young(blobs, now, grace_s):
        return [Finding(RECENT_BLOBS, prefix, _describe(blobs), memo=mid)]
    return [Finding(ORPHAN_BLOBS, prefix, _describe(blobs), memo=mid, fix="delete_prefix")]


def _young(blobs: list[StoredBlob], now: datetime, grace_s: float) -> bool:
    """Was any of the blobs written within the grace period (or can the store not say)?"""
    return grace_s > 0 and any(_age_s(b, now) < grace_s for b in blobs)


def _age_s(blob: StoredBlob, now: datetime) -> float:
    if blob.modified is None:
        return 0.0  # unknown: as young as can be
    return max(0.0, (now - blob.modified).total_seconds())


def _describe(blobs: list[StoredBlob]) -> str:
    names = ", ".join(b.key.rpartition("/")[2] for b in blobs)
    newest = max((b.modified for b in blobs if b.modified), default=None)
    when = f", last written {newest:%Y-%m-%d %H:%M:%S}Z" if newest else ""
    return f"{len(blobs)} file(s), {sum(b.size for b in blobs)} bytes ({names}){when}"


# The whole check.


async def check(rt: Runtime, grace_s: float = GRACE_S) -> Report:
    """Compare every voice memo with the store; each problem is confirmed by a second look."""
    rows = await voice_rows(rt)  # the database first: see the module docstring
    stored = await rt.blobs.inventory()
    adoptable = {orphan.message_id for orphan in await leases.orphans(rt)}
    memos, unknown = by_memo(stored)
    now = utcnow()
    findings = [
        Finding(UNKNOWN_BLOBS, b.key, _describe([b]))
        for b in unknown
        if not b.key.startswith(OTHER_BLOB_DIRS)
    ]
    expected = {mid for mid, row in rows.items() if not row.deleted}
    for mid in sorted(set(memos) | expected):
        findings += classify_memo(
            mid, rows.get(mid), memos.get(mid, []), adoptable=mid in adoptable, now=now,
            grace_s=grace_s,
        )  # fmt: skip
    findings += [
        Finding(
            EMPTY_DIRS, d.key, f"last changed {d.modified:%Y-%m-%d %H:%M:%S}Z", fix="remove_dir"
        )
        for d in await rt.blobs.empty_dirs(VOICE_DIR)
        if _age_s(d, now) >= grace_s  # a writer makes the directory a moment before the file
    ]
    findings += await event_gaps(rt)
    return Report(
        await _confirmed(rt, findings, adoptable, grace_s),
        memos=len(rows),
        prefixes=len(memos),
        grace_s=grace_s,
    )


async def _confirmed(
    rt: Runtime, findings: list[Finding], adoptable: set[str], grace_s: float
) -> list[Finding]:
    """The findings, with each problem kept only if a fresh look at its memo or group finds it."""
    kept = []
    for finding in findings:
        if not finding.kind.problem:
            kept.append(finding)
            continue
        if finding.memo is not None:
            again = await _look_again(rt, finding.memo, adoptable, grace_s)
        elif finding.group is not None:
            again = await event_gaps(rt, finding.group)
        else:
            again = [finding]
        kept += [f for f in again if f.identity == finding.identity]
    return kept


async def _look_again(rt: Runtime, mid: str, adoptable: set[str], grace_s: float) -> list[Finding]:
    """The memo's findings now; none if its row changed while its blobs were listed."""
    row = (await voice_rows(rt, [mid])).get(mid)
    blobs = await rt.blobs.inventory(voice_prefix(mid))
    if (await voice_rows(rt, [mid])).get(mid) != row:
        return []
    return classify_memo(mid, row, blobs, adoptable=mid in adoptable, now=utcnow(), grace_s=grace_s)
