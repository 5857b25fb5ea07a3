// The dashboard in a real browser: a `weft server` with its HTTP listener
// and a runner process, jobs submitted through the REST API, and Debian's
// Chromium, headless, driven by puppeteer-core.
//
//   node dashboard.test.js WEFT_CLI REMOTE_WORKER ARTIFACTS_DIR
//
// Everything listens on 127.0.0.1 with port 0, every wait has a deadline,
// and every process started here is stopped on the way out, also when a
// check fails or the whole run times out.

"use strict";

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const chromium = "/usr/bin/chromium";
const run_limit_ms = 150_000; // below the CTest TIMEOUT, so cleanup runs
const [weft_cli, remote_worker, artifacts] = process.argv.slice(2).map((a) => path.resolve(a));

const children = [];
let browser = null;
let temp = null;

function log(...args) {
  console.log("[" + new Date().toISOString().slice(11, 23) + "]", ...args);
}

class check_failed extends Error {}

function check(ok, what) {
  if (!ok) throw new check_failed(what);
  log("ok:", what);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// Polls `probe` until it returns something truthy, or fails with `what`.
async function until(what, probe, limit_ms = 20_000, every_ms = 100) {
  const deadline = Date.now() + limit_ms;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await sleep(every_ms);
  }
  throw new check_failed("timed out after " + limit_ms + " ms waiting for " + what);
}

// -- processes -----------------------------------------------------------------

/// Starts a program, keeping what it writes; `lines` fill as it prints.
function start(name, argv) {
  const proc = spawn(argv[0], argv.slice(1), {
    cwd: temp,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const child = { name, proc, out: "", err: "", exited: false };
  proc.stdout.on("data", (d) => (child.out += d));
  proc.stderr.on("data", (d) => (child.err += d));
  proc.on("exit", () => (child.exited = true));
  proc.on("error", (e) => {
    child.exited = true;
    child.err += "cannot start " + argv[0] + ": " + e.message + "\n";
  });
  children.push(child);
  return child;
}

/// The first line of the child's output matching `re`.
function await_line(child, re, limit_ms = 30_000) {
  return until(child.name + " to print " + re, () => {
    if (child.exited)
      throw new check_failed(child.name + " exited early:\n" + child.out + child.err);
    const line = child.out.split("\n").find((l) => re.test(l));
    return line && line.match(re);
  }, limit_ms, 50);
}

async function stop(child) {
  if (child.exited) return;
  child.proc.kill("SIGTERM");
  const deadline = Date.now() + 10_000;
  while (!child.exited && Date.now() < deadline) await sleep(50);
  if (!child.exited) {
    log(child.name, "ignored SIGTERM; killing it");
    child.proc.kill("SIGKILL");
    while (!child.exited) await sleep(50);
  }
}

async function cleanup() {
  if (browser) {
    const b = browser;
    browser = null;
    await Promise.race([b.close().catch(() => {}), sleep(10_000)]);
    const p = b.process();
    if (p && p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  }
  // The runner first: it would keep trying to reach a stopped server.
  for (const child of [...children].reverse()) await stop(child);
  if (temp) fs.rmSync(temp, { recursive: true, force: true });
  temp = null;
}

// Whatever happens, nothing started here outlives the run.
process.on("exit", () => {
  for (const c of children) if (!c.exited) c.proc.kill("SIGKILL");
  if (browser && browser.process()) browser.process().kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"])
  process.on(signal, () => {
    log("got", signal);
    cleanup().finally(() => process.exit(1));
  });

// -- the REST API --------------------------------------------------------------

let base = "";

async function rest(method, route, body) {
  const res = await fetch(base + route, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new check_failed(method + " " + route + " answered " + res.status + ": " + text);
  return text ? JSON.parse(text) : null;
}

function submit(name, parts, steps, step_ms) {
  return rest("POST", "/api/v1/jobs", {
    name,
    roots: [{ task: "Parts@v1.0", input: { parts, steps, step_ms } }],
  });
}

// -- the checks ----------------------------------------------------------------

const completed_fill = "#4ac26b"; // COMPUTED in runtime/src/render.cpp
const running_fill = "#54aeff";

/// The fill of every task node of the graph on the page.
function graph_fills(page) {
  return page.$$eval("#graph svg g.node.task", (nodes) =>
    nodes.map((n) => {
      const shape = n.querySelector("path[fill], polygon[fill], ellipse[fill]");
      return shape ? shape.getAttribute("fill").toLowerCase() : "";
    }),
  );
}

const text_of = (page, selector) =>
  page.$eval(selector, (e) => e.textContent.trim()).catch(() => "");

async function watch_progress(page, id, name) {
  log("job page of the progress job", id);
  await page.goto(base + "/jobs/" + id, { waitUntil: "domcontentloaded" });
  await until("the job's name on its page", async () => (await text_of(page, "#job-name")) === name);
  check(
    (await page.$("#injected")) === null,
    "the job name is shown as text, not markup: " + JSON.stringify(name),
  );

  // The overall bar, sampled until it reaches 100 %.
  const seen = [];
  const fills_seen = new Set();
  await until(
    "the overall bar at 100 %",
    async () => {
      const p = await page.$eval("#overall-bar", (b) => b.dataset.percent);
      if (p !== "" && (seen.length === 0 || seen[seen.length - 1] !== p)) seen.push(p);
      for (const f of await graph_fills(page)) fills_seen.add(f);
      return p !== "" && parseFloat(p) >= 100;
    },
    60_000,
    100,
  );
  log("overall bar went through", seen.join(" → "));
  const between = seen.map(parseFloat).filter((p) => p > 0 && p < 100);
  check(between.length >= 2, "the bar showed the job part way (" + between.length + " values between 0 and 100)");
  const shown = seen.map(parseFloat);
  check(
    shown.every((p, i) => i === 0 || p >= shown[i - 1]),
    "the bar never went back: " + seen.join(" → "),
  );
  check(fills_seen.has(running_fill), "the graph showed a RUNNING task while the job ran");

  await until("the job page to say COMPLETED", async () => (await text_of(page, "#job-state")) === "COMPLETED");
  check(
    (await page.$eval("#overall-percent", (e) => e.textContent)).startsWith("100.0"),
    "the overall figure reads 100.0 %",
  );
  const fills = await until(
    "every task of the graph in the COMPUTED colour",
    async () => {
      const f = await graph_fills(page);
      return f.length === 5 && f.every((x) => x === completed_fill) && f;
    },
    15_000,
  );
  check(fills.length === 5, "the graph has the root and its 4 parts, all green");
  await until(
    "the update stream closed after done",
    async () => (await page.$eval("#stream-status", (e) => e.dataset.stream)) === "done",
    10_000,
  );
  check(true, "the update stream ended with done and the page closed it");

  const items = await page.$$eval("#items .item", (rows) =>
    rows.map((r) => [r.querySelector(".label").textContent, r.querySelector(".bar").dataset.percent]),
  );
  log("items", JSON.stringify(items));
  check(items.length === 5, "one bar per item (the root and its 4 parts)");
  check(items.every(([, p]) => p === "100.0"), "every item at 100 %");
  const indicators = await page.$$eval("#indicators .indicator", (rows) =>
    rows.map((r) => [r.dataset.label, r.querySelector(".figure").textContent]),
  );
  check(
    indicators.length === 1 && indicators[0][0] === "steps" && indicators[0][1] === "160 / 160",
    "the steps indicator reads 160 / 160 (" + JSON.stringify(indicators) + ")",
  );

  // The tasks, and the log of a part once opened.
  await until("5 tasks listed", async () => (await page.$$("#tasks details.task")).length === 5);
  const states = await page.$$eval("#tasks details.task", (ds) => ds.map((d) => d.dataset.state));
  check(states.every((s) => s === "COMPUTED"), "every task listed COMPUTED");
  await page.click('#tasks details.task[data-index="1"] > summary');
  const logged = await until("the log of task 1", () =>
    page.$eval('#tasks details.task[data-index="1"]', (d) =>
      [...d.querySelectorAll(".logs td")].some((td) => td.textContent === "counted"),
    ),
  );
  check(logged, "the log line of an attempt shows in the task list");
  check(
    await page.$eval("#cancel", (b) => b.disabled),
    "Cancel is disabled once the job completed",
  );

  fs.mkdirSync(artifacts, { recursive: true });
  const shot = path.join(artifacts, "job-page.png");
  await page.screenshot({ path: shot, fullPage: true });
  check(fs.statSync(shot).size > 10_000, "a screenshot of the job page at " + shot);
}

async function cancel_job(page, id) {
  log("job page of the long job", id);
  await page.goto(base + "/jobs/" + id, { waitUntil: "domcontentloaded" });
  await until("the long job RUNNING", async () => (await text_of(page, "#job-state")) === "RUNNING", 20_000);
  await until("Cancel enabled", () => page.$eval("#cancel", (b) => !b.disabled));
  await page.click("#cancel");
  await until("the job page to say CANCELED", async () => (await text_of(page, "#job-state")) === "CANCELED", 20_000);
  check(true, "Cancel made the job CANCELED");
  const note = await text_of(page, "#action-result");
  check(/^Canceled \d+ queued task/.test(note), "the page says what was canceled: " + JSON.stringify(note));
  await until(
    "the stream's done once the running tasks finished",
    async () => (await page.$eval("#stream-status", (e) => e.dataset.stream)) === "done",
    20_000,
  );
  check(await page.$eval("#retry", (b) => !b.disabled), "Retry is offered for the canceled job");
  check(await page.$eval("#cancel", (b) => b.disabled), "Cancel is not offered any more");
  const fills = await until("the graph with canceled tasks", async () => {
    const f = await graph_fills(page);
    return f.includes("#eac54f") && !f.includes(running_fill) && f;
  });
  check(fills.length > 10, "the graph shows the canceled tasks (" + fills.length + " nodes)");
  const job = await rest("GET", "/api/v1/jobs/" + id);
  check(job.state === "CANCELED" && job.running === 0, "the API agrees: CANCELED, nothing running");
  await page.screenshot({ path: path.join(artifacts, "job-canceled.png"), fullPage: true });

  // Retry requeues the canceled tasks and the page follows the job again
  // on a new stream; a second Cancel ends it.
  await page.click("#retry");
  await until("the retried job RUNNING", async () => (await text_of(page, "#job-state")) === "RUNNING", 20_000);
  const requeued = await text_of(page, "#action-result");
  check(/^Requeued \d+ tasks/.test(requeued), "the page says what was requeued: " + JSON.stringify(requeued));
  await until(
    "a new update stream",
    async () => (await page.$eval("#stream-status", (e) => e.dataset.stream)) === "live",
    10_000,
  );
  await until("Cancel enabled again", () => page.$eval("#cancel", (b) => !b.disabled));
  await page.click("#cancel");
  await until(
    "CANCELED again, and the stream done",
    async () =>
      (await text_of(page, "#job-state")) === "CANCELED" &&
      (await page.$eval("#stream-status", (e) => e.dataset.stream)) === "done",
    20_000,
  );
  check(true, "Retry ran the job again and Cancel stopped it again");
}

async function jobs_list(page, done_id, canceled_id) {
  await page.goto(base + "/", { waitUntil: "domcontentloaded" });
  const rows = () =>
    page.$$eval("#jobs tbody tr.job-row", (trs) =>
      trs.map((tr) => ({
        id: tr.dataset.jobId,
        state: tr.dataset.state,
        href: tr.querySelector("a.job-link").getAttribute("href"),
        name: tr.querySelector("a.job-link").textContent,
      })),
    );
  const both = await until("both jobs in the list", async () => {
    const r = await rows();
    return r.length === 2 && r;
  });
  check(both[0].id === canceled_id && both[1].id === done_id, "newest first: the long job, then the first");
  check(both[0].state === "CANCELED" && both[1].state === "COMPLETED", "their states: CANCELED, COMPLETED");
  check(both.every((r) => r.href === "/jobs/" + r.id), "each row links to its job page");
  check((await page.$("#injected")) === null, "the list shows the job name as text");

  // Filters and paging go through the API's query.
  await page.click('#filter-states input[value="CANCELED"]');
  await until("only the canceled job", async () => {
    const r = await rows();
    return r.length === 1 && r[0].id === canceled_id;
  });
  check(new URL(page.url()).searchParams.get("state") === "CANCELED", "the filter is in the address");
  await page.click('#filter-states input[value="CANCELED"]');
  await until("both jobs again without the filter", async () => (await rows()).length === 2);
  await page.goto(base + "/?limit=1", { waitUntil: "domcontentloaded" });
  await until("a page of one job", async () => {
    const r = await rows();
    return r.length === 1 && r[0].id === canceled_id;
  });
  await until("Next enabled", () => page.$eval("#next", (b) => !b.disabled));
  await page.click("#next");
  await until("the second page", async () => {
    const r = await rows();
    return r.length === 1 && r[0].id === done_id;
  });
  check(true, "paging with limit=1 and next_cursor shows the older job on page 2");
  await page.click("#prev");
  await until("back on the first page", async () => {
    const r = await rows();
    return r.length === 1 && r[0].id === canceled_id;
  });
  check(true, "Previous goes back to the first page");
  await page.screenshot({ path: path.join(artifacts, "jobs-list.png"), fullPage: true });

  await page.click('#jobs tr.job-row a.job-link');
  await page.waitForFunction(
    (id) => location.pathname === "/jobs/" + id && document.querySelector("#job-state").textContent === "CANCELED",
    { timeout: 10_000 },
    canceled_id,
  );
  check(true, "a row's link opens its job page");
}

async function clusters(page) {
  await page.goto(base + "/clusters", { waitUntil: "domcontentloaded" });
  const runner = await until("the runner on the clusters page", () =>
    page
      .$eval('.cluster[data-name="default"] tr.runner[data-name="browser-runner"]', (tr) => ({
        slots: tr.querySelector(".slots").textContent,
        tasks: [...tr.querySelectorAll(".tag")].map((t) => t.textContent),
      }))
      .catch(() => null),
  );
  check(runner.slots === "2", "the default cluster lists the runner with its 2 slots");
  check(runner.tasks.includes("Steps@v1.0"), "and the tasks it serves");
  await page.screenshot({ path: path.join(artifacts, "clusters.png"), fullPage: true });
}

// -- the run -------------------------------------------------------------------

async function main() {
  if (!weft_cli || !remote_worker || !artifacts)
    throw new check_failed("usage: node dashboard.test.js WEFT_CLI REMOTE_WORKER ARTIFACTS_DIR");
  if (!fs.existsSync(chromium))
    throw new check_failed(chromium + " is missing: install Debian's chromium (scripts/install-deps.sh)");
  let puppeteer;
  try {
    puppeteer = require("puppeteer-core");
  } catch (e) {
    throw new check_failed(
      "puppeteer-core is missing: run `PUPPETEER_SKIP_DOWNLOAD=1 npm ci --prefix tests/browser` " +
        "(scripts/install-deps.sh does) (" + e.message + ")",
    );
  }
  temp = fs.mkdtempSync(path.join(os.tmpdir(), "weft-browser-"));

  const server = start("server", [
    weft_cli, "server", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
    "--progress-interval", "200",
  ]);
  const node = await await_line(server, /listening on (127\.0\.0\.1:\d+)/);
  const http = await await_line(server, /dashboard and HTTP API at (http:\/\/127\.0\.0\.1:(\d+))\//);
  check(http[2] !== "0", "the server prints the HTTP port it picked: " + http[1]);
  base = http[1];
  const runner = start("runner", [
    remote_worker, node[1], "--cluster", "default", "--name", "browser-runner", "--slots", "2",
  ]);
  await await_line(runner, /^ready /);
  log("server at", node[1], "dashboard at", base);

  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    userDataDir: path.join(temp, "profile"),
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run"],
    protocolTimeout: 30_000,
    timeout: 30_000,
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.setDefaultTimeout(15_000);
  const page_errors = [];
  const foreign = [];
  page.on("pageerror", (e) => page_errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") log("browser console:", m.text());
  });
  page.on("request", (r) => {
    const url = r.url();
    if (/^https?:/.test(url) && !url.startsWith(base + "/")) foreign.push(url);
  });

  // A job that runs for a few seconds: 4 parts of 40 steps of 100 ms on
  // 2 slots. Its name would be an element if the page took it as markup.
  const name = 'progress <b id="injected">bold</b> & co';
  const first = await submit(name, 4, 40, 100);
  await watch_progress(page, first.id, name);

  // A long job: 60 parts of a second each, canceled from the page.
  const long = await submit("long job", 60, 10, 100);
  await cancel_job(page, long.id);

  await jobs_list(page, first.id, long.id);
  await clusters(page);

  check(page_errors.length === 0, "no script error on any page" + (page_errors.length ? ": " + page_errors.join("; ") : ""));
  check(foreign.length === 0, "nothing fetched from another host" + (foreign.length ? ": " + foreign.join(", ") : ""));
}

const limit = setTimeout(() => {
  console.error("FAIL: the browser test took longer than " + run_limit_ms / 1000 + " s");
  for (const c of children) if (c.out || c.err) console.error("--- " + c.name + "\n" + c.out + c.err);
  cleanup().finally(() => process.exit(1));
}, run_limit_ms);

main()
  .then(
    () => {
      log("PASS");
      return 0;
    },
    (e) => {
      console.error("FAIL:", e instanceof check_failed ? e.message : e.stack || e);
      for (const c of children) if (c.out || c.err) console.error("--- " + c.name + "\n" + c.out + c.err);
      return 1;
    },
  )
  .then(async (code) => {
    await cleanup();
    clearTimeout(limit);
    process.exit(code);
  });
