// Earshot's service worker, served at /sw.js so its scope is the whole site.
// The server puts `const RELEASE = {version, files}` before this text: the release's
// version and its static files (under /web/<version>/).
//
// - The app shell (the page and this release's files) is cached on install, so the app
//   opens offline after one visit; older releases' caches are deleted on activate.
//   Nothing from /api is ever cached here.
// - A push shows a notification (one per group: a newer one replaces it); a click on it
//   opens the group at that message, in the window already open if there is one.
// - When the push service replaces the subscription, the new one is sent to the server.
// - The page names the recent unheard memos to keep (js/data/keep.js): they are kept in
//   their own cache, capped, and played from there, offline too.

/* global RELEASE */
const SHELL_PREFIX = "earshot-shell-";
const SHELL = SHELL_PREFIX + RELEASE.version;
const STATIC = `/web/${RELEASE.version}/`;
const PAGES = ["/", "/verify-email", "/reset-password"]; // addresses that answer the page
const ACCOUNT = "earshot-account"; // a cache used as a store: the token, for re-subscribing
const TOKEN_KEY = "/sw/token";
const AUDIO = "earshot-audio"; // unheard memos the page asked to keep (js/data/keep.js)
const AUDIO_PATH = "/api/v1/audio/";
const AUDIO_MAX_BYTES = 50 * 1024 * 1024;
const RENEWED_KEY = "/sw/subscription"; // the id of a subscription this worker made

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL);
    await cache.addAll(["/", ...RELEASE.files.map((name) => STATIC + name)]);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(SHELL_PREFIX) && name !== SHELL) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== location.origin) return;
  if (request.mode === "navigate" && PAGES.includes(url.pathname)) {
    event.respondWith(page(request));
  } else if (url.pathname.startsWith(AUDIO_PATH)) {
    event.respondWith(keptAudio(request));
  } else if (url.pathname.startsWith(STATIC)) {
    event.respondWith(caches.match(request, { cacheName: SHELL }).then((hit) => hit || fetch(request)));
  }
});

// The page from the network (it may be a newer release), else the cached one.
async function page(request) {
  try {
    return await fetch(request);
  } catch (error) {
    const cached = await caches.match("/", { cacheName: SHELL });
    if (cached) return cached;
    throw error;
  }
}

// ---- unheard memos kept for offline -------------------------------------------------------
// Kept under a key without the URL's signature and expiry: `/kept-audio/<message id>`
// (+ `.mp3` for the MP3). Only what the page asks for is kept, and only until it asks
// for a list without it.

function keptKey(address) {
  const url = new URL(address, location.origin);
  const id = url.pathname.slice(AUDIO_PATH.length);
  return `/kept-audio/${id}${url.searchParams.get("format") === "mp3" ? ".mp3" : ""}`;
}

let keeping = Promise.resolve(); // one update at a time, in the order asked

async function keepAudio(memos) {
  const cache = await caches.open(AUDIO);
  const wanted = new Map(memos.map((m) => [keptKey(m.url), m.url]));
  let total = 0;
  for (const request of await cache.keys()) {
    const key = new URL(request.url).pathname;
    if (!wanted.has(key)) await cache.delete(request);
    else total += (await (await cache.match(request)).blob()).size;
  }
  for (const [key, url] of wanted) { // newest first: the cap leaves out the oldest
    if (await cache.match(key)) continue;
    const answer = await fetch(url).catch(() => null);
    if (answer?.status !== 200) continue;
    const body = await answer.blob();
    if (total + body.size > AUDIO_MAX_BYTES) break;
    total += body.size;
    await cache.put(key, new Response(body, { headers: { "Content-Type": body.type || "audio/ogg" } }));
  }
}

self.addEventListener("message", (event) => {
  if (event.origin && event.origin !== location.origin) return;
  if (event.data?.type !== "keep-audio" || !Array.isArray(event.data.memos)) return;
  keeping = keeping.then(() => keepAudio(event.data.memos)).catch(() => {});
  event.waitUntil(keeping);
});

// A kept memo from the cache (a `Range` asked for answered with its part), else the network.
async function keptAudio(request) {
  const kept = await caches.match(keptKey(request.url), { cacheName: AUDIO });
  if (!kept) return fetch(request);
  const body = await kept.blob();
  const type = kept.headers.get("Content-Type");
  const range = /^bytes=(\d*)-(\d*)$/.exec(request.headers.get("Range") || "");
  if (!range || (!range[1] && !range[2])) {
    return new Response(body, { headers: { "Content-Type": type, "Accept-Ranges": "bytes" } });
  }
  const size = body.size;
  const start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
  const end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
  if (start >= size || start > end) {
    return new Response(null, { status: 416, headers: { "Content-Range": `bytes */${size}` } });
  }
  return new Response(body.slice(start, end + 1), {
    status: 206,
    headers: { "Content-Type": type, "Accept-Ranges": "bytes", "Content-Range": `bytes ${start}-${end}/${size}` },
  });
}

// ---- notifications ------------------------------------------------------------------------

function duration(ms) {
  if (!ms) return "";
  const s = Math.round(ms / 1000);
  return ` (${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")})`;
}

// What a push (the server's payload, docs/api.md) shows. `text` only when the payload has it.
function notificationOf(data) {
  const what = data.type === "live" ? "Talking now: tap to listen"
    : data.type === "reply" ? (data.kind === "voice" ? `Replied to you with a voice memo${duration(data.duration_ms)}` : "Replied to you")
      : data.kind === "voice" ? `Voice memo${duration(data.duration_ms)}` : "New message";
  return {
    title: `${data.sender_name} · ${data.group_name}`,
    options: {
      body: data.text ? `${what}: ${data.text}` : what,
      tag: `group:${data.group_id}`,
      renotify: true,
      icon: `${STATIC}icons/icon-192.png`,
      badge: `${STATIC}icons/icon-192.png`,
      data: { url: targetOf(data) },
    },
  };
}

function targetOf(data) {
  if (!data.group_id) return "/";
  const group = `/#/g/${encodeURIComponent(data.group_id)}`;
  return data.message_id ? `${group}/m/${encodeURIComponent(data.message_id)}` : group;
}

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = {};
  }
  const { title, options } = data.group_id ? notificationOf(data)
    : { title: "Earshot", options: { body: "Something new in your groups", tag: "earshot" } };
  const badge = data.kind === "voice" ? markUnheard() : null;
  event.waitUntil(Promise.all([self.registration.showNotification(title, options), badge]));
});

// A new memo while no page is in sight to count them: the app icon shows a dot until a
// page sets the count.
async function markUnheard() {
  if (!self.navigator.setAppBadge) return;
  const windows = await self.clients.matchAll({ type: "window" });
  if (!windows.some((w) => w.visibilityState === "visible")) await self.navigator.setAppBadge().catch(() => {});
}

// Focus a window of the app and send it to `url` (its hash routes), or open one there.
async function openTarget(url) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((w) => w.focused) || windows.find((w) => w.visibilityState === "visible")
    || windows[0];
  if (!open) return self.clients.openWindow(url);
  open.postMessage({ type: "open", url });
  return open.focus().catch(() => open);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openTarget(event.notification.data?.url || "/"));
});

// ---- a subscription replaced by the push service --------------------------------------------

function bytesOf(base64url) {
  const raw = atob(base64url.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function resubscribe(event) {
  const token = await (await caches.open(ACCOUNT)).match(TOKEN_KEY).then((r) => r && r.text());
  if (!token) return; // signed out on this device: nobody to subscribe
  let subscription = event.newSubscription;
  if (!subscription) {
    const key = await (await fetch("/api/v1/push/key")).json();
    subscription = await self.registration.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: bytesOf(key.public_key),
    });
  }
  const { endpoint, keys } = subscription.toJSON();
  const answer = await fetch("/api/v1/push/subscriptions", {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ endpoint, keys }),
  });
  if (!answer.ok) return;
  const { id } = await answer.json(); // the page deletes it too when turned off
  await (await caches.open(ACCOUNT)).put(RENEWED_KEY, new Response(id));
}

self.addEventListener("pushsubscriptionchange", (event) => event.waitUntil(resubscribe(event)));
