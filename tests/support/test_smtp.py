"""The test SMTP server really is one: smtplib delivers plain, STARTTLS and implicit
TLS mail with AUTH, and the server can go down and come back on its port."""

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support.smtp import SmtpServer, running_smtp


def mail(subject: str = "Verify your email") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = (
        "earshot@district.org",
        "amy@d.org",
        subject,
    )
    message.set_content("Open this link: http://earshot.test/verify?token=abc")
    message.add_alternative(
        "<p><a href='http://earshot.test/verify?token=abc'>Verify</a></p>", subtype="html"
    )
    return message


def test_a_plain_message_arrives_parsed(smtp_server: SmtpServer) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        client.send_message(mail())
    [received] = smtp_server.messages
    assert received.mail_from == "earshot@district.org" and received.rcpt_tos == ["amy@d.org"]
    assert received.message["Subject"] == "Verify your email"
    assert "token=abc" in received.text and "<a href=" in received.html


def test_starttls_with_auth_is_required_and_works(tmp_path: Path) -> None:
    with running_smtp(tmp_path, tls="starttls", users={"mailer": "s3cret"}) as server:
        trusted = ssl.create_default_context(cafile=server.cert_path)
        with smtplib.SMTP(server.host, server.port) as client:
            with pytest.raises(smtplib.SMTPSenderRefused):  # no MAIL before STARTTLS
                client.send_message(mail())
        with smtplib.SMTP(server.host, server.port) as client:
            client.starttls(context=trusted)
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("mailer", "wrong")
            client.login("mailer", "s3cret")
            client.send_message(mail())
        assert len(server.messages) == 1
        assert server.url == f"smtp://mailer:s3cret@127.0.0.1:{server.port}"


def test_implicit_tls_serves_smtps(tmp_path: Path) -> None:
    with running_smtp(tmp_path, tls="implicit", users={"mailer": "p@ss word"}) as server:
        trusted = ssl.create_default_context(cafile=server.cert_path)
        with smtplib.SMTP_SSL(server.host, server.port, context=trusted) as client:
            client.login("mailer", "p@ss word")
            client.send_message(mail())
        assert len(server.messages) == 1 and server.url.startswith("smtps://mailer:p%40ss%20word@")


def test_the_server_goes_down_and_comes_back_on_its_port(smtp_server: SmtpServer) -> None:
    smtp_server.stop()
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP(smtp_server.host, smtp_server.port)
    smtp_server.start()
    smtp_server.refuse(times=1)
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.send_message(mail("first"))
        assert refused.value.smtp_code == 451
        client.send_message(mail("second"))
    assert [m.message["Subject"] for m in smtp_server.messages] == ["second"]
