// "Your bookmarks": the messages you kept, newest first, each with your note (edited in
// place) and a way back to it; the whole list as Markdown, a learning log to keep.

import { api, saveFile } from "../api.js";
import { clock, h } from "../dom.js";
import { attempt, mount, screen as current, tell } from "../ui.js";
import { summary } from "../views/message.js";

const PAGE = 50;

export async function showBookmarks() {
  const list = h("ul", { class: "bookmarks", "aria-label": "Your bookmarks" });
  const more = h("button", { type: "button", hidden: true, onclick: () => load(last) }, "Show older bookmarks");
  const download = h("button", { type: "button", class: "primary", onclick: async () => {
    if (!(await saveFile("/me/bookmarks.md", "earshot-bookmarks.md"))) tell("The log could not be downloaded.");
  } }, "Download as Markdown");
  const screen = mount({ name: "bookmarks" },
    h("section", { class: "page" },
      h("h1", {}, "Your bookmarks"),
      h("p", { class: "muted" }, "Only you see these. The Markdown file keeps each one with its words and your note."),
      download, list, more));
  let last = null;

  async function load(before) {
    const query = new URLSearchParams({ limit: String(PAGE), ...(before ? { before } : {}) });
    const page = await attempt(() => api("GET", `/me/bookmarks?${query}`));
    if (!page || current() !== screen) return;
    if (!before) list.replaceChildren();
    list.append(...page.bookmarks.map(bookmarkRow));
    if (!list.children.length) list.append(h("li", { class: "empty" }, "Nothing bookmarked yet. Tap Bookmark under a message to keep it here."));
    last = page.bookmarks[page.bookmarks.length - 1]?.message.id ?? last;
    more.hidden = !page.has_more;
  }
  await load(null);
}

function bookmarkRow(bookmark) {
  const message = bookmark.message;
  const id = `note-${message.id}`;
  const note = h("textarea", { id, name: "note", maxlength: "1000", rows: "2" });
  note.value = bookmark.note || "";
  const place = bookmark.offset_ms != null ? ` at ${clock(bookmark.offset_ms)}` : "";
  const row = h("li", { class: "card bookmark", "data-id": message.id },
    h("p", { class: "bookmark-what" },
      h("strong", {}, message.sender.display_name), ": ", summary(message), place),
    h("a", { href: `#/g/${message.group_id}/m/${message.id}` }, "Open in its group"),
    h("label", { for: id }, "Your note"), note,
    h("div", { class: "bookmark-actions" },
      h("button", { type: "button", onclick: async () => {
        const body = { note: note.value.trim() || null, offset_ms: bookmark.offset_ms ?? undefined };
        if (await attempt(() => api("PUT", `/messages/${message.id}/bookmark`, body))) tell("Note saved.", "ok");
      } }, "Save note"),
      h("button", { type: "button", class: "danger", onclick: async () => {
        if ((await attempt(() => api("DELETE", `/messages/${message.id}/bookmark`))) !== undefined) row.remove();
      } }, "Remove")));
  return row;
}
