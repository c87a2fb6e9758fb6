"""Sending email: the outbox's `email.send` handler, over SMTP with aiosmtplib.

aiosmtplib (maintained, asyncio-native) speaks STARTTLS, implicit TLS and AUTH
without blocking the event loop or needing a thread per mail. EARSHOT_SMTP_URL says
where: `smtp://user:password@host:587` upgrades with STARTTLS when the server
offers it; `smtps://user:password@host:465` is TLS from the first byte. Certificates
are checked against the system's trust store (SSL_CERT_FILE adds one). The URL's
password is never logged: errors name only the exception and the server's reply.

A mail is composed when it is sent, not when it is queued (`app.services.emails`
says what each kind holds), so a mail whose reason has gone (the address changed,
the account is gone) is dropped, and no token is ever written into the outbox.
"""

import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

import aiosmtplib

from app.config import Settings
from app.services import outbox
from app.services.context import Runtime

CHANNEL = "email.send"

Compose = Callable[[Runtime, outbox.Item], Awaitable[EmailMessage | None]]


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None

    def __repr__(self) -> str:  # never the password, whatever prints this
        return f"SmtpTarget({self.host}:{self.port}, implicit_tls={self.implicit_tls})"


def smtp_target(url: str) -> SmtpTarget:
    parts = urlsplit(url)
    implicit = parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname or "localhost",
        port=parts.port or (465 if implicit else 587),
        implicit_tls=implicit,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def message(
    settings: Settings,
    to: str,
    subject: str,
    text: str,
    html: str,
    *,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A plain-text mail with an HTML alternative (`html` must already be escaped), with
    any further `headers` (List-Unsubscribe, say)."""
    sender = settings.mail_from or ""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    mail["Auto-Submitted"] = "auto-generated"
    for name, value in (headers or {}).items():
        mail[name] = value
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    return mail


class Mailer:
    """The email handler of the outbox, sending through EARSHOT_SMTP_URL."""

    def __init__(self, settings: Settings, compose: Compose) -> None:
        assert settings.smtp_url
        self._compose = compose
        self._target = smtp_target(settings.smtp_url.get_secret_value())
        self._timeout_s = min(settings.smtp_timeout_s, settings.lease_s / 2)

    def handlers(self) -> dict[str, outbox.Handler]:
        return {CHANNEL: self.send}

    async def deliver(self, mail: EmailMessage) -> None:
        target = self._target
        await aiosmtplib.send(
            mail,
            hostname=target.host,
            port=target.port,
            username=target.username,
            password=target.password,
            use_tls=target.implicit_tls,
            start_tls=False if target.implicit_tls else None,  # None: when offered
            tls_context=ssl.create_default_context(),
            timeout=self._timeout_s,
        )

    async def send(self, rt: Runtime, item: outbox.Item) -> outbox.Outcome:
        mail = await self._compose(rt, item)
        if mail is None:
            return outbox.Sent()  # nothing to say any more
        try:
            await self.deliver(mail)
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPSenderRefused) as error:
            if _permanent(error):
                return outbox.Failed(f"{type(error).__name__}: the server refused the address")
            return outbox.Retry(f"{type(error).__name__}: refused for now")
        except aiosmtplib.SMTPResponseException as error:
            reason = f"{type(error).__name__} {error.code}"
            if error.code >= 500 and not isinstance(error, aiosmtplib.SMTPAuthenticationError):
                return outbox.Failed(reason)
            return outbox.Retry(reason)  # 4xx, or credentials an operator can fix
        except (aiosmtplib.SMTPException, OSError) as error:
            return outbox.Retry(f"{type(error).__name__} reaching the mail server")
        return outbox.Sent()


def _permanent(error: aiosmtplib.SMTPException) -> bool:
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return all(r.code >= 500 for r in error.recipients)
    return getattr(error, "code", 0) >= 500
