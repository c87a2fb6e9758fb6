// "Your groups": the list, a search across all of them, and making a new one.

import { api } from "../api.js";
import { h, newId } from "../dom.js";
import { loadGroups } from "../data/groups.js";
import { on, state } from "../store.js";
import { attempt, mount } from "../ui.js";
import { catchUp } from "../views/catchup.js";
import { busy, field, formError, showApiError, showErrors } from "../views/forms.js";
import { groupRow } from "../views/rows.js";
import { searchBox } from "../views/search.js";

// `player`: the one MemoPlayer ("Catch up" plays through it).
export function showGroups({ follow, player }) {
  const list = h("ul", { class: "groups", "aria-label": "Your groups" });
  const form = h("form", { class: "card create-group", novalidate: true },
    h("h2", {}, "New group"),
    h("div", { class: "inline-form" },
      field("Group name", { name: "name", required: true, maxlength: "100", placeholder: "e.g. Math coaches",
        "aria-label": "New group name" }),
      h("button", { class: "primary", type: "submit" }, "Create group")),
    formError());
  let clientId = newId(); // the same for every tap until it succeeds: one group
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const name = form.elements.name.value.trim();
    if (!name) return showErrors(form, { name: "Give the group a name." });
    busy(form, () => attempt(async () => {
      const group = await api("POST", "/groups", { name, client_id: clientId });
      clientId = newId();
      follow(group);
      await loadGroups();
      location.hash = `#/g/${group.id}`;
    }, (error) => showApiError(form, error)));
  });
  const search = searchBox({ label: "Search all your groups", path: "/search", me: state.me,
    groupName: (hit) => state.groups.find((g) => g.id === hit.group_id)?.name ?? "A group" });
  const catchUpArea = catchUp(player);
  const screen = mount({ name: "groups" },
    h("section", { class: "page" }, h("h1", {}, "Your groups"), ...catchUpArea.elements, search.element, list, form,
      h("p", {}, h("a", { href: "#/bookmarks", class: "button" }, "Your bookmarks"))));
  screen.disposers.push(...catchUpArea.disposers);
  const render = () => list.replaceChildren(...(state.groups.length ? state.groups.map(groupRow)
    : [h("li", { class: "empty" }, "You're not in any group yet. Create one, or open an invite link.")]));
  screen.disposers.push(on("groups", render));
  render();
  loadGroups();
}
