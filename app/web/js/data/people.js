// Members of groups and the people I blocked.

import { api } from "../api.js";
import { changed, state } from "../store.js";
import { attempt, tell } from "../ui.js";

export async function loadMembers(groupId) {
  const body = await attempt(() => api("GET", `/groups/${groupId}/members`));
  if (!body) return;
  state.members.set(groupId, body.members);
  changed("members", groupId);
}

export async function loadBlocks() {
  const body = await attempt(() => api("GET", "/me/blocks"));
  if (body) state.blocked = new Set(body.blocks.map((b) => b.user.id));
}

export async function setBlocked(user, block) {
  if (block && !confirm(`Block ${user.display_name}? They can't add you to groups, and their messages are folded away for you. They are not told.`)) return;
  const done = await attempt(() => (block ? api("POST", "/me/blocks", { user_id: user.id })
    : api("DELETE", `/me/blocks/${user.id}`)));
  if (done === undefined) return;
  if (block) state.blocked.add(user.id);
  else state.blocked.delete(user.id);
  for (const [groupId, messages] of state.messages) {
    for (const m of messages.values()) {
      if (m.sender.id === user.id) messages.set(m.id, { ...m, sender_blocked: block });
    }
    changed("messages", groupId);
  }
  tell(block ? `You blocked ${user.display_name}.` : `You unblocked ${user.display_name}.`, "ok");
  changed("blocked");
}

export function isBlocked(message) {
  return message.sender_blocked || state.blocked.has(message.sender.id);
}

export function displayName(groupId, userId) {
  return state.members.get(groupId)?.find((m) => m.user.id === userId)?.user.display_name || "Someone";
}
