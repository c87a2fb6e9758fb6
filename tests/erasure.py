"""Finding a deleted word wherever it could still be: replays, tables, the SQLite files."""

import json
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.helpers import Api, Person


def unique_word() -> str:
    """A word found nowhere else (letters only, so no tokenizer splits or stems it)."""
    return "zq" + "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:12])


def sqlite_files(app: Any) -> list[Path]:
    """The database file and its WAL (after a plain PASSIVE checkpoint, as SQLite does itself)."""
    path = Path(make_url(app.state.runtime.settings.resolved_database_url).database or "")
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    return [p for p in (path, path.with_name(path.name + "-wal")) if p.exists()]


def on_disk(app: Any, word: str) -> list[str]:
    """The SQLite files whose bytes contain `word` (any case, UTF-8)."""
    return [
        p.name
        for p in sqlite_files(app)
        if word.encode() in p.read_bytes() or word.upper().encode() in p.read_bytes()
    ]


async def stored_anywhere(app: Any, word: str) -> list[str]:
    """The tables whose rows still hold `word`, as the database itself sees them."""
    found = []
    rt = app.state.runtime
    async with rt.sessions() as db:
        for table, column in (
            ("messages", "text"),
            ("messages", "transcript_text"),
            ("events", "data"),
        ):
            cast = f"CAST({column} AS TEXT)"
            n = await db.scalar(
                text(f"SELECT count(*) FROM {table} WHERE lower({cast}) LIKE :w"),
                {"w": f"%{word}%"},
            )
            if n:
                found.append(f"{table}.{column}")
    return found


async def replays(api: Api, who: Person, gid: str) -> str:
    """Every replay a member can ask for, from every cursor, as one text."""
    last = (await api.ok(who, "GET", f"/groups/{gid}"))["last_seq"]
    return json.dumps([await api.events(who, gid, after) for after in range(last + 1)])
