// The clusters (/clusters): their runners and slots, the work queued and
// dispatched, and what waits and why. Refreshed every two seconds.

import { $, api, el, every, page, show_error, when_token_given } from "./app.js";

/// Why a cluster's queued work waits, in a sentence.
function waits(c) {
  const slots = c.runners.reduce((n, r) => n + r.slots, 0);
  if (c.unserved.length > 0)
    return el(
      "div",
      { class: "waits unserved" },
      el(
        "div",
        {},
        "Queued tasks wait for a runner that serves " +
          (c.unserved.length === 1 ? "this task:" : "these tasks:"),
      ),
      el(
        "div",
        { class: "tags", style: "margin-top: 0.3rem" },
        c.unserved.map((id) => el("span", { class: "tag unserved-task" }, id)),
      ),
      el(
        "div",
        { class: "muted small", style: "margin-top: 0.3rem" },
        c.runners.length
          ? "No runner of this cluster registered them (or a compatible version)."
          : "No runner has joined this cluster.",
      ),
    );
  if (c.queued > 0 && c.runners.length === 0)
    return el("div", { class: "waits" }, "Work is queued but no runner has joined this cluster.");
  if (c.queued > 0)
    return el(
      "div",
      { class: "waits" },
      c.queued +
        (c.queued === 1 ? " task waits" : " tasks wait") +
        " for a free slot (" +
        c.dispatched +
        " of " +
        slots +
        " slots busy).",
    );
  return el(
    "div",
    { class: "waits ok" },
    c.runners.length ? "Nothing waits." : "Nothing waits; no runner has joined.",
  );
}

function cluster_view(c) {
  const slots = c.runners.reduce((n, r) => n + r.slots, 0);
  const figure = (n, label, cls) =>
    el("div", { class: cls }, el("div", { class: "n" }, String(n)), el("div", { class: "muted small" }, label));
  const runners = c.runners.map((r) =>
    el(
      "tr",
      { class: "runner", dataset: { name: r.name } },
      el("td", { class: "mono name" }, r.name),
      el("td", { class: "num slots" }, String(r.slots)),
      el(
        "td",
        {},
        el(
          "div",
          { class: "tags" },
          r.tasks.map((t) => el("span", { class: "tag" }, t)),
        ),
      ),
    ),
  );
  return el(
    "section",
    { class: "card cluster", dataset: { name: c.name } },
    el("h2", {}, c.name),
    el(
      "div",
      { class: "figures" },
      figure(c.runners.length, c.runners.length === 1 ? "runner" : "runners", "runners"),
      figure(slots, "slots", "slots"),
      figure(c.queued, "queued", "queued"),
      figure(c.dispatched, "dispatched", "dispatched"),
    ),
    runners.length
      ? el(
          "div",
          { class: "table-wrap" },
          el(
            "table",
            {},
            el(
              "thead",
              {},
              el("tr", {}, el("th", {}, "Runner"), el("th", { class: "num" }, "Slots"), el("th", {}, "Serves")),
            ),
            el("tbody", {}, runners),
          ),
        )
      : null,
    waits(c),
  );
}

async function load() {
  let result;
  try {
    result = await api("/api/v1/clusters");
    show_error(null);
  } catch (e) {
    show_error(e);
    return;
  }
  const views = result.clusters.map(cluster_view);
  if (views.length === 0) views.push(el("p", { class: "muted" }, "No clusters."));
  $("#clusters").replaceChildren(...views);
  $("#updated").textContent = "updated " + new Date().toLocaleTimeString();
}

page(() => {
  const refresh = every(2000, load);
  when_token_given(() => refresh());
});
