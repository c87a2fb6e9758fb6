"""Voice memos: accepting an upload durably, processing it, and listening receipts.

Durable first: the original is stored and the message row committed before
the client hears 202; processing happens afterwards and a message still
`processing` at start-up is processed again. A failure marks the message
`failed` with a reason; it never vanishes.
"""

import asyncio
import logging
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from app.config import Settings
from app.errors import ApiError, Conflict, Invalid, busy, insufficient_storage
from app.kinds import EventType, TranscriptStatus, VoiceStatus
from app.models import Group, ListeningPosition, Message, Receipt, User, new_id, utcnow
from app.schemas import ListenerOut, MessageOut, PositionOut, ReceiptOut
from app.services import leases, registration, transcripts, views
from app.services.context import Ctx, Runtime
from app.services.groups import require_role
from app.services.messages import (
    earlier_post,
    insert_message,
    load_message,
    reply_target,
    update_memo,
)
from app.storage import audio
from app.storage.ffmpeg import Busy
from app.storage.keys import audio_key, original_key, voice_prefix
from app.storage.space import short_of_space

log = logging.getLogger(__name__)


async def admit_upload(ctx: Ctx, user: User, group_id: str) -> None:
    """Refuse before the body is read: outsiders (404), too many uploads (429), a server
    short of disk space (507). Holds no lock afterwards."""
    await require_role(ctx, group_id, user.id)
    await registration.require_may_post(ctx, user)
    await ctx.release()
    await ctx.limit("upload", user.id)
    await ensure_room(ctx.settings)


async def ensure_room(settings: Settings) -> None:
    """507 while the data or scratch directory has less than `min_free_mb` free."""
    paths = (settings.data_dir, settings.work_dir)
    if await asyncio.to_thread(short_of_space, paths, settings.min_free_mb * 1024 * 1024):
        raise insufficient_storage()


async def _probe(ctx: Ctx, upload: Path) -> audio.ProbeResult:
    """Probe in one of this process's few probe slots: 503 with Retry-After if none frees."""
    settings = ctx.settings
    try:
        return await ctx.rt.probes.run_within(
            settings.probe_wait_s, audio.probe(upload, settings.max_duration_s)
        )
    except Busy as full:
        message = "The server is busy checking other recordings; send it again in a moment."
        raise busy(message, full.retry_after_s) from None


async def accept_upload(
    ctx: Ctx,
    user: User,
    group_id: str,
    *,
    upload: Path,
    client_id: str | None,
    reply_to: str | None,
    reply_to_offset_ms: int | None = None,
) -> tuple[MessageOut, bool]:
    """Probe the uploaded file, store it and commit a `processing` voice message."""
    await require_role(ctx, group_id, user.id)
    if earlier := await earlier_post(ctx, user, group_id, client_id):
        return earlier, False
    await reply_target(ctx, group_id, reply_to, reply_to_offset_ms)
    await ctx.release()
    try:
        probe = await _probe(ctx, upload)
    except audio.AudioTooLong as exc:
        raise Invalid(
            f"Voice memos can be at most {ctx.settings.max_duration_s // 60} minutes long.",
            code="too_long",
            details={"duration_ms": exc.duration_ms},
        ) from None
    except audio.NotAudio as exc:
        raise ApiError(
            f"That file is not audio we can play: {exc}", code="not_audio", status=415
        ) from None

    message_id = new_id()
    blobs = ctx.rt.blobs
    await blobs.put_file(original_key(message_id), upload)
    try:
        await require_role(ctx, group_id, user.id)  # still a member after the slow part
        message = Message(
            id=message_id,
            group_id=group_id,
            kind="voice",
            voice_status=VoiceStatus.PROCESSING,
            duration_ms=probe.duration_ms,
            reply_to_id=reply_to,
            reply_to_offset_ms=reply_to_offset_ms,
            # checked again: the memo replied to may have been deleted during the probe
            thread_root_id=await reply_target(ctx, group_id, reply_to, reply_to_offset_ms),
            client_id=client_id,
            **leases.fresh(ctx.rt),  # this process converts it unless it dies first
        )
        if earlier := await insert_message(ctx, user, message):
            await blobs.delete_prefix(voice_prefix(message_id))
            return earlier, False
        out = await views.message_out(ctx, user.id, message)
        await ctx.commit()
    except BaseException:
        await blobs.delete_prefix(voice_prefix(message_id))
        raise
    ctx.rt.ingest.submit(message_id)
    return out, True


async def process(rt: Runtime, message_id: str) -> None:
    """Transcode a `processing` memo to its canonical form and mark it ready (or failed).

    Does nothing unless this process holds (or can take) the memo's lease, which it
    renews while it works: another process converting the same memo is a waste."""
    if not await leases.claim(rt, message_id, VoiceStatus.PROCESSING):
        return
    async with leases.kept(rt, message_id):
        await _convert(rt, message_id, rt.settings.work_dir)


async def _convert(rt: Runtime, message_id: str, work: Path) -> None:
    started = time.perf_counter()

    def measured(result: str) -> None:  # before the outcome is committed and announced
        rt.metrics.processing_seconds.labels(result).observe(time.perf_counter() - started)

    with tempfile.TemporaryDirectory(dir=work) as tmp:
        src, dst = Path(tmp) / "original", Path(tmp) / "audio.ogg"
        try:
            await rt.blobs.fetch_to(original_key(message_id), src)
            info = await rt.transcoder.run(
                audio.transcode_voice, src, dst, max_duration_s=rt.settings.max_duration_s
            )
            size = await rt.blobs.put_file(audio_key(message_id), dst)
        except FileNotFoundError:
            error = "The original recording is missing."
        except audio.AudioTooLong:
            error = f"The recording is longer than {rt.settings.max_duration_s // 60} minutes."
        except audio.NotAudio:
            error = "The recording contains no audio we can play."
        except audio.TranscodeError as exc:
            log.warning("transcoding %s failed: %s", message_id, exc)
            rt.metrics.ffmpeg_failures.inc()
            error = "This recording could not be converted."
        else:
            measured(VoiceStatus.READY)
            await _finish(rt, message_id, info=info, size=size)
            return
    measured(VoiceStatus.FAILED)
    await _finish(rt, message_id, error=error)


async def _finish(
    rt: Runtime,
    message_id: str,
    *,
    info: audio.VoiceInfo | None = None,
    size: int | None = None,
    error: str | None = None,
) -> None:
    def finish(message: Message, group: Group) -> bool:
        if message.voice_status != VoiceStatus.PROCESSING:
            return False
        if info is not None:
            message.voice_status = VoiceStatus.READY
            message.duration_ms = info.duration_ms
            message.waveform = info.waveform
            message.silences = info.silences
            message.mime = "audio/ogg"
            message.size_bytes = size
            message.transcript_status = transcripts.first_status(rt, group)
        else:
            message.voice_status = VoiceStatus.FAILED
            message.voice_error = error
        message.lease_owner = message.lease_until = None
        return True

    message, finished = await update_memo(rt, message_id, finish)
    if message is None or message.deleted_at:
        await rt.blobs.delete_prefix(voice_prefix(message_id))
        return
    if finished and info is not None:
        await rt.blobs.delete(original_key(message_id))
        if message.transcript_status == TranscriptStatus.PENDING:
            rt.transcripts.submit(message_id)


async def mark_listened(
    ctx: Ctx, user: User, message_id: str, *, position_ms: int | None
) -> ReceiptOut:
    """Record that `user` listened; repeating it keeps the first time."""
    message, _ = await load_message(ctx, user, message_id)
    if message.kind != "voice" or message.deleted_at:
        raise Invalid("Only voice memos can be listened to.", code="not_voice")
    receipt = await ctx.db.get(Receipt, (message_id, user.id))
    if receipt is None:
        receipt = Receipt(
            message_id=message_id, user_id=user.id, listened_at=utcnow(), position_ms=position_ms
        )
        earlier = await ctx.add_unless_raced(  # a concurrent repeat's time is the first
            receipt, lambda: ctx.db.get(Receipt, (message_id, user.id))
        )
        if earlier is not None:
            return ReceiptOut.model_validate(earlier)
        out = ReceiptOut.model_validate(receipt)
        await ctx.emit(message.group_id, EventType.RECEIPT_LISTENED, out.model_dump(mode="json"))
        await ctx.commit()
        return out
    return ReceiptOut.model_validate(receipt)


async def save_position(ctx: Ctx, user: User, message_id: str, position_ms: int) -> PositionOut:
    """Keep how far `user` has listened into a ready voice memo (their own, private to
    them); the last write wins. Apart from the receipt: saving a place is not listening."""
    await ctx.limit("position", user.id)  # before any query: no lock is held meanwhile
    message, _ = await load_message(ctx, user, message_id)
    if message.kind != "voice" or message.deleted_at:
        raise Invalid("Only voice memos have a listening position.", code="not_voice")
    if message.voice_status != VoiceStatus.READY or message.duration_ms is None:
        raise Conflict("This memo is not ready to play yet.", code="not_ready")
    if position_ms > message.duration_ms:
        raise Invalid(
            f"The memo is {message.duration_ms} ms long.",
            code="position_out_of_range",
            details={"field": "position_ms"},
        )
    row = await ctx.db.get(ListeningPosition, (user.id, message_id))
    if row is None:
        row = ListeningPosition(user_id=user.id, message_id=message_id, position_ms=position_ms)
        earlier = await ctx.add_unless_raced(
            row, lambda: ctx.db.get(ListeningPosition, (user.id, message_id))
        )
        row = earlier if earlier is not None else row
    row.position_ms = position_ms
    row.updated_at = utcnow()
    out = PositionOut(message_id=message_id, position_ms=position_ms, updated_at=row.updated_at)
    await ctx.commit()
    return out


async def receipts(ctx: Ctx, user: User, message_id: str) -> list[ListenerOut]:
    await load_message(ctx, user, message_id)
    rows = await ctx.db.scalars(
        select(Receipt).where(Receipt.message_id == message_id).order_by(Receipt.listened_at)
    )
    return [ListenerOut(user=views.user_out(r.user), listened_at=r.listened_at) for r in rows]
