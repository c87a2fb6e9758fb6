// Pieces of the page, built from data. They hold no state: main.js owns it.

import { clock, h, initials, when } from "./dom.js";

export function authForm({ mode, onSubmit, note }) {
  const signup = mode === "signup";
  const form = h("form", { class: "card auth", novalidate: true },
    h("h1", {}, signup ? "Create your account" : "Sign in"),
    note ? h("p", { class: "muted" }, note) : null,
    h("label", {}, "Handle",
      h("input", { name: "handle", autocomplete: "username", required: true,
        autocapitalize: "none", spellcheck: "false", pattern: "[a-z0-9_.\\-]{3,32}" })),
    signup ? h("label", {}, "Your name",
      h("input", { name: "display_name", autocomplete: "name", required: true })) : null,
    h("label", {}, "Password",
      h("input", { name: "password", type: "password", required: true,
        minlength: signup ? "10" : null,
        autocomplete: signup ? "new-password" : "current-password" })),
    h("button", { class: "primary", type: "submit" }, signup ? "Create account" : "Sign in"),
    h("p", { class: "muted" },
      signup ? "Already have an account? " : "New here? ",
      h("a", { href: signup ? "#/login" : "#/signup" }, signup ? "Sign in" : "Create an account")),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    onSubmit(Object.fromEntries(new FormData(form)));
  });
  return form;
}

export function groupRow(group) {
  const last = group.last_message;
  const snippet = !last ? "No messages yet"
    : last.deleted ? "Message deleted"
    : last.kind === "voice" ? `${last.sender.display_name}: voice memo, ${clock(last.voice?.duration_ms)}`
    : `${last.sender.display_name}: ${last.text}`;
  const unheard = group.unheard_count;
  return h("li", {},
    h("a", { class: "group-row", href: `#/g/${group.id}`,
      "aria-label": `${group.name}${unheard ? `, ${unheard} unheard` : ""}` },
      h("span", { class: "avatar", "aria-hidden": "true" }, initials(group.name)),
      h("span", { class: "group-text" },
        h("span", { class: "group-name" }, group.name),
        h("span", { class: "group-snippet" }, snippet)),
      h("span", { class: "group-meta" },
        last ? h("time", {}, when(last.created_at)) : null,
        unheard ? h("span", { class: "badge", "data-testid": "unheard" }, unheard) : null)));
}

export function waveform(values, progress, onSeek) {
  const bars = values?.length ? values : new Array(64).fill(24);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${bars.length * 4} 40`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("class", "waveform");
  svg.setAttribute("aria-hidden", "true");
  bars.forEach((v, i) => {
    const height = Math.max(2, (v / 255) * 38);
    const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    bar.setAttribute("x", i * 4);
    bar.setAttribute("y", (40 - height) / 2);
    bar.setAttribute("width", 2.6);
    bar.setAttribute("height", height);
    bar.setAttribute("rx", 1.3);
    if (i / bars.length < progress) bar.setAttribute("class", "played");
    svg.append(bar);
  });
  if (onSeek) {
    svg.addEventListener("click", (e) => {
      const box = svg.getBoundingClientRect();
      onSeek((e.clientX - box.left) / box.width);
    });
  }
  return svg;
}

// A voice memo's card: play/pause, waveform with progress, duration, speed, listeners.
export function voiceCard(message, ctx) {
  const voice = message.voice;
  const who = message.sender.display_name;
  if (voice.status === "live") {
    return h("div", { class: "voice live", "data-status": "live" },
      h("span", { class: "live-dot", "aria-hidden": "true" }),
      h("span", {}, `Live: ${who} is talking`),
      ctx.liveBlocked ? h("button", { type: "button", onclick: ctx.onUnblockLive }, "Tap to listen") : null);
  }
  if (voice.status === "processing") {
    return h("div", { class: "voice pending", "data-status": "processing" }, "Processing the memo…");
  }
  if (voice.status === "failed") {
    return h("div", { class: "voice failed", "data-status": "failed" },
      `This memo couldn't be processed${voice.error ? `: ${voice.error}` : "."}`);
  }
  const playing = ctx.player.isPlaying(message);
  const progress = ctx.player.progress(message);
  const heardBy = ctx.receipts?.map((r) => r.user.display_name) ?? [];
  return h("div", { class: `voice ready${voice.listened_by_me || ctx.mine ? "" : " unheard"}`,
    "data-status": "ready" },
    h("button", { type: "button", class: "play", "data-testid": "play",
      "aria-label": `${playing ? "Pause" : "Play"} voice memo from ${who}, ${clock(voice.duration_ms)}`,
      "aria-pressed": playing ? "true" : "false",
      onclick: () => ctx.player.toggle(message) }, playing ? "❚❚" : "▶"),
    waveform(voice.waveform, progress, (f) => ctx.player.seek(message, f)),
    h("span", { class: "duration" }, clock(progress ? progress * voice.duration_ms : voice.duration_ms)),
    h("button", { type: "button", class: "speed", onclick: () => ctx.player.nextSpeed(),
      "aria-label": `Playback speed ${ctx.player.speed} times; change` }, `${ctx.player.speed}×`),
    h("div", { class: "listeners", "data-testid": "listened-by" },
      heardBy.length ? `Listened by ${heardBy.join(", ")}`
        : voice.listen_count ? `Listened by ${voice.listen_count}` : "Not listened to yet"));
}

// A memo's transcript under its card: collapsed when ready, a muted note otherwise.
export function transcriptView(message, ctx) {
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

export function messageRow(message, ctx) {
  const mine = message.sender.id === ctx.me.id;
  // Someone the viewer blocked: folded away until they ask to see it.
  const folded = !message.deleted && ctx.isBlocked(message) && !ctx.revealed.has(message.id);
  const body = message.deleted ? h("p", { class: "deleted" }, "Message deleted")
    : folded ? h("p", { class: "deleted", "data-testid": "blocked" }, "From someone you blocked. ",
      h("button", { type: "button", class: "link-button", onclick: () => ctx.onReveal(message) }, "Show"))
    : message.kind === "voice" ? voiceCard(message, { ...ctx, mine })
    : h("p", { class: "text" }, message.text);
  const canDelete = !message.deleted && (mine || ctx.canModerate);
  const canReport = !message.deleted && !mine && !folded;
  const highlighted = ctx.highlight === message.id;
  const who = mine ? "You" : message.sender.display_name;
  return h("li", { class: `message${mine ? " mine" : ""}${highlighted ? " highlight" : ""}`,
    "data-id": message.id, "data-kind": message.kind, tabindex: highlighted ? "-1" : undefined },
    h("span", { class: "avatar small", "aria-hidden": "true" }, initials(message.sender.display_name)),
    h("div", { class: "bubble" },
      h("div", { class: "meta" },
        h("strong", {}, who),
        h("time", { datetime: message.created_at }, when(message.created_at)),
        canReport ? h("button", { type: "button", class: "link-button report",
          "aria-label": `Report this message from ${who}`, onclick: () => ctx.onReport(message) }, "Report") : null,
        canDelete ? h("button", { type: "button", class: "link-button delete",
          "aria-label": "Delete this message", onclick: () => ctx.onDelete(message) }, "Delete") : null),
      body,
      message.kind === "voice" && !folded ? transcriptView(message, ctx) : null));
}

// A search snippet as nodes: the words between U+0002 and U+0003 in <mark>, the rest
// as plain text (never parsed as HTML).
export function snippetNodes(snippet) {
  const nodes = [];
  const [first, ...rest] = (snippet || "").split("\u0002");
  if (first) nodes.push(document.createTextNode(first.replaceAll("\u0003", "")));
  for (const part of rest) {
    const end = part.indexOf("\u0003");
    const word = end < 0 ? part : part.slice(0, end);
    const after = end < 0 ? "" : part.slice(end + 1).replaceAll("\u0003", "");
    if (word) {
      const mark = document.createElement("mark");
      mark.textContent = word;
      nodes.push(mark);
    }
    if (after) nodes.push(document.createTextNode(after));
  }
  return nodes;
}

// One search result: who, when, where (across groups), and the snippet; opens the message.
export function searchHit(hit, { me, groupName, onOpen }) {
  const who = hit.sender.id === me.id ? "You" : hit.sender.display_name;
  return h("li", {},
    h("a", { class: "hit", href: `#/g/${hit.group_id}/m/${hit.message_id}`,
      "data-testid": "search-hit", onclick: onOpen ? (e) => onOpen(e, hit) : undefined },
      h("span", { class: "hit-meta" },
        h("span", { class: "avatar small", "aria-hidden": "true" }, initials(hit.sender.display_name)),
        h("strong", {}, who),
        h("time", { datetime: hit.created_at }, when(hit.created_at)),
        groupName ? h("span", { class: "hit-group" }, h("span", { class: "sr-only" }, "in "), groupName) : null,
        hit.kind === "voice" ? h("span", { class: "hit-kind" }, "Voice memo") : null),
      h("span", { class: "snippet" }, snippetNodes(hit.snippet))));
}

const RANK = { member: 0, moderator: 1, owner: 2 };

export function memberRow(member, { me, myRole, blocked, onRole, onRemove, onBan, onBlock }) {
  const self = member.user.id === me.id;
  const canRemove = !self && member.role !== "owner" && RANK[myRole] >= 1
    && RANK[myRole] >= RANK[member.role];
  const name = member.user.display_name;
  return h("li", { class: "member", "data-handle": member.user.handle },
    h("span", { class: "avatar small", "aria-hidden": "true" }, initials(name)),
    h("span", { class: "member-text" },
      h("strong", {}, self ? `${name} (you)` : name),
      h("span", { class: "muted" }, `@${member.user.handle}${blocked ? " · blocked by you" : ""}`)),
    myRole === "owner" && !self
      ? h("select", { "aria-label": `Role of ${name}`, onchange: (e) => onRole(member, e.target.value) },
        ...["member", "moderator", "owner"].map((role) =>
          h("option", { value: role, selected: role === member.role }, role)))
      : h("span", { class: `role role-${member.role}` }, member.role),
    h("span", { class: "member-actions" },
      canRemove ? h("button", { type: "button", class: "danger",
        "aria-label": `Remove ${name} from the group`, onclick: () => onRemove(member) }, "Remove") : null,
      canRemove ? h("button", { type: "button", class: "danger",
        "aria-label": `Ban ${name} from the group`, onclick: () => onBan(member) }, "Ban") : null,
      self ? null : h("button", { type: "button", "aria-pressed": blocked ? "true" : "false",
        "aria-label": `${blocked ? "Unblock" : "Block"} ${name}`, onclick: () => onBlock(member, !blocked) },
      blocked ? "Unblock" : "Block")));
}
