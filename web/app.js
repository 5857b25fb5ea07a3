// What every page of the dashboard shares: building DOM from data, the
// API with its bearer token, formatting, the page frame.
//
// Everything shown comes from the server and much of it from users (job
// names, display names, inputs, logs): it goes into the page as text
// (textContent, text nodes, attribute values), never as markup. The one
// exception is the task graph, which the server draws with Graphviz.

const token_key = "weft.token";

/// An element: el("a", {href: "/x", class: "y"}, "text", child, ...).
/// Strings become text nodes; null, undefined and false are skipped.
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") e.className = value;
    else if (key === "text") e.textContent = value;
    else if (key === "dataset") Object.assign(e.dataset, value);
    else if (key.startsWith("on")) e.addEventListener(key.slice(2), value);
    else e.setAttribute(key, value === true ? "" : String(value));
  }
  append(e, children);
  return e;
}

function append(parent, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.append(c instanceof Node ? c : String(c));
  }
}

export const $ = (selector, root = document) => root.querySelector(selector);

/// Sets an element's text, and its title when the text may be cut.
export function set_text(e, text, title) {
  e.textContent = text ?? "";
  if (title !== undefined) e.title = title;
}

// -- the token -----------------------------------------------------------------

function stored_token() {
  try {
    return localStorage.getItem(token_key) || "";
  } catch {
    return "";
  }
}

function set_token(value) {
  try {
    if (value) localStorage.setItem(token_key, value);
    else localStorage.removeItem(token_key);
  } catch {
    // Storage refused (a private window): the token lasts as long as the page.
  }
  memory_token = value;
}

let memory_token = "";
const current_token = () => stored_token() || memory_token;

let on_token = () => location.reload();
/// What the page does once a token was given (reload its data).
export function when_token_given(fn) {
  on_token = fn;
}

/// Asks for a token in a small form above the page's content.
function ask_token(refused) {
  const form = $("#token-form");
  if (!form) return;
  $("#token-why", form).textContent = refused
    ? "The server refused the token. Give another one."
    : "This server needs a bearer token (one of its --http-token-file).";
  form.classList.remove("hidden");
  $("#content")?.classList.add("hidden");
  $("#token-input", form).focus();
}

function install_token_form() {
  const main = $("main");
  if (!main || $("#token-form")) return;
  const input = el("input", {
    id: "token-input",
    type: "password",
    autocomplete: "current-password",
    placeholder: "token",
    required: true,
  });
  const form = el(
    "form",
    { id: "token-form", class: "card hidden" },
    el("h2", {}, "Sign in"),
    el("p", { id: "token-why", class: "muted small" }),
    // The "user name" of a password form, for browsers and password managers.
    el("input", { type: "text", autocomplete: "username", value: "weft", hidden: true }),
    el(
      "div",
      { class: "row" },
      input,
      el("button", { type: "submit", class: "primary" }, "Use token"),
    ),
    el(
      "p",
      { class: "muted small" },
      "Kept in this browser (localStorage) and sent as Authorization: Bearer.",
    ),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = input.value.trim();
    if (!value) return;
    set_token(value);
    input.value = "";
    form.classList.add("hidden");
    $("#content")?.classList.remove("hidden");
    render_session();
    on_token();
  });
  main.prepend(form);
}

function render_session() {
  const box = $("#session");
  if (!box) return;
  box.replaceChildren();
  if (!current_token()) return;
  box.append(
    "token set",
    el(
      "button",
      {
        type: "button",
        id: "forget-token",
        onclick: () => {
          set_token("");
          location.reload();
        },
      },
      "Forget",
    ),
  );
}

// -- the API -------------------------------------------------------------------

export class api_error extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/// A request to the API: the parsed JSON (or text with `as_text`), null for
/// 204. Throws api_error with the server's code and message.
export async function api(path, { method = "GET", body, as_text = false } = {}) {
  const headers = { Accept: as_text ? "*/*" : "application/json" };
  const t = current_token();
  if (t) headers.Authorization = "Bearer " + t;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (e) {
    throw new api_error(0, "unreachable", "the server does not answer (" + e.message + ")");
  }
  if (res.status === 401) {
    ask_token(t !== "");
    throw new api_error(401, "unauthorized", "a bearer token is needed");
  }
  if (!res.ok) {
    let code = "http_" + res.status;
    let message = res.statusText || "request failed";
    try {
      const j = await res.json();
      if (j && j.error) {
        code = j.error.code || code;
        message = j.error.message || message;
      }
    } catch {
      // not JSON: keep the status line
    }
    throw new api_error(res.status, code, message);
  }
  if (res.status === 204) return null;
  return as_text ? res.text() : res.json();
}

/// The update stream's URL: EventSource cannot send headers, so the token
/// goes in the query.
export function events_url(id) {
  const url = "/api/v1/jobs/" + encodeURIComponent(id) + "/events";
  const t = current_token();
  return t ? url + "?access_token=" + encodeURIComponent(t) : url;
}

/// Shows (or with null, hides) the page's error banner.
export function show_error(e) {
  const box = $("#error");
  if (!box) return;
  if (!e || e.status === 401) {
    box.classList.add("hidden");
    box.textContent = "";
    return;
  }
  box.textContent = e.message + (e.code ? " (" + e.code + ")" : "");
  box.classList.remove("hidden");
}

// -- formatting ----------------------------------------------------------------

export const job_states = ["SUBMITTED", "RUNNING", "STARTED", "COMPLETED", "FAILED", "CANCELED"];
export const task_states = [
  "QUEUED",
  "RUNNING",
  "COMPUTED",
  "FAILED",
  "CANCELED",
  "FAILED_OPTIONAL",
  "SKIPPED",
];
export const is_final = (state) =>
  state === "COMPLETED" || state === "FAILED" || state === "CANCELED";

export function state_badge(state, id) {
  return el("span", { class: "state", id, dataset: { state } }, state);
}

/// "1h 02m", "3m 04s", "12s", "0.4s".
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
  if (seconds < 10) return seconds.toFixed(1).replace(/\.0$/, "") + "s";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  if (h > 0) return h + "h " + pad(m) + "m";
  if (m > 0) return m + "m " + pad(s % 60) + "s";
  return s + "s";
}

/// A server time (RFC 3339, UTC) in the browser's time zone.
export function local_time(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

export function percent_text(p) {
  return p === null || p === undefined ? "–" : p.toFixed(1) + " %";
}

/// A progress bar; `update_bar` moves it. A null percentage is "unknown".
export function bar(percent, { id, big = false, state } = {}) {
  const b = el("div", {
    class: "bar" + (big ? " big" : ""),
    id,
    role: "progressbar",
    "aria-valuemin": 0,
    "aria-valuemax": 100,
    dataset: state ? { state } : {},
  });
  b.append(el("span"));
  update_bar(b, percent, state);
  return b;
}

export function update_bar(b, percent, state) {
  const known = percent !== null && percent !== undefined && isFinite(percent);
  const p = known ? Math.max(0, Math.min(100, percent)) : null;
  b.classList.toggle("unknown", !known);
  b.dataset.percent = known ? p.toFixed(1) : "";
  if (known) b.setAttribute("aria-valuenow", p.toFixed(1));
  else b.removeAttribute("aria-valuenow");
  if (state) b.dataset.state = state;
  b.firstElementChild.style.width = known ? p + "%" : "";
}

/// A row of per-state counts, in the order of `states`.
export function counts(by_state, states) {
  const box = el("div", { class: "counts" });
  for (const s of states) {
    const n = by_state?.[s];
    if (n) box.append(el("span", { class: "state", dataset: { state: s } }, s + " " + n));
  }
  return box;
}

// -- the page frame ------------------------------------------------------------

/// Marks the current page in the top bar, installs the token form, and
/// starts the page once the DOM is there.
export function page(start) {
  const go = () => {
    for (const a of document.querySelectorAll(".topbar nav a")) {
      const here =
        a.getAttribute("href") === location.pathname ||
        (a.dataset.section === "jobs" && location.pathname.startsWith("/jobs/"));
      if (here) a.setAttribute("aria-current", "page");
    }
    install_token_form();
    render_session();
    start();
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", go);
  else go();
}

/// Calls `fn` now and then `every_ms` after each call finished, skipping
/// while the page is hidden; returns a function that calls it again at
/// once (after the call in flight, if there is one).
export function every(every_ms, fn) {
  let timer = null;
  let busy = false;
  let again = false;
  const run = async () => {
    clearTimeout(timer);
    timer = null;
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      await fn();
    } catch (e) {
      console.error(e);
    } finally {
      busy = false;
      if (again) {
        again = false;
        run();
      } else {
        timer = setTimeout(tick, every_ms);
      }
    }
  };
  const tick = () => {
    if (document.hidden) timer = setTimeout(tick, every_ms);
    else run();
  };
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !busy) run();
  });
  run();
  return run;
}
