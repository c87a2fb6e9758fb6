"""Scrubbing SQLite after an erasure, so deleted words leave the database files themselves.

`PRAGMA secure_delete` (set on every connection, `app.db`) zeroes a deleted row's
bytes in the database pages. Two copies outlive it:

- the FTS5 search index: deleting a row adds a delete marker, while the words stay
  in the index segments written before, until those segments are merged. SQLite
  3.44's `secure-delete` option of FTS5 would remove them at once; on older SQLite,
  `optimize` merges every segment into one, which drops them (its cost grows with
  the index: see `bench/erasure.py`);
- the WAL: the pages written when the message was stored stay in the log until a
  checkpoint copies the newest pages back and the log is truncated.

So after an erasure commits, this process runs `optimize` and then
`wal_checkpoint(TRUNCATE)`. The checkpoint never waits: a reader still using the
log makes it give up at once (it would otherwise hold every writer back while it
waits) and it is tried again a little later. Meanwhile `journal_size_limit=0`
(`app.db`) cuts the log's stale tail whenever SQLite restarts it by itself.
Requests are coalesced: erasures that arrive while a scrub waits or runs are
covered by the next one, so retention deleting hundreds of messages costs one or
two scrubs. PostgreSQL needs no scrub here (README: what stays until VACUUM).
"""

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from app.aio import cancel_and_wait
from app.db import BUSY_TIMEOUT_MS

log = logging.getLogger(__name__)

SETTLE_S = 0.2  # wait this long for more erasures before scrubbing once for all of them
RETRY_S = 2.0  # after a scrub that could not finish (a reader held the WAL)


async def scrub_sqlite(engine: AsyncEngine) -> bool:
    """Merge the search index and empty the WAL; False if a reader kept the WAL in use."""
    async with engine.begin() as conn:
        await conn.exec_driver_sql("INSERT INTO message_search(message_search) VALUES ('optimize')")
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        # Outside any transaction (SQLAlchemy would begin one): straight to the driver.
        driver = raw.driver_connection
        assert driver is not None
        await driver.execute("PRAGMA busy_timeout=0")
        try:
            cursor = await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy, _, _ = await cursor.fetchone()
            await cursor.close()
        finally:
            await driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return not busy


class Scrubber:
    """This process's scrubbing task (SQLite only; on PostgreSQL `request` does nothing)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._wanted = asyncio.Event()
        self._asked = 0  # requests so far
        self._done = 0  # requests that a finished scrub covered
        self._progress = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._engine.dialect.name == "sqlite":
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    async def request(self) -> None:
        """Ask for a scrub soon (after-commit action of every erasure)."""
        if self._task is not None:
            self._asked += 1
            self._wanted.set()

    async def idle(self) -> None:
        """Wait until every scrub requested so far has run (for tests and benchmarks)."""
        target = self._asked
        async with self._progress:
            await self._progress.wait_for(lambda: self._done >= target or self._task is None)

    async def _run(self) -> None:
        while True:
            await self._wanted.wait()
            await asyncio.sleep(SETTLE_S)
            self._wanted.clear()
            covered = self._asked
            try:
                finished = await scrub_sqlite(self._engine)
            except Exception:
                log.exception("scrubbing the database after an erasure failed")
                finished = False
            if not finished:
                self._wanted.set()
                await asyncio.sleep(RETRY_S)
                continue
            async with self._progress:
                self._done = covered
                self._progress.notify_all()
