// A group's messages as the client holds them: pages loaded, events applied, what is
// unheard, who listened. Messages are replaced, never mutated in place, so a screen
// can tell a changed one by identity.

import { api } from "../api.js";
import { changed, myId, state } from "../store.js";
import { attempt, tell } from "../ui.js";
import { reloadGroupsSoon } from "./groups.js";
import { isBlocked } from "./people.js";

export const PAGE = 50;

export function sorted(groupId) {
  return [...(state.messages.get(groupId)?.values() || [])].sort((a, b) => a.seq - b.seq);
}

export function find(groupId, messageId) {
  return state.messages.get(groupId)?.get(messageId);
}

function store(groupId, list, fromEvent = false) {
  const messages = state.messages.get(groupId) || new Map();
  state.messages.set(groupId, messages);
  for (const m of list) messages.set(m.id, keepMine(messages.get(m.id), m, fromEvent));
}

// Event payloads are the same for everyone (listened_by_me, bookmarked, each reaction's
// `me` and thread_unheard_count are not yours); what we know of our own stays.
function keepMine(known, fresh, fromEvent) {
  if (!known) return fresh;
  let kept = fresh;
  if (fromEvent && known.thread_unheard_count) kept = { ...kept, thread_unheard_count: known.thread_unheard_count };
  if (known.voice?.listened_by_me && fresh.voice && !fresh.voice.listened_by_me) {
    kept = { ...kept, voice: { ...fresh.voice, listened_by_me: true } };
  }
  const mine = new Set((known.reactions || []).filter((r) => r.me).map((r) => r.emoji));
  if (mine.size && fresh.reactions?.some((r) => !r.me && mine.has(r.emoji))) {
    kept = { ...kept, reactions: fresh.reactions.map((r) => ({ ...r, me: r.me || mine.has(r.emoji) })) };
  }
  if (known.bookmarked && !fresh.bookmarked && !fresh.deleted) kept = { ...kept, bookmarked: true };
  if (known.my_position_ms != null && fresh.my_position_ms == null && !fresh.deleted) {
    kept = { ...kept, my_position_ms: known.my_position_ms };
  }
  return kept;
}

// A stored message as the server answered for us (its `me` flags are ours).
function replace(message) {
  const messages = state.messages.get(message.group_id);
  if (!messages?.has(message.id)) return;
  messages.set(message.id, message);
  changed("message", { groupId: message.group_id, id: message.id, isNew: false, fromEvent: false });
}

// The newest page (once per group and session; events keep it current after that).
export async function openGroup(groupId) {
  if (state.messages.has(groupId)) return true;
  const page = await attempt(() => api("GET", `/groups/${groupId}/messages?limit=${PAGE}`));
  if (!page) return false;
  store(groupId, page.messages);
  state.hasMore.set(groupId, page.has_more);
  changed("messages", groupId);
  for (const m of page.messages) if (m.voice?.listen_count) loadReceipts(m);
  return true;
}

export async function loadEarlier(groupId, limit = PAGE) {
  const first = sorted(groupId)[0];
  if (!first) return false;
  const page = await attempt(() => api("GET", `/groups/${groupId}/messages?before=${first.seq}&limit=${limit}`));
  if (!page || !state.messages.has(groupId)) return false;
  store(groupId, page.messages);
  state.hasMore.set(groupId, page.has_more);
  return true;
}

// A message from an event or an answer: stored, and "unheard" kept right.
export function upsert(message, { fromEvent = false } = {}) {
  const messages = state.messages.get(message.group_id);
  if (messages) {
    const known = messages.get(message.id);
    store(message.group_id, [message], fromEvent);
    changed("message", { groupId: message.group_id, id: message.id, isNew: !known, fromEvent });
    if (message.thread_root_id) countReply(message, known);
  }
  trackUnheard(messages?.get(message.id) || message);
}

// A reply came or went: its thread's root counts it (event payloads of the reply do not
// carry the root).
function countReply(reply, known) {
  const root = find(reply.group_id, reply.thread_root_id);
  const came = !known && !reply.deleted;
  const went = known && !known.deleted && reply.deleted;
  if (!root || !(came || went)) return;
  const mine = reply.sender.id === myId();
  const unheardMemo = came && reply.kind === "voice" && !mine;
  replace({ ...root, reply_count: Math.max(0, (root.reply_count || 0) + (came ? 1 : -1)),
    last_reply_at: came ? reply.created_at : root.last_reply_at,
    thread_unheard_count: (root.thread_unheard_count || 0) + (unheardMemo ? 1 : 0) });
}

function trackUnheard(m) {
  const ids = state.unheard.get(m.group_id);
  if (!ids || m.kind !== "voice") return;
  const unheard = !m.deleted && m.voice && m.voice.status !== "failed" && !m.voice.listened_by_me
    && m.sender.id !== myId() && !isBlocked(m); // as the server counts them
  const has = ids.includes(m.id);
  if (unheard && !has) state.unheard.set(m.group_id, [...ids, m.id]);
  else if (!unheard && has) state.unheard.set(m.group_id, ids.filter((id) => id !== m.id));
  else return;
  changed("unheard", m.group_id);
}

// Every unheard memo of the group, from the server (not only the pages loaded).
export async function loadUnheard(groupId) {
  const body = await api("GET", `/groups/${groupId}/unheard`).catch(() => null);
  if (!body) return;
  state.unheard.set(groupId, body.message_ids);
  changed("unheard", groupId);
}

// "Catch up": every unheard memo across the groups, oldest first, as {groupId, id}
// (at most MAX_CATCH_UP; a page refused, say of a group left meanwhile, ends the list).
const MAX_CATCH_UP = 2000;
export async function loadCatchUp() {
  const items = [];
  let after = "";
  while (items.length < MAX_CATCH_UP) {
    const body = await api("GET", `/me/unheard?limit=500${after}`).catch((error) => {
      if (!items.length) throw error;
      return { items: [], has_more: false };
    });
    items.push(...body.items.map((item) => ({ groupId: item.group_id, id: item.message_id })));
    if (!body.has_more || !body.items.length) break;
    after = `&after=${encodeURIComponent(items.at(-1).id)}`;
  }
  return items;
}

export function heardByMe(groupId, messageId) {
  const ids = state.unheard.get(groupId);
  if (ids?.includes(messageId)) {
    state.unheard.set(groupId, ids.filter((id) => id !== messageId));
    changed("unheard", groupId);
  }
  const m = find(groupId, messageId);
  if (m?.voice && !m.voice.listened_by_me) {
    upsert({ ...m, voice: { ...m.voice, listened_by_me: true } });
  }
}

export async function markListened(message) {
  if (message.voice.listened_by_me || message.sender.id === myId()) return;
  heardByMe(message.group_id, message.id);
  await attempt(() => api("POST", `/messages/${message.id}/listened`, {}), (error) => {
    if (!error.transient) return tell(error.message);
    keepReceipt(message.id); // heard offline (a kept memo): said when the network is back
  });
  reloadGroupsSoon();
}

// Receipts of memos heard while offline, per person, until the server has them.
const RECEIPTS = "earshot.receipts";

function keptReceipts() {
  try {
    return JSON.parse(localStorage.getItem(RECEIPTS)) || [];
  } catch {
    return [];
  }
}

function keepReceipt(messageId) {
  const kept = keptReceipts().filter((r) => r.messageId !== messageId);
  localStorage.setItem(RECEIPTS, JSON.stringify([...kept, { userId: myId(), messageId }]));
}

let sendingReceipts = false;
export async function sendKeptReceipts() {
  if (sendingReceipts) return;
  sendingReceipts = true;
  try {
    for (const { userId, messageId } of keptReceipts()) {
      if (userId !== myId()) continue;
      try {
        await api("POST", `/messages/${messageId}/listened`, {});
      } catch (error) {
        if (error.transient) return; // still offline: next time
      } // sent, or refused for good (deleted meanwhile): either way it leaves
      localStorage.setItem(RECEIPTS, JSON.stringify(keptReceipts().filter((r) => r.messageId !== messageId)));
    }
  } finally {
    sendingReceipts = false;
  }
  reloadGroupsSoon();
}

export async function loadReceipts(message) {
  const body = await api("GET", `/messages/${message.id}/receipts`).catch(() => null);
  if (!body) return;
  state.receipts.set(message.id, body.receipts);
  changed("receipts", message.id);
}

export function receiptArrived(groupId, data) {
  if (data.user_id === myId()) heardByMe(groupId, data.message_id);
  const message = find(groupId, data.message_id);
  if (!message) return;
  const member = state.members.get(groupId)?.find((m) => m.user.id === data.user_id);
  if (!member) return loadReceipts(message);
  const receipts = state.receipts.get(message.id) || [];
  if (!receipts.some((r) => r.user.id === data.user_id)) {
    state.receipts.set(message.id, [...receipts, { user: member.user, listened_at: data.listened_at }]);
  }
  upsert({ ...message, voice: { ...message.voice, listen_count: state.receipts.get(message.id).length } });
}

// The message, from what is loaded or from the server (for play-unheard's queue).
export async function fetchMessage(groupId, messageId) {
  const known = find(groupId, messageId);
  if (known) return known;
  return api("GET", `/messages/${messageId}`).catch(() => null);
}

// Your own text, changed (the server allows it for 15 minutes after sending).
export async function editMessage(message, text) {
  const answer = await attempt(() => api("PATCH", `/messages/${message.id}`, { text }));
  if (answer) replace(answer);
  return answer;
}

// Where you are in a memo, kept on the server so any of your devices resumes there.
// Quietly: a place not saved is no reason to interrupt.
export function savePosition(groupId, messageId, positionMs) {
  api("PUT", `/messages/${messageId}/position`, { position_ms: positionMs }).catch(() => {});
  const known = find(groupId, messageId);
  if (known) replace({ ...known, my_position_ms: positionMs });
}

export function deleteMessage(message) {
  return attempt(() => api("DELETE", `/messages/${message.id}`));
}

// reaction.added / reaction.removed: the new count of one emoji on one message.
export function reactionArrived(groupId, type, data) {
  const message = find(groupId, data.message_id);
  if (!message || message.deleted) return;
  const reactions = (message.reactions || []).map((r) => ({ ...r }));
  let reaction = reactions.find((r) => r.emoji === data.emoji);
  if (!reaction) {
    reaction = { emoji: data.emoji, count: 0, me: false };
    reactions.push(reaction);
  }
  reaction.count = data.count;
  if (data.user_id === myId()) reaction.me = type === "reaction.added";
  replace({ ...message, reactions: reactions.filter((r) => r.count > 0) });
}

// Adds the reaction if you have not given it, else takes it back.
export async function toggleReaction(message, emoji) {
  const mine = message.reactions?.some((r) => r.emoji === emoji && r.me);
  const path = `/messages/${message.id}/reactions/${encodeURIComponent(emoji)}`;
  const answer = await attempt(() => api(mine ? "DELETE" : "PUT", path));
  if (answer) replace(answer);
}

export async function toggleBookmark(message) {
  const path = `/messages/${message.id}/bookmark`;
  const done = await attempt(() => api(message.bookmarked ? "DELETE" : "PUT", path, message.bookmarked ? undefined : {}));
  const now = find(message.group_id, message.id);
  if (done !== undefined && now) replace({ ...now, bookmarked: !message.bookmarked });
}
