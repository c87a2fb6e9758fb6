// A group's timeline: rows keyed by message id, built once and rebuilt only when their
// message changes (a playing memo is updated in place), so incoming messages cost one
// row and never take the keyboard focus. Loading earlier messages keeps the message you
// were reading where it was; a message arriving while you read back shows a pill
// instead of moving the page. Only the newest rows are built at first; older ones
// loaded already are built as you scroll up to them, and rows off screen skip layout
// (CSS content-visibility). At most MAX_ROWS rows exist at once: reading far back
// drops the newest ones (built again as you scroll down to them), so a group of
// thousands of messages costs what a screenful does. The timeline is its own scroll container between the
// group's header and the composer, so neither ever covers a message or its buttons.

import { h } from "../dom.js";
import { pendingFor } from "../data/outbox.js";
import { find, sorted } from "../data/messages.js";
import { state } from "../store.js";
import { messageRow, pendingRow, syncVoice } from "../views/message.js";

const NEAR_BOTTOM_PX = 120;
const NATIVE_ANCHORING = CSS.supports("overflow-anchor", "auto");
const FIRST_ROWS = 20; // built when the group opens
const MORE_ROWS = 25; // built each time you scroll up to the top (or down to the bottom)
const MAX_ROWS = 150; // built at once, at most

export class Timeline {
  // `context(message)` gives what a row needs; `onEarlier()` loads an older page.
  constructor({ groupId, context, onEarlier }) {
    Object.assign(this, { groupId, context, onEarlier });
    this.rows = new Map(); // message id -> {el, message, key}
    this.list = h("ol", { class: "timeline", "aria-label": "Messages" });
    this.scroller = h("div", { class: "timeline-scroller", "data-testid": "timeline-scroller" }, this.list);
    this.firstSeq = null; // rows are built for messages from this seq on
    this.lastSeq = null; // ... up to this one (null: the newest)
    this.moreButton = h("button", { type: "button", onclick: () => this.earlier() }, "Load earlier messages");
    this.more = h("li", { class: "more" }, this.moreButton);
    this.newer = h("li", { class: "more", "data-testid": "newer" },
      h("button", { type: "button", onclick: () => this.later() }, "Show newer messages"));
    this.watcher = new IntersectionObserver((seen) => {
      for (const { target, isIntersecting } of seen) {
        if (!isIntersecting) continue;
        if (target === this.more && this.hidden) this.earlier();
        if (target === this.newer && this.lastSeq !== null) this.later();
      }
    }, { root: this.scroller, rootMargin: "600px 0px" });
    this.watcher.observe(this.more);
    this.watcher.observe(this.newer);
    this.empty = h("li", { class: "empty" }, "No messages yet. Hold the button and say hello.");
    this.unseen = 0;
    this.pill = h("button", { type: "button", class: "new-pill", hidden: true, "data-testid": "new-messages",
      onclick: () => this.toBottom() });
    this.element = h("div", { class: "timeline-area" }, this.scroller, this.pill);
    // Reading the newest: stay with them as heights change (before the frame is drawn).
    this.following = false;
    this.resized = new ResizeObserver(() => this.following && this.scrollToBottom());
    this.resized.observe(this.list);
    this.scroller.addEventListener("scroll", () => {
      this.following = this.lastSeq === null && this.nearBottom();
      if (this.following) this.hidePill();
    }, { passive: true });
  }

  dispose() {
    this.watcher.disconnect();
    this.resized.disconnect();
  }

  nearBottom() {
    const { scrollHeight, scrollTop, clientHeight } = this.scroller;
    return scrollHeight - scrollTop - clientHeight < NEAR_BOTTOM_PX;
  }

  // To the newest message, and kept there (`following`) while the rows coming into
  // view get their real heights (they skipped layout with an estimated one).
  scrollToBottom() {
    this.following = true;
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  // Older rows: those loaded already first, then a page from the server.
  earlier() {
    const messages = this.messages();
    const first = messages.findIndex((m) => m.seq >= this.firstSeq);
    if (first > 0) {
      this.firstSeq = messages[Math.max(0, first - MORE_ROWS)].seq;
      this.bound("top");
      this.render();
      return this.rewatch();
    }
    return this.onEarlier();
  }

  // Asks again whether the ends are near: an observer speaks only when that changes, and
  // a fast scroll can bring an end back before it was ever seen to leave.
  rewatch() {
    for (const end of [this.more, this.newer]) {
      this.watcher.unobserve(end);
      this.watcher.observe(end);
    }
  }

  // Newer rows, when reading back dropped them.
  later() {
    const messages = this.messages();
    const last = messages.findLastIndex((m) => m.seq <= this.lastSeq);
    const next = last + MORE_ROWS;
    this.lastSeq = next >= messages.length - 1 ? null : messages[next].seq;
    this.bound("bottom");
    this.render();
    this.rewatch();
  }

  // Builds rows as far as this message (a search result, an older page just loaded).
  include(seq) {
    if (this.firstSeq === null || seq < this.firstSeq) {
      this.firstSeq = seq;
      this.bound("top");
    } else if (this.lastSeq !== null && seq > this.lastSeq) {
      this.lastSeq = seq;
      this.bound("bottom");
    }
  }

  // Keeps at most MAX_ROWS rows, dropping those at the other end from `keep`.
  bound(keep) {
    const messages = this.messages();
    let first = Math.max(0, messages.findIndex((m) => m.seq >= this.firstSeq));
    let last = this.lastSeq === null ? messages.length - 1 : messages.findLastIndex((m) => m.seq <= this.lastSeq);
    if (last - first < MAX_ROWS) return;
    if (keep === "top") {
      last = first + MAX_ROWS - 1;
      this.lastSeq = last >= messages.length - 1 ? null : messages[last].seq;
    } else {
      first = last - MAX_ROWS + 1;
      this.firstSeq = messages[first].seq;
    }
  }

  messages() {
    // A withdrawn tombstone is a cancelled recording: never a message, so not shown.
    return sorted(this.groupId).filter((m) => !state.superseded.has(m.id) && !m.withdrawn);
  }

  row(id) {
    return this.rows.get(id)?.el;
  }

  // Redraws what changed. `arrived`: ids that just came in (events), to follow or pill.
  render({ arrived = [] } = {}) {
    const newest = this.lastSeq === null;
    const stick = newest && (this.following || this.nearBottom());
    const anchor = stick ? null : this.anchor();
    const all = this.messages();
    if (this.firstSeq === null && all.length) this.firstSeq = all[Math.max(0, all.length - FIRST_ROWS)].seq;
    if (arrived.length) this.bound(stick ? "bottom" : "top");
    const messages = all.filter((m) => m.seq >= this.firstSeq && (newest || m.seq <= this.lastSeq));
    this.hidden = all.filter((m) => m.seq < this.firstSeq).length;
    const wanted = [];
    if (this.hidden || state.hasMore.get(this.groupId)) wanted.push(this.more);
    this.moreButton.textContent = this.hidden ? "Show earlier messages" : "Load earlier messages";
    const seen = new Set();
    for (const message of messages) {
      seen.add(message.id);
      wanted.push(this.rowFor(message));
    }
    for (const [id, row] of this.rows) if (!seen.has(id)) this.rows.delete(id) && row.el.remove();
    const pending = this.lastSeq === null ? pendingFor(this.groupId) : [];
    const online = state.connection === "online" && state.network;
    if (this.lastSeq !== null) wanted.push(this.newer);
    wanted.push(...pending.map((entry) => pendingRow(entry, { me: state.me, online })));
    if (!messages.length && !pending.length) wanted.push(this.empty);
    this.place(wanted);
    if (anchor) this.hold(anchor);
    const mineArrived = arrived.some((id) => find(this.groupId, id)?.sender.id === state.me.id);
    if (mineArrived && this.lastSeq !== null) return this.toBottom();
    if (stick || mineArrived) this.scrollToBottom();
    else if (arrived.length) this.showPill(arrived.length);
  }

  rowFor(message) {
    const ctx = this.context(message);
    const key = [ctx.highlight === message.id, ctx.transcriptOpen, ctx.revealed.has(message.id),
      ctx.isBlocked(message), ctx.liveBlocked && message.voice?.status === "live",
      ctx.receipts?.length, ctx.replied && `${ctx.replied.id}${ctx.replied.deleted}`, ctx.canModerate,
      ctx.pinned?.includes(message.id)].join("|");
    const known = this.rows.get(message.id);
    if (known && known.message === message && known.key === key) return known.el;
    const el = messageRow(message, ctx);
    if (known) {
      const focused = known.el.contains(document.activeElement) ? document.activeElement : null;
      known.el.replaceWith(el);
      if (focused === known.el) el.focus({ preventScroll: true });
      else if (focused) { // keyboard users stay on the same control
        const same = focused.getAttribute("data-testid") || focused.classList[0];
        el.querySelector(`[data-testid="${same}"], .${same}`)?.focus({ preventScroll: true });
      }
    }
    this.rows.set(message.id, { el, message, key });
    return el;
  }

  // Puts the rows in order, moving only those out of place.
  place(wanted) {
    const keep = new Set(wanted);
    for (const child of [...this.list.children]) if (!keep.has(child)) child.remove();
    let cursor = this.list.firstChild;
    for (const el of wanted) {
      if (el === cursor) cursor = cursor.nextSibling;
      else this.list.insertBefore(el, cursor);
    }
  }

  // Keeps a row where it was on screen. Browsers with scroll anchoring keep it there
  // afterwards (rows that skipped layout get their real height once drawn); for the
  // others we hold it for a few frames ourselves. Doing both would move it twice.
  hold(anchor, frames = NATIVE_ANCHORING ? 0 : 4) {
    const moved = anchor.el.getBoundingClientRect().top - anchor.top;
    if (Math.abs(moved) > 0.5) this.scroller.scrollTop += moved;
    if (frames) requestAnimationFrame(() => this.hold(anchor, frames - 1));
  }

  // The first message row in view, and where it is, to keep it there.
  anchor() {
    const view = this.scroller.getBoundingClientRect();
    for (const { el } of this.rows.values()) {
      const box = el.getBoundingClientRect();
      if (box.bottom > view.top && box.top < view.bottom && el.isConnected) return { el, top: box.top };
    }
    return null;
  }

  showPill(count) {
    this.unseen += count;
    this.pill.textContent = `${this.unseen} new message${this.unseen === 1 ? "" : "s"} ↓`;
    this.pill.hidden = false;
  }

  hidePill() {
    this.unseen = 0;
    this.pill.hidden = true;
  }

  toBottom() {
    this.hidePill();
    if (this.lastSeq !== null) { // back from far: the newest rows, built again
      const messages = this.messages();
      this.lastSeq = null;
      this.firstSeq = messages[Math.max(0, messages.length - FIRST_ROWS)]?.seq ?? null;
      this.render();
    }
    this.scrollToBottom();
    this.list.lastElementChild?.querySelector("button, a, [tabindex]")?.focus({ preventScroll: true });
  }

  syncPlayer(messageId, player) {
    const row = this.rows.get(messageId);
    if (row) syncVoice(row.el, row.message, player);
  }
}
