// Rows of lists: a group in "Your groups", a search result, a member.

import { avatar, clock, h, initials, when } from "../dom.js";

export function groupRow(group) {
  const last = group.last_message;
  const snippet = !last ? "No messages yet"
    : last.deleted ? "Message deleted"
    : last.kind === "voice" ? `${last.sender.display_name}: voice memo, ${clock(last.voice?.duration_ms)}`
    : `${last.sender.display_name}: ${last.text}`;
  const unheard = group.unheard_count;
  return h("li", {},
    h("a", { class: "group-row", href: `#/g/${group.id}` },
      h("span", { class: "avatar", "aria-hidden": "true" }, initials(group.name)),
      h("span", { class: "group-text" },
        h("span", { class: "group-name" }, group.name),
        h("span", { class: "group-snippet" }, snippet)),
      h("span", { class: "group-meta" },
        last ? h("time", {}, when(last.created_at)) : null,
        unheard ? h("span", { class: "badge", "data-testid": "unheard" }, unheard,
          h("span", { class: "sr-only" }, " unheard")) : null)));
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
        avatar(hit.sender),
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
    avatar(member.user),
    h("span", { class: "member-text" },
      h("strong", { class: "member-name" }, self ? `${name} (you)` : name),
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
