"""Migrations on a database that already holds data, as an upgrade meets it."""

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import alembic_config, create_engine, migrate_async
from app.models import Base
from tests.conftest import BACKENDS, PG_URL, _asyncpg_dsn


@pytest.fixture(params=BACKENDS)
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    assert PG_URL
    name = f"earshot_migration_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_asyncpg_dsn(PG_URL))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def upgrade_to(url: str, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(run)
    await engine.dispose()


async def amy_and_her_group(db: AsyncConnection, last_seq: int) -> None:
    """User u1 and group g1, as an older schema holds them."""
    await db.execute(
        text(
            "INSERT INTO users (id, handle, display_name, password_hash, created_at) "
            "VALUES ('u1', 'amy', 'Amy', 'x', CURRENT_TIMESTAMP)"
        )
    )
    await db.execute(
        text(
            "INSERT INTO groups (id, name, description, created_at, last_seq, transcripts) "
            "VALUES ('g1', 'G', '', CURRENT_TIMESTAMP, :seq, true)"
        ),
        {"seq": last_seq},
    )


def message(mid: str, seq: int, words: str | None, deleted: bool) -> str:
    return json.dumps(
        {"id": mid, "seq": seq, "kind": "text", "text": words, "deleted": deleted, "voice": None}
    )


async def test_upgrading_indexes_message_events_and_scrubs_deleted_content(
    empty_database: str,
) -> None:
    await upgrade_to(empty_database, "0003")
    engine = create_engine(empty_database)
    kept, gone = str(uuid.uuid4()), str(uuid.uuid4())
    async with engine.begin() as db:
        await amy_and_her_group(db, last_seq=4)
        await db.execute(
            text(
                "INSERT INTO messages (id, group_id, seq, sender_id, kind, text, created_at, "
                "deleted_at) VALUES (:kept, 'g1', 1, 'u1', 'text', 'still here', "
                "CURRENT_TIMESTAMP, NULL), (:gone, 'g1', 2, 'u1', 'text', NULL, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"kept": kept, "gone": gone},
        )
        events = [
            (1, "message.created", message(kept, 1, "still here", False)),
            (2, "message.created", message(gone, 2, "a secret xylograph", False)),
            (3, "receipt.listened", json.dumps({"message_id": gone, "user_id": "u1"})),
            (4, "message.deleted", message(gone, 2, None, True)),
        ]
        for seq, type_, data in events:
            await db.execute(
                text(
                    "INSERT INTO events (group_id, seq, type, data, created_at) "
                    "VALUES ('g1', :seq, :type, :data, CURRENT_TIMESTAMP)"
                ),
                {"seq": seq, "type": type_, "data": data},
            )
    await engine.dispose()

    await migrate_async(empty_database)

    engine = create_engine(empty_database)
    async with engine.connect() as db:
        rows = (
            await db.execute(
                text("SELECT seq, type, message_id, CAST(data AS TEXT) FROM events ORDER BY seq")
            )
        ).all()
        who = await db.scalar(text("SELECT who_can_add_me FROM users WHERE id = 'u1'"))
    await engine.dispose()
    assert [(seq, mid) for seq, _, mid, _ in rows] == [(1, kept), (2, gone), (3, None), (4, gone)]
    assert "xylograph" not in " ".join(data for *_, data in rows)
    assert json.loads(rows[1][3]) == json.loads(message(gone, 2, None, True))
    assert "still here" in rows[0][3], "events of kept messages are untouched"
    assert who == "shared_group"


async def test_the_migrated_schema_is_what_the_models_say(empty_database: str) -> None:
    await migrate_async(empty_database)
    engine = create_engine(empty_database)
    async with engine.connect() as db:
        differences = await db.run_sync(
            lambda conn: compare_metadata(MigrationContext.configure(conn), Base.metadata)
        )
    await engine.dispose()
    # Only the search index, which lives outside the models (migration 0003).
    unexplained = [
        d
        for d in differences
        if not (d[0] == "remove_table" and d[1].name.startswith("message_search"))
        and not (d[0] == "remove_index" and d[1].name == "ix_messages_search")
    ]
    assert unexplained == []


async def test_upgrading_to_0018_keeps_digests_off_and_gives_quiet_hours_zone_to_the_person(
    empty_database: str,
) -> None:
    """Nobody is mailed a digest they did not choose; a person with quiet hours keeps
    their one time zone as the account's `timezone`."""
    await upgrade_to(empty_database, "0017")
    engine = create_engine(empty_database)
    async with engine.begin() as db:
        await amy_and_her_group(db, last_seq=0)
        await db.execute(
            text(
                "INSERT INTO users (id, handle, display_name, password_hash, created_at, "
                "quiet_start, quiet_end, quiet_time_zone) VALUES ('u2', 'ben', 'Ben', 'x', "
                "CURRENT_TIMESTAMP, 1320, 420, 'America/Chicago')"
            )
        )
    await engine.dispose()

    await upgrade_to(empty_database, "0018")

    engine = create_engine(empty_database)
    async with engine.connect() as db:
        found = await db.execute(
            text("SELECT id, digest, timezone, digest_slot_at FROM users ORDER BY id")
        )
        rows = [tuple(row) for row in found.all()]
    await engine.dispose()
    assert rows == [("u1", "off", None, None), ("u2", "off", "America/Chicago", None)]


async def test_upgrading_to_0005_gives_people_and_memberships_quiet_defaults(
    empty_database: str,
) -> None:
    """Nobody gets previews or quiet hours they did not choose; every group says "all"."""
    await upgrade_to(empty_database, "0004")
    engine = create_engine(empty_database)
    async with engine.begin() as db:
        await amy_and_her_group(db, last_seq=0)
        await db.execute(
            text(
                "INSERT INTO memberships (group_id, user_id, role, joined_at) "
                "VALUES ('g1', 'u1', 'owner', CURRENT_TIMESTAMP)"
            )
        )
    await engine.dispose()

    await migrate_async(empty_database)

    engine = create_engine(empty_database)
    async with engine.connect() as db:
        person = (
            await db.execute(
                text(
                    "SELECT notification_previews, quiet_start, quiet_end, quiet_time_zone, "
                    "quiet_allow_live FROM users WHERE id = 'u1'"
                )
            )
        ).one()
        level = await db.scalar(text("SELECT notify FROM memberships WHERE user_id = 'u1'"))
        queued = await db.scalar(text("SELECT count(*) FROM outbox"))
    await engine.dispose()
    assert tuple(person) == (False, None, None, None, False)
    assert level == "all" and queued == 0


async def test_upgrading_to_0015_puts_earlier_replies_in_their_threads(
    empty_database: str,
) -> None:
    await upgrade_to(empty_database, "0014")
    engine = create_engine(empty_database)
    root, reply, deeper, other = (str(uuid.uuid4()) for _ in range(4))
    async with engine.begin() as db:
        await amy_and_her_group(db, last_seq=4)
        for seq, (mid, reply_to) in enumerate(
            [(root, None), (reply, root), (deeper, reply), (other, None)], start=1
        ):
            await db.execute(
                text(
                    "INSERT INTO messages (id, group_id, seq, sender_id, kind, text, created_at, "
                    "reply_to_id) VALUES (:id, 'g1', :seq, 'u1', 'text', 'x', CURRENT_TIMESTAMP, "
                    ":reply_to)"
                ),
                {"id": mid, "seq": seq, "reply_to": reply_to},
            )
    await engine.dispose()

    await upgrade_to(empty_database, "0015")

    engine = create_engine(empty_database)
    async with engine.connect() as db:
        found = await db.execute(text("SELECT id, thread_root_id FROM messages"))
        rows = {mid: root_id for mid, root_id in found.all()}
    await engine.dispose()
    assert rows == {root: None, reply: root, deeper: root, other: None}
