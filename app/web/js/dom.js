// A tiny helper for building the page without a framework.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clock(ms) {
  const s = Math.max(0, Math.round((ms || 0) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// Times in the page's language (English), formatted by hand: Intl's formatters cost
// about 60 ms to start on a mid-range phone, on the way to the first paint.
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

export function when(iso) {
  const date = new Date(iso);
  const hours = date.getHours();
  const time = `${hours % 12 || 12}:${String(date.getMinutes()).padStart(2, "0")} ${hours < 12 ? "AM" : "PM"}`;
  if (date.toDateString() === new Date().toDateString()) return time;
  return `${MONTHS[date.getMonth()]} ${date.getDate()}, ${time}`;
}

export function initials(name) {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
}

// A person's picture beside their name: their avatar, or their initials while it loads,
// when they have none, or if it fails. Decorative (aria-hidden): the name says who.
export function avatar(user, size = "small") {
  const box = h("span", { class: `avatar ${size}`, "aria-hidden": "true" }, initials(user.display_name));
  if (user.avatar_url) {
    const img = h("img", { src: user.avatar_url, alt: "", decoding: "async", loading: "lazy" });
    img.addEventListener("error", () => img.remove());
    box.append(img);
  }
  return box;
}

// A client_id for idempotent creates (randomUUID needs a secure context; this does not).
export function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// A small line icon (aria-hidden: the button around it carries the name).
const ICONS = {
  search: ["M15.5 15.5 21 21", { circle: { cx: 10.5, cy: 10.5, r: 6.5 } }],
  people: ["M3 20c0-3.3 2.7-6 6-6s6 2.7 6 6M15.5 14.2c2.9.4 5 2.9 5 5.8M15 4.4a3.6 3.6 0 0 1 0 7", { circle: { cx: 9, cy: 8, r: 3.6 } }],
  settings: ["M3 7h10M19 7h2M3 17h3M12 17h9", { circle: [{ cx: 16, cy: 7, r: 2.6 }, { cx: 9, cy: 17, r: 2.6 }] }],
  back: ["M15 5 8 12l7 7", {}],
  play: ["M7 4.5v15l12-7.5z", {}],
  pause: ["M7 5h3.5v14H7zM13.5 5H17v14h-3.5z", {}],
  close: ["M6 6l12 12M18 6 6 18", {}],
  reply: ["M10 8 5 12.5 10 17M5.5 12.5H14a5 5 0 0 1 5 5V19", {}],
};

export function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const [d, extra] = ICONS[name];
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", `icon icon-${name}`);
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", d);
  svg.append(path);
  for (const attrs of [extra.circle || []].flat()) {
    const circle = document.createElementNS(ns, "circle");
    for (const [k, v] of Object.entries(attrs)) circle.setAttribute(k, v);
    svg.append(circle);
  }
  return svg;
}
