// The composer under a group's timeline: a reply (or edit) banner, the text box, and
// hold-to-talk with its timer, level meter and slide-away-to-cancel. Texts and recordings
// go to the outbox, which sends them (now, or when the network is back); an edit of your
// own text goes straight to the server.

import { api } from "../api.js";
import { clock, h, icon } from "../dom.js";
import { editMessage } from "../data/messages.js";
import { enqueue } from "../data/outbox.js";
import { changed, state } from "../store.js";
import { tell } from "../ui.js";
import { summary } from "../views/message.js";

const CANCEL_DISTANCE_PX = 60; // this far outside the button, letting go cancels

export class Composer {
  // `thread`: in a thread's view, its root: what texts and memos reply to unless you
  // pick another message to reply to.
  constructor({ groupId, recorder, thread = null }) {
    Object.assign(this, { groupId, recorder, thread });
    this.indicator = h("p", { class: "indicator", role: "status", "aria-live": "polite" });
    this.replyBanner = h("div", { class: "replying", hidden: true });
    this.text = h("input", { name: "text", maxlength: "4000", placeholder: thread ? "Reply in the thread" : "Write a message",
      "aria-label": "Message text", autocomplete: "off", enterkeyhint: "send" });
    this.talk = h("button", { type: "button", class: "talk", "data-testid": "talk",
      "aria-label": "Hold to talk", "aria-describedby": "talk-help" }, "Hold to talk");
    this.timer = h("span", { class: "rec-time", "data-testid": "rec-time" }, "0:00");
    this.level = h("span", { class: "rec-level" });
    this.hint = h("span", { class: "rec-hint", "data-testid": "rec-hint" });
    this.panel = h("div", { class: "rec-panel", hidden: true, "data-testid": "recording" },
      h("span", { class: "rec-dot", "aria-hidden": "true" }), this.timer,
      h("span", { class: "rec-meter", "aria-hidden": "true", "data-testid": "level" }, this.level), this.hint);
    this.send = h("button", { type: "submit", class: "send" }, "Send");
    this.element = h("form", { class: "composer", "aria-label": "Send a message" },
      this.indicator, this.replyBanner, this.panel, this.text, this.send, this.talk,
      h("p", { class: "sr-only", id: "talk-help" },
        "Hold the button or the space bar while you talk; let go to send. Slide away or press Escape to cancel."));
    this.element.addEventListener("submit", (e) => this.submit(e));
    this.bindTalk();
    this.renderReply();
  }

  async submit(e) {
    e.preventDefault();
    const text = this.text.value.trim();
    if (!text) return;
    if (this.editing) return this.saveEdit(text);
    this.text.value = "";
    const replyTo = this.replyTarget();
    state.replyTo.delete(this.groupId);
    this.renderReply();
    enqueue({ kind: "text", groupId: this.groupId, text, replyTo });
  }

  // The id of what a new text or memo answers: the message picked, else the thread's root.
  replyTarget() {
    return state.replyTo.get(this.groupId)?.id || this.thread?.id || null;
  }

  // Your own text back in the box, to change; Send saves it, the banner's × leaves it.
  edit(message) {
    state.replyTo.delete(this.groupId);
    this.editing = message;
    this.text.value = message.text;
    this.send.textContent = "Save";
    this.renderReply();
    this.text.focus();
  }

  async saveEdit(text) {
    const message = this.editing;
    if (text !== message.text && !(await editMessage(message, text))) return; // the error is shown
    this.stopEditing();
  }

  stopEditing() {
    this.editing = null;
    this.text.value = "";
    this.send.textContent = "Send";
    this.renderReply();
  }

  replyTo(message) {
    if (this.editing) this.stopEditing();
    state.replyTo.set(this.groupId, message);
    this.renderReply();
    this.text.focus();
  }

  renderReply() {
    if (this.editing) {
      this.replyBanner.hidden = false;
      return this.replyBanner.replaceChildren(
        h("span", { class: "replying-text" }, `Editing your message: ${summary(this.editing)}`),
        h("button", { type: "button", class: "icon-button", "aria-label": "Stop editing",
          onclick: () => {
            this.stopEditing();
            this.text.focus();
          } }, icon("close")));
    }
    const message = state.replyTo.get(this.groupId);
    this.replyBanner.hidden = !message;
    if (!message) return this.replyBanner.replaceChildren();
    const who = message.sender.id === state.me.id ? "yourself" : message.sender.display_name;
    this.replyBanner.replaceChildren(
      icon("reply"),
      h("span", { class: "replying-text" }, `Replying to ${who}: ${summary(message)}`),
      h("button", { type: "button", class: "icon-button", "aria-label": "Cancel the reply",
        onclick: () => {
          state.replyTo.delete(this.groupId);
          this.renderReply();
          this.text.focus();
        } }, icon("close")));
  }

  bindTalk() {
    const talk = this.talk;
    talk.addEventListener("pointerdown", (e) => {
      e.preventDefault();
      talk.setPointerCapture(e.pointerId);
      this.armed = false;
      this.recorder.start(this.groupId, this.replyTarget());
    });
    talk.addEventListener("pointermove", (e) => {
      if (!this.recorder.recording) return;
      const box = talk.getBoundingClientRect();
      const away = Math.max(box.left - e.clientX, e.clientX - box.right, box.top - e.clientY, e.clientY - box.bottom);
      this.setArmed(away > CANCEL_DISTANCE_PX);
    });
    talk.addEventListener("pointerup", () => this.release());
    talk.addEventListener("pointercancel", () => this.release());
    talk.addEventListener("contextmenu", (e) => e.preventDefault()); // long-press on phones
  }

  release() {
    if (this.armed) return this.cancel();
    this.recorder.stop();
    if (state.replyTo.delete(this.groupId)) this.renderReply(); // the memo carried the reply
  }

  cancel() {
    if (!this.recorder.recording) return;
    this.recorder.cancel();
    this.setArmed(false);
    tell("Recording cancelled. Nothing was sent.", "ok");
  }

  setArmed(armed) {
    if (this.armed === armed) return;
    this.armed = armed;
    this.panel.classList.toggle("cancelling", armed);
    this.hint.textContent = armed ? "Release to cancel" : "Slide away to cancel";
  }

  // The recorder's state: idle | starting | recording.
  recording(status) {
    const on = status === "recording";
    this.talk.classList.toggle("recording", on);
    this.talk.textContent = on ? "Release to send" : "Hold to talk";
    this.talk.setAttribute("aria-label", on ? "Release to send" : "Hold to talk");
    this.talk.setAttribute("aria-pressed", on ? "true" : "false");
    this.panel.hidden = !on;
    this.text.hidden = on;
    if (on) {
      this.timer.textContent = "0:00";
      this.setArmed(false);
      this.hint.textContent = "Slide away to cancel";
    }
  }

  tick(ms, level) {
    this.timer.textContent = clock(Math.floor(ms / 1000) * 1000);
    this.level.style.transform = `scaleX(${Math.max(0.04, level).toFixed(2)})`;
  }

  talking(names) {
    this.indicator.textContent = names.length
      ? `${names.join(" and ")} ${names.length > 1 ? "are" : "is"} recording…` : "";
  }
}

// A recording cancelled while it went out live: gone from this timeline at once, and
// deleted while still live, so the server marks its tombstone `withdrawn` and everyone
// else's timeline drops it too (a "Message deleted" for a memo never sent would mislead).
export function discardLive(groupId, messageId) {
  state.superseded.add(messageId);
  changed("messages", groupId);
  return api("DELETE", `/messages/${messageId}`).catch(() => {});
}

// The outbox keeps a recording the recorder could not stream (and hides its cut-off copy).
export function saveRecording({ groupId, blob, mime, replaces, replyTo }) {
  if (replaces) {
    state.superseded.add(replaces);
    changed("messages", groupId);
  }
  return enqueue({ kind: "voice", groupId, blob, mime, replaces, replyTo: replyTo || null });
}
