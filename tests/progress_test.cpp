// Watching jobs: progress updates, their order, late watchers, indicators
// after retries, and the percentage.

#include "temp_dir.hpp"
#include "wait.hpp"

#include <weft/weft.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <utility>

using namespace std::chrono_literals;

namespace {

std::shared_future<void> watch_gate; // leaves wait on it
std::atomic<int> flaky_calls{0};

struct w_leaf {
  uint32_t index = 0;
  void execute(weft::context& ctx) const {
    watch_gate.wait();
    ctx.progress("files").done(1);
  }
};
BOOST_DESCRIBE_STRUCT(w_leaf, (), (index))

struct w_root {
  uint32_t leaves = 0;
  void execute(weft::context& ctx) const {
    ctx.progress("files").add(leaves);
    for (uint32_t i = 0; i < leaves; ++i) {
      auto h = ctx.submit_subtask(w_leaf{i});
      (void)h;
    }
  }
};
BOOST_DESCRIBE_STRUCT(w_root, (), (leaves))

/// Reports progress, then fails on its first attempt.
struct w_flaky {
  void execute(weft::context& ctx) const {
    ctx.progress("steps").add(1).done(1);
    if (flaky_calls++ == 0)
      throw std::runtime_error("first attempt fails");
  }
};
BOOST_DESCRIBE_STRUCT(w_flaky, (), ())

/// No indicator: nothing to base a percentage on.
struct w_silent {
  void execute(weft::context&) const {
    watch_gate.wait();
  }
};
BOOST_DESCRIBE_STRUCT(w_silent, (), ())

/// Fans out to leaves that wait for the gate and declare no totals: the
/// percentage can only come from what was learned.
struct w_fan {
  uint32_t leaves = 0;
  void execute(weft::context& ctx) const {
    for (uint32_t i = 0; i < leaves; ++i)
      ctx.submit_subtask(w_silent{});
  }
};
BOOST_DESCRIBE_STRUCT(w_fan, (), (leaves))

/// Reports 3 of 4 rows done, then waits for the gate.
struct w_rows {
  void execute(weft::context& ctx) const {
    ctx.progress("rows").add(4).done(3);
    watch_gate.wait();
    ctx.progress("rows").done(1);
  }
};
BOOST_DESCRIBE_STRUCT(w_rows, (), ())

/// A leaf of a pipeline's stage: 30 ms of silent work.
struct p_leaf {
  void execute(weft::context&) const {
    std::this_thread::sleep_for(100ms);
  }
};
BOOST_DESCRIBE_STRUCT(p_leaf, (), ())

/// A stage of a pipeline: `fan` leaves.
struct p_stage {
  uint32_t stage = 0;
  uint32_t fan = 0;
  void execute(weft::context& ctx) const {
    for (uint32_t i = 0; i < fan; ++i)
      ctx.submit_subtask(p_leaf{});
  }
};
BOOST_DESCRIBE_STRUCT(p_stage, (), (stage, fan))

std::shared_future<void> pipeline_gate; // the pipeline's root waits on it

/// Three stages, each waiting for the one before and its leaves; the
/// leaves last two progress intervals, so watchers get updates before and
/// after each stage's work appears.
struct p_pipeline {
  uint32_t fan = 0;
  void execute(weft::context& ctx) const {
    pipeline_gate.wait();
    auto first = ctx.submit_subtask(p_stage{1, fan});
    auto second = ctx.submit_subtask(p_stage{2, fan}, {.depends_on = {first}});
    ctx.submit_subtask(p_stage{3, fan}, {.depends_on = {second}});
  }
};
BOOST_DESCRIBE_STRUCT(p_pipeline, (), (fan))

weft::local_cluster_options options() {
  weft::local_cluster_options opts;
  opts.runners[0].slots = 2;
  opts.runners[0].progress_interval = 20ms;
  opts.scheduler_threads = 2;
  opts.orchestrator.progress_interval = 50ms;
  return opts;
}

/// Runs a w_fan job whose leaves wait for the gate, and returns what its
/// watcher saw while they waited and the final update.
std::pair<std::vector<weft::progress_update>, weft::progress_update> watch_fan(
  weft::job_client& jobs, uint32_t leaves) {
  std::promise<void> open;
  watch_gate = open.get_future().share();
  auto job = jobs.submit("fan", w_fan{leaves});
  std::vector<weft::progress_update> waiting;
  std::mutex mtx;
  std::atomic<bool> opened{false};
  auto watcher = std::async(std::launch::async, [&] {
    return jobs.watch(job.id, [&](const weft::progress_update& u) {
      std::lock_guard<std::mutex> guard{mtx};
      if (!opened)
        waiting.push_back(u);
    });
  });
  // Until the leaves run; then the watcher samples a few intervals of
  // them running (a window of updates, not a wait for one).
  weft::test::wait_until(
    [&] {
      std::lock_guard<std::mutex> guard{mtx};
      return !waiting.empty()
             && waiting.back().stats.count(weft::task_state::running) == leaves;
    },
    20s);
  std::this_thread::sleep_for(200ms);
  {
    std::lock_guard<std::mutex> guard{mtx};
    opened = true;
  }
  open.set_value();
  auto last = watcher.get();
  return {waiting, last};
}

/// The updates of `seen` taken while all `leaves` ran.
std::vector<weft::progress_update> while_running(
  const std::vector<weft::progress_update>& seen, uint32_t leaves) {
  std::vector<weft::progress_update> result;
  for (const auto& u : seen)
    if (u.stats.count(weft::task_state::running) == leaves)
      result.push_back(u);
  return result;
}

} // namespace

TEST_CASE("progress: a watcher sees every state change in order and a final "
          "update") {
  std::promise<void> open;
  watch_gate = open.get_future().share();
  weft::local_cluster lc{options()};
  lc.register_tasks<w_root, w_leaf>();
  lc.start();
  auto jobs = lc.jobs();
  auto job = jobs.submit("watched", w_root{4});
  std::vector<weft::progress_update> seen;
  std::mutex mtx;
  auto watcher = std::async(std::launch::async, [&] {
    return jobs.watch(job.id, [&](const weft::progress_update& u) {
      std::lock_guard<std::mutex> guard{mtx};
      seen.push_back(u);
    });
  });
  // A few intervals pass while the leaves wait: running, 0 of 4. (A check,
  // not a requirement: the gate must open for the watcher to end.)
  CHECK(weft::test::wait_until(
    [&] {
      std::lock_guard<std::mutex> guard{mtx};
      bool running = false;
      bool zero = false;
      for (const auto& u : seen) {
        running = running || u.state == weft::job_state::running;
        zero = zero || (u.percent == 0 && !u.final);
      }
      return running && zero;
    },
    20s));
  open.set_value();
  auto last = watcher.get();
  REQUIRE(last.final);
  CHECK(last.state == weft::job_state::completed);
  CHECK(last.percent == 100);
  CHECK(last.eta_ns == 0);
  CHECK(last.progress
        == std::vector<weft::progress_indicator>{{"files", 4, 4}});
  REQUIRE(seen.size() >= 2);
  CHECK(seen.front().job_id == job.id);
  // Never back to SUBMITTED, nothing final before the end (RUNNING and
  // STARTED may alternate), percentages never fall, and exactly one update
  // is final: the last.
  for (size_t i = 1; i < seen.size(); ++i) {
    CHECK(seen[i].state != weft::job_state::submitted);
    CHECK_FALSE(weft::is_final(seen[i - 1].state));
    CHECK(seen[i - 1].percent <= seen[i].percent);
    CHECK_FALSE(seen[i - 1].final);
  }
  bool saw_running = false;
  for (const auto& u : seen)
    saw_running = saw_running || u.state == weft::job_state::running;
  CHECK(saw_running);
  CHECK(seen.back().final);
  // The root is the job's one item; it is done.
  REQUIRE(last.items.size() == 1);
  CHECK(last.items[0].label == "w_root");
  CHECK(last.items[0].percent == 100);
  // While the leaves waited, the percentage came from the indicator: 0 %
  // (before the root ran there was no total yet: no estimate).
  bool saw_zero = false;
  for (const auto& u : seen)
    saw_zero = saw_zero || (u.percent == 0 && !u.final);
  CHECK(saw_zero);
}

TEST_CASE("progress: a late watcher gets the current state at once") {
  std::promise<void> open;
  open.set_value();
  watch_gate = open.get_future().share();
  weft::local_cluster lc{options()};
  lc.register_tasks<w_root, w_leaf>();
  lc.start();
  auto jobs = lc.jobs();
  auto job = jobs.submit("late", w_root{3});
  jobs.wait(job.id, 30s);
  int calls = 0;
  auto last = jobs.watch(
    job.id, [&](const weft::progress_update&) { ++calls; }, 10s);
  CHECK(calls == 1);
  CHECK(last.final);
  CHECK(last.state == weft::job_state::completed);
  CHECK(last.stats.count(weft::task_state::computed) == 4);
}

TEST_CASE("progress: indicators after a retry count the last execution "
          "only") {
  flaky_calls = 0;
  weft::local_cluster lc{options()};
  lc.register_tasks<w_flaky>();
  lc.start();
  auto jobs = lc.jobs();
  auto job = jobs.submit("flaky", w_flaky{}, {.max_retries = 1});
  auto last = jobs.watch(
    job.id, [](const weft::progress_update&) {}, 30s);
  CHECK(last.state == weft::job_state::completed);
  CHECK(last.progress
        == std::vector<weft::progress_indicator>{{"steps", 1, 1}});
}

TEST_CASE("progress: no estimate without indicator totals") {
  std::promise<void> open;
  watch_gate = open.get_future().share();
  weft::local_cluster lc{options()};
  lc.register_tasks<w_silent>();
  lc.start();
  auto jobs = lc.jobs();
  auto job = jobs.submit("silent", w_silent{});
  std::vector<weft::progress_update> seen;
  std::mutex mtx;
  auto watcher = std::async(std::launch::async, [&] {
    return jobs.watch(job.id, [&](const weft::progress_update& u) {
      std::lock_guard<std::mutex> guard{mtx};
      seen.push_back(u);
    });
  });
  // Until the watcher saw the task run (the gate opens either way).
  CHECK(weft::test::wait_until(
    [&] {
      std::lock_guard<std::mutex> guard{mtx};
      return !seen.empty()
             && seen.back().stats.count(weft::task_state::running) == 1;
    },
    20s));
  open.set_value();
  auto last = watcher.get();
  REQUIRE(seen.size() >= 2);
  CHECK_FALSE(seen.front().percent); // "no estimate"
  CHECK_FALSE(seen.front().eta_ns);
  CHECK(last.percent == 100);
}

TEST_CASE("progress: watching an unknown job fails clearly") {
  weft::local_cluster lc{options()};
  auto jobs = lc.jobs();
  CHECK_THROWS_WITH(jobs.watch(
                      "01a2037f-caef-70b2-8438-12d1f925d3cc",
                      [](const weft::progress_update&) {}, 5s),
                    Catch::Contains("no job with id"));
}

TEST_CASE("progress: no estimate for a fan-out never seen, a number once "
          "history exists") {
  weft::local_cluster lc{options()};
  lc.register_tasks<w_fan, w_silent>();
  lc.start();
  auto jobs = lc.jobs();
  // First run: the leaves' identifier has no history, and nothing has a
  // total. weft says so rather than guessing.
  auto [first, first_last] = watch_fan(jobs, 2);
  auto first_running = while_running(first, 2);
  REQUIRE_FALSE(first_running.empty());
  for (const auto& u : first_running) {
    CHECK_FALSE(u.percent);
    CHECK_FALSE(u.eta_ns);
    CHECK_FALSE(u.learned);
  }
  CHECK(first_last.state == weft::job_state::completed);
  CHECK(first_last.percent == 100);
  // Second run of the same shape: the orchestrator learned how long the
  // root and the leaves take and how many leaves the root submits.
  auto [second, second_last] = watch_fan(jobs, 2);
  auto second_running = while_running(second, 2);
  REQUIRE_FALSE(second_running.empty());
  for (const auto& u : second_running) {
    CHECK(u.learned);
    REQUIRE(u.percent);
    CHECK(*u.percent < 100);
  }
  CHECK(second_last.percent == 100);
  CHECK_FALSE(second_last.learned); // a fact by then, not an estimate
}

TEST_CASE("progress: running tasks report their indicators before they "
          "finish") {
  std::promise<void> open;
  watch_gate = open.get_future().share();
  weft::local_cluster lc{options()};
  lc.register_tasks<w_rows>();
  lc.start();
  auto jobs = lc.jobs();
  auto job = jobs.submit("rows", w_rows{});
  std::atomic<bool> saw_live{false};
  auto watcher = std::async(std::launch::async, [&] {
    return jobs.watch(job.id, [&](const weft::progress_update& u) {
      if (u.state != weft::job_state::completed
          && u.progress
               == std::vector<weft::progress_indicator>{{"rows", 4, 3}})
        saw_live = true;
    });
  });
  CHECK(weft::test::wait_until([&] { return saw_live.load(); }, 10s));
  open.set_value();
  auto last = watcher.get();
  CHECK(last.state == weft::job_state::completed);
  CHECK(last.progress == std::vector<weft::progress_indicator>{{"rows", 4, 4}});
}

TEST_CASE("progress: what was learned survives a restart") {
  weft::test::temp_dir data;
  auto opts = options();
  opts.orchestrator.data_dir = data.path;
  opts.orchestrator.fsync = false;
  {
    weft::local_cluster lc{opts};
    lc.register_tasks<w_fan, w_silent>();
    lc.start();
    auto jobs = lc.jobs();
    auto [seen, last] = watch_fan(jobs, 2);
    CHECK(last.state == weft::job_state::completed);
    for (const auto& u : while_running(seen, 2))
      CHECK_FALSE(u.percent);
  }
  weft::local_cluster lc{opts};
  lc.register_tasks<w_fan, w_silent>();
  lc.start();
  auto jobs = lc.jobs();
  auto [seen, last] = watch_fan(jobs, 2);
  auto running = while_running(seen, 2);
  REQUIRE_FALSE(running.empty());
  for (const auto& u : running) {
    CHECK(u.learned);
    CHECK(u.percent);
  }
  CHECK(last.state == weft::job_state::completed);
}

TEST_CASE("progress: the percentage shown never falls when a pipeline fans "
          "out into more work than it learned, while the estimate does") {
  weft::local_cluster lc{options()};
  lc.register_tasks<p_pipeline, p_stage, p_leaf>();
  lc.start();
  auto jobs = lc.jobs();
  // Learned: each stage submits one leaf.
  {
    std::promise<void> open;
    open.set_value();
    pipeline_gate = open.get_future().share();
    for (int i = 0; i < 2; ++i) {
      auto job = jobs.submit("pipeline", p_pipeline{1});
      REQUIRE(jobs.wait(job.id, 30s).state == weft::job_state::completed);
    }
  }
  // Then each stage submits four: when a stage ends, the work predicted
  // after it grows by more than the work it did. Two watchers, subscribed
  // before the root goes on.
  std::promise<void> open;
  pipeline_gate = open.get_future().share();
  auto job = jobs.submit("pipeline", p_pipeline{4});
  std::atomic<int> subscribed{0};
  auto watch = [&] {
    std::vector<weft::progress_update> seen;
    bool first = true;
    jobs.watch(
      job.id,
      [&](const weft::progress_update& u) {
        seen.push_back(u);
        if (std::exchange(first, false))
          ++subscribed;
      },
      60s);
    return seen;
  };
  auto one = std::async(std::launch::async, watch);
  auto two = std::async(std::launch::async, watch);
  CHECK(weft::test::wait_until([&] { return subscribed == 2; }, 20s));
  open.set_value();
  auto seen = one.get();
  auto seen_too = two.get();
  REQUIRE(seen.size() >= 2);
  const auto& last = seen.back();
  REQUIRE(last.final);
  CHECK(last.state == weft::job_state::completed);
  CHECK(last.percent == 100);
  CHECK(last.raw_percent == 100);
  REQUIRE(last.items.size() == 1);
  CHECK(last.items[0].percent == 100);
  bool fell = false;
  for (size_t i = 0; i < seen.size(); ++i) {
    const auto& u = seen[i];
    INFO("update " << i << " (" << weft::to_string(u.state) << "): shown "
                   << u.percent.value_or(-1) << ", estimate "
                   << u.raw_percent.value_or(-1));
    // Everything was learned: there is always an estimate.
    REQUIRE(u.raw_percent);
    REQUIRE(u.percent);
    CHECK(*u.percent >= *u.raw_percent);
    REQUIRE(u.items.size() == 1);
    REQUIRE(u.items[0].percent);
    if (i == 0)
      continue;
    const auto& before = seen[i - 1];
    CHECK(*u.percent >= *before.percent);
    CHECK(*u.items[0].percent >= *before.items[0].percent);
    fell = fell || *u.raw_percent < *before.raw_percent;
  }
  CHECK(fell);
  // The other watcher was sent the same updates: the same values.
  size_t common = 0;
  for (const auto& u : seen_too) {
    for (const auto& v : seen)
      if (v.at == u.at) {
        ++common;
        CHECK(v.percent == u.percent);
        CHECK(v.raw_percent == u.raw_percent);
      }
  }
  CHECK(common >= 2);
  for (size_t i = 1; i < seen_too.size(); ++i)
    CHECK(seen_too[i].percent >= seen_too[i - 1].percent);
}
