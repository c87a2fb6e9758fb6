// What a message row needs from the screen it is on (a group's timeline, a thread): who
// you are, the player, and what its buttons do. One home for both screens.

import { deleteMessage, find, sorted, toggleBookmark, toggleReaction } from "../data/messages.js";
import { setPinned } from "../data/groups.js";
import { isBlocked } from "../data/people.js";
import { group, moderates, state } from "../store.js";
import { tell } from "../ui.js";
import { askReport } from "../views/moderation.js";

// `app`: {player, unblockLive}; `composer` takes replies and edits; `rerender()` draws the
// rows again; `highlight()` is the id of the message to mark, if any; `thread()`: in a
// thread's view, its replies (then no "replies" link is shown, and every memo shows the
// moments replies answer); else the group's loaded messages are looked in.
export function rowContext(groupId, app, { composer, rerender, highlight = () => null, thread = null }) {
  const inThread = Boolean(thread);
  return (message) => ({
    me: state.me, player: app.player, liveBlocked: state.liveBlocked,
    canModerate: moderates(group(groupId)), isBlocked, revealed: state.revealed,
    pinned: group(groupId)?.pinned || [],
    onPin: (m) => setPinned(m, !(group(groupId)?.pinned || []).includes(m.id)),
    receipts: state.receipts.get(message.id),
    highlight: highlight(), transcriptOpen: state.openTranscripts.has(message.id), inThread,
    replied: message.reply_to ? find(groupId, message.reply_to) || null : null,
    moments: momentsOf(message, inThread, () => (thread ? thread() : sorted(groupId))),
    onTranscriptToggle: (m, isOpen) => (isOpen ? state.openTranscripts.add(m.id) : state.openTranscripts.delete(m.id)),
    onDelete: (m) => confirm("Delete this message for everyone?") && deleteMessage(m),
    onReport: async (m) => {
      if (await askReport(m)) tell("Thanks. The group's moderators will look at it.", "ok");
    },
    onReveal: (m) => {
      state.revealed.add(m.id);
      rerender();
    },
    onReply: (m) => composer.replyTo(m),
    onEdit: (m) => composer.edit(m),
    onReact: (m, emoji) => toggleReaction(m, emoji),
    onBookmark: (m) => toggleBookmark(m),
    onUnblockLive: app.unblockLive,
  });
}

// The replies (loaded) that answer a moment of this voice memo, in the memo's order. Looked
// for under a thread's root, and in a thread's view for every memo.
function momentsOf(message, inThread, messages) {
  if (message.kind !== "voice" || !(inThread || message.reply_count)) return [];
  return messages()
    .filter((m) => m.reply_to === message.id && m.reply_to_offset_ms != null && !m.deleted)
    .sort((a, b) => a.reply_to_offset_ms - b.reply_to_offset_ms);
}
