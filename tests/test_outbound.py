"""Outbound requests to user-supplied URLs: what is refused, and that a request goes to
the address that was checked, whatever the host name would resolve to by then."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app import outbound


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.1", False),
        ("10.0.0.8", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:10.0.0.1", False),  # IPv4-mapped private
        ("::ffff:93.184.215.14", True),
    ],
)
def test_only_global_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert outbound.is_public(address) is public


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://93.184.215.14/push", "not_https"),
        ("https://user:pw@93.184.215.14/push", "invalid"),
        ("https:///push", "invalid"),
        ("https://93.184.215.14:99999/push", "invalid"),
        ("https://exämple.com/push", "invalid"),
        ("https://x/" + "a" * 2048, "invalid"),
        ("https://127.0.0.1/push", "not_public"),
        ("https://localhost/push", "not_public"),
        ("https://0x7f000001/push", "not_public"),  # 127.0.0.1 spelled as one number
        ("https://nothing.invalid/push", "unresolvable"),
    ],
)
async def test_refused_urls_say_why(url: str, reason: str) -> None:
    with pytest.raises(outbound.Refused) as refused:
        await outbound.resolve(url, allow_insecure=False)
    assert refused.value.reason == reason


async def test_a_public_address_is_accepted_and_pinned() -> None:
    target = await outbound.resolve("https://93.184.215.14/push/abc", allow_insecure=False)
    assert (target.host, target.port, target.address) == ("93.184.215.14", 443, "93.184.215.14")


class Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []
    answer = 201
    body = b""

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length") or 0)
        Recorder.seen.append(
            {"host": self.headers["host"], "path": self.path, "body": self.rfile.read(length)}
        )
        self.send_response(Recorder.answer)
        self.send_header("Location", "http://169.254.169.254/latest/meta-data")
        self.send_header("Content-Length", str(len(Recorder.body)))
        self.end_headers()
        self.wfile.write(Recorder.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[int]:
    Recorder.seen, Recorder.answer, Recorder.body = [], 201, b""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


async def test_the_request_goes_to_the_checked_address_not_a_new_lookup(recorder: int) -> None:
    """The host name no longer resolves at all (or would give another address): the
    request still reaches the address checked, with the name in its Host header."""
    target = outbound.Target(
        url=f"http://push.example.invalid:{recorder}/push/abc?x=1",
        scheme="http",
        host="push.example.invalid",
        port=recorder,
        address="127.0.0.1",
    )
    async with outbound.client(5) as http:
        answer = await outbound.post(http, target, b"sealed", {"TTL": "60"})
    assert answer.status == 201
    assert Recorder.seen == [
        {"host": f"push.example.invalid:{recorder}", "path": "/push/abc?x=1", "body": b"sealed"}
    ]


async def test_redirects_are_not_followed_and_answers_are_read_only_so_far(
    recorder: int,
) -> None:
    Recorder.answer, Recorder.body = 307, b"x" * (outbound.MAX_RESPONSE_BYTES * 3)
    target = await outbound.resolve(f"http://127.0.0.1:{recorder}/p", allow_insecure=True)
    async with outbound.client(5) as http:
        answer = await outbound.post(http, target, b"", {})
    assert answer.status == 307 and len(answer.body) == outbound.MAX_RESPONSE_BYTES
    assert len(Recorder.seen) == 1  # the metadata address in Location was never asked
