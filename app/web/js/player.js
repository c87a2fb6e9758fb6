// Playing memos: one player for finished memos (speed, progress, a queue for
// "play all unheard") and live players that play a memo while it is recorded.

import { liveBytes } from "./api.js";

const SPEEDS = [1, 1.5, 2];
const SPEED_KEY = "earshot.speed";

export class MemoPlayer {
  constructor({ onChange, onStarted }) {
    this.audio = new Audio();
    this.audio.preload = "auto";
    this.current = null; // the message playing (or paused)
    this.queue = [];
    this.onChange = onChange;
    this.onStarted = onStarted;
    this.speed = Number(localStorage.getItem(SPEED_KEY)) || 1;
    for (const type of ["play", "pause", "timeupdate", "ended", "error"]) {
      this.audio.addEventListener(type, () => this.changed(type));
    }
  }

  changed(type) {
    if (type === "ended") {
      const next = this.queue.shift();
      if (next) return this.play(next);
      this.current = null;
    }
    this.onChange();
  }

  isPlaying(message) {
    return this.current?.id === message.id && !this.audio.paused;
  }

  progress(message) {
    if (this.current?.id !== message.id || !this.audio.duration) return 0;
    return this.audio.currentTime / this.audio.duration;
  }

  toggle(message) {
    this.queue = [];
    if (this.current?.id === message.id) {
      if (this.audio.paused) this.audio.play().catch(() => {});
      else this.audio.pause();
      return;
    }
    this.play(message);
  }

  playAll(messages) {
    if (!messages.length) return;
    this.queue = messages.slice(1);
    this.play(messages[0]);
  }

  play(message) {
    this.current = message;
    const canOpus = this.audio.canPlayType('audio/ogg; codecs="opus"');
    this.audio.src = canOpus ? message.voice.audio_url : `${message.voice.audio_url}&format=mp3`;
    this.audio.playbackRate = this.speed;
    this.audio.play().then(() => this.onStarted(message), () => this.onChange());
  }

  seek(message, fraction) {
    if (this.current?.id !== message.id || !this.audio.duration) return;
    this.audio.currentTime = fraction * this.audio.duration;
  }

  nextSpeed() {
    this.speed = SPEEDS[(SPEEDS.indexOf(this.speed) + 1) % SPEEDS.length];
    localStorage.setItem(SPEED_KEY, String(this.speed));
    this.audio.playbackRate = this.speed;
    this.onChange();
  }
}

// A memo heard while it is being recorded: its chunks go into a MediaSource as
// they arrive. A listener who joins late first fetches the bytes so far; chunks
// are placed by their offsets, so nothing is played twice or skipped.
export class LivePlayer {
  static supported() {
    return "MediaSource" in window && MediaSource.isTypeSupported('audio/webm; codecs="opus"');
  }

  constructor(messageId) {
    this.messageId = messageId;
    this.have = 0; // bytes handed to the source buffer (or waiting for it)
    this.waiting = [];
    this.early = []; // chunks that came before the catch-up fetch finished
    this.catchingUp = true;
    this.ended = false;
    this.audio = new Audio();
    this.audio.setAttribute("data-live", messageId);
    this.source = new MediaSource();
    this.audio.src = URL.createObjectURL(this.source);
    this.source.addEventListener("sourceopen", () => {
      this.buffer = this.source.addSourceBuffer('audio/webm; codecs="opus"');
      this.buffer.addEventListener("updateend", () => this.flush());
      this.flush();
    });
    this.catchUp();
  }

  // Fetch what was recorded so far, holding chunks that arrive meanwhile.
  catchUp() {
    this.catchingUp = true;
    liveBytes(this.messageId).then((bytes) => {
      this.catchingUp = false;
      if (!bytes) {
        this.early = []; // no longer live: the finished memo will be in the timeline
        this.gone = true;
        return;
      }
      this.accept(0, bytes);
      const early = this.early;
      this.early = [];
      for (const [offset, data] of early) this.push(offset, data);
    });
  }

  push(offset, data) {
    if (this.gone) return;
    if (this.catchingUp) return this.early.push([offset, data]);
    if (offset > this.have) {
      this.early.push([offset, data]); // we missed some (a reconnect): fetch them
      return this.catchUp();
    }
    this.accept(offset, data);
  }

  accept(offset, data) {
    if (offset + data.length <= this.have || offset > this.have) return; // old, or a hole
    this.waiting.push(data.subarray(this.have - offset));
    this.have = offset + data.length;
    this.flush();
  }

  flush() {
    if (!this.buffer || this.buffer.updating) return;
    if (this.waiting.length) {
      const size = this.waiting.reduce((n, part) => n + part.length, 0);
      const joined = new Uint8Array(size);
      let at = 0;
      for (const part of this.waiting) {
        joined.set(part, at);
        at += part.length;
      }
      this.waiting = [];
      this.buffer.appendBuffer(joined);
      if (this.audio.paused) this.audio.play().catch(() => {});
    } else if (this.ended && this.source.readyState === "open") {
      this.source.endOfStream();
    }
  }

  end() {
    this.ended = true;
    this.flush();
  }

  stop() {
    this.audio.pause();
    URL.revokeObjectURL(this.audio.src);
  }
}
