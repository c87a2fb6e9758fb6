// Form fields with a visible label, a hint saying the rule, and an error of their own.
//
// `field()` builds one; `showErrors(form, error)` puts each of an ApiError's field
// errors under its field (aria-invalid, described by it) and the rest in the form's
// alert line, then focuses the first field in error.

import { h } from "../dom.js";

let fieldCount = 0;

export function field(label, attrs, hint) {
  const id = `f${++fieldCount}`;
  const hintId = hint ? `${id}-hint` : null;
  const { tag = "input", options = [], ...rest } = attrs;
  const input = h(tag, { id, ...rest,
    "aria-describedby": [hintId, `${id}-error`].filter(Boolean).join(" ") }, ...options);
  return h("div", { class: "field", "data-field": attrs.name },
    h("label", { for: id }, label),
    input,
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    h("p", { class: "field-error", id: `${id}-error` }));
}

export function formError() {
  return h("p", { class: "form-error", role: "alert", "data-testid": "form-error" });
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error, .form-error")) el.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

// `errors`: {field name: sentence}; `rest`: a sentence for the form as a whole, if any.
export function showErrors(form, errors, rest) {
  clearErrors(form);
  let first = null;
  for (const [name, text] of Object.entries(errors)) {
    const box = form.querySelector(`[data-field="${name}"]`);
    if (!box) {
      rest = rest ? `${rest} ${text}` : text;
      continue;
    }
    box.querySelector(".field-error").textContent = text;
    const input = box.querySelector("input, select, textarea");
    input.setAttribute("aria-invalid", "true");
    first ??= input;
  }
  const line = form.querySelector(".form-error");
  if (line) line.textContent = rest || (first ? "" : "Something went wrong.");
  first?.focus();
}

// An ApiError shown on a form: its fields where they belong, its sentence otherwise.
export function showApiError(form, error, passwordField) {
  const fields = error.fields(passwordField);
  const known = Object.keys(fields).some((name) => form.querySelector(`[data-field="${name}"]`));
  showErrors(form, fields, known ? "" : error.message);
}

// Disables the submit button while `work` runs: a double tap submits once.
export async function busy(form, work) {
  const button = form.querySelector('[type="submit"]');
  if (button?.disabled) return undefined;
  if (button) button.disabled = true;
  try {
    return await work();
  } finally {
    if (button) button.disabled = false;
  }
}
