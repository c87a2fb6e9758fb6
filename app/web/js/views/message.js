// A message in the timeline: its bubble, a voice memo's player card (the waveform is
// a keyboard slider), the transcript, a reply's quote, and a message still in the outbox.
// Built from data; `syncVoice` updates a card in place while it plays (no rebuild).

import { avatar, clock, h, icon, when } from "../dom.js";

const SVG = "http://www.w3.org/2000/svg";
const SEEK_STEP_S = 5;

// The bars as one path, twice: grey, and over it the part played in the brand colour
// (clipped to the progress by syncVoice). Two elements per memo, not 64.
export function waveform(values) {
  const bars = values?.length ? values : new Array(64).fill(24);
  const d = bars.map((v, i) => {
    const height = Math.max(2, (v / 255) * 38);
    return `M${i * 4 + 1.3} ${(40 - height) / 2}v${height}`;
  }).join("");
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${bars.length * 4} 40`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("class", "waveform");
  svg.setAttribute("aria-hidden", "true");
  for (const name of ["bars", "bars played"]) {
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", d);
    path.setAttribute("class", name);
    svg.append(path);
  }
  return svg;
}

// The waveform as a slider: click or drag to seek, arrows ±5 s, Home/End.
function seekSlider(message, ctx) {
  const who = `voice memo from ${message.sender.display_name}`;
  const slider = h("div", { class: "seek", role: "slider", tabindex: "0", "data-testid": "seek",
    "aria-label": `Position in ${who}`, "aria-valuemin": "0",
    "aria-valuemax": String(Math.round((message.voice.duration_ms || 0) / 1000)) },
  waveform(message.voice.waveform));
  const duration = () => (message.voice.duration_ms || 0) / 1000;
  const at = () => ctx.player.progress(message) * duration();
  slider.addEventListener("click", (e) => {
    const box = slider.getBoundingClientRect();
    ctx.player.seek(message, (e.clientX - box.left) / box.width);
  });
  slider.addEventListener("keydown", (e) => {
    const step = { ArrowRight: SEEK_STEP_S, ArrowUp: SEEK_STEP_S, ArrowLeft: -SEEK_STEP_S,
      ArrowDown: -SEEK_STEP_S, PageUp: 15, PageDown: -15 }[e.key];
    let target = null;
    if (step !== undefined) target = at() + step;
    else if (e.key === "Home") target = 0;
    else if (e.key === "End") target = duration() - 0.5;
    if (target === null || !duration()) return;
    e.preventDefault();
    ctx.player.seek(message, target / duration());
  });
  return slider;
}

function voiceCard(message, ctx) {
  const voice = message.voice;
  const who = message.sender.display_name;
  if (voice.status === "live") {
    return h("div", { class: "voice live", "data-status": "live" },
      h("span", { class: "live-dot", "aria-hidden": "true" }),
      h("span", {}, ctx.mine ? "You are talking…" : `Live: ${who} is talking`),
      ctx.liveBlocked && !ctx.mine ? h("button", { type: "button", onclick: ctx.onUnblockLive }, "Tap to listen") : null);
  }
  if (voice.status === "processing") {
    return h("div", { class: "voice pending", "data-status": "processing" }, "Processing the memo…");
  }
  if (voice.status === "failed") {
    return h("div", { class: "voice failed", "data-status": "failed" },
      `This memo couldn't be processed${voice.error ? `: ${voice.error}` : "."}`);
  }
  const heardBy = ctx.receipts?.map((r) => r.user.display_name) ?? [];
  const card = h("div", { class: `voice ready${voice.listened_by_me || ctx.mine ? "" : " unheard"}`,
    "data-status": "ready" },
    h("button", { type: "button", class: "play", "data-testid": "play", onclick: () => ctx.player.toggle(message) }),
    seekSlider(message, ctx),
    h("span", { class: "duration" }),
    h("button", { type: "button", class: "speed", onclick: () => ctx.player.nextSpeed(),
      "aria-label": `Playback speed ${ctx.player.speed}×` }, `${ctx.player.speed}×`),
    skipButton(voice, ctx.player),
    h("div", { class: "listeners", "data-testid": "listened-by" },
      heardBy.length ? `Listened by ${heardBy.join(", ")}`
        : voice.listen_count ? `Listened by ${voice.listen_count}` : "Not listened to yet"));
  const moments = ctx.moments || [];
  if (moments.length && voice.duration_ms) {
    const at = (reply) => `${clock(reply.reply_to_offset_ms)}`;
    card.append(h("div", { class: "moments", role: "group", "aria-label": "Replies to moments of this memo",
      "data-testid": "moments" },
    h("button", { type: "button", class: "moment answered", "data-testid": "play-answered",
      onclick: () => ctx.player.playParts(message, answeredParts(moments, voice.duration_ms)) },
    "Play the answered parts"),
    h("span", { class: "moments-label" }, "Answered at"),
    moments.map((reply) => h("button", { type: "button", class: "moment",
      "aria-label": `${at(reply)}, answered by ${reply.sender.display_name}`,
      onclick: () => ctx.player.seek(message, reply.reply_to_offset_ms / voice.duration_ms) }, at(reply)))));
    const ticks = card.querySelector(".seek");
    for (const reply of moments) {
      ticks.append(h("span", { class: "moment-tick", "aria-hidden": "true",
        style: `left: ${(100 * reply.reply_to_offset_ms / voice.duration_ms).toFixed(2)}%` }));
    }
  }
  syncVoice(card, message, ctx.player);
  return card;
}

// "Play the answered parts": around each moment replied to, this much before and after.
const ANSWERED_BEFORE_MS = 5000;
const ANSWERED_AFTER_MS = 10000;

// The parts of a memo its moment replies answer, overlapping ones joined, in order.
export function answeredParts(moments, durationMs) {
  const parts = [];
  for (const offset of moments.map((m) => m.reply_to_offset_ms).sort((a, b) => a - b)) {
    const start = Math.max(0, offset - ANSWERED_BEFORE_MS);
    const end = Math.min(durationMs, offset + ANSWERED_AFTER_MS);
    const last = parts[parts.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else parts.push([start, end]);
  }
  return parts;
}

const SKIP_WORTH_MS = 1000; // less silence than this: no "skip silence" offered

// "Skip silence" (one setting for every memo), on memos with silence worth skipping, with
// the time it saves on this one.
function skipButton(voice, player) {
  const saved = (voice.silences || []).reduce((sum, [start, end]) => sum + end - start, 0);
  if (saved < SKIP_WORTH_MS) return null;
  return h("button", { type: "button", class: "skip", "data-testid": "skip-silence",
    "aria-pressed": String(player.skipSilence), onclick: () => player.toggleSkipSilence() },
  `Skip silence (saves ${clock(saved)})`);
}

// Play state, progress and time of a ready memo's card, set in place.
export function syncVoice(root, message, player) {
  const card = root.matches?.(".voice.ready") ? root : root.querySelector(".voice.ready");
  if (!card) return;
  const playing = player.isPlaying(message);
  const progress = player.progress(message);
  const total = message.voice.duration_ms || 0;
  const play = card.querySelector(".play");
  const who = `voice memo from ${message.sender.display_name}`;
  const label = `${playing ? "Pause" : "Play"} ${who}, ${clock(total)}`;
  if (play.getAttribute("aria-label") !== label) {
    play.setAttribute("aria-label", label);
    play.setAttribute("aria-pressed", playing ? "true" : "false");
    play.replaceChildren(icon(playing ? "pause" : "play"));
  }
  card.querySelector(".waveform .played").style.clipPath = `inset(0 ${(100 - progress * 100).toFixed(2)}% 0 0)`;
  const slider = card.querySelector(".seek");
  const now = Math.round((progress * total) / 1000);
  slider.setAttribute("aria-valuenow", String(now));
  slider.setAttribute("aria-valuetext", `${clock(progress * total)} of ${clock(total)}`);
  card.querySelector(".duration").textContent = clock(progress ? progress * total : total);
}

// A memo's transcript under its card: collapsed when ready, a muted note otherwise.
function transcriptView(message, ctx) {
  const transcript = message.voice?.transcript;
  if (message.deleted || !transcript) return null;
  const note = (text) => h("p", { class: "transcript-note", "data-testid": "transcript",
    "data-status": transcript.status }, text);
  if (transcript.status === "pending") return note("Transcribing…");
  if (transcript.status === "failed") return note("No transcript");
  if (transcript.status !== "ready") return null; // "off": nothing to show
  if (!transcript.text?.trim()) return note("No words heard in this memo");
  const text = h("p", { class: "transcript-text", lang: transcript.language || undefined });
  text.textContent = transcript.text;
  const details = h("details", { class: "transcript", "data-testid": "transcript",
    "data-status": "ready", open: ctx.transcriptOpen },
    h("summary", { class: "transcript-toggle" }, "Transcript"), text);
  details.addEventListener("toggle", () => ctx.onTranscriptToggle?.(message, details.open));
  return details;
}

export function summary(message) {
  if (!message) return "an earlier message";
  if (message.deleted) return "a deleted message";
  if (message.kind === "voice") return `voice memo, ${clock(message.voice?.duration_ms)}`;
  return message.text.length > 80 ? `${message.text.slice(0, 80)}…` : message.text;
}

function replyQuote(message, replied, meId) {
  const who = !replied ? "" : replied.sender.id === meId ? "you" : replied.sender.display_name;
  const moment = message.reply_to_offset_ms != null ? ` (at ${clock(message.reply_to_offset_ms)})` : "";
  return h("a", { class: "reply-quote", href: `#/g/${message.group_id}/m/${message.reply_to}`,
    "data-testid": "reply-quote" },
  h("span", { class: "sr-only" }, "In reply to "),
  who ? h("strong", {}, `${who}: `) : null, summary(replied), moment);
}

// Under a thread's first message: how many replies, how many memos you have not heard.
function threadLink(message) {
  const n = message.reply_count;
  const unheard = message.thread_unheard_count ? `, ${message.thread_unheard_count} unheard` : "";
  return h("a", { class: "thread-link", href: `#/g/${message.group_id}/t/${message.id}`,
    "data-testid": "thread-link" }, `${n} ${n === 1 ? "reply" : "replies"}${unheard}`);
}

const EDIT_WINDOW_MS = 15 * 60 * 1000; // as the server allows

function editable(message, mine) {
  return mine && message.kind === "text" && !message.deleted
    && Date.now() - Date.parse(message.created_at) < EDIT_WINDOW_MS;
}

function actionButton(label, name, onclick, extra = "", pressed = undefined) {
  return h("button", { type: "button", class: `action ${extra}`, "aria-label": label, onclick,
    "aria-pressed": pressed === undefined ? undefined : String(pressed) }, name);
}

// The quick reactions, always offered, then any other emoji people used.
export const QUICK_REACTIONS = [["👍", "thumbs up"], ["❤️", "heart"], ["😂", "laughing"],
  ["🙏", "thank you"], ["💡", "idea"]];

// One toggle button per emoji: the count, and pressed when you gave it.
function reactionBar(message, ctx) {
  const given = new Map((message.reactions || []).map((r) => [r.emoji, r]));
  const names = new Map(QUICK_REACTIONS);
  const emoji = [...names.keys(), ...[...given.keys()].filter((e) => !names.has(e))];
  return h("div", { class: "reactions", role: "group", "aria-label": "Reactions", "data-testid": "reactions" },
    emoji.map((e) => {
      const r = given.get(e);
      const count = r?.count || 0;
      return h("button", { type: "button", class: `reaction${r?.me ? " me" : ""}${count ? "" : " none"}`,
        "aria-pressed": r?.me ? "true" : "false", "data-emoji": e,
        "aria-label": `${names.get(e) || e}, ${count} reaction${count === 1 ? "" : "s"}`,
        onclick: () => ctx.onReact(message, e) },
      h("span", { "aria-hidden": "true" }, e), count ? h("span", { class: "count", "aria-hidden": "true" }, String(count)) : null);
    }));
}

export function messageRow(message, ctx) {
  const mine = message.sender.id === ctx.me.id;
  // Someone the viewer blocked: folded away until they ask to see it.
  const folded = !message.deleted && ctx.isBlocked(message) && !ctx.revealed.has(message.id);
  const body = message.deleted ? h("p", { class: "deleted" }, "Message deleted")
    : folded ? h("p", { class: "deleted", "data-testid": "blocked" }, "From someone you blocked. ",
      h("button", { type: "button", class: "link-button", onclick: () => ctx.onReveal(message) }, "Show"))
    : message.kind === "voice" ? voiceCard(message, { ...ctx, mine })
    : h("p", { class: "text" }, message.text);
  const who = mine ? "You" : message.sender.display_name;
  const live = message.voice?.status === "live";
  const actions = [
    !message.deleted && !folded && !live ? actionButton(`Reply to ${who}`, "Reply", () => ctx.onReply(message), "reply") : null,
    !message.deleted && !folded && !live ? actionButton(undefined, "Bookmark", () => ctx.onBookmark(message),
      "bookmark", Boolean(message.bookmarked)) : null,
    editable(message, mine) ? actionButton("Edit your message", "Edit", () => ctx.onEdit(message), "edit") : null,
    !message.deleted && !mine && !folded ? actionButton(`Report this message from ${who}`, "Report",
      () => ctx.onReport(message), "report") : null,
    !message.deleted && ctx.canModerate && ctx.onPin ? actionButton(undefined,
      ctx.pinned?.includes(message.id) ? "Unpin" : "Pin", () => ctx.onPin(message), "pin") : null,
    !message.deleted && (mine || ctx.canModerate) ? actionButton("Delete this message", "Delete",
      () => ctx.onDelete(message), "delete") : null,
  ].filter(Boolean);
  const highlighted = ctx.highlight === message.id;
  return h("li", { class: `message${mine ? " mine" : ""}${highlighted ? " highlight" : ""}`,
    "data-id": message.id, "data-kind": message.kind, tabindex: highlighted ? "-1" : undefined },
    avatar(mine ? ctx.me : message.sender), // yours as it is now, even on older messages
    h("div", { class: "bubble" },
      h("div", { class: "meta" },
        h("strong", { class: "sender" }, who),
        h("time", { datetime: message.created_at }, when(message.created_at)),
        message.edited_at && !message.deleted ? h("span", { class: "edited", "data-testid": "edited" }, "edited") : null),
      // In a thread's view, a reply to its first message needs no quote of it.
      message.reply_to && !message.deleted && !(ctx.inThread && message.reply_to === message.thread_root_id)
        ? replyQuote(message, ctx.replied, ctx.me.id) : null,
      body,
      message.kind === "voice" && !folded ? transcriptView(message, ctx) : null,
      !message.deleted && !folded && !live ? reactionBar(message, ctx) : null,
      message.reply_count && !ctx.inThread ? threadLink(message) : null,
      actions.length ? h("div", { class: "actions" }, actions) : null));
}

// A message still in the outbox: shown where it will be, marked as waiting.
export function pendingRow(entry, { me, online }) {
  const what = entry.kind === "text" ? h("p", { class: "text" }, entry.text)
    : h("p", { class: "text" }, "Voice memo");
  return h("li", { class: "message mine pending", "data-client-id": entry.clientId, "data-kind": entry.kind },
    avatar(me),
    h("div", { class: "bubble" },
      h("div", { class: "meta" }, h("strong", { class: "sender" }, "You")),
      what,
      h("p", { class: "pending-note", "data-testid": "pending" },
        online ? "Sending…" : "Waiting for the network. It will be sent when you're back online.")));
}
