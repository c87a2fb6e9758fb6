"""A real SMTP server for tests: aiosmtpd's Controller on a free 127.0.0.1 port.

`smtp_server` (fixture) accepts mail and keeps each as a `ReceivedMail` (envelope plus
the message parsed by the `email` package). For other shapes use `running_smtp(...)`:
- `tls="starttls"` (STARTTLS offered and required before MAIL) or `tls="implicit"`
  (TLS from the first byte, as `smtps://` on port 465), with a self-signed certificate
  for 127.0.0.1 made at start; trust `server.cert_path` (e.g. SSL_CERT_FILE for a
  child process, or `ssl.create_default_context(cafile=...)`);
- `users={"name": "password"}` requires AUTH (PLAIN/LOGIN), also without TLS;
- `server.stop()` / `server.start()` take it down and bring it back on the same port
  (a mail server outage for outbox retry tests); `server.refuse("451 ...", times=n)`
  answers the next n messages with a temporary failure instead.
`smtp_url` gives the `smtp://` / `smtps://` URL a setting like EARSHOT_SMTP_URL takes.
"""

import contextlib
import datetime
import email
import email.policy
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.process import free_port
from tests.support import wait_for_items


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part else ""


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 and localhost (PEM files in `directory`)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, False, False, False),
            critical=True,
        )  # digitalSignature and keyCertSign: its own trust anchor, also under strict checks
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Handler:
    def __init__(self, server: "SmtpServer") -> None:
        self.server = server

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.server.refusals:
            return self.server.refusals.pop(0)
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        mail = ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message, raw)
        self.server.messages.append(mail)
        return "250 2.0.0 OK: queued"


class SmtpServer:
    def __init__(
        self,
        *,
        tls: Literal["none", "starttls", "implicit"],
        users: dict[str, str] | None,
        cert_dir: Path,
    ) -> None:
        self.host, self.port = "127.0.0.1", free_port()
        self.tls, self.users = tls, users or {}
        self.messages: list[ReceivedMail] = []
        self.refusals: list[str] = []
        self.cert_path: Path | None = None
        self._controller: Controller | None = None
        context = None
        if tls != "none":
            self.cert_path, key_path = self_signed_certificate(cert_dir)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.cert_path, key_path)
        self._context = context

    @property
    def url(self) -> str:
        """smtp:// (plain or STARTTLS) or smtps:// (implicit TLS), with the credentials."""
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        user, password = next(iter(self.users.items()), (None, None))
        auth = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user else ""
        return f"{scheme}://{auth}{self.host}:{self.port}"

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
        ok = isinstance(data, LoginPassword) and self.users.get(
            data.login.decode()
        ) == data.password.decode("utf-8", "replace")
        return AuthResult(success=ok, handled=False)  # handled=True would mean "I replied"

    def start(self) -> "SmtpServer":
        assert self._controller is None, "already running"
        options: dict[str, Any] = {}
        if self.tls == "starttls":
            options |= {"tls_context": self._context, "require_starttls": True}
        if self.users:
            options |= {"authenticator": self._authenticate, "auth_required": True}
            # aiosmtpd counts only STARTTLS as TLS; implicit TLS is TLS from the first byte
            options |= {"auth_require_tls": self.tls == "starttls"}
        controller = Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            ssl_context=self._context if self.tls == "implicit" else None,
            server_hostname="127.0.0.1",
            **options,
        )
        try:
            controller.start()
        except Exception as error:  # aiosmtpd wraps bind and TLS errors in several types
            pytest.fail(f"the SMTP server cannot start on {self.host}:{self.port}: {error!r}")
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse(self, reply: str = "451 4.3.0 Try again later", times: int = 1) -> None:
        self.refusals.extend([reply] * times)

    async def wait_for(self, count: int = 1, timeout_s: float = 10.0) -> list[ReceivedMail]:
        return await wait_for_items(self.messages, count, timeout_s, "mails")


@contextlib.contextmanager
def running_smtp(
    base: Path,
    *,
    tls: Literal["none", "starttls", "implicit"] = "none",
    users: dict[str, str] | None = None,
) -> Iterator[SmtpServer]:
    """An SMTP server until the block ends (also for bench/)."""
    server = SmtpServer(tls=tls, users=users, cert_dir=base).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpServer]:
    with running_smtp(tmp_path) as server:
        yield server
