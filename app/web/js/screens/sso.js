// District sign-in (OpenID Connect): "Sign in with <provider>" buttons, and the return
// from the provider, whose one-time code (in the address's fragment) becomes a token.

import { api, session } from "../api.js";
import { h } from "../dom.js";
import { attempt, mount } from "../ui.js";
import { busy, field, formError, showApiError, showErrors } from "../views/forms.js";

let providers = null;

// The buttons for this server's providers (none: null). `inviteCode` rides along to
// the server, so a new account made by invitation joins that group.
export async function providerButtons(inviteCode) {
  providers ??= api("GET", "/auth/providers").catch(() => []);
  const list = await providers;
  if (!list.length) return null;
  const query = inviteCode ? `?invite_code=${encodeURIComponent(inviteCode)}` : "";
  return h("div", { class: "sso" }, ...list.map((p) => h("a", {
    class: "button primary",
    href: `/api/v1/auth/oidc/${encodeURIComponent(p.name)}/start${query}`,
  }, `Sign in with ${p.display_name}`)));
}

function card(title, ...children) {
  mount({ name: "sso" }, h("section", { class: "page" },
    h("div", { class: "card auth" }, h("h1", {}, title), ...children)));
}

// If this address is the return from a provider: finish signing in, and true.
export function finishSso(onSignedIn, onCancel) {
  const match = /^#oidc_code=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (!match) return false;
  history.replaceState(null, "", "/"); // the code is spent: not left in history
  exchange(match[1], onSignedIn, onCancel);
  return true;
}

async function exchange(code, onSignedIn, onCancel) {
  card("Signing you in…", h("p", { class: "muted" }, "One moment."));
  const back = () => h("button", { type: "button", onclick: onCancel },
    "Back to sign-in");
  await attempt(async () => {
    const { user, token } = await api("POST", "/auth/oidc/exchange", { code });
    session.token = token;
    await onSignedIn(await api("GET", "/me").catch(() => user));
  }, (error) => {
    if (error.code === "link_required") return showLink(error.details, onSignedIn, back);
    card("We couldn't sign you in", h("p", { role: "alert" }, error.message), back());
  });
}

function showLink({ link_code: code, handle }, onSignedIn, back) {
  const form = h("form", { class: "stack", novalidate: true },
    field("Password", { name: "password", type: "password", autocomplete: "current-password",
      required: true, maxlength: "1024" }),
    formError(),
    h("button", { class: "primary", type: "submit" }, "Link and sign in"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const { password } = Object.fromEntries(new FormData(form));
    if (!password) return showErrors(form, { password: "Enter your password." });
    busy(form, () => attempt(async () => {
      const { user, token } = await api("POST", "/auth/oidc/link", { code, password });
      session.token = token;
      await onSignedIn(await api("GET", "/me").catch(() => user));
    }, (error) => showApiError(form, error)));
  });
  card("Link your account",
    h("p", {}, "You already have an Earshot account, ", h("strong", {}, handle),
      ", with this address. Enter its password once to sign in with your organisation from now on."),
    form, back());
}
