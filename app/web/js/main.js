// The Earshot web client: routes, state, and what each event changes on screen.

import { api, session } from "./api.js";
import { h, newId } from "./dom.js";
import { LivePlayer, MemoPlayer } from "./player.js";
import { Realtime } from "./realtime.js";
import { Recorder } from "./recorder.js";
import { askReport, banRows, inviteRows, logList, reportCard } from "./moderation.js";
import { authForm, groupRow, memberRow, messageRow, searchHit } from "./views.js";

const PENDING_INVITE = "earshot.invite";
const view = document.getElementById("view");
const liveAudio = h("div", { id: "live-audio", hidden: true });
document.body.append(liveAudio);

const state = {
  me: null,
  groups: [],
  messages: new Map(), // group id -> Map(message id -> message), for groups opened
  hasMore: new Map(),
  members: new Map(), // group id -> [member]
  receipts: new Map(), // message id -> [{user, listened_at}]
  talking: new Map(), // group id -> Map(user id -> timer)
  live: new Map(), // message id -> LivePlayer
  liveBlocked: false,
  openTranscripts: new Set(), // message ids whose transcript is expanded
  highlight: null, // the message id a search result opened, highlighted for a moment
  blocked: new Set(), // user ids I blocked: their messages are folded away
  revealed: new Set(), // message ids of blocked people I chose to see anyway
  openReports: new Map(), // group id -> open reports (moderators)
  inviteLinks: new Map(), // group id -> the invite link made last in this session
  screen: null, // what is on screen: {name, groupId, parts}
};

// ---- notices ------------------------------------------------------------------

const notice = document.getElementById("notice");
let noticeTimer;
function tell(text, kind = "error") {
  notice.textContent = text;
  notice.className = `notice ${kind}`;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (notice.hidden = true), 6000);
}

async function attempt(action) {
  try {
    return await action();
  } catch (error) {
    if (error.status === 401 && session.token) return signedOut();
    tell(error.message);
    return undefined;
  }
}

// ---- realtime, playback and recording -------------------------------------------

const realtime = new Realtime({
  onEvent: applyEvent,
  onSignal: applySignal,
  onAudio: ({ messageId, offset, data }) => state.live.get(messageId)?.push(offset, data),
  onStatus: (status) => {
    const label = { online: "", connecting: "Connecting…", offline: "Offline: reconnecting…" };
    document.getElementById("connection").textContent = label[status];
  },
  onSignedOut: () => signedOut(),
});

const player = new MemoPlayer({
  onChange: () => refreshMessage(player.current?.id),
  onStarted: (message) => markListened(message),
});
player.audio.addEventListener("pause", () => refreshAllVoice());
player.audio.addEventListener("play", () => refreshAllVoice());

const recorder = new Recorder({
  realtime,
  onState: (s) => renderTalkButton(s),
  onError: (text) => tell(text),
  onSent: () => {},
});

// ---- routing ------------------------------------------------------------------------

window.addEventListener("hashchange", route);
document.getElementById("signout").addEventListener("click", async () => {
  await api("POST", "/auth/logout").catch(() => {});
  signedOut();
});

async function start() {
  if (session.token) {
    const me = await attempt(() => api("GET", "/me"));
    if (me) await signedIn(me);
  }
  route();
}

async function signedIn(me) {
  state.me = me;
  document.getElementById("signout").hidden = false;
  await Promise.all([loadGroups(), loadBlocks()]);
  for (const g of state.groups) realtime.follow(g.id, g.last_seq);
  realtime.connect();
  const code = sessionStorage.getItem(PENDING_INVITE);
  if (code) location.hash = `#/join/${code}`;
}

function signedOut() {
  session.token = null;
  realtime.stop();
  Object.assign(state, { me: null, groups: [], screen: null });
  for (const map of [state.messages, state.members, state.receipts, state.hasMore, state.openTranscripts,
    state.blocked, state.revealed, state.openReports, state.inviteLinks]) map.clear();
  state.highlight = null;
  document.getElementById("signout").hidden = true;
  location.hash = "#/login";
  route();
}

function route() {
  const [, name = "", id = "", sub = "", extra = ""] = location.hash.split("/");
  if (name === "join") return join(id);
  if (!state.me) return showAuth(name === "signup" ? "signup" : "login");
  if (name === "g" && id) {
    if (sub === "members") return showMembers(id);
    if (sub === "reports") return showReports(id);
    if (sub === "log") return showLog(id);
    return showGroup(id, sub === "m" ? extra : null); // #/g/<group>/m/<message>: open at a message
  }
  showGroups();
}

function mount(screen, ...children) {
  state.screen = screen;
  view.replaceChildren(...children);
  view.focus({ preventScroll: true });
}

// ---- sign in / sign up / join ----------------------------------------------------------

function showAuth(mode, note) {
  mount({ name: "auth" }, authForm({
    mode,
    note: note || (sessionStorage.getItem(PENDING_INVITE) ? "Sign in or create an account to join the group." : ""),
    onSubmit: (fields) => attempt(async () => {
      const path = mode === "signup" ? "/auth/register" : "/auth/login";
      const { user, token } = await api("POST", path, { ...fields, handle: fields.handle.trim() });
      session.token = token;
      await signedIn(user);
      if (!sessionStorage.getItem(PENDING_INVITE)) location.hash = "#/";
      route();
    }),
  }));
}

async function join(code) {
  if (!state.me) {
    sessionStorage.setItem(PENDING_INVITE, code);
    return showAuth("signup", "You're invited to a group on Earshot. Create an account, or sign in, to join.");
  }
  sessionStorage.removeItem(PENDING_INVITE);
  const member = await attempt(() => api("POST", `/invites/${encodeURIComponent(code)}/accept`));
  await loadGroups();
  if (!member) return (location.hash = "#/");
  const group = state.groups.find((g) => g.id === member.group_id);
  if (group) realtime.follow(group.id, group.last_seq);
  tell(`You joined ${group?.name ?? "the group"}.`, "ok");
  location.hash = `#/g/${member.group_id}`;
}

// ---- group list ----------------------------------------------------------------------------

async function loadGroups() {
  const groups = [];
  let cursor = "";
  do {  // a page at a time, following the server's cursor
    const query = cursor ? `?cursor=${encodeURIComponent(cursor)}` : "";
    const body = await attempt(() => api("GET", `/groups${query}`));
    if (!body) return;
    groups.push(...body.groups);
    cursor = body.next_cursor;
  } while (cursor);
  state.groups = groups;
}

let groupsReload;
function reloadGroupsSoon() {
  clearTimeout(groupsReload);
  groupsReload = setTimeout(async () => {
    await loadGroups();
    if (state.screen?.name === "groups") renderGroupList();
    if (state.screen?.name === "group") renderGroupHeader();
  }, 250);
}

function showGroups() {
  const list = h("ul", { class: "groups", "aria-label": "Your groups" });
  const form = h("form", { class: "inline-form", "aria-label": "Create a group" },
    h("input", { name: "name", required: true, maxlength: "100", placeholder: "New group name",
      "aria-label": "New group name" }),
    h("button", { class: "primary", type: "submit" }, "Create group"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const name = form.elements.name.value.trim();
    if (!name) return tell("Give the group a name.");
    attempt(async () => {
      const group = await api("POST", "/groups", { name });
      realtime.follow(group.id, group.last_seq);
      await loadGroups();
      location.hash = `#/g/${group.id}`;
    });
  });
  const search = searchBox({ label: "Search all your groups", path: "/search", acrossGroups: true });
  mount({ name: "groups", parts: { list } },
    h("section", { class: "page" },
      h("h1", {}, "Your groups"), search.element, form, list));
  renderGroupList();
  loadGroups().then(renderGroupList);
}

// ---- search ------------------------------------------------------------------------------------

// A search form with its results: `path` is /search (all groups) or /groups/{id}/search.
function searchBox({ label, path, acrossGroups = false, onOpen }) {
  const input = h("input", { type: "search", name: "q", maxlength: "200", autocomplete: "off",
    placeholder: acrossGroups ? "Search messages and transcripts" : "Search this group",
    "aria-label": label, enterkeyhint: "search" });
  const form = h("form", { class: "inline-form search", role: "search", "aria-label": label },
    input, h("button", { type: "submit" }, "Search"));
  const status = h("p", { class: "search-status", role: "status", "aria-live": "polite" });
  const hits = h("ol", { class: "hits", "aria-label": "Search results", hidden: true });
  let asked = 0; // answers to an older question are dropped
  const clear = () => {
    asked += 1;
    status.textContent = "";
    hits.replaceChildren();
    hits.hidden = true;
  };
  input.addEventListener("input", () => input.value.trim() || clear());
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = input.value.trim();
    if (!q) return clear();
    const ticket = ++asked;
    status.textContent = "Searching…";
    const body = await attempt(() => api("GET", `${path}?q=${encodeURIComponent(q)}&limit=20`));
    if (ticket !== asked) return;
    if (!body) return (status.textContent = "");
    const count = body.hits.length;
    status.textContent = count ? `${count}${count === 20 ? "+" : ""} message${count === 1 ? "" : "s"} found`
      : "Nothing found";
    hits.replaceChildren(...body.hits.map((hit) => searchHit(hit, {
      me: state.me,
      groupName: acrossGroups ? state.groups.find((g) => g.id === hit.group_id)?.name ?? "A group" : null,
      onOpen: (event, opened) => {
        onOpen?.(opened);
        // The same link again changes no hash: open it ourselves.
        if (location.hash === `#/g/${opened.group_id}/m/${opened.message_id}`) {
          event.preventDefault();
          route();
        }
      },
    })));
    hits.hidden = !count;
  });
  return { element: h("div", { class: "search-box" }, form, status, hits), input, clear };
}

function renderGroupList() {
  const list = state.screen?.name === "groups" && state.screen.parts.list;
  if (!list) return;
  list.replaceChildren(...(state.groups.length ? state.groups.map(groupRow)
    : [h("li", { class: "empty" }, "You're not in any group yet. Create one, or open an invite link.")]));
}

// ---- a group's timeline ------------------------------------------------------------------------

async function showGroup(groupId, focusId = null) {
  if (state.screen?.name === "group" && state.screen.groupId === groupId) {
    // Already open (a search result in this group, or back from one): no reload.
    state.screen.parts.closeSearch();
    if (focusId) {
      if (state.screen.loaded) reveal(groupId, focusId);
      else state.screen.focus = focusId;
    }
    return;
  }
  const list = h("ol", { class: "timeline", "aria-label": "Messages", "aria-live": "polite" });
  const header = h("div", { class: "group-header" });
  const indicator = h("p", { class: "indicator", role: "status", "aria-live": "polite" });
  const talk = h("button", { type: "button", class: "talk", "data-testid": "talk",
    "aria-label": "Hold to talk (or hold the space bar)" }, "Hold to talk");
  bindTalk(talk, groupId);
  const text = h("input", { name: "text", maxlength: "4000", placeholder: "Write a message",
    "aria-label": "Message text", autocomplete: "off" });
  const composer = h("form", { class: "composer" }, indicator, text,
    h("button", { type: "submit", class: "send" }, "Send"), talk);
  composer.addEventListener("submit", (e) => {
    e.preventDefault();
    const value = text.value.trim();
    if (!value) return;
    text.value = "";
    attempt(async () => {
      upsert(await api("POST", `/groups/${groupId}/messages`, { text: value, client_id: newId() }));
    });
  });
  const search = searchBox({ label: "Search this group", path: `/groups/${groupId}/search`,
    onOpen: () => closeSearch() });
  const searchPanel = h("div", { class: "search-panel", id: "group-search", hidden: true }, search.element);
  const searchToggle = h("button", { type: "button", class: "icon-button", "aria-label": "Search this group",
    "aria-expanded": "false", "aria-controls": "group-search", "data-testid": "search-toggle",
    onclick: () => (searchPanel.hidden ? openSearch() : closeSearch()) }, searchIcon());
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
  const screen = { name: "group", groupId, focus: focusId, loaded: false,
    parts: { list, header, indicator, talk, searchToggle, closeSearch } };
  mount(screen, h("section", { class: "page group-page" }, header, searchPanel, list, composer));
  renderGroupHeader();
  const [page, members] = await Promise.all([
    attempt(() => api("GET", `/groups/${groupId}/messages?limit=50`)),
    attempt(() => api("GET", `/groups/${groupId}/members`)),
  ]);
  if (!page) return (location.hash = "#/");
  if (members) state.members.set(groupId, members.members);
  if (moderates(currentGroup())) loadOpenReports(groupId);
  const messages = new Map(state.messages.get(groupId) || []);
  for (const m of page.messages) messages.set(m.id, m);
  state.messages.set(groupId, messages);
  state.hasMore.set(groupId, page.has_more);
  if (state.screen !== screen) return;
  screen.loaded = true;
  renderTimeline();
  if (screen.focus) reveal(groupId, screen.focus);
  for (const m of page.messages) {
    if (m.kind === "voice" && m.voice.status === "live") hearLive(m);
    if (m.kind === "voice" && m.voice.listen_count) loadReceipts(m);
  }
}

function currentGroup() {
  const id = state.screen?.groupId;
  return id ? state.groups.find((g) => g.id === id) : undefined;
}

const moderates = (group) => Boolean(group && group.role !== "member");

// The header is built once per screen and then updated in place, so a focused
// button (search, members) keeps the keyboard focus when the counts change.
function renderGroupHeader() {
  const parts = state.screen?.parts;
  const group = currentGroup();
  if (!parts?.header || !group) return;
  if (!parts.title) {
    parts.title = h("h1", {});
    parts.memberCount = h("span", { class: "muted" });
    parts.playUnheard = h("button", { type: "button", class: "primary", "data-testid": "play-unheard",
      hidden: true, onclick: () => player.playAll(unheardMemos(group.id)) });
    parts.reports = h("a", { href: `#/g/${group.id}/reports`, class: "button reports-badge",
      "data-testid": "open-reports", hidden: true });
    parts.header.replaceChildren(
      h("a", { href: "#/", class: "back", "aria-label": "Back to your groups" }, "‹"),
      h("div", { class: "group-title" }, parts.title, parts.memberCount),
      parts.playUnheard,
      parts.searchToggle,
      h("a", { href: `#/g/${group.id}/members`, class: "button" }, "Members"));
    parts.header.after(parts.reports); // a bar of its own: the header is full on a phone
  }
  const reports = moderates(group) ? state.openReports.get(group.id) || 0 : 0;
  parts.reports.hidden = !reports;
  parts.reports.textContent = `⚑ ${reports} open report${reports === 1 ? "" : "s"}: review`;
  parts.title.textContent = group.name;
  parts.memberCount.textContent = `${group.member_count} member${group.member_count === 1 ? "" : "s"}`;
  const unheard = unheardMemos(group.id);
  parts.playUnheard.hidden = !unheard.length;
  parts.playUnheard.textContent = `Play ${unheard.length} unheard`;
}

function searchIcon() {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const lens = document.createElementNS("http://www.w3.org/2000/svg", "circle");
  Object.entries({ cx: 10.5, cy: 10.5, r: 6.5 }).forEach(([k, v]) => lens.setAttribute(k, v));
  const handle = document.createElementNS("http://www.w3.org/2000/svg", "path");
  handle.setAttribute("d", "M15.5 15.5 21 21");
  svg.append(lens, handle);
  return svg;
}

function sortedMessages(groupId) {
  return [...(state.messages.get(groupId)?.values() || [])].sort((a, b) => a.seq - b.seq);
}

function unheardMemos(groupId) {
  return sortedMessages(groupId).filter((m) => m.kind === "voice" && !m.deleted
    && m.voice.status === "ready" && !m.voice.listened_by_me && m.sender.id !== state.me.id);
}

function messageContext() {
  const group = currentGroup();
  return {
    me: state.me, player, liveBlocked: state.liveBlocked,
    canModerate: group && group.role !== "member",
    onDelete: (m) => confirm("Delete this message for everyone?")
      && attempt(() => api("DELETE", `/messages/${m.id}`)),
    onReport: async (m) => {
      if (await askReport(m)) tell("Thanks. The group's moderators will look at it.", "ok");
    },
    isBlocked: (m) => m.sender_blocked || state.blocked.has(m.sender.id),
    revealed: state.revealed,
    onReveal: (m) => {
      state.revealed.add(m.id);
      refreshMessage(m.id);
    },
    onUnblockLive: () => {
      state.liveBlocked = false;
      for (const live of state.live.values()) live.audio.play().catch(() => {});
      renderTimeline();
    },
  };
}

function rowFor(message, ctx) {
  return messageRow(message, { ...ctx, receipts: state.receipts.get(message.id),
    highlight: state.highlight, transcriptOpen: state.openTranscripts.has(message.id),
    onTranscriptToggle: (m, open) => (open ? state.openTranscripts.add(m.id) : state.openTranscripts.delete(m.id)) });
}

function renderTimeline() {
  const list = state.screen?.name === "group" && state.screen.parts.list;
  if (!list) return;
  const groupId = state.screen.groupId;
  const ctx = messageContext();
  const page = document.scrollingElement; // the page scrolls, not <main>
  const atBottom = page.scrollHeight - page.scrollTop - page.clientHeight < 80;
  const rows = sortedMessages(groupId).map((m) => rowFor(m, ctx));
  if (state.hasMore.get(groupId)) {
    rows.unshift(h("li", { class: "more" },
      h("button", { type: "button", onclick: () => loadEarlier(groupId) }, "Load earlier messages")));
  }
  if (!rows.length) rows.push(h("li", { class: "empty" }, "No messages yet. Hold the button and say hello."));
  list.replaceChildren(...rows);
  if (atBottom) list.lastElementChild?.scrollIntoView({ block: "end" });
  renderGroupHeader();
}

function refreshMessage(messageId) {
  const list = state.screen?.name === "group" && state.screen.parts.list;
  const row = list && messageId && list.querySelector(`[data-id="${messageId}"]`);
  const message = row && state.messages.get(state.screen.groupId)?.get(messageId);
  if (!message) return;
  const active = document.activeElement;
  const focused = row.contains(active) && active !== row ? active.className : null;
  const fresh = rowFor(message, messageContext());
  row.replaceWith(fresh);
  if (active === row) fresh.focus({ preventScroll: true });
  else if (focused) fresh.querySelector(`.${focused.split(" ")[0]}`)?.focus(); // keyboard users stay put
}

function refreshAllVoice() {
  for (const messages of state.messages.values()) {
    for (const m of messages.values()) if (m.kind === "voice") refreshMessage(m.id);
  }
}

async function loadEarlier(groupId, limit = 50) {
  const first = sortedMessages(groupId)[0];
  const page = await attempt(() => api("GET", `/groups/${groupId}/messages?before=${first.seq}&limit=${limit}`));
  const messages = state.messages.get(groupId);
  if (!page || !messages) return false;
  for (const m of page.messages) messages.set(m.id, m);
  state.hasMore.set(groupId, page.has_more);
  renderTimeline();
  return true;
}

// Scroll to a message (loading earlier pages until it is there) and highlight it.
let highlightTimer;
async function reveal(groupId, messageId) {
  const screen = state.screen;
  const loaded = () => state.messages.get(groupId)?.has(messageId);
  if (!loaded()) {
    const target = await attempt(() => api("GET", `/messages/${messageId}`));
    if (!target || state.screen !== screen) return;
    while (!loaded() && state.hasMore.get(groupId) && sortedMessages(groupId)[0]?.seq > target.seq) {
      if (!(await loadEarlier(groupId, 100)) || state.screen !== screen) return;
    }
    if (!loaded()) return tell("That message is no longer in this group.");
  }
  clearTimeout(highlightTimer);
  state.highlight = messageId;
  refreshMessage(messageId);
  const row = screen.parts.list.querySelector(`[data-id="${messageId}"]`);
  if (!row) return;
  const smooth = !matchMedia("(prefers-reduced-motion: reduce)").matches;
  row.scrollIntoView({ block: "center", behavior: smooth ? "smooth" : "auto" });
  row.focus({ preventScroll: true }); // screen readers read the message found
  highlightTimer = setTimeout(() => {
    state.highlight = null;
    screen.parts.list.querySelector(".message.highlight")?.classList.remove("highlight");
  }, 6000);
}

function upsert(message) {
  const messages = state.messages.get(message.group_id);
  if (!messages) return;
  const known = messages.get(message.id);
  if (known?.voice && message.voice && known.voice.listened_by_me) message.voice.listened_by_me = true;
  messages.set(message.id, message);
  if (state.screen?.groupId === message.group_id && state.screen.name === "group") {
    if (known) refreshMessage(message.id);
    else renderTimeline();
  }
}

async function loadReceipts(message) {
  const body = await api("GET", `/messages/${message.id}/receipts`).catch(() => null);
  if (!body) return;
  state.receipts.set(message.id, body.receipts);
  refreshMessage(message.id);
}

async function markListened(message) {
  if (message.voice.listened_by_me || message.sender.id === state.me.id) return;
  message.voice.listened_by_me = true;
  await attempt(() => api("POST", `/messages/${message.id}/listened`, {}));
  reloadGroupsSoon();
}

// ---- live listening -----------------------------------------------------------------------------

function hearLive(message) {
  if (message.sender.id === state.me.id || state.live.has(message.id)) return;
  if (!LivePlayer.supported()) return;
  const live = new LivePlayer(message.id);
  state.live.set(message.id, live);
  liveAudio.append(live.audio);
  live.audio.addEventListener("playing", () => (state.liveBlocked = false));
  setTimeout(() => {
    if (live.audio.paused && !live.ended && live.have) {
      state.liveBlocked = true; // autoplay was refused: offer a button
      refreshMessage(message.id);
    }
  }, 1500);
}

function liveOver(messageId) {
  const live = state.live.get(messageId);
  if (!live) return;
  live.end();
  live.audio.addEventListener("ended", () => {
    live.stop();
    live.audio.remove();
    state.live.delete(messageId);
  });
}

// ---- events -------------------------------------------------------------------------------------

function applyEvent(event) {
  const { type, group_id: groupId, data } = event;
  if (type.startsWith("message.")) {
    upsert(data);
    if (data.kind === "voice" && data.voice?.status === "live" && state.screen?.groupId === groupId) {
      hearLive(data);
    } else if (data.kind === "voice") {
      liveOver(data.id);
    }
  } else if (type === "receipt.listened") {
    const message = state.messages.get(groupId)?.get(data.message_id);
    const member = state.members.get(groupId)?.find((m) => m.user.id === data.user_id);
    if (message && member) {
      const receipts = state.receipts.get(message.id) || [];
      if (!receipts.some((r) => r.user.id === data.user_id)) {
        state.receipts.set(message.id, [...receipts, { user: member.user, listened_at: data.listened_at }]);
      }
      message.voice.listen_count = state.receipts.get(message.id).length;
      refreshMessage(message.id);
    } else if (message) {
      loadReceipts(message);
    }
  } else if (type.startsWith("member.")) {
    if (type === "member.left" && data.user.id === state.me.id) return removedFrom(groupId, "You are no longer a member of");
    reloadMembers(groupId);
  } else if (type === "group.deleted") {
    return removedFrom(groupId, "This group was deleted:");
  } else if (type === "moderation.logged") {
    return moderationLogged(groupId, data);
  }
  reloadGroupsSoon();
}

function removedFrom(groupId, why) {
  const group = state.groups.find((g) => g.id === groupId);
  state.groups = state.groups.filter((g) => g.id !== groupId);
  state.messages.delete(groupId);
  realtime.cursors.delete(groupId);
  if (state.screen?.groupId === groupId) {
    tell(`${why} ${group?.name ?? "a group"}.`);
    location.hash = "#/";
  }
  renderGroupList();
}

function applySignal(signal) {
  if (signal.type === "recording.started" || signal.type === "recording.stopped") {
    const talking = state.talking.get(signal.group_id) || new Map();
    state.talking.set(signal.group_id, talking);
    clearTimeout(talking.get(signal.user_id));
    if (signal.type === "recording.started") {
      // If the stop never comes (a dropped phone), the indicator clears itself.
      talking.set(signal.user_id, setTimeout(() => {
        talking.delete(signal.user_id);
        renderIndicator();
      }, 120000));
    } else {
      talking.delete(signal.user_id);
    }
    renderIndicator();
  } else if (signal.type === "report.created" || signal.type === "report.resolved") {
    state.openReports.set(signal.group_id, signal.open_reports);
    if (state.screen?.groupId === signal.group_id) {
      if (state.screen.name === "reports") loadReportQueue();
      else renderGroupHeader();
    }
    if (signal.type === "report.created" && state.screen?.name !== "reports") {
      const group = state.groups.find((g) => g.id === signal.group_id);
      tell(`A message in ${group?.name ?? "a group"} was reported.`, "ok");
    }
  } else if (signal.type === "live.started") {
    recorder.liveStarted(signal.message_id);
  } else if (signal.type === "error" && signal.error.code === "cursor_ahead") {
    const heads = signal.error.details?.heads ?? {};
    for (const groupId of Object.keys(heads)) state.messages.delete(groupId);  // reload them
    reloadGroupsSoon();
    if (state.screen?.name === "group" && state.screen.groupId in heads) showGroup(state.screen.groupId);
  } else if (signal.type === "error") {
    tell(signal.error.message);
  }
}

function renderIndicator() {
  const parts = state.screen?.name === "group" && state.screen.parts;
  if (!parts) return;
  const ids = [...(state.talking.get(state.screen.groupId)?.keys() || [])];
  const members = state.members.get(state.screen.groupId) || [];
  const names = ids.map((id) => members.find((m) => m.user.id === id)?.user.display_name || "Someone");
  parts.indicator.textContent = names.length
    ? `${names.join(" and ")} ${names.length > 1 ? "are" : "is"} recording…` : "";
}

// ---- hold to talk -----------------------------------------------------------------------------------

function bindTalk(button, groupId) {
  button.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    button.setPointerCapture(e.pointerId);
    recorder.start(groupId);
  });
  for (const type of ["pointerup", "pointercancel"]) button.addEventListener(type, () => recorder.stop());
  button.addEventListener("contextmenu", (e) => e.preventDefault()); // long-press on phones
}

function spaceTalks(target) {
  return state.screen?.name === "group"
    && (target === document.body || target === view || target === state.screen.parts.talk
      || target?.matches?.("li.message")); // a message a search result focused
}

document.addEventListener("keydown", (e) => {
  if (e.code !== "Space" || !spaceTalks(e.target)) return;
  e.preventDefault();
  if (!e.repeat) recorder.start(state.screen.groupId);
});
document.addEventListener("keyup", (e) => {
  if (e.code !== "Space" || !recorder.recording) return;
  e.preventDefault();
  recorder.stop();
});

function renderTalkButton(status) {
  const talk = state.screen?.parts?.talk;
  if (!talk) return;
  talk.classList.toggle("recording", status === "recording");
  talk.textContent = status === "recording" ? "Recording… release to send" : "Hold to talk";
  talk.setAttribute("aria-pressed", status === "recording" ? "true" : "false");
}

// ---- members ----------------------------------------------------------------------------------------

async function showMembers(groupId) {
  const list = h("ul", { class: "members", "aria-label": "Members" });
  const tools = h("div", { class: "member-tools" });
  mount({ name: "members", groupId, parts: { list, tools } },
    h("section", { class: "page" },
      h("div", { class: "group-header" },
        h("a", { href: `#/g/${groupId}`, class: "back", "aria-label": "Back to the conversation" }, "‹"),
        h("h1", {}, `Members of ${currentGroup()?.name ?? "the group"}`)),
      tools, list));
  await reloadMembers(groupId);
}

async function reloadMembers(groupId) {
  const body = await attempt(() => api("GET", `/groups/${groupId}/members`));
  if (!body) return;
  state.members.set(groupId, body.members);
  if (state.screen?.name === "members" && state.screen.groupId === groupId) renderMembers();
}

function renderMembers() {
  const { groupId, parts } = state.screen;
  const members = state.members.get(groupId) || [];
  const myRole = members.find((m) => m.user.id === state.me.id)?.role || "member";
  parts.list.replaceChildren(...members.map((member) => memberRow(member, {
    me: state.me, myRole, blocked: state.blocked.has(member.user.id),
    onBan: (m) => banPerson(groupId, m.user),
    onBlock: (m, block) => setBlocked(m.user, block),
    onRole: (m, role) => {
      if (role === "owner" && !confirm(`Make ${m.user.display_name} the owner? You will become a moderator.`)) {
        return renderMembers();
      }
      attempt(() => api("PATCH", `/groups/${groupId}/members/${m.user.id}`, { role })).then(() => reloadMembers(groupId));
    },
    onRemove: (m) => confirm(`Remove ${m.user.display_name} from the group?`)
      && attempt(() => api("DELETE", `/groups/${groupId}/members/${m.user.id}`)).then(() => reloadMembers(groupId)),
  })));
  parts.tools.replaceChildren(...memberTools(groupId, myRole));
  if (myRole !== "member") loadGuardCards(groupId);
}

function memberTools(groupId, myRole) {
  const tools = [h("nav", { class: "subnav", "aria-label": "Group safety" },
    h("a", { href: `#/g/${groupId}/log`, class: "button" }, "Moderation log"),
    myRole !== "member" ? h("a", { href: `#/g/${groupId}/reports`, class: "button" }, "Reports") : null)];
  if (myRole !== "member") {
    const link = h("output", { class: "invite-link", "data-testid": "invite-link" });
    // The link made last is kept, so the card shows it again when the list re-renders.
    const showLink = (url) => link.replaceChildren(h("a", { href: url }, url), " ",
      h("button", { type: "button", onclick: () => navigator.clipboard?.writeText(url).then(() => tell("Link copied.", "ok")) }, "Copy"));
    if (state.inviteLinks.has(groupId)) showLink(state.inviteLinks.get(groupId));
    tools.push(h("div", { class: "card" },
      h("h2", {}, "Invite people"),
      h("p", { class: "muted" }, "Anyone with the link can join for the next 7 days."),
      h("button", { type: "button", class: "primary", onclick: () => attempt(async () => {
        const invite = await api("POST", `/groups/${groupId}/invites`, { expires_in_s: 7 * 86400 });
        const url = `${location.origin}/#/join/${invite.code}`;
        state.inviteLinks.set(groupId, url);
        showLink(url);
        loadGuardCards(groupId);
      }) }, "Create invite link"),
      link));
    tools.push(h("section", { class: "card", "aria-labelledby": "invites-title" },
      h("h2", { id: "invites-title" }, "Invite links"),
      h("ul", { class: "rows", "data-testid": "invites", "aria-labelledby": "invites-title" })));
    tools.push(h("section", { class: "card", "aria-labelledby": "bans-title" },
      h("h2", { id: "bans-title" }, "Banned"),
      h("ul", { class: "rows", "data-testid": "bans", "aria-labelledby": "bans-title" })));
    const add = h("form", { class: "inline-form", "aria-label": "Add a member by handle" },
      h("input", { name: "handle", required: true, placeholder: "their handle", "aria-label": "Handle to add",
        autocapitalize: "none" }),
      h("button", { type: "submit" }, "Add"));
    add.addEventListener("submit", (e) => {
      e.preventDefault();
      const handle = add.elements.handle.value.trim().replace(/^@/, "");
      attempt(async () => {
        await api("POST", `/groups/${groupId}/members`, { handle });
        add.reset();
        await reloadMembers(groupId);
      });
    });
    tools.push(h("div", { class: "card" }, h("h2", {}, "Add someone"), add));
  }
  if (myRole !== "owner") {
    tools.push(h("button", { type: "button", class: "danger", onclick: () =>
      confirm("Leave this group?") && attempt(async () => {
        await api("DELETE", `/groups/${groupId}/members/${state.me.id}`);
        removedFrom(groupId, "You left");
      }) }, "Leave group"));
  }
  return tools;
}


// ---- safety: blocks, bans, invites, reports, the log -------------------------------------------

async function loadBlocks() {
  const body = await attempt(() => api("GET", "/me/blocks"));
  if (body) state.blocked = new Set(body.blocks.map((b) => b.user.id));
}

async function setBlocked(user, block) {
  if (block && !confirm(`Block ${user.display_name}? They can't add you to groups, and their messages are folded away for you. They are not told.`)) return;
  const done = await attempt(() => (block ? api("POST", "/me/blocks", { user_id: user.id })
    : api("DELETE", `/me/blocks/${user.id}`)));
  if (done === undefined) return;
  if (block) state.blocked.add(user.id);
  else state.blocked.delete(user.id);
  for (const messages of state.messages.values()) {
    for (const m of messages.values()) if (m.sender.id === user.id) m.sender_blocked = block;
  }
  tell(block ? `You blocked ${user.display_name}.` : `You unblocked ${user.display_name}.`, "ok");
  if (state.screen?.name === "members") renderMembers();
  else renderTimeline();
}

async function banPerson(groupId, user) {
  if (!confirm(`Ban ${user.display_name}? They are removed and no invite lets them back until the ban is lifted.`)) return;
  const ban = await attempt(() => api("POST", `/groups/${groupId}/bans`, { user_id: user.id }));
  if (ban) tell(`${user.display_name} is banned.`, "ok");
  await reloadMembers(groupId);
}

// The invite links and bans cards of the members screen (moderators).
async function loadGuardCards(groupId) {
  const [invites, bans] = await Promise.all([
    attempt(() => api("GET", `/groups/${groupId}/invites?limit=100`)),
    attempt(() => api("GET", `/groups/${groupId}/bans`)),
  ]);
  if (state.screen?.name !== "members" || state.screen.groupId !== groupId) return;
  const inviteList = view.querySelector('[data-testid="invites"]');
  const banList = view.querySelector('[data-testid="bans"]');
  if (invites && inviteList) {
    inviteList.replaceChildren(...inviteRows(invites.invites, { me: state.me,
      onRevoke: (invite) => confirm("Revoke this invite link? Nobody can join with it any more.")
        && attempt(() => api("DELETE", `/groups/${groupId}/invites/${invite.code}`)).then(() => {
          if (state.inviteLinks.get(groupId)?.endsWith(`/${invite.code}`)) {
            state.inviteLinks.delete(groupId);
            view.querySelector('[data-testid="invite-link"]')?.replaceChildren();
          }
          loadGuardCards(groupId);
        }) }));
  }
  if (bans && banList) {
    banList.replaceChildren(...banRows(bans.bans, {
      onUnban: (ban) => attempt(() => api("DELETE", `/groups/${groupId}/bans/${ban.user.id}`))
        .then(() => loadGuardCards(groupId)) }));
  }
}

async function loadOpenReports(groupId) {
  const body = await api("GET", `/groups/${groupId}/reports?limit=100`).catch(() => null);
  if (!body) return;
  state.openReports.set(groupId, body.reports.length);
  renderGroupHeader();
}

function safetyPage(groupId, title, ...children) {
  return h("section", { class: "page" },
    h("div", { class: "group-header" },
      h("a", { href: `#/g/${groupId}/members`, class: "back", "aria-label": "Back to the members" }, "‹"),
      h("h1", {}, title)),
    ...children);
}

async function showReports(groupId) {
  const list = h("ol", { class: "reports", "aria-label": "Open reports" });
  mount({ name: "reports", groupId, parts: { list } },
    safetyPage(groupId, `Reports in ${currentGroup()?.name ?? "the group"}`,
      h("p", { class: "muted" }, "Only moderators see reports and who made them. What you do here goes into the moderation log, without the reporter."),
      list));
  await loadReportQueue();
}

async function loadReportQueue() {
  const { groupId, parts } = state.screen;
  const body = await attempt(() => api("GET", `/groups/${groupId}/reports?limit=100`));
  if (!body || state.screen?.parts !== parts) return;
  state.openReports.set(groupId, body.reports.length);
  parts.list.replaceChildren(...(body.reports.length ? body.reports.map((report) => reportCard(report, {
    me: state.me,
    onResolve: async (r, action) => {
      const sender = r.message.sender.display_name;
      const ask = { delete: "Delete this message for everyone?",
        ban: `Delete this message and ban ${sender} from the group?` }[action];
      if (ask && !confirm(ask)) return;
      const done = await attempt(() => api("POST", `/groups/${groupId}/reports/${r.id}/resolve`, { action }));
      if (done) tell({ dismiss: "Report closed; the message stays.", delete: "The message is deleted.",
        ban: `The message is deleted and ${sender} is banned.` }[action], "ok");
      await loadReportQueue();
    },
  })) : [h("li", { class: "empty" }, "No open reports.")]));
}

async function showLog(groupId) {
  const list = h("ol", { class: "log", "aria-label": "Moderation log" });
  const more = h("button", { type: "button", hidden: true }, "Show earlier");
  const screen = { name: "log", groupId, parts: { list, more }, entries: [] };
  mount(screen, safetyPage(groupId, "Moderation log",
    h("p", { class: "muted" }, "Everything moderators do here, for every member to see. Never what was said."),
    list, more));
  const load = async () => {
    const before = screen.entries.at(-1)?.seq;
    const body = await attempt(() => api("GET", `/groups/${groupId}/moderation-log?limit=50${before ? `&before=${before}` : ""}`));
    if (!body || state.screen !== screen) return;
    screen.entries.push(...body.entries);
    more.hidden = !body.has_more;
    list.replaceChildren(...logList(screen.entries, state.me));
  };
  more.addEventListener("click", load);
  await load();
}

function moderationLogged(groupId, entry) {
  const screen = state.screen;
  if (screen?.groupId !== groupId) return;
  if (screen.name === "log" && !screen.entries.some((e) => e.seq === entry.seq)) {
    screen.entries.unshift(entry);
    screen.parts.list.replaceChildren(...logList(screen.entries, state.me));
  } else if (screen.name === "members" && moderates(currentGroup())) {
    loadGuardCards(groupId);
  }
}

start();
