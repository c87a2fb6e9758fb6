// The pages mailed links open: /verify-email?token=T confirms an address,
// /reset-password?token=T sets a new password. The token leaves the address bar (and
// the history) at once, and is only ever sent in a request body.

import { api } from "../api.js";
import { h } from "../dom.js";
import { RULES } from "../errors.js";
import { attempt, mount } from "../ui.js";
import { busy, field, formError, showApiError, showErrors } from "../views/forms.js";

const PAGES = { "/verify-email": showVerifyEmail, "/reset-password": showResetPassword };

// The page for a mailed link, if this address is one: shown, and true.
export function openMailedLink({ onContinue, onPasswordSet }) {
  const page = PAGES[location.pathname];
  if (!page) return false;
  const token = new URLSearchParams(location.search).get("token") || "";
  history.replaceState(null, "", "/");
  page(token, { onContinue, onPasswordSet });
  return true;
}

function card(title, ...children) {
  mount({ name: "link" }, h("section", { class: "page" },
    h("div", { class: "card auth" }, h("h1", {}, title), ...children)));
}

async function showVerifyEmail(token, { onContinue }) {
  card("Confirming your address…", h("p", { class: "muted" }, "One moment."));
  const continueButton = () => h("button", { class: "primary", type: "button", onclick: onContinue },
    "Continue to Earshot");
  await attempt(async () => {
    const me = await api("POST", "/auth/verify-email", { token });
    card("Your address is confirmed",
      h("p", {}, "Earshot will use ", h("strong", {}, me.email), " to help you back into your account."),
      continueButton());
  }, (error) => card("We couldn't confirm your address",
    h("p", { role: "alert" }, error.message), continueButton()));
}

function showResetPassword(token, { onPasswordSet }) {
  const form = h("form", { novalidate: true },
    field("New password", { name: "new_password", type: "password", autocomplete: "new-password",
      required: true, maxlength: "1024" }, RULES.new_password),
    formError(),
    h("button", { class: "primary", type: "submit" }, "Set password"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = form.elements.new_password.value;
    if (next.length < 10) return showErrors(form, { new_password: RULES.password });
    busy(form, () => attempt(async () => {
      await api("POST", "/auth/password-reset/confirm", { token, new_password: next });
      card("Your password is set",
        h("p", {}, "Every device that was signed in to your account is signed out. Sign in with your new password."),
        h("button", { class: "primary", type: "button", onclick: onPasswordSet }, "Sign in"));
    }, (error) => showApiError(form, error, "new_password")));
  });
  card("Choose a new password", form);
}
