"""Full-text search over texts and voice-memo transcripts, in one group or in all of a caller's.

One interface (`search_group`, `search_all`) with a backend behind it for each database,
chosen by the session's dialect. Both search the same document: a message's `text` and
its `transcript_text`, for messages not deleted (migration 0003 indexes exactly that).

Words. `q` is what a person typed, never query syntax: it is cut into words (runs of
letters and digits; everything else separates), and a message must contain every word
(AND). When the query ends in a word, that word also matches as a prefix ("coa" finds
"coaching"), so results follow typing. A query without any word finds nothing (no error).
Both backends stem English words ("coaching" finds "coach" and "coaches").

- SQLite: the FTS5 table `message_search` (tokenizer `porter unicode61`, which also folds
  case and diacritics: "cafe" finds "café"). Each word becomes a quoted FTS5 string, so no
  input can be malformed or reach an operator (`AND`, `NEAR(`, `*`, `^`, `-` are just text).
  Ranked by `bm25()`: rare words count more than common ones, repeats count with
  diminishing returns, and shorter messages rank above long ones with the same matches.
  The snippet is FTS5's `snippet()`: up to 16 tokens around the best match, "…" where cut.
- PostgreSQL: the GIN index on `to_tsvector('english', text || ' ' || transcript_text)`;
  the query must repeat that expression verbatim to use it. Each word is a quoted
  `to_tsquery` lexeme (English stop words such as "the" are dropped; a query of only stop
  words finds nothing). Ranked by `ts_rank(..., 1)`: how often and how densely the words
  occur, divided by 1 + log(the message's length), so long transcripts do not win by size.
  The snippet is `ts_headline`: up to 16 words from the best match on, a short message
  whole (it drops text that looks like an HTML tag, and does not mark where it cut).

Ties (and equal ranks) go to the newer message. In the snippet the matched words are
between MARK_START (U+0002) and MARK_END (U+0003); those two characters never appear in a
snippet otherwise (they are removed from the message's text), so a client can split on
them and show everything else as plain text.
"""

import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import TextClause, select, text

from app.models import Message, User
from app.schemas.search import SearchHit
from app.services import views
from app.services.context import Ctx
from app.services.groups import require_role

MARK_START = "\u0002"
MARK_END = "\u0003"
SNIPPET_WORDS = 16

_WORD = re.compile(r"[^\W_]+")  # letters and digits; underscore and the rest separate

# Which messages a search may see: one group (membership checked first), or every
# group the caller is a member of at the moment of the query.
_IN_GROUP = "m.group_id = :group_id"
_IN_MY_GROUPS = "m.group_id IN (SELECT group_id FROM memberships WHERE user_id = :user_id)"

_SQLITE = """
SELECT m.id, snippet(message_search, 0, :start, :stop, '…', :words) AS snippet
FROM message_search JOIN messages AS m ON m.rowid = message_search.rowid
WHERE message_search MATCH :query AND m.deleted_at IS NULL AND {scope}
ORDER BY bm25(message_search), m.created_at DESC, m.id
LIMIT :limit
"""

# The document is the expression of the GIN index ix_messages_search (migration 0003),
# character for character apart from the table alias.
_PG_BODY = "coalesce(m.text, '') || ' ' || coalesce(m.transcript_text, '')"
PG_DOCUMENT = f"to_tsvector('english', {_PG_BODY})"
PG_QUERY = "to_tsquery('english', :query)"
_POSTGRES = f"""
WITH ranked AS (
    SELECT m.id, m.created_at, ts_rank({PG_DOCUMENT}, {PG_QUERY}, 1) AS rank
    FROM messages AS m
    WHERE {PG_DOCUMENT} @@ {PG_QUERY} AND m.deleted_at IS NULL AND {{scope}}
    ORDER BY rank DESC, m.created_at DESC, m.id
    LIMIT :limit
)
SELECT ranked.id, ts_headline('english', {_PG_BODY}, {PG_QUERY}, :options) AS snippet
FROM ranked JOIN messages AS m ON m.id = ranked.id
ORDER BY ranked.rank DESC, ranked.created_at DESC, ranked.id
"""


@dataclass(frozen=True)
class Terms:
    """The words of a query, and whether the last one also matches as a prefix."""

    words: list[str]
    prefix: bool


def terms(q: str) -> Terms:
    """Cut user text into distinct words (ignoring case), the word it ends in last."""
    found = _WORD.findall(q)
    prefix = bool(found) and _WORD.match(q[-1]) is not None
    if prefix:
        last = found.pop()
        found = [word for word in found if word.lower() != last.lower()] + [last]
    distinct: dict[str, str] = {}
    for word in found:
        distinct.setdefault(word.lower(), word)
    return Terms(list(distinct.values()), prefix)


def fts5_query(t: Terms) -> str:
    """An FTS5 query of quoted strings, implicitly ANDed (words never contain a quote)."""
    parts = [f'"{word}"' for word in t.words]
    if t.prefix:
        parts[-1] += "*"
    return " ".join(parts)


def tsquery(t: Terms) -> str:
    """A `to_tsquery` text of quoted lexemes joined by `&` (words never contain a quote)."""
    parts = [f"'{word}'" for word in t.words]
    if t.prefix:
        parts[-1] += ":*"
    return " & ".join(parts)


def statement(dialect: str, *, everywhere: bool) -> TextClause:
    """The search query of a backend, over one group (`:group_id`) or the caller's groups."""
    scope = _IN_MY_GROUPS if everywhere else _IN_GROUP
    return text((_POSTGRES if dialect == "postgresql" else _SQLITE).format(scope=scope))


def _parameters(dialect: str, t: Terms, start: str, stop: str) -> dict[str, Any]:
    if dialect == "postgresql":
        options = f"StartSel={start}, StopSel={stop}, MaxWords={SNIPPET_WORDS}, MinWords=12"
        return {"query": tsquery(t), "options": options}
    return {"query": fts5_query(t), "start": start, "stop": stop, "words": SNIPPET_WORDS}


def _snippet(raw: str, start: str, stop: str) -> str:
    """The backend's snippet with our markers, on one line; no other marker survives."""
    plain = raw.replace(MARK_START, "").replace(MARK_END, "")
    return " ".join(plain.replace(start, MARK_START).replace(stop, MARK_END).split())


async def _run(
    ctx: Ctx, q: str, limit: int, *, group_id: str | None = None, user_id: str | None = None
) -> list[tuple[str, str]]:
    """(message id, snippet) of the best matches, best first."""
    t = terms(q)
    if not t.words:
        return []
    dialect = ctx.db.get_bind().dialect.name
    # Markers no message can contain (random per query); swapped for ours afterwards.
    nonce = secrets.token_hex(8)
    start, stop = f"s{nonce}", f"e{nonce}"
    params = {**_parameters(dialect, t, start, stop), "limit": limit}
    if group_id is not None:
        params["group_id"] = group_id
    else:
        params["user_id"] = user_id
    rows = await ctx.db.execute(statement(dialect, everywhere=group_id is None), params)
    return [(mid, _snippet(raw or "", start, stop)) for mid, raw in rows.all()]


async def _hits(ctx: Ctx, viewer_id: str, found: list[tuple[str, str]]) -> list[SearchHit]:
    if not found:
        return []
    ids = [mid for mid, _ in found]
    messages = {m.id: m for m in await ctx.db.scalars(select(Message).where(Message.id.in_(ids)))}
    blocked = await views.blocked_among(ctx, viewer_id, {m.sender_id for m in messages.values()})
    return [
        SearchHit(
            message_id=m.id,
            group_id=m.group_id,
            seq=m.seq,
            kind=m.kind,
            created_at=m.created_at,
            sender=views.user_out(m.sender),
            sender_blocked=m.sender_id in blocked,
            snippet=snippet,
        )
        for mid, snippet in found
        if (m := messages.get(mid)) is not None
    ]


async def search_group(
    ctx: Ctx, user: User, group_id: str, *, q: str, limit: int
) -> list[SearchHit]:
    """The best `limit` matches in one group; 404 group_not_found unless a member."""
    await require_role(ctx, group_id, user.id)
    return await _hits(ctx, user.id, await _run(ctx, q, limit, group_id=group_id))


async def search_all(ctx: Ctx, user: User, *, q: str, limit: int) -> list[SearchHit]:
    """The best `limit` matches in every group the caller is a member of now."""
    return await _hits(ctx, user.id, await _run(ctx, q, limit, user_id=user.id))
