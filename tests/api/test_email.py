"""Email on the account against a real SMTP server (aiosmtpd with STARTTLS and AUTH):
verification links, password resets by mail, outages, and no secret in the logs."""

import asyncio
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from websockets.exceptions import ConnectionClosed

from app.config import Settings
from app.models import EmailToken, OutboxItem, utcnow
from tests.helpers import Api, Person, assert_error, running
from tests.realtime.conftest import ws, ws_url  # noqa: F401 (websocket fixtures)
from tests.support.smtp import ReceivedMail, SmtpServer, running_smtp

SMTP_PASSWORD = "Sm7p-pa55/word%only-here"
PUBLIC_URL = "https://earshot.example.org"


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with running_smtp(tmp_path, tls="starttls", users={"mailer": SMTP_PASSWORD}) as server:
        yield server


@pytest.fixture
def settings(settings: Settings, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    assert smtp.cert_path is not None
    monkeypatch.setenv("SSL_CERT_FILE", str(smtp.cert_path))  # trust the test server
    return settings.model_copy(
        update={
            "smtp_url": SecretStr(smtp.url),
            "mail_from": "Earshot <earshot@example.org>",
            "public_url": PUBLIC_URL,
            "outbox_retry_s": 0.2,
        }
    )


def link_token(mail: ReceivedMail, path: str) -> str:
    """The token of the one link in the mail, the same in its text and its HTML."""
    links = re.findall(r"https://\S+", mail.text)
    assert len(links) == 1, mail.text
    parts = urlsplit(links[0])
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{PUBLIC_URL}{path}"
    token = parse_qs(parts.query)["token"][0]
    assert f'href="{links[0]}"' in mail.html
    return token


async def register(api: Api, name: str, email: str | None = None, **extra: Any) -> Person:
    body = {"handle": name, "display_name": name.title(), "password": "correct horse", **extra}
    if email:
        body["email"] = email
    r = await api.client.post("/api/v1/auth/register", json=body)
    assert r.status_code == 201, r.text
    return Person(name, r.json()["token"], r.json()["user"]["id"])


async def verified(api: Api, smtp: SmtpServer, name: str, email: str) -> Person:
    person = await register(api, name, email)
    mail = (await smtp.wait_for(len(smtp.messages) + 1))[-1]
    await api.ok(
        None, "POST", "/auth/verify-email", json={"token": link_token(mail, "/verify-email")}
    )
    return person


async def test_a_registration_address_is_mailed_a_link_that_verifies_it_once(
    api: Api, smtp: SmtpServer
) -> None:
    body = {"handle": "amy", "display_name": "Amy <b>&</b>", "password": "correct horse"}
    r = await api.client.post("/api/v1/auth/register", json={**body, "email": "Amy@Example.ORG"})
    assert r.status_code == 201, r.text
    amy = Person("amy", r.json()["token"], r.json()["user"]["id"])
    assert "email" not in r.json()["user"], "the public user object never carries it"
    me = await api.ok(amy, "GET", "/me")
    assert (me["email"], me["email_verified"]) == ("amy@example.org", False)

    [mail] = await smtp.wait_for(1)  # delivered over STARTTLS with AUTH: the server asks both
    assert mail.rcpt_tos == ["amy@example.org"]
    assert mail.message["From"] == "Earshot <earshot@example.org>"
    assert mail.message["Subject"] == "Confirm your email address for Earshot"
    assert "Amy <b>&</b>" in mail.text
    assert "Amy &lt;b&gt;&amp;&lt;/b&gt;" in mail.html and "<b>" not in mail.html
    token = link_token(mail, "/verify-email")

    me = await api.ok(None, "POST", "/auth/verify-email", json={"token": token})
    assert (me["id"], me["email_verified"]) == (amy.id, True)
    assert (await api.ok(amy, "GET", "/me"))["email_verified"] is True
    again = await api.call(None, "POST", "/auth/verify-email", json={"token": token})
    assert_error(again, 422, "invalid_token")


async def test_a_changed_address_is_unverified_and_only_its_own_link_verifies(
    api: Api, smtp: SmtpServer
) -> None:
    amy = await verified(api, smtp, "amy", "amy@example.org")
    same = await api.ok(amy, "PATCH", "/me", json={"email": "AMY@example.org"})
    assert same["email_verified"] is True, "the same verified address changes nothing"

    await api.ok(amy, "PATCH", "/me", json={"email": "first@example.org"})
    first = (await smtp.wait_for(2))[-1]
    me = await api.ok(amy, "PATCH", "/me", json={"email": "second@example.org"})
    assert (me["email"], me["email_verified"]) == ("second@example.org", False)
    second = (await smtp.wait_for(3))[-1]
    assert first.rcpt_tos == ["first@example.org"]
    assert second.rcpt_tos == ["second@example.org"]
    stale = await api.call(
        None, "POST", "/auth/verify-email", json={"token": link_token(first, "/verify-email")}
    )
    assert_error(stale, 422, "invalid_token")
    assert (await api.ok(amy, "GET", "/me"))["email_verified"] is False
    await api.ok(
        None, "POST", "/auth/verify-email", json={"token": link_token(second, "/verify-email")}
    )
    assert (await api.ok(amy, "GET", "/me"))["email_verified"] is True

    removed = await api.ok(amy, "PATCH", "/me", json={"email": None})
    assert (removed["email"], removed["email_verified"]) == (None, False)


async def test_an_address_verified_by_another_account_first_is_refused(
    api: Api, smtp: SmtpServer
) -> None:
    await verified(api, smtp, "amy", "shared@example.org")
    await register(api, "ben", "shared@example.org")
    [*_, mail] = await smtp.wait_for(2)
    r = await api.call(
        None, "POST", "/auth/verify-email", json={"token": link_token(mail, "/verify-email")}
    )
    assert_error(r, 409, "email_taken")


async def test_bad_addresses_are_refused_and_change_nothing(api: Api) -> None:
    amy = await register(api, "amy")
    for bad in (
        "no-at-sign",
        "a@b",
        "a b@example.org",
        "a@example.org\r\nBcc: x@evil.test",
        "<a>@example.org",
        "x" * 250 + "@example.org",
    ):
        assert_error(await api.call(amy, "PATCH", "/me", json={"email": bad}), 422)
    assert (await api.ok(amy, "GET", "/me"))["email"] is None


async def test_a_reset_mails_only_a_verified_address_and_sets_the_password_once(
    api: Api,
    smtp: SmtpServer,
    app: Any,
    ws: Any,  # noqa: F811
) -> None:
    amy = await verified(api, smtp, "amy", "amy@example.org")
    await register(api, "ben", "ben@example.org")  # never verified
    await smtp.wait_for(2)
    laptop, phone = await ws(amy), await ws(amy)

    for login in ("ben", "ben@example.org", "nobody", "nobody@example.org"):
        r = await api.call(None, "POST", "/auth/password-reset", json={"login": login})
        assert r.status_code == 202 and r.content == b"", r.text
    r = await api.call(None, "POST", "/auth/password-reset", json={"login": "AMY"})
    assert r.status_code == 202
    [*_, by_handle] = await smtp.wait_for(3)
    await api.ok(None, "POST", "/auth/password-reset", json={"login": "amy@example.org"})
    [*_, by_address] = await smtp.wait_for(4)
    assert by_handle.rcpt_tos == by_address.rcpt_tos == ["amy@example.org"]
    assert by_handle.message["Subject"] == "Reset your Earshot password"
    await _outbox_empty(app)
    assert len(smtp.messages) == 4, "nothing for the unverified or unknown logins"

    token = link_token(by_handle, "/reset-password")
    weak = {"token": token, "new_password": "qwertyuiop"}
    r = await api.call(None, "POST", "/auth/password-reset/confirm", json=weak)
    assert_error(r, 422, "weak_password")
    body = {"token": token, "new_password": "maple syrup on snow"}
    r = await api.call(None, "POST", "/auth/password-reset/confirm", json=body)
    assert r.status_code == 204, r.text

    assert_error(await api.call(amy, "GET", "/me"), 401)
    for conn in (laptop, phone):
        with pytest.raises(ConnectionClosed) as closed:
            await conn.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
    login = {"handle": "amy", "password": "correct horse"}
    assert_error(await api.client.post("/api/v1/auth/login", json=login), 401)
    login["password"] = "maple syrup on snow"
    assert (await api.client.post("/api/v1/auth/login", json=login)).status_code == 200

    for used in (token, link_token(by_address, "/reset-password")):  # the other was revoked
        body = {"token": used, "new_password": "another long phrase"}
        r = await api.call(None, "POST", "/auth/password-reset/confirm", json=body)
        assert_error(r, 422, "invalid_token")


async def test_an_expired_reset_token_is_refused(api: Api, smtp: SmtpServer, app: Any) -> None:
    await verified(api, smtp, "amy", "amy@example.org")
    await api.ok(None, "POST", "/auth/password-reset", json={"login": "amy"})
    [*_, mail] = await smtp.wait_for(2)
    async with app.state.runtime.sessions() as db:
        await db.execute(
            update(EmailToken)
            .where(EmailToken.purpose == "reset")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()
    body = {"token": link_token(mail, "/reset-password"), "new_password": "maple syrup on snow"}
    r = await api.call(None, "POST", "/auth/password-reset/confirm", json=body)
    assert_error(r, 422, "invalid_token")
    login = {"handle": "amy", "password": "correct horse"}
    assert (await api.client.post("/api/v1/auth/login", json=login)).status_code == 200


async def test_the_database_keeps_only_token_hashes(api: Api, smtp: SmtpServer, app: Any) -> None:
    await register(api, "amy", "amy@example.org")
    [mail] = await smtp.wait_for(1)
    token = link_token(mail, "/verify-email")
    async with app.state.runtime.sessions() as db:
        hashes = list(await db.scalars(select(EmailToken.token_hash)))
    assert len(hashes) == 1 and token not in hashes[0]


async def _outbox_empty(app: Any, timeout_s: float = 10) -> None:

    for _ in range(int(timeout_s / 0.05)):
        async with app.state.runtime.sessions() as db:
            if await db.scalar(select(OutboxItem.id).limit(1)) is None:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox did not empty")


async def _attempts(app: Any) -> list[OutboxItem]:
    async with app.state.runtime.sessions() as db:
        return list(await db.scalars(select(OutboxItem)))


async def test_a_mail_server_outage_delays_the_mail_which_arrives_once(
    api: Api, smtp: SmtpServer, app: Any, caplog: pytest.LogCaptureFixture
) -> None:

    caplog.set_level(logging.DEBUG)
    smtp.stop()
    await register(api, "amy", "amy@example.org")  # answers at once: never in the request path
    for _ in range(200):
        items = await _attempts(app)
        if items and items[0].attempts >= 2:
            break
        await asyncio.sleep(0.05)
    assert items[0].attempts >= 2 and items[0].failed_at is None, "retried, not given up"
    assert items[0].last_error and SMTP_PASSWORD not in items[0].last_error
    smtp.start()
    [mail] = await smtp.wait_for(1, timeout_s=15)
    assert mail.rcpt_tos == ["amy@example.org"]
    await _outbox_empty(app)
    await asyncio.sleep(0.5)
    assert len(smtp.messages) == 1, "delivered once"
    assert SMTP_PASSWORD not in caplog.text


async def test_wrong_smtp_credentials_are_retried_and_never_logged(
    settings: Settings, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:

    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-secret-not-for-logs"
    url = smtp.url.replace(quote(SMTP_PASSWORD, safe=""), wrong)
    assert wrong in url
    async with running(settings.model_copy(update={"smtp_url": SecretStr(url)})) as (app, client):
        api = Api(client)
        await register(api, "amy", "amy@example.org")
        for _ in range(200):
            items = await _attempts(app)
            if items and items[0].attempts >= 1:
                break
            await asyncio.sleep(0.05)
        assert items[0].attempts >= 1 and items[0].failed_at is None
        assert "535" in (items[0].last_error or ""), items[0].last_error
    assert smtp.messages == []
    assert wrong not in caplog.text and wrong not in (items[0].last_error or "")
    assert wrong not in repr(settings.model_copy(update={"smtp_url": SecretStr(url)}))


async def test_without_smtp_settings_email_features_answer_409_and_the_rest_works(
    settings: Settings,
) -> None:
    bare = settings.model_copy(update={"smtp_url": None})
    async with running(bare) as (_, client):
        api = Api(client)
        body = {"handle": "amy", "display_name": "Amy", "password": "correct horse"}
        r = await client.post("/api/v1/auth/register", json={**body, "email": "a@example.org"})
        assert_error(r, 409, "email_not_configured")
        amy = await register(api, "amy")
        assert_error(
            await api.call(amy, "PATCH", "/me", json={"email": "a@example.org"}),
            409,
            "email_not_configured",
        )
        r = await api.call(None, "POST", "/auth/password-reset", json={"login": "amy"})
        assert_error(r, 409, "email_not_configured")
        me = await api.ok(amy, "PATCH", "/me", json={"notification_previews": True})
        assert (me["email"], me["email_verified"], me["notification_previews"]) == (
            None,
            False,
            True,
        )
        r = await api.call(None, "POST", "/auth/verify-email", json={"token": "abc"})
        assert_error(r, 422, "invalid_token")


async def test_reset_requests_are_rate_limited_per_login(settings: Settings) -> None:
    limited = settings.model_copy(update={"limit_password_resets_per_hour": 2})
    async with running(limited) as (_, client):
        api = Api(client)
        for _ in range(2):
            r = await api.call(None, "POST", "/auth/password-reset", json={"login": "nobody"})
            assert r.status_code == 202
        r = await api.call(None, "POST", "/auth/password-reset", json={"login": "NOBODY"})
        assert_error(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) > 0
