// Signing in and creating an account, with each field's rule shown and checked here
// the way the server checks it.

import { api, session } from "../api.js";
import { h } from "../dom.js";
import { RULES } from "../errors.js";
import { attempt, mount } from "../ui.js";
import { busy, field, formError, showApiError, showErrors } from "../views/forms.js";
import { providerButtons } from "./sso.js";

const HANDLE = /^[A-Za-z0-9_.-]{3,32}$/;

function check(fields, signup) {
  const errors = {};
  if (!HANDLE.test(fields.handle)) errors.handle = fields.handle ? RULES.handle : "Enter your handle.";
  if (signup && !fields.display_name.trim()) errors.display_name = "Enter your name.";
  if (!fields.password) errors.password = "Enter your password.";
  else if (signup && fields.password.length < 10) errors.password = RULES.password;
  return errors;
}

// How this server takes new accounts and whether passwords sign in (GET /server), asked once.
let server = null;
async function serverInfo() {
  server ??= api("GET", "/server").catch(() => ({ registration: "open", password_login: true }));
  return server;
}

// `inviteCode`: the invite link the person came by, if any (needed to sign up on a
// server whose registration is "invite"; the new account joins its group).
export async function showAuth(mode, note, onSignedIn, inviteCode = null) {
  const info = await serverInfo();
  const sso = await providerButtons(inviteCode);
  if (info.password_login === false) {
    return mount({ name: "auth" }, h("section", { class: "page" },
      h("div", { class: "card auth" },
        h("h1", {}, "Sign in"),
        note ? h("p", { class: "muted" }, note) : null,
        sso ?? h("p", {}, "This Earshot signs people in through their organisation, and none is set up yet."))));
  }
  const signup = mode === "signup";
  const taking = signup ? info.registration : "open";
  if (signup && (taking === "closed" || (taking === "invite" && !inviteCode))) {
    return mount({ name: "auth" }, h("section", { class: "page" },
      h("div", { class: "card auth" },
        h("h1", {}, "Create your account"),
        h("p", {}, taking === "closed"
          ? "This Earshot takes no new accounts. Ask whoever runs it to make one for you."
          : "Accounts on this Earshot are by invitation: open the invite link a group's moderator sent you."),
        h("p", { class: "muted" }, "Have an account? ", h("a", { href: "#/login" }, "Sign in")))));
  }
  const form = h("form", { class: "card auth", novalidate: true },
    h("h1", {}, signup ? "Create your account" : "Sign in"),
    note ? h("p", { class: "muted" }, note) : null,
    field("Handle", { name: "handle", autocomplete: "username", required: true, maxlength: "32",
      autocapitalize: "none", spellcheck: "false" }, signup ? RULES.handle : null),
    signup ? field("Your name", { name: "display_name", autocomplete: "name", required: true,
      maxlength: "100" }, "How others see you, e.g. Amy Rivera.") : null,
    field("Password", { name: "password", type: "password", required: true, maxlength: "1024",
      autocomplete: signup ? "new-password" : "current-password" }, signup ? RULES.password : null),
    formError(),
    h("button", { class: "primary", type: "submit" }, signup ? "Create account" : "Sign in"),
    sso ? h("p", { class: "muted or" }, "or") : null,
    sso,
    h("p", { class: "muted" },
      signup ? "Already have an account? " : "New here? ",
      h("a", { href: signup ? "#/login" : "#/signup" }, signup ? "Sign in" : "Create an account")),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const fields = Object.fromEntries(new FormData(form));
    fields.handle = fields.handle.trim();
    const errors = check(fields, signup);
    if (Object.keys(errors).length) return showErrors(form, errors);
    busy(form, () => attempt(async () => {
      // By invitation, the account is made in the invite's group (else it joins after).
      if (signup && taking === "invite") fields.invite_code = inviteCode;
      const { user, token } = await api("POST", signup ? "/auth/register" : "/auth/login", fields);
      session.token = token;
      await onSignedIn(user);
    }, (error) => showApiError(form, error)));
  });
  mount({ name: "auth" }, h("section", { class: "page" }, form));
}
