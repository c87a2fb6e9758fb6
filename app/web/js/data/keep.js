// Recent unheard memos kept on this device, so they play offline: the page tells sw.js
// which to keep (the newest unheard memos of the groups opened, whose addresses it
// knows, at most MAX_MEMOS; sw.js also caps their bytes) and sw.js drops every other
// one. A memo heard, deleted or no longer ours leaves at the next update; signing out
// empties the cache.

import { playableUrl } from "../player.js";
import { on, state } from "../store.js";

const MAX_MEMOS = 20;
const AUDIO = "earshot-audio"; // the cache sw.js keeps them in
let timer;

function wanted() {
  const memos = [];
  for (const [groupId, ids] of state.unheard) {
    for (const id of ids) {
      const m = state.messages.get(groupId)?.get(id);
      if (m?.voice?.status === "ready" && !m.deleted && m.voice.audio_url) {
        memos.push({ id, url: playableUrl(m), at: m.created_at });
      }
    }
  }
  return memos.sort((a, b) => (a.at < b.at ? 1 : -1)).slice(0, MAX_MEMOS).map(({ id, url }) => ({ id, url }));
}

async function tell(memos) {
  const registration = await navigator.serviceWorker?.ready;
  registration?.active?.postMessage({ type: "keep-audio", memos });
}

export function keepUnheardAudio() {
  if (!("serviceWorker" in navigator)) return;
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(() => tell(state.me ? wanted() : []), 500);
  };
  on("unheard", soon);
  on("message", soon); // a memo became ready (its address), or was deleted
  on("removed", soon);
}

// Signed out: nothing kept (the worker also empties it, after any update under way).
export function forgetKeptAudio() {
  clearTimeout(timer);
  if (!("serviceWorker" in navigator)) return;
  tell([]);
  caches.delete(AUDIO).catch(() => {});
}
