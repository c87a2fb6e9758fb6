"""The names the code, the database and the clients share: event types and memo statuses.

Plain `Final` strings rather than enums, so that they are stored, compared and sent
exactly as docs/api.md spells them.
"""

from typing import Final


class EventType:
    """The `type` of a durable event (stored, replayed, and sent on the websocket)."""

    MESSAGE_CREATED: Final = "message.created"
    MESSAGE_UPDATED: Final = "message.updated"
    MESSAGE_DELETED: Final = "message.deleted"
    RECEIPT_LISTENED: Final = "receipt.listened"
    REACTION_ADDED: Final = "reaction.added"
    REACTION_REMOVED: Final = "reaction.removed"
    MEMBER_JOINED: Final = "member.joined"
    MEMBER_ROLE_CHANGED: Final = "member.role_changed"
    MEMBER_LEFT: Final = "member.left"
    GROUP_UPDATED: Final = "group.updated"
    PIN_ADDED: Final = "pin.added"
    PIN_REMOVED: Final = "pin.removed"
    GROUP_DELETED: Final = "group.deleted"  # announced, never stored: its group is gone
    MODERATION_LOGGED: Final = "moderation.logged"


class VoiceStatus:
    """Where a voice memo's audio is: recorded live, converting, playable, or not."""

    LIVE: Final = "live"  # a push-to-talk memo still being recorded and relayed
    PROCESSING: Final = "processing"
    READY: Final = "ready"
    FAILED: Final = "failed"


UNFINISHED: Final = (VoiceStatus.LIVE, VoiceStatus.PROCESSING)  # a lease names who works on it


class TranscriptStatus:
    PENDING: Final = "pending"
    OFF: Final = "off"
    READY: Final = "ready"
    FAILED: Final = "failed"
