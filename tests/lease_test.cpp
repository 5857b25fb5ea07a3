// Leases with `weft server` and runner processes on 127.0.0.1: attempts a
// runner holds beyond its slots are revoked when their job halts, handed
// back when the runner leaves, lost back to the queue when it dies, and keep
// their cluster from being deleted (docs/semantics.md, "Leases"). Every wait
// is bounded; every process is killed at scope exit.
//
// Most of these use the worker's GatedSpread: instant leaves first, so the
// runner measures short attempts and widens its lease window, then gated
// ones that record their start and block their slot until the test creates
// the gate file. With the slots blocked, the runner's window stays full of
// leased attempts, QUEUED at the job, for as long as the test needs.

#include "exposition.hpp"
#include "http_client.hpp"
#include "metrics_scrape.hpp"
#include "servers.hpp"
#include "wait.hpp"

#include <weft/remote.hpp>
#include <weft/weft.hpp>

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

using namespace std::chrono_literals;
using namespace weft::test;
namespace fs = std::filesystem;
using weft::job_state;
using weft::task_state;

namespace {

/// runner_options::max_leases by default: the most a runner holds beyond
/// its slots.
constexpr uint64_t max_leases = 4096;

/// One series of a counter (0 when it is not exported yet).
double counter_value(const http_target& to, const std::string& name,
                     const exposition::labels& by) {
  auto r = http_get(to, "/metrics");
  REQUIRE(r.status == 200);
  auto m = exposition::parsed(r.body);
  if (!m.has(name))
    return 0;
  return m.value(name, by).value_or(0);
}

/// A gated leaf's record of its start, as the worker writes it.
struct start_line {
  uint32_t task = 0;
  std::string runner;
  uint32_t attempt = 0;
};

std::vector<start_line> read_starts(const fs::path& file) {
  std::vector<start_line> out;
  std::ifstream in{file};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words{line};
    std::string tag;
    start_line s;
    if (words >> tag >> s.task >> s.runner >> s.attempt && tag == "START")
      out.push_back(s);
  }
  return out;
}

/// Starts per task index.
std::map<uint32_t, size_t> starts_by_task(const std::vector<start_line>& in) {
  std::map<uint32_t, size_t> out;
  for (const auto& s : in)
    ++out[s.task];
  return out;
}

/// The files of one GatedSpread job. Opening the gate at scope exit frees
/// the runners' blocked threads on every path (the runners are killed
/// anyway, but a failed check must not leave them blocked meanwhile).
struct gated_files {
  fs::path gate;
  fs::path log;
  fs::path marker;
  fs::path trigger;

  explicit gated_files(const fs::path& dir)
      : gate(dir / "gate"), log(dir / "starts"), marker(dir / "marker"),
        trigger(dir / "trigger") {
  }
  ~gated_files() {
    open_gate();
    fail_now();
  }
  gated_files(const gated_files&) = delete;
  gated_files& operator=(const gated_files&) = delete;

  void open_gate() const {
    std::ofstream{gate} << "open\n";
  }
  /// The fails_once leaf fails once this exists.
  void fail_now() const {
    std::ofstream{trigger} << "fail\n";
  }
};

weft::task_input gated_spread(const gated_files& files, uint32_t instant,
                              uint32_t gated, bool fails_once = false,
                              const std::string& cluster = {}) {
  boost::json::object in;
  in["instant"] = instant;
  in["gated"] = gated;
  in["fails_once"] = fails_once;
  in["gate_file"] = files.gate.string();
  in["log_file"] = files.log.string();
  in["marker_file"] = files.marker.string();
  in["trigger_file"] = files.trigger.string();
  in["cluster"] = cluster;
  return {{"GatedSpread", "v1.0"}, boost::json::serialize(in)};
}

/// A GatedLeaf's mode, from its input ("" for other tasks).
std::string mode_of(const weft::task_info& t) {
  if (t.identifier.name != "GatedLeaf")
    return {};
  auto v = boost::json::parse(t.input);
  return std::string{v.as_object().at("mode").as_string()};
}

/// Successful attempts in a task's history (leaves log a line, so every
/// attempt that ran is kept).
size_t successes(const weft::task_info& t) {
  size_t n = 0;
  for (const auto& a : t.history)
    n += a.succeeded;
  return n;
}

/// Waits until every one of `slots` slots is taken, all but `others` by
/// gated leaves, and returns the most attempts the cluster had dispatched
/// and not settled (running plus leased) while they were, once that
/// stopped growing.
uint64_t await_blocked_slots(weft::job_client& jobs, const std::string& job_id,
                             const gated_files& files, uint32_t slots,
                             const std::string& cluster = "default",
                             uint32_t others = 0) {
  REQUIRE(wait_until(
    [&] {
      return read_starts(files.log).size() >= slots - others
             && jobs.find(job_id).running >= slots;
    },
    20s, 10ms));
  // The window was sized when the last instant leaf finished; its credit
  // may still be on its way. Settled once it holds for a few polls.
  uint64_t held = 0;
  int steady = 0;
  wait_until(
    [&] {
      auto now = jobs.find_cluster(cluster).dispatched;
      steady = now == held ? steady + 1 : 0;
      held = std::max(held, now);
      return steady >= 10;
    },
    5s, 20ms);
  return held;
}

/// What every lease test starts from: a server with its HTTP listener (for
/// the metrics), in a fresh directory with the gate files, and a client.
/// Runners are the test's own, started after it and stopped before it.
struct lease_lab {
  temp_dir dir{"weft-lease-"};
  gated_files files{dir.path};
  server_process srv
    = start_server(dir.path, "127.0.0.1:0", {"--http", "127.0.0.1:0"});
  http_target http{http_port_of(*srv.proc), {}, {}};
  weft::remote::connection conn = connect(srv.address());
  weft::job_client jobs = conn.jobs();
};

} // namespace

TEST_CASE_METHOD(
  lease_lab,
  "lease: a cancel with thousands of leases held returns only once "
  "no attempt of the job can start any more",
  "[remote][lease]") {
  constexpr uint32_t slots = 4;
  constexpr uint32_t instant = 100;
  // More than the widest window takes: the rest waits in the cluster.
  constexpr uint32_t gated = 4500;
  auto runner = start_runner(dir.path, srv.address(), "default", "holder",
                             {"--slots", std::to_string(slots)});
  auto job = jobs.submit("cancel with leases held",
                         {gated_spread(files, instant, gated)});

  auto held = await_blocked_slots(jobs, job.id, files, slots);
  auto before = jobs.find(job.id);
  auto cluster = jobs.find_cluster("default");
  WARN("cancel: " << held << " attempts dispatched to the runner (" << slots
                  << " slots), " << cluster.queued
                  << " queued in the cluster; the job has " << before.running
                  << " RUNNING, " << before.stats.count(task_state::queued)
                  << " QUEUED");
  // Whatever is not COMPUTED is at the runner or waits in the cluster.
  CHECK(cluster.dispatched + cluster.queued
        == before.stats.total_tasks - before.stats.count(task_state::computed));
  // Only the slots run; what is leased beyond them is QUEUED at the job.
  CHECK(before.running == slots);
  CHECK(before.stats.count(task_state::queued) + slots
        == before.stats.total_tasks - before.stats.count(task_state::computed));
  // The window follows the last attempts' mean duration: for attempts this
  // short it is mostly max_leases, smaller when the last instant leaves
  // were slowed down (a busy machine). Leases beyond the slots it always
  // holds, never more than max_leases.
  CHECK(held > slots);
  CHECK(held <= slots + max_leases);
  if (held < slots + 1000)
    WARN("cancel: the window came out at " << held - slots
                                           << " leases, not thousands");

  auto canceled = jobs.cancel(job.id);
  auto starts_at_cancel = read_starts(files.log).size();
  files.open_gate();
  auto done = jobs.wait(job.id, 30s);
  REQUIRE(done.state == job_state::canceled);
  // What started before the cancel finishes; nothing leased starts after.
  auto starts = read_starts(files.log);
  auto after_cancel = starts.size() - starts_at_cancel;
  WARN("cancel: canceled " << canceled << " tasks; " << starts_at_cancel
                           << " gated leaves had started when it returned, "
                           << after_cancel << " started after");
  CHECK(starts_at_cancel == slots);
  CHECK(after_cancel <= 8); // the design gives 0
  auto started = starts_by_task(starts);

  auto tasks = jobs.tasks(job.id);
  REQUIRE(tasks.size() == 1 + instant + gated);
  uint64_t in_state_canceled = 0;
  size_t gated_computed = 0;
  for (const auto& t : tasks) {
    INFO("task " << t.index << " " << weft::to_string(t.state) << " attempts "
                 << t.attempts);
    in_state_canceled += t.state == task_state::canceled;
    auto mode = mode_of(t);
    if (mode == "instant") {
      // Ahead of the gated leaves, unless a shrinking window handed it back
      // (dispatched again behind them): then the cancel took it.
      CHECK((t.state == task_state::computed
             || (t.state == task_state::canceled && t.attempts == 0)));
    } else if (mode == "gated") {
      if (started.count(t.index) > 0) {
        // Nothing canceled ever executed: what started is COMPUTED, once.
        CHECK(started[t.index] == 1);
        CHECK(t.state == task_state::computed);
        CHECK(successes(t) == 1);
        ++gated_computed;
      } else {
        CHECK(t.state == task_state::canceled);
        CHECK(t.attempts == 0);
        CHECK(t.history.empty());
      }
    }
  }
  CHECK(gated_computed == starts.size());
  CHECK(canceled == in_state_canceled);
  CHECK(done.stats.count(task_state::canceled) == in_state_canceled);
  // The revocation settled every lease: the cluster holds nothing of it.
  CHECK(wait_until(
    [&] {
      auto c = jobs.find_cluster("default");
      return c.dispatched == 0 && c.queued == 0;
    },
    10s, 20ms));
}

TEST_CASE_METHOD(
  lease_lab,
  "lease: a cancel while the slots run through leases at full speed: "
  "nothing starts after it returns",
  "[remote][lease]") {
  constexpr uint32_t slots = 4;
  constexpr uint32_t gated = 10000;
  // The gate is open from the start: the gated leaves record their start
  // and return (short attempts: a wide window), so slots take leases as
  // fast as they can when the cancel revokes them.
  files.open_gate();
  auto runner = start_runner(dir.path, srv.address(), "default", "busy",
                             {"--slots", std::to_string(slots)});
  auto job
    = jobs.submit("cancel at full speed", {gated_spread(files, 0, gated)});
  REQUIRE(wait_until([&] { return read_starts(files.log).size() >= 1000; }, 20s,
                     1ms));
  auto canceled = jobs.cancel(job.id);
  auto starts_at_cancel = read_starts(files.log).size();
  auto done = jobs.wait(job.id, 30s);
  REQUIRE(done.state == job_state::canceled);
  auto tasks = jobs.tasks(job.id);
  REQUIRE(tasks.size() == 1 + gated);
  auto rejected = [&](const char* kind) {
    return counter_value(http, "weft_attempt_reports_rejected_total",
                         {{"kind", kind}});
  };
  // A slot that took a lease just before the revocation may write its
  // START line after the job settled (it no longer counts there). Each
  // leaf that ran has a line and reported its start: accepted, it is
  // COMPUTED, else rejected. Read the lines once they are all there.
  size_t computed = 0;
  for (const auto& t : tasks)
    computed += mode_of(t) == "gated" && t.state == task_state::computed;
  CHECK(wait_until(
    [&] {
      return static_cast<double>(read_starts(files.log).size())
             == static_cast<double>(computed) + rejected("start");
    },
    10s, 20ms));
  auto starts = read_starts(files.log);
  auto after_cancel = starts.size() - starts_at_cancel;
  CHECK(after_cancel <= 8); // the design gives 0
  auto started = starts_by_task(starts);

  uint64_t in_state_canceled = 0;
  size_t started_then_canceled = 0;
  for (const auto& t : tasks) {
    INFO("task " << t.index << " " << weft::to_string(t.state) << " attempts "
                 << t.attempts);
    in_state_canceled += t.state == task_state::canceled;
    if (mode_of(t) != "gated")
      continue;
    if (started.count(t.index) > 0) {
      CHECK(started[t.index] == 1);
      // Started before the revocation reached the runner: it finished, or
      // its start reached the job after the cancel and counts for nothing.
      CHECK(
        (t.state == task_state::computed || t.state == task_state::canceled));
      if (t.state == task_state::canceled) {
        ++started_then_canceled;
        CHECK(t.attempts == 0);
      } else {
        CHECK(successes(t) == 1);
      }
    } else {
      CHECK(t.state == task_state::canceled);
      CHECK(t.attempts == 0);
    }
  }
  CHECK(canceled == in_state_canceled);
  // Each start and each result of what ran but was reported after the
  // cancel is a stale report, counted once.
  auto wanted = static_cast<double>(started_then_canceled);
  CHECK(rejected("start") == wanted);
  CHECK(wait_until([&] { return rejected("result") >= wanted; }, 10s, 50ms));
  CHECK(rejected("result") == wanted);
  WARN("cancel at full speed: "
       << starts_at_cancel << " leaves had started when it returned, "
       << after_cancel << " started after; " << started_then_canceled
       << " ran but were reported after the cancel (CANCELED, their reports "
          "rejected); canceled "
       << canceled << " tasks; "
       << counter_sum(http, "weft_attempts_requeued_total").value_or(0)
       << " attempts requeued");
}

TEST_CASE_METHOD(
  lease_lab,
  "lease: a failing task revokes the job's leases, and a retry runs "
  "them under new ones",
  "[remote][lease]") {
  constexpr uint32_t slots = 4;
  constexpr uint32_t instant = 100;
  constexpr uint32_t gated = 2000;
  auto runner = start_runner(dir.path, srv.address(), "default", "holder",
                             {"--slots", std::to_string(slots)});
  // The fails_once leaf (max_retries 0) takes a slot first and fails when
  // the test says: once the gated leaves block the other slots and the
  // runner holds the rest of them as leases.
  auto job = jobs.submit("failure with leases held",
                         {gated_spread(files, instant, gated, true)});
  auto held = await_blocked_slots(jobs, job.id, files, slots, "default", 1);
  CHECK(held > slots);
  files.fail_now();
  REQUIRE(await_job(
    jobs, job.id,
    [](const weft::job_info& j) { return j.state == job_state::failed; }, 20s));
  // FAILED shows before the runner confirmed the revocation (the job does
  // not wait for it): once it did, the cluster settled every dropped lease
  // and holds only the attempts that slots took.
  REQUIRE(wait_until(
    [&] {
      return jobs.find_cluster("default").dispatched
             <= read_starts(files.log).size();
    },
    10s, 10ms));
  auto at_failure = read_starts(files.log).size();
  files.open_gate();
  auto failed = jobs.wait(job.id, 30s);
  REQUIRE(failed.state == job_state::failed);
  // Only the attempts that slots had taken ran: the blocked ones, and the
  // one the failed leaf's slot may have taken before the revocation came.
  auto before_retry = read_starts(files.log);
  CHECK(before_retry.size() <= slots);
  auto started_before = starts_by_task(before_retry);

  auto tasks = jobs.tasks(job.id);
  REQUIRE(tasks.size() == 1 + 1 + instant + gated);
  uint64_t to_retry = 0;
  size_t started_then_canceled = 0;
  std::set<uint32_t> canceled_unstarted;
  for (const auto& t : tasks) {
    INFO("task " << t.index << " " << weft::to_string(t.state) << " attempts "
                 << t.attempts);
    to_retry
      += t.state == task_state::failed || t.state == task_state::canceled;
    auto mode = mode_of(t);
    if (mode == "instant") {
      // A shrinking window may have handed one back behind the gated
      // leaves: then the failure canceled it.
      CHECK((t.state == task_state::computed
             || (t.state == task_state::canceled && t.attempts == 0)));
    } else if (mode == "fails_once") {
      CHECK(t.state == task_state::failed);
    } else if (mode == "gated") {
      if (started_before.count(t.index) > 0) {
        // Started before the revocation: it finished, or its start reached
        // the job after the failure and counts for nothing.
        CHECK(
          (t.state == task_state::computed || t.state == task_state::canceled));
        started_then_canceled += t.state == task_state::canceled;
      } else {
        CHECK(t.state == task_state::canceled);
        CHECK(t.attempts == 0);
        canceled_unstarted.insert(t.index);
      }
    }
  }
  CHECK(canceled_unstarted.size() >= gated - slots);
  // Their starts reached the job after it halted, and their results came
  // under revoked leases: both rejected, and counted.
  auto rejected = [&](const char* kind) {
    return counter_value(http, "weft_attempt_reports_rejected_total",
                         {{"kind", kind}});
  };
  auto wanted = static_cast<double>(started_then_canceled);
  CHECK(rejected("start") == wanted);
  CHECK(wait_until([&] { return rejected("result") >= wanted; }, 10s, 50ms));
  CHECK(rejected("result") == wanted);

  auto requeued = jobs.retry(job.id);
  CHECK(requeued == to_retry);
  auto done = jobs.wait(job.id, 30s);
  REQUIRE(done.state == job_state::completed);
  auto starts = starts_by_task(read_starts(files.log));
  auto final_tasks = jobs.tasks(job.id);
  REQUIRE(final_tasks.size() == tasks.size());
  size_t ran_twice = 0;
  for (const auto& t : final_tasks) {
    INFO("task " << t.index << " " << weft::to_string(t.state) << " attempts "
                 << t.attempts);
    CHECK(t.state == task_state::computed);
    auto mode = mode_of(t);
    if (mode.empty())
      continue;
    // COMPUTED exactly once, whatever ran under a revoked lease.
    CHECK(successes(t) == 1);
    if (mode == "fails_once") {
      CHECK(t.attempts == 2);
      CHECK(t.history.size() == 2);
    } else if (mode == "gated") {
      if (canceled_unstarted.count(t.index) > 0) {
        // Canceled by the failure before any slot took it: it executed
        // once in all, under the retry's lease.
        CHECK(starts[t.index] == 1);
        CHECK(t.attempts == 1);
      } else {
        ran_twice += starts[t.index] > 1;
      }
    }
  }
  WARN("failure: " << held << " attempts held at the failure; "
                   << before_retry.size() << " gated leaves started ("
                   << at_failure << " before the gate opened), "
                   << started_then_canceled
                   << " of them reported after the failure (start and result "
                      "rejected); "
                   << canceled_unstarted.size()
                   << " canceled unstarted; retry requeued " << requeued << "; "
                   << ran_twice << " ran again under the retry");
  CHECK(ran_twice == started_then_canceled);
}

TEST_CASE_METHOD(
  lease_lab,
  "lease: a runner killed while it holds leases loses them back to "
  "the queue without spending a retry",
  "[remote][lease]") {
  constexpr uint32_t leaves = 2000;
  auto executions = (dir.path / "executions").string();
  auto victim = start_runner(dir.path, srv.address(), "default", "victim",
                             {"--executions", executions});
  auto survivor = start_runner(dir.path, srv.address(), "default", "survivor",
                               {"--executions", executions});
  // Leaves of a millisecond: each runner holds a few beyond its 2 slots.
  auto job
    = jobs.submit("kill a leaseholder", {spread(leaves, 1, {"default"})});
  uint64_t held = 0;
  REQUIRE(wait_until(
    [&] {
      auto j = jobs.find(job.id);
      auto c = jobs.find_cluster("default");
      held = std::max(held, c.dispatched);
      return j.stats.count(task_state::computed) >= leaves / 4
             && c.dispatched > j.running;
    },
    20s, 5ms));
  victim->kill();
  auto done = jobs.wait(job.id, 30s);
  REQUIRE(done.state == job_state::completed);
  auto tasks = jobs.tasks(job.id);
  REQUIRE(tasks.size() == leaves + 1);
  uint64_t losses = 0;
  for (const auto& t : tasks) {
    INFO("task " << t.index << " attempts " << t.attempts << " losses "
                 << t.runner_losses);
    CHECK(t.state == task_state::computed);
    CHECK(t.retries_used == 0); // a lost runner spends no retry
    losses += t.runner_losses;
    if (t.identifier.name == "Leaf")
      CHECK(successes(t) == 1);
  }
  // Running attempts lost count as runner losses; leased ones go back to
  // the queue as they were. Both are requeued.
  auto requeued = static_cast<uint64_t>(
    counter_sum(http, "weft_attempts_requeued_total").value_or(0));
  WARN("kill: up to " << held << " attempts dispatched to the two runners; "
                      << requeued << " requeued: " << losses
                      << " runner losses, the rest leases lost with the "
                         "victim or handed back by a shrinking window");
  CHECK(requeued >= 1);
  CHECK(requeued >= losses);
  CHECK(jobs.find_cluster("default").runners.size() == 1);
}

TEST_CASE_METHOD(lease_lab,
                 "lease: a runner that stops hands its leases back and exits "
                 "without waiting for them",
                 "[remote][lease]") {
  constexpr uint32_t leaves = 2000;
  auto executions = (dir.path / "executions").string();
  // A grace period longer than the test: held leases it waited for would
  // keep it from exiting within the bound below.
  auto leaving
    = start_runner(dir.path, srv.address(), "default", "leaving",
                   {"--executions", executions, "--grace-ms", "120000"});
  auto staying = start_runner(dir.path, srv.address(), "default", "staying",
                              {"--executions", executions});
  auto job
    = jobs.submit("stop a leaseholder", {spread(leaves, 1, {"default"})});
  REQUIRE(wait_until(
    [&] {
      auto j = jobs.find(job.id);
      return j.stats.count(task_state::computed) >= leaves / 4
             && jobs.find_cluster("default").dispatched > j.running;
    },
    20s, 5ms));
  leaving->signal(SIGTERM);
  CHECK(leaving->wait(20s) == 0);
  CHECK_THAT(leaving->output(), Catch::Contains("stopped leaving"));
  auto done = jobs.wait(job.id, 30s);
  REQUIRE(done.state == job_state::completed);
  auto tasks = jobs.tasks(job.id);
  REQUIRE(tasks.size() == leaves + 1);
  CHECK(done.stats.count(task_state::queued) == 0);
  uint64_t losses = 0;
  for (const auto& t : tasks) {
    INFO("task " << t.index << " attempts " << t.attempts);
    CHECK(t.state == task_state::computed);
    CHECK(t.retries_used == 0);
    losses += t.runner_losses;
    if (t.identifier.name == "Leaf") {
      CHECK(successes(t) == 1);
      CHECK(t.attempts == 1); // handed back unstarted: no attempt spent
    }
  }
  // Its running attempts finished within the grace period: nothing lost.
  CHECK(losses == 0);
  auto handed_back = static_cast<uint64_t>(
    counter_sum(http, "weft_leases_handed_back_total").value_or(0));
  WARN("stop: " << handed_back
                << " leases handed back: by the leaving runner, and by "
                   "shrinking windows");
  // Nothing was lost: a hand-back is not a requeue after a loss.
  CHECK(counter_sum(http, "weft_attempts_requeued_total").value_or(0) == 0);
  CHECK(jobs.find_cluster("default").runners.size() == 1);
}

TEST_CASE_METHOD(
  lease_lab,
  "lease: a runner killed with its slots blocked loses its thousands "
  "of leases back to the queue, no retry spent",
  "[remote][lease]") {
  constexpr uint32_t slots = 2;
  constexpr uint32_t instant = 100;
  constexpr uint32_t gated = 2000;
  auto victim = start_runner(dir.path, srv.address(), "default", "victim",
                             {"--slots", std::to_string(slots)});
  auto job = jobs.submit("kill a blocked leaseholder",
                         {gated_spread(files, instant, gated)});
  auto held = await_blocked_slots(jobs, job.id, files, slots);
  CHECK(held > slots);
  // Joins now: it takes what the victim did not lease (and blocks on it),
  // then what comes back after the kill.
  auto survivor = start_runner(dir.path, srv.address(), "default", "survivor",
                               {"--slots", std::to_string(slots)});
  // Counted so far: what the victim's window handed back while the
  // instant leaves made it swing.
  auto requeued = [&] {
    return counter_sum(http, "weft_attempts_requeued_total").value_or(0);
  };
  auto before = requeued();
  victim->kill();
  // Its running attempts are lost and its leases come back: all requeued.
  CHECK(
    wait_until([&] { return requeued() - before >= static_cast<double>(held); },
               20s, 20ms));
  auto requeued_at_kill = requeued() - before;
  files.open_gate();
  auto done = jobs.wait(job.id, 30s);
  REQUIRE(done.state == job_state::completed);
  auto starts = read_starts(files.log);
  auto by_task = starts_by_task(starts);
  uint64_t losses = 0;
  for (const auto& t : jobs.tasks(job.id)) {
    INFO("task " << t.index << " attempts " << t.attempts << " losses "
                 << t.runner_losses);
    CHECK(t.state == task_state::computed);
    CHECK(t.retries_used == 0);
    losses += t.runner_losses;
    auto mode = mode_of(t);
    if (!mode.empty())
      CHECK(successes(t) == 1);
    // Run again only if it was running on the victim.
    if (mode == "gated")
      CHECK(by_task[t.index] == 1 + t.runner_losses);
  }
  // Only what ran on its slots counts as a loss; the leases went back as
  // they were.
  CHECK(losses == slots);
  WARN("kill with blocked slots: "
       << held << " attempts held by the victim (" << slots << " running); "
       << requeued_at_kill << " requeued after the kill, " << losses
       << " counted as runner losses; " << requeued()
       << " requeued by the end (hand-backs of the survivor's window)");
}

TEST_CASE_METHOD(
  lease_lab,
  "lease: a runner stopped with its slots blocked hands its thousands "
  "of leases back at once",
  "[remote][lease]") {
  constexpr uint32_t slots = 2;
  constexpr uint32_t instant = 100;
  constexpr uint32_t gated = 2000;
  // A grace period longer than the test: it exits once its running
  // attempts are done, whatever it leased.
  auto leaving
    = start_runner(dir.path, srv.address(), "default", "leaving",
                   {"--slots", std::to_string(slots), "--grace-ms", "120000"});
  auto job = jobs.submit("stop a blocked leaseholder",
                         {gated_spread(files, instant, gated)});
  auto held = await_blocked_slots(jobs, job.id, files, slots);
  CHECK(held > slots);
  auto staying = start_runner(dir.path, srv.address(), "default", "staying",
                              {"--slots", std::to_string(slots)});
  // Counted so far: what its window handed back while the instant leaves
  // made it swing.
  auto requeued = [&] {
    return counter_sum(http, "weft_leases_handed_back_total").value_or(0);
  };
  auto before = requeued();
  leaving->signal(SIGTERM);
  // With its slots still blocked, every lease no slot took goes back.
  CHECK(wait_until(
    [&] { return requeued() - before >= static_cast<double>(held - slots); },
    20s, 20ms));
  auto handed_back = requeued() - before;
  // The two it runs finish once the gate opens; then it exits.
  files.open_gate();
  CHECK(leaving->wait(20s) == 0);
  CHECK_THAT(leaving->output(), Catch::Contains("stopped leaving"));
  auto done = jobs.wait(job.id, 30s);
  REQUIRE(done.state == job_state::completed);
  auto by_task = starts_by_task(read_starts(files.log));
  size_t on_leaving = 0;
  for (const auto& t : jobs.tasks(job.id)) {
    INFO("task " << t.index << " attempts " << t.attempts);
    CHECK(t.state == task_state::computed);
    CHECK(t.retries_used == 0);
    CHECK(t.runner_losses == 0);
    if (mode_of(t) == "gated") {
      // Handed back unstarted: executed once, by whoever took it.
      CHECK(t.attempts == 1);
      CHECK(by_task[t.index] == 1);
      CHECK(successes(t) == 1);
      on_leaving += t.history.size() == 1 && t.history[0].runner == "leaving";
    }
  }
  CHECK(on_leaving == slots);
  WARN("stop with blocked slots: "
       << held << " attempts held by the leaving runner (" << slots
       << " running); " << handed_back << " handed back; " << requeued()
       << " requeued by the end (hand-backs of the staying runner's window)");
}

TEST_CASE_METHOD(
  lease_lab,
  "lease: a cluster whose runner holds leases cannot be deleted, and "
  "its job completes",
  "[remote][lease]") {
  constexpr uint32_t slots = 4;
  constexpr uint32_t instant = 100;
  constexpr uint32_t gated = 1000;
  jobs.create_cluster("leased");
  auto runner = start_runner(dir.path, srv.address(), "leased", "lessee",
                             {"--slots", std::to_string(slots)});
  auto job
    = jobs.submit("leases in a cluster", {gated_spread(files, instant, gated)},
                  {.cluster = "leased"});
  auto held = await_blocked_slots(jobs, job.id, files, slots, "leased");
  CHECK(held > slots);
  try {
    jobs.delete_cluster("leased");
    FAIL("a cluster with a runner holding leases was deleted");
  } catch (const weft::error& e) {
    std::string why = e.what();
    WARN("delete refused: " << why);
    CHECK_THAT(why,
               Catch::Contains("leased") && Catch::Contains("live runner"));
  }
  // Still there, with its runner and its leases.
  auto c = jobs.find_cluster("leased");
  CHECK(c.runners.size() == 1);
  CHECK(c.dispatched > slots);
  files.open_gate();
  auto done = jobs.wait(job.id, 30s);
  REQUIRE(done.state == job_state::completed);
  for (const auto& t : jobs.tasks(job.id)) {
    CHECK(t.state == task_state::computed);
    CHECK(t.attempts == 1);
  }
  // Once its runner left and no work is left, it can be deleted.
  runner->signal(SIGTERM);
  CHECK(runner->wait(20s) == 0);
  REQUIRE(
    wait_until([&] { return jobs.find_cluster("leased").runners.empty(); }, 10s,
               20ms));
  jobs.delete_cluster("leased");
  CHECK_THROWS_WITH(jobs.find_cluster("leased"), Catch::Contains("no cluster"));
}
