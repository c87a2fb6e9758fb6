"""The processing queue for voice memos: bounded workers, and a sweeper for orphans.

The database is the queue's memory: a memo is `processing` until it is done, and
carries a lease naming the process converting it (`app.services.leases`). Every
`sweep_interval_s` (and at start) each process looks for memos whose owner died:
a `processing` one is converted here, a `live` one is ended with what it had
received. The same pass applies each group's retention and queues the catch-up
digests that came due (`app.services.digest`).
"""

import asyncio
import logging

from app.kinds import VoiceStatus
from app.services import deletion, digest, exports, leases, retention, voice
from app.services.context import Runtime
from app.services.jobs import JobQueue
from app.services.live import finish_live

log = logging.getLogger(__name__)


class Ingest:
    def __init__(self, rt: Runtime, workers: int) -> None:
        self._rt = rt
        self._workers = workers
        self._jobs = JobQueue(lambda message_id: voice.process(rt, message_id), _failed)

    async def start(self) -> None:
        leases.RUNNING_HERE.add(self._rt.process_id)
        self._jobs.start(self._workers)
        await self.sweep()
        self._jobs.also_run(asyncio.create_task(self._sweep_forever()))

    async def sweep(self) -> None:
        """Adopt orphaned memos, delete messages past their group's retention, finish
        account deletions a crash interrupted, free handles past their grace, and
        delete data exports kept long enough."""
        for orphan in await leases.orphans(self._rt):
            if self._jobs.queued(orphan.message_id):
                # Queued here behind others; its lease ran out while it waited, so another
                # process may take it meanwhile (whoever claims it first converts it).
                continue
            if not await leases.claim(self._rt, orphan.message_id, orphan.status, orphan.owner):
                continue  # another process was quicker
            if orphan.status == VoiceStatus.LIVE:  # the sender's connection died with it
                log.info("ending live memo %s left by %s", orphan.message_id, orphan.owner)
                await finish_live(self._rt, orphan.message_id)
            else:
                log.info("converting memo %s left by %s", orphan.message_id, orphan.owner)
                self.submit(orphan.message_id)
        await retention.sweep(self._rt)
        await deletion.sweep(self._rt)
        await exports.sweep(self._rt)
        if self._rt.settings.email_enabled:
            await digest.schedule(self._rt)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._rt.settings.sweep_interval_s)
            try:
                await self.sweep()
            except Exception:  # the database may be away for a moment; try again later
                log.exception("sweeping failed")

    def submit(self, message_id: str) -> None:
        self._jobs.submit(message_id)

    @property
    def depth(self) -> int:
        return self._jobs.depth

    async def idle(self) -> None:
        """Wait until everything submitted so far is processed (for tests and benchmarks)."""
        await self._jobs.idle()

    async def stop(self) -> None:
        await self._jobs.stop()
        leases.RUNNING_HERE.discard(self._rt.process_id)


async def _failed(message_id: str) -> None:
    # It stays `processing`; adopted again when its lease runs out.
    log.exception("processing voice memo %s failed", message_id)
