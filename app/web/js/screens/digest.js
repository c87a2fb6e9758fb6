// The catch-up email on the account screen: off, every morning or Monday mornings, in the
// morning of your time zone (the browser's until you save another).

import { api } from "../api.js";
import { h } from "../dom.js";
import { state } from "../store.js";
import { attempt, tell } from "../ui.js";
import { busy, field, formError, showApiError } from "../views/forms.js";

const CHOICES = [["off", "Off"], ["daily", "Every morning"], ["weekly", "Monday mornings"]];

export function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

function zones(chosen) {
  const known = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return [...new Set([chosen, "UTC", ...known])].sort();
}

export function digestCard() {
  const me = state.me;
  const zone = me.timezone || browserZone();
  const form = h("form", { class: "card", novalidate: true, "aria-labelledby": "digest-title" },
    h("h2", { id: "digest-title" }, "Catch-up email"),
    field("Email me what I have not heard", { tag: "select", name: "digest",
      options: CHOICES.map(([value, label]) => h("option", { value, selected: value === me.digest }, label)) },
      me.email_verified
        ? "Per group: unheard memos and minutes, who spoke, replies to you. Never any audio."
        : "It needs a verified email address; nothing is sent until you have one."),
    field("Your time zone", { tag: "select", name: "timezone",
      options: zones(zone).map((z) => h("option", { value: z, selected: z === zone }, z.replaceAll("_", " "))) },
    "The email comes in the morning here; quiet hours follow this zone too."),
    formError(),
    h("button", { type: "submit", class: "primary" }, "Save"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { digest: form.elements.digest.value, timezone: form.elements.timezone.value };
    busy(form, () => attempt(async () => {
      state.me = await api("PATCH", "/me", body);
      tell(state.me.digest === "off" ? "No catch-up email." : "Catch-up email saved.", "ok");
    }, (error) => showApiError(form, error)));
  });
  return form;
}
