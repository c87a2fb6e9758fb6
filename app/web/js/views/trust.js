// The group's visible trust agreement: its norms, with the rules beside them (how long
// messages are kept, transcripts, who can export), and the pinned messages at its top.

import { h } from "../dom.js";
import { summary } from "./message.js";

export function rules(g) {
  const keep = g.retention_days ? `Messages are deleted after ${g.retention_days} days.`
    : "Messages are kept until someone deletes them.";
  const transcripts = g.transcripts ? "Voice memos are transcribed on this server and members can search them."
    : "Voice memos are not transcribed.";
  const exports = g.export_policy === "owner"
    ? "The group's owner can export its messages, transcripts and voice memos."
    : "Nobody can export this group.";
  return h("ul", { class: "rules", "data-testid": "group-rules" },
    h("li", { "data-rule": "retention" }, keep),
    h("li", { "data-rule": "transcripts" }, transcripts),
    h("li", { "data-rule": "export" }, exports));
}

// `onDismiss`: given, a "Got it" button closes the panel.
export function trustPanel(g, { onDismiss, headingLevel = "h2" } = {}) {
  const id = `trust-${g.id}`;
  return h("section", { class: "card trust", "aria-labelledby": id, "data-testid": "trust-panel" },
    h(headingLevel, { id }, "How this group works"),
    g.norms ? h("div", { class: "norms" }, h("h3", {}, "Our norms"),
      h("p", { class: "norms-text", "data-testid": "norms" }, g.norms)) : null,
    h("h3", {}, "The rules"),
    rules(g),
    onDismiss ? h("button", { type: "button", class: "primary", onclick: onDismiss }, "Got it") : null);
}

// A compact row of the pinned messages; tapping one jumps to it. `messages`: id -> message
// (or undefined while it is being fetched).
export function pinsBar(pinned, messages, { onOpen, me }) {
  return h("nav", { class: "pins", "aria-label": "Pinned messages", "data-testid": "pins" },
    h("ul", {}, pinned.map((id) => {
      const m = messages.get(id);
      const who = !m ? "" : m.sender.id === me.id ? "You" : m.sender.display_name;
      return h("li", {}, h("button", { type: "button", class: "pin", "data-id": id,
        onclick: () => onOpen(id) },
      h("span", { "aria-hidden": "true" }, "📌 "),
      h("span", { class: "sr-only" }, "Pinned: "),
      who ? h("strong", {}, `${who}: `) : null, m ? summary(m) : "…"));
    })));
}
