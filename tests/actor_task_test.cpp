// Actor tasks through the public API on a local_cluster: they run as task
// actors on their runner's actor system, end by done() or fail(), and
// fail by exception or by quitting; many wait at once on few threads;
// cancel, retry and live progress work as for plain tasks.

#include "servers.hpp"
#include "wait.hpp"
#include "weft/actor_task.hpp"
#include "weft/weft.hpp"

#include <caf/all.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>

using namespace std::chrono_literals;

namespace {

using wake_atom = caf::atom_constant<caf::atom("atWake")>;

/// Opened by a test to let waiting actor tasks end (they poll it on a
/// timer, so no task blocks a thread).
std::atomic<bool> gate_open{false};
/// How many actor tasks are between their start and their end, and the
/// most there were at once.
std::atomic<int> in_flight{0};
std::atomic<int> most_in_flight{0};

void entered() {
  auto n = ++in_flight;
  for (auto m = most_in_flight.load(); n > m;)
    if (most_in_flight.compare_exchange_weak(m, n))
      break;
}

weft::local_cluster_options options(uint32_t slots,
                                    uint32_t actor_slots = 10000) {
  weft::local_cluster_options opts;
  opts.runners = {weft::runner_options{}};
  opts.runners[0].slots = slots;
  opts.runners[0].actor_slots = actor_slots;
  opts.runners[0].progress_interval = 20ms;
  opts.orchestrator.progress_interval = 50ms;
  opts.scheduler_threads = 2;
  return opts;
}

} // namespace

// A plain task, submitted by actor tasks.
struct at_leaf {
  uint32_t n = 0;
  void execute(weft::context& ctx) const {
    ctx.set_display("leaf " + std::to_string(n));
  }
};
BOOST_DESCRIBE_STRUCT(at_leaf, (), (n))

// Waits on a timer, then reports progress, submits subtasks and ends.
struct at_timer {
  uint32_t ms = 20;
  uint32_t leaves = 0;
  caf::behavior execute(weft::actor_context& ctx) const {
    ctx.progress("waits").add(1);
    ctx.self()->delayed_send(ctx.self(), std::chrono::milliseconds{ms},
                             wake_atom::value);
    return {
      [this, &ctx](wake_atom) {
        ctx.progress("waits").done(1);
        for (uint32_t i = 0; i < leaves; ++i)
          ctx.submit_subtask(at_leaf{i});
        ctx.set_display("woke after " + std::to_string(ms) + " ms");
        ctx.logger().info("woke", {{"leaves", leaves}});
        ctx.done();
      },
    };
  }
};
BOOST_DESCRIBE_STRUCT(at_timer, (), (ms, leaves))

// Ends its attempt in one of the ways an attempt fails.
struct at_failing {
  std::string how; // "fail", "throw", "quit"
  caf::behavior execute(weft::actor_context& ctx) const {
    ctx.submit_subtask(at_leaf{7}); // dropped: the attempt fails
    ctx.self()->delayed_send(ctx.self(), 10ms, wake_atom::value);
    return {
      [this, &ctx](wake_atom) {
        if (how == "fail")
          ctx.fail("the tile service said no");
        else if (how == "throw")
          throw std::runtime_error("boom in a handler");
        else
          ctx.self()->quit();
      },
    };
  }
};
BOOST_DESCRIBE_STRUCT(at_failing, (), (how))

// Throws from execute itself, before it returns a behavior.
struct at_throws_early {
  caf::behavior execute(weft::actor_context&) const {
    throw std::runtime_error("no behavior for you");
  }
};
BOOST_DESCRIBE_STRUCT(at_throws_early, (), ())

TEST_CASE("actor tasks: one completes after a timer, with subtasks, "
          "progress, display and logs") {
  weft::local_cluster lc{options(1)};
  lc.register_tasks<at_timer, at_leaf>();
  lc.start();
  auto jobs = lc.jobs();
  auto job = jobs.submit("timer", at_timer{30, 3});
  auto done = jobs.wait(job.id, 60s);
  REQUIRE(done.state == weft::job_state::completed);
  CHECK(done.stats.total_tasks == 4);
  CHECK(done.stats.count(weft::task_state::computed) == 4);
  REQUIRE(done.progress.size() == 1);
  CHECK(done.progress[0].label == "waits");
  CHECK(done.progress[0].done == 1);
  CHECK(done.progress[0].total == 1);
  auto tasks = jobs.tasks(job.id);
  REQUIRE(tasks.size() == 4);
  CHECK(tasks[0].display == "woke after 30 ms");
  CHECK(tasks[0].subtasks.size() == 3);
  REQUIRE(tasks[0].history.size() == 1);
  REQUIRE(tasks[0].history[0].logs.size() == 1);
  CHECK(tasks[0].history[0].logs[0].message == "woke");
  CHECK(tasks[1].display == "leaf 0");
  auto clusters = jobs.clusters();
  REQUIRE(clusters.size() == 1);
  REQUIRE(clusters[0].runners.size() == 1);
  CHECK(clusters[0].runners[0].actor_slots == 10000);
  REQUIRE(clusters[0].runners[0].actor_tasks.size() == 1);
  CHECK(clusters[0].runners[0].actor_tasks[0].name == "at_timer");
}

TEST_CASE("actor tasks: an attempt fails by fail(), by an exception and by "
          "quitting, and its subtasks are dropped") {
  weft::local_cluster lc{options(1)};
  lc.register_tasks<at_failing, at_throws_early, at_leaf>();
  lc.start();
  auto jobs = lc.jobs();
  auto check_failed = [&](const weft::job_info& job, const std::string& what) {
    auto done = jobs.wait(job.id, 60s);
    CHECK(done.state == weft::job_state::failed);
    auto tasks = jobs.tasks(job.id);
    REQUIRE(tasks.size() == 1); // the subtask went with the attempt
    CHECK(tasks[0].state == weft::task_state::failed);
    REQUIRE(tasks[0].history.size() == 1);
    CHECK_THAT(tasks[0].history[0].error, Catch::Contains(what));
  };
  check_failed(jobs.submit("fail", at_failing{"fail"}),
               "the tile service said no");
  check_failed(jobs.submit("throw", at_failing{"throw"}), "boom in a handler");
  check_failed(jobs.submit("quit", at_failing{"quit"}),
               "exited without done() or fail()");
  check_failed(jobs.submit("early", at_throws_early{}), "no behavior for you");
}

// Wakes after `first`, then every 10 ms until the gate opens, and ends the
// attempt.
caf::behavior done_when_gate_opens(weft::actor_context& ctx,
                                   std::chrono::milliseconds first) {
  ctx.self()->delayed_send(ctx.self(), first, wake_atom::value);
  return {
    [&ctx](wake_atom) {
      if (!gate_open) {
        ctx.self()->delayed_send(ctx.self(), 10ms, wake_atom::value);
        return;
      }
      --in_flight;
      ctx.done();
    },
  };
}

// Waits 200 ms, then until the gate opens.
struct at_gated {
  uint32_t ms = 200;
  caf::behavior execute(weft::actor_context& ctx) const {
    entered();
    return done_when_gate_opens(ctx, std::chrono::milliseconds{ms});
  }
};
BOOST_DESCRIBE_STRUCT(at_gated, (), (ms))

// Submits `n` gated actor tasks.
struct at_fan {
  uint32_t n = 0;
  void execute(weft::context& ctx) const {
    for (uint32_t i = 0; i < n; ++i)
      ctx.submit_subtask(at_gated{200});
  }
};
BOOST_DESCRIBE_STRUCT(at_fan, (), (n))

TEST_CASE("actor tasks: 1,000 wait at once on a runner with 2 thread slots") {
  gate_open = false;
  in_flight = 0;
  most_in_flight = 0;
  weft::local_cluster lc{options(2)};
  lc.register_tasks<at_fan, at_gated>();
  lc.start();
  auto jobs = lc.jobs();
  auto job = jobs.submit("fan", at_fan{1000});
  // The gate holds them until at least half are seen RUNNING together.
  uint64_t most_running = 0;
  bool seen = weft::test::wait_until(
    [&] {
      most_running = std::max(most_running, jobs.find(job.id).running);
      return most_running >= 500;
    },
    120s, 10ms);
  gate_open = true;
  auto done = jobs.wait(job.id, 120s);
  CHECK(seen);
  CHECK(most_running >= 500);
  CHECK(most_in_flight >= 500);
  CHECK(done.state == weft::job_state::completed);
  CHECK(done.stats.count(weft::task_state::computed) == 1001);
}

TEST_CASE("actor tasks: actor slots bound how many run at once") {
  gate_open = false;
  in_flight = 0;
  most_in_flight = 0;
  weft::local_cluster lc{options(2, 3)};
  lc.register_tasks<at_fan, at_gated>();
  lc.start();
  auto jobs = lc.jobs();
  auto job = jobs.submit("fan", at_fan{20});
  REQUIRE(weft::test::wait_until([&] { return in_flight == 3; }, 60s));
  // The rest wait, leased or queued, for one of the three to end (the
  // three starts reach the job within about a millisecond).
  CHECK(weft::test::wait_until([&] { return jobs.find(job.id).running == 3; },
                               60s));
  gate_open = true;
  auto done = jobs.wait(job.id, 120s);
  CHECK(done.state == weft::job_state::completed);
  CHECK(done.stats.count(weft::task_state::computed) == 21);
  CHECK(most_in_flight == 3);
}

TEST_CASE("actor tasks: a cancel revokes the actor leases waiting for a "
          "slot; they never start") {
  gate_open = false;
  in_flight = 0;
  most_in_flight = 0;
  weft::local_cluster lc{options(2, 3)};
  lc.register_tasks<at_fan, at_gated>();
  lc.start();
  auto jobs = lc.jobs();
  auto job = jobs.submit("fan", at_fan{20});
  REQUIRE(weft::test::wait_until([&] { return jobs.find(job.id).running == 3; },
                                 60s));
  // Three run; three more are leased to the runner (its actor window), the
  // rest queued in the cluster. The cancel returns once none of them can
  // start any more.
  CHECK(jobs.cancel(job.id) == 17);
  gate_open = true;
  auto done = jobs.wait(job.id, 60s);
  CHECK(done.state == weft::job_state::canceled);
  CHECK(most_in_flight == 3);
  size_t computed = 0;
  for (const auto& t : jobs.tasks(job.id)) {
    if (t.identifier.name != "at_gated")
      continue;
    if (t.state == weft::task_state::computed) {
      ++computed;
    } else {
      CHECK(t.state == weft::task_state::canceled);
      CHECK(t.attempts == 0);
    }
  }
  CHECK(computed == 3);
}

// Waits until the job is canceled (on_cancel ends it), or, without
// `cooperative`, until the gate opens; either way it submits a subtask.
struct at_cancelable {
  bool cooperative = true;
  caf::behavior execute(weft::actor_context& ctx) const {
    entered();
    ctx.submit_subtask(at_leaf{1});
    if (cooperative) {
      ctx.on_cancel([&ctx] {
        --in_flight;
        ctx.logger().info("canceled");
        ctx.done();
      });
      return {[](wake_atom) {}};
    }
    return done_when_gate_opens(ctx, 10ms);
  }
};
BOOST_DESCRIBE_STRUCT(at_cancelable, (), (cooperative))

struct at_cancel_root {
  uint32_t cooperative = 0;
  uint32_t gated = 0;
  void execute(weft::context& ctx) const {
    for (uint32_t i = 0; i < cooperative; ++i)
      ctx.submit_subtask(at_cancelable{true});
    for (uint32_t i = 0; i < gated; ++i)
      ctx.submit_subtask(at_cancelable{false});
  }
};
BOOST_DESCRIBE_STRUCT(at_cancel_root, (), (cooperative, gated))

TEST_CASE("actor tasks: a cancel lets waiting actor tasks finish, or end "
          "sooner through on_cancel; their subtasks never start") {
  gate_open = false;
  in_flight = 0;
  weft::local_cluster lc{options(2)};
  lc.register_tasks<at_cancel_root, at_cancelable, at_leaf>();
  lc.start();
  auto jobs = lc.jobs();
  auto job = jobs.submit("cancel", at_cancel_root{5, 5});
  REQUIRE(
    weft::test::wait_until([&] { return jobs.find(job.id).running == 10; },
                           60s));
  jobs.cancel(job.id);
  // The cooperative ones end through on_cancel; the others still wait.
  REQUIRE(weft::test::wait_until([&] { return in_flight == 5; }, 60s));
  CHECK(jobs.find(job.id).running == 5);
  gate_open = true;
  auto done = jobs.wait(job.id, 60s);
  CHECK(done.state == weft::job_state::canceled);
  CHECK(done.running == 0);
  auto tasks = jobs.tasks(job.id);
  size_t waiting = 0;
  size_t canceled_leaves = 0;
  for (const auto& t : tasks) {
    if (t.identifier.name == "at_cancelable") {
      ++waiting;
      CHECK(t.state == weft::task_state::computed);
    } else if (t.identifier.name == "at_leaf") {
      CHECK(t.state == weft::task_state::canceled);
      CHECK(t.attempts == 0);
      ++canceled_leaves;
    }
  }
  CHECK(waiting == 10);
  CHECK(canceled_leaves == 10);
}

namespace {
std::atomic<int> flaky_runs{0};
std::atomic<bool> at_broken{true};
} // namespace

// Fails its first attempt, completes the next one.
struct at_flaky {
  caf::behavior execute(weft::actor_context& ctx) const {
    ctx.self()->delayed_send(ctx.self(), 5ms, wake_atom::value);
    return {
      [&ctx](wake_atom) {
        if (++flaky_runs == 1)
          ctx.fail("first attempt fails");
        else
          ctx.done();
      },
    };
  }
};
BOOST_DESCRIBE_STRUCT(at_flaky, (), ())

// Fails while `at_broken` holds.
struct at_until_fixed {
  caf::behavior execute(weft::actor_context& ctx) const {
    if (at_broken)
      throw std::runtime_error("still broken");
    ctx.done();
    return {};
  }
};
BOOST_DESCRIBE_STRUCT(at_until_fixed, (), ())

TEST_CASE("actor tasks: retries, and a job retried after it failed") {
  weft::local_cluster lc{options(1)};
  lc.register_tasks<at_flaky, at_until_fixed>();
  lc.start();
  auto jobs = lc.jobs();
  auto flaky = jobs.submit("flaky", at_flaky{}, {.max_retries = 1});
  auto done = jobs.wait(flaky.id, 60s);
  CHECK(done.state == weft::job_state::completed);
  auto tasks = jobs.tasks(flaky.id);
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0].attempts == 2);
  CHECK(tasks[0].retries_used == 1);

  at_broken = true;
  auto broken = jobs.submit("broken", at_until_fixed{});
  CHECK(jobs.wait(broken.id, 60s).state == weft::job_state::failed);
  at_broken = false;
  CHECK(jobs.retry(broken.id) == 1);
  CHECK(jobs.wait(broken.id, 60s).state == weft::job_state::completed);
}

// Reports progress, then waits for the gate.
struct at_progress {
  caf::behavior execute(weft::actor_context& ctx) const {
    ctx.progress("tiles").add(10);
    ctx.progress("tiles").done(3);
    ctx.self()->delayed_send(ctx.self(), 10ms, wake_atom::value);
    return {
      [&ctx](wake_atom) {
        if (!gate_open) {
          ctx.self()->delayed_send(ctx.self(), 10ms, wake_atom::value);
          return;
        }
        ctx.progress("tiles").done(7);
        ctx.done();
      },
    };
  }
};
BOOST_DESCRIBE_STRUCT(at_progress, (), ())

TEST_CASE("actor tasks: a watcher sees the progress of a waiting actor task "
          "while it waits") {
  gate_open = false;
  weft::local_cluster lc{options(1)};
  lc.register_tasks<at_progress>();
  lc.start();
  auto jobs = lc.jobs();
  auto job = jobs.submit("progress", at_progress{});
  bool seen_live = false;
  auto last = jobs.watch(
    job.id,
    [&](const weft::progress_update& u) {
      for (const auto& p : u.progress)
        if (p.label == "tiles" && p.done == 3 && p.total == 10
            && u.state == weft::job_state::running) {
          seen_live = true;
          gate_open = true; // only now may it end
        }
    },
    60s);
  CHECK(seen_live);
  CHECK(last.final);
  CHECK(last.state == weft::job_state::completed);
  REQUIRE(last.progress.size() == 1);
  CHECK(last.progress[0].done == 10);
}

TEST_CASE("actor tasks: a runner process killed mid-wait loses nothing: its "
          "actor tasks are requeued without spending a retry and complete on "
          "another runner") {
  using namespace weft::test;
  temp_dir dir;
  auto srv = start_server(dir.path, "127.0.0.1:0");
  auto victim = start_runner(dir.path, srv.address(), "default", "victim");
  auto conn = connect(srv.address());
  auto jobs = conn.jobs();
  // On the victim they wait until it is killed; elsewhere 50 ms.
  weft::task_input fan{{"ActorFan", "v1.0"},
                       R"({"tasks":20,"wait_ms":50,"hold_on":"victim"})"};
  auto job = jobs.submit("actor wait", {fan});
  REQUIRE(await_job(
    jobs, job.id, [](const weft::job_info& j) { return j.running == 20; },
    30s));
  victim->kill(); // SIGKILL, mid-wait
  auto survivor = start_runner(dir.path, srv.address(), "default", "survivor");
  auto done = jobs.wait(job.id, 90s);
  REQUIRE(done.state == weft::job_state::completed);
  size_t waited = 0;
  for (const auto& t : jobs.tasks(job.id)) {
    CHECK(t.state == weft::task_state::computed);
    if (t.identifier.name != "ActorWait")
      continue;
    ++waited;
    CHECK(t.retries_used == 0); // a lost runner spends no retry
    CHECK(t.runner_losses == 1);
    CHECK(t.display == "survivor");
  }
  CHECK(waited == 20);
}

// Records when it began and when it ended, under a versioned identifier.
std::mutex step_mtx;
std::vector<std::string> step_events;

void step_event(std::string what) {
  std::lock_guard<std::mutex> guard{step_mtx};
  step_events.push_back(std::move(what));
}

struct at_step {
  std::string name;
  uint32_t ms = 0;
  static weft::task_identifier identifier() {
    return {"tiles/Step", "v2.1"};
  }
  caf::behavior execute(weft::actor_context& ctx) const {
    step_event("begin " + name);
    ctx.self()->delayed_send(ctx.self(), std::chrono::milliseconds{ms},
                             wake_atom::value);
    return {
      [this, &ctx](wake_atom) {
        step_event("end " + name);
        ctx.logger().info("ended", {{"step", name}}); // keeps its attempt
        ctx.done();
      },
    };
  }
};
BOOST_DESCRIBE_STRUCT(at_step, (), (name, ms))

// A plain task submitting actor tasks with dependencies and an optional one.
struct at_graph {
  void execute(weft::context& ctx) const {
    auto a = ctx.submit_subtask(at_step{"a", 40});
    ctx.submit_subtask(at_step{"b", 0}, {.depends_on = {a}});
    auto f = ctx.submit_subtask(at_failing{"fail"}, {.optional = true});
    ctx.submit_subtask(at_step{"c", 0}, {.depends_on = {f}});
  }
};
BOOST_DESCRIBE_STRUCT(at_graph, (), ())

TEST_CASE("actor tasks: dependencies, optional tasks and versions are as "
          "for plain tasks") {
  {
    std::lock_guard<std::mutex> guard{step_mtx};
    step_events.clear();
  }
  weft::local_cluster lc{options(1)};
  lc.register_tasks<at_graph, at_step, at_failing, at_leaf>();
  lc.start();
  auto jobs = lc.jobs();
  auto job = jobs.submit("graph", at_graph{});
  auto done = jobs.wait(job.id, 60s);
  REQUIRE(done.state == weft::job_state::completed);
  auto tasks = jobs.tasks(job.id);
  REQUIRE(tasks.size() == 5);
  // The optional task failed; its dependent ran all the same.
  CHECK(tasks[3].identifier.name == "at_failing");
  CHECK(tasks[3].state == weft::task_state::failed_optional);
  for (size_t i : {1u, 2u, 4u}) {
    CHECK(tasks[i].identifier == weft::task_identifier{"tiles/Step", "v2.1"});
    CHECK(tasks[i].state == weft::task_state::computed);
  }
  std::vector<std::string> events;
  {
    std::lock_guard<std::mutex> guard{step_mtx};
    events = step_events;
  }
  auto at = [&](const std::string& e) {
    return std::find(events.begin(), events.end(), e) - events.begin();
  };
  REQUIRE(events.size() == 6);
  // b began only once a had ended, 40 ms after it began; c only once the
  // optional task it depends on had failed.
  CHECK(at("end a") < at("begin b"));
  REQUIRE(tasks[3].history.size() == 1);
  REQUIRE(tasks[4].history.size() == 1);
  CHECK(tasks[4].history[0].started >= tasks[3].history[0].stopped);
}

TEST_CASE("actor tasks: the registry keeps them as actor tasks, and a thread "
          "refuses to run one") {
  weft::task_registry registry;
  registry.add<at_timer>().add<at_leaf>();
  STATIC_REQUIRE(weft::actor_task_type<at_timer>);
  STATIC_REQUIRE(!weft::plain_task_type<at_timer>);
  STATIC_REQUIRE(weft::plain_task_type<at_leaf>);
  STATIC_REQUIRE(weft::task_type<at_timer>);
  const auto* e = registry.find({"at_timer", "v0.0"});
  REQUIRE(e != nullptr);
  CHECK(e->kind == weft::task_kind::actor);
  CHECK(registry.actor_identifiers()
        == std::vector<weft::task_identifier>{{"at_timer", "v0.0"}});
  weft::attempt_request req{
    "job", 0, 1, {"at_timer", "v0.0"}, R"({"ms":1,"leaves":0})"};
  auto out = weft::execute_attempt(registry, req, nullptr, {}, "r");
  CHECK(!out.succeeded);
  CHECK_THAT(out.error, Catch::Contains("is an actor task"));
}
