"""Where each memo's blobs live in the store: one prefix per message, server-made names."""


def voice_prefix(message_id: str) -> str:
    return f"voice/{message_id}/"


def original_key(message_id: str) -> str:
    return f"voice/{message_id}/original"


def audio_key(message_id: str) -> str:
    return f"voice/{message_id}/audio.ogg"


def mp3_key(message_id: str) -> str:
    return f"voice/{message_id}/audio.mp3"


def export_prefix(user_id: str) -> str:
    """Where a person's data exports live (app.services.exports)."""
    return f"exports/{user_id}/"


def export_key(user_id: str, export_id: str) -> str:
    return f"exports/{user_id}/{export_id}.zip"


def group_export_prefix(group_id: str) -> str:
    """Where a group's exports by its owner live (app.services.group_exports)."""
    return f"group-exports/{group_id}/"


def group_export_key(group_id: str, export_id: str) -> str:
    return f"group-exports/{group_id}/{export_id}.zip"


def avatar_prefix(user_id: str) -> str:
    """Where a person's avatar lives (app.services.avatars)."""
    return f"avatars/{user_id}/"


def avatar_key(user_id: str, avatar_id: str) -> str:
    return f"avatars/{user_id}/{avatar_id}.webp"
