// Metrics: the text an orchestrator's scrape returns is valid exposition
// format (0.0.4) as a Prometheus server parses it, and its counters,
// gauges and histograms follow the jobs that ran.

#include "weft/actors/client_internal.hpp"
#include "weft/actors/metrics.hpp"
#include "weft/actors/node.hpp"
#include "weft/actors/runner_actor.hpp"
#include "weft/weft.hpp"

#include "exposition.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

#include <caf/all.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using weft::test::temp_dir;
using weft::test::wait_until;

namespace {

using namespace weft::test::exposition;

} // namespace

// -- tasks --------------------------------------------------------------------

namespace {

std::mutex failed_once_mtx;
std::set<std::string> failed_once; // task ids that failed once

} // namespace

struct metrics_leaf {
  int i = 0;
  void execute(weft::context&) const {
  }
};
BOOST_DESCRIBE_STRUCT(metrics_leaf, (), (i))

/// Fails its first attempt.
struct metrics_flaky {
  void execute(weft::context& ctx) const {
    std::lock_guard<std::mutex> guard{failed_once_mtx};
    if (failed_once.insert(ctx.current_task().id).second)
      throw std::runtime_error("first attempt fails");
  }
};
BOOST_DESCRIBE_STRUCT(metrics_flaky, (), ())

struct metrics_failing {
  void execute(weft::context&) const {
    throw std::runtime_error("always fails");
  }
};
BOOST_DESCRIBE_STRUCT(metrics_failing, (), ())

/// Three leaves, a task that succeeds on its retry, and an optional one
/// that fails: the job completes.
struct metrics_root {
  void execute(weft::context& ctx) const {
    for (int i = 0; i < 3; ++i)
      ctx.submit_subtask(metrics_leaf{i});
    ctx.submit_subtask(metrics_flaky{}, {.max_retries = 1});
    ctx.submit_subtask(metrics_failing{}, {.optional = true});
  }
};
BOOST_DESCRIBE_STRUCT(metrics_root, (), ())

namespace {

std::atomic<int> blocked{0};
std::shared_future<void> unblock;

} // namespace

/// Holds its slot until the test lets it go.
struct metrics_blocking {
  int i = 0;
  void execute(weft::context&) const {
    ++blocked;
    unblock.wait();
  }
};
BOOST_DESCRIBE_STRUCT(metrics_blocking, (), (i))

struct metrics_blocking_root {
  void execute(weft::context& ctx) const {
    for (int i = 0; i < 3; ++i)
      ctx.submit_subtask(metrics_blocking{i});
  }
};
BOOST_DESCRIBE_STRUCT(metrics_blocking_root, (), ())

namespace {

std::mutex victim_mtx;
std::string victim; // the runner that ran the first attempt
std::atomic<bool> stuck_reached{false};
std::atomic<bool> stuck_first{true};
std::shared_future<void> stuck_release;

} // namespace

/// Its first attempt never ends (its runner is killed meanwhile).
struct metrics_stuck_once {
  void execute(weft::context& ctx) const {
    if (stuck_first.exchange(false)) {
      {
        std::lock_guard<std::mutex> guard{victim_mtx};
        victim = ctx.current_task().runner;
      }
      stuck_reached = true;
      stuck_release.wait();
    }
  }
};
BOOST_DESCRIBE_STRUCT(metrics_stuck_once, (), ())

struct metrics_lose_root {
  void execute(weft::context& ctx) const {
    ctx.submit_subtask(metrics_stuck_once{});
  }
};
BOOST_DESCRIBE_STRUCT(metrics_lose_root, (), ())

// -- an orchestrator the test can scrape --------------------------------------

namespace {

/// An orchestrator booted as `local_cluster` and `weft::server` boot
/// theirs, with runners, in an actor system of its own.
struct node {
  std::shared_ptr<weft::owned_system> own = weft::make_system(4, nullptr);
  std::shared_ptr<weft::cache_store> cache = weft::make_in_memory_cache();
  weft::orchestrator orch;
  std::vector<weft::runner> runners;

  explicit node(weft::orchestrator_options opts = {}) {
    weft::orchestrator_config cfg;
    cfg.options = opts;
    cfg.cache = cache;
    orch.boot(*own->sys, opts.data_dir, opts.fsync, cfg);
  }

  ~node() {
    for (auto& r : runners)
      r.stop();
    runners.clear();
    orch.shutdown();
    own.reset();
  }

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  template <class... Ts>
  weft::runner& add_runner(uint32_t slots) {
    runners.push_back(weft::make_runner(*own->sys, orch.service,
                                        weft::runner_options{.slots = slots},
                                        cache, own));
    runners.back().register_tasks<Ts...>();
    runners.back().start();
    return runners.back();
  }

  weft::job_client jobs() {
    auto client = weft::job_client_access::make(
      std::make_shared<weft::job_client::impl>(*own->sys, orch.service, own));
    client.set_cache(cache);
    return client;
  }

  scrape metrics() {
    return parsed(weft::scrape_metrics(orch, 5s));
  }
};

uint64_t attempts_of(weft::job_client jobs, const std::string& id) {
  uint64_t n = 0;
  for (const auto& t : jobs.tasks(id))
    n += t.attempts;
  return n;
}

const labels in_default{{"cluster", "default"}};

labels tasks_in(const std::string& state) {
  return {{"cluster", "default"}, {"state", state}};
}

} // namespace

// -- the registry on its own --------------------------------------------------

TEST_CASE("metrics: an empty registry is exposition format with every "
          "family") {
  weft::metrics m;
  auto x = parsed(m.render({}, std::nullopt));
  for (std::string name :
       {"weft_jobs_finished_total", "weft_jobs_live",
        "weft_tasks_finished_total", "weft_attempts_requeued_total",
        "weft_task_duration_seconds", "weft_dispatch_latency_seconds",
        "weft_tasks_queued", "weft_tasks_running", "weft_runners_connected",
        "weft_runner_slots", "weft_journal_writes_total",
        "weft_journal_syncs_total", "weft_journal_sync_seconds",
        "weft_process_resident_memory_bytes"}) {
    INFO(name);
    CHECK(x.has(name));
    CHECK_FALSE(x.get(name).help.empty());
  }
  CHECK(x.get("weft_jobs_finished_total").type == "counter");
  CHECK(x.get("weft_jobs_live").type == "gauge");
  CHECK(x.get("weft_journal_sync_seconds").type == "histogram");
  CHECK(x.at("weft_jobs_finished_total", {{"state", "completed"}}) == 0);
  CHECK(x.at("weft_jobs_finished_total", {{"state", "failed"}}) == 0);
  CHECK(x.at("weft_jobs_finished_total", {{"state", "canceled"}}) == 0);
  CHECK(x.at("weft_journal_sync_seconds_count") == 0);
  CHECK(x.at("weft_journal_sync_seconds_bucket", {{"le", "+Inf"}}) == 0);
}

TEST_CASE("metrics: label values are escaped and histogram buckets are "
          "cumulative") {
  weft::metrics m;
  const std::string odd = "a\\b\"c\nd";
  auto& c = m.cluster(odd);
  CHECK(&c == &m.cluster(odd)); // one block per name
  c.tasks_entered[static_cast<size_t>(weft::task_state::computed)] += 3;
  c.task_duration.observe(0);       // first bucket
  c.task_duration.observe(100'000); // exactly 100 µs: le is inclusive
  c.task_duration.observe(150'000); // (100 µs, 250 µs]
  c.task_duration.observe(-5);      // clocks apart: zero
  c.task_duration.observe(7200 * 1'000'000'000LL); // beyond an hour
  CHECK(weft::escape_label_value(odd) == "a\\\\b\\\"c\\nd");
  auto text = m.render({weft::cluster_gauges{odd, 4, 2, 1, 8}}, 12345);
  auto x = parsed(text);
  labels mine{{"cluster", odd}};
  CHECK(
    x.at("weft_tasks_finished_total", {{"cluster", odd}, {"state", "computed"}})
    == 3);
  CHECK(x.at("weft_tasks_finished_total",
             {{"cluster", odd}, {"state", "failed_optional"}})
        == 0);
  CHECK(x.at("weft_tasks_queued", mine) == 4);
  CHECK(x.at("weft_tasks_running", mine) == 2);
  CHECK(x.at("weft_runners_connected", mine) == 1);
  CHECK(x.at("weft_runner_slots", mine) == 8);
  CHECK(x.at("weft_process_resident_memory_bytes") == 12345);
  auto bucket = [&](const std::string& le) {
    return x.at("weft_task_duration_seconds_bucket",
                {{"cluster", odd}, {"le", le}});
  };
  CHECK(bucket("0.0001") == 3);
  CHECK(bucket("0.00025") == 4);
  CHECK(bucket("3600") == 4);
  CHECK(bucket("+Inf") == 5);
  CHECK(x.at("weft_task_duration_seconds_count", mine) == 5);
  CHECK(x.at("weft_task_duration_seconds_sum", mine)
        == Approx(7200.00025).epsilon(1e-12));
  // The dispatch latencies of the same cluster are there too, empty.
  CHECK(x.at("weft_dispatch_latency_seconds_count", mine) == 0);
}

TEST_CASE("metrics: the test's parser refuses what Prometheus refuses") {
  auto refused = [](const std::string& text) {
    try {
      scrape{text};
      return false;
    } catch (const std::runtime_error&) {
      return true;
    }
  };
  CHECK_FALSE(refused("# HELP a_total A.\n# TYPE a_total counter\n"
                      "a_total{x=\"1\"} 2\n"));
  CHECK(refused("a_total 1\n"));                                     // no TYPE
  CHECK(refused("# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n")); // split
  CHECK(refused("# TYPE a gauge\na{x=\"\\q\"} 1\n"));                // escape
  CHECK(refused("# TYPE a gauge\na 1\na 2\n"));                      // twice
  CHECK(refused("# TYPE a gauge\na 1")); // no newline
  CHECK(refused("# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
                "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"));
  CHECK(refused("# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
                "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n"));
  CHECK(refused("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\n"
                "h_count 1\n")); // no +Inf
}

// -- an orchestrator's metrics ------------------------------------------------

TEST_CASE("metrics: a scrape counts the jobs, tasks, attempts and journal "
          "writes that ran") {
  temp_dir dir;
  weft::orchestrator_options opts;
  opts.data_dir = dir.path;
  opts.fsync = true;
  node n{opts};
  auto before = n.metrics();
  CHECK(before.at("weft_jobs_finished_total", {{"state", "completed"}}) == 0);
  n.add_runner<metrics_root, metrics_leaf, metrics_flaky, metrics_failing>(2);
  auto jobs = n.jobs();
  auto ok = jobs.submit("metrics-ok", metrics_root{});
  auto bad = jobs.submit("metrics-bad", metrics_failing{});
  REQUIRE(jobs.wait(ok.id, 30s).state == weft::job_state::completed);
  REQUIRE(jobs.wait(bad.id, 30s).state == weft::job_state::failed);
  auto attempts = attempts_of(jobs, ok.id) + attempts_of(jobs, bad.id);
  CHECK(attempts == 8); // 7 tasks, one of them twice

  // The clusters settle their dispatches once the jobs told them.
  std::optional<scrape> after;
  CHECK(wait_until(
    [&] {
      after.emplace(n.metrics());
      return after->at("weft_tasks_running", in_default) == 0
             && after->at("weft_tasks_queued", in_default) == 0;
    },
    10s));
  auto& x = *after;
  CHECK(x.at("weft_jobs_finished_total", {{"state", "completed"}}) == 1);
  CHECK(x.at("weft_jobs_finished_total", {{"state", "failed"}}) == 1);
  CHECK(x.at("weft_jobs_finished_total", {{"state", "canceled"}}) == 0);
  // The root, three leaves and the retried task; the optional one; the
  // failing root.
  CHECK(x.at("weft_tasks_finished_total", tasks_in("computed")) == 5);
  CHECK(x.at("weft_tasks_finished_total", tasks_in("failed_optional")) == 1);
  CHECK(x.at("weft_tasks_finished_total", tasks_in("failed")) == 1);
  CHECK(x.at("weft_tasks_finished_total", tasks_in("canceled")) == 0);
  CHECK(x.at("weft_tasks_finished_total", tasks_in("skipped")) == 0);
  CHECK(x.at("weft_task_duration_seconds_count", in_default) == attempts);
  CHECK(x.at("weft_dispatch_latency_seconds_count", in_default) == attempts);
  CHECK(x.at("weft_attempts_requeued_total", in_default) == 0);
  CHECK(x.at("weft_runners_connected", in_default) == 1);
  CHECK(x.at("weft_runner_slots", in_default) == 2);
  // Submissions and completions are synced; each synced write is timed.
  auto syncs = x.at("weft_journal_syncs_total");
  CHECK(syncs > 0);
  CHECK(x.at("weft_journal_writes_total") >= syncs);
  CHECK(x.at("weft_journal_sync_seconds_count") == syncs);
  CHECK(x.at("weft_process_resident_memory_bytes") > 0);
  CHECK(x.at("weft_jobs_live") >= 0);
}

TEST_CASE("metrics: without a data directory nothing is journaled") {
  node n;
  n.add_runner<metrics_leaf>(1);
  auto jobs = n.jobs();
  auto job = jobs.submit("metrics-leaf", metrics_leaf{});
  REQUIRE(jobs.wait(job.id, 30s).state == weft::job_state::completed);
  auto x = n.metrics();
  CHECK(x.at("weft_jobs_finished_total", {{"state", "completed"}}) == 1);
  CHECK(x.at("weft_tasks_finished_total", tasks_in("computed")) == 1);
  CHECK(x.at("weft_journal_writes_total") == 0);
  CHECK(x.at("weft_journal_syncs_total") == 0);
}

TEST_CASE("metrics: the gauges show work queued and running while it runs") {
  node n;
  // Declared after the node, so that it lets the task go (broken, if the
  // test stops early) before the node waits for its runner.
  std::promise<void> gate;
  unblock = gate.get_future().share();
  blocked = 0;
  n.add_runner<metrics_blocking_root, metrics_blocking>(1);
  auto jobs = n.jobs();
  auto job = jobs.submit("metrics-blocking", metrics_blocking_root{});
  // One slot: one task holds it, two wait, in the cluster or leased to
  // the runner (sent to it: counted as running there).
  std::optional<scrape> x;
  CHECK(wait_until(
    [&] {
      x.emplace(n.metrics());
      return blocked.load() == 1
             && x->at("weft_tasks_queued", in_default)
                    + x->at("weft_tasks_running", in_default)
                  == 3
             && x->at("weft_tasks_running", in_default) >= 1;
    },
    10s));
  CHECK(x->at("weft_jobs_live") >= 1);
  CHECK(x->at("weft_runner_slots", in_default) == 1);
  CHECK(x->at("weft_jobs_finished_total", {{"state", "completed"}}) == 0);
  gate.set_value();
  REQUIRE(jobs.wait(job.id, 30s).state == weft::job_state::completed);
  auto done = n.metrics();
  CHECK(done.at("weft_jobs_finished_total", {{"state", "completed"}}) == 1);
  CHECK(done.at("weft_tasks_finished_total", tasks_in("computed")) == 4);
}

TEST_CASE("metrics: an attempt whose runner is lost is counted as requeued, "
          "not as a duration") {
  node n;
  std::promise<void> gate; // after the node: see above
  stuck_release = gate.get_future().share();
  stuck_first = true;
  stuck_reached = false;
  n.add_runner<metrics_lose_root, metrics_stuck_once>(1);
  n.add_runner<metrics_lose_root, metrics_stuck_once>(1);
  auto jobs = n.jobs();
  auto job = jobs.submit("metrics-lose", metrics_lose_root{});
  REQUIRE(wait_until([] { return stuck_reached.load(); }, 30s));
  // Its start reaches the job within a millisecond or so (it travels with
  // results of short attempts): lost before that, it was a lease, not an
  // attempt.
  REQUIRE(wait_until([&] { return jobs.find(job.id).running == 1; }, 30s));
  std::string name;
  {
    std::lock_guard<std::mutex> guard{victim_mtx};
    name = victim;
  }
  auto& dead = n.runners[0].name() == name ? n.runners[0] : n.runners[1];
  caf::anon_send_exit(weft::actor_of(dead), caf::exit_reason::kill);
  REQUIRE(jobs.wait(job.id, 30s).state == weft::job_state::completed);
  auto x = n.metrics();
  CHECK(x.at("weft_attempts_requeued_total", in_default) == 1);
  // Three attempts; the lost one reported no duration.
  CHECK(attempts_of(jobs, job.id) == 3);
  CHECK(x.at("weft_task_duration_seconds_count", in_default) == 2);
  CHECK(x.at("weft_tasks_finished_total", tasks_in("computed")) == 2);
  gate.set_value(); // the orphaned thread ends
}
