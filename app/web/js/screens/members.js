// A group's members: roles, removing, banning, blocking; for moderators, invite links
// (with expiry and uses, shared with the Web Share API where there is one), the list of
// invites and bans, and adding someone by handle.

import { api } from "../api.js";
import { h, icon, newId } from "../dom.js";
import { forgetGroup } from "../data/groups.js";
import { loadMembers, setBlocked } from "../data/people.js";
import { group, on, state } from "../store.js";
import { attempt, isOn, mount, tell } from "../ui.js";
import { busy, field, formError, showApiError } from "../views/forms.js";
import { banRows, inviteRows } from "../views/moderation.js";
import { memberRow } from "../views/rows.js";

export function backBar(href, label, title) {
  return h("div", { class: "group-header" },
    h("a", { href, class: "back icon-button", "aria-label": label, title: label }, icon("back")),
    h("h1", { class: "group-name-title" }, title));
}

export async function showMembers(groupId) {
  const list = h("ul", { class: "members", "aria-label": "Members" });
  const tools = h("div", { class: "member-tools" });
  const screen = mount({ name: "members", groupId },
    h("section", { class: "page" },
      backBar(`#/g/${groupId}`, "Back to the conversation", `Members of ${group(groupId)?.name ?? "the group"}`),
      tools, list));
  let toolsFor = null;
  const render = () => {
    const members = state.members.get(groupId) || [];
    const myRole = members.find((m) => m.user.id === state.me.id)?.role || "member";
    list.replaceChildren(...members.map((member) => memberRow(member, {
      me: state.me, myRole, blocked: state.blocked.has(member.user.id),
      onBan: (m) => banPerson(groupId, m.user),
      onBlock: (m, block) => setBlocked(m.user, block),
      onRole: (m, role) => {
        if (role === "owner" && !confirm(`Make ${m.user.display_name} the owner? You will become a moderator.`)) {
          return render();
        }
        attempt(() => api("PATCH", `/groups/${groupId}/members/${m.user.id}`, { role })).then(() => loadMembers(groupId));
      },
      onRemove: (m) => confirm(`Remove ${m.user.display_name} from the group?`)
        && attempt(() => api("DELETE", `/groups/${groupId}/members/${m.user.id}`)).then(() => loadMembers(groupId)),
    })));
    if (toolsFor !== myRole) { // built once per role, so forms keep what is typed
      toolsFor = myRole;
      tools.replaceChildren(...memberTools(groupId, myRole));
    }
    if (myRole !== "member") loadGuardCards(groupId);
  };
  screen.disposers.push(
    on("members", (id) => id === groupId && render()),
    on("blocked", render),
    on("log", ({ groupId: gid }) => gid === groupId && toolsFor !== "member" && loadGuardCards(groupId)),
  );
  await loadMembers(groupId);
}

const EXPIRY = [["1 day", 86400], ["7 days", 7 * 86400], ["30 days", 30 * 86400], ["90 days", 90 * 86400], ["Never", ""]];
const USES = [["No limit", ""], ["1 person", 1], ["5 people", 5], ["25 people", 25], ["100 people", 100]];

function inviteCard(groupId) {
  const link = h("div", { class: "invite-link", "data-testid": "invite-link" });
  const showLink = (url) => {
    const share = navigator.share ? h("button", { type: "button", class: "primary",
      onclick: () => navigator.share({ title: "Join my group on Earshot", url }).catch(() => {}) }, "Share") : null;
    link.replaceChildren(h("a", { href: url }, url),
      h("div", { class: "invite-actions" }, share,
        h("button", { type: "button", onclick: () => navigator.clipboard?.writeText(url)
          .then(() => tell("Link copied.", "ok"), () => tell("Couldn't copy: select the link and copy it.")) }, "Copy")));
  };
  if (state.inviteLinks.has(groupId)) showLink(state.inviteLinks.get(groupId));
  const options = (list, chosen) => list.map(([label, value]) => h("option", { value, selected: value === chosen }, label));
  const form = h("form", { class: "card invite-form", novalidate: true },
    h("h2", {}, "Invite people"),
    h("div", { class: "field-row" },
      field("Link works for", { tag: "select", name: "expires_in_s", options: options(EXPIRY, 7 * 86400) }),
      field("How many can join", { tag: "select", name: "max_uses", options: options(USES, "") })),
    formError(),
    h("button", { type: "submit", class: "primary" }, "Create invite link"),
    link);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const expires = form.elements.expires_in_s.value;
    const uses = form.elements.max_uses.value;
    busy(form, () => attempt(async () => {
      const invite = await api("POST", `/groups/${groupId}/invites`, { client_id: newId(),
        expires_in_s: expires ? Number(expires) : null, max_uses: uses ? Number(uses) : null });
      const url = `${location.origin}/#/join/${invite.code}`;
      state.inviteLinks.set(groupId, url);
      showLink(url);
      loadGuardCards(groupId);
    }, (error) => showApiError(form, error)));
  });
  return form;
}

function addForm(groupId) {
  const add = h("form", { class: "card", novalidate: true },
    h("h2", {}, "Add someone"),
    h("div", { class: "inline-form" },
      field("Their handle", { name: "handle", required: true, autocapitalize: "none", maxlength: "33",
        "aria-label": "Handle to add" }),
      h("button", { type: "submit" }, "Add")),
    formError());
  add.addEventListener("submit", (e) => {
    e.preventDefault();
    const handle = add.elements.handle.value.trim().replace(/^@/, "");
    busy(add, () => attempt(async () => {
      await api("POST", `/groups/${groupId}/members`, { handle, client_id: newId() });
      add.reset();
      await loadMembers(groupId);
    }, (error) => showApiError(add, error)));
  });
  return add;
}

function memberTools(groupId, myRole) {
  const tools = [h("nav", { class: "subnav", "aria-label": "Group safety" },
    h("a", { href: `#/g/${groupId}/log`, class: "button" }, "Moderation log"),
    myRole !== "member" ? h("a", { href: `#/g/${groupId}/reports`, class: "button" }, "Reports") : null,
    h("a", { href: `#/g/${groupId}/settings`, class: "button" }, "Group settings"))];
  if (myRole !== "member") {
    tools.push(inviteCard(groupId));
    tools.push(h("section", { class: "card", "aria-labelledby": "invites-title" },
      h("h2", { id: "invites-title" }, "Invite links"),
      h("ul", { class: "rows", "data-testid": "invites", "aria-labelledby": "invites-title" })));
    tools.push(h("section", { class: "card", "aria-labelledby": "bans-title" },
      h("h2", { id: "bans-title" }, "Banned"),
      h("ul", { class: "rows", "data-testid": "bans", "aria-labelledby": "bans-title" })));
    tools.push(addForm(groupId));
  }
  if (myRole !== "owner") {
    tools.push(h("button", { type: "button", class: "danger", onclick: () =>
      confirm("Leave this group?") && attempt(async () => {
        await api("DELETE", `/groups/${groupId}/members/${state.me.id}`);
        const gone = forgetGroup(groupId);
        tell(`You left ${gone?.name ?? "the group"}.`, "ok");
        location.hash = "#/";
      }) }, "Leave group"));
  }
  return tools;
}

async function banPerson(groupId, user) {
  if (!confirm(`Ban ${user.display_name}? They are removed and no invite lets them back until the ban is lifted.`)) return;
  const ban = await attempt(() => api("POST", `/groups/${groupId}/bans`, { user_id: user.id }));
  if (ban) tell(`${user.display_name} is banned.`, "ok");
  await loadMembers(groupId);
}

// The invite links and bans cards (moderators).
async function loadGuardCards(groupId) {
  const [invites, bans] = await Promise.all([
    attempt(() => api("GET", `/groups/${groupId}/invites?limit=100`)),
    attempt(() => api("GET", `/groups/${groupId}/bans`)),
  ]);
  if (!isOn("members", groupId)) return;
  const view = document.getElementById("view");
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
