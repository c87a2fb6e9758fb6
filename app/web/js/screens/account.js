// Your account: who you are signed in as, changing your password, signing out.

import { api, session } from "../api.js";
import { h } from "../dom.js";
import { RULES } from "../errors.js";
import { state } from "../store.js";
import { attempt, mount, tell } from "../ui.js";
import { busy, field, formError, showApiError, showErrors } from "../views/forms.js";
import { deleteCard, exportCard } from "./leaving.js";

export function showAccount({ onSignOut, onNewToken, onDeleted }) {
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
  const page = h("section", { class: "page" },
    h("h1", {}, "Your account"),
    h("div", { class: "card who" },
      h("p", {}, "Signed in as ", h("strong", { class: "ellipsis" }, me.display_name)),
      h("p", { class: "muted" }, `@${me.handle}`),
      h("button", { type: "button", onclick: onSignOut }, "Sign out")),
    me.has_password === false
      ? h("p", { class: "card muted" }, "You sign in through your organisation: this account has no password.")
      : form);
  mount({ name: "account" }, page);
  page.append(exportCard(me), deleteCard(me, { onDeleted })); // their timers belong to this screen
}
