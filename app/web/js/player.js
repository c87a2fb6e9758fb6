// Playing memos: one player for finished memos (speed, progress, a queue for
// "play all unheard") and live players that play a memo while it is recorded.

import { liveBytes } from "./api.js";

const SPEEDS = [1, 1.5, 2];
const SAVE_EVERY_S = 15; // while playing, the listening position is saved this often
const RESUME_UNLESS_LAST_MS = 2000; // a place this near the end starts the memo over
const SPEED_KEY = "earshot.speed";
const SKIP_KEY = "earshot.skipSilence";
const ARTWORK = [192, 512].map((size) => ({
  src: new URL(`../icons/icon-${size}.png`, import.meta.url).href, sizes: `${size}x${size}`, type: "image/png",
}));

// The address this browser plays a ready memo from: Ogg Opus, or MP3 where Opus is not
// played (Safari before 17).
const canOpus = Boolean(new Audio().canPlayType('audio/ogg; codecs="opus"'));
export function playableUrl(message) {
  return canOpus ? message.voice.audio_url : `${message.voice.audio_url}&format=mp3`;
}

// One <audio> for finished memos. The queue holds message ids, never message objects:
// a memo changed by an event (a transcript, a receipt) is looked up fresh when its turn
// comes, and one not loaded is fetched.
export class MemoPlayer {
  // `describe(message)` -> {title, artist} for the Media Session; `nextUnheard(groupId,
  // currentId)` -> the id of the group's next unheard memo (the lock screen's "next");
  // `onPosition({id, groupId}, ms)` keeps where the listener is (on pause, at the end, and
  // every SAVE_EVERY_S while playing).
  constructor({ onChange, onStarted, onSpeed, lookup, describe, nextUnheard, onPosition }) {
    this.audio = new Audio();
    this.audio.preload = "auto";
    this.current = null; // {id, groupId} of the memo playing (or paused)
    this.nowPlaying = null; // describe(message) of that memo: who, in which group
    this.queue = [];
    this.queued = false; // playing a queue ("play unheard", "Catch up") until it ends or stops
    this.history = []; // {id, groupId} of the memos played before this one (the lock screen's "previous")
    this.savedAt = 0; // the audio's time when the position was last saved
    Object.assign(this, { onChange, onStarted, onSpeed, lookup, describe, nextUnheard, onPosition });
    this.mediaHandlers();
    this.speed = Number(localStorage.getItem(SPEED_KEY)) || 1;
    this.skipSilence = localStorage.getItem(SKIP_KEY) === "on";
    for (const type of ["play", "pause", "timeupdate", "ended", "error"]) {
      this.audio.addEventListener(type, () => this.changed(type));
    }
  }

  changed(type) {
    const id = this.current?.id;
    if (type === "timeupdate") {
      this.skipQuiet();
      this.followParts();
    }
    this.keepPosition(type);
    if (type === "ended") {
      this.current = null;
      this.playNext();
    }
    this.onChange(id, type);
  }

  keepPosition(type) {
    const time = this.audio.currentTime;
    // Nothing heard yet (a memo just starting, or its source just changed): nothing to keep.
    if (!this.current || !this.onPosition || !Number.isFinite(time) || time < 0.5) return;
    // The end (the browser says "pause", then "ended") is kept once, and only over a place
    // kept before: a short memo heard through keeps none.
    const due = this.audio.ended ? this.current.kept && time !== this.savedAt
      : type === "pause" || (type === "timeupdate" && Math.abs(time - this.savedAt) >= SAVE_EVERY_S);
    if (!due) return;
    this.savedAt = time;
    this.current.kept = true;
    this.onPosition({ id: this.current.id, groupId: this.current.groupId }, Math.round(time * 1000));
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
    this.queued = false;
    if (this.current) this.current.parts = null;
    if (this.current?.id === message.id) {
      if (this.audio.paused) this.audio.play().catch(() => {});
      else this.audio.pause();
      return;
    }
    this.play(message);
  }

  // Plays these memos (ids) one after another, skipping any no longer playable.
  playAll(groupId, ids) {
    this.playQueue(ids.map((id) => ({ groupId, id })));
  }

  // The same for memos of any groups ({groupId, id}), in this order.
  playQueue(items) {
    this.queue = [...items];
    this.queued = true;
    this.playNext();
  }

  async playNext() {
    while (this.queue.length) {
      const { groupId, id } = this.queue.shift();
      const message = await this.lookup(groupId, id);
      if (message?.voice?.status === "ready" && !message.deleted) return this.play(message);
    }
    if (this.queued && !this.current) {
      this.queued = false;
      this.onChange(null, "queue");
    }
  }

  // The next memo: the queue's, else the group's next unheard one.
  next() {
    if (this.queue.length) return this.playNext();
    const groupId = this.current?.groupId;
    const id = groupId && this.nextUnheard(groupId, this.current.id);
    if (id) this.skip({ groupId, id }, false);
  }

  // Stop for good: nothing plays, nothing queued, the lock screen cleared.
  stop() {
    this.keepPosition("pause");
    const id = this.current?.id;
    Object.assign(this, { queue: [], queued: false, current: null, nowPlaying: null });
    this.audio.pause();
    this.audio.removeAttribute("src");
    this.audio.load();
    if ("mediaSession" in navigator) navigator.mediaSession.metadata = null;
    this.onChange(id, "stop");
  }

  // Starts `message` at `at` (a fraction), else where the listener left it last time.
  play(message, at = 0) {
    const place = message.my_position_ms || 0;
    const total = message.voice?.duration_ms || 0;
    if (!at && total && place && place < total - RESUME_UNLESS_LAST_MS) at = place / total;
    if (this.current && this.current.id !== message.id) this.keepPosition("pause");
    const previous = this.current?.id;
    if (previous && previous !== message.id) this.history = [...this.history.slice(-19), this.current];
    this.current = { id: message.id, groupId: message.group_id, kept: Boolean(place),
      silences: message.voice?.silences || [] };
    this.savedAt = at * (total / 1000);
    this.nowPlaying = this.describe(message);
    this.mediaMetadata(message);
    this.audio.src = playableUrl(message);
    this.audio.playbackRate = this.speed;
    if (at) {
      this.audio.addEventListener("loadedmetadata", () => (this.audio.currentTime = at * this.audio.duration),
        { once: true });
    }
    if (previous) this.onChange(previous, "pause");
    this.audio.play().then(() => this.onStarted(message), () => this.onChange(message.id, "error"));
  }

  // Seek to a fraction of the memo; a memo not playing starts there.
  seek(message, fraction) {
    fraction = Math.min(1, Math.max(0, fraction));
    if (this.current?.id !== message.id) return this.play(message, fraction);
    if (this.audio.duration) this.audio.currentTime = fraction * this.audio.duration;
  }

  // The lock screen, headset and notification shade: what plays, and its buttons.
  mediaMetadata(message) {
    if (!("mediaSession" in navigator)) return;
    navigator.mediaSession.metadata = new MediaMetadata({ ...this.nowPlaying, album: "Earshot", artwork: ARTWORK });
  }

  mediaHandlers() {
    if (!("mediaSession" in navigator)) return;
    const audio = this.audio;
    const actions = {
      play: () => audio.play().catch(() => {}),
      pause: () => audio.pause(),
      seekto: ({ seekTime }) => {
        if (Number.isFinite(seekTime)) audio.currentTime = seekTime;
      },
      previoustrack: () => this.skip(this.history.pop()),
      nexttrack: () => this.next(),
    };
    for (const [action, handler] of Object.entries(actions)) {
      try {
        navigator.mediaSession.setActionHandler(action, handler);
      } catch { /* an action this browser does not know */ }
    }
  }

  async skip(to, back = true) {
    if (!to) return;
    const message = await this.lookup(to.groupId, to.id);
    if (message?.voice?.status !== "ready" || message.deleted) return;
    const history = this.history;
    // Back in a queue: the memo left comes again after this one.
    if (back && this.queued && this.current) this.queue.unshift(this.current);
    this.play(message);
    if (back) this.history = history; // going back does not count as a step forward
  }

  // With "skip silence" on, a span of silence the server marked is jumped over.
  // Plays only these parts of a memo (`[[start_ms, end_ms], ...]`, in order, apart), then
  // pauses: "play the answered parts".
  playParts(message, parts) {
    const total = message.voice?.duration_ms;
    if (!parts.length || !total) return;
    this.queue = [];
    this.queued = false;
    this.seek(message, Math.max(parts[0][0], 1) / total);
    this.current.parts = parts;
  }

  followParts() {
    const parts = this.current?.parts;
    if (!parts || this.audio.paused) return;
    const ms = this.audio.currentTime * 1000;
    const at = parts.findIndex(([, end]) => ms < end);
    if (at === -1) {
      this.current.parts = null;
      this.audio.pause();
    } else if (ms < parts[at][0]) {
      this.audio.currentTime = parts[at][0] / 1000;
    }
  }

  skipQuiet() {
    const spans = this.skipSilence && this.current?.silences;
    if (!spans?.length || this.audio.paused) return;
    const ms = this.audio.currentTime * 1000;
    const span = spans.find(([start, end]) => ms >= start && ms < end - 100);
    if (span) this.audio.currentTime = span[1] / 1000;
  }

  toggleSkipSilence() {
    this.skipSilence = !this.skipSilence;
    localStorage.setItem(SKIP_KEY, this.skipSilence ? "on" : "off");
    this.onSpeed(this.speed); // the same "how it plays" settings change
  }

  nextSpeed() {
    this.speed = SPEEDS[(SPEEDS.indexOf(this.speed) + 1) % SPEEDS.length];
    localStorage.setItem(SPEED_KEY, String(this.speed));
    this.audio.playbackRate = this.speed;
    this.onSpeed(this.speed);
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
