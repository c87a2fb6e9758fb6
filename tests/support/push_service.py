"""A real Web Push service for tests (RFC 8030 delivery, RFC 8291 `aes128gcm`
encryption, RFC 8292 VAPID) on a free 127.0.0.1 port.

`push = push_service` (fixture); `sub = push.subscribe()` makes a subscription the way
a browser does (a P-256 key pair and a 16-byte auth secret; `sub.info()` is what
`PushSubscription.toJSON()` gives the web client). A POST to `sub.endpoint`:
- needs `Authorization: vapid t=<JWT>, k=<public key>`: ES256 signed by `k`, `aud` =
  this service's origin, `exp` in the future and at most 24 h away, a `sub` contact
  (Apple insists on it); else 401. With `subscribe(application_server_key=...)` a
  different `k` is 403, as browsers bind a subscription to the server's key;
- needs `TTL`, `Content-Encoding: aes128gcm` and a body of at most 4096 bytes (400/413),
  `Urgency` and `Topic` must be valid when present (400);
- is decrypted with the subscription's private key and auth secret (`http_ece`) and
  recorded in `sub.messages` (payload, TTL, urgency, topic, VAPID claims); 201 Created.
`sub.answer(410)` (or 404/429/500, optionally `times=`) makes it refuse instead; an
unknown endpoint is 404. The server runs in a thread, so it serves senders in this
process (any event loop or none) and in child processes alike; `await sub.wait_for(n)`
polls without blocking the event loop.
"""

import base64
import contextlib
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.support import wait_for_items

MAX_PAYLOAD = 4096  # RFC 8291: push services need not accept more
MAX_VAPID_LIFETIME_S = 24 * 3600
URGENCIES = {"very-low", "low", "normal", "high"}
TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")  # RFC 8030 section 5.4


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_point(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class PushMessage:
    payload: bytes
    ttl: int
    urgency: str | None
    topic: str | None
    vapid: dict[str, Any]  # the JWT's claims (aud, exp, sub)
    vapid_key: str  # the `k` the sender signed with (base64url)
    arrived: float = field(default_factory=time.perf_counter)  # for bench/push.py

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class Subscription:
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    application_server_key: str | None = None
    messages: list[PushMessage] = field(default_factory=list)
    _answers: list[int] = field(default_factory=list)  # refusals still to give
    _always: int | None = None

    @property
    def p256dh(self) -> str:
        return b64url(public_point(self.private_key))

    def info(self) -> dict[str, Any]:
        """As a browser's `PushSubscription.toJSON()`."""
        keys = {"p256dh": self.p256dh, "auth": b64url(self.auth)}
        return {"endpoint": self.endpoint, "expirationTime": None, "keys": keys}

    def answer(self, status: int | None, times: int | None = None) -> None:
        """Refuse the next `times` pushes (every push if None) with `status`; None: accept."""
        self._answers, self._always = ([status] * times, None) if times else ([], status)

    def next_refusal(self) -> int | None:
        return self._answers.pop(0) if self._answers else self._always

    async def wait_for(self, count: int = 1, timeout_s: float = 10.0) -> list[PushMessage]:
        return await wait_for_items(self.messages, count, timeout_s, "pushes")


def verify_vapid(authorization: str, origin: str) -> tuple[dict[str, Any], str]:
    """The claims and key of a valid `vapid t=..., k=...` header; Refused(401) otherwise."""
    scheme, _, params = authorization.partition(" ")
    fields = dict(part.strip().split("=", 1) for part in params.split(",") if "=" in part)
    if scheme.lower() != "vapid" or not {"t", "k"} <= fields.keys():
        raise Refused(401, "Authorization must be `vapid t=..., k=...` (RFC 8292)")
    try:
        point = b64url_decode(fields["k"])
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        header_b64, claims_b64, signature_b64 = fields["t"].split(".")
        header = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(claims_b64))
        signature = b64url_decode(signature_b64)
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        assert header.get("alg") == "ES256" and len(signature) == 64
        key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except (ValueError, AssertionError, InvalidSignature) as error:
        raise Refused(401, f"bad VAPID token: {error!r}") from error
    if claims.get("aud") != origin:
        raise Refused(401, f"VAPID aud must be {origin}")
    lifetime = claims["exp"] - time.time() if isinstance(claims.get("exp"), int) else -1
    if not 0 < lifetime <= MAX_VAPID_LIFETIME_S:
        raise Refused(401, "VAPID exp must be in the future and at most 24 h away")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise Refused(401, "VAPID sub must be a mailto: or https: contact")
    return claims, fields["k"]


class PushService:
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.subscriptions: dict[str, Subscription] = {}
        self.lock = threading.Lock()

    def subscribe(self, application_server_key: str | None = None) -> Subscription:
        token = secrets.token_urlsafe(16)
        sub = Subscription(
            endpoint=f"{self.origin}/push/{token}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth=os.urandom(16),
            application_server_key=application_server_key,
        )
        self.subscriptions[token] = sub
        return sub

    def receive(self, path: str, headers: Any, body: bytes) -> None:
        """Check and record one push; Refused(status) says why not."""
        sub = self.subscriptions.get(path.removeprefix("/push/"))
        if sub is None:
            raise Refused(404, "no such subscription")
        refusal = sub.next_refusal()
        if refusal is not None:
            raise Refused(refusal, "told to refuse")
        claims, key = verify_vapid(headers.get("authorization", ""), self.origin)
        if sub.application_server_key and key != sub.application_server_key:
            raise Refused(403, "not the applicationServerKey this subscription was made with")
        ttl, urgency, topic = headers.get("ttl"), headers.get("urgency"), headers.get("topic")
        if ttl is None or not ttl.isdigit():
            raise Refused(400, "TTL header required (RFC 8030 section 5.2)")
        if urgency is not None and urgency not in URGENCIES:
            raise Refused(400, f"bad Urgency {urgency!r}")
        if topic is not None and not TOPIC.fullmatch(topic):
            raise Refused(400, "Topic must be at most 32 base64url characters")
        if headers.get("content-encoding") != "aes128gcm":
            raise Refused(400, "Content-Encoding must be aes128gcm (RFC 8291)")
        if len(body) > MAX_PAYLOAD:
            raise Refused(413, "payload over 4096 bytes")
        try:
            payload = http_ece.decrypt(
                body, private_key=sub.private_key, auth_secret=sub.auth, version="aes128gcm"
            )
        except Exception as error:  # http_ece raises several kinds
            raise Refused(400, f"cannot decrypt: {error!r}") from error
        with self.lock:
            sub.messages.append(PushMessage(payload, int(ttl), urgency, topic, claims, key))


def _handler(service: PushService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                service.receive(self.path, self.headers, body)
                self.send_response(201)
                self.send_header("Location", f"/message/{secrets.token_urlsafe(8)}")
                reason = b""
            except Refused as refused:
                self.send_response(refused.status)
                if refused.status == 429:
                    self.send_header("Retry-After", "1")
                reason = str(refused).encode()
            self.send_header("Content-Length", str(len(reason)))
            self.end_headers()
            self.wfile.write(reason)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests read `messages`

    return Handler


@contextlib.contextmanager
def running_push_service() -> Iterator[PushService]:
    """A push service in a thread until the block ends (also for bench/)."""
    service = PushService("")
    try:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(service))
    except OSError as error:
        pytest.fail(f"the push service cannot listen on 127.0.0.1: {error}")
    server.daemon_threads = True
    service.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="push-service", daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def push_service() -> Iterator[PushService]:
    with running_push_service() as service:
        yield service
