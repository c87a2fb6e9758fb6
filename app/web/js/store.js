// The one store: everything the client knows, and who wants to hear when it changes.
//
// Data modules (data/*) change the state and then call `changed(topic, key)`; screens
// subscribe with `on(topic, fn)` while they are mounted and redraw only their part.
// Topics: groups, messages (key: group id), message (key: message id), members,
// receipts, talking, reports, unheard, outbox (key: group id), sent (key: group id: the
// person sent a text or memo), connection, speed, blocked.

export const state = {
  me: null,
  groups: [],
  messages: new Map(), // group id -> Map(message id -> message), for groups opened
  hasMore: new Map(), // group id -> whether earlier messages exist
  members: new Map(), // group id -> [member]
  receipts: new Map(), // message id -> [{user, listened_at}]
  talking: new Map(), // group id -> Map(user id -> timer)
  unheard: new Map(), // group id -> [message id]: every unheard memo, oldest first
  pending: new Map(), // group id -> [outbox entry] not yet on the server
  superseded: new Set(), // ids of live copies not to show: cut off and sent whole, or cancelled
  live: new Map(), // message id -> LivePlayer
  liveBlocked: false, // the browser refused to autoplay live audio
  openTranscripts: new Set(),
  blocked: new Set(), // user ids I blocked
  blocksLoaded: Promise.resolve(), // settles once `blocked` is known
  revealed: new Set(), // message ids of blocked people I chose to see anyway
  openReports: new Map(), // group id -> open report count (moderators)
  inviteLinks: new Map(), // group id -> the invite link made last in this session
  replyTo: new Map(), // group id -> the message being replied to
  connection: "connecting", // online | connecting | offline (the websocket)
  network: navigator.onLine, // the browser's own idea
  renewing: null, // a password change under way (its answer carries the new token)
};

const listeners = new Map(); // topic -> Set(fn)

export function on(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(fn);
  return () => listeners.get(topic).delete(fn);
}

export function changed(topic, key) {
  for (const fn of [...(listeners.get(topic) || [])]) fn(key);
}

export function reset() {
  Object.assign(state, { me: null, groups: [], liveBlocked: false, blocksLoaded: Promise.resolve() });
  for (const value of Object.values(state)) {
    if (value instanceof Map || value instanceof Set) value.clear();
  }
}

export const group = (id) => state.groups.find((g) => g.id === id);
export const moderates = (g) => Boolean(g && g.role !== "member");
export const myId = () => state.me?.id;
