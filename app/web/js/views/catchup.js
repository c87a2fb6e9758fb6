// "Catch up": every unheard memo of every group, oldest first, through the one player, for
// a coach in the car between buildings. The groups screen's button starts it; while a
// queue plays, a panel says who and which group, and has Next and Stop.

import { unheardTotal } from "../attention.js";
import { loadCatchUp } from "../data/messages.js";
import { h, icon } from "../dom.js";
import { on } from "../store.js";
import { attempt, tell } from "../ui.js";

export function catchUp(player) {
  const start = h("button", { type: "button", class: "primary play-unheard", "data-testid": "catch-up",
    hidden: true, onclick: () => begin() });
  const who = h("span", { class: "ellipsis now-who" });
  const where = h("span", { class: "ellipsis muted now-where" });
  const next = h("button", { type: "button", onclick: () => player.next() }, "Next");
  const stop = h("button", { type: "button", class: "danger", onclick: () => player.stop() }, "Stop");
  const panel = h("section", { class: "card catch-up", "aria-label": "Now playing", "data-testid": "now-playing",
    hidden: true },
  h("p", { class: "now-playing", "aria-live": "polite" }, who, where),
  h("div", { class: "catch-up-buttons" }, next, stop));

  let starting = false; // not disabled meanwhile: a disabled button would lose the focus
  async function begin() {
    if (starting) return;
    starting = true;
    await attempt(async () => {
      const items = await loadCatchUp();
      if (items.length) player.playQueue(items);
      else tell("You've heard everything.", "ok");
    });
    starting = false;
  }

  function render() {
    const playing = player.queued;
    const focused = [start, next, stop].find((el) => el === document.activeElement);
    const total = unheardTotal();
    start.hidden = playing || !total;
    if (start.textContent !== `Catch up (${total})`) start.replaceChildren(icon("play"), `Catch up (${total})`);
    panel.hidden = !playing;
    next.hidden = !player.queue.length;
    const now = player.current && player.nowPlaying;
    const more = player.queue.length ? ` · ${player.queue.length} more` : "";
    const text = [now ? `Playing ${now.title}` : "Catch up", now ? `in ${now.artist}${more}` : more.slice(3)];
    if (who.textContent !== text[0]) who.textContent = text[0];
    if (where.textContent !== text[1]) where.textContent = text[1];
    // The control pressed went away (started, stopped, the last one): focus goes to the
    // one in its place, else the screen's heading.
    if (focused && (focused.hidden || panel.hidden && focused !== start)) {
      (playing ? stop : start.hidden ? start.parentElement.querySelector("h1") : start)?.focus();
    }
  }

  const disposers = ["player", "groups", "unheard"].map((topic) => on(topic, render));
  render();
  return { elements: [start, panel], disposers };
}
