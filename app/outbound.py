"""Requests to addresses that users supply (push endpoints), made safely (no SSRF).

A URL is acceptable only if it is `https` and its host resolves to public
addresses only: never loopback, private, link-local (cloud metadata), shared or
reserved ranges. The check runs when the URL is stored and again before every
request, and the request then connects to the very address that was checked
(the host name still goes in `Host` and in TLS's SNI, and the certificate must
match it), so a DNS answer that changes in between (rebinding) reaches nothing.
Redirects are never followed. `allow_insecure` (tests only) also accepts `http`
and any address.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

MAX_URL_LENGTH = 2048
MAX_RESPONSE_BYTES = 64 * 1024


class Refused(Exception):
    """The URL may not be contacted; `reason` says why in a word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to for it."""

    url: str
    scheme: str
    host: str
    port: int
    address: str  # an IP address the host resolved to, checked


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolve(url: str, *, allow_insecure: bool) -> Target:
    """Check `url` and pick the address to reach it at; Refused if it may not be contacted."""
    if len(url) > MAX_URL_LENGTH or not url.isascii():
        raise Refused("invalid", f"The URL must be ASCII and at most {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("invalid", "That is not a URL.") from None
    schemes = ("https", "http") if allow_insecure else ("https",)
    if parts.scheme not in schemes:
        raise Refused("not_https", "Push endpoints must be https URLs.")
    host = parts.hostname
    if not host or parts.username or parts.password:
        raise Refused("invalid", "The URL needs a host and no user name or password.")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError):
        raise Refused("unresolvable", "The URL's host name does not resolve.") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise Refused("unresolvable", "The URL's host name does not resolve.")
    if not allow_insecure and not all(is_public(a) for a in addresses):
        raise Refused("not_public", "The URL's host is not a public internet address.")
    return Target(url=url, scheme=parts.scheme, host=host, port=port, address=addresses[0])


def client(timeout_s: float) -> httpx.AsyncClient:
    """An HTTP client for pinned requests: no proxies from the environment, no redirects."""
    return httpx.AsyncClient(
        timeout=timeout_s, trust_env=False, follow_redirects=False, http2=False
    )


@dataclass
class Answer:
    status: int
    headers: httpx.Headers
    body: bytes


async def post(
    http: httpx.AsyncClient, target: Target, body: bytes, headers: dict[str, str]
) -> Answer:
    """POST to `target` at its checked address; reads at most MAX_RESPONSE_BYTES back."""
    parts = urlsplit(target.url)
    ip = ipaddress.ip_address(target.address.split("%", 1)[0])
    netloc = f"[{ip}]" if ip.version == 6 else str(ip)
    url = parts._replace(netloc=f"{netloc}:{target.port}").geturl()
    default_port = 443 if target.scheme == "https" else 80
    host = target.host if target.port == default_port else f"{target.host}:{target.port}"
    request = http.build_request(
        "POST",
        url,
        content=body,
        headers={**headers, "Host": host},
        extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
    )
    return await send_capped(http, request, MAX_RESPONSE_BYTES)


async def send_capped(http: httpx.AsyncClient, request: httpx.Request, limit: int) -> Answer:
    """Send `request`; read at most `limit` bytes of the (raw) body back."""
    response = await http.send(request, stream=True)
    try:
        data = bytearray()
        async for chunk in response.aiter_raw():
            data += chunk[: limit - len(data)]
            if len(data) >= limit:
                break
    finally:
        await response.aclose()
    return Answer(status=response.status_code, headers=response.headers, body=bytes(data))
