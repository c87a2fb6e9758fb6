// The service worker and Web Push on this device: registering /sw.js, offering
// notifications once (after a first memo sent or played, never on load), subscribing
// with the server's VAPID key and telling the server; forgetting it all on sign-out.

import { api, session } from "./api.js";

const ANSWERED = "earshot.push.answered"; // the offer was taken or dismissed: never again
const SUBSCRIPTION_ID = "earshot.push.subscription"; // the server's id of ours
const ACCOUNT = "earshot-account"; // shared with sw.js: the token, for re-subscribing
const TOKEN_KEY = "/sw/token";
const RENEWED_KEY = "/sw/subscription"; // sw.js re-subscribed: the new one's id

const offer = document.getElementById("push-offer");

export function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
  // A click on a notification, while this window is open: go to its group (a hash route).
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data?.type !== "open") return;
    const target = new URL(event.data.url, location.href);
    if (target.origin === location.origin && target.hash) location.hash = target.hash;
  });
  navigator.serviceWorker.startMessages();
}

const supported = () => "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

function keyBytes(base64url) {
  const raw = atob(base64url.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function rememberToken() {
  const cache = await caches.open(ACCOUNT);
  await cache.put(TOKEN_KEY, new Response(session.token || ""));
}

// Subscribes this browser (again: the server answers the same id for the same endpoint).
async function subscribe() {
  const registration = await navigator.serviceWorker.ready;
  const { public_key: key } = await api("GET", "/push/key");
  const subscription = await registration.pushManager.subscribe({
    userVisibleOnly: true, applicationServerKey: keyBytes(key),
  });
  const { endpoint, keys } = subscription.toJSON();
  const saved = await api("POST", "/push/subscriptions", { endpoint, keys });
  localStorage.setItem(SUBSCRIPTION_ID, saved.id);
  await rememberToken();
}

// Signed in: keep the subscription the server knows current (and the token sw.js uses).
// Only where it was turned on since the last sign-out: the browser's permission belongs
// to the site, not to the person.
export function renewPush() {
  if (pushStatus() === "on") subscribe().catch(() => {});
}

// After a first memo sent or played: offer notifications, unless answered before.
export function offerPush() {
  if (!supported() || Notification.permission !== "default" || localStorage.getItem(ANSWERED)) return;
  offer.hidden = false;
}

function answered() {
  localStorage.setItem(ANSWERED, "1");
  offer.hidden = true;
}

// "unsupported" (no Web Push here, e.g. Safari outside a Home Screen app), "blocked"
// (the browser's setting), "on" (this device is subscribed) or "off".
export function pushStatus() {
  if (!supported()) return "unsupported";
  if (Notification.permission === "denied") return "blocked";
  return Notification.permission === "granted" && localStorage.getItem(SUBSCRIPTION_ID) ? "on" : "off";
}

// Asks the browser (from a click), subscribes and tells the server. Whether it worked.
export async function turnOn() {
  answered();
  const permission = await Notification.requestPermission();
  if (permission !== "granted") return false;
  try {
    await subscribe();
    notify("Notifications are on for this device.", "ok");
    return true;
  } catch (error) {
    notify(`Notifications could not be turned on: ${error.message || error.name}`);
    return false;
  }
}

let notify = () => {};

export function setUpOffer(tell) {
  notify = tell;
  offer.querySelector("[data-action=on]").addEventListener("click", turnOn);
  offer.querySelector("[data-action=dismiss]").addEventListener("click", answered);
}

// Before signing out (while the token still works), or turned off: this device stops
// being pushed.
export async function forgetPush() {
  offer.hidden = true;
  // `caches` (like service workers) exists only on https or localhost: plain http on a
  // school network's address must still sign out.
  const renewed = "caches" in window
    ? await caches.open(ACCOUNT).then((c) => c.match(RENEWED_KEY)).then((r) => r?.text(), () => null)
    : null;
  const ids = [localStorage.getItem(SUBSCRIPTION_ID), renewed].filter(Boolean);
  localStorage.removeItem(SUBSCRIPTION_ID);
  for (const id of ids) await api("DELETE", `/push/subscriptions/${id}`).catch(() => {});
  if (!("serviceWorker" in navigator)) return;
  const registration = await navigator.serviceWorker.getRegistration();
  const subscription = await registration?.pushManager?.getSubscription().catch(() => null);
  await subscription?.unsubscribe().catch(() => {});
  await caches.delete(ACCOUNT).catch(() => {});
}
