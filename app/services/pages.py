"""Cursor pages in (created_at, id) order: the cursor is the id of the previous page's last row.

Times alone may tie; the id breaks ties, so no row is skipped or repeated between pages.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, TypeVarTuple

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from app.services.context import Ctx

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


def keyset(
    query: Select[*Ts],
    when: InstrumentedAttribute[datetime],
    key: InstrumentedAttribute[str],
    cursor: tuple[datetime, str] | None,
    *,
    newest_first: bool,
    limit: int,
) -> Select[*Ts]:
    """`query` limited to the rows after `cursor` (its row's time and id), one more than
    `limit` so the caller can tell whether another page follows."""
    if cursor is not None:
        at, last = cursor
        if newest_first:
            query = query.where(or_(when < at, and_(when == at, key < last)))
        else:
            query = query.where(or_(when > at, and_(when == at, key > last)))
    order = (when.desc(), key.desc()) if newest_first else (when.asc(), key.asc())
    return query.order_by(*order).limit(limit + 1)


def split(rows: list[T], limit: int) -> tuple[list[T], bool]:
    """A page of `limit` rows, and whether more follow (the query asked for one more)."""
    return rows[:limit], len(rows) > limit


async def group_page(
    ctx: Ctx,
    query: Select[Any],
    *,
    when: InstrumentedAttribute[datetime],
    key: InstrumentedAttribute[str],
    group_id: str,
    cursor_id: str | None,
    newest_first: bool,
    limit: int,
    missing: Callable[[], Exception],
) -> tuple[list[Any], bool]:
    """A page of `query` (rows of one group) after the row whose `key` is `cursor_id`;
    `missing()` is raised when that row is not one of the group's."""
    cursor = None
    if cursor_id is not None:
        last = await ctx.db.get(when.parent.mapper, cursor_id)
        if last is None or last.group_id != group_id:
            raise missing()
        cursor = (getattr(last, when.key), getattr(last, key.key))
    query = keyset(query, when, key, cursor, newest_first=newest_first, limit=limit)
    return split(list(await ctx.db.scalars(query)), limit)
