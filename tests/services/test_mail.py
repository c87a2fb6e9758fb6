"""The email handler of the outbox against a real SMTP server: implicit TLS (smtps://),
STARTTLS with AUTH, temporary and permanent refusals, and URL parsing that keeps the
password out of every representation."""

from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import pytest
from pydantic import SecretStr

from app.config import Settings
from app.services import outbox
from app.services.context import Runtime
from app.services.mail import Mailer, message, smtp_target
from tests.support.smtp import SmtpServer, running_smtp

PASSWORD = "p@ss:w/rd%secret"


def mailer(settings: Settings, server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Mailer:
    if server.cert_path is not None:
        monkeypatch.setenv("SSL_CERT_FILE", str(server.cert_path))

    async def compose(rt: Runtime, item: outbox.Item) -> EmailMessage:
        return message(configured, item.payload["to"], "Hello", "plain <text>", "<p>html</p>")

    configured = settings.model_copy(
        update={"smtp_url": SecretStr(server.url), "mail_from": "Earshot <e@example.org>"}
    )
    return Mailer(configured, compose)


def item(to: str = "amy@example.org") -> outbox.Item:
    return outbox.Item(id="i1", channel="email.send", payload={"to": to}, attempts=0, claim="c")


def test_the_url_gives_host_port_tls_and_credentials_and_hides_the_password() -> None:
    target = smtp_target(f"smtps://mailer%40example.org:{quote(PASSWORD, safe='')}@mx.test")
    assert (target.host, target.port, target.implicit_tls) == ("mx.test", 465, True)
    assert (target.username, target.password) == ("mailer@example.org", PASSWORD)
    assert PASSWORD not in repr(target) and "secret" not in str(target)
    plain = smtp_target("smtp://mx.test")
    assert (plain.port, plain.implicit_tls, plain.username, plain.password) == (
        587,
        False,
        None,
        None,
    )
    settings = Settings(smtp_url=f"smtp://u:{quote(PASSWORD, safe='')}@mx.test")  # type: ignore[arg-type]
    assert quote(PASSWORD, safe="") not in repr(settings) and "mx.test" not in repr(settings)
    with pytest.raises(ValueError, match="smtp:// or smtps://"):
        Settings(smtp_url="http://mx.test")  # type: ignore[arg-type]


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
async def test_a_mail_is_delivered_over_tls_with_auth(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tls: str
) -> None:
    with running_smtp(tmp_path, tls=tls, users={"mailer": PASSWORD}) as server:  # type: ignore[arg-type]
        sender = mailer(settings, server, monkeypatch)
        outcome = await sender.send(None, item())  # type: ignore[arg-type]
        assert outcome == outbox.Sent()
        [mail] = await server.wait_for(1)
    assert mail.rcpt_tos == ["amy@example.org"] and mail.mail_from == "e@example.org"
    assert mail.text.strip() == "plain <text>" and mail.html.strip() == "<p>html</p>"
    assert mail.message["Message-ID"] and mail.message["Date"]


async def test_an_untrusted_certificate_is_not_sent_to(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_smtp(tmp_path, tls="implicit", users={"mailer": PASSWORD}) as server:
        sender = mailer(settings, server, monkeypatch)
        monkeypatch.delenv("SSL_CERT_FILE")  # the self-signed certificate is not trusted now
        outcome = await sender.send(None, item())  # type: ignore[arg-type]
        assert isinstance(outcome, outbox.Retry) and PASSWORD not in outcome.error
        assert server.messages == []


async def test_refusals_are_retried_when_temporary_and_given_up_when_permanent(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_smtp(tmp_path) as server:
        sender = mailer(settings, server, monkeypatch)
        server.refuse("451 4.3.0 Try again later")
        temporary = await sender.send(None, item())  # type: ignore[arg-type]
        assert isinstance(temporary, outbox.Retry) and "451" in temporary.error
        server.refuse("554 5.7.1 Rejected")
        permanent = await sender.send(None, item())  # type: ignore[arg-type]
        assert isinstance(permanent, outbox.Failed) and "554" in permanent.error
        server.stop()
        down = await sender.send(None, item())  # type: ignore[arg-type]
        assert isinstance(down, outbox.Retry)
        assert server.messages == []
