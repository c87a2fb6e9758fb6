"""Cursor pages in (created_at, id) order: the cursor is the id of the previous page's last row.

Times alone may tie; the id breaks ties, so no row is skipped or repeated between pages.
"""

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")


def keyset(
    query: Select[Any],
    when: InstrumentedAttribute[datetime],
    key: InstrumentedAttribute[str],
    cursor: tuple[datetime, str] | None,
    *,
    newest_first: bool,
    limit: int,
) -> Select[Any]:
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
