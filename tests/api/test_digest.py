"""The catch-up digest against a real SMTP server (aiosmtpd with STARTTLS and AUTH): what
it says, to whom, once per morning across processes, one-click unsubscribe (RFC 8058),
and `earshot digest --now`."""

# ruff: noqa: F811 (the SMTP server and mail settings are test_email's fixtures)

import asyncio
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select, update

from app.config import Settings
from app.models import Message, OutboxItem, User, utcnow
from app.services import digest
from app.services.context import Runtime, open_runtime
from tests import audio_samples
from tests.api.test_email import PUBLIC_URL, register, settings, smtp, verified  # noqa: F401
from tests.helpers import Api, Person, assert_error
from tests.services.helpers import processed, upload
from tests.support.smtp import ReceivedMail, SmtpServer

HOSTILE = 'Ben <script>alert("x")</script> & co'


def runtime(app: Any) -> Runtime:
    return app.state.runtime  # type: ignore[no-any-return]


async def drained(app: Any, timeout_s: float = 20.0) -> None:
    """Until the outbox has sent (or dropped) everything queued so far."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with runtime(app).sessions() as db:
            if not await db.scalar(select(func.count()).select_from(OutboxItem)):
                return
        assert time.monotonic() < deadline, "the outbox did not drain"
        await asyncio.sleep(0.05)


async def memo(api: Api, app: Any, who: Person, gid: str, samples: Path, **fields: str) -> str:
    r = await upload(api, who, gid, audio_samples.client_file(samples, "mp3"), **fields)
    assert r.status_code == 202, r.text
    mid = str(r.json()["id"])
    assert (await processed(app, api, who, mid))["voice"]["status"] == "ready"
    return mid


async def set_message(app: Any, mid: str, **values: Any) -> None:
    async with runtime(app).sessions() as db:
        await db.execute(update(Message).where(Message.id == mid).values(**values))
        await db.commit()


async def digest_person(api: Api, smtp: SmtpServer, name: str, **prefs: Any) -> Person:
    person = await verified(api, smtp, name, f"{name}@example.org")
    body = {"digest": "daily", "who_can_add_me": "anyone", **prefs}
    await api.ok(person, "PATCH", "/me", json=body)
    return person


async def scene(api: Api, app: Any, smtp: SmtpServer, samples: Path, previews: bool) -> Any:
    """Amy (digest on) in "Math <club>" with Ben (a hostile name) and Cat; Eve, whom Amy
    blocked, in it too. Unheard by Amy: two memos of Ben (one a reply to her, one with a
    transcript), one live memo of Cat. Heard, her own, Eve's: left out."""
    amy = await digest_person(api, smtp, "amy", notification_previews=previews)
    ben = await api.register("ben")
    cat, eve = await api.register("cat"), await api.register("eve")
    async with runtime(app).sessions() as db:
        await db.execute(update(User).where(User.id == ben.id).values(display_name=HOSTILE))
        await db.commit()
    gid = await api.group(amy, "Math <club>")
    for who in (ben, cat, eve):
        await api.add(amy, gid, who)
    question = (await api.post(amy, gid, "What do you think?"))["id"]
    reply = await memo(api, app, ben, gid, samples, reply_to=question)
    spoken = await memo(api, app, ben, gid, samples)
    await set_message(
        app,
        spoken,
        transcript_status="ready",
        transcript_text="<img src=x onerror=alert(1)> Fractions first\nthe second line",
    )
    live = await memo(api, app, cat, gid, samples)
    await set_message(app, live, live=True)
    heard = await memo(api, app, cat, gid, samples)
    await api.ok(amy, "POST", f"/messages/{heard}/listened")
    await memo(api, app, amy, gid, samples)  # her own
    await memo(api, app, eve, gid, samples)
    await api.ok(amy, "POST", "/me/blocks", json={"user_id": eve.id})
    return amy, gid, (reply, spoken, live)


async def one_digest(app: Any, smtp: SmtpServer, handle: str | None = None) -> ReceivedMail:
    before = len(smtp.messages)
    await digest.send_now(runtime(app), handle)
    await drained(app)
    assert len(smtp.messages) == before + 1, [m.message["Subject"] for m in smtp.messages]
    return smtp.messages[-1]


def unsubscribe_link(mail: ReceivedMail) -> str:
    header = str(mail.message["List-Unsubscribe"])
    assert header.startswith("<") and header.endswith(">"), header
    return header[1:-1]


async def test_a_digest_names_what_is_unheard_per_group_and_escapes_what_people_wrote(
    api: Api, app: Any, smtp: SmtpServer, samples: Path
) -> None:
    amy, gid, memos = await scene(api, app, smtp, samples, previews=True)
    lengths = [(await api.ok(amy, "GET", f"/messages/{m}"))["voice"]["duration_ms"] for m in memos]
    assert 0 < sum(lengths) < 60_000, lengths
    mail = await one_digest(app, smtp, "amy")

    assert mail.rcpt_tos == ["amy@example.org"]
    assert mail.message["Subject"] == "Earshot: 3 unheard memos in 1 group"
    text, page = mail.text, mail.html
    assert "Math <club>" in text and "Math &lt;club&gt;" in page
    assert "3 unheard memos, under a minute" in text, text
    assert "1 reply to you" in text and "1 live memo you missed" in text
    assert f"Who spoke: {HOSTILE}, Cat" in text
    assert "Eve" not in text, "a blocked sender is left out"
    assert f"{HOSTILE}: <img src=x onerror=alert(1)> Fractions first" in text
    assert "the second line" not in text, "only a transcript's first line"
    assert f'href="{PUBLIC_URL}/#/g/{gid}"' in page and f"{PUBLIC_URL}/#/g/{gid}" in text
    assert "<script>" not in page and "<img" not in page
    assert "Ben &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page
    assert "&lt;img src=x onerror=alert(1)&gt; Fractions first" in page
    # never any audio: no attachment, no audio link
    assert all(not p.get_content_type().startswith("audio/") for p in mail.message.walk())
    assert "/api/v1/audio/" not in text + page
    link = unsubscribe_link(mail)
    assert link.startswith(f"{PUBLIC_URL}/api/v1/digest/unsubscribe?token=")
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in text and link.replace("&", "&amp;") in page


async def test_without_previews_a_digest_carries_no_words_of_any_memo(
    api: Api, app: Any, smtp: SmtpServer, samples: Path
) -> None:
    await scene(api, app, smtp, samples, previews=False)
    mail = await one_digest(app, smtp, "amy")
    assert "3 unheard memos" in mail.text
    assert "Fractions" not in mail.text + mail.html
    assert "onerror" not in mail.text + mail.html


async def test_a_deleted_memo_leaves_nothing_of_itself_in_the_digest(
    api: Api, app: Any, smtp: SmtpServer, samples: Path
) -> None:
    amy, _, (_, spoken, _) = await scene(api, app, smtp, samples, previews=True)
    await api.ok(amy, "DELETE", f"/messages/{spoken}")  # the owner deletes Ben's memo
    mail = await one_digest(app, smtp, "amy")
    assert "2 unheard memos" in mail.text
    assert "Fractions" not in mail.text + mail.html and "second line" not in mail.text


async def test_nothing_is_sent_without_something_unheard_a_verified_address_or_a_choice(
    api: Api, app: Any, smtp: SmtpServer, samples: Path
) -> None:
    rt = runtime(app)
    amy = await digest_person(api, smtp, "amy")  # on, but nothing unheard
    off = await verified(api, smtp, "ben", "ben@example.org")  # verified, digest off
    await api.ok(off, "PATCH", "/me", json={"who_can_add_me": "anyone"})
    unverified = await register(api, "cat", "cat@example.org")
    await api.ok(unverified, "PATCH", "/me", json={"digest": "daily", "who_can_add_me": "anyone"})
    await drained(app)  # its link is mailed before the next person's, never mistaken for it
    gone = await digest_person(api, smtp, "dan")
    disabled = await digest_person(api, smtp, "eve")
    gid = await api.group(amy, "Chess")
    for who in (off, unverified, gone, disabled):
        await api.add(amy, gid, who)
    mid = await memo(api, app, off, gid, samples)  # unheard by amy, cat, dan and eve
    await api.ok(amy, "POST", f"/messages/{mid}/listened")
    await api.ok(gone, "DELETE", "/me", json={"password": "correct horse"})
    async with rt.sessions() as db:  # as an admin disables an account
        await db.execute(update(User).where(User.id == disabled.id).values(disabled_at=utcnow()))
        await db.commit()
    await drained(app)
    mails = len(smtp.messages)

    queued = await digest.send_now(rt)
    assert set(queued) == {amy.id}, "off, unverified, deleted, disabled: never queued"
    await drained(app)
    assert len(smtp.messages) == mails, "amy heard everything: no mail"
    async with rt.sessions() as db:
        deleted = await db.get(User, gone.id)
        assert deleted is not None
        assert (deleted.digest, deleted.timezone, deleted.digest_slot_at) == ("off", None, None)


async def test_each_morning_s_digest_is_sent_once_across_processes_and_restarts(
    api: Api, app: Any, smtp: SmtpServer, samples: Path, settings: Settings
) -> None:
    amy, gid, _ = await scene(api, app, smtp, samples, previews=False)
    await api.ok(amy, "PATCH", "/me", json={"timezone": "America/Chicago"})
    await drained(app)
    mails = len(smtp.messages)
    rt = runtime(app)
    now = utcnow()
    slot = digest.morning(now, digest.zone("America/Chicago"), "daily", settings.digest_hour)
    assert digest.due(now, digest.zone("America/Chicago"), "daily", 7, slot) is None
    assert await digest.schedule(rt, now) == 0, "opting in never sends at once"
    async with rt.sessions() as db:  # as if the previous digest went the morning before
        await db.execute(
            update(User).where(User.id == amy.id).values(digest_slot_at=slot - timedelta(days=1))
        )
        await db.commit()

    at = slot + timedelta(minutes=1)
    async with open_runtime(settings) as other:  # a second server process
        counts = await asyncio.gather(
            digest.schedule(rt, at), digest.schedule(other, at), digest.schedule(other, at)
        )
        assert sorted(counts) == [0, 0, 1]
    async with open_runtime(settings) as restarted:
        assert await digest.schedule(restarted, at + timedelta(minutes=5)) == 0
    await drained(app)
    assert len(smtp.messages) == mails + 1
    assert smtp.messages[-1].rcpt_tos == ["amy@example.org"]
    assert "3 unheard memos" in smtp.messages[-1].text
    tomorrow = slot + timedelta(days=1, minutes=1)
    async with open_runtime(settings) as later:
        assert await digest.schedule(later, tomorrow) == 1, "the next morning is due again"


async def test_one_click_unsubscribe_turns_the_digest_off_and_a_get_changes_nothing(
    api: Api, app: Any, smtp: SmtpServer, samples: Path
) -> None:
    amy, _, _ = await scene(api, app, smtp, samples, previews=False)
    link = unsubscribe_link(await one_digest(app, smtp, "amy"))
    parts = urlsplit(link)
    path = f"{parts.path}?{parts.query}"
    token = parse_qs(parts.query)["token"][0]

    page = await api.client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<form method="post"' in page.text
    assert (await api.ok(amy, "GET", "/me"))["digest"] == "daily", "a GET alone changes nothing"

    user_id, _, signature = token.partition(".")
    ben = await api.register("ben")
    forged = [
        f"{user_id}.{signature[:-2]}AA",
        f"{ben.id}.{signature}",  # amy's signature on someone else
        signature,
        "x" * 129,
        "bad token!",
    ]
    for bad in forged:
        r = await api.client.post(
            "/api/v1/digest/unsubscribe", params={"token": bad}, data={"x": "y"}
        )
        assert_error(r, 422, None)
        assert_error(await api.client.get("/api/v1/digest/unsubscribe", params={"token": bad}), 422)
    assert (await api.ok(amy, "GET", "/me"))["digest"] == "daily"
    assert_error(
        await api.call(None, "GET", "/me", headers={"Authorization": f"Bearer {token}"}), 401
    )

    r = await api.client.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200, r.text
    assert (await api.ok(amy, "GET", "/me"))["digest"] == "off"
    assert (await api.client.post(path)).status_code == 200, "again: still off"
    assert await digest.send_now(runtime(app), "amy") == []


async def test_digest_and_timezone_are_validated_and_quiet_hours_follow_the_timezone(
    api: Api,
) -> None:
    amy = await api.register("amy")
    me = await api.ok(amy, "GET", "/me")
    assert (me["digest"], me["timezone"]) == ("off", None)
    for body in (
        {"digest": "hourly"},
        {"digest": True},
        {"timezone": "Mars/Olympus"},
        {"timezone": "../../etc/passwd"},
        {"timezone": "A" * 65},
        {"timezone": 5},
    ):
        assert_error(await api.call(amy, "PATCH", "/me", json=body), 422, "validation_error")
    assert (await api.ok(amy, "GET", "/me"))["timezone"] is None

    me = await api.ok(amy, "PATCH", "/me", json={"digest": "weekly", "timezone": "America/Chicago"})
    assert (me["digest"], me["timezone"]) == ("weekly", "America/Chicago")
    quiet = {"start": "22:00", "end": "07:00"}
    me = await api.ok(amy, "PATCH", "/me", json={"quiet_hours": quiet})
    assert me["quiet_hours"]["time_zone"] == "America/Chicago", "quiet hours take the zone"
    me = await api.ok(amy, "PATCH", "/me", json={"timezone": "Europe/Berlin"})
    assert me["quiet_hours"]["time_zone"] == "Europe/Berlin", "and move with it"
    me = await api.ok(amy, "PATCH", "/me", json={"timezone": None})
    assert (me["timezone"], me["quiet_hours"]["time_zone"]) == (None, "UTC")


async def test_earshot_digest_now_sends_to_one_person_from_the_command_line(
    api: Api, app: Any, smtp: SmtpServer, samples: Path, settings: Settings
) -> None:
    amy, _, _ = await scene(api, app, smtp, samples, previews=False)
    ben = await digest_person(api, smtp, "ben")  # opted in too, not named
    await drained(app)
    mails = len(smtp.messages)
    assert settings.smtp_url is not None
    env = {
        **os.environ,
        "EARSHOT_DATABASE_URL": settings.resolved_database_url,
        "EARSHOT_DATA_DIR": str(settings.data_dir),
        "EARSHOT_SECRET_KEY": settings.secret_key or "",
        "EARSHOT_SMTP_URL": settings.smtp_url.get_secret_value(),
        "EARSHOT_MAIL_FROM": settings.mail_from or "",
        "EARSHOT_PUBLIC_URL": PUBLIC_URL,
    }

    async def earshot(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", *args, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    code, out, err = await earshot("digest", "--now", "--user", "amy")
    assert code == 0, err
    assert "@amy" in out and "@" + ben.handle not in out
    await smtp.wait_for(mails + 1)
    await drained(app)
    assert len(smtp.messages) == mails + 1
    mail = smtp.messages[-1]
    assert mail.rcpt_tos == ["amy@example.org"] and "3 unheard memos" in mail.text
    assert "Sm7p" not in out + err, "the SMTP password is never printed"

    code, _, err = await earshot("digest", "--now", "--user", "nobody")
    assert code == 1 and "nobody" in err
    assert (await earshot("digest"))[0] == 2
    assert amy.id
