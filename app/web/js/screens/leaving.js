// The account screen's last two cards: a copy of your data (POST /me/export, then the
// zip when it is ready) and deleting your account (DELETE /me, with your password). The
// export card serves a group's export by its owner too (group settings).

import { api, saveFile } from "../api.js";
import { h } from "../dom.js";
import { attempt, screen } from "../ui.js";
import { busy, field, formError, showApiError, showErrors } from "../views/forms.js";

const POLL_MS = 2000;

function megabytes(bytes) {
  return `${Math.max(0.1, bytes / 1e6).toFixed(1)} MB`;
}

function saveZip(path, filename) {
  return saveFile(`${path}/download`, filename);
}

export function exportCard(me) {
  return zipCard({ path: "/me/export", filename: `earshot-${me.handle}.zip`, id: "export-title",
    title: "A copy of your data", prepare: "Prepare a copy of my data", download: "Download my data",
    intro: "Your profile, groups, messages, transcripts and voice memos, as one zip file.",
    preparing: "Preparing your data… You can leave this page; it goes on." });
}

// An export made on the server (a person's or a group's): start it, follow it, save the zip.
// `body()`: what to start it with, or null when the fields before the button say what is wrong.
export function zipCard({ path, filename, id, title, intro, prepare: prepareLabel, download: downloadLabel,
  preparing, fields = [], body = () => undefined }) {
  const status = h("p", { role: "status", "data-testid": "export-status" });
  const prepare = h("button", { type: "button" }, prepareLabel);
  const download = h("button", { type: "button", class: "primary", hidden: true });
  const owner = screen();
  let timer = null;

  function show(exp) {
    clearTimeout(timer);
    download.hidden = exp?.status !== "ready";
    prepare.disabled = exp?.status === "pending";
    if (!exp) status.textContent = "";
    else if (exp.status === "pending") {
      status.textContent = preparing;
      timer = setTimeout(refresh, POLL_MS);
    } else if (exp.status === "failed") status.textContent = exp.error;
    else {
      const until = new Date(exp.expires_at).toLocaleString();
      status.textContent = `Your copy is ready (${megabytes(exp.size_bytes)}), until ${until}.`;
      download.textContent = downloadLabel;
    }
  }
  let asked = 0; // only the answer to the latest request is shown (a start outruns a look)
  async function latest(request, { keepOnRefusal = false } = {}) {
    const mine = ++asked;
    const exp = await request();
    if (mine === asked && !(keepOnRefusal && exp === undefined)) show(exp);
  }
  async function refresh() {
    if (screen() !== owner) return; // the person left the screen
    await latest(() => attempt(() => api("GET", path), () => null));
  }
  prepare.addEventListener("click", () => {
    const start = body();
    if (start !== null) latest(() => attempt(() => api("POST", path, start)), { keepOnRefusal: true });
  });
  download.addEventListener("click", async () => {
    if (!(await saveZip(path, filename))) status.textContent = "The download failed. Try again.";
  });
  owner?.disposers.push(() => clearTimeout(timer));
  refresh();
  return h("div", { class: "card", "aria-labelledby": id, role: "region" },
    h("h2", { id }, title),
    h("p", { class: "muted" }, intro),
    fields, status, prepare, download);
}

export function deleteCard(me, { onDeleted }) {
  const sso = me.has_password === false; // no password: a fresh sign-in at the provider stands for it
  const form = h("form", { class: "card danger", novalidate: true, "aria-labelledby": "delete-title" },
    h("h2", { id: "delete-title" }, "Delete your account"),
    h("p", {}, "Every message and voice memo you sent is deleted for everyone, you leave every group, "
      + "and others see you as “Deleted user”. This cannot be undone."),
    h("input", { type: "text", name: "username", value: me.handle, autocomplete: "username", hidden: true }),
    sso ? h("p", { class: "muted" }, "You signed in through your organisation: "
      + "if that was more than 15 minutes ago, sign out and in again first.")
      : field("Password to confirm", { name: "delete_password", type: "password",
        autocomplete: "current-password", required: true, maxlength: "1024" }),
    formError(),
    h("button", { type: "submit", class: "danger" }, "Delete my account"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const password = sso ? "" : form.elements.delete_password.value;
    if (!sso && !password) return showErrors(form, { delete_password: "Enter your password." });
    if (!window.confirm("Delete your account and everything you sent, for good?")) return undefined;
    return busy(form, () => attempt(async () => {
      await api("DELETE", "/me", { password });
      onDeleted();
    }, (error) => {
      if (error.code === "wrong_password") return showErrors(form, { delete_password: error.message });
      if (error.code === "owner_required") {
        const names = (error.details?.groups || []).map((g) => g.name).join(", ");
        return showErrors(form, {}, `You own ${names}: make someone else its owner first, in its members.`);
      }
      return showApiError(form, error, "delete_password");
    }));
  });
  return form;
}
