"""Signed, expiring audio URLs: an <audio> tag can play them without an Authorization header.

The signature is an HMAC-SHA256, keyed by the server secret, of the path and
the expiry. Expiries are rounded up to the hour so that everyone who sees a
message within the same hour gets the same URL, which lets an event be
serialized once for all its recipients.
"""

import base64
import hashlib
import hmac
import time

from app.errors import Forbidden

AUDIO_PATH = "/api/v1/audio/{message_id}"
_ROUND_S = 3600


def _signature(secret: bytes, path: str, expires: int) -> str:
    mac = hmac.new(secret, f"{path}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def audio_url(secret: bytes, message_id: str, ttl_s: int, now: float | None = None) -> str:
    path = AUDIO_PATH.format(message_id=message_id)
    now = time.time() if now is None else now
    expires = (int(now + ttl_s) // _ROUND_S + 1) * _ROUND_S
    return f"{path}?exp={expires}&sig={_signature(secret, path, expires)}"


def verify(secret: bytes, path: str, expires: int, signature: str) -> None:
    """Raise 403 unless the signature is right for `path` and not expired."""
    expected = _signature(secret, path, expires)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise Forbidden("This audio link is not valid.", code="invalid_signature")
    if expires < time.time():
        raise Forbidden("This audio link has expired; fetch the message again.", code="url_expired")


def feed_audio_sig(secret: bytes, feed_id: str, token_hash: str, message_id: str) -> str:
    """The signature of a podcast feed's enclosure URL: bound to the feed's token, so
    revoking the feed (or making a new token) kills every enclosure it ever listed."""
    return _signature(secret, f"feed/{feed_id}/{token_hash}/{message_id}", 0)


def check_feed_audio(
    secret: bytes, feed_id: str, token_hash: str, message_id: str, signature: str
) -> bool:
    expected = feed_audio_sig(secret, feed_id, token_hash, message_id)
    return hmac.compare_digest(expected.encode(), signature.encode())


def unsubscribe_token(secret: bytes, user_id: str) -> str:
    """The token of a digest's one-click unsubscribe link: bound to the person, good only
    for turning their digest off (never a session), and valid until the secret changes."""
    return f"{user_id}.{_signature(secret, f'digest-unsubscribe/{user_id}', 0)}"


def unsubscribe_user(secret: bytes, token: str) -> str | None:
    """The person an unsubscribe token names, or None if it was not made here."""
    user_id, _, signature = token.partition(".")
    expected = unsubscribe_token(secret, user_id)
    return user_id if hmac.compare_digest(expected.encode(), token.encode()) and signature else None
