// A job's page (/jobs/ID): its state and figures live from the update
// stream (Server-Sent Events), the task graph and the tasks refreshed while
// it runs, and Cancel and Retry.

import {
  $,
  api,
  bar,
  counts,
  duration,
  el,
  events_url,
  is_final,
  local_time,
  page,
  percent_text,
  set_text,
  show_error,
  state_badge,
  task_states,
  update_bar,
  when_token_given,
} from "./app.js";

const id = decodeURIComponent(location.pathname.split("/")[2] || "");
const job_path = "/api/v1/jobs/" + encodeURIComponent(id);

// Items and tasks drawn at most; the rest is counted.
const max_items = 100;
const max_tasks = 500;

let state = "";
let running = 0; // tasks of the job still running, as last fetched
let stream = null;
let stream_done = false;
let busy = false; // a cancel or retry in flight
let job_seq = 0;
let job_applied = 0;
let details_timer = null;
let details_running = false;
let details_again = false;
let last_details = 0;
let graph_text = "";
let tasks_text = "";
let tasks = [];
const open_tasks = new Set();

// -- the job -------------------------------------------------------------------

function render_state(s) {
  if (!s) return;
  state = s;
  const badge = $("#job-state");
  badge.textContent = s;
  badge.dataset.state = s;
  $("#job").dataset.state = s;
  $("#overall-bar").dataset.state = s;
  document.title = ($("#job-name").textContent || "Job") + " · " + s + " · weft";
  render_buttons();
}

function render_buttons() {
  $("#cancel").disabled = busy || !state || is_final(state);
  $("#retry").disabled = busy || !(state === "FAILED" || state === "CANCELED");
}

function render_counts(by_state, total) {
  const box = counts(by_state, task_states);
  box.id = "task-counts";
  box.style.marginTop = "0.75rem";
  box.prepend(el("span", { class: "muted small" }, total + (total === 1 ? " task:" : " tasks:")));
  $("#task-counts").replaceWith(box);
}

/// The job as GET /api/v1/jobs/ID (and the stream's done event) give it.
function render_job(job) {
  set_text($("#job-name"), job.name);
  set_text($("#job-id"), job.id);
  set_text($("#job-cluster"), job.cluster);
  set_text($("#job-submitted"), local_time(job.submitted_at), job.submitted_at);
  const stats = job.stats || {};
  set_text($("#job-elapsed"), stats.elapsed_seconds ? duration(stats.elapsed_seconds) : "–");
  set_text($("#job-compute"), stats.compute_seconds ? duration(stats.compute_seconds) : "–");
  set_text($("#job-parallelism"), stats.parallelism ? stats.parallelism.toFixed(2) : "–");
  running = job.running ?? 0;
  set_text($("#job-running"), String(running));
  render_state(job.state);
  render_counts(stats.tasks_by_state, stats.total_tasks ?? 0);
  render_indicators(job.progress || []);
}

async function load_job() {
  const mine = ++job_seq;
  const job = await api(job_path);
  if (mine < job_applied) return job; // an answer to a later request was drawn
  job_applied = mine;
  render_job(job);
  return job;
}

// -- progress ------------------------------------------------------------------

function meter_row(cls, key, label, percent, figure, item_state) {
  return el(
    "div",
    { class: "meter-row " + cls, dataset: { [cls === "item" ? "task" : "label"]: key } },
    el("span", { class: "label", title: label }, label),
    bar(percent, { state: item_state }),
    el("span", { class: "figure" }, figure),
  );
}

function render_indicators(progress) {
  const rows = progress.map((p) =>
    meter_row(
      "indicator",
      p.label,
      p.label || "(unnamed)",
      p.total > 0 ? (100 * p.done) / p.total : null,
      p.done + " / " + p.total,
      state,
    ),
  );
  if (rows.length === 0) rows.push(el("p", { class: "muted small" }, "No progress indicators."));
  $("#indicators").replaceChildren(...rows);
}

/// Items come as {task, label, state, percent} in state events and as
/// {item, task, state, progress} in execution_progress events.
function render_items(items) {
  const rows = items.slice(0, max_items).map((i) => {
    const percent = i.percent ?? i.progress ?? null;
    const label = i.label ?? i.item ?? "";
    // An item is its task and everything below it: a computed root whose
    // subtasks still run is not done.
    const colour = i.state === "COMPUTED" && percent !== null && percent < 100 ? "RUNNING" : i.state;
    return meter_row("item", String(i.task), label, percent, percent_text(percent), colour);
  });
  if (items.length > max_items)
    rows.push(el("p", { class: "muted small" }, "and " + (items.length - max_items) + " more"));
  if (rows.length === 0) rows.push(el("p", { class: "muted small" }, "No items yet."));
  $("#items").replaceChildren(...rows);
}

const estimates = {
  learned: "estimated from learned task durations",
  indicators: "from the progress indicators",
  completed: "",
  none: "no estimate yet",
};

function render_overall(percent, eta, estimate) {
  const p = percent ?? null;
  update_bar($("#overall-bar"), p, state);
  set_text($("#overall-percent"), percent_text(p));
  let eta_text = "";
  if (!is_final(state) && eta !== null && eta !== undefined) eta_text = "ETA " + duration(eta);
  set_text($("#overall-eta"), eta_text);
  set_text($("#overall-estimate"), estimates[estimate] ?? "");
}

/// A `state` event: the update (id, name, state, progress, total_tasks,
/// tasks_by_state, percent, eta_seconds, estimate, items, final).
function on_state(u) {
  render_state(u.state);
  render_counts(u.tasks_by_state, u.total_tasks);
  render_indicators(u.progress || []);
  render_overall(u.percent, u.eta_seconds, u.estimate);
  render_items(u.items || []);
  details_soon();
}

/// An `execution_progress` event: progress_combined and progress_per_item
/// with the update's fields.
function on_progress(u) {
  render_state(u.state);
  render_counts(u.tasks_by_state, u.total_tasks);
  render_indicators(u.progress || []);
  render_overall(u.progress_combined, u.eta_seconds, u.estimate);
  render_items(u.progress_per_item || []);
}

// -- the update stream ---------------------------------------------------------

function stream_status(what, text) {
  const s = $("#stream-status");
  s.dataset.stream = what;
  s.textContent = text;
}

function open_stream() {
  if (stream) stream.close();
  stream_done = false;
  stream_status("connecting", "connecting…");
  const es = new EventSource(events_url(id));
  stream = es;
  es.addEventListener("open", () => stream_status("live", "live"));
  es.addEventListener("state", (ev) => on_state(JSON.parse(ev.data)));
  es.addEventListener("execution_progress", (ev) => on_progress(JSON.parse(ev.data)));
  es.addEventListener("done", (ev) => {
    // The server closes the stream after this: closing it here keeps the
    // browser from connecting again.
    es.close();
    if (stream === es) stream = null;
    stream_done = true;
    stream_status("done", "finished");
    const job = JSON.parse(ev.data);
    render_job(job);
    if (job.state === "COMPLETED") render_overall(100, 0, "completed");
    details_now();
  });
  es.addEventListener("error", () => {
    if (stream !== es) return;
    if (es.readyState !== EventSource.CLOSED) {
      stream_status("reconnecting", "reconnecting…");
      return;
    }
    // Refused (a token, an unknown job, too many streams): the API says why.
    stream = null;
    stream_status("closed", "disconnected");
    load_job().then(
      () => setTimeout(() => !stream && !stream_done && open_stream(), 5000),
      (e) => {
        show_error(e);
        if (e.status !== 401 && e.status !== 404) setTimeout(() => !stream && open_stream(), 5000);
      },
    );
  });
}

// -- graph and tasks -----------------------------------------------------------

async function load_graph() {
  const text = await api(job_path + "/graph.svg", { as_text: true });
  if (text === graph_text) return;
  // The picture is Graphviz's, drawn by the server: parsed as SVG and
  // adopted whole.
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = doc.documentElement;
  if (!svg || svg.nodeName !== "svg") throw new Error("the graph is not SVG");
  graph_text = text;
  $("#graph").replaceChildren(document.importNode(svg, true));
}

function when(iso) {
  return iso ? el("span", { title: iso }, local_time(iso)) : "–";
}

function seconds_between(a, b) {
  if (!a) return null;
  const end = b ? new Date(b) : new Date();
  return (end - new Date(a)) / 1000;
}

function json_block(value) {
  return el("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

function attempt_view(a) {
  const s = a.succeeded ? "COMPUTED" : a.stopped_at ? "FAILED" : "RUNNING";
  const logs = (a.logs || []).map((l) =>
    el(
      "tr",
      { class: "level-" + String(l.level || "") },
      el("td", { class: "mono", title: l.time }, local_time(l.time)),
      el("td", {}, l.level),
      el("td", { class: "name" }, l.message),
      el(
        "td",
        { class: "mono" },
        l.fields && Object.keys(l.fields).length ? JSON.stringify(l.fields) : "",
      ),
    ),
  );
  const spans = (a.spans || []).map((sp) =>
    el(
      "li",
      {},
      el("span", {}, sp.name),
      " ",
      el("span", { class: "muted" }, duration(seconds_between(sp.start, sp.end))),
      sp.attributes && Object.keys(sp.attributes).length
        ? el("span", { class: "mono muted" }, " " + JSON.stringify(sp.attributes))
        : null,
    ),
  );
  return el(
    "div",
    { class: "attempt", dataset: { state: s, attempt: a.attempt } },
    el(
      "div",
      {},
      el("strong", {}, "Attempt " + a.attempt),
      " on ",
      el("span", { class: "mono" }, a.runner || "?"),
      " · ",
      when(a.started_at),
      " · ",
      duration(seconds_between(a.started_at, a.stopped_at)),
      " · ",
      a.succeeded ? "succeeded" : el("span", { class: "error" }, "failed"),
    ),
    a.error ? el("pre", { class: "error" }, a.error) : null,
    logs.length
      ? el(
          "div",
          { class: "table-wrap" },
          el("table", { class: "logs" }, el("tbody", {}, logs)),
        )
      : el("p", { class: "muted small" }, "No log lines."),
    spans.length ? el("ul", { class: "small" }, spans) : null,
  );
}

function task_view(t) {
  const d = el(
    "details",
    { class: "task", dataset: { index: t.index, state: t.state } },
    el(
      "summary",
      {},
      el("span", { class: "idx cell" }, String(t.index)),
      el("span", { class: "cell wide mono", title: t.task }, t.task),
      el("span", { class: "cell", title: t.display }, t.display),
      el("span", { class: "cell" }, state_badge(t.state)),
      el(
        "span",
        { class: "cell wide" },
        String(t.attempts) + (t.retries_used ? " (" + t.retries_used + " retried)" : ""),
      ),
      el("span", { class: "cell wide" }, duration(seconds_between(t.started_at, t.stopped_at))),
    ),
  );
  if (open_tasks.has(t.index)) {
    d.open = true;
    d.append(task_body(t));
  }
  // Drawn when opened: a job may have many tasks.
  d.addEventListener("toggle", () => {
    if (d.open) {
      open_tasks.add(t.index);
      if (!d.querySelector(".task-body")) d.append(task_body(t));
    } else {
      open_tasks.delete(t.index);
    }
  });
  return d;
}

function task_body(t) {
  const facts = [
    ["cluster", t.cluster],
    ["parent", t.parent === null ? "none (a root)" : "#" + t.parent],
    ["depends on", t.depends_on.length ? t.depends_on.map((i) => "#" + i).join(", ") : "nothing"],
    ["subtasks", String(t.subtasks.length)],
    ["optional", t.optional ? "yes" : "no"],
    ["runner losses", String(t.runner_losses)],
    ["started", t.started_at ? local_time(t.started_at) : "–"],
    ["stopped", t.stopped_at ? local_time(t.stopped_at) : "–"],
  ];
  return el(
    "div",
    { class: "task-body" },
    el(
      "dl",
      { class: "facts" },
      facts.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v))),
    ),
    t.progress.length
      ? el(
          "div",
          { class: "meter", style: "margin-top: 0.75rem" },
          t.progress.map((p) =>
            meter_row(
              "indicator",
              p.label,
              p.label || "(unnamed)",
              p.total > 0 ? (100 * p.done) / p.total : null,
              p.done + " / " + p.total,
              t.state,
            ),
          ),
        )
      : null,
    el("h3", {}, "Input"),
    json_block(t.input),
    el("h3", {}, "Attempts"),
    t.history.length
      ? t.history.map(attempt_view)
      : el("p", { class: "muted small" }, "No attempt has ended yet."),
  );
}

function render_tasks() {
  const filter = $("#task-filter").value;
  const shown = filter ? tasks.filter((t) => t.state === filter) : tasks;
  const views = shown.slice(0, max_tasks).map(task_view);
  if (shown.length > max_tasks)
    views.push(
      el(
        "p",
        { class: "muted small" },
        "Showing the first " + max_tasks + " of " + shown.length + " tasks.",
      ),
    );
  if (views.length === 0) views.push(el("p", { class: "empty" }, "No tasks."));
  $("#tasks").replaceChildren(...views);
  set_text(
    $("#tasks-count"),
    filter ? shown.length + " of " + tasks.length : String(tasks.length),
  );
}

async function load_tasks() {
  const text = await api(job_path + "/tasks", { as_text: true });
  if (text === tasks_text) return;
  tasks_text = text;
  tasks = JSON.parse(text).tasks;
  render_tasks();
}

/// The job, its graph and its tasks, fetched again; while the job runs,
/// every two seconds.
async function refresh_details() {
  if (details_running) {
    details_again = true;
    return;
  }
  details_running = true;
  clearTimeout(details_timer);
  details_timer = null;
  last_details = Date.now();
  try {
    await Promise.all([load_job(), load_graph(), load_tasks()]);
    show_error(null);
  } catch (e) {
    show_error(e);
  } finally {
    details_running = false;
    if (details_again) {
      details_again = false;
      refresh_details();
    } else if (!stream_done && !(is_final(state) && running === 0)) {
      details_timer = setTimeout(refresh_details, 2000);
    }
  }
}

function details_now() {
  refresh_details();
}

/// Soon after a change of state, but not more than twice a second.
function details_soon() {
  if (details_running) {
    details_again = true;
    return;
  }
  const wait = Math.max(0, 500 - (Date.now() - last_details));
  clearTimeout(details_timer);
  details_timer = setTimeout(refresh_details, wait);
}

// -- cancel and retry ----------------------------------------------------------

function note(text, is_error) {
  const box = $("#action-result");
  box.textContent = text;
  box.className = "banner " + (is_error ? "error" : "note");
}

async function act(what) {
  busy = true;
  render_buttons();
  try {
    const r = await api(job_path + "/" + what, { method: "POST" });
    if (what === "cancel")
      note(
        "Canceled " +
          r.canceled +
          (r.canceled === 1 ? " queued task" : " queued tasks") +
          (r.job.running ? "; " + r.job.running + " running will finish." : "."),
      );
    else note("Requeued " + r.requeued + (r.requeued === 1 ? " task." : " tasks."));
    job_applied = ++job_seq;
    render_job(r.job);
    if (what === "retry" && stream_done) open_stream();
    details_now();
  } catch (e) {
    note(e.message, true);
  } finally {
    busy = false;
    render_buttons();
  }
}

// -- the page ------------------------------------------------------------------

async function start() {
  try {
    await load_job();
    show_error(null);
  } catch (e) {
    show_error(e);
    if (e.status === 401) return; // the token form shows; start runs again after it
    if (e.status === 404 || e.status === 400) {
      $("#content").classList.add("hidden");
      $("#error").append(" ", el("a", { href: "/" }, "See the jobs."));
      return;
    }
  }
  open_stream();
  refresh_details();
}

page(() => {
  set_text($("#job-id"), id);
  const filter = $("#task-filter");
  for (const s of task_states) filter.append(el("option", { value: s }, s));
  filter.addEventListener("change", render_tasks);
  $("#cancel").addEventListener("click", () => act("cancel"));
  $("#retry").addEventListener("click", () => act("retry"));
  when_token_given(start);
  start();
});
