// The Earshot web client: starts up, signs in and out, and routes each address to
// its screen. State lives in store.js; data/* changes it; screens/* draw it.

import { api, session } from "./api.js";
import { showUnheardTotal } from "./attention.js";
import { Connection } from "./connection.js";
import { loadGroups } from "./data/groups.js";
import { forgetKeptAudio, keepUnheardAudio } from "./data/keep.js";
import { hearLive, liveAudio, unblockLive } from "./data/live.js";
import { fetchMessage, markListened, savePosition, sendKeptReceipts } from "./data/messages.js";
import { flush, start as startOutbox } from "./data/outbox.js";
import { loadBlocks } from "./data/people.js";
import { eventHandlers } from "./events.js";
import { MemoPlayer } from "./player.js";
import { forgetPush, offerPush, registerWorker, renewPush, setUpOffer } from "./push.js";
import { Recorder } from "./recorder.js";
import { showAccount } from "./screens/account.js";
import { showAdmin } from "./screens/admin.js";
import { showAuth } from "./screens/auth.js";
import { showBookmarks } from "./screens/bookmarks.js";
import { finishSso } from "./screens/sso.js";
import { discardLive, saveRecording } from "./screens/composer.js";
import { showGroup } from "./screens/group.js";
import { showGroups } from "./screens/groups.js";
import { showThread } from "./screens/thread.js";
import { openMailedLink } from "./screens/links.js";
import { showMembers } from "./screens/members.js";
import { showLog, showReports } from "./screens/safety.js";
import { showSettings } from "./screens/settings.js";
import { changed, group, on, reset, state } from "./store.js";
import { attempt, screen, tell, whenSignedOut } from "./ui.js";

const PENDING_INVITE = "earshot.invite";

// The handlers need the recorder, which needs the connection, which needs the handlers.
const wiring = { recorder: null, reopen: (groupId) => route(groupId) };
const handlers = eventHandlers(wiring);
const connection = new Connection({
  onEvent: handlers.applyEvent,
  onSignal: handlers.applySignal,
  onAudio: liveAudio,
  onStatus: (status) => {
    state.connection = status;
    changed("connection");
    if (status === "online") {
      flush();
      sendKeptReceipts();
    }
  },
  onSignedOut: async () => {
    if (!state.renewing) return signedOut();
    try { // our own password change closed the socket: reconnect with the new token
      await state.renewing;
      connection.reconnectNow();
    } catch {
      signedOut();
    }
  },
});

const player = new MemoPlayer({
  onChange: (id) => changed("player", id),
  onStarted: (message) => {
    markListened(message);
    offerPush();
  },
  onSpeed: () => changed("speed"),
  lookup: fetchMessage,
  describe: (message) => ({ title: message.sender.display_name, artist: group(message.group_id)?.name || "" }),
  nextUnheard: (groupId, currentId) => (state.unheard.get(groupId) || []).find((id) => id !== currentId),
  onPosition: ({ groupId, id }, ms) => savePosition(groupId, id, ms),
});

const recorder = new Recorder({
  connection,
  onState: (status) => screen()?.composer?.recording(status),
  onTick: (ms, level) => screen()?.composer?.tick(ms, level),
  onError: (text) => tell(text),
  onSave: saveRecording,
  onDiscardLive: discardLive,
});
wiring.recorder = recorder;
const app = { player, recorder, hearLive, unblockLive: () => unblockLive(screen()?.groupId) };

// ---- the top bar: who is signed in, and whether we are connected ------------------------

const account = document.getElementById("account");
const connectionLabel = document.getElementById("connection");
const offline = document.getElementById("offline");

function renderStatus() {
  const down = !state.network || state.connection === "offline";
  connectionLabel.textContent = !state.me ? ""
    : state.connection === "connecting" && state.network ? "Connecting…"
      : down ? "Offline: reconnecting…" : "";
  offline.hidden = !state.me || state.network && state.connection !== "offline";
}
on("connection", renderStatus);
for (const type of ["online", "offline"]) {
  window.addEventListener(type, () => {
    state.network = navigator.onLine;
    changed("connection");
  });
}

// ---- signing in and out ---------------------------------------------------------------------

async function signedIn(me) {
  // Sign-in answers a `user`; the account's own fields (is_admin...) come with /me.
  if (!("is_admin" in me)) me = await api("GET", "/me").catch(() => me);
  state.me = me;
  account.hidden = false;
  account.querySelector(".account-name").textContent = me.display_name;
  // The groups first: their last_seq become the socket's cursors, and the screen's
  // pages load after them, so no event between the two is missed. The blocks come
  // alongside (a timeline waits for them before it draws).
  state.blocksLoaded = loadBlocks();
  await loadGroups();
  for (const g of state.groups) connection.follow(g.id, g.last_seq);
  connection.connect();
  startOutbox();
  renewPush();
  const code = sessionStorage.getItem(PENDING_INVITE);
  const target = code ? `#/join/${code}`
    : !location.hash || ["#/login", "#/signup"].includes(location.hash) ? "#/" : location.hash;
  if (location.hash !== target) location.hash = target; // routes on hashchange
  else route();
}

function signedOut() {
  session.token = null;
  forgetPush(); // signed out elsewhere (401): at least this browser stops being pushed
  forgetKeptAudio();
  connection.stop();
  reset();
  account.hidden = true;
  renderStatus();
  showTotal();
  location.hash = "#/login";
  route();
}
whenSignedOut(signedOut);

async function signOut() {
  await forgetPush();
  await api("POST", "/auth/logout").catch(() => {});
  signedOut();
}

async function join(code) {
  if (!state.me) {
    sessionStorage.setItem(PENDING_INVITE, code);
    return showAuth("signup", "You're invited to a group on Earshot. Create an account, or sign in, to join.",
      signedIn, code);
  }
  sessionStorage.removeItem(PENDING_INVITE);
  const here = location.hash;
  const member = await attempt(() => api("POST", `/invites/${encodeURIComponent(code)}/accept`));
  await loadGroups();
  // Leave the join page only if the person is still on it: they may have gone elsewhere
  // while the answer was on its way (taking them back would pull a screen from under them).
  const stay = location.hash !== here;
  if (!member) return stay || (location.hash = "#/");
  const group = state.groups.find((g) => g.id === member.group_id);
  if (group) connection.follow(group.id, group.last_seq);
  tell(`You joined ${group?.name ?? "the group"}.`, "ok");
  if (!stay) location.hash = `#/g/${member.group_id}`;
}

// ---- routes -----------------------------------------------------------------------------------

// `reopen`: a group id whose screen must be rebuilt even if it is open (cursor_ahead).
function route(reopen) {
  const [, name = "", id = "", sub = "", extra = ""] = location.hash.split("/");
  if (name === "join") return join(id);
  if (!state.me) {
    const invited = sessionStorage.getItem(PENDING_INVITE);
    return showAuth(name === "signup" ? "signup" : "login",
      invited ? "Sign in or create an account to join the group." : "", signedIn, invited);
  }
  if (name === "account") {
    return showAccount({
      onSignOut: signOut,
      onNewToken: () => {
        connection.reconnectNow();
        renewPush(); // sw.js re-subscribes with the token it keeps
      },
      onDeleted: () => {
        signedOut();
        tell("Your account is deleted.", "ok");
      },
      onProfile: (me) => (account.querySelector(".account-name").textContent = me.display_name),
    });
  }
  if (name === "admin" && state.me.is_admin) return showAdmin();
  if (name === "bookmarks") return showBookmarks();
  if (name === "g" && id) {
    if (sub === "members") return showMembers(id);
    if (sub === "reports") return showReports(id);
    if (sub === "log") return showLog(id);
    if (sub === "settings") return showSettings(id);
    if (sub === "t" && extra) return showThread(id, extra, app); // #/g/<group>/t/<root>
    // #/g/<group>/m/<message>: open at a message
    return showGroup(id, sub === "m" ? extra : null, app, reopen === id);
  }
  showGroups({ follow: (group) => connection.follow(group.id, group.last_seq), player });
}

window.addEventListener("hashchange", () => route());

// ---- the keyboard: space bar to talk, Escape to cancel ----------------------------------------

function spaceTalks(target) {
  const s = screen();
  return s?.name === "group"
    && (target === document.body || target === s.composer.talk || target?.matches?.("li.message, h1"));
}

document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && recorder.recording) {
    e.preventDefault();
    return screen()?.composer?.cancel();
  }
  if (e.code !== "Space" || !spaceTalks(e.target)) return;
  e.preventDefault();
  if (!e.repeat) recorder.start(screen().groupId, screen().composer?.replyTarget() ?? null);
});
document.addEventListener("keyup", (e) => {
  if (e.code !== "Space" || !recorder.recording) return;
  e.preventDefault();
  recorder.stop();
});

// Notifications are offered once the person has sent something (a memo, live or uploaded,
// or a text) or played a memo: never on load. A text or an uploaded memo is "sent" as it
// goes to the outbox (its answer may come before the group's first page has loaded); a
// live memo when it appears.
on("sent", offerPush);
on("message", ({ groupId, id, isNew }) => {
  if (isNew && state.messages.get(groupId)?.get(id)?.sender.id === state.me?.id) offerPush();
});

const showTotal = showUnheardTotal();
keepUnheardAudio();
setUpOffer(tell);
registerWorker();

// Tries again when the browser says it is online, or in a few seconds (browsers do not
// always know), unless the person signed in meanwhile.
let retry = null;
function startAgainSoon() {
  if (retry) return;
  const again = () => {
    window.removeEventListener("online", again);
    clearTimeout(retry);
    retry = null;
    if (!state.me) start();
  };
  window.addEventListener("online", again);
  retry = setTimeout(again, 5000);
}

async function start() {
  const link = openMailedLink({
    onContinue: () => start(),
    onPasswordSet: () => signedOut(), // every token was revoked: sign in again
  });
  if (link) return;
  if (finishSso(signedIn, () => route())) return;
  if (session.token) {
    const me = await attempt(() => api("GET", "/me"), (error) => {
      if (error.status !== 0) return tell(error.message);
      // Opened offline (from the service worker's cache): still signed in, so try
      // again as soon as the network is back.
      tell("You're offline. Your groups open as soon as you're back online.", "ok");
      startAgainSoon();
    });
    if (me) return signedIn(me);
  }
  route();
}

start();
