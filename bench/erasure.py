"""Erasure benchmark: what deleting a message costs, and what scrubbing SQLite adds.

For SQLite databases holding 1,000, 10,000 and 100,000 text messages (30 words each,
each with its `message.created` event, in one group), it measures in the same run:
- baseline: the erasure itself (`erase_message` and its commit: the row emptied, the
  events rewritten to the tombstone by `events.message_id`, `message.deleted`), median
  of 20 deletes;
- scrub: what the scrubber then runs once for any number of erasures (FTS5 `optimize`,
  which rewrites the whole search index, and `wal_checkpoint(TRUNCATE)`), median of 5,
  and the database size.

Run: .venv/bin/python -m bench.erasure   (a temporary directory; stops by itself)
"""

import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from app.config import Settings
from app.db import migrate_async
from app.main import create_app
from app.models import Event, Group, Membership, Message, User, new_id, utcnow
from app.services.context import Ctx, Runtime
from app.services.erasure import erase_message
from app.services.scrub import scrub_sqlite

SIZES = (1_000, 10_000, 100_000)
WORDS = [f"w{i}" for i in range(20_000)]  # a vocabulary the size of a busy group's


async def fill(rt: Runtime, count: int) -> list[str]:
    rng = random.Random(count)
    now = utcnow()
    user, group = new_id(), new_id()
    async with rt.sessions() as db:
        await db.execute(
            insert(User).values(
                id=user, handle="bench", display_name="Bench", password_hash="x", created_at=now
            )
        )
        await db.execute(
            insert(Group).values(id=group, name="g", description="", created_at=now, last_seq=count)
        )
        await db.execute(
            insert(Membership).values(group_id=group, user_id=user, role="owner", joined_at=now)
        )
        ids = [new_id() for _ in range(count)]
        for start in range(0, count, 5_000):
            batch = range(start, min(start + 5_000, count))
            texts = [" ".join(rng.choices(WORDS, k=30)) for _ in batch]
            await db.execute(
                insert(Message),
                [
                    {"id": ids[i], "group_id": group, "seq": i + 1, "sender_id": user,
                     "kind": "text", "text": t, "created_at": now}
                    for i, t in zip(batch, texts, strict=True)
                ],
            )  # fmt: skip
            await db.execute(
                insert(Event),
                [
                    {"group_id": group, "seq": i + 1, "type": "message.created",
                     "data": {"id": ids[i], "text": t}, "created_at": now, "message_id": ids[i]}
                    for i, t in zip(batch, texts, strict=True)
                ],
            )  # fmt: skip
        await db.commit()
    await scrub_sqlite(rt.engine)
    return ids


async def measure(count: int, work: Path) -> tuple[float, float, float]:
    settings = Settings(data_dir=work / str(count), secret_key="bench", transcripts=False)
    app = create_app(settings)
    await migrate_async(settings.resolved_database_url)
    async with app.router.lifespan_context(app):
        rt: Runtime = app.state.runtime
        await rt.scrubber.stop()  # scrubs are timed here, not run behind our back
        ids = await fill(rt, count)
        erase = []
        for message_id in random.Random(1).sample(ids, 20):
            started = time.perf_counter()
            async with rt.sessions() as db:
                ctx = Ctx(db=db, rt=rt)
                assert await erase_message(ctx, message_id)
                await ctx.commit()
            erase.append(time.perf_counter() - started)
        scrub = []
        for message_id in ids[:5]:
            async with rt.sessions() as db:
                ctx = Ctx(db=db, rt=rt)
                await erase_message(ctx, message_id)
                await ctx.commit()
            started = time.perf_counter()
            assert await scrub_sqlite(rt.engine)
            scrub.append(time.perf_counter() - started)
    size = (settings.data_dir / "earshot.db").stat().st_size / 1e6
    return statistics.median(erase) * 1000, statistics.median(scrub) * 1000, size


async def main() -> None:
    print("| messages | erase (baseline) ms | scrub (optimize + checkpoint) ms | db MB |")
    print("|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for count in SIZES:
            erase_ms, scrub_ms, size = await measure(count, Path(tmp))
            print(f"| {count:,} | {erase_ms:.1f} | {scrub_ms:.0f} | {size:.0f} |")


if __name__ == "__main__":
    asyncio.run(main())
