// What each API error code means to a person, and which form field it belongs to.
// The server sends {code, message, details}; validation errors name their fields
// (`details.errors: [{field, message}]` or `details.field`).

// Sentences for codes whose server message is written for developers, or could be kinder.
const SENTENCES = {
  offline: "Can't reach Earshot. Check your connection and try again.",
  validation_error: "Please check the form.",
  invalid_credentials: "That handle and password don't match.",
  handle_taken: "That handle is taken. Try another one.",
  wrong_password: "That isn't your current password.",
  weak_password: "Pick a stronger password.",
  user_not_found: "Nobody has that handle. Check the spelling.",
  already_member: "They are in the group already.",
  not_allowed: "You can't add them by handle. Send them an invite link instead.",
  too_large: "That recording is too big to send.",
  too_long: "That recording is too long to send.",
  not_audio: "That file isn't audio we can play.",
  invalid_upload: "The recording didn't arrive whole. It will be sent again.",
  invite_expired: "This invite link has expired or has been used up. Ask for a new one.",
  invite_required: "Accounts here are by invitation: open the invite link you were sent.",
  registration_closed: "This Earshot takes no new accounts.",
  account_disabled: "An admin of this Earshot disabled your account. Ask them about it.",
  admin_required: "Only the server's admins can do that.",
  last_admin: "This is the last admin: make someone else an admin first.",
  invalid_token: "This link doesn't work any more: it was used already, or it is too old. Ask for a new one.",
  email_taken: "Another account has verified that address already.",
  invite_not_found: "This invite link isn't valid. Ask for a new one.",
  invite_revoked: "This invite link no longer works. Ask for a new one.",
  banned: "You can't join this group: its moderators have banned you.",
  removed: "You were removed from this group after this link was made. Ask a moderator for a new invite.",
  rate_limited: "Slow down a little and try again.",
  server_busy: "Earshot is busy. Try again in a moment.",
  insufficient_storage: "The server is out of space for recordings. Tell whoever runs it.",
  group_not_found: "That group doesn't exist, or you're not in it any more.",
  message_not_found: "That message is gone.",
  member_not_found: "They are no longer in the group.",
  owner_required: "Make someone else the owner first.",
  cannot_ban_self: "You can't ban yourself.",
  cannot_block_self: "You can't block yourself.",
  too_many_blocks: "You have blocked 1000 people, the most there can be.",
  report_resolved: "Someone resolved that report already.",
  message_deleted: "That message was deleted.",
  own_message: "You can't report your own message.",
  reply_not_found: "The message you replied to is gone.",
  not_voice: "That isn't a voice memo.",
  forbidden: "Your role in this group doesn't allow that.",
  unauthorized: "Please sign in again.",
  internal_error: "Something went wrong on our side. Try again.",
};

const WEAK = {
  whitespace: "A password can't be only spaces.",
  contains_handle: "Don't put your handle in your password.",
  common: "That password is one of the most common ones. Pick one that's harder to guess.",
};

// The rule of each field, in words: shown as a hint and when the server refuses it.
export const RULES = {
  handle: "3–32 letters, digits, dots, dashes or underscores.",
  password: "At least 10 characters.",
  new_password: "At least 10 characters, not your handle, not a common password.",
  display_name: "Up to 100 characters.",
  bio: "Up to 280 characters of plain text (no tabs or other control characters).",
  name: "1–100 characters.",
  description: "Up to 1000 characters.",
  text: "Up to 4000 characters.",
  reason: "Up to 1000 characters.",
  retention_days: "1–3650 days.",
  max_uses: "1–10,000 uses.",
};

// Codes that are about one field of the form that caused them.
const CODE_FIELD = {
  handle_taken: "handle", invalid_credentials: "password", wrong_password: "current_password",
  user_not_found: "handle", already_member: "handle", not_allowed: "handle", banned: "handle",
};

export function sentence(code, message) {
  return SENTENCES[code] || message || "Something went wrong.";
}

// {field name: sentence} for the fields an error is about.
export function fieldErrors(code, details, message, passwordField = "password") {
  const fields = {};
  const name = (field) => (field === "password" ? passwordField : field);
  if (code === "validation_error") {
    const problems = details?.errors || (details?.field ? [{ field: details.field, message }] : []);
    for (const p of problems) {
      const field = String(p.field).split(".").pop();
      fields[name(field)] ??= RULES[field] ? `${RULES[field]}` : p.message;
    }
  } else if (code === "weak_password") {
    fields[name("password")] = WEAK[details?.reason] || SENTENCES.weak_password;
  } else if (CODE_FIELD[code]) {
    fields[CODE_FIELD[code] === "password" ? name("password") : CODE_FIELD[code]] = sentence(code, message);
  }
  return fields;
}
