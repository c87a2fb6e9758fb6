// Hold-to-talk: record while the button (or the space bar) is held.
//
// A press shorter than SHORTEST_MS sends nothing (a tap, or a change of mind). Past
// it, with an open websocket and a webm/Opus recorder, the memo goes out live, chunk
// by chunk, as it is spoken; otherwise it is saved whole (to the outbox) on release.
// Every chunk is also kept here until the memo is safely on the server: if the
// connection drops mid-memo, the whole recording goes to the outbox and the cut-off
// live copy is hidden at once and deleted once the whole one is on the server.
// `cancel()` (sliding away, Escape) throws the take away; a live copy is deleted.

import { newId } from "./dom.js";

const LIVE_MIME = "audio/webm;codecs=opus";
const TIMESLICE_MS = 250;
export const SHORTEST_MS = 1000;

export class Recorder {
  // onState(status): idle | starting | recording; onTick(ms, level 0..1) while recording;
  // onSave({groupId, blob, mime, replaces, replyTo}); onDiscardLive(groupId, messageId) for a
  // cancelled live copy (resolves once it is deleted).
  constructor({ connection, onState, onTick, onError, onSave, onDiscardLive }) {
    Object.assign(this, { connection, onState, onTick, onError, onSave, onDiscardLive });
    this.active = null;
    this.liveWaiters = [];
  }

  get recording() {
    return this.active !== null;
  }

  // `replyTo`: the id of the message the memo answers (a thread's root, a reply), or null.
  async start(groupId, replyTo = null) {
    if (this.active) return;
    const take = { groupId, replyTo, chunks: [], sent: 0, startedAt: Date.now(), stopped: false };
    this.active = take;
    this.onState("starting");
    try {
      take.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      this.active = null;
      this.onState("idle");
      return this.onError("Earshot can't use your microphone. Allow it in the browser's settings.");
    }
    if (take.stopped) return this.finish(take); // released before the microphone opened
    const mime = MediaRecorder.isTypeSupported(LIVE_MIME) ? LIVE_MIME : "";
    take.recorder = new MediaRecorder(take.stream, mime ? { mimeType: mime } : {});
    take.mime = take.recorder.mimeType || mime || "audio/webm";
    take.live = Boolean(mime);
    take.recorder.ondataavailable = (e) => e.data.size && this.chunk(take, e.data);
    take.done = new Promise((resolve) => (take.recorder.onstop = resolve));
    take.recorder.start(TIMESLICE_MS);
    take.startedAt = Date.now();
    this.connection.send({ type: "recording.started", group_id: groupId });
    this.meter(take);
    this.onState("recording");
  }

  // The timer and the level meter, about ten times a second.
  meter(take) {
    let analyser;
    try {
      take.audioContext = new AudioContext();
      analyser = take.audioContext.createAnalyser();
      analyser.fftSize = 512;
      take.audioContext.createMediaStreamSource(take.stream).connect(analyser);
    } catch {
      analyser = null; // no Web Audio: the timer still runs
    }
    const samples = new Uint8Array(512);
    take.ticker = setInterval(() => {
      let level = 0;
      if (analyser) {
        analyser.getByteTimeDomainData(samples);
        let sum = 0;
        for (const s of samples) sum += ((s - 128) / 128) ** 2;
        level = Math.min(1, Math.sqrt(sum / samples.length) * 4);
      }
      this.onTick(Date.now() - take.startedAt, level);
    }, 100);
  }

  stop() {
    const take = this.active;
    if (!take || take.stopped) return;
    take.stopped = true;
    if (take.recorder) this.finish(take);
  }

  cancel() {
    const take = this.active;
    if (!take || take.stopped) return;
    take.cancelled = true;
    this.stop();
  }

  chunk(take, blob) {
    take.chunks.push(blob);
    if (!take.live || take.cancelled) return;
    if (!take.liveStarted) {
      // Maybe only a tap: nothing goes out before SHORTEST_MS (nor starts on release).
      if (take.stopped || Date.now() - take.startedAt < SHORTEST_MS) return;
      if (!this.connection.open) return (take.live = false); // offline: saved whole on release
      take.liveStarted = this.startLive(take);
    }
    take.sendChain = (take.sendChain || Promise.resolve()).then(async () => {
      const messageId = await take.liveStarted;
      while (take.sent < take.chunks.length) {
        const bytes = await take.chunks[take.sent].arrayBuffer();
        take.sent += 1;
        if (!messageId || !this.connection.sendBytes(bytes)) take.broken = true;
      }
    });
  }

  startLive(take) {
    const started = new Promise((resolve) => {
      this.liveWaiters.push(resolve);
      setTimeout(() => resolve(null), 5000);
    });
    const sent = this.connection.send({
      type: "live.start", group_id: take.groupId, mime: take.mime, client_id: newId(),
      reply_to: take.replyTo || undefined,
    });
    if (!sent) return Promise.resolve(null);
    return started.then((messageId) => {
      take.messageId = messageId;
      return messageId;
    });
  }

  // The server's answer to live.start (the websocket handles frames in order).
  liveStarted(messageId) {
    this.liveWaiters.shift()?.(messageId);
  }

  async finish(take) {
    take.recorder?.stop();
    await take.done;
    clearInterval(take.ticker);
    take.audioContext?.close().catch(() => {});
    take.stream?.getTracks().forEach((track) => track.stop());
    this.connection.send({ type: "recording.stopped", group_id: take.groupId });
    this.active = null;
    this.onState("idle");
    const length = Date.now() - take.startedAt;
    if (take.liveStarted) {
      await take.liveStarted;
      await take.sendChain;
    }
    if (take.cancelled) {
      if (take.messageId) { // deleted while live (withdrawn), then ended
        await this.onDiscardLive(take.groupId, take.messageId);
        this.connection.send({ type: "live.end" });
      }
      return;
    }
    if (!take.messageId && length < SHORTEST_MS) {
      return this.onError("Hold the button while you talk, and let go when you're done.");
    }
    if (take.messageId && !take.broken && this.connection.send({ type: "live.end" })) return;
    // Not streamed, or cut off: the whole recording goes to the outbox.
    this.onSave({ groupId: take.groupId, blob: new Blob(take.chunks, { type: take.mime }),
      mime: take.mime, replaces: take.messageId || null, replyTo: take.replyTo });
  }
}
