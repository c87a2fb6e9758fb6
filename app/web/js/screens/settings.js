// A group's settings: name, description, how long messages are kept, transcripts.
// Moderators change them; members read them.

import { h } from "../dom.js";
import { updateGroup } from "../data/groups.js";
import { RULES } from "../errors.js";
import { group, moderates, on } from "../store.js";
import { mount, tell } from "../ui.js";
import { busy, field, formError, showApiError, showErrors } from "../views/forms.js";
import { backBar } from "./members.js";

const KEEP = [["Until they are deleted", ""], ["7 days", 7], ["30 days", 30], ["90 days", 90],
  ["1 year", 365], ["3 years", 1095]];

export function showSettings(groupId) {
  const g = group(groupId);
  if (!g) return (location.hash = "#/");
  const canEdit = moderates(g);
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
    formError(),
    canEdit ? h("button", { type: "submit", class: "primary" }, "Save changes")
      : h("p", { class: "muted" }, "Only moderators change these."));
  form.elements.description.value = g.description || "";
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const name = form.elements.name.value.trim();
    if (!name) return showErrors(form, { name: "Give the group a name." });
    const days = form.elements.retention_days.value;
    busy(form, async () => {
      const saved = await updateGroup(groupId, { name, description: form.elements.description.value,
        retention_days: days ? Number(days) : null, transcripts: form.elements.transcripts.checked },
      (error) => showApiError(form, error));
      if (saved) tell("Saved.", "ok");
    });
  });
  const screen = mount({ name: "settings", groupId },
    h("section", { class: "page" },
      backBar(`#/g/${groupId}`, "Back to the conversation", `Settings of ${g.name}`), form));
  screen.disposers.push(on("removed", (id) => id === groupId && (location.hash = "#/")));
}
