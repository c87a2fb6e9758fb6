// Talking to the Earshot API: the token, JSON calls and the one error shape.

import { fieldErrors, sentence } from "./errors.js";

const TOKEN_KEY = "earshot.token";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(sentence(code, message));
    this.status = status;
    this.code = code;
    this.details = details;
    this.serverMessage = message;
  }

  // Per-field sentences; `passwordField` names the form's password input.
  fields(passwordField = "password") {
    return fieldErrors(this.code, this.details, this.serverMessage, passwordField);
  }

  // Worth trying again later with the same client_id (nothing was decided).
  get transient() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export const session = {
  get token() {
    return localStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    if (value) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
  },
};

export async function api(method, path, body) {
  const headers = {};
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`/api/v1${path}`, { method, headers, body: payload });
  } catch {
    throw new ApiError(0, "offline", "");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data?.error;
    throw new ApiError(response.status, error?.code || `http_${response.status}`,
      error?.message || `The server answered ${response.status}.`, error?.details);
  }
  return data;
}

// The bytes of a live message so far (for a listener who arrives late).
export async function liveBytes(messageId) {
  const response = await fetch(`/api/v1/messages/${messageId}/live`, {
    headers: { Authorization: `Bearer ${session.token}` },
  }).catch(() => null);
  if (!response?.ok) return null;
  return new Uint8Array(await response.arrayBuffer());
}

// Downloads what `path` answers (a zip, the bookmarks' Markdown) as `filename`: a link
// cannot send the token, so it is fetched and handed to the browser. False if refused.
export async function saveFile(path, filename) {
  const response = await fetch(`/api/v1${path}`, {
    headers: { Authorization: `Bearer ${session.token}` },
  }).catch(() => null);
  if (!response?.ok) return false;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  Object.assign(link, { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return true;
}
