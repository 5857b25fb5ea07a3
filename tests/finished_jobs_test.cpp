// Finished jobs: they answer the same live, after their actor left memory
// and after a restart; a retry brings one back; retention deletes old ones;
// without a data directory only the newest are kept; query pages; and the
// job service restarts a job actor that dies.

#include "weft/actors/client_internal.hpp"
#include "weft/actors/job_service.hpp"
#include "weft/actors/journal.hpp"
#include "weft/actors/node.hpp"
#include "weft/actors/runner_actor.hpp"
#include "weft/core/journal_event.hpp"
#include "weft/core/uuid.hpp"
#include "weft/weft.hpp"

#include "temp_dir.hpp"
#include "wait.hpp"

#include <caf/all.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
namespace atom = weft::atom;
using weft::test::temp_dir;
using weft::test::wait_until;

// -- tasks --------------------------------------------------------------------

namespace {

std::mutex failed_once_mtx;
std::set<std::string> failed_once; // "<job id>/<index>" that failed once

/// True the first time a task of this job and index asks.
bool first_time(const weft::context& ctx) {
  std::lock_guard<std::mutex> guard{failed_once_mtx};
  return failed_once.insert(ctx.current_task().id).second;
}

} // namespace

/// Logs, traces, writes the job cache, and fails on purpose when asked.
struct fin_leaf {
  int i = 0;
  bool fail_first = false;
  bool fail_always = false;
  void execute(weft::context& ctx) const {
    ctx.progress("leaves").done(1);
    ctx.set_display("leaf " + std::to_string(i));
    auto span = ctx.tracer().span("leaf work");
    span.set_attribute("i", i);
    ctx.logger().info("leaf ran", {{"i", i}});
    ctx.logger().warn("and said more", {{"twice", 2 * i}});
    ctx.job_cache().group("leaves")[std::to_string(i)] = "leaf value";
    if (fail_always)
      throw std::runtime_error("leaf " + std::to_string(i) + " always fails");
    if (fail_first && first_time(ctx))
      throw std::runtime_error("leaf " + std::to_string(i) + " fails once");
  }
};
BOOST_DESCRIBE_STRUCT(fin_leaf, (), (i, fail_first, fail_always))

/// Runs once its dependencies are settled (a dashed edge in pictures).
struct fin_summary {
  void execute(weft::context& ctx) const {
    ctx.set_display("summary");
    ctx.logger().info("summed up");
  }
};
BOOST_DESCRIBE_STRUCT(fin_summary, (), ())

/// Fans out `leaves` leaves (retried once) and a summary depending on them.
struct fin_root {
  int leaves = 0;
  int fail_first = -1;   // this leaf fails its first attempt
  int fail_always = -1;  // this leaf fails every attempt ...
  bool optional = false; // ... and is optional
  void execute(weft::context& ctx) const {
    ctx.progress("leaves").add(static_cast<uint64_t>(leaves));
    std::vector<weft::subtask_handle> handles;
    {
      auto span = ctx.tracer().span("fan out");
      span.set_attribute("leaves", leaves);
      for (int i = 0; i < leaves; ++i)
        handles.push_back(
          ctx.submit_subtask(fin_leaf{i, i == fail_first, i == fail_always},
                             {.max_retries = 1,
                              .optional = i == fail_always && optional}));
    }
    ctx.submit_subtask(fin_summary{}, {.depends_on = handles});
    ctx.logger().info("fanned out", {{"leaves", leaves}});
  }
};
BOOST_DESCRIBE_STRUCT(fin_root, (), (leaves, fail_first, fail_always, optional))

/// Does nothing; fills memory bounds and the index.
struct fin_noop {
  void execute(weft::context&) const {
  }
};
BOOST_DESCRIBE_STRUCT(fin_noop, (), ())

namespace {

/// Executions per task of the counted jobs: [0] the root, [i] leaf i.
std::array<std::atomic<int>, 8> executions{};
std::atomic<bool> counted_fail_pending{false}; // leaf 2 fails once

void reset_counts() {
  for (auto& n : executions)
    n = 0;
}

} // namespace

struct fin_counted_leaf {
  int i = 0;
  void execute(weft::context& ctx) const {
    ++executions.at(static_cast<size_t>(i));
    ctx.job_cache().group("counted")[std::to_string(i)] = "done";
    if (i == 2 && counted_fail_pending.exchange(false))
      throw std::runtime_error("leaf 2 fails the first time");
  }
};
BOOST_DESCRIBE_STRUCT(fin_counted_leaf, (), (i))

struct fin_counted_root {
  int leaves = 4;
  void execute(weft::context& ctx) const {
    ++executions.at(0);
    for (int i = 1; i <= leaves; ++i)
      ctx.submit_subtask(fin_counted_leaf{i});
  }
};
BOOST_DESCRIBE_STRUCT(fin_counted_root, (), (leaves))

namespace {

std::atomic<int> gate_executions{0};
std::atomic<bool> gate_reached{false};
std::atomic<bool> gate_open{false};

} // namespace

/// Its first execution holds its slot until the test opens the gate.
struct fin_gate {
  void execute(weft::context&) const {
    if (++gate_executions == 1) {
      gate_reached = true;
      wait_until([] { return gate_open.load(); }, 60s, 1ms);
    }
  }
};
BOOST_DESCRIBE_STRUCT(fin_gate, (), ())

struct fin_gate_root {
  void execute(weft::context& ctx) const {
    ctx.submit_subtask(fin_gate{});
    ctx.submit_subtask(fin_noop{});
  }
};
BOOST_DESCRIBE_STRUCT(fin_gate_root, (), ())

/// Writes one job-cache entry.
struct fin_cache_writer {
  void execute(weft::context& ctx) const {
    ctx.job_cache().group("g")["k"] = "v";
  }
};
BOOST_DESCRIBE_STRUCT(fin_cache_writer, (), ())

namespace {

std::atomic<int> back_runs{0};
std::atomic<bool> back_reached{false};
std::atomic<bool> back_open{false};

} // namespace

/// Fails its first execution; its second holds its slot until the test
/// opens the gate.
struct fin_back_leaf {
  void execute(weft::context&) const {
    auto run = ++back_runs;
    if (run == 1)
      throw std::runtime_error("fails the first time");
    if (run == 2) {
      back_reached = true;
      wait_until([] { return back_open.load(); }, 60s, 1ms);
    }
  }
};
BOOST_DESCRIBE_STRUCT(fin_back_leaf, (), ())

struct fin_back_root {
  void execute(weft::context& ctx) const {
    ctx.submit_subtask(fin_cache_writer{});
    ctx.submit_subtask(fin_back_leaf{});
  }
};
BOOST_DESCRIBE_STRUCT(fin_back_root, (), ())

// -- an orchestrator whose job service the test can reach ---------------------

namespace {

/// What a watcher received, and whether the job actor that sent it is gone.
struct watch_log {
  std::mutex mtx;
  std::vector<weft::progress_update> updates;
  caf::actor_addr job; // the actor that sent the first update
  bool job_gone = false;

  bool has_final() {
    std::lock_guard<std::mutex> guard{mtx};
    return !updates.empty() && updates.back().final;
  }
  bool gone() {
    std::lock_guard<std::mutex> guard{mtx};
    return job_gone;
  }
  weft::progress_update last() {
    std::lock_guard<std::mutex> guard{mtx};
    return updates.back();
  }
  caf::actor_addr sender() {
    std::lock_guard<std::mutex> guard{mtx};
    return job;
  }
};

/// Records updates; monitors the job actor that sends them (the job
/// service hands a watcher to the actor of the job, which then sends).
weft::progress_watcher::behavior_type watcher_fn(
  weft::progress_watcher::pointer self, std::shared_ptr<watch_log> log) {
  self->set_down_handler([log](caf::down_msg&) {
    std::lock_guard<std::mutex> guard{log->mtx};
    log->job_gone = true;
  });
  return {
    [self, log](atom::progress, weft::progress_update& u) {
      std::lock_guard<std::mutex> guard{log->mtx};
      if (!log->job) {
        auto sender = caf::actor_cast<caf::actor>(self->current_sender());
        log->job = sender.address();
        self->monitor(sender);
      }
      log->updates.push_back(std::move(u));
    },
  };
}

/// Replaces the journal a job service writes to (see `node`).
using journal_wrapper
  = std::function<weft::journal_actor(caf::actor_system&, weft::journal_actor)>;

/// An orchestrator and its runners in an actor system of their own, booted
/// as `local_cluster` boots them (`weft::orchestrator`), with the job
/// service's handle at hand: tests watch job actors come and go. With a
/// `wrap`, the service writes through the journal it returns (a stand-in
/// in front of the real one).
struct node {
  std::shared_ptr<weft::owned_system> own = weft::make_system(4, nullptr);
  std::shared_ptr<weft::cache_store> cache = weft::make_in_memory_cache();
  weft::orchestrator orch;
  weft::journal_actor stand_in; // with a wrap
  std::vector<weft::runner> runners;
  std::vector<caf::actor> watchers;

  explicit node(weft::orchestrator_options opts, journal_wrapper wrap = {}) {
    weft::orchestrator_config cfg;
    cfg.options = opts;
    cfg.cache = cache;
    if (!wrap) {
      orch.boot(*own->sys, opts.data_dir, opts.fsync, cfg);
      return;
    }
    // orchestrator::boot, with the stand-in between service and journal.
    auto& sys = *own->sys;
    orch.sys = &sys;
    orch.stats = std::make_shared<weft::core::task_statistics>();
    std::vector<weft::recovered_job> recovered;
    if (!opts.data_dir.empty()) {
      auto store = weft::journal_store::open({opts.data_dir, opts.fsync});
      recovered = weft::recover_jobs(*store);
      store->migrate(recovered);
      weft::recover_statistics(*store, *orch.stats);
      cfg.store = store;
      orch.journal = weft::spawn_journal(sys, std::move(store));
    }
    stand_in = wrap(sys, orch.journal);
    orch.dir = std::make_shared<weft::cluster_directory>(sys);
    orch.dir->get("default");
    orch.service = weft::spawn_job_service(sys, orch.dir, cfg, stand_in,
                                           std::move(recovered), orch.stats);
  }

  ~node() {
    for (auto& w : watchers)
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
    for (auto& r : runners)
      r.stop();
    runners.clear();
    if (stand_in) {
      // The service goes first (orchestrator::shutdown stops it), then
      // the stand-in, which holds the real journal's handle.
      caf::scoped_actor self{*own->sys};
      self->monitor(orch.service);
      self->send_exit(orch.service, caf::exit_reason::user_shutdown);
      self->receive([](caf::down_msg&) {});
      self->monitor(stand_in);
      self->send_exit(stand_in, caf::exit_reason::user_shutdown);
      self->receive([](caf::down_msg&) {});
      stand_in = weft::journal_actor{};
    }
    orch.shutdown();
    own.reset();
  }

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  caf::actor_system& sys() {
    return *own->sys;
  }

  template <class... Ts>
  weft::runner& add_runner(uint32_t slots) {
    runners.push_back(weft::make_runner(sys(), orch.service,
                                        weft::runner_options{.slots = slots},
                                        cache, own));
    runners.back().register_tasks<Ts...>();
    runners.back().start();
    return runners.back();
  }

  weft::job_client jobs() {
    auto client = weft::job_client_access::make(
      std::make_shared<weft::job_client::impl>(sys(), orch.service, own));
    client.set_cache(cache);
    return client;
  }

  /// Subscribes a watcher of its own to job `id` and waits for its final
  /// update.
  std::shared_ptr<watch_log> watch(const std::string& id) {
    auto log = std::make_shared<watch_log>();
    auto w = sys().spawn(watcher_fn, log);
    watchers.push_back(caf::actor_cast<caf::actor>(w));
    caf::scoped_actor self{sys()};
    std::string err;
    bool subscribed = false;
    self->request(orch.service, 10s, atom::watch_v, id, w)
      .receive([&](bool) { subscribed = true; },
               [&](caf::error& e) { err = caf::to_string(e); });
    INFO(err);
    REQUIRE(subscribed);
    REQUIRE(wait_until([&] { return log->has_final(); }, 30s));
    return log;
  }

  weft::cluster_info cluster(const std::string& name = "default") {
    return jobs().find_cluster(name);
  }
};

/// Whether `find(id)` fails with unknown_job; its message in `why`.
bool unknown(weft::job_client jobs, const std::string& id,
             std::string* why = nullptr) {
  try {
    jobs.find(id);
    return false;
  } catch (const weft::error& e) {
    if (why != nullptr)
      *why = e.what();
    return e.code() == weft::errc::unknown_job;
  }
}

// -- comparing answers field by field -----------------------------------------

void check_same(const weft::execution_stats& a,
                const weft::execution_stats& b) {
  CHECK(a.first_started == b.first_started);
  CHECK(a.last_stopped == b.last_stopped);
  CHECK(a.compute_ns == b.compute_ns);
  CHECK(a.elapsed_ns == b.elapsed_ns);
  CHECK(a.parallelism == b.parallelism);
  CHECK(a.total_tasks == b.total_tasks);
  CHECK(a.tasks_by_state == b.tasks_by_state);
}

void check_same(const weft::job_info& a, const weft::job_info& b) {
  CHECK(a.id == b.id);
  CHECK(a.name == b.name);
  CHECK(a.cluster == b.cluster);
  CHECK(a.state == b.state);
  CHECK(a.submitted_at == b.submitted_at);
  CHECK(a.running == b.running);
  CHECK(a.progress == b.progress);
  check_same(a.stats, b.stats);
}

void check_same(const weft::attempt_record& a, const weft::attempt_record& b) {
  CHECK(a.attempt == b.attempt);
  CHECK(a.runner == b.runner);
  CHECK(a.started == b.started);
  CHECK(a.stopped == b.stopped);
  CHECK(a.succeeded == b.succeeded);
  CHECK(a.error == b.error);
  REQUIRE(a.logs.size() == b.logs.size());
  for (size_t i = 0; i < a.logs.size(); ++i) {
    INFO("log " << i);
    CHECK(a.logs[i].time == b.logs[i].time);
    CHECK(a.logs[i].level == b.logs[i].level);
    CHECK(a.logs[i].message == b.logs[i].message);
    CHECK(a.logs[i].fields == b.logs[i].fields);
  }
  REQUIRE(a.spans.size() == b.spans.size());
  for (size_t i = 0; i < a.spans.size(); ++i) {
    INFO("span " << i);
    CHECK(a.spans[i].name == b.spans[i].name);
    CHECK(a.spans[i].start == b.spans[i].start);
    CHECK(a.spans[i].end == b.spans[i].end);
    CHECK(a.spans[i].attributes == b.spans[i].attributes);
  }
}

void check_same(const std::vector<weft::task_info>& a,
                const std::vector<weft::task_info>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("task " << i);
    const auto& x = a[i];
    const auto& y = b[i];
    CHECK(x.index == y.index);
    CHECK(x.parent == y.parent);
    CHECK(x.identifier == y.identifier);
    CHECK(x.display == y.display);
    CHECK(x.state == y.state);
    CHECK(x.cluster == y.cluster);
    CHECK(x.input == y.input);
    CHECK(x.optional == y.optional);
    CHECK(x.attempts == y.attempts);
    CHECK(x.retries_used == y.retries_used);
    CHECK(x.runner_losses == y.runner_losses);
    CHECK(x.depends_on == y.depends_on);
    CHECK(x.subtasks == y.subtasks);
    CHECK(x.progress == y.progress);
    CHECK(x.started == y.started);
    CHECK(x.stopped == y.stopped);
    REQUIRE(x.history.size() == y.history.size());
    for (size_t h = 0; h < x.history.size(); ++h) {
      INFO("attempt record " << h);
      check_same(x.history[h], y.history[h]);
    }
  }
}

/// A shown percentage against its estimate: an actor loaded again (`b`)
/// starts from the estimate; the live one (`a`) may have been watched while
/// its estimate fell, and never shows less than it.
void check_shown(const std::optional<double>& a_shown,
                 const std::optional<double>& a_raw,
                 const std::optional<double>& b_shown,
                 const std::optional<double>& b_raw) {
  CHECK(a_raw == b_raw);
  CHECK(b_shown == b_raw);
  CHECK(a_shown.has_value() == a_raw.has_value());
  if (a_shown && a_raw)
    CHECK(*a_shown >= *a_raw);
}

/// Every field but `at` (when it was made); `b` from an actor loaded
/// again.
void check_same(const weft::progress_update& a,
                const weft::progress_update& b) {
  CHECK(a.job_id == b.job_id);
  CHECK(a.name == b.name);
  CHECK(a.state == b.state);
  CHECK(a.progress == b.progress);
  check_same(a.stats, b.stats);
  check_shown(a.percent, a.raw_percent, b.percent, b.raw_percent);
  CHECK(a.eta_ns == b.eta_ns);
  CHECK(a.final == b.final);
  CHECK(a.learned == b.learned);
  REQUIRE(a.items.size() == b.items.size());
  for (size_t i = 0; i < a.items.size(); ++i) {
    INFO("item " << i);
    CHECK(a.items[i].task == b.items[i].task);
    CHECK(a.items[i].label == b.items[i].label);
    CHECK(a.items[i].state == b.items[i].state);
    check_shown(a.items[i].percent, a.items[i].raw_percent, b.items[i].percent,
                b.items[i].raw_percent);
  }
}

/// What a finished job answers to find, tasks, visualize and watch.
struct answers {
  weft::job_info info;
  std::vector<weft::task_info> tasks;
  std::string svg;
  weft::progress_update final;
  caf::actor_addr watched; // the job actor that sent `final`
};

answers ask_all(node& n, const std::string& id) {
  answers a;
  // The final update first: then the job is finished for the others too.
  auto log = n.watch(id);
  a.final = log->last();
  a.watched = log->sender();
  auto jobs = n.jobs();
  a.info = jobs.find(id);
  a.tasks = jobs.tasks(id);
  a.svg = jobs.visualize(id);
  return a;
}

void check_same(const answers& a, const answers& b) {
  {
    INFO("find");
    check_same(a.info, b.info);
  }
  {
    INFO("tasks");
    check_same(a.tasks, b.tasks);
  }
  CHECK(a.svg == b.svg);
  {
    INFO("watch");
    check_same(a.final, b.final);
  }
}

/// The kinds of a job's records, a snapshot's history in its place.
void flatten(const weft::core::journal_event& e,
             std::vector<weft::core::event_kind>& out) {
  if (e.kind != weft::core::event_kind::job_snapshot) {
    out.push_back(e.kind);
    return;
  }
  for (const auto& bytes : e.history)
    flatten(weft::core::decode_event(bytes), out);
}

} // namespace

// -- 1. the same answers live, out of memory, after a restart -----------------

TEST_CASE("finished jobs: find, tasks, visualize and watch answer the same "
          "live, after the actor left memory and after a restart") {
  temp_dir dir;
  bool with_data_dir = false;
  SECTION("with a data directory") {
    with_data_dir = true;
  }
  SECTION("without a data directory") {
  }
  weft::orchestrator_options opts;
  if (with_data_dir)
    opts.data_dir = dir.path;
  opts.fsync = false;
  // Two finished actors rest in memory; a third finishing sends the one
  // longest at rest away.
  opts.finished_in_memory = 2;
  auto n = std::make_unique<node>(opts);
  n->add_runner<fin_root, fin_leaf, fin_summary, fin_noop>(2);
  auto jobs = n->jobs();
  // A job that COMPLETED with a retried leaf and a FAILED_OPTIONAL one, and
  // one that FAILED (its queued summary CANCELED).
  auto completed = jobs.submit("completes", fin_root{4, 1, 3, true}).id;
  auto failed = jobs.submit("fails", fin_root{3, -1, 2, false}).id;
  auto live_completed = ask_all(*n, completed);
  auto live_failed = ask_all(*n, failed);
  CHECK(live_completed.info.state == weft::job_state::completed);
  CHECK(live_failed.info.state == weft::job_state::failed);
  REQUIRE(live_completed.tasks.size() == 6);
  CHECK(live_completed.tasks[2].history.size() == 2); // failed once
  CHECK_THAT(live_completed.tasks[2].history[0].error,
             Catch::EndsWith(": leaf 1 fails once"));
  CHECK(live_completed.tasks[4].state == weft::task_state::failed_optional);
  CHECK(live_completed.tasks[5].state == weft::task_state::computed);
  CHECK(live_completed.tasks[1].history.at(0).logs.size() == 2);
  CHECK(live_completed.tasks[1].history.at(0).spans.at(0).name == "leaf work");
  CHECK(live_completed.tasks[0].history.at(0).spans.at(0).name == "fan out");
  CHECK(live_failed.tasks.at(3).state == weft::task_state::failed);
  CHECK(live_failed.tasks.at(4).state == weft::task_state::canceled);
  CHECK_THAT(live_completed.svg, Catch::Contains("<svg"));
  CHECK(live_completed.final.final);
  // The answers so far came from the actors the jobs started with, which
  // are still there (at most two rest in memory).
  auto first_watch = n->watch(completed);
  auto first_watch_failed = n->watch(failed);
  CHECK(first_watch->sender() == live_completed.watched);
  CHECK(first_watch_failed->sender() == live_failed.watched);
  CHECK_FALSE(first_watch->gone());
  CHECK_FALSE(first_watch_failed->gone());

  // Two more finish: both actors leave memory.
  for (int i = 0; i < 2; ++i) {
    auto id = jobs.submit("filler", fin_noop{}).id;
    REQUIRE(jobs.wait(id, 30s).state == weft::job_state::completed);
  }
  REQUIRE(wait_until([&] { return first_watch->gone(); }, 10s));
  REQUIRE(wait_until([&] { return first_watch_failed->gone(); }, 10s));
  auto out_completed = ask_all(*n, completed);
  auto out_failed = ask_all(*n, failed);
  // Loaded back: another actor answered.
  CHECK(out_completed.watched != live_completed.watched);
  CHECK(out_failed.watched != live_failed.watched);
  {
    INFO("the completed job, out of memory");
    check_same(live_completed, out_completed);
  }
  {
    INFO("the failed job, out of memory");
    check_same(live_failed, out_failed);
  }
  if (!with_data_dir)
    return;

  n.reset();
  n = std::make_unique<node>(opts);
  auto restarted_completed = ask_all(*n, completed);
  auto restarted_failed = ask_all(*n, failed);
  {
    INFO("the completed job, after a restart");
    check_same(live_completed, restarted_completed);
  }
  {
    INFO("the failed job, after a restart");
    check_same(live_failed, restarted_failed);
  }
  auto q = n->jobs().query(
    {.states = {weft::job_state::completed, weft::job_state::failed}});
  REQUIRE(q.size() == 4);
  CHECK(q[0].id == completed);
  CHECK(q[0].state == weft::job_state::completed);
  CHECK(q[1].id == failed);
  CHECK(q[1].state == weft::job_state::failed);
}

// -- 2. retry of a finished job out of memory ---------------------------------

TEST_CASE("finished jobs: a retry of a FAILED job that left memory computes "
          "only what was not computed") {
  temp_dir dir;
  bool with_data_dir = false;
  SECTION("with a data directory") {
    with_data_dir = true;
  }
  SECTION("without a data directory") {
  }
  reset_counts();
  counted_fail_pending = true;
  weft::orchestrator_options opts;
  if (with_data_dir)
    opts.data_dir = dir.path;
  opts.fsync = false;
  opts.finished_in_memory = 0; // a finished actor leaves at once
  std::string id;
  std::vector<weft::task_info> retried_tasks;
  {
    node n{opts};
    n.add_runner<fin_counted_root, fin_counted_leaf>(2);
    auto jobs = n.jobs();
    id = jobs.submit("retry-me", fin_counted_root{4}).id;
    auto watched = n.watch(id);
    REQUIRE(watched->last().state == weft::job_state::failed);
    REQUIRE(wait_until([&] { return watched->gone(); }, 10s));
    auto before = jobs.tasks(id);
    REQUIRE(before.size() == 5);
    uint64_t to_requeue = 0;
    for (size_t i = 0; i < before.size(); ++i) {
      INFO("task " << i);
      CHECK(before[i].input
            == "{\"" + std::string{i == 0 ? "leaves" : "i"}
                 + "\":" + std::to_string(i == 0 ? 4 : i) + "}");
      auto s = before[i].state;
      // Every execution is an attempt the job knows of, except a leased
      // one a slot started in the instant before the failure's revocation
      // reached its runner: its task stays CANCELED.
      if (s == weft::task_state::canceled)
        CHECK(executions[i].load() <= static_cast<int>(before[i].attempts) + 1);
      else
        CHECK(executions[i].load() == static_cast<int>(before[i].attempts));
      CHECK((s == weft::task_state::computed || s == weft::task_state::failed
             || s == weft::task_state::canceled));
      if (s == weft::task_state::failed || s == weft::task_state::canceled)
        ++to_requeue;
    }
    CHECK(before[2].state == weft::task_state::failed);

    std::vector<int> ran_before;
    for (size_t i = 0; i < before.size(); ++i)
      ran_before.push_back(executions[i].load());
    // Still out of memory: the retry loads it back.
    CHECK(jobs.retry(id) == to_requeue);
    auto done = jobs.wait(id, 30s);
    CHECK(done.state == weft::job_state::completed);
    retried_tasks = jobs.tasks(id);
    REQUIRE(retried_tasks.size() == 5);
    CHECK(executions[0].load() == 1); // the root is never run again
    CHECK(executions[2].load() == 2); // the failed leaf once more
    for (size_t i : std::vector<size_t>{1, 3, 4}) {
      INFO("leaf " << i << ", " << weft::to_string(before[i].state)
                   << " before the retry");
      // Once more if it was not computed: never a computed one again.
      CHECK(executions[i].load()
            == ran_before[i]
                 + (before[i].state == weft::task_state::computed ? 0 : 1));
    }
    for (size_t i = 0; i < retried_tasks.size(); ++i) {
      INFO("task " << i);
      CHECK(retried_tasks[i].state == weft::task_state::computed);
      if (before[i].state == weft::task_state::computed) {
        CHECK(retried_tasks[i].attempts == before[i].attempts);
        CHECK(retried_tasks[i].stopped == before[i].stopped);
      }
    }
    CHECK(retried_tasks[2].attempts == 2);
    REQUIRE_FALSE(retried_tasks[2].history.empty());
    CHECK_THAT(retried_tasks[2].history[0].error,
               Catch::EndsWith(": leaf 2 fails the first time"));
    // It comes to rest again and leaves again.
    auto again = n.watch(id);
    CHECK(again->last().state == weft::job_state::completed);
    REQUIRE(wait_until([&] { return again->gone(); }, 10s));
    check_same(retried_tasks, jobs.tasks(id));
  }
  if (!with_data_dir)
    return;
  // On disk: one snapshot of the whole history, the submission first, the
  // retry once, and no live events left.
  {
    auto store = weft::journal_store::open({dir.path, false});
    uint64_t events = 0;
    store->for_each(
      [&](uint64_t, std::string_view, std::string_view) { ++events; });
    CHECK(events == 0);
    auto snap = store->snapshot(id);
    REQUIRE(snap);
    auto e = weft::core::decode_event(*snap);
    CHECK(e.summary.state == weft::job_state::completed);
    std::vector<weft::core::event_kind> kinds;
    flatten(e, kinds);
    REQUIRE_FALSE(kinds.empty());
    CHECK(kinds.front() == weft::core::event_kind::job_submitted);
    CHECK(std::count(kinds.begin(), kinds.end(),
                     weft::core::event_kind::job_submitted)
          == 1);
    CHECK(std::count(kinds.begin(), kinds.end(),
                     weft::core::event_kind::job_retried)
          == 1);
  }
  node n{opts};
  CHECK(n.jobs().find(id).state == weft::job_state::completed);
  check_same(retried_tasks, n.jobs().tasks(id));
}

// -- 3. retention -------------------------------------------------------------

TEST_CASE("finished jobs: retention deletes finished jobs older than the "
          "limit with their job cache, and keeps newer and unfinished ones") {
  temp_dir dir;
  bool with_data_dir = false;
  SECTION("with a data directory") {
    with_data_dir = true;
  }
  SECTION("without a data directory") {
  }
  auto cache = weft::make_in_memory_cache();
  weft::local_cluster_options opts;
  opts.cache = cache;
  opts.runners[0].slots = 2;
  if (with_data_dir)
    opts.orchestrator.data_dir = dir.path;
  opts.orchestrator.fsync = false;
  constexpr auto retention = std::chrono::seconds{4};
  opts.orchestrator.retention = retention;
  std::string old_id;
  std::string new_id;
  std::string waiting_id;
  {
    weft::local_cluster lc{opts};
    lc.register_tasks<fin_cache_writer>();
    lc.start();
    auto jobs = lc.jobs();
    auto old_job = jobs.submit("old", fin_cache_writer{});
    old_id = old_job.id;
    REQUIRE(jobs.wait(old_id, 30s).state == weft::job_state::completed);
    CHECK(cache->contains(old_id + "/g/k"));
    // Never finishes: nobody serves its cluster.
    waiting_id
      = jobs.submit("waiting", fin_cache_writer{}, {.cluster = "nowhere"}).id;
    // Half the retention later, a newer one.
    REQUIRE(wait_until(
      [&] { return weft::now() - old_job.submitted_at >= 2'000'000'000; },
      10s));
    auto new_job = jobs.submit("new", fin_cache_writer{});
    new_id = new_job.id;
    REQUIRE(jobs.wait(new_id, 30s).state == weft::job_state::completed);

    // The old one goes within a second of its limit (the new one goes
    // two seconds after that).
    REQUIRE(wait_until([&] { return unknown(jobs, old_id); }, 10s));
    CHECK(weft::now() - new_job.submitted_at
          < std::chrono::nanoseconds{retention}.count());
    CHECK(jobs.find(new_id).state == weft::job_state::completed);
    CHECK_FALSE(cache->contains(old_id + "/g/k"));
    CHECK(cache->groups(old_id).empty());
    CHECK(cache->keys(old_id + "/g").empty());
    CHECK(cache->contains(new_id + "/g/k"));
    auto q = jobs.query();
    REQUIRE(q.size() == 2);
    CHECK(q[0].id == waiting_id);
    CHECK(q[1].id == new_id);

    // Then the new one ages past the limit too; the unfinished one stays.
    REQUIRE(wait_until([&] { return unknown(jobs, new_id); }, 10s));
    CHECK_FALSE(cache->contains(new_id + "/g/k"));
    CHECK(jobs.find(waiting_id).state == weft::job_state::submitted);
    q = jobs.query();
    REQUIRE(q.size() == 1);
    CHECK(q[0].id == waiting_id);
  }
  if (!with_data_dir)
    return;
  // The deletions are durable.
  opts.orchestrator.retention = std::chrono::seconds{0};
  weft::local_cluster lc{opts};
  auto jobs = lc.jobs();
  CHECK(unknown(jobs, old_id));
  CHECK(unknown(jobs, new_id));
  auto q = jobs.query();
  REQUIRE(q.size() == 1);
  CHECK(q[0].id == waiting_id);
}

namespace {

/// Holds retention's deletions until the test releases them.
struct forget_hold {
  std::mutex mtx;
  std::vector<std::function<void()>> held; // each passes one on
  int passed_on = 0;
  bool holding = true;

  size_t count() {
    std::lock_guard<std::mutex> guard{mtx};
    return held.size();
  }
  int written() {
    std::lock_guard<std::mutex> guard{mtx};
    return passed_on;
  }
};

using release_atom = caf::atom_constant<caf::atom("tRelease")>;

/// A journal stand-in: passes appends on, except those with a `forget`
/// record while the test holds them.
caf::behavior holding_journal(caf::event_based_actor* self,
                              weft::journal_actor real,
                              std::shared_ptr<forget_hold> hold) {
  auto pass_on
    = [self, real, hold](std::vector<weft::journal_record> records,
                         caf::response_promise rp, bool forget) mutable {
        self->request(real, caf::infinite, atom::append_v, std::move(records))
          .then(
            [rp, hold, forget](uint64_t n) mutable {
              if (forget) {
                std::lock_guard<std::mutex> guard{hold->mtx};
                ++hold->passed_on;
              }
              rp.deliver(n);
            },
            [rp](caf::error& e) mutable { rp.deliver(e); });
      };
  return {
    [self, hold, pass_on](atom::append,
                          std::vector<weft::journal_record>& records) mutable {
      auto rp = self->make_response_promise();
      bool forget = std::any_of(records.begin(), records.end(), [](auto& r) {
        return r.kind == weft::journal_record::forget;
      });
      std::lock_guard<std::mutex> guard{hold->mtx};
      if (forget && hold->holding) {
        hold->held.push_back(
          [pass_on, records = std::move(records), rp]() mutable {
            pass_on(std::move(records), rp, true);
          });
        return;
      }
      pass_on(std::move(records), rp, forget);
    },
    [](atom::flush) {},
    [hold](release_atom) {
      std::vector<std::function<void()>> held;
      {
        std::lock_guard<std::mutex> guard{hold->mtx};
        hold->holding = false;
        held.swap(hold->held);
      }
      for (auto& f : held)
        f();
    },
  };
}

} // namespace

TEST_CASE("finished jobs: a job retention deletes is not loaded back while "
          "its deletion is being written") {
  temp_dir dir;
  auto hold = std::make_shared<forget_hold>();
  weft::orchestrator_options opts;
  opts.data_dir = dir.path;
  opts.fsync = false;
  opts.retention = std::chrono::seconds{1};
  std::string id;
  {
    node n{opts, [hold](caf::actor_system& sys, weft::journal_actor real) {
             return caf::actor_cast<weft::journal_actor>(
               sys.spawn(holding_journal, std::move(real), hold));
           }};
    n.add_runner<fin_cache_writer>(1);
    auto jobs = n.jobs();
    id = jobs.submit("deleted", fin_cache_writer{}).id;
    REQUIRE(jobs.wait(id, 30s).state == weft::job_state::completed);
    // Retention took it out of memory and asked the journal to delete it.
    REQUIRE(wait_until([&] { return hold->count() == 1; }, 10s));
    CHECK_FALSE(n.cache->contains(id + "/g/k"));
    // Its snapshot is still on disk: a read must not bring it back.
    CHECK(unknown(jobs, id));
    CHECK(jobs.query().empty());
    caf::anon_send(caf::actor_cast<caf::actor>(n.stand_in),
                   release_atom::value);
    REQUIRE(wait_until([&] { return hold->written() == 1; }, 10s));
    CHECK(unknown(jobs, id));
    CHECK(jobs.query().empty());
  }
  auto store = weft::journal_store::open({dir.path, false});
  CHECK_FALSE(store->snapshot(id));
  CHECK_FALSE(store->indexed(id));
}

// -- 4. without a data directory, the newest finished are kept ----------------

TEST_CASE("finished jobs: without a data directory only the newest finished "
          "are kept, and find says why an older one is gone") {
  weft::local_cluster_options opts;
  opts.runners[0].slots = 1;
  opts.orchestrator.finished_kept_without_data_dir = 3;
  opts.orchestrator.finished_in_memory = 0;
  weft::local_cluster lc{opts};
  lc.register_tasks<fin_noop>();
  lc.start();
  auto jobs = lc.jobs();
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(jobs.submit("job " + std::to_string(i), fin_noop{}).id);
    REQUIRE(jobs.wait(ids.back(), 30s).state == weft::job_state::completed);
  }
  // The third is dropped once the sixth left memory.
  REQUIRE(wait_until([&] { return unknown(jobs, ids[2]); }, 10s));
  for (int i = 0; i < 3; ++i) {
    INFO("job " << i);
    std::string why;
    CHECK(unknown(jobs, ids[i], &why));
    CHECK_THAT(why, Catch::Contains(ids[i]) && Catch::Contains("dropped")
                      && Catch::Contains("3 most recently finished")
                      && Catch::Contains("give the orchestrator a data "
                                         "directory"));
  }
  for (int i = 3; i < 6; ++i) {
    INFO("job " << i);
    auto info = jobs.find(ids[i]);
    CHECK(info.state == weft::job_state::completed);
    CHECK(info.name == "job " + std::to_string(i));
    CHECK(jobs.tasks(ids[i]).size() == 1);
  }
  auto q = jobs.query();
  REQUIRE(q.size() == 3);
  for (int i = 0; i < 3; ++i)
    CHECK(q[i].id == ids[3 + i]);
  // An id that never was a job is not said to be dropped.
  std::string why;
  CHECK(unknown(jobs, weft::core::make_uuid_v7(), &why));
  CHECK_THAT(why, !Catch::Contains("dropped"));
}

TEST_CASE("finished jobs: without a data directory a kept job brought back "
          "keeps its job cache while it runs, however many finish meanwhile") {
  back_runs = 0;
  back_reached = false;
  back_open = false;
  weft::orchestrator_options opts;
  opts.finished_kept_without_data_dir = 2;
  opts.finished_in_memory = 0;
  node n{opts};
  n.add_runner<fin_back_root, fin_back_leaf, fin_cache_writer, fin_noop>(2);
  auto jobs = n.jobs();
  auto id = jobs.submit("comes back", fin_back_root{}).id;
  auto first = n.watch(id);
  REQUIRE(first->last().state == weft::job_state::failed);
  REQUIRE(wait_until([&] { return first->gone(); }, 10s)); // kept now
  REQUIRE(n.cache->contains(id + "/g/k"));
  // Brought back by the retry; its leaf holds a slot while more jobs
  // finish than are kept.
  CHECK(jobs.retry(id) == 1);
  REQUIRE(wait_until([] { return back_reached.load(); }, 30s));
  std::vector<std::string> fillers;
  for (int i = 0; i < 3; ++i) {
    fillers.push_back(jobs.submit("filler", fin_noop{}).id);
    REQUIRE(jobs.wait(fillers.back(), 30s).state == weft::job_state::completed);
  }
  REQUIRE(wait_until([&] { return unknown(jobs, fillers[0]); }, 10s));
  CHECK(n.cache->contains(id + "/g/k")); // its job still runs
  back_open = true;
  REQUIRE(jobs.wait(id, 30s).state == weft::job_state::completed);
  CHECK(n.cache->contains(id + "/g/k"));
  // It finished last: the kept ones are it and the newest filler.
  auto back = n.watch(id);
  REQUIRE(wait_until([&] { return back->gone(); }, 10s));
  REQUIRE(wait_until([&] { return unknown(jobs, fillers[1]); }, 10s));
  CHECK(jobs.find(id).state == weft::job_state::completed);
  CHECK(jobs.find(fillers[2]).state == weft::job_state::completed);
  CHECK(n.cache->contains(id + "/g/k"));
}

// -- 5. supervision -----------------------------------------------------------

namespace {

/// Which appends the stand-in journal refuses.
struct failure_plan {
  std::mutex mtx;
  /// Refuses an append holding an event of this kind for this task ...
  weft::core::event_kind kind = weft::core::event_kind::task_computed;
  uint32_t task = 0;
  /// ... this many times (then it passes everything on).
  int failures_left = 1;
  int refused = 0;

  bool refuse(const std::vector<weft::journal_record>& records) {
    std::lock_guard<std::mutex> guard{mtx};
    if (failures_left == 0)
      return false;
    for (const auto& r : records) {
      if (r.kind != weft::journal_record::event)
        continue;
      auto e = weft::core::decode_event(r.bytes);
      if (e.kind == kind && e.task == task) {
        --failures_left;
        ++refused;
        return true;
      }
    }
    return false;
  }
  int refusals() {
    std::lock_guard<std::mutex> guard{mtx};
    return refused;
  }
};

/// Passes appends on to the real journal, but fails those the plan
/// refuses, as a failed disk write does.
weft::journal_actor::behavior_type failing_journal(
  weft::journal_actor::pointer self, weft::journal_actor real,
  std::shared_ptr<failure_plan> plan) {
  return {
    [self, real, plan](atom::append, std::vector<weft::journal_record>& records)
      -> caf::result<uint64_t> {
      if (plan->refuse(records))
        return weft::make_weft_error(weft::errc::io_error,
                                     "journal write failed (injected)");
      return self->delegate(real, atom::append_v, std::move(records));
    },
    [](atom::flush) {},
  };
}

journal_wrapper failing(std::shared_ptr<failure_plan> plan) {
  return [plan](caf::actor_system& sys, weft::journal_actor real) {
    return sys.spawn(failing_journal, std::move(real), plan);
  };
}

/// Nothing is left queued or in flight in the cluster.
bool settled(node& n) {
  auto c = n.cluster();
  return c.queued == 0 && c.dispatched == 0;
}

} // namespace

TEST_CASE("finished jobs: a job actor whose journal write fails is "
          "restarted from the journal and its job completes") {
  temp_dir dir;
  reset_counts();
  counted_fail_pending = false;
  auto plan = std::make_shared<failure_plan>();
  plan->kind = weft::core::event_kind::task_computed;
  plan->task = 2; // leaf 2's completion is refused once
  weft::orchestrator_options opts;
  opts.data_dir = dir.path;
  opts.fsync = false;
  std::string id;
  {
    node n{opts, failing(plan)};
    n.add_runner<fin_counted_root, fin_counted_leaf>(2);
    auto jobs = n.jobs();
    id = jobs.submit("survives", fin_counted_root{3}).id;
    // Asked before the actor dies: answered by the one that replaces it.
    auto waited = std::async(std::launch::async, [jobs, id]() mutable {
      return jobs.wait(id, 60s);
    });
    auto watched = std::async(std::launch::async, [jobs, id]() mutable {
      return jobs.watch(
        id, [](const weft::progress_update&) {}, 60s);
    });
    REQUIRE(waited.wait_for(60s) == std::future_status::ready);
    REQUIRE(watched.wait_for(10s) == std::future_status::ready);
    CHECK(watched.get().state == weft::job_state::completed);
    auto done = waited.get();
    CHECK(done.state == weft::job_state::completed);
    CHECK(plan->refusals() == 1);
    auto tasks = jobs.tasks(id);
    REQUIRE(tasks.size() == 4);
    for (const auto& t : tasks)
      CHECK(t.state == weft::task_state::computed);
    CHECK(executions[0].load() == 1); // its completion was on disk
    CHECK(executions[2].load() == 2); // its completion was lost with the actor
    CHECK(executions[1].load() >= 1);
    CHECK(executions[3].load() >= 1);
    CHECK(n.jobs().find(id).state == weft::job_state::completed);
  }
  // What is on disk replays to the same completed job.
  node n{opts};
  CHECK(n.jobs().find(id).state == weft::job_state::completed);
}

TEST_CASE("finished jobs: a job actor killed without a data directory is "
          "restarted from its graph, its running attempt requeued") {
  gate_executions = 0;
  gate_reached = false;
  gate_open = false;
  weft::orchestrator_options opts;
  node n{opts};
  n.add_runner<fin_gate_root, fin_gate, fin_noop>(2);
  auto jobs = n.jobs();
  auto id = jobs.submit("killed", fin_gate_root{}).id;
  auto waited = std::async(std::launch::async,
                           [jobs, id]() mutable { return jobs.wait(id, 60s); });
  auto watched = std::async(std::launch::async, [jobs, id]() mutable {
    return jobs.watch(
      id, [](const weft::progress_update&) {}, 60s);
  });
  REQUIRE(wait_until([] { return gate_reached.load(); }, 30s));
  // The actor of the job is the one that sends its watchers updates.
  auto log = std::make_shared<watch_log>();
  auto w = n.sys().spawn(watcher_fn, log);
  n.watchers.push_back(caf::actor_cast<caf::actor>(w));
  {
    caf::scoped_actor self{n.sys()};
    self->request(n.orch.service, 10s, atom::watch_v, id, w)
      .receive([](bool) {}, [](caf::error& e) { FAIL(caf::to_string(e)); });
  }
  REQUIRE(wait_until([&] { return static_cast<bool>(log->sender()); }, 10s));
  caf::anon_send_exit(log->sender(), caf::exit_reason::kill);
  REQUIRE(wait_until([&] { return log->gone(); }, 10s));
  gate_open = true;
  REQUIRE(waited.wait_for(60s) == std::future_status::ready);
  CHECK(waited.get().state == weft::job_state::completed);
  REQUIRE(watched.wait_for(10s) == std::future_status::ready);
  CHECK(watched.get().state == weft::job_state::completed);
  auto tasks = jobs.tasks(id);
  REQUIRE(tasks.size() == 3);
  for (const auto& t : tasks)
    CHECK(t.state == weft::task_state::computed);
  // The gate ran again: the result of its first run went to the dead actor.
  CHECK(gate_executions.load() == 2);
  CHECK(tasks[1].attempts == 2);
}

TEST_CASE("finished jobs: a job actor that keeps dying is restarted three "
          "times, then its job answers FAILED with the reason") {
  temp_dir dir;
  reset_counts();
  counted_fail_pending = false;
  auto plan = std::make_shared<failure_plan>();
  plan->kind = weft::core::event_kind::task_started;
  plan->task = 0; // the root never gets its start written
  plan->failures_left = 100;
  weft::orchestrator_options opts;
  opts.data_dir = dir.path;
  opts.fsync = false;
  std::string id;
  {
    node n{opts, failing(plan)};
    n.add_runner<fin_counted_root, fin_counted_leaf>(1);
    auto jobs = n.jobs();
    id = jobs.submit("doomed", fin_counted_root{1}).id;
    auto waited = std::async(std::launch::async, [jobs, id]() mutable {
      return jobs.wait(id, 60s);
    });
    auto watched = std::async(std::launch::async, [jobs, id]() mutable {
      return jobs.watch(
        id, [](const weft::progress_update&) {}, 60s);
    });
    REQUIRE(
      wait_until([&] { return jobs.find(id).state == weft::job_state::failed; },
                 30s));
    CHECK(plan->refusals() == 4); // the first actor and three restarts
    try {
      jobs.tasks(id);
      FAIL("tasks of a job whose actor could not be kept running");
    } catch (const weft::error& e) {
      CHECK(e.code() == weft::errc::invalid_state);
      CHECK_THAT(e.what(), Catch::Contains("stopped 4 times")
                             && Catch::Contains(id)
                             && Catch::Contains("injected"));
    }
    CHECK(jobs.wait(id, 5s).state == weft::job_state::failed);
    REQUIRE(waited.wait_for(10s) == std::future_status::ready);
    CHECK(waited.get().state == weft::job_state::failed);
    REQUIRE(watched.wait_for(10s) == std::future_status::ready);
    auto last = watched.get();
    CHECK(last.state == weft::job_state::failed);
    CHECK(last.final);
  }
  // Nothing that was refused left a hole: the journal replays, and with a
  // journal that works the job resumes and completes.
  node n{opts};
  n.add_runner<fin_counted_root, fin_counted_leaf>(1);
  CHECK(n.jobs().wait(id, 30s).state == weft::job_state::completed);
}

TEST_CASE("finished jobs: a job actor that died leaves nothing queued or in "
          "flight in its cluster") {
  gate_executions = 0;
  gate_reached = false;
  gate_open = false;
  node n{weft::orchestrator_options{}};
  n.add_runner<fin_gate_root, fin_gate, fin_noop>(2);
  auto jobs = n.jobs();
  auto id = jobs.submit("killed", fin_gate_root{}).id;
  REQUIRE(wait_until([] { return gate_reached.load(); }, 30s));
  auto log = std::make_shared<watch_log>();
  auto w = n.sys().spawn(watcher_fn, log);
  n.watchers.push_back(caf::actor_cast<caf::actor>(w));
  {
    caf::scoped_actor self{n.sys()};
    self->request(n.orch.service, 10s, atom::watch_v, id, w)
      .receive([](bool) {}, [](caf::error& e) { FAIL(caf::to_string(e)); });
  }
  REQUIRE(wait_until([&] { return static_cast<bool>(log->sender()); }, 10s));
  caf::anon_send_exit(log->sender(), caf::exit_reason::kill);
  REQUIRE(wait_until([&] { return log->gone(); }, 10s));
  gate_open = true;
  REQUIRE(jobs.wait(id, 30s).state == weft::job_state::completed);
  CHECK(wait_until([&] { return settled(n); }, 10s));
  auto c = n.cluster();
  INFO("queued " << c.queued << ", dispatched " << c.dispatched);
  CHECK(c.dispatched == 0);
}

// -- 6. query pages -----------------------------------------------------------

TEST_CASE("finished jobs: query pages with limit and cursor, oldest or "
          "newest first") {
  temp_dir dir;
  bool with_data_dir = false;
  SECTION("with a data directory") {
    with_data_dir = true;
  }
  SECTION("without a data directory") {
  }
  weft::local_cluster_options opts;
  opts.runners = {};
  if (with_data_dir)
    opts.orchestrator.data_dir = dir.path;
  opts.orchestrator.fsync = false;
  std::vector<std::string> ids;
  auto lc = std::make_unique<weft::local_cluster>(opts);
  for (int i = 0; i < 25; ++i)
    ids.push_back(
      lc->jobs().submit(i % 2 == 0 ? "even" : "odd", fin_noop{}).id);
  REQUIRE(std::is_sorted(ids.begin(), ids.end()));
  auto page_through = [&](weft::job_query q) {
    std::vector<std::vector<std::string>> pages;
    for (;;) {
      auto page = lc->jobs().query(q);
      if (page.empty())
        break;
      REQUIRE(pages.size() < 10);
      pages.emplace_back();
      for (const auto& j : page)
        pages.back().push_back(j.id);
      q.cursor = page.back().id;
    }
    return pages;
  };
  auto check_paging = [&] {
    auto pages = page_through({.limit = 10});
    REQUIRE(pages.size() == 3);
    CHECK(pages[0].size() == 10);
    CHECK(pages[1].size() == 10);
    CHECK(pages[2].size() == 5);
    std::vector<std::string> all;
    for (const auto& p : pages)
      all.insert(all.end(), p.begin(), p.end());
    CHECK(all == ids);

    auto reversed = page_through({.limit = 10, .newest_first = true});
    REQUIRE(reversed.size() == 3);
    CHECK(reversed[0].size() == 10);
    CHECK(reversed[1].size() == 10);
    CHECK(reversed[2].size() == 5);
    std::vector<std::string> back;
    for (const auto& p : reversed)
      back.insert(back.end(), p.begin(), p.end());
    CHECK(back == std::vector<std::string>(ids.rbegin(), ids.rend()));

    // With a filter, a page holds `limit` matches.
    auto odd = page_through({.name = "odd", .limit = 5});
    REQUIRE(odd.size() == 3);
    CHECK(odd[0].size() == 5);
    CHECK(odd[1].size() == 5);
    CHECK(odd[2].size() == 2);
    std::vector<std::string> odd_all;
    for (const auto& p : odd)
      odd_all.insert(odd_all.end(), p.begin(), p.end());
    std::vector<std::string> odd_ids;
    for (size_t i = 1; i < ids.size(); i += 2)
      odd_ids.push_back(ids[i]);
    CHECK(odd_all == odd_ids);

    // A cursor in the middle, either way.
    auto after = lc->jobs().query({.limit = 3, .cursor = ids[11]});
    REQUIRE(after.size() == 3);
    CHECK(after[0].id == ids[12]);
    CHECK(after[2].id == ids[14]);
    auto before
      = lc->jobs().query({.limit = 3, .cursor = ids[11], .newest_first = true});
    REQUIRE(before.size() == 3);
    CHECK(before[0].id == ids[10]);
    CHECK(before[2].id == ids[8]);
    // Without a limit: everything.
    CHECK(lc->jobs().query().size() == 25);
  };
  {
    INFO("as submitted");
    check_paging();
  }
  if (!with_data_dir)
    return;
  lc.reset();
  lc = std::make_unique<weft::local_cluster>(opts);
  {
    INFO("after a restart, from the index on disk");
    check_paging();
  }
}
