"""Digest scheduling: what a sweep costs when a morning comes for many people at once.

A fresh database (SQLite in a temporary directory, or EARSHOT_BENCH_DATABASE_URL, a
PostgreSQL database this may fill and that should be empty) with N people who chose a
daily digest, a verified address, and a time zone among four; their previous digest a
day before. Timed: the sweep that queues every digest due now (one outbox row each), and,
as the baseline, the next sweep, which finds nothing due (what every sweep costs on the
other 23 hours of the day).

Run: .venv/bin/python -m bench.digest [N ...]   (default 1000 5000)
"""

import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, func, insert, select

from app.config import Settings
from app.db import migrate_async
from app.models import OutboxItem, User, utcnow
from app.services import digest
from app.services.context import open_runtime

ZONES = ["America/Chicago", "Europe/Berlin", "Asia/Kolkata", None]


async def measure(url: str, data_dir: Path, people: int) -> tuple[int, float, float]:
    await migrate_async(url)
    settings = Settings(data_dir=data_dir, database_url=url, secret_key="bench")
    async with open_runtime(settings, shared=False) as rt:
        now = utcnow()
        # the latest 07:00 of the four zones: a morning that has just come for a quarter
        at = max(digest.morning(now, digest.zone(z), "daily", 7) for z in ZONES)
        async with rt.sessions() as db:
            await db.execute(delete(OutboxItem))
            await db.execute(delete(User))
            rows = [
                {
                    "id": str(uuid.uuid4()),
                    "handle": f"p{i}",
                    "display_name": "P",
                    "password_hash": "!",
                    "email": f"p{i}@example.org",
                    "email_verified_at": now,
                    "digest": "daily",
                    "timezone": ZONES[i % len(ZONES)],
                    "digest_slot_at": at - timedelta(days=1),
                }
                for i in range(people)
            ]
            await db.execute(insert(User), rows)
            await db.commit()
        start = time.perf_counter()
        queued = await digest.schedule(rt, at + timedelta(minutes=1))
        due_s = time.perf_counter() - start
        start = time.perf_counter()
        again = await digest.schedule(rt, at + timedelta(minutes=2))
        idle_s = time.perf_counter() - start
        async with rt.sessions() as db:
            rows_queued = await db.scalar(select(func.count()).select_from(OutboxItem))
        assert again == 0 and rows_queued == queued, (again, rows_queued, queued)
    return queued, due_s, idle_s


async def main(sizes: list[int]) -> None:
    pg = os.environ.get("EARSHOT_BENCH_DATABASE_URL")
    print(f"{'backend':10} {'people':>7} {'queued':>7} {'due sweep ms':>13} "
          f"{'ms/digest':>10} {'idle sweep ms':>14}")  # fmt: skip
    for people in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            url = pg or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            queued, due_s, idle_s = await measure(url, Path(tmp), people)
        backend = "postgresql" if pg else "sqlite"
        per = due_s * 1000 / queued if queued else 0.0
        print(f"{backend:10} {people:7d} {queued:7d} {due_s * 1000:13.0f} {per:10.2f} "
              f"{idle_s * 1000:14.0f}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main([int(a) for a in sys.argv[1:]] or [1000, 5000]))
