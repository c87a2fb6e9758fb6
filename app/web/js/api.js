// Talking to the Earshot API: the token, JSON calls and the one error shape.

const TOKEN_KEY = "earshot.token";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
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

// Sentences for the codes whose server message is written for developers.
const FRIENDLY = {
  validation_error: "Please check the form: something is missing or not in the right shape.",
  invalid_credentials: "That handle and password don't match.",
  handle_taken: "That handle is taken. Try another one.",
  too_large: "That recording is too big to send.",
  too_long: "That recording is too long to send.",
  not_audio: "That file isn't audio we can play.",
  invite_expired: "This invite link has expired or has been used up. Ask for a new one.",
  invite_not_found: "This invite link isn't valid. Ask for a new one.",
  invite_revoked: "This invite link no longer works. Ask for a new one.",
  banned: "You can't join this group: its moderators have banned you.",
  removed: "You were removed from this group after this link was made. Ask a moderator for a new invite.",
  rate_limited: "Slow down a little and try again.",
};

function explain(error, status) {
  if (error?.code === "validation_error" && error.details?.errors?.length) {
    const first = error.details.errors[0];
    const field = (first.loc || []).filter((p) => p !== "body").join(".");
    return field ? `${field}: ${first.msg}` : first.msg;
  }
  return FRIENDLY[error?.code] || error?.message || `The server answered ${status}.`;
}

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
    throw new ApiError(0, "offline", "Can't reach Earshot. Check your connection and try again.");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data?.error;
    throw new ApiError(response.status, error?.code || `http_${response.status}`,
      explain(error, response.status), error?.details);
  }
  return data;
}

// The bytes of a live message so far (for a listener who arrives late).
export async function liveBytes(messageId) {
  const response = await fetch(`/api/v1/messages/${messageId}/live`, {
    headers: { Authorization: `Bearer ${session.token}` },
  });
  if (!response.ok) return null;
  return new Uint8Array(await response.arrayBuffer());
}
