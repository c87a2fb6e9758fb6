"""Repairs: each re-checks its condition just before acting, and none deletes a row."""

from collections.abc import Awaitable, Callable

from app.kinds import VoiceStatus
from app.models import Group, Message
from app.services import leases
from app.services.context import Runtime
from app.services.fsck.checking import VOICE_DIR, voice_rows
from app.services.fsck.findings import LOST_AUDIO, LOST_ORIGINAL, Finding, Report
from app.services.messages import update_memo
from app.storage.keys import audio_key, original_key, voice_prefix


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
    if row is None or row.deleted or row.status != VoiceStatus.READY or size is None:
        return "skipped: the memo changed since the check"
    if row.size_bytes is not None and size != row.size_bytes:
        return "skipped: the memo changed since the check"
    await rt.blobs.delete(original_key(finding.memo))
    return "deleted"


async def _delete_temp(rt: Runtime, finding: Finding) -> str:
    return await rt.blobs.remove_temp(finding.subject)


async def _remove_dir(rt: Runtime, finding: Finding) -> str:
    """An empty directory, and the parents it leaves empty (below `voice/`)."""
    return await rt.blobs.remove_empty_dir(finding.subject, stop_at=VOICE_DIR)


async def _requeue(rt: Runtime, finding: Finding) -> str:
    """A ready memo whose audio is gone but whose original is kept goes back to `processing`.

    The recording is all there, so converting it again loses nothing; with no lease,
    the first server to sweep (or the next to start) converts it as after a crash.
    """
    assert finding.memo is not None
    mid = finding.memo
    if await rt.blobs.size(original_key(mid)) is None:
        return await _mark_lost(rt, finding)

    def requeue(message: Message, _group: Group) -> bool:
        if message.voice_status != VoiceStatus.READY:
            return False
        message.voice_status = VoiceStatus.PROCESSING
        message.voice_error = None
        message.lease_owner = message.lease_until = None
        return True

    if await _gone(rt, audio_key(mid)) and await _changed(rt, mid, requeue):
        return "re-queued: a server converts it again"
    return "skipped: the memo changed since the check"


async def _mark_lost(rt: Runtime, finding: Finding) -> str:
    """A ready memo with neither audio nor original: nothing to play or rebuild, so `failed`."""
    assert finding.memo is not None

    def lost(message: Message, _group: Group) -> bool:
        if message.voice_status != VoiceStatus.READY:
            return False
        message.voice_status = VoiceStatus.FAILED
        message.voice_error = LOST_AUDIO
        return True

    if await _gone(rt, audio_key(finding.memo)) and await _changed(rt, finding.memo, lost):
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

    def unrecorded(message: Message, _group: Group) -> bool:
        if message.lease_owner != rt.process_id or message.voice_status != orphan.status:
            return False
        message.voice_status = VoiceStatus.FAILED
        message.voice_error = LOST_ORIGINAL
        message.lease_owner = message.lease_until = None
        return True

    if await _gone(rt, original_key(mid)) and await _changed(rt, mid, unrecorded):
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


async def _changed(rt: Runtime, mid: str, change: Callable[[Message, Group], bool]) -> bool:
    """Change a memo under its group's lock if `change` still finds it as expected."""
    _, changed = await update_memo(rt, mid, change)
    return changed
