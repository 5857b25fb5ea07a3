// The jobs list (/): the API's query, a page at a time, refreshed every
// two seconds, with the filters in the address so that a view can be shared.

import {
  $,
  api,
  el,
  every,
  job_states,
  local_time,
  page,
  show_error,
  state_badge,
  when_token_given,
} from "./app.js";

const defaults = { state: [], name: "", cluster: "", from: "", to: "", order: "newest", limit: "50" };
let filters = { ...defaults };
// cursors[i] is the cursor that gives page i (the first page has none).
let cursors = [""];
let current = 0;
let next_cursor = null;
let refresh = () => {};

/// "2026-11-22T10:30" (local, from an <input type=datetime-local>) as the
/// API takes it: "2026-11-22T09:30:00Z".
function to_utc(local) {
  const d = new Date(local);
  return isNaN(d) ? local : d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function to_local(utc) {
  const d = new Date(utc);
  if (isNaN(d)) return "";
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
}

function read_address() {
  const q = new URLSearchParams(location.search);
  filters = { ...defaults };
  const states = q.get("state");
  if (states) filters.state = states.split(",").filter((s) => job_states.includes(s));
  for (const key of ["name", "cluster", "from", "to"]) filters[key] = q.get(key) || "";
  if (q.get("order") === "oldest") filters.order = "oldest";
  if (/^[0-9]+$/.test(q.get("limit") || "")) filters.limit = q.get("limit");
}

function write_address() {
  const q = new URLSearchParams();
  if (filters.state.length) q.set("state", filters.state.join(","));
  for (const key of ["name", "cluster", "from", "to"]) if (filters[key]) q.set(key, filters[key]);
  if (filters.order !== defaults.order) q.set("order", filters.order);
  if (filters.limit !== defaults.limit) q.set("limit", filters.limit);
  const search = q.toString();
  history.replaceState(null, "", search ? "?" + search : location.pathname);
}

function fill_form() {
  $("#filter-name").value = filters.name;
  $("#filter-cluster").value = filters.cluster;
  $("#filter-from").value = filters.from ? to_local(filters.from) : "";
  $("#filter-to").value = filters.to ? to_local(filters.to) : "";
  $("#filter-order").value = filters.order;
  const limit = $("#filter-limit");
  if (![...limit.options].some((o) => o.value === filters.limit))
    limit.append(el("option", {}, filters.limit));
  limit.value = filters.limit;
  for (const box of document.querySelectorAll("#filter-states input"))
    box.checked = filters.state.includes(box.value);
}

function read_form() {
  filters = {
    state: [...document.querySelectorAll("#filter-states input:checked")].map((b) => b.value),
    name: $("#filter-name").value,
    cluster: $("#filter-cluster").value.trim(),
    from: $("#filter-from").value ? to_utc($("#filter-from").value) : "",
    to: $("#filter-to").value ? to_utc($("#filter-to").value) : "",
    order: $("#filter-order").value,
    limit: $("#filter-limit").value,
  };
}

function apply() {
  read_form();
  write_address();
  cursors = [""];
  current = 0;
  refresh();
}

function query() {
  const q = new URLSearchParams();
  if (filters.state.length) q.set("state", filters.state.join(","));
  for (const key of ["name", "cluster", "from", "to"]) if (filters[key]) q.set(key, filters[key]);
  q.set("order", filters.order);
  q.set("limit", filters.limit);
  if (cursors[current]) q.set("cursor", cursors[current]);
  return "/api/v1/jobs?" + q;
}

function tasks_of(job) {
  const total = job.stats?.total_tasks;
  if (!total) return "–"; // the index holds no counts for this job
  const done = job.stats.tasks_by_state?.COMPUTED || 0;
  return done + " / " + total;
}

function row(job) {
  const href = "/jobs/" + encodeURIComponent(job.id);
  const tr = el(
    "tr",
    { class: "job-row", dataset: { jobId: job.id, state: job.state } },
    el("td", {}, state_badge(job.state)),
    el("td", { class: "name" }, el("a", { href, class: "job-link" }, job.name)),
    el("td", { class: "hide-narrow" }, job.cluster),
    el("td", { title: job.submitted_at }, local_time(job.submitted_at)),
    el("td", { class: "num hide-narrow" }, tasks_of(job)),
    el("td", { class: "hide-narrow" }, el("a", { href, class: "mono" }, job.id)),
  );
  tr.style.cursor = "pointer";
  tr.addEventListener("click", (ev) => {
    if (!ev.target.closest("a")) location.href = href;
  });
  return tr;
}

async function load() {
  const shown = current;
  let result;
  try {
    result = await api(query());
    show_error(null);
  } catch (e) {
    show_error(e);
    return;
  }
  if (shown !== current) return; // the page changed meanwhile
  next_cursor = result.next_cursor;
  const body = $("#jobs tbody");
  const rows = result.jobs.map(row);
  if (rows.length === 0)
    rows.push(el("tr", {}, el("td", { colspan: 6, class: "empty" }, "No jobs match.")));
  body.replaceChildren(...rows);
  $("#prev").disabled = current === 0;
  $("#next").disabled = !next_cursor;
  $("#page-info").textContent =
    "page " +
    (current + 1) +
    " · " +
    result.jobs.length +
    (result.jobs.length === 1 ? " job" : " jobs") +
    " · updated " +
    new Date().toLocaleTimeString();
}

page(() => {
  const chips = $("#filter-states");
  for (const s of job_states)
    chips.append(
      el(
        "label",
        { class: "chip", dataset: { state: s } },
        el("input", { type: "checkbox", name: "state", value: s, onchange: apply }),
        s,
      ),
    );
  read_address();
  fill_form();
  const form = $("#filters");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    apply();
  });
  form.addEventListener("reset", () => setTimeout(apply)); // after the form cleared
  $("#filter-order").addEventListener("change", apply);
  $("#filter-limit").addEventListener("change", apply);
  $("#prev").addEventListener("click", () => {
    if (current === 0) return;
    current -= 1;
    refresh();
  });
  $("#next").addEventListener("click", () => {
    if (!next_cursor) return;
    cursors[current + 1] = next_cursor;
    current += 1;
    refresh();
  });
  refresh = every(2000, load);
  when_token_given(() => refresh());
});
