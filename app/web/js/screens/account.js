// Your account: who you are signed in as, your profile, notifications on this device,
// the catch-up email, changing your password, signing out.

import { api, session } from "../api.js";
import { h } from "../dom.js";
import { RULES } from "../errors.js";
import { forgetPush, pushStatus, turnOn } from "../push.js";
import { state } from "../store.js";
import { attempt, mount, tell } from "../ui.js";
import { busy, field, formError, showApiError, showErrors } from "../views/forms.js";
import { digestCard } from "./digest.js";
import { deleteCard, exportCard } from "./leaving.js";
import { profileCard } from "./profile.js";

export function showAccount({ onSignOut, onNewToken, onDeleted, onProfile }) {
  const me = state.me;
  const form = h("form", { class: "card", novalidate: true, "aria-labelledby": "password-title" },
    h("h2", { id: "password-title" }, "Change your password"),
    h("input", { type: "text", name: "username", value: me.handle, autocomplete: "username", hidden: true }),
    field("Current password", { name: "current_password", type: "password", autocomplete: "current-password",
      required: true, maxlength: "1024" }),
    field("New password", { name: "new_password", type: "password", autocomplete: "new-password",
      required: true, maxlength: "1024" }, RULES.new_password),
    formError(),
    h("p", { class: "muted" }, "Your other devices are signed out when it changes."),
    h("button", { type: "submit", class: "primary" }, "Change password"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const current = form.elements.current_password.value;
    const next = form.elements.new_password.value;
    const errors = {};
    if (!current) errors.current_password = "Enter your current password.";
    if (next.length < 10) errors.new_password = RULES.password;
    if (Object.keys(errors).length) return showErrors(form, errors);
    busy(form, () => attempt(async () => {
      // The server closes the old token's sockets (4001), maybe before this answer comes:
      // `state.renewing` tells the connection that a new token is on its way.
      const renewing = api("POST", "/auth/password", { current_password: current, new_password: next });
      state.renewing = renewing;
      const { token } = await renewing.finally(() => (state.renewing = null));
      session.token = token;
      onNewToken();
      form.reset();
      tell("Your password is changed.", "ok");
    }, (error) => showApiError(form, error, "new_password")));
  });
  const signedInAs = h("strong", { class: "ellipsis" }, me.display_name);
  const page = h("section", { class: "page" },
    h("h1", {}, "Your account"),
    h("div", { class: "card who" },
      h("p", {}, "Signed in as ", signedInAs),
      h("p", { class: "muted" }, `@${me.handle}`),
      h("button", { type: "button", onclick: onSignOut }, "Sign out"),
      me.is_admin ? h("a", { class: "button", href: "#/admin" }, "Server admin") : null),
    profileCard({
      onChange: (changed) => {
        signedInAs.textContent = changed.display_name;
        onProfile(changed);
      },
    }),
    notificationsCard(),
    digestCard(),
    me.has_password === false
      ? h("p", { class: "card muted" }, "You sign in through your organisation: this account has no password.")
      : form);
  mount({ name: "account" }, page);
  page.append(exportCard(me), deleteCard(me, { onDeleted })); // their timers belong to this screen
}

const PUSH_STATUS = {
  on: "Notifications are on for this device.",
  off: "Get a notification on this device when someone in your groups sends a message.",
  blocked: "Notifications are blocked for Earshot in this browser's settings.",
  unsupported: "This browser cannot show Earshot's notifications. On an iPhone or iPad, "
    + "add Earshot to your Home Screen (Share, then Add to Home Screen) and open it from there.",
};

function notificationsCard() {
  const card = h("div", { class: "card", role: "group", "aria-labelledby": "notifications-title" });
  const previews = h("input", { type: "checkbox", id: "notification-previews",
    checked: Boolean(state.me.notification_previews), "aria-describedby": "previews-hint" });
  previews.addEventListener("change", async () => {
    const me = await attempt(() => api("PATCH", "/me", { notification_previews: previews.checked }));
    if (me) state.me = me;
    previews.checked = Boolean(state.me.notification_previews);
  });
  const draw = () => {
    const status = pushStatus();
    const toggle = status === "on"
      ? h("button", { type: "button", onclick: () => forgetPush().then(draw) }, "Turn off notifications")
      : status === "off" ? h("button", { type: "button", class: "primary", onclick: () => turnOn().then(draw) },
        "Turn on notifications") : null;
    card.replaceChildren(
      h("h2", { id: "notifications-title" }, "Notifications"),
      h("p", { "data-testid": "push-status" }, PUSH_STATUS[status]), toggle,
      h("div", { class: "field check" }, previews,
        h("label", { for: "notification-previews" }, "Show the words in notifications"),
        h("p", { class: "hint", id: "previews-hint" },
          "A text's words, or a memo's transcript, on every device you get notifications on. "
          + "Leave it off if memos name students.")));
  };
  draw();
  return card;
}
