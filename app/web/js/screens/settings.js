// A group's settings: name, description, how long messages are kept, transcripts, the
// norms (moderators change them; members read them) and who can export (the owner
// decides), with the rules panel a new member saw, and the owner's export of the group.

import { h } from "../dom.js";
import { updateGroup } from "../data/groups.js";
import { RULES } from "../errors.js";
import { group, moderates, on } from "../store.js";
import { mount, tell } from "../ui.js";
import { busy, field, formError, showApiError, showErrors } from "../views/forms.js";
import { trustPanel } from "../views/trust.js";
import { zipCard } from "./leaving.js";
import { backBar } from "./members.js";

const WHO_EXPORTS = [["Nobody", "nobody"], ["The owner", "owner"]];
const DAY_MS = 24 * 3600 * 1000;

const KEEP = [["Until they are deleted", ""], ["7 days", 7], ["30 days", 30], ["90 days", 90],
  ["1 year", 365], ["3 years", 1095]];

export function showSettings(groupId) {
  const g = group(groupId);
  if (!g) return (location.hash = "#/");
  const canEdit = moderates(g);
  const isOwner = g.role === "owner";
  const keep = KEEP.some(([, days]) => String(days) === String(g.retention_days ?? ""))
    ? KEEP : [...KEEP, [`${g.retention_days} days`, g.retention_days]];
  const form = h("form", { class: "card settings", novalidate: true },
    field("Name", { name: "name", required: true, maxlength: "100", value: g.name, disabled: !canEdit }, RULES.name),
    field("Description", { tag: "textarea", name: "description", maxlength: "1000", rows: "3",
      disabled: !canEdit }, RULES.description),
    field("Keep messages", { tag: "select", name: "retention_days", disabled: !canEdit,
      options: keep.map(([label, days]) => h("option", { value: days,
        selected: String(days) === String(g.retention_days ?? "") }, label)) },
    "Older messages are deleted for everyone, with their recordings and transcripts."),
    h("div", { class: "field check", "data-field": "transcripts" },
      h("input", { type: "checkbox", id: "transcripts", name: "transcripts", checked: g.transcripts,
        disabled: !canEdit, "aria-describedby": "transcripts-hint" }),
      h("label", { for: "transcripts" }, "Transcribe voice memos"),
      h("p", { class: "hint", id: "transcripts-hint" },
        "Transcripts are made on this server and searchable by members. Turn this off if memos name students.")),
    field("Group norms", { tag: "textarea", name: "norms", maxlength: "2000", rows: "4", disabled: !canEdit },
      "How you want to work together, in your words. New members see them first (up to 2,000 characters)."),
    field("Who can export this group", { tag: "select", name: "export_policy", disabled: !isOwner,
      options: WHO_EXPORTS.map(([label, value]) => h("option", { value, selected: g.export_policy === value }, label)) },
    "Every member sees this. Only the owner changes it; an export holds the messages, transcripts and voice memos of the dates chosen."),
    formError(),
    canEdit ? h("button", { type: "submit", class: "primary" }, "Save changes")
      : h("p", { class: "muted" }, "Only moderators change these."));
  form.elements.description.value = g.description || "";
  form.elements.norms.value = g.norms || "";
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const name = form.elements.name.value.trim();
    if (!name) return showErrors(form, { name: "Give the group a name." });
    const days = form.elements.retention_days.value;
    busy(form, async () => {
      const patch = { name, description: form.elements.description.value,
        retention_days: days ? Number(days) : null, transcripts: form.elements.transcripts.checked,
        norms: form.elements.norms.value };
      if (isOwner) patch.export_policy = form.elements.export_policy.value;
      const saved = await updateGroup(groupId, patch, (error) => showApiError(form, error));
      if (saved) tell("Saved.", "ok");
    });
  });
  const panel = h("div", { class: "trust-slot" }, trustPanel(g));
  const exporting = h("div", { class: "export-slot" });
  const screen = mount({ name: "settings", groupId },
    h("section", { class: "page" },
      backBar(`#/g/${groupId}`, "Back to the conversation", `Settings of ${g.name}`), panel, form, exporting));
  const renderExport = () => {
    const gr = group(groupId);
    const allowed = gr?.role === "owner" && gr.export_policy === "owner";
    if (allowed === Boolean(exporting.firstChild)) return;
    exporting.replaceChildren(allowed ? groupExportCard(gr) : "");
  };
  screen.disposers.push(
    on("removed", (id) => id === groupId && (location.hash = "#/")),
    on("groups", () => {
      const gr = group(groupId);
      if (gr) panel.replaceChildren(trustPanel(gr));
      renderExport();
    }),
  );
  renderExport();
}

// The date input's value for `date`, in the person's own time zone.
const day = (date) => [date.getFullYear(), date.getMonth() + 1, date.getDate()]
  .map((n) => String(n).padStart(2, "0")).join("-");

// The owner's export of the group for a range of days (the person's own days: midnight
// to midnight where they are), made as a personal export is.
function groupExportCard(g) {
  const today = new Date();
  const from = field("From", { type: "date", name: "from", value: day(new Date(today - 30 * DAY_MS)) });
  const to = field("To", { type: "date", name: "to", value: day(today) }, "Both days included.");
  const box = h("div", { class: "export-range" }, from, to);
  const body = () => {
    const [start, end] = [from, to].map((f) => f.querySelector("input").value);
    const error = to.querySelector(".field-error");
    if (!start || !end || start > end) {
      error.textContent = "Choose a first day on or before the last day.";
      return null;
    }
    error.textContent = "";
    const next = new Date(`${end}T00:00`);
    next.setDate(next.getDate() + 1);
    return { from: new Date(`${start}T00:00`).toISOString(), to: next.toISOString() };
  };
  return zipCard({ path: `/groups/${g.id}/export`, filename: `earshot-${g.name.replace(/[^\w-]+/g, "-")}.zip`,
    id: "group-export-title", title: "Export this group", prepare: "Prepare the export",
    download: "Download the export", fields: [box], body,
    intro: "The messages, transcripts and voice memos sent on these days, as one zip file. Deleted messages are never in it.",
    preparing: "Preparing the export… You can leave this page; it goes on." });
}
