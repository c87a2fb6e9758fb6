// The outbox: every text and recording is written to IndexedDB before it is sent, and
// leaves only once the server has it. Offline, or on a network error, it waits and
// goes when the connection returns, with the same client_id, so nothing is lost and a
// retry never doubles (the server answers a repeated client_id with the first message).

import { api } from "../api.js";
import { newId } from "../dom.js";
import { changed, myId, state } from "../store.js";
import { tell } from "../ui.js";
import { upsert } from "./messages.js";

const DB = "earshot";
const STORE = "outbox";
let db;
let flushing = null;
let retryTimer;
let again = false; // something was added while a flush was under way

function open() {
  db ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "clientId" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return db;
}

async function tx(mode, work) {
  const store = (await open()).transaction(STORE, mode).objectStore(STORE);
  return new Promise((resolve, reject) => {
    const request = work(store);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function show(entries) {
  state.pending.clear();
  for (const entry of entries) {
    if (entry.userId !== myId()) continue;
    const list = state.pending.get(entry.groupId) || [];
    state.pending.set(entry.groupId, [...list, entry]);
    if (entry.replaces) state.superseded.add(entry.replaces);
  }
  for (const groupId of new Set(entries.map((e) => e.groupId))) changed("outbox", groupId);
}

async function refresh() {
  const before = new Set(state.pending.keys());
  const entries = (await tx("readonly", (s) => s.getAll())).sort((a, b) => a.createdAt - b.createdAt);
  show(entries);
  for (const groupId of before) if (!state.pending.has(groupId)) changed("outbox", groupId);
  return entries;
}

// Keeps a text (or a recording: `blob`, `mime`) and sends it as soon as it can.
export async function enqueue(entry) {
  const full = { clientId: newId(), createdAt: Date.now(), userId: myId(), ...entry };
  await tx("readwrite", (s) => s.put(full));
  changed("sent", entry.groupId); // the person sent something (it may reach the server later)
  await refresh();
  flush();
  return full;
}

async function send(entry) {
  if (entry.kind === "text") {
    return api("POST", `/groups/${entry.groupId}/messages`,
      { text: entry.text, client_id: entry.clientId, reply_to: entry.replyTo || undefined });
  }
  const form = new FormData();
  const ext = entry.mime.includes("mp4") ? "m4a" : entry.mime.includes("ogg") ? "ogg" : "webm";
  form.append("file", new Blob([entry.blob], { type: entry.mime }), `memo.${ext}`);
  form.append("client_id", entry.clientId);
  if (entry.replyTo) form.append("reply_to", entry.replyTo);
  return api("POST", `/groups/${entry.groupId}/voice`, form);
}

// Sends what waits, oldest first; stops at the first network failure and tries again later.
export function flush() {
  if (flushing) {
    again = true;
    return flushing;
  }
  flushing = (async () => {
    try {
      for (const entry of await refresh()) {
        if (entry.userId !== myId()) continue;
        try {
          const message = await send(entry);
          upsert(message);
          if (entry.replaces) await api("DELETE", `/messages/${entry.replaces}`).catch(() => {});
        } catch (error) {
          if (!error.code) throw error;
          if (error.transient) {
            clearTimeout(retryTimer);
            retryTimer = setTimeout(flush, error.status === 0 ? 15000 : 5000);
            return;
          }
          const what = entry.kind === "text" ? `“${entry.text.slice(0, 40)}”` : "your recording";
          tell(`Couldn't send ${what}: ${error.message}`);
        }
        await tx("readwrite", (s) => s.delete(entry.clientId));
        await refresh();
      }
    } finally {
      flushing = null;
      if (again) {
        again = false;
        setTimeout(flush);
      }
    }
  })();
  return flushing;
}

export function pendingFor(groupId) {
  const sent = new Set([...(state.messages.get(groupId)?.values() || [])]
    .filter((m) => m.sender.id === myId() && m.client_id).map((m) => m.client_id));
  return (state.pending.get(groupId) || []).filter((e) => !sent.has(e.clientId));
}

export async function start() {
  await refresh().catch(() => {});
  flush();
}

window.addEventListener("online", () => flush());
