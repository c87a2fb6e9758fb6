// A group's conversation: header, play-unheard, search, the timeline and the composer.

import { api } from "../api.js";
import { h, icon } from "../dom.js";
import { fetchMessage, find, loadEarlier, loadUnheard, openGroup, sorted } from "../data/messages.js";
import { displayName, loadMembers } from "../data/people.js";
import { changed, group, moderates, on, state } from "../store.js";
import { announce, mount, screen as current, tell } from "../ui.js";
import { searchBox } from "../views/search.js";
import { pinsBar, trustPanel } from "../views/trust.js";
import { Composer } from "./composer.js";
import { rowContext } from "./rowcontext.js";
import { Timeline } from "./timeline.js";

// `app`: {player, recorder, hearLive, unblockLive}
export async function showGroup(groupId, focusId, app, force = false) {
  const open = current();
  if (!force && open?.name === "group" && open.groupId === groupId) {
    // Already open (a search result in this group, or back from one): no reload.
    open.closeSearch();
    if (focusId) reveal(open, focusId);
    return;
  }
  const g = group(groupId);
  const title = h("h1", { class: "group-name-title" }, g?.name ?? "");
  const memberCount = h("span", { class: "muted member-count" });
  const playUnheard = h("button", { type: "button", class: "primary play-unheard", "data-testid": "play-unheard",
    hidden: true, onclick: () => app.player.playAll(groupId, [...(state.unheard.get(groupId) || [])]) });
  const reports = h("a", { href: `#/g/${groupId}/reports`, class: "button reports-badge",
    "data-testid": "open-reports", hidden: true });
  const search = searchBox({ label: "Search this group", path: `/groups/${groupId}/search`, me: state.me,
    onOpen: () => closeSearch() });
  const searchPanel = h("div", { class: "search-panel", id: "group-search", hidden: true }, search.element);
  const searchToggle = h("button", { type: "button", class: "icon-button", "aria-label": "Search this group",
    title: "Search this group", "aria-expanded": "false", "aria-controls": "group-search",
    "data-testid": "search-toggle", onclick: () => (searchPanel.hidden ? openSearch() : closeSearch()) },
  icon("search"));
  function openSearch() {
    searchPanel.hidden = false;
    searchToggle.setAttribute("aria-expanded", "true");
    search.input.focus();
  }
  function closeSearch() {
    searchPanel.hidden = true;
    searchToggle.setAttribute("aria-expanded", "false");
  }
  searchPanel.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    closeSearch();
    searchToggle.focus();
  });
  const header = h("div", { class: "group-header" },
    h("a", { href: "#/", class: "back icon-button", "aria-label": "Back to your groups", title: "Your groups" }, icon("back")),
    h("div", { class: "group-title" }, title, memberCount),
    searchToggle,
    h("a", { href: `#/g/${groupId}/members`, class: "button icon-button", "aria-label": "Members", title: "Members",
      "data-testid": "members-link" }, icon("people")),
    h("a", { href: `#/g/${groupId}/settings`, class: "button icon-button", "aria-label": "Group settings",
      title: "Group settings" }, icon("settings")));

  const pins = h("div", { class: "pins-slot" });
  const trust = h("div", { class: "trust-slot" });
  const pinnedMessages = new Map(); // id -> message, for pins not in the loaded pages

  const composer = new Composer({ groupId, recorder: app.recorder });
  const timeline = new Timeline({
    groupId,
    context: (message) => messageContext(message),
    onEarlier: async () => {
      const first = sorted(groupId)[0];
      if (await loadEarlier(groupId)) timeline.include(sorted(groupId)[0]?.seq ?? first?.seq);
      timeline.render();
    },
  });
  const screen = mount({ name: "group", groupId, closeSearch, composer, timeline, loaded: false },
    h("section", { class: "page group-page" },
      h("div", { class: "group-top" }, header, playUnheard, reports, pins),
      searchPanel, timeline.element, trust, composer.element));

  const messageContext = rowContext(groupId, app, {
    composer,
    rerender: () => timeline.render(),
    highlight: () => screen.highlight,
  });

  const renderHeader = () => {
    const gr = group(groupId);
    if (!gr) return;
    title.textContent = gr.name;
    memberCount.textContent = `${gr.member_count} member${gr.member_count === 1 ? "" : "s"}`;
    const open = moderates(gr) ? state.openReports.get(groupId) || 0 : 0;
    reports.hidden = !open;
    reports.textContent = `⚑ ${open} open report${open === 1 ? "" : "s"}: review`;
  };
  const renderPins = () => {
    const pinned = group(groupId)?.pinned || [];
    const known = new Map(pinned.map((id) => [id, find(groupId, id) || pinnedMessages.get(id)]));
    pins.replaceChildren(pinned.length ? pinsBar(pinned, known, { me: state.me,
      onOpen: (id) => reveal(screen, id) }) : "");
    for (const id of pinned.filter((id) => !known.get(id) && !pinnedMessages.has(id))) {
      pinnedMessages.set(id, null); // asked once
      fetchMessage(groupId, id).then((m) => {
        if (!m || current() !== screen) return;
        pinnedMessages.set(id, m);
        renderPins();
      });
    }
  };
  const renderTrust = () => {
    const gr = group(groupId);
    const seen = `earshot.trust-seen.${state.me.id}.${groupId}`;
    if (!gr || gr.role === "owner" || localStorage.getItem(seen)) return trust.replaceChildren();
    trust.replaceChildren(trustPanel(gr, { onDismiss: () => {
      localStorage.setItem(seen, "1");
      trust.replaceChildren();
      composer.element.querySelector("button, textarea, input")?.focus();
    } }));
  };
  const renderUnheard = () => {
    const count = state.unheard.get(groupId)?.length || 0;
    playUnheard.hidden = !count;
    playUnheard.replaceChildren(icon("play"), `Play ${count} unheard`);
  };
  const renderTalking = () => {
    const ids = [...(state.talking.get(groupId)?.keys() || [])];
    composer.talking(ids.map((id) => displayName(groupId, id)));
  };
  const mine = (key) => key === groupId;
  screen.disposers.push(
    () => timeline.dispose(),
    on("groups", renderHeader),
    on("groups", () => {
      renderPins();
      if (trust.firstChild) renderTrust();
      if (screen.loaded) timeline.render();
    }),
    on("reports", (id) => mine(id) && renderHeader()),
    on("unheard", (id) => mine(id) && renderUnheard()),
    on("talking", (id) => mine(id) && renderTalking()),
    on("messages", (id) => mine(id) && screen.loaded && timeline.render()),
    on("outbox", (id) => mine(id) && screen.loaded && timeline.render()),
    on("connection", () => screen.loaded && timeline.render()),
    on("blocked", () => screen.loaded && timeline.render()),
    on("receipts", (id) => screen.loaded && find(groupId, id) && timeline.render()),
    on("message", ({ groupId: gid, id, isNew, fromEvent }) => {
      if (!mine(gid) || !screen.loaded) return;
      timeline.render({ arrived: isNew && fromEvent ? [id] : [] });
      if (isNew && fromEvent) announceMessage(find(groupId, id));
    }),
    on("player", (id) => timeline.syncPlayer(id, app.player)),
    on("speed", () => syncSpeed(app.player)),
  );
  renderHeader();
  renderUnheard();
  renderPins();
  renderTrust();

  const [ok] = await Promise.all([openGroup(groupId), loadMembers(groupId), loadUnheard(groupId),
    state.blocksLoaded]);
  if (!ok) return (location.hash = "#/");
  if (current() !== screen) return;
  if (moderates(group(groupId))) loadOpenReports(groupId);
  screen.loaded = true;
  timeline.render();
  timeline.scrollToBottom();
  renderTalking();
  renderPins(); // the pinned messages of the first page are known now
  if (trust.firstChild) keepInSight(trust.firstChild);
  if (focusId || screen.pendingFocus) reveal(screen, screen.pendingFocus || focusId);
  for (const m of sorted(groupId)) if (m.voice?.status === "live") app.hearLive(m);
}

// Scrolls `el` into sight (above the composer: its scroll-margin) and again each frame
// until it stops moving: rows off screen have estimated heights (content-visibility)
// until they are laid out, which moves everything below them.
function keepInSight(el) {
  let last = null;
  let frames = 60;
  const step = () => {
    if (!el.isConnected || frames-- <= 0) return;
    el.scrollIntoView({ block: "end" });
    const top = el.getBoundingClientRect().top;
    if (top === last) return;
    last = top;
    requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
}

// Who sent what kind of message, never its words: those stay in the timeline (where a
// delete erases them), and the list itself is not a live region.
function announceMessage(message) {
  if (!message || message.sender.id === state.me.id) return;
  const who = message.sender.display_name;
  announce(message.kind === "text" ? `New message from ${who}`
    : message.voice?.status === "live" ? `${who} is talking` : `New voice memo from ${who}`);
}

function syncSpeed(player) {
  for (const button of document.querySelectorAll(".voice .speed")) {
    button.textContent = `${player.speed}×`;
    button.setAttribute("aria-label", `Playback speed ${player.speed}×`);
  }
  for (const button of document.querySelectorAll(".voice .skip")) {
    button.setAttribute("aria-pressed", String(player.skipSilence));
  }
}

export async function loadOpenReports(groupId) {
  const body = await api("GET", `/groups/${groupId}/reports?limit=100`).catch(() => null);
  if (!body) return;
  state.openReports.set(groupId, body.reports.length);
  changed("reports", groupId);
}

// Scroll to a message (loading earlier pages until it is there) and highlight it.
async function reveal(screen, messageId) {
  const { groupId, timeline } = screen;
  if (!screen.loaded) {
    screen.pendingFocus = messageId; // revealed once the first page is in
    return;
  }
  if (!find(groupId, messageId)) {
    const target = await fetchMessage(groupId, messageId);
    if (!target || current() !== screen) return;
    while (!find(groupId, messageId) && state.hasMore.get(groupId) && sorted(groupId)[0]?.seq > target.seq) {
      if (!(await loadEarlier(groupId, 100)) || current() !== screen) return;
    }
    if (!find(groupId, messageId)) return tell("That message is no longer in this group.");
  }
  clearTimeout(screen.highlightTimer);
  timeline.include(find(groupId, messageId).seq);
  screen.highlight = messageId;
  timeline.render();
  const row = timeline.row(messageId);
  if (!row) return;
  // At once, and again once the rows on the way have their real heights.
  row.scrollIntoView({ block: "center" });
  requestAnimationFrame(() => requestAnimationFrame(() => row.scrollIntoView({ block: "center" })));
  row.focus({ preventScroll: true }); // screen readers read the message found
  screen.highlightTimer = setTimeout(() => {
    screen.highlight = null;
    row.classList.remove("highlight");
  }, 6000);
}
