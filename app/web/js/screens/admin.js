// The server admin screen (#/admin, admins only): the server's size, accounts found by
// the start of a handle, name or address, disabling (with a reason) and enabling them,
// and making an account with a one-time link to set its password.

import { api } from "../api.js";
import { h } from "../dom.js";
import { RULES } from "../errors.js";
import { attempt, mount, screen as current, tell } from "../ui.js";
import { busy, field, formError, showApiError, showErrors } from "../views/forms.js";

const STATS = [
  ["accounts", "Accounts"],
  ["active_accounts", "Active in the last 30 days"],
  ["disabled_accounts", "Disabled"],
  ["admins", "Admins"],
  ["groups", "Groups"],
  ["messages", "Messages"],
  ["memos", "Voice memos"],
  ["audio_minutes", "Minutes of audio"],
  ["bytes_stored", "Stored"],
];

function size(bytes) {
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

function statsCard() {
  const list = h("dl", { class: "stats" });
  const card = h("div", { class: "card", role: "group", "aria-labelledby": "stats-title" },
    h("h2", { id: "stats-title" }, "This server"), list);
  const load = async () => {
    const stats = await attempt(() => api("GET", "/admin/stats"));
    if (!stats) return;
    list.replaceChildren(...STATS.flatMap(([key, label]) => [
      h("dt", {}, label),
      h("dd", { "data-stat": key }, key === "bytes_stored" ? size(stats[key]) : String(stats[key])),
    ]));
  };
  return { card, load };
}

// One account's row: who, its state, and the button that changes it.
function userRow(user, { onChanged }) {
  const row = h("li", { class: "row admin-user", "data-handle": user.handle });
  const draw = () => {
    const state = user.disabled
      ? h("p", { class: "muted" }, h("strong", {}, "Disabled"), user.disabled_reason ? `: ${user.disabled_reason}` : "")
      : null;
    const action = user.disabled
      ? h("button", { type: "button", onclick: enable }, `Enable @${user.handle}`)
      : h("button", { type: "button", class: "danger", onclick: askReason }, `Disable @${user.handle}`);
    row.replaceChildren(
      h("div", { class: "row-text" },
        h("strong", { class: "ellipsis" }, user.display_name),
        h("span", { class: "muted" }, `@${user.handle}${user.email ? ` · ${user.email}` : ""}`,
          user.is_admin ? " · admin" : ""),
        state),
      action);
  };
  const enable = async () => {
    const out = await attempt(() => api("POST", `/admin/users/${user.id}/enable`));
    if (!out) return;
    Object.assign(user, out);
    tell(`@${user.handle} can sign in again.`, "ok");
    draw();
    onChanged();
  };
  const askReason = () => {
    const form = h("form", { class: "stack disable-form", novalidate: true },
      field(`Why disable @${user.handle}?`, { name: "reason", required: true, maxlength: "500" },
        "Admins see it; they don't. They are signed out everywhere and can't sign in."),
      formError(),
      h("div", { class: "offer-actions" },
        h("button", { type: "submit", class: "danger" }, "Disable"),
        h("button", { type: "button", onclick: draw }, "Cancel")));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const reason = form.elements.reason.value.trim();
      if (!reason) return showErrors(form, { reason: "Say why, in a few words." });
      busy(form, () => attempt(async () => {
        const out = await api("POST", `/admin/users/${user.id}/disable`, { reason });
        Object.assign(user, out);
        tell(`@${user.handle} is disabled and signed out.`, "ok");
        draw();
        onChanged();
      }, (error) => showApiError(form, error)));
    });
    row.replaceChildren(form);
    form.elements.reason.focus();
  };
  draw();
  return row;
}

function createCard({ onCreated }) {
  const result = h("div", { class: "made", hidden: true });
  const form = h("form", { class: "card stack", novalidate: true, "aria-labelledby": "create-title" },
    h("h2", { id: "create-title" }, "Make an account"),
    field("Handle", { name: "handle", required: true, autocomplete: "off", maxlength: "32" }, RULES.handle),
    field("Name", { name: "display_name", autocomplete: "off", maxlength: "100" }, "Optional: the handle otherwise."),
    formError(),
    h("button", { type: "submit", class: "primary" }, "Make the account"),
    result);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const handle = form.elements.handle.value.trim();
    const name = form.elements.display_name.value.trim();
    if (!/^[A-Za-z0-9_.-]{3,32}$/.test(handle)) return showErrors(form, { handle: RULES.handle });
    busy(form, () => attempt(async () => {
      const made = await api("POST", "/admin/users", { handle, ...(name ? { display_name: name } : {}) });
      const link = made.password_link.startsWith("/") ? `${location.origin}${made.password_link}` : made.password_link;
      const box = h("input", { type: "text", readonly: true, value: link, id: "password-link",
        "aria-describedby": "password-link-hint" });
      result.replaceChildren(
        h("label", { for: "password-link" }, `Link for @${made.user.handle} to set a password`),
        box,
        h("p", { class: "hint", id: "password-link-hint" },
          "Shown once, valid for 72 hours. Send it to them privately."));
      result.hidden = false;
      form.elements.handle.value = "";
      form.elements.display_name.value = "";
      box.select();
      onCreated();
    }, (error) => showApiError(form, error)));
  });
  return form;
}

export async function showAdmin() {
  const stats = statsCard();
  const list = h("ul", { class: "admin-users", "aria-label": "Accounts" });
  const more = h("button", { type: "button", hidden: true }, "Show more");
  const search = h("input", { type: "search", id: "admin-search", name: "q", maxlength: "100",
    autocomplete: "off", placeholder: "Handle, name or address" });
  const searchForm = h("form", { class: "inline-form", role: "search" },
    h("label", { for: "admin-search", class: "sr-only" }, "Search accounts"),
    search, h("button", { type: "submit" }, "Search"));
  const screen = mount({ name: "admin" }, h("section", { class: "page" },
    h("h1", {}, "Server admin"),
    h("p", { class: "muted" }, "As an admin you manage accounts. You still see only the groups you are in."),
    stats.card,
    h("div", { class: "card", role: "group", "aria-labelledby": "accounts-title" },
      h("h2", { id: "accounts-title" }, "Accounts"), searchForm, list, more),
    createCard({ onCreated: () => { stats.load(); load(true); } })));
  let last = null;
  const load = async (fresh) => {
    const q = search.value.trim();
    const params = new URLSearchParams({ limit: "50" });
    if (q) params.set("q", q);
    if (!fresh && last) params.set("before", last);
    const page = await attempt(() => api("GET", `/admin/users?${params}`));
    if (!page || current() !== screen) return;
    const rows = page.users.map((user) => userRow(user, { onChanged: stats.load }));
    if (fresh) list.replaceChildren(...(rows.length ? rows : [h("li", { class: "empty" }, "No accounts match.")]));
    else list.append(...rows);
    last = page.users.at(-1)?.id ?? last;
    more.hidden = !page.has_more;
  };
  searchForm.addEventListener("submit", (e) => {
    e.preventDefault();
    load(true);
  });
  more.addEventListener("click", () => load(false));
  await Promise.all([stats.load(), load(true)]);
}
