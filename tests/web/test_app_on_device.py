"""Earshot as an app on the device (issue 18), in real Chromium: installable (Chrome's own
installability check), opening offline from the service worker's cache, notifications
from a push (DevTools `ServiceWorker.deliverPushMessage`), the offer to turn them on, the
unheard total in the tab's title, and the Media Session while a memo plays."""

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import BrowserContext, Page, Worker, async_playwright, expect

from tests import audio_samples
from tests.process import ServerProcess
from tests.support.browser import CHROMIUM, FLAGS, PHONE, axe, screenshot
from tests.support.push_service import PushService
from tests.support.push_service import push_service as push_service  # noqa: F401 (fixture)
from tests.web.seed import PASSWORD, Coach, as_, post_text, register, upload
from tests.web.test_coach_on_a_phone import sign_in
from tests.web.test_web_client import create_group, sign_up


async def two_coaches(api: httpx.AsyncClient) -> tuple[Coach, Coach, str]:
    """Amy and Ben, in Amy's group "Math coaches" (its id)."""
    amy = await register(api, "amy", "Amy Coach")
    ben = await register(api, "ben", "Ben Coach")
    gid = (await api.post("/groups", headers=as_(amy), json={"name": "Math coaches"})).json()["id"]
    code = (await api.post(f"/groups/{gid}/invites", headers=as_(amy), json={})).json()["code"]
    assert (await api.post(f"/invites/{code}/accept", headers=as_(ben))).is_success
    return amy, ben, gid


async def until(
    probe: Callable[[], Awaitable[Any]], wanted: Any, what: str, timeout_s: float = 30
) -> None:
    """Until `await probe()` equals `wanted`."""
    deadline = time.monotonic() + timeout_s
    while (found := await probe()) != wanted:
        assert time.monotonic() < deadline, f"{what}: {found!r}, not {wanted!r}"
        await asyncio.sleep(0.1)


async def controlled(page: Page) -> None:
    """Until the service worker controls the page (it claims it once activated)."""
    await page.wait_for_function("() => navigator.serviceWorker.controller !== null")


async def worker_of(context: BrowserContext) -> Worker:
    deadline = time.monotonic() + 30
    while not context.service_workers:
        assert time.monotonic() < deadline, "no service worker started"
        await asyncio.sleep(0.05)
    return context.service_workers[0]


@asynccontextmanager
async def on_a_profile(server: ServerProcess, profile: Path) -> AsyncIterator[Page]:
    """A page of a Chromium with a profile on disk, as people have it: Chrome never offers
    to install from an incognito context (which every `browser.new_context()` is) and
    denies notifications there without asking."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            base_url=server.url,
            viewport=PHONE,
            bypass_csp=True,  # for axe-core
        )
        try:
            page = context.pages[0]
            page.set_default_timeout(15_000)
            yield page
        finally:
            await context.close()


async def test_installable_and_opens_offline_after_a_visit(
    server: ServerProcess, tmp_path: Path
) -> None:
    async with on_a_profile(server, tmp_path / "profile") as page:
        await installable_then_offline(page)


async def installable_then_offline(page: Page) -> None:
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    cdp = await page.context.new_cdp_session(page)
    manifest = await cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [], manifest["errors"]
    assert json.loads(manifest["data"])["display"] == "standalone"
    await controlled(page)
    installability = await cdp.send("Page.getInstallabilityErrors")
    assert installability["installabilityErrors"] == []

    shell = await page.evaluate(
        """async () => { const names = await caches.keys();
            const shell = names.find((n) => n.startsWith('earshot-shell-'));
            const requests = await (await caches.open(shell)).keys();
            return {names, paths: requests.map((r) => new URL(r.url).pathname)}; }"""
    )
    assert len([n for n in shell["names"] if n.startswith("earshot-shell-")]) == 1
    assert "/" in shell["paths"] and any(p.endswith("/js/main.js") for p in shell["paths"])
    assert not [p for p in shell["paths"] if p.startswith("/api/")]

    await page.context.set_offline(True)
    await page.reload()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.get_by_label("Handle")).to_be_visible()
    await page.context.set_offline(False)

    # Signed in, opened offline: told so, and the groups open when the network is back.
    await sign_up(page, "amy", "Amy Coach")
    await expect(page.get_by_role("heading", name="Your groups")).to_be_visible()
    await page.context.set_offline(True)
    await page.reload()
    await expect(page.get_by_text("You're offline. Your groups open")).to_be_visible(timeout=15_000)
    await page.context.set_offline(False)
    await expect(page.get_by_role("heading", name="Your groups")).to_be_visible(timeout=30_000)


async def test_a_push_shows_one_notification_per_group_and_its_click_opens_the_group(
    person: Any, server: ServerProcess
) -> None:
    page = await person(PHONE)
    await page.context.grant_permissions(["notifications"], origin=server.url)
    await sign_up(page, "amy", "Amy Coach")
    gid = await create_group(page, "Math coaches")
    message = await page.evaluate(
        """async (gid) => (await (await fetch(`/api/v1/groups/${gid}/messages`, {method: 'POST',
            headers: {Authorization: `Bearer ${localStorage.getItem('earshot.token')}`,
                      'Content-Type': 'application/json'},
            body: JSON.stringify({text: 'Worksheets for Monday'})})).json()).id""",
        gid,
    )
    await controlled(page)
    cdp = await page.context.new_cdp_session(page)
    registrations: list[str] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(r["registrationId"] for r in e["registrations"]),
    )
    await cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 30
    while not registrations:
        assert time.monotonic() < deadline, "DevTools reported no registration"
        await asyncio.sleep(0.05)
    worker = await worker_of(page.context)

    async def deliver(payload: dict[str, Any]) -> None:
        await cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": server.url, "registrationId": registrations[0], "data": json.dumps(payload)},
        )

    async def shown(count_body: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 30
        while True:
            found: list[dict[str, Any]] = await worker.evaluate(
                """async () => (await self.registration.getNotifications())
                    .map((n) => ({title: n.title, body: n.body, tag: n.tag, data: n.data}))"""
            )
            if any(n["body"] == count_body for n in found):
                return found
            assert time.monotonic() < deadline, f"no notification saying {count_body!r}: {found}"
            await asyncio.sleep(0.1)

    push = {  # as app/services/webpush.py makes it, without previews
        "type": "message",
        "group_id": gid,
        "group_name": "Math coaches",
        "message_id": message,
        "sender_name": "Ben Coach",
        "kind": "voice",
        "duration_ms": 12_400,
    }
    await deliver(push)
    [first] = await shown("Voice memo (0:12)")
    assert first["title"] == "Ben Coach · Math coaches" and first["tag"] == f"group:{gid}"
    assert first["data"]["url"] == f"/#/g/{gid}/m/{message}"

    await deliver({**push, "kind": "text", "duration_ms": None, "text": "Worksheets for Monday"})
    [second] = await shown("New message: Worksheets for Monday")  # replaced: one per group
    assert second["tag"] == f"group:{gid}"

    # The click's work (what `notificationclick` waits on): the open window goes to the
    # message. A real click on a system notification cannot be made from a test.
    await page.goto("/#/")
    await expect(page.get_by_role("heading", name="Your groups")).to_be_visible()
    await worker.evaluate("(url) => openTarget(url)", second["data"]["url"])
    await expect(page).to_have_url(f"{server.url}/#/g/{gid}/m/{message}", timeout=15_000)
    await expect(page.get_by_role("heading", name="Math coaches")).to_be_visible()


async def test_unheard_total_in_the_title_media_session_and_the_notification_offer(
    server: ServerProcess, samples: Path, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(base_url=f"{server.url}/api/v1") as api:
        amy, ben, gid = await two_coaches(api)
        await upload(api, amy, gid, audio_samples.tone_mp3(samples, 3).read_bytes())

    async with on_a_profile(server, tmp_path / "profile") as page:
        await hear_then_offered(page)


async def hear_then_offered(page: Page) -> None:
    await sign_in(page, "ben")
    await expect(page).to_have_title("(1) Earshot", timeout=15_000)
    await page.get_by_role("link", name="Math coaches").click()
    await expect(page.get_by_role("heading", name="Math coaches")).to_be_visible()
    offer = page.get_by_role("region", name="Get a notification")
    await expect(offer).to_be_hidden()  # never on load
    # The memo is converted (a ready memo has its own play button).
    ready = page.get_by_role("button", name="Play voice memo from Amy Coach")
    await expect(ready).to_be_visible(timeout=30_000)
    await page.get_by_role("button", name="Play 1 unheard").click()
    await page.wait_for_function("() => navigator.mediaSession.metadata !== null")
    metadata = await page.evaluate(
        """() => { const m = navigator.mediaSession.metadata;
            return {title: m.title, artist: m.artist, artwork: m.artwork.map((a) => a.src)}; }"""
    )
    assert metadata["title"] == "Amy Coach" and metadata["artist"] == "Math coaches"
    assert metadata["artwork"] and all(a.endswith(".png") for a in metadata["artwork"])
    await expect(page).to_have_title("Earshot", timeout=15_000)  # heard

    await expect(offer).to_be_visible(timeout=15_000)  # after a first memo played
    await screenshot(page, "notification-offer-phone", full_page=False)
    assert await axe(page) == []
    await offer.get_by_role("button", name="Not now").click()
    await expect(offer).to_be_hidden()
    await page.reload()
    await expect(page.get_by_role("heading", name="Math coaches")).to_be_visible()
    await page.get_by_role("button", name="Play voice memo from Amy Coach").click()
    await expect(page.get_by_role("button", name="Pause voice memo from Amy Coach")).to_be_visible()
    await expect(offer).to_be_hidden()  # answered: not offered again


async def test_turning_notifications_on_subscribes_with_the_server_key_and_sign_out_forgets(
    tmp_path: Path, push_service: PushService
) -> None:
    """From the offer to a push the server sends. Chromium's own push service (FCM) is
    out of reach here, so `PushManager.subscribe` answers a subscription of the test push
    service (tests/support/push_service.py), made with the server's key; the rest is real:
    the permission, the client's POST, the server's encrypted push, the sign-out DELETE."""
    server = ServerProcess(
        tmp_path / "data",
        argon2_time_cost="1",
        argon2_memory_kib="1024",
        argon2_parallelism="1",
        rate_limits="false",
        push_allow_insecure="true",  # the test push service is plain http on loopback
    ).start()
    try:
        await subscribe_then_sign_out(server, push_service, tmp_path / "profile")
    finally:
        server.stop()


STAND_IN_SUBSCRIBE = """(() => { const info = %s;
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    localStorage.setItem('test.key', btoa(String.fromCharCode(...key)));
    return {endpoint: info.endpoint, toJSON: () => info, unsubscribe: async () => true};
  }; })();"""


async def subscribe_then_sign_out(server: ServerProcess, push: PushService, profile: Path) -> None:
    async with httpx.AsyncClient(base_url=f"{server.url}/api/v1") as api:
        amy, ben, gid = await two_coaches(api)
        key = (await api.get("/push/key")).json()["public_key"]
        sub = push.subscribe(application_server_key=key)

        async with on_a_profile(server, profile) as page:
            await page.add_init_script(STAND_IN_SUBSCRIBE % json.dumps(sub.info()))
            await sign_in(page, "ben")
            await page.get_by_role("link", name="Math coaches").click()
            await page.get_by_label("Message text").fill("Hello everyone")
            await page.get_by_role("button", name="Send", exact=True).click()
            offer = page.get_by_role("region", name="Get a notification")
            await expect(offer).to_be_visible(timeout=15_000)  # after a first message sent
            await page.context.grant_permissions(["notifications"], origin=server.url)
            await offer.get_by_role("button", name="Turn on notifications").click()
            await expect(page.get_by_text("Notifications are on for this device.")).to_be_visible(
                timeout=15_000
            )
            await expect(offer).to_be_hidden()
            used = await page.evaluate("() => localStorage.getItem('test.key')")
            assert base64.b64decode(used) == base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
            assert await subscriptions(api, ben.token) == [sub.endpoint]
            assert await page.evaluate("() => caches.has('earshot-account')")  # for sw.js

            # The push service replaced the subscription: sw.js posts the new one with the
            # token the page left it. (Chromium never fires `pushsubscriptionchange`; this
            # runs the handler's work with the event's `newSubscription`.)
            replaced = push.subscribe(application_server_key=key)
            worker = await worker_of(page.context)
            await worker.evaluate(
                "(info) => resubscribe({newSubscription: {toJSON: () => info}})", replaced.info()
            )
            assert await subscriptions(api, ben.token) == [sub.endpoint, replaced.endpoint]

            await post_text(api, amy, gid, "Worksheets for Monday")
            [pushed] = await sub.wait_for(1, timeout_s=30)
            assert pushed.json()["sender_name"] == "Amy Coach"
            assert pushed.json()["group_id"] == gid

            # The account screen: previews, off and on again.
            await page.goto("/#/account")
            await expect(page.get_by_test_id("push-status")).to_have_text(
                "Notifications are on for this device."
            )
            await screenshot(page, "account-notifications-phone")
            assert await axe(page) == []
            await page.get_by_label("Show the words in notifications").check()
            await expect_me(api, ben, notification_previews=True)
            await page.get_by_role("button", name="Turn off notifications").click()
            await expect(page.get_by_role("button", name="Turn on notifications")).to_be_visible()
            assert await subscriptions(api, ben.token) == []
            await page.get_by_role("button", name="Turn on notifications").click()
            await expect(page.get_by_role("button", name="Turn off notifications")).to_be_visible()
            assert await subscriptions(api, ben.token) == [sub.endpoint]

            await page.get_by_role("button", name="Sign out").click()
            await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            assert not await page.evaluate("() => caches.has('earshot-account')")
        again = (
            await api.post("/auth/login", json={"handle": "ben", "password": PASSWORD})
        ).json()["token"]
        assert await subscriptions(api, again) == []


async def subscriptions(api: httpx.AsyncClient, token: str) -> list[str]:
    answer = await api.get("/push/subscriptions", headers={"Authorization": f"Bearer {token}"})
    return [s["endpoint"] for s in answer.json()["subscriptions"]]


async def expect_me(api: httpx.AsyncClient, who: Coach, **fields: Any) -> None:
    """Until the server's `me` has these fields (the page's PATCH may still be on its way)."""
    deadline = time.monotonic() + 30
    while True:
        me = (await api.get("/me", headers=as_(who))).json()
        if all(me[k] == v for k, v in fields.items()):
            return
        assert time.monotonic() < deadline, f"me is {me}"
        await asyncio.sleep(0.1)


KEPT = """async () => (await (await caches.open('earshot-audio')).keys())
    .map((r) => new URL(r.url).pathname)"""


async def test_an_unheard_memo_plays_offline_and_its_receipt_goes_when_back(
    person: Any, server: ServerProcess, samples: Path
) -> None:
    async with httpx.AsyncClient(base_url=f"{server.url}/api/v1") as api:
        amy, ben, gid = await two_coaches(api)
        memo = await upload(api, amy, gid, audio_samples.tone_mp3(samples, 3).read_bytes())
        page = await person(PHONE)
        await sign_in(page, "ben")
        await page.get_by_role("link", name="Math coaches").click()
        ready = page.get_by_role("button", name="Play voice memo from Amy Coach")
        await expect(ready).to_be_visible(timeout=30_000)  # converted
        await until(lambda: page.evaluate(KEPT), [f"/kept-audio/{memo['id']}"], "kept audio")

        # Only the worker's cache may have it: not the browser's HTTP cache (which the
        # worker's download filled too).
        await (await page.context.new_cdp_session(page)).send("Network.clearBrowserCache")
        await page.context.set_offline(True)
        await ready.click()
        await expect(page).to_have_title("Earshot", timeout=15_000)  # it started playing: heard
        receipts = await page.evaluate("() => localStorage.getItem('earshot.receipts')")
        assert memo["id"] in receipts

        await page.context.set_offline(False)

        async def heard() -> bool:
            answer = await api.get(f"/messages/{memo['id']}", headers=as_(ben))
            return bool(answer.json()["voice"]["listened_by_me"])

        # The socket may be backing off (up to 15 s) when the network returns.
        await until(heard, True, "the receipt reached the server", timeout_s=60)
        await until(lambda: page.evaluate(KEPT), [], "kept audio once heard")
