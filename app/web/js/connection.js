// The one websocket: durable events resumed from per-group cursors, indicators, live audio.
//
// After every (re)connect the client sends `sync` with the last seq it has seen of
// each group, so a laptop that slept or a phone that changed networks catches up
// without reloading. Events at or below a cursor are duplicates and are dropped.
// The browser's `offline` event closes the socket at once (no waiting for silence).

import { session } from "./api.js";

const PING_EVERY_MS = 10000;
const SILENT_LIMIT_MS = 25000; // nothing heard for this long: the socket is dead

export class Connection {
  constructor({ onEvent, onSignal, onAudio, onStatus, onSignedOut }) {
    Object.assign(this, { onEvent, onSignal, onAudio, onStatus, onSignedOut });
    this.cursors = new Map();
    this.ws = null;
    this.backoff = 500;
    this.lastHeard = 0;
    this.stopped = true;
    setInterval(() => this.heartbeat(), PING_EVERY_MS);
    window.addEventListener("online", () => this.reconnectNow());
    window.addEventListener("offline", () => this.drop());
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.heartbeat();
    });
  }

  // Start following a group from `seq` unless we already follow it from later.
  follow(groupId, seq) {
    if ((this.cursors.get(groupId) ?? -1) < seq) this.cursors.set(groupId, seq);
  }

  unfollow(groupId) {
    this.cursors.delete(groupId);
  }

  get open() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  connect() {
    this.stopped = false;
    clearTimeout(this.retry);
    const old = this.ws;
    this.ws = null;
    old?.close(4000); // one socket at a time: an orphan would deliver events twice
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    // The token travels in the subprotocol header, never in the URL (which logs keep).
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws`, ["earshot", `bearer.${session.token}`]);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.onStatus("connecting");
    ws.onopen = () => {
      this.backoff = 500;
      this.lastHeard = Date.now();
      ws.send(JSON.stringify({ type: "sync", cursors: Object.fromEntries(this.cursors) }));
      this.onStatus("online");
    };
    ws.onmessage = (frame) => this.ws === ws && this.receive(frame.data);
    ws.onclose = (closed) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onStatus("offline");
      if (closed.code === 4001) return this.onSignedOut();
      this.later();
    };
  }

  later() {
    if (this.stopped) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.connect(), navigator.onLine ? this.backoff : 15000);
    this.backoff = Math.min(this.backoff * 2, 15000);
  }

  // The network is gone: say so now, and try again when it is back.
  drop() {
    if (this.stopped) return;
    const old = this.ws;
    this.ws = null;
    old?.close(4000);
    this.onStatus("offline");
    this.later();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    this.ws?.close(1000);
    this.ws = null;
  }

  reconnectNow() {
    if (this.stopped) return;
    const old = this.ws;
    this.ws = null;
    old?.close(4000);
    this.backoff = 500;
    this.connect();
  }

  heartbeat() {
    if (!this.open) return;
    if (Date.now() - this.lastHeard > SILENT_LIMIT_MS) this.reconnectNow();
    else this.send({ type: "ping" });
  }

  send(message) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  sendBytes(data) {
    if (!this.open) return false;
    this.ws.send(data);
    return true;
  }

  receive(data) {
    this.lastHeard = Date.now();
    if (data instanceof ArrayBuffer) return this.onAudio(parseChunk(data));
    const message = JSON.parse(data);
    if (typeof message.seq === "number" && message.group_id) {
      if (message.seq <= (this.cursors.get(message.group_id) ?? -1)) return;
      this.cursors.set(message.group_id, message.seq);
      if (message.type === "group.deleted") this.cursors.delete(message.group_id);
      return this.onEvent(message);
    }
    if (message.type === "error" && message.error?.code === "cursor_ahead") {
      // The server holds less than we remembered (say, restored from a backup): follow
      // each such group from the server's head again.
      for (const [groupId, head] of Object.entries(message.error.details?.heads ?? {})) {
        this.cursors.set(groupId, head);
      }
    }
    this.onSignal(message);
  }
}

// A live chunk: 16 bytes of message UUID, 8 bytes of offset (big-endian), the bytes.
function parseChunk(buffer) {
  const bytes = new Uint8Array(buffer);
  const hex = Array.from(bytes.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
  const messageId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  const offset = Number(new DataView(buffer, 16, 8).getBigUint64(0));
  return { messageId, offset, data: bytes.subarray(24) };
}
