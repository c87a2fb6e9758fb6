// Moderators' report queue and the moderation log every member reads.

import { api } from "../api.js";
import { h } from "../dom.js";
import { changed, group, on, state } from "../store.js";
import { attempt, mount, screen as current, tell } from "../ui.js";
import { logList, reportCard } from "../views/moderation.js";
import { backBar } from "./members.js";

function safetyPage(groupId, title, ...children) {
  return h("section", { class: "page" }, backBar(`#/g/${groupId}/members`, "Back to the members", title), ...children);
}

export async function showReports(groupId) {
  const list = h("ol", { class: "reports", "aria-label": "Open reports" });
  const screen = mount({ name: "reports", groupId },
    safetyPage(groupId, `Reports in ${group(groupId)?.name ?? "the group"}`,
      h("p", { class: "muted" }, "Only moderators see reports and who made them. What you do here goes into the moderation log, without the reporter."),
      list));
  const load = async () => {
    const body = await attempt(() => api("GET", `/groups/${groupId}/reports?limit=100`));
    if (!body || current() !== screen) return;
    state.openReports.set(groupId, body.reports.length);
    list.replaceChildren(...(body.reports.length ? body.reports.map((report) => reportCard(report, {
      me: state.me,
      onResolve: async (r, action) => {
        const sender = r.message.sender.display_name;
        const ask = { delete: "Delete this message for everyone?",
          ban: `Delete this message and ban ${sender} from the group?` }[action];
        if (ask && !confirm(ask)) return;
        const done = await attempt(() => api("POST", `/groups/${groupId}/reports/${r.id}/resolve`, { action }));
        if (done) tell({ dismiss: "Report closed; the message stays.", delete: "The message is deleted.",
          ban: `The message is deleted and ${sender} is banned.` }[action], "ok");
        changed("reports", groupId); // this list, and the badge on the timeline
      },
    })) : [h("li", { class: "empty" }, "No open reports.")]));
  };
  screen.disposers.push(on("reports", (id) => id === groupId && load()));
  await load();
}

export async function showLog(groupId) {
  const list = h("ol", { class: "log", "aria-label": "Moderation log" });
  const more = h("button", { type: "button", hidden: true }, "Show earlier");
  const entries = [];
  const screen = mount({ name: "log", groupId }, safetyPage(groupId, "Moderation log",
    h("p", { class: "muted" }, "Everything moderators do here, for every member to see. Never what was said."),
    list, more));
  const load = async () => {
    const before = entries.at(-1)?.seq;
    const body = await attempt(() => api("GET", `/groups/${groupId}/moderation-log?limit=50${before ? `&before=${before}` : ""}`));
    if (!body || current() !== screen) return;
    entries.push(...body.entries);
    more.hidden = !body.has_more;
    list.replaceChildren(...logList(entries, state.me));
  };
  more.addEventListener("click", load);
  screen.disposers.push(on("log", ({ groupId: gid, entry } = {}) => {
    if (gid !== groupId || entries.some((e) => e.seq === entry.seq)) return;
    entries.unshift(entry);
    list.replaceChildren(...logList(entries, state.me));
  }));
  await load();
}
