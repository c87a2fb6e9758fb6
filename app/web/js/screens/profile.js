// The account screen's profile card: your photo (chosen, previewed, saved or removed),
// your name and a short bio, as the people in your groups see them.

import { api } from "../api.js";
import { avatar, h } from "../dom.js";
import { RULES } from "../errors.js";
import { state } from "../store.js";
import { attempt, tell } from "../ui.js";
import { busy, clearErrors, field, formError, showApiError, showErrors } from "../views/forms.js";

const MAX_BYTES = 5 * 1024 * 1024;
const TYPES = ["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"];
const BIO_MAX = 280;
// What a refused photo means to a person (the server's sentences are for developers).
const PHOTO_ERRORS = {
  too_large: "That photo is larger than 5 MB. Pick a smaller one.",
  unsupported_image: "That file isn't a photo Earshot can read: use a JPEG, PNG, WebP or HEIC.",
  image_too_large: "That photo has too many pixels (more than 24 megapixels). Pick a smaller one.",
};

export function profileCard({ onChange }) {
  const status = h("p", { class: "muted", role: "status", "data-testid": "photo-status" });
  const picture = h("div", { class: "profile-picture" });
  const input = h("input", { type: "file", id: "photo-file", accept: TYPES.join(","), class: "photo-input",
    "aria-describedby": "photo-hint" });
  const save = h("button", { type: "button", class: "primary", hidden: true }, "Save photo");
  const cancel = h("button", { type: "button", hidden: true }, "Cancel");
  const remove = h("button", { type: "button", class: "danger" }, "Remove photo");
  let chosen = null;

  function draw(preview) {
    const me = state.me;
    const shown = preview ? { ...me, avatar_url: preview } : me;
    picture.replaceChildren(avatar(shown, "large"));
    save.hidden = cancel.hidden = !preview;
    remove.hidden = Boolean(preview) || !me.avatar_url;
  }
  function settle(me, sentence) {
    state.me = me;
    chosen = null;
    input.value = "";
    draw(null);
    status.textContent = sentence;
    onChange(me);
  }
  input.addEventListener("change", () => {
    const file = input.files[0];
    chosen = null;
    if (!file) return draw(null);
    if (file.size > MAX_BYTES) {
      input.value = "";
      status.textContent = PHOTO_ERRORS.too_large;
      return draw(null);
    }
    chosen = file;
    const reader = new FileReader(); // a data: URL: the page's CSP allows those for images
    reader.addEventListener("load", () => {
      if (chosen !== file) return;
      status.textContent = "This is how your photo will look. Save it to use it.";
      draw(reader.result);
    });
    reader.readAsDataURL(file);
  });
  save.addEventListener("click", async () => {
    if (!chosen) return;
    const body = new FormData();
    body.append("file", chosen);
    save.disabled = true;
    status.textContent = "Saving your photo…";
    const me = await attempt(() => api("PUT", "/me/avatar", body), (error) => {
      status.textContent = PHOTO_ERRORS[error.code] || error.message;
    }).finally(() => (save.disabled = false));
    if (me) settle(me, "Your photo is saved.");
  });
  cancel.addEventListener("click", () => {
    chosen = null;
    input.value = "";
    status.textContent = "";
    draw(null);
  });
  remove.addEventListener("click", async () => {
    if (!confirm("Remove your photo? People will see your initials instead.")) return;
    const removed = await attempt(() => api("DELETE", "/me/avatar").then(() => true));
    if (removed) settle({ ...state.me, avatar_url: null }, "Your photo is removed.");
  });
  draw(null);

  const form = detailsForm(onChange);
  return h("div", { class: "card profile", role: "group", "aria-labelledby": "profile-title" },
    h("h2", { id: "profile-title" }, "Your profile"),
    h("p", { class: "muted" }, "People in your groups see your photo, name and bio."),
    h("div", { class: "profile-photo" },
      picture,
      h("div", { class: "photo-controls" },
        h("label", { for: "photo-file" }, "Photo"),
        input,
        h("p", { class: "hint", id: "photo-hint" }, "JPEG, PNG, WebP or HEIC, up to 5 MB. It is cropped to a square."),
        h("div", { class: "row-actions" }, save, cancel, remove))),
    status,
    form);
}

function detailsForm(onChange) {
  const me = state.me;
  const form = h("form", { class: "profile-form", novalidate: true },
    field("Name", { name: "display_name", value: me.display_name, autocomplete: "name", required: true,
      maxlength: "100" }, RULES.display_name),
    field("Bio", { tag: "textarea", name: "bio", rows: "3", maxlength: String(BIO_MAX) },
      `Up to ${BIO_MAX} characters of plain text.`),
    formError(),
    h("button", { type: "submit", class: "primary" }, "Save profile"));
  form.elements.bio.value = me.bio || "";
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const name = form.elements.display_name.value.trim();
    const bio = form.elements.bio.value.trim();
    if (!name) return showErrors(form, { display_name: "Enter the name people see." });
    if (bio.length > BIO_MAX) return showErrors(form, { bio: `Up to ${BIO_MAX} characters.` });
    busy(form, () => attempt(async () => {
      const saved = await api("PATCH", "/me", { display_name: name, bio });
      state.me = saved;
      clearErrors(form);
      form.elements.display_name.value = saved.display_name;
      form.elements.bio.value = saved.bio;
      onChange(saved);
      tell("Your profile is saved.", "ok");
    }, (error) => showApiError(form, error)));
  });
  return form;
}
