"""Transcripts of voice memos, made after a memo is `ready` and never delaying it.

A memo that becomes ready is marked `pending` (or `off` when the server or its
group has transcripts off) in the same commit, and submitted here. One task per
process takes pending memos in turn and runs `app.transcribe` in a pool of worker
processes (`transcribe_workers`), each holding the model loaded once, so the event
loop never waits on the engine. The result is written only if the memo is still
pending and not deleted, with a `message.updated` event. At start, this process
takes up the memos it finds pending (a crash loses no transcript request).
"""

import asyncio
import logging
import multiprocessing
import multiprocessing.pool
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app import transcribe
from app.kinds import TranscriptStatus
from app.models import Group, Message
from app.services.context import Runtime
from app.services.jobs import JobQueue
from app.services.messages import update_memo
from app.storage import audio
from app.storage.keys import audio_key

log = logging.getLogger(__name__)


def first_status(rt: Runtime, group: Group) -> str:
    """The transcript status of a memo that has just become ready."""
    on = rt.settings.transcripts and group.transcripts
    return TranscriptStatus.PENDING if on else TranscriptStatus.OFF


class Transcripts:
    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._jobs = JobQueue(self._transcribe, self._failed)
        self._pool: multiprocessing.pool.Pool | None = None

    async def start(self) -> None:
        if not self._rt.settings.transcripts:
            return
        self._jobs.start(self._rt.settings.transcribe_workers)
        async with self._rt.read_sessions() as db:
            pending = await db.scalars(
                select(Message.id)
                .where(
                    Message.transcript_status == TranscriptStatus.PENDING,
                    Message.deleted_at.is_(None),
                )
                .order_by(Message.created_at)
            )
            for message_id in pending:
                self.submit(message_id)

    async def stop(self) -> None:
        await self._jobs.stop()
        if self._pool is not None:  # its workers may be mid-job: end them, they hold nothing
            self._pool.terminate()
            self._pool = None

    def submit(self, message_id: str) -> None:
        if self._jobs.running:
            self._jobs.submit(message_id)

    async def idle(self) -> None:
        """Wait until everything submitted so far is transcribed (for tests and benchmarks)."""
        await self._jobs.idle()

    async def _in_worker(self, *args: Any) -> transcribe.Transcript:
        """`transcribe.transcribe(*args)` in a worker process, awaited without blocking."""
        if self._pool is None:  # started on first use: a server with no memos loads no model
            self._pool = transcribe.worker_pool(self._rt.settings.transcribe_workers)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[transcribe.Transcript] = loop.create_future()

        def settle(outcome: Any, fail: bool = False) -> None:
            if not done.done():
                (done.set_exception if fail else done.set_result)(outcome)

        self._pool.apply_async(
            transcribe.transcribe,
            args,
            callback=lambda r: loop.call_soon_threadsafe(settle, r),
            error_callback=lambda e: loop.call_soon_threadsafe(settle, e, True),
        )
        return await done

    async def _failed(self, message_id: str) -> None:
        log.exception("transcribing memo %s failed", message_id)
        await self._save(message_id, None)

    async def _transcribe(self, message_id: str) -> None:
        with tempfile.TemporaryDirectory(dir=self._rt.settings.work_dir) as tmp:
            path = Path(tmp) / "audio.ogg"
            try:
                await self._rt.blobs.fetch_to(audio_key(message_id), path)
            except FileNotFoundError:  # deleted meanwhile
                return
            result = await self._in_worker(path, audio.ffmpeg_binary())
        await self._save(message_id, result)

    async def _save(self, message_id: str, result: transcribe.Transcript | None) -> None:
        """Store the transcript (None: it failed) if the memo still waits for it."""

        def save(message: Message, _group: Group) -> bool:
            if message.transcript_status != TranscriptStatus.PENDING:
                return False
            if result is None:
                message.transcript_status = TranscriptStatus.FAILED
            else:
                message.transcript_status = TranscriptStatus.READY
                message.transcript_text = result.text
                message.transcript_language = result.language
            return True

        await update_memo(self._rt, message_id, save)
