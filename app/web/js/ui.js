// What every screen shares: the notice line, the screen-reader announcer, mounting a
// screen (and unsubscribing the one before), and running an API call with its errors shown.

import { session } from "./api.js";

const view = document.getElementById("view");
const notice = document.getElementById("notice");
const announcer = document.getElementById("announcer");
let noticeTimer;
let current = null; // {name, groupId, disposers: []}
let onSignedOut = () => {};

export function tell(text, kind = "error") {
  notice.textContent = text;
  notice.className = `notice ${kind}`;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (notice.hidden = true), 6000);
}

// A polite sentence for screen readers only (a new message, not every redraw).
let announceTimer;
export function announce(text) {
  announcer.textContent = text;
  clearTimeout(announceTimer);
  announceTimer = setTimeout(() => (announcer.textContent = ""), 8000);
}

export function whenSignedOut(fn) {
  onSignedOut = fn;
}

// Runs an API call; a refusal is told (or handed to `onError`), and resolves undefined.
export async function attempt(action, onError) {
  try {
    return await action();
  } catch (error) {
    if (error.status === 401 && session.token) return onSignedOut();
    if (!error.code) throw error; // a bug, not a refusal: let it show in the console
    if (onError) onError(error);
    else tell(error.message);
    return undefined;
  }
}

export function screen() {
  return current;
}

// Puts a screen on the page. `screen.disposers` are called when it leaves. The heading
// takes focus so screen readers start there; nothing else ever moves focus by itself.
export function mount(next, ...children) {
  for (const dispose of current?.disposers || []) dispose();
  current = { disposers: [], ...next };
  view.replaceChildren(...children);
  const heading = view.querySelector("h1");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
  window.scrollTo(0, 0);
  return current;
}

export function isOn(name, groupId) {
  return current?.name === name && (groupId === undefined || current.groupId === groupId);
}
