"""The shapes of search results."""

from typing import Literal

from pydantic import Field

from app.schemas import Out, Timestamp, UserOut


class SearchHit(Out):
    """A message that matches a search; `snippet` marks the matched words (see README)."""

    message_id: str
    group_id: str
    seq: int
    kind: Literal["text", "voice"]
    created_at: Timestamp
    sender: UserOut
    sender_blocked: bool = False  # the caller blocked the sender
    snippet: str = Field(
        description="Text around the best match, on one line; each matched word is between "
        "U+0002 and U+0003, which appear nowhere else in it"
    )


class SearchOut(Out):
    hits: list[SearchHit]
