// The caller's groups: loaded a page at a time, reloaded (debounced) as events arrive.

import { api } from "../api.js";
import { changed, state } from "../store.js";
import { attempt } from "../ui.js";

export async function loadGroups() {
  const groups = [];
  let cursor = "";
  do { // a page at a time, following the server's cursor
    const query = cursor ? `?cursor=${encodeURIComponent(cursor)}` : "";
    const body = await attempt(() => api("GET", `/groups${query}`));
    if (!body) return;
    groups.push(...body.groups);
    cursor = body.next_cursor;
  } while (cursor);
  state.groups = groups;
  changed("groups");
}

let reload;
export function reloadGroupsSoon() {
  clearTimeout(reload);
  reload = setTimeout(loadGroups, 250);
}

// Gone from a group (left, removed, deleted): forget it. Returns the group it was.
export function forgetGroup(groupId) {
  const gone = state.groups.find((g) => g.id === groupId);
  state.groups = state.groups.filter((g) => g.id !== groupId);
  for (const map of [state.messages, state.hasMore, state.members, state.unheard, state.pending]) {
    map.delete(groupId);
  }
  changed("groups");
  changed("removed", groupId);
  return gone;
}

export async function updateGroup(groupId, patch, onError) {
  const updated = await attempt(() => api("PATCH", `/groups/${groupId}`, patch), onError);
  if (!updated) return null;
  state.groups = state.groups.map((g) => (g.id === groupId ? { ...g, ...updated } : g));
  changed("groups");
  return updated;
}

// Pin or unpin a message (moderators); the group comes back with its new `pinned`.
export async function setPinned(message, pin) {
  const path = `/groups/${message.group_id}/pins/${message.id}`;
  const updated = await attempt(() => api(pin ? "PUT" : "DELETE", path));
  if (!updated) return null;
  return pinsArrived(message.group_id, updated.pinned);
}

// pin.added / pin.removed (or an answer): the group's whole new list of pins.
export function pinsArrived(groupId, pinned) {
  state.groups = state.groups.map((g) => (g.id === groupId ? { ...g, pinned } : g));
  changed("groups");
  return pinned;
}
