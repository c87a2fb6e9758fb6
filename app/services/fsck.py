"""`earshot fsck`: does the database agree with the blob store, and what can safely be put right.

What must hold follows from DESIGN.md's first principle (nothing a user sent is
lost; no blob without a row, no row pointing to a missing blob) and from the
order in which the voice pipeline writes:

- a memo's blobs live under `voice/<message id>/` (`app.storage.keys`);
- an upload's original is stored just *before* its row commits (and a live
  memo's empty original just before its row commits), so a running server has,
  for a moment, blobs without a row; a prefix without a row is called an orphan
  only when its newest blob is older than the grace period;
- a `ready` memo has its `audio.ogg`, of the size recorded in the row; its
  original is deleted just after `ready` commits (a crash in between leaves it);
- a `live` or `processing` memo has its original; one that no running server
  holds is adopted by the next server's sweep, so it is a note, not a problem;
- a deleted memo (a tombstone) has no blobs: they are removed just after the
  tombstone commits (a crash in between leaves them), and a conversion or live
  recording still running removes what it writes after the delete, so only
  blobs older than the grace period count;
- each group's events hold every seq from 1 to the group's `last_seq`.

Checking reads the database first and the store second, so whatever a row
promised was written before the store is listed. Every problem is then looked at
again (its row, its prefix, its row once more) and kept only if it is still there
and the row held still meanwhile, so a memo that moved on is not reported. Each
repair re-checks its own condition just before acting, and none deletes a row.
"""

import asyncio
import os
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db import create_engine, read_session_factory, session_factory
from app.models import Event, Group, Message, utcnow
from app.realtime.broker import open_broker
from app.services import leases, views
from app.services.context import Ctx, Runtime
from app.storage.blobs import BlobStore, LocalBlobStore, open_blob_store
from app.storage.ffmpeg import Slots
from app.storage.keys import audio_key, original_key, voice_prefix

GRACE_S = 600.0  # no upload takes this long between storing its original and committing its row
SHOWN_PER_KIND = 20  # findings listed per kind; the rest are counted

LOST_AUDIO = "The audio of this memo was lost from storage."
LOST_ORIGINAL = "The original recording is missing."  # as the server says when converting


@dataclass(frozen=True)
class Kind:
    name: str
    problem: bool  # False: reported for information, never changes the exit code
    about: str


MISSING_AUDIO = Kind("missing_audio", True, "ready memos whose audio is missing")
AUDIO_SIZE = Kind(
    "audio_size_mismatch", True, "ready memos whose audio is not the size the database recorded"
)
MISSING_ORIGINAL = Kind(
    "missing_original", True, "live or processing memos whose recording is missing"
)
DELETED_BLOBS = Kind("deleted_blobs", True, "blobs of deleted memos, which should be gone")
ORPHAN_BLOBS = Kind("orphan_blobs", True, "blobs of no memo, older than the grace period")
LEFTOVER_ORIGINAL = Kind(
    "leftover_original", True, "originals of ready memos, left behind after conversion"
)
STRAY_TEMP = Kind("stray_temp", True, "unfinished temporary files of interrupted writes")
EMPTY_DIRS = Kind(
    "empty_dirs", True, "empty directories of the local store, left by interrupted writes"
)
EVENT_GAP = Kind("event_gap", True, "groups whose event log does not hold every seq")
ADOPTABLE = Kind(
    "adoptable",
    False,
    "live or processing memos nobody works on: a server ends or converts them at start"
    " and at every sweep",
)
DELETED_RECENTLY = Kind(
    "deleted_recently",
    False,
    "blobs of deleted memos written within the grace period: a converter or recorder"
    " may still be finishing, and removes them",
)
IN_PROGRESS = Kind("in_progress", False, "live or processing memos a running server holds")
RECENT_BLOBS = Kind(
    "recent_blobs",
    False,
    "blobs of no memo yet, younger than the grace period: an upload may still be committing",
)
UNKNOWN_BLOBS = Kind("unknown_blobs", False, "blobs outside voice/<message id>/, never touched")

KINDS = (
    MISSING_AUDIO,
    AUDIO_SIZE,
    MISSING_ORIGINAL,
    DELETED_BLOBS,
    ORPHAN_BLOBS,
    LEFTOVER_ORIGINAL,
    STRAY_TEMP,
    EMPTY_DIRS,
    EVENT_GAP,
    ADOPTABLE,
    IN_PROGRESS,
    DELETED_RECENTLY,
    RECENT_BLOBS,
    UNKNOWN_BLOBS,
)


@dataclass(frozen=True)
class StoredBlob:
    """One blob as listed, or (local store) an unfinished temporary file."""

    key: str  # the blob key, or the temporary file's path relative to the store
    size: int
    modified: datetime | None  # the newest write; None when the store cannot say
    temp: bool = False


@dataclass(frozen=True)
class VoiceRow:
    id: str
    status: str | None
    deleted: bool
    size_bytes: int | None


@dataclass
class Finding:
    kind: Kind
    subject: str  # a message id, a blob key or prefix, or a group id
    detail: str
    memo: str | None = None  # the message id the finding is about, if any
    group: str | None = None  # the group id (event gaps)
    fix: str | None = None  # what --repair does (a key of FIXES); None: it cannot
    outcome: str | None = None  # what --repair did

    @property
    def identity(self) -> tuple[str, str]:
        return self.kind.name, self.subject


@dataclass
class Report:
    findings: list[Finding]
    memos: int = 0  # voice memos in the database
    prefixes: int = 0  # memo prefixes in the store
    grace_s: float = GRACE_S
    problems: list[Finding] = field(init=False)

    def __post_init__(self) -> None:
        self.problems = [f for f in self.findings if f.kind.problem]

    @property
    def clean(self) -> bool:
        return not self.problems

    def of(self, kind: Kind) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]


# Reading the store.


async def scan_store(blobs: BlobStore, prefix: str = "") -> list[StoredBlob]:
    """Every blob under `prefix` with its size and age (and, locally, unfinished temp files)."""
    if isinstance(blobs, LocalBlobStore):
        return await asyncio.to_thread(_scan_local, blobs.root, prefix)
    if type(blobs).__module__ == "app.storage.s3":
        return await asyncio.to_thread(_scan_s3, blobs, prefix)
    return [
        StoredBlob(key, await blobs.size(key) or 0, None) for key in await blobs.list_keys(prefix)
    ]


def _scan_local(root: Path, prefix: str) -> list[StoredBlob]:
    base = root / prefix.rpartition("/")[0]
    found = []
    for dirpath, _, filenames in os.walk(base):
        for name in filenames:
            path = Path(dirpath, name)
            key = path.relative_to(root).as_posix()
            if not key.startswith(prefix):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed while we looked
                continue
            modified = datetime.fromtimestamp(stat.st_mtime, UTC)
            found.append(StoredBlob(key, stat.st_size, modified, temp=_is_temp(name)))
    return sorted(found, key=lambda b: b.key)


def empty_dirs(blobs: BlobStore) -> list[StoredBlob]:
    """Empty directories under `voice/` of a local store (an S3 store has no directories)."""
    if not isinstance(blobs, LocalBlobStore):
        return []
    base = blobs.root / "voice"
    found = []
    for dirpath, dirnames, filenames in os.walk(base):
        path = Path(dirpath)
        if path == base or dirnames or filenames:
            continue
        try:
            modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except FileNotFoundError:
            continue
        found.append(StoredBlob(f"{path.relative_to(blobs.root).as_posix()}/", 0, modified))
    return found


def _is_temp(name: str) -> bool:
    """A file LocalBlobStore writes before renaming it into place (`.NAME.HEX.tmp`)."""
    return name.startswith(".") and name.endswith(".tmp")


def _scan_s3(store: Any, prefix: str) -> list[StoredBlob]:
    """Objects of the S3 layout (see `app.storage.s3`): a blob is its object plus its parts."""
    from app.storage.s3 import PARTS_PREFIX

    sizes: dict[str, int] = defaultdict(int)
    newest: dict[str, datetime] = {}

    def add(key: str, obj: dict[str, Any]) -> None:
        sizes[key] += obj["Size"]
        newest[key] = max(newest.get(key, obj["LastModified"]), obj["LastModified"])

    for obj in _s3_objects(store, prefix):
        if not obj["Key"].startswith(PARTS_PREFIX):
            add(obj["Key"], obj)
    for obj in _s3_objects(store, PARTS_PREFIX + prefix):
        key = obj["Key"][len(PARTS_PREFIX) :].rpartition("/")[0]
        add(key if key.startswith(prefix) else obj["Key"], obj)
    return [StoredBlob(key, sizes[key], newest[key]) for key in sorted(sizes)]


def _s3_objects(store: Any, prefix: str) -> Iterable[dict[str, Any]]:
    pages = store.client.get_paginator("list_objects_v2").paginate(
        Bucket=store.bucket, Prefix=prefix
    )
    for page in pages:
        yield from page.get("Contents", [])


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
    if row.status == "ready":
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
    if row.status not in ("live", "processing"):
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
    stored = await scan_store(rt.blobs)
    adoptable = {orphan.message_id for orphan in await leases.orphans(rt)}
    memos, unknown = by_memo(stored)
    now = utcnow()
    findings = [Finding(UNKNOWN_BLOBS, b.key, _describe([b])) for b in unknown]
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
        for d in await asyncio.to_thread(empty_dirs, rt.blobs)
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
    blobs = await scan_store(rt.blobs, voice_prefix(mid))
    if (await voice_rows(rt, [mid])).get(mid) != row:
        return []
    return classify_memo(mid, row, blobs, adoptable=mid in adoptable, now=utcnow(), grace_s=grace_s)


# Repairs: each re-checks its condition, and none deletes a row.


async def repair(rt: Runtime, report: Report) -> None:
    """Apply the fix of every problem that has one; each finding's `outcome` says what happened."""
    for finding in report.problems:
        if finding.fix is not None:
            finding.outcome = await FIXES[finding.fix](rt, finding)


async def _delete_prefix(rt: Runtime, finding: Finding) -> str:
    """Orphans (no voice row, even now) and blobs of tombstones (which never come back)."""
    assert finding.memo is not None
    row = (await voice_rows(rt, [finding.memo])).get(finding.memo)
    if row is not None and not row.deleted:
        return "skipped: its memo exists now"
    await rt.blobs.delete_prefix(voice_prefix(finding.memo))
    return "deleted"


async def _delete_original(rt: Runtime, finding: Finding) -> str:
    """A ready memo's original, only while its audio is stored at the recorded size."""
    assert finding.memo is not None
    row = (await voice_rows(rt, [finding.memo])).get(finding.memo)
    size = await rt.blobs.size(audio_key(finding.memo))
    if row is None or row.deleted or row.status != "ready" or size is None:
        return "skipped: the memo changed since the check"
    if row.size_bytes is not None and size != row.size_bytes:
        return "skipped: the memo changed since the check"
    await rt.blobs.delete(original_key(finding.memo))
    return "deleted"


async def _delete_temp(rt: Runtime, finding: Finding) -> str:
    if not isinstance(rt.blobs, LocalBlobStore):
        return "skipped: only local stores have temporary files"
    path = rt.blobs.root / finding.subject
    await asyncio.to_thread(path.unlink, True)
    return "deleted"


async def _remove_dir(rt: Runtime, finding: Finding) -> str:
    """An empty directory, and the parents it leaves empty (below `voice/`)."""
    assert isinstance(rt.blobs, LocalBlobStore)
    root = rt.blobs.root
    path = root / finding.subject

    def remove() -> str:
        try:
            path.rmdir()  # refuses, atomically, if a writer put something in meanwhile
        except FileNotFoundError:
            return "skipped: already gone"
        except OSError:
            return "skipped: no longer empty"
        parent = path.parent
        while parent != root / "voice" and root in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
        return "removed"

    return await asyncio.to_thread(remove)


async def _requeue(rt: Runtime, finding: Finding) -> str:
    """A ready memo whose audio is gone but whose original is kept goes back to `processing`.

    The recording is all there, so converting it again loses nothing; with no lease,
    the first server to sweep (or the next to start) converts it as after a crash.
    """
    assert finding.memo is not None
    mid = finding.memo
    if await rt.blobs.size(original_key(mid)) is None:
        return await _mark_lost(rt, finding)

    def expected(message: Message) -> bool:
        return message.voice_status == "ready"

    def requeue(message: Message) -> None:
        message.voice_status = "processing"
        message.voice_error = None
        message.lease_owner = message.lease_until = None

    if await _gone(rt, audio_key(mid)) and await _update_memo(rt, mid, expected, requeue):
        return "re-queued: a server converts it again"
    return "skipped: the memo changed since the check"


async def _mark_lost(rt: Runtime, finding: Finding) -> str:
    """A ready memo with neither audio nor original: nothing to play or rebuild, so `failed`."""
    assert finding.memo is not None

    def expected(message: Message) -> bool:
        return message.voice_status == "ready"

    def fail(message: Message) -> None:
        message.voice_status = "failed"
        message.voice_error = LOST_AUDIO

    if await _gone(rt, audio_key(finding.memo)) and await _update_memo(
        rt, finding.memo, expected, fail
    ):
        return "marked failed"
    return "skipped: the memo changed since the check"


async def _mark_unrecorded(rt: Runtime, finding: Finding) -> str:
    """A live or processing memo nobody holds, with no recording: `failed`, as its converter would.

    The lease is taken first (as a server adopting it would), so no server starts on
    it meanwhile; the change is made only while the lease is still ours.
    """
    assert finding.memo is not None
    mid = finding.memo
    orphan = next((o for o in await leases.orphans(rt) if o.message_id == mid), None)
    if orphan is None or not await leases.claim(rt, mid, orphan.status, orphan.owner):
        return "skipped: a server holds it now"

    def expected(message: Message) -> bool:
        return message.lease_owner == rt.process_id and message.voice_status == orphan.status

    def fail(message: Message) -> None:
        message.voice_status = "failed"
        message.voice_error = LOST_ORIGINAL
        message.lease_owner = message.lease_until = None

    if await _gone(rt, original_key(mid)) and await _update_memo(rt, mid, expected, fail):
        return "marked failed"
    await leases.renew(rt, mid)  # let it run out at its usual time
    return "skipped: the memo changed since the check"


FIXES: dict[str, Callable[[Runtime, Finding], Awaitable[str]]] = {
    "delete_prefix": _delete_prefix,
    "delete_original": _delete_original,
    "delete_temp": _delete_temp,
    "remove_dir": _remove_dir,
    "requeue": _requeue,
    "mark_lost": _mark_lost,
    "mark_unrecorded": _mark_unrecorded,
}


async def _gone(rt: Runtime, key: str) -> bool:
    return await rt.blobs.size(key) is None


async def _update_memo(
    rt: Runtime,
    mid: str,
    expected: Callable[[Message], bool],
    change: Callable[[Message], None],
) -> bool:
    """Change a live memo under its group's lock, if still as `expected`; emit `message.updated`."""
    async with rt.sessions() as db:
        ctx = Ctx(db=db, rt=rt)
        group_id = await db.scalar(select(Message.group_id).where(Message.id == mid))
        if group_id is None:
            return False
        await db.execute(select(Group.id).where(Group.id == group_id).with_for_update())
        message = await db.get(Message, mid, populate_existing=True)
        if message is None or message.deleted_at is not None or not expected(message):
            return False
        change(message)
        await db.flush()
        await ctx.emit(group_id, "message.updated", await views.message_payload(ctx, message))
        await ctx.commit()
    return True


# Running it.


def _require_database(settings: Settings) -> None:
    """Refuse a SQLite file that does not exist, rather than make an empty one and check it."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        raise FileNotFoundError(
            f"there is no database at {url.database}: set EARSHOT_DATA_DIR or EARSHOT_DATABASE_URL"
        )


@asynccontextmanager
async def runtime(settings: Settings, *, broker: bool) -> AsyncIterator[Runtime]:
    """The database, store (and, to announce repairs, broker) that the servers use."""
    _require_database(settings)
    engine = create_engine(settings.resolved_database_url)
    blobs = open_blob_store(settings.storage_url, settings.data_dir)
    events = open_broker(settings.redis_url if broker else None)
    try:
        await events.connect()
        yield Runtime(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            read_sessions=read_session_factory(engine),
            broker=events,
            blobs=blobs,
            transcoder=Slots(1),
        )
    finally:
        await events.disconnect()
        await engine.dispose()
        blobs.close()


async def run(
    settings: Settings,
    *,
    repair_too: bool = False,
    grace_s: float = GRACE_S,
    say: Callable[[str], None] = print,
) -> int:
    """Check (and repair); print the report. 0: no problem is left; 1: some are."""
    async with runtime(settings, broker=repair_too) as rt:
        say(describe_target(settings))
        report = await check(rt, grace_s)
        if not repair_too or report.clean:
            say(render(report))
            return 0 if report.clean else 1
        await repair(rt, report)
        say(render(report))
        after = await check(rt, grace_s)  # what the repairs left: this decides the exit code
        say("\nChecked again after repairing:")
        say(render(after) if not after.clean else _summary(after))
        return 0 if after.clean else 1


def describe_target(settings: Settings) -> str:
    """Which database and store are checked (without passwords or keys)."""
    database = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    if settings.storage_url:
        url = urlsplit(settings.storage_url)
        store = f"{url.scheme}://{url.netloc}{url.path}"
    else:
        store = str(settings.data_dir / "blobs")
    return f"Database: {database}\nBlob store: {store}"


def render(report: Report) -> str:
    """The report as a person reads it: problems first, then notes, then the verdict."""
    lines = [
        f"Checked {report.memos} voice memos and {report.prefixes} memo prefixes in the store"
        f" (grace period {report.grace_s:g} s)."
    ]
    for title, problem in (("Problems", True), ("Notes (not problems)", False)):
        kinds = [k for k in KINDS if k.problem == problem and report.of(k)]
        if kinds:
            lines += ["", f"{title}:"]
        for kind in kinds:
            found = report.of(kind)
            lines.append(f"  {kind.name} ({len(found)}): {kind.about}")
            for finding in found[:SHOWN_PER_KIND]:
                line = f"    {finding.subject}  {finding.detail}"
                if finding.outcome:
                    line += f"  -> {finding.outcome}"
                elif problem and finding.fix is None:
                    line += "  (not repaired automatically: look into it)"
                lines.append(line)
            if len(found) > SHOWN_PER_KIND:
                lines.append(f"    ... and {len(found) - SHOWN_PER_KIND} more")
    lines += ["", _summary(report)]
    return "\n".join(lines)


def _summary(report: Report) -> str:
    if report.clean:
        return "Clean: the database and the store agree."
    fixable = sum(1 for f in report.problems if f.fix)
    tried = [f.outcome for f in report.problems if f.outcome]
    if tried:
        skipped = sum(1 for outcome in tried if outcome.startswith("skipped"))
        return (
            f"{len(report.problems)} problem(s) found; {len(tried) - skipped} repaired,"
            f" {skipped} skipped."
        )
    return (
        f"{len(report.problems)} problem(s) found; `earshot fsck --repair` fixes {fixable} of them."
    )
