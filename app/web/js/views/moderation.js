// Keeping a group safe: reporting a message, the moderators' report queue, invite
// links and bans, and the moderation log every member can read. Built from data;
// the screens own the state and pass in what each piece needs.

import { api } from "../api.js";
import { h, when } from "../dom.js";

// ---- reporting a message -------------------------------------------------------------

// A modal form asking why; resolves with the report sent, or null when cancelled.
export function askReport(message) {
  return new Promise((resolve) => {
    const reason = h("textarea", { name: "reason", required: true, maxlength: "1000", rows: "4",
      id: "report-reason" });
    const status = h("p", { class: "form-error", role: "alert" });
    const dialog = h("dialog", { class: "card dialog", "aria-labelledby": "report-title" });
    const cancel = () => dialog.close();
    const form = h("form", { method: "dialog", novalidate: true },
      h("h2", { id: "report-title" }, "Report this message"),
      h("p", { class: "muted" }, `Only the group's moderators see your report and who sent it. `
        + `${message.sender.display_name} is not told.`),
      h("label", { for: "report-reason" }, "What is wrong with it?"),
      reason, status,
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", onclick: cancel }, "Cancel"),
        h("button", { type: "submit", class: "primary" }, "Send report")));
    let sent = null;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const text = reason.value.trim();
      if (!text) {
        status.textContent = "Say in a few words what is wrong.";
        return reason.focus();
      }
      try {
        sent = await api("POST", `/messages/${message.id}/reports`, { reason: text });
        dialog.close();
      } catch (error) {
        status.textContent = error.message;
      }
    });
    dialog.append(form);
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(sent);
    });
    document.body.append(dialog);
    dialog.showModal();
    reason.focus();
  });
}

// ---- the moderation log -----------------------------------------------------------------

const ROLE_NAMES = { member: "a member", moderator: "a moderator", owner: "the owner" };
const RESOLUTIONS = {
  dismiss: "resolved a report and kept the message",
  delete: "resolved a report by deleting the message",
  ban: "resolved a report by deleting the message and banning its sender",
};

// One entry as a sentence: who did what to whom (never what was said).
export function logSentence(entry, me) {
  const name = (user) => (!user ? "someone" : user.id === me.id ? "you" : user.display_name);
  const who = name(entry.actor).replace(/^./, (c) => c.toUpperCase());
  const whom = name(entry.target);
  const { from, to, action, code } = entry.details || {};
  switch (entry.action) {
    case "member.removed": return `${who} removed ${whom} from the group`;
    case "member.banned": return `${who} banned ${whom}`;
    case "member.unbanned": return `${who} lifted the ban on ${whom}`;
    case "member.role_changed": return `${who} made ${whom} ${ROLE_NAMES[to] || to} (was ${ROLE_NAMES[from] || from})`;
    case "message.deleted": return `${who} deleted a message by ${whom}`;
    case "invite.revoked": {
      const maker = !entry.target ? "" : entry.target.id === entry.actor?.id ? " of their own" : ` made by ${whom}`;
      return `${who} revoked an invite link${maker}${code ? ` (…${code.slice(-4)})` : ""}`;
    }
    case "group.retention_changed":
      return to === null ? `${who} set the group to keep messages until they are deleted`
        : `${who} set messages to be deleted after ${to} days`;
    case "group.transcripts_changed": return `${who} turned transcripts ${to ? "on" : "off"}`;
    case "group.norms_changed": return `${who} changed the group norms`;
    case "group.export_policy_changed":
      return to === "owner" ? `${who} allowed the owner to export the group` : `${who} turned group exports off`;
    case "report.resolved": return `${who} ${RESOLUTIONS[action] || "resolved a report"}`;
    default: return `${who}: ${entry.action}`;
  }
}

export function logList(entries, me) {
  if (!entries.length) return [h("li", { class: "empty" }, "Nothing yet. When a moderator removes, bans or deletes, it shows here.")];
  return entries.map((entry) => h("li", { class: "log-entry", "data-action": entry.action },
    h("span", {}, logSentence(entry, me)),
    h("time", { datetime: entry.created_at, class: "muted" }, when(entry.created_at))));
}

// ---- the report queue -------------------------------------------------------------------

function reportedMessage(message) {
  if (message.deleted) return h("p", { class: "deleted" }, "Message deleted");
  if (message.kind === "text") return h("p", { class: "text" }, message.text);
  const transcript = message.voice?.transcript?.text;
  return h("p", { class: "text" }, "Voice memo", transcript ? `: “${transcript}”` : "");
}

export function reportCard(report, { me, onResolve }) {
  const sender = report.message.sender;
  const own = sender.id === me.id;
  const act = (action, label, extra = {}) => h("button", { type: "button", ...extra,
    onclick: () => onResolve(report, action) }, label);
  return h("li", { class: "card report", "data-id": report.id },
    h("div", { class: "meta" },
      h("strong", {}, sender.display_name),
      h("time", { datetime: report.message.created_at }, when(report.message.created_at))),
    reportedMessage(report.message),
    h("p", { class: "report-reason" },
      h("strong", {}, `Reported by ${report.reporter.id === me.id ? "you" : report.reporter.display_name}: `),
      report.reason),
    h("div", { class: "report-actions" },
      act("dismiss", "Keep it"),
      report.message.deleted ? null : act("delete", "Delete message", { class: "danger" }),
      own ? null : act("ban", `Delete and ban ${sender.display_name}`, { class: "danger" })));
}

// ---- invites and bans (moderators, on the members screen) -----------------------------

export function inviteRows(invites, { me, onRevoke }) {
  const STATUS = { active: "works", expired: "expired", used_up: "used up",
    creator_not_moderator: "stopped: its maker is no longer a moderator" };
  if (!invites.length) return [h("li", { class: "empty" }, "No invite links.")];
  return invites.map((invite) => {
    const who = !invite.creator ? "someone" : invite.creator.id === me.id ? "you" : invite.creator.display_name;
    const uses = invite.max_uses ? `${invite.uses} of ${invite.max_uses} uses` : `${invite.uses} uses`;
    const expiry = invite.expires_at ? `until ${when(invite.expires_at)}` : "no expiry";
    return h("li", { class: "row", "data-code": invite.code },
      h("span", { class: "row-text" },
        h("code", {}, `…${invite.code.slice(-6)}`),
        h("span", { class: "muted" }, `by ${who} · ${uses} · ${expiry} · ${STATUS[invite.status]}`)),
      h("button", { type: "button", class: "danger",
        "aria-label": `Revoke the invite link ending ${invite.code.slice(-6)}`,
        onclick: () => onRevoke(invite) }, "Revoke"));
  });
}

export function banRows(bans, { onUnban }) {
  if (!bans.length) return [h("li", { class: "empty" }, "Nobody is banned.")];
  return bans.map((ban) => h("li", { class: "row", "data-user": ban.user.id },
    h("span", { class: "row-text" },
      h("strong", {}, ban.user.display_name),
      h("span", { class: "muted" },  // a deleted account has no handle
        [ban.user.handle && `@${ban.user.handle}`, ban.reason].filter(Boolean).join(" · "))),
    h("button", { type: "button", "aria-label": `Unban ${ban.user.display_name}`,
      onclick: () => onUnban(ban) }, "Unban")));
}
