// Hearing memos while they are recorded: one LivePlayer per live memo of the open group.

import { LivePlayer } from "../player.js";
import { changed, myId, state } from "../store.js";

const shelf = document.createElement("div"); // where the live <audio> elements live
shelf.hidden = true;
shelf.id = "live-audio";
document.body.append(shelf);

export function hearLive(message) {
  if (message.sender.id === myId() || state.live.has(message.id)) return;
  if (!LivePlayer.supported()) return;
  const live = new LivePlayer(message.id);
  state.live.set(message.id, live);
  shelf.append(live.audio);
  live.audio.addEventListener("playing", () => (state.liveBlocked = false));
  setTimeout(() => {
    if (live.audio.paused && !live.ended && live.have) {
      state.liveBlocked = true; // autoplay was refused: offer a button
      changed("messages", message.group_id);
    }
  }, 1500);
}

export function liveOver(messageId) {
  const live = state.live.get(messageId);
  if (!live) return;
  live.end();
  live.audio.addEventListener("ended", () => {
    live.stop();
    live.audio.remove();
    state.live.delete(messageId);
  });
}

export function unblockLive(groupId) {
  state.liveBlocked = false;
  for (const live of state.live.values()) live.audio.play().catch(() => {});
  changed("messages", groupId);
}

export function liveAudio(chunk) {
  state.live.get(chunk.messageId)?.push(chunk.offset, chunk.data);
}
