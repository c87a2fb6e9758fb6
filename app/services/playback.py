"""Which blob answers a signed audio URL, making the MP3 fallback on first request."""

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from app.errors import Conflict, Gone, NotFound
from app.kinds import VoiceStatus
from app.models import Message
from app.services.context import Ctx
from app.storage import audio
from app.storage.keys import audio_key, mp3_key

_mp3_locks: dict[str, asyncio.Lock] = {}


@dataclass
class AudioBlob:
    key: str
    size: int
    mime: str
    etag: str


async def audio_blob(ctx: Ctx, message_id: str, fmt: str) -> AudioBlob:
    message = await ctx.db.get(Message, message_id)
    await ctx.release()
    if message is None or message.kind != "voice":
        raise NotFound("There is no such memo.", code="audio_not_found")
    if message.deleted_at is not None:
        raise Gone("This memo was deleted.", code="audio_deleted")
    if message.voice_status != VoiceStatus.READY:
        raise Conflict("This memo is not ready to play yet.", code="not_ready")
    key = audio_key(message_id) if fmt == "ogg" else await _ensure_mp3(ctx, message_id)
    size = await ctx.rt.blobs.size(key)
    if size is None:
        raise Gone("This memo's audio is no longer stored.", code="audio_deleted")
    mime = "audio/ogg" if fmt == "ogg" else "audio/mpeg"
    return AudioBlob(key=key, size=size, mime=mime, etag=f'"{message_id}-{fmt}-{size}"')


async def _ensure_mp3(ctx: Ctx, message_id: str) -> str:
    """The MP3 rendition, transcoded once from the Opus blob and then kept."""
    key = mp3_key(message_id)
    blobs = ctx.rt.blobs
    lock = _mp3_locks.setdefault(message_id, asyncio.Lock())
    try:
        async with lock:
            if await blobs.size(key) is not None:
                return key
            work = ctx.settings.work_dir
            with tempfile.TemporaryDirectory(dir=work) as tmp:
                src, dst = Path(tmp) / "audio.ogg", Path(tmp) / "audio.mp3"
                try:
                    await blobs.fetch_to(audio_key(message_id), src)
                except FileNotFoundError:
                    raise Gone(
                        "This memo's audio is no longer stored.", code="audio_deleted"
                    ) from None
                await ctx.rt.transcoder.run(
                    audio.transcode_mp3, src, dst, max_duration_s=ctx.settings.max_duration_s
                )
                await blobs.put_file(key, dst)
            return key
    finally:
        if not lock.locked():
            _mp3_locks.pop(message_id, None)
