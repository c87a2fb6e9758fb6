// A thread: its first message and the replies under it, oldest first, kept current as
// replies arrive; the composer answers in the thread (texts and hold-to-talk).

import { api } from "../api.js";
import { h, icon } from "../dom.js";
import { find, openGroup } from "../data/messages.js";
import { group, on } from "../store.js";
import { mount, screen as current } from "../ui.js";
import { messageRow, syncVoice } from "../views/message.js";
import { Composer } from "./composer.js";
import { rowContext } from "./rowcontext.js";

const PAGE = 100;

// `app`: {player, recorder, unblockLive}
export async function showThread(groupId, rootId, app) {
  const state = { root: null, replies: new Map(), hasMore: false };
  const list = h("ol", { class: "timeline thread-list", "aria-label": "Thread" });
  const earlier = h("button", { type: "button", class: "load-earlier", hidden: true,
    onclick: () => load({ before: oldest() }) }, "Load earlier replies");
  const name = h("span", { class: "muted member-count" }, group(groupId)?.name ?? "");
  const composer = new Composer({ groupId, recorder: app.recorder, thread: { id: rootId } });
  const screen = mount({ name: "thread", groupId, rootId, composer },
    h("section", { class: "page group-page thread-page" },
      h("div", { class: "group-top" },
        h("div", { class: "group-header" },
          h("a", { href: `#/g/${groupId}`, class: "back icon-button", "aria-label": "Back to the group",
            title: "Back to the group" }, icon("back")),
          h("div", { class: "group-title" }, h("h1", { class: "group-name-title" }, "Thread"), name))),
      h("div", { class: "timeline-scroller" }, earlier, list), composer.element));

  const replies = () => [...state.replies.values()].sort((a, b) => a.seq - b.seq);
  const oldest = () => replies()[0]?.seq;
  const context = rowContext(groupId, app, { composer, rerender: render, thread: replies });
  function render() {
    if (!state.root) return;
    earlier.hidden = !state.hasMore;
    list.replaceChildren(...[state.root, ...replies()].map((m) => messageRow(m, context(m))));
  }
  async function load(params = {}) {
    const query = new URLSearchParams({ limit: String(PAGE), ...params });
    const page = await api("GET", `/messages/${rootId}/thread?${query}`).catch(() => null);
    if (current() !== screen) return;
    if (!page) return (location.hash = `#/g/${groupId}`);
    state.root = page.root;
    for (const m of page.replies) state.replies.set(m.id, m);
    state.hasMore = page.has_more;
    render();
  }

  screen.disposers.push(
    on("message", ({ groupId: gid, id }) => {
      const m = gid === groupId && find(gid, id);
      if (!m || !state.root) return;
      if (m.id === state.root.id) state.root = m;
      else if (m.thread_root_id === state.root.id) state.replies.set(m.id, m);
      else return;
      render();
    }),
    on("player", (id) => {
      const row = id && list.querySelector(`li[data-id="${CSS.escape(id)}"]`);
      const m = row && (id === state.root?.id ? state.root : state.replies.get(id));
      if (m) syncVoice(row, m, app.player);
    }),
  );
  await openGroup(groupId); // so the group's events keep these messages current
  await load();
}
