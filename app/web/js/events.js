// What each websocket event and signal changes in the store.

import { forgetGroup, pinsArrived, reloadGroupsSoon } from "./data/groups.js";
import { hearLive, liveOver } from "./data/live.js";
import { reactionArrived, receiptArrived, upsert } from "./data/messages.js";
import { loadMembers } from "./data/people.js";
import { changed, group, myId, state } from "./store.js";
import { screen, tell } from "./ui.js";

// `app`: {recorder, reopen(groupId)}
export function eventHandlers(app) {
  function removedFrom(groupId, why) {
    const gone = forgetGroup(groupId);
    if (screen()?.groupId === groupId) {
      tell(`${why} ${gone?.name ?? "a group"}.`);
      location.hash = "#/";
    }
  }

  function applyEvent(event) {
    const { type, group_id: groupId, data } = event;
    if (type.startsWith("message.")) {
      upsert(data, { fromEvent: true });
      if (data.kind === "voice" && data.voice?.status === "live") {
        if (screen()?.groupId === groupId) hearLive(data);
      } else if (data.kind === "voice") {
        liveOver(data.id);
      }
    } else if (type === "receipt.listened") {
      receiptArrived(groupId, data);
    } else if (type === "reaction.added" || type === "reaction.removed") {
      return reactionArrived(groupId, type, data);
    } else if (type.startsWith("member.")) {
      if (type === "member.left" && data.user.id === myId()) {
        return removedFrom(groupId, "You are no longer a member of");
      }
      loadMembers(groupId);
    } else if (type === "pin.added" || type === "pin.removed") {
      return pinsArrived(groupId, data.pinned);
    } else if (type === "group.deleted") {
      return removedFrom(groupId, "This group was deleted:");
    } else if (type === "moderation.logged") {
      changed("log", { groupId, entry: data });
    }
    reloadGroupsSoon();
  }

  function applySignal(signal) {
    const { type } = signal;
    if (type === "recording.started" || type === "recording.stopped") {
      const talking = state.talking.get(signal.group_id) || new Map();
      state.talking.set(signal.group_id, talking);
      clearTimeout(talking.get(signal.user_id));
      if (type === "recording.started") {
        // If the stop never comes (a dropped phone), the indicator clears itself.
        talking.set(signal.user_id, setTimeout(() => {
          talking.delete(signal.user_id);
          changed("talking", signal.group_id);
        }, 120000));
      } else {
        talking.delete(signal.user_id);
      }
      changed("talking", signal.group_id);
    } else if (type === "report.created" || type === "report.resolved") {
      state.openReports.set(signal.group_id, signal.open_reports);
      changed("reports", signal.group_id);
      if (type === "report.created" && screen()?.name !== "reports") {
        tell(`A message in ${group(signal.group_id)?.name ?? "a group"} was reported.`, "ok");
      }
    } else if (type === "live.started") {
      app.recorder.liveStarted(signal.message_id);
    } else if (type === "error" && signal.error.code === "cursor_ahead") {
      const heads = signal.error.details?.heads ?? {};
      for (const groupId of Object.keys(heads)) state.messages.delete(groupId); // reload them
      reloadGroupsSoon();
      if (screen()?.name === "group" && screen().groupId in heads) app.reopen(screen().groupId);
    } else if (type === "error") {
      tell(signal.error.message);
    }
  }

  return { applyEvent, applySignal };
}
