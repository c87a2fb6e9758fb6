// The total of unheard memos, where a person sees it without opening a group: the tab's
// title ("(3) Earshot") and the installed app's badge (navigator.setAppBadge, where the
// browser has it).

import { on, state } from "./store.js";

const TITLE = "Earshot";

// A group opened knows its unheard memos one by one; the others by their count.
export function unheardTotal() {
  return state.groups.reduce((total, g) => total + (state.unheard.get(g.id)?.length ?? g.unheard_count ?? 0), 0);
}

function show() {
  const total = state.me ? unheardTotal() : 0;
  document.title = total ? `(${total}) ${TITLE}` : TITLE;
  if (!("setAppBadge" in navigator)) return;
  (total ? navigator.setAppBadge(total) : navigator.clearAppBadge()).catch(() => {});
}

export function showUnheardTotal() {
  for (const topic of ["groups", "unheard"]) on(topic, show);
  show();
  return show;
}
