"""Where each memo's blobs live in the store: one prefix per message, server-made names."""


def voice_prefix(message_id: str) -> str:
    return f"voice/{message_id}/"


def original_key(message_id: str) -> str:
    return f"voice/{message_id}/original"


def audio_key(message_id: str) -> str:
    return f"voice/{message_id}/audio.ogg"


def mp3_key(message_id: str) -> str:
    return f"voice/{message_id}/audio.mp3"
