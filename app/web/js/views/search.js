// A search form with its results: `path` is /search (all groups) or /groups/{id}/search.

import { api } from "../api.js";
import { h } from "../dom.js";
import { attempt } from "../ui.js";
import { searchHit } from "./rows.js";

export function searchBox({ label, path, me, groupName, onOpen }) {
  const input = h("input", { type: "search", name: "q", maxlength: "200", autocomplete: "off",
    placeholder: groupName ? "Search messages and transcripts" : "Search this group",
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
      me,
      groupName: groupName?.(hit),
      onOpen: (event, opened) => {
        onOpen?.(opened);
        // The same link again changes no hash: open it ourselves.
        if (location.hash === `#/g/${opened.group_id}/m/${opened.message_id}`) {
          event.preventDefault();
          window.dispatchEvent(new HashChangeEvent("hashchange"));
        }
      },
    })));
    hits.hidden = !count;
  });
  return { element: h("div", { class: "search-box" }, form, status, hits), input, clear };
}
