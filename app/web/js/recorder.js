// Hold-to-talk: record while the button (or the space bar) is held.
//
// With an open websocket and a webm/Opus recorder the memo goes out live, chunk
// by chunk, as it is spoken; otherwise it is uploaded when released. Every chunk
// is also kept here until the memo is safely on the server: if the connection
// drops mid-memo, the whole recording is uploaded and the cut-off live copy removed.

import { api } from "./api.js";
import { newId } from "./dom.js";

const LIVE_MIME = "audio/webm;codecs=opus";
const TIMESLICE_MS = 250;
const SHORTEST_MS = 400; // a tap, not a memo

export class Recorder {
  constructor({ realtime, onState, onError, onSent }) {
    Object.assign(this, { realtime, onState, onError, onSent });
    this.active = null;
    this.liveWaiters = new Map(); // client_id -> resolve(message_id)
  }

  get recording() {
    return this.active !== null;
  }

  async start(groupId) {
    if (this.active) return;
    const take = { groupId, chunks: [], startedAt: Date.now(), stopped: false };
    this.active = take;
    this.onState("starting");
    try {
      take.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      this.active = null;
      this.onState("idle");
      return this.onError("Earshot can't use your microphone. Allow it in the browser's settings.");
    }
    if (take.stopped) return this.finish(take); // released before the microphone opened
    const mime = MediaRecorder.isTypeSupported(LIVE_MIME) ? LIVE_MIME : "";
    take.recorder = new MediaRecorder(take.stream, mime ? { mimeType: mime } : {});
    take.mime = take.recorder.mimeType || mime || "audio/webm";
    take.live = Boolean(mime) && this.realtime.open;
    take.recorder.ondataavailable = (e) => e.data.size && this.chunk(take, e.data);
    take.done = new Promise((resolve) => (take.recorder.onstop = resolve));
    take.recorder.start(TIMESLICE_MS);
    this.realtime.send({ type: "recording.started", group_id: groupId });
    this.onState("recording");
  }

  stop() {
    const take = this.active;
    if (!take || take.stopped) return;
    take.stopped = true;
    if (take.recorder) this.finish(take);
  }

  async chunk(take, blob) {
    take.chunks.push(blob);
    if (!take.live) return;
    if (!take.liveStarted) take.liveStarted = this.startLive(take);
    const messageId = await take.liveStarted;
    take.sendChain = (take.sendChain || Promise.resolve()).then(async () => {
      const bytes = await blob.arrayBuffer();
      if (!messageId || !this.realtime.sendBytes(bytes)) take.broken = true;
    });
  }

  startLive(take) {
    take.clientId = newId();
    const started = new Promise((resolve) => {
      this.liveWaiters.set(take.clientId, resolve);
      setTimeout(() => resolve(null), 5000);
    });
    const sent = this.realtime.send({
      type: "live.start", group_id: take.groupId, mime: take.mime, client_id: take.clientId,
    });
    if (!sent) return Promise.resolve(null);
    return started.then((messageId) => {
      take.messageId = messageId;
      return messageId;
    });
  }

  // The server's answer to live.start (the websocket handles frames in order).
  liveStarted(messageId) {
    const [clientId, resolve] = this.liveWaiters.entries().next().value || [];
    if (!resolve) return;
    this.liveWaiters.delete(clientId);
    resolve(messageId);
  }

  async finish(take) {
    take.recorder?.stop();
    await take.done;
    take.stream?.getTracks().forEach((track) => track.stop());
    this.realtime.send({ type: "recording.stopped", group_id: take.groupId });
    this.active = null;
    this.onState("idle");
    const length = Date.now() - take.startedAt;
    if (take.liveStarted) {
      await take.liveStarted;
      await take.sendChain;
    }
    if (take.messageId && !take.broken && this.realtime.send({ type: "live.end" })) {
      return this.onSent();
    }
    if (length < SHORTEST_MS && !take.messageId) {
      return this.onError("Hold the button while you talk, and let go when you're done.");
    }
    await this.upload(take);
  }

  async upload(take) {
    const form = new FormData();
    const ext = take.mime.includes("mp4") ? "m4a" : take.mime.includes("ogg") ? "ogg" : "webm";
    form.append("file", new Blob(take.chunks, { type: take.mime }), `memo.${ext}`);
    form.append("client_id", newId());
    for (let attempt = 0; ; attempt++) {
      try {
        await api("POST", `/groups/${take.groupId}/voice`, form);
        break;
      } catch (error) {
        if (error.status !== 0 || attempt >= 5) return this.onError(error.message);
        await new Promise((r) => setTimeout(r, 1000 * 2 ** attempt)); // same client_id: no double post
      }
    }
    if (take.messageId) {
      // The live copy was cut off by a dropped connection; the full memo replaces it.
      await api("DELETE", `/messages/${take.messageId}`).catch(() => {});
    }
    this.onSent();
  }
}
