// The cluster's dispatch order and the job's journal order, step by step on
// CAF's test coordinator: no sleeps, no threads for actors. Each test
// delivers messages with run() and looks at what stub actors recorded.

#include "weft/actors/cluster.hpp"
#include "weft/actors/job.hpp"
#include "weft/actors/job_service.hpp"
#include "weft/actors/journal.hpp"
#include "weft/core/job_replay.hpp"
#include "weft/core/journal_event.hpp"
#include "weft/core/task_graph.hpp"

#include <caf/all.hpp>

#include <caf/scheduler/test_coordinator.hpp>

#include <catch2/catch.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace {

using weft::dispatch_spec;
using weft::task_identifier;
namespace atom = weft::atom;

// Test-only commands to the stubs (they are dynamically typed actors, cast
// to the typed interface they stand in for).
using ack_atom = caf::atom_constant<caf::atom("tAck")>;
using fail_atom = caf::atom_constant<caf::atom("tFail")>;
using go_atom = caf::atom_constant<caf::atom("tGo")>;

/// An actor system on the test coordinator; actors run only in run().
struct fixture {
  caf::actor_system_config cfg; // outlives the system
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  // Stopped at the end, also when a check failed on the way.
  std::vector<caf::actor> actors;
  std::vector<std::shared_ptr<weft::cluster_directory>> dirs;

  fixture() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    weft::add_weft_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    // Actors that refer to each other (a cluster and its job) are stopped
    // below; the system must not wait for any left over.
    sys->await_actors_before_shutdown(false);
  }

  ~fixture() {
    for (auto& a : actors)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    for (auto& d : dirs)
      d->shutdown();
    sched->run(max_steps);
    sys.reset();
  }

  /// Far more messages than any test here exchanges: a bound, so that a
  /// regression that makes actors talk forever fails instead of hanging.
  static constexpr size_t max_steps = 100000;

  /// Delivers every message until none is left; returns how many.
  size_t run() {
    auto n = sched->run(max_steps);
    REQUIRE(n < max_steps);
    return n;
  }

  /// Stops `hdl` at the end of the test.
  template <class Handle>
  Handle keep(Handle hdl) {
    actors.push_back(caf::actor_cast<caf::actor>(hdl));
    return hdl;
  }

  std::shared_ptr<weft::cluster_directory> directory() {
    dirs.push_back(std::make_shared<weft::cluster_directory>(*sys));
    return dirs.back();
  }

  /// Asks `hdl` from a probe actor; the answer is there once it came.
  template <class T>
  struct answer {
    std::optional<T> value;
    std::optional<std::string> error;
    bool arrived() const {
      return value || error;
    }
  };

  template <class T, class Handle, class... Ts>
  std::shared_ptr<answer<T>> ask(Handle hdl, Ts... xs) {
    auto out = std::make_shared<answer<T>>();
    sys->spawn([=](caf::event_based_actor* self) {
      self->request(hdl, caf::infinite, xs...)
        .then([=](T& x) { out->value = std::move(x); },
              [=](caf::error& err) { out->error = caf::to_string(err); });
    });
    return out;
  }

  template <class Fn, class... Ts>
  caf::actor stub(Fn fn, Ts&&... xs) {
    auto a = sys->spawn(fn, std::forward<Ts>(xs)...);
    actors.push_back(a);
    return a;
  }
};

// -- stub runner --------------------------------------------------------------

/// What a stub runner was sent, and the revocations it was asked for.
struct runner_log {
  std::vector<std::vector<dispatch_spec>> batches;
  std::vector<std::string> revoked;
  std::vector<std::string> unexpected;
};

/// Records `run` batches. On `go`, reports to the job of its last batch
/// that its slots started that batch; `done` with results goes to that job
/// as the runner's report. A revocation is answered with nothing dropped.
caf::behavior stub_runner(caf::event_based_actor* self,
                          std::shared_ptr<runner_log> log) {
  self->set_default_handler(
    [log](caf::scheduled_actor*,
          caf::message_view& msg) -> caf::result<caf::message> {
      log->unexpected.push_back(caf::to_string(msg.copy_content_to_message()));
      return caf::message{};
    });
  return {
    [log](atom::run, std::vector<dispatch_spec>& batch) {
      log->batches.push_back(std::move(batch));
    },
    [self, log](go_atom) {
      const auto& batch = log->batches.back();
      std::vector<weft::attempt_id> ids;
      for (const auto& s : batch)
        ids.push_back({s.task, s.attempt, s.seq, s.lease});
      self->send(batch.front().job, atom::start_v, ids,
                 std::string{"stub-runner"});
    },
    [log](atom::withdraw, const std::string& job_id) {
      log->revoked.push_back(job_id);
      return std::vector<uint64_t>{};
    },
    [self, log](atom::done, std::vector<weft::task_result>& results) {
      self->send(log->batches.back().front().job, atom::done_v,
                 std::move(results));
    },
    [](atom::flush) {},
    [](atom::tick) {},
    [](atom::stop) {},
    [](atom::idle) { return true; },
  };
}

// -- stub job -----------------------------------------------------------------

/// What the cluster told a stub job: (task, attempt, seq) of lost
/// dispatches, and (task, attempt) of those a deleted cluster refused.
struct job_log {
  std::vector<std::tuple<uint32_t, uint32_t, uint64_t>> lost;
  std::vector<std::pair<uint32_t, uint32_t>> refused;
};

caf::behavior stub_job(caf::event_based_actor*, std::shared_ptr<job_log> log) {
  return {
    [log](atom::lost, const std::vector<weft::attempt_id>& ids) {
      for (const auto& x : ids)
        log->lost.emplace_back(x.task, x.attempt, x.seq);
    },
    [log](atom::remove, const std::vector<weft::attempt_id>& ids) {
      for (const auto& x : ids)
        log->refused.emplace_back(x.task, x.attempt);
    },
  };
}

// -- stub remover -------------------------------------------------------------

/// Asks `cluster` to delete itself, as the job service does, and records
/// the answer; `(remove, durable)` from the test is passed on as the
/// journal's verdict.
caf::behavior stub_remover(caf::event_based_actor* self,
                           weft::cluster_actor cluster,
                           std::shared_ptr<std::vector<std::string>> answers) {
  self->request(cluster, caf::infinite, atom::remove_v)
    .then([answers](bool) { answers->push_back("deleting"); },
          [answers](caf::error& err) {
            answers->push_back(caf::to_string(err));
          });
  return {
    [self, cluster](atom::remove, bool durable) {
      self->send(cluster, atom::remove_v, durable);
    },
  };
}

// -- stub journal -------------------------------------------------------------

/// Appends in arrival order; each is answered only when the test sends
/// `ack` (the oldest unanswered first), or refused with `fail`.
struct journal_log {
  std::vector<std::vector<weft::journal_record>> appends;
  std::deque<caf::typed_response_promise<uint64_t>> unanswered;
  uint64_t next_seq = 0;
  int acks_without_append = 0;

  /// The kinds of the events of append `i` (not its index entries).
  std::vector<weft::core::event_kind> kinds(size_t i) const {
    std::vector<weft::core::event_kind> out;
    for (const auto& r : appends.at(i))
      if (r.kind == weft::journal_record::event)
        out.push_back(weft::core::decode_event(r.bytes).kind);
    return out;
  }
};

caf::behavior stub_journal(caf::event_based_actor* self,
                           std::shared_ptr<journal_log> log) {
  return {
    [self, log](atom::append, std::vector<weft::journal_record>& records)
      -> caf::result<uint64_t> {
      log->appends.push_back(std::move(records));
      auto rp = self->make_response_promise<uint64_t>();
      log->unanswered.push_back(rp);
      return rp;
    },
    [](atom::flush) {},
    [log](ack_atom) {
      if (log->unanswered.empty()) {
        ++log->acks_without_append;
        return;
      }
      auto rp = std::move(log->unanswered.front());
      log->unanswered.pop_front();
      rp.deliver(log->next_seq++);
    },
    [log](fail_atom) {
      auto rp = std::move(log->unanswered.front());
      log->unanswered.pop_front();
      rp.deliver(caf::make_error(caf::sec::runtime_error, "disk full"));
    },
  };
}

/// Stands in for the job service: a job only tells it its state.
caf::behavior stub_service(caf::event_based_actor*) {
  return {
    [](atom::state, const std::string&, weft::job_state) {},
    [](atom::done, const std::string&) {}, // at rest: may leave memory
  };
}

// -- helpers ------------------------------------------------------------------

task_identifier id(std::string name, std::string version) {
  return task_identifier{std::move(name), std::move(version)};
}

dispatch_spec spec(const weft::job_actor& job, uint32_t task,
                   task_identifier ident, uint32_t attempt = 1) {
  dispatch_spec s;
  s.job = job;
  s.job_id = "stub-job";
  s.task = task;
  s.attempt = attempt;
  s.identifier = std::move(ident);
  s.input = "{}";
  return s;
}

std::vector<uint64_t> seqs_of(const std::vector<dispatch_spec>& batch) {
  std::vector<uint64_t> out;
  for (const auto& s : batch)
    out.push_back(s.seq);
  return out;
}

std::vector<uint32_t> tasks_of(const std::vector<dispatch_spec>& batch) {
  std::vector<uint32_t> out;
  for (const auto& s : batch)
    out.push_back(s.task);
  return out;
}

weft::runner_registration registration(std::string name,
                                       std::vector<task_identifier> ids) {
  weft::runner_registration reg;
  reg.name = std::move(name);
  reg.slots = 1;
  reg.identifiers = std::move(ids);
  return reg;
}

} // namespace

// -- the cluster
// ----------------------------------------------------------------

TEST_CASE("deterministic: the cluster spends a runner's actor credit on its "
          "actor tasks and its plain credit on the others") {
  fixture f;
  auto cluster = f.keep(weft::spawn_cluster(*f.sys, "c"));
  auto log = std::make_shared<runner_log>();
  auto r = caf::actor_cast<weft::runner_actor>(f.stub(stub_runner, log));
  auto jlog = std::make_shared<job_log>();
  auto job = caf::actor_cast<weft::job_actor>(f.stub(stub_job, jlog));
  auto reg = registration("r", {id("plain", "v1.0"), id("act", "v1.0")});
  reg.actor_slots = 2;
  reg.actor_tasks = {id("act", "v1.0")};
  auto joined = f.ask<bool>(cluster, atom::join_v, r, reg);
  // An actor task that is not among the runner's tasks is refused.
  auto bad = registration("bad", {id("plain", "v1.0")});
  bad.actor_tasks = {id("act", "v1.0")};
  auto refused = f.ask<bool>(cluster, atom::join_v, r, bad);
  f.run();
  REQUIRE(joined->value == true);
  CHECK(!refused->value);
  CHECK(refused->error.has_value());
  caf::anon_send(cluster, atom::enqueue_v,
                 std::vector<dispatch_spec>{
                   spec(job, 0, id("plain", "v1.0")), // seq 0
                   spec(job, 1, id("plain", "v1.0")), // seq 1
                   spec(job, 2, id("act", "v1.0")),   // seq 2
                   spec(job, 3, id("act", "v1.0")),   // seq 3
                   spec(job, 4, id("act", "v1.0")),   // seq 4
                 },
                 std::vector<uint64_t>{});
  // Actor credit only: the actor tasks go, within it; the plain ones wait.
  caf::anon_send(cluster, atom::credit_v, r, uint32_t{0}, uint32_t{2});
  f.run();
  REQUIRE(log->batches.size() == 1);
  CHECK(seqs_of(log->batches[0]) == std::vector<uint64_t>{2, 3});
  // Plain credit: the oldest plain one.
  caf::anon_send(cluster, atom::credit_v, r, uint32_t{1}, uint32_t{0});
  f.run();
  REQUIRE(log->batches.size() == 2);
  CHECK(seqs_of(log->batches[1]) == std::vector<uint64_t>{0});
  auto info = f.ask<weft::cluster_info>(cluster, atom::info_v);
  f.run();
  REQUIRE(info->value);
  CHECK(info->value->queued == 2);
  REQUIRE(info->value->runners.size() == 1);
  CHECK(info->value->runners[0].actor_slots == 2);
  CHECK(info->value->runners[0].actor_tasks
        == std::vector<task_identifier>{id("act", "v1.0")});
}

TEST_CASE("deterministic: the cluster dispatches the oldest compatible head "
          "first, within credit") {
  fixture f;
  auto cluster = f.keep(weft::spawn_cluster(*f.sys, "c"));
  auto log1 = std::make_shared<runner_log>();
  auto log2 = std::make_shared<runner_log>();
  auto r1 = caf::actor_cast<weft::runner_actor>(f.stub(stub_runner, log1));
  auto r2 = caf::actor_cast<weft::runner_actor>(f.stub(stub_runner, log2));
  auto jlog = std::make_shared<job_log>();
  auto job = caf::actor_cast<weft::job_actor>(f.stub(stub_job, jlog));
  auto j1 = f.ask<bool>(cluster, atom::join_v, r1,
                        registration("r1", {id("a", "v1.2"), id("b", "v2.0")}));
  auto j2 = f.ask<bool>(cluster, atom::join_v, r2,
                        registration("r2", {id("a", "v1.0")}));
  f.run();
  REQUIRE(j1->value == true);
  REQUIRE(j2->value == true);

  // One batch, seqs 0..6 in this order; nobody has credit yet.
  std::vector<dispatch_spec> batch{
    spec(job, 0, id("b", "v2.0")), // seq 0
    spec(job, 1, id("a", "v1.1")), // seq 1
    spec(job, 2, id("a", "v1.0")), // seq 2
    spec(job, 3, id("a", "v1.1")), // seq 3
    spec(job, 4, id("b", "v2.0")), // seq 4
    spec(job, 5, id("a", "v1.3")), // seq 5: no runner has minor >= 3
    spec(job, 6, id("b", "v3.0")), // seq 6: no runner has major 3
  };
  caf::anon_send(cluster, atom::enqueue_v, batch, std::vector<uint64_t>{});
  f.run();
  CHECK(log1->batches.empty());
  CHECK(log2->batches.empty());
  auto info = f.ask<weft::cluster_info>(cluster, atom::info_v);
  f.run();
  REQUIRE(info->value);
  CHECK(info->value->queued == 7);
  CHECK(info->value->dispatched == 0);

  // r2 (a v1.0) may run only a v1.0: a v1.1 and v1.3 need a higher minor.
  // Its credit would allow five, it gets the one it can run.
  caf::anon_send(cluster, atom::credit_v, r2, uint32_t{5}, uint32_t{0});
  f.run();
  REQUIRE(log2->batches.size() == 1);
  CHECK(seqs_of(log2->batches[0]) == std::vector<uint64_t>{2});
  CHECK(log2->batches[0][0].identifier == id("a", "v1.0"));
  CHECK(log1->batches.empty());

  // r1 (a v1.2, b v2.0) with credit 3: the head that arrived first each
  // time, across identifiers: b's seq 0, then a v1.1's seq 1, then a v1.1's
  // seq 3 (older than b's seq 4). The credit leaves seq 4 queued.
  caf::anon_send(cluster, atom::credit_v, r1, uint32_t{3}, uint32_t{0});
  f.run();
  REQUIRE(log1->batches.size() == 1);
  CHECK(seqs_of(log1->batches[0]) == std::vector<uint64_t>{0, 1, 3});
  CHECK(tasks_of(log1->batches[0]) == std::vector<uint32_t>{0, 1, 3});
  CHECK(log2->batches.size() == 1);

  // More credit: only seq 4 is left that r1 can run; a v1.3 and b v3.0
  // wait, unserved.
  caf::anon_send(cluster, atom::credit_v, r1, uint32_t{10}, uint32_t{0});
  f.run();
  REQUIRE(log1->batches.size() == 2);
  CHECK(seqs_of(log1->batches[1]) == std::vector<uint64_t>{4});
  info = f.ask<weft::cluster_info>(cluster, atom::info_v);
  f.run();
  REQUIRE(info->value);
  CHECK(info->value->queued == 2);
  CHECK(info->value->dispatched == 5);
  CHECK(info->value->unserved
        == std::vector<task_identifier>{id("a", "v1.3"), id("b", "v3.0")});
  CHECK(log1->unexpected.empty());
  CHECK(log2->unexpected.empty());
  CHECK(jlog->lost.empty());
}

TEST_CASE("deterministic: the cluster serves runners round robin") {
  fixture f;
  auto cluster = f.keep(weft::spawn_cluster(*f.sys, "c"));
  auto log1 = std::make_shared<runner_log>();
  auto log2 = std::make_shared<runner_log>();
  auto r1 = caf::actor_cast<weft::runner_actor>(f.stub(stub_runner, log1));
  auto r2 = caf::actor_cast<weft::runner_actor>(f.stub(stub_runner, log2));
  auto job = caf::actor_cast<weft::job_actor>(
    f.stub(stub_job, std::make_shared<job_log>()));
  caf::anon_send(cluster, atom::join_v, r1,
                 registration("r1", {id("x", "v1.0")}));
  caf::anon_send(cluster, atom::join_v, r2,
                 registration("r2", {id("x", "v1.0")}));
  caf::anon_send(cluster, atom::credit_v, r1, uint32_t{10}, uint32_t{0});
  caf::anon_send(cluster, atom::credit_v, r2, uint32_t{10}, uint32_t{0});
  f.run();
  // Both could take everything; one item per enqueue goes to the runners
  // in turn.
  std::vector<int> who; // 1 or 2, per item
  for (uint32_t t = 0; t < 6; ++t) {
    caf::anon_send(cluster, atom::enqueue_v,
                   std::vector<dispatch_spec>{spec(job, t, id("x", "v1.0"))},
                   std::vector<uint64_t>{});
    auto before1 = log1->batches.size();
    auto before2 = log2->batches.size();
    f.run();
    auto got1 = log1->batches.size() - before1;
    auto got2 = log2->batches.size() - before2;
    REQUIRE(got1 + got2 == 1);
    who.push_back(got1 == 1 ? 1 : 2);
  }
  for (size_t i = 1; i < who.size(); ++i)
    CHECK(who[i] != who[i - 1]);
  CHECK(log1->batches.size() == 3);
  CHECK(log2->batches.size() == 3);
  for (const auto& b : log1->batches)
    CHECK(b.size() == 1);
}

TEST_CASE("deterministic: a runner going down hands back what its job did "
          "not settle") {
  fixture f;
  auto cluster = f.keep(weft::spawn_cluster(*f.sys, "c"));
  auto log1 = std::make_shared<runner_log>();
  auto log2 = std::make_shared<runner_log>();
  auto r1_actor = f.stub(stub_runner, log1);
  auto r1 = caf::actor_cast<weft::runner_actor>(r1_actor);
  auto r2 = caf::actor_cast<weft::runner_actor>(f.stub(stub_runner, log2));
  auto jlog = std::make_shared<job_log>();
  auto job = caf::actor_cast<weft::job_actor>(f.stub(stub_job, jlog));
  caf::anon_send(cluster, atom::join_v, r1,
                 registration("r1", {id("x", "v1.0")}));
  caf::anon_send(cluster, atom::credit_v, r1, uint32_t{3}, uint32_t{0});
  f.run();
  caf::anon_send(cluster, atom::enqueue_v,
                 std::vector<dispatch_spec>{spec(job, 10, id("x", "v1.0"), 1),
                                            spec(job, 11, id("x", "v1.0"), 2),
                                            spec(job, 12, id("x", "v1.0"), 3)},
                 std::vector<uint64_t>{});
  f.run();
  REQUIRE(log1->batches.size() == 1);
  REQUIRE(seqs_of(log1->batches[0]) == std::vector<uint64_t>{0, 1, 2});
  // The job processed dispatch 1 (it started and reported it).
  caf::anon_send(cluster, atom::enqueue_v, std::vector<dispatch_spec>{},
                 std::vector<uint64_t>{1});
  f.run();
  auto info = f.ask<weft::cluster_info>(cluster, atom::info_v);
  f.run();
  REQUIRE(info->value);
  CHECK(info->value->dispatched == 2);
  CHECK(jlog->lost.empty());

  // A second runner that could take lost work joins; the dead one's
  // dispatches go back to the job (it requeues them), not to r2 directly.
  caf::anon_send(cluster, atom::join_v, r2,
                 registration("r2", {id("x", "v1.0")}));
  caf::anon_send(cluster, atom::credit_v, r2, uint32_t{5}, uint32_t{0});
  f.run();
  CHECK(log2->batches.empty());
  caf::anon_send_exit(r1_actor, caf::exit_reason::kill);
  f.run();
  using lost_t = std::tuple<uint32_t, uint32_t, uint64_t>;
  CHECK(jlog->lost == std::vector<lost_t>{{10, 1, 0}, {12, 3, 2}});
  CHECK(log2->batches.empty());
  info = f.ask<weft::cluster_info>(cluster, atom::info_v);
  f.run();
  REQUIRE(info->value);
  REQUIRE(info->value->runners.size() == 1);
  CHECK(info->value->runners[0].name == "r2");
  // They stay in flight until the job settles them.
  CHECK(info->value->dispatched == 2);
  caf::anon_send(cluster, atom::enqueue_v, std::vector<dispatch_spec>{},
                 std::vector<uint64_t>{0, 2});
  info = f.ask<weft::cluster_info>(cluster, atom::info_v);
  f.run();
  REQUIRE(info->value);
  CHECK(info->value->dispatched == 0);
}

TEST_CASE("deterministic: a job that goes takes its queued work and its "
          "dispatches with it, and idle answers") {
  fixture f;
  auto cluster = f.keep(weft::spawn_cluster(*f.sys, "c"));
  auto rlog = std::make_shared<runner_log>();
  auto r = caf::actor_cast<weft::runner_actor>(f.stub(stub_runner, rlog));
  auto doomed_actor = f.stub(stub_job, std::make_shared<job_log>());
  auto doomed = caf::actor_cast<weft::job_actor>(doomed_actor);
  auto other = caf::actor_cast<weft::job_actor>(
    f.stub(stub_job, std::make_shared<job_log>()));
  caf::anon_send(cluster, atom::join_v, r,
                 registration("r", {id("x", "v1.0")}));
  caf::anon_send(cluster, atom::credit_v, r, uint32_t{3}, uint32_t{0});
  f.run();
  auto of = [](const weft::job_actor& job, uint32_t task, std::string job_id) {
    auto s = spec(job, task, id("x", "v1.0"));
    s.job_id = std::move(job_id);
    return s;
  };
  // Two of the doomed job's go out, with one of the other's; one of each
  // waits for credit.
  caf::anon_send(cluster, atom::enqueue_v,
                 std::vector<dispatch_spec>{of(doomed, 0, "doomed"),
                                            of(doomed, 1, "doomed"),
                                            of(other, 2, "other"),
                                            of(doomed, 3, "doomed"),
                                            of(other, 4, "other")},
                 std::vector<uint64_t>{});
  f.run();
  REQUIRE(rlog->batches.size() == 1);
  REQUIRE(tasks_of(rlog->batches[0]) == std::vector<uint32_t>{0, 1, 2});
  auto idle = f.ask<bool>(cluster, atom::idle_v, r);
  f.run();
  CHECK_FALSE(idle->arrived());

  caf::anon_send_exit(doomed_actor, caf::exit_reason::kill);
  f.run();
  auto info = f.ask<weft::cluster_info>(cluster, atom::info_v);
  f.run();
  REQUIRE(info->value);
  CHECK(info->value->queued == 1);     // the other's task 4
  CHECK(info->value->dispatched == 1); // the other's task 2
  CHECK_FALSE(idle->arrived());

  // The other job settles its dispatch; the runner's credit for it comes
  // back (as a real runner's would) and takes task 4: idle once that one
  // is settled too.
  caf::anon_send(cluster, atom::enqueue_v, std::vector<dispatch_spec>{},
                 std::vector<uint64_t>{rlog->batches[0][2].seq});
  caf::anon_send(cluster, atom::credit_v, r, uint32_t{1}, uint32_t{0});
  f.run();
  REQUIRE(rlog->batches.size() == 2);
  CHECK(tasks_of(rlog->batches[1]) == std::vector<uint32_t>{4});
  CHECK_FALSE(idle->arrived());
  caf::anon_send(cluster, atom::enqueue_v, std::vector<dispatch_spec>{},
                 std::vector<uint64_t>{rlog->batches[1][0].seq});
  f.run();
  CHECK(idle->value == true);
  CHECK(rlog->unexpected.empty());
}

TEST_CASE("deterministic: a cluster decides its deletion in one step and "
          "refuses work once the deletion is journaled") {
  fixture f;
  auto cluster = f.keep(weft::spawn_cluster(*f.sys, "c"));
  auto r = caf::actor_cast<weft::runner_actor>(
    f.stub(stub_runner, std::make_shared<runner_log>()));
  auto jlog = std::make_shared<job_log>();
  auto job = caf::actor_cast<weft::job_actor>(f.stub(stub_job, jlog));
  auto answers = std::make_shared<std::vector<std::string>>();
  auto try_remove = [&] { return f.stub(stub_remover, cluster, answers); };
  auto queued = [&] {
    auto info = f.ask<weft::cluster_info>(cluster, atom::info_v);
    f.run();
    REQUIRE(info->value);
    return info->value->queued;
  };
  caf::anon_send(cluster, atom::join_v, r,
                 registration("r", {id("x", "v1.0")}));
  f.run();
  try_remove();
  f.run();
  REQUIRE(answers->size() == 1);
  CHECK_THAT(answers->back(), Catch::Contains("1 live runner(s)"));
  auto left = f.ask<bool>(cluster, atom::stop_v, r);
  f.run();
  REQUIRE(left->value == true);
  caf::anon_send(cluster, atom::enqueue_v,
                 std::vector<dispatch_spec>{spec(job, 1, id("x", "v1.0"))},
                 std::vector<uint64_t>{});
  try_remove();
  f.run();
  REQUIRE(answers->size() == 2);
  CHECK_THAT(answers->back(), Catch::Contains("1 task(s) to run"));

  // Nothing left: the deletion is decided. Until it is journaled, work and
  // runners wait, and a second deletion is refused.
  caf::anon_send(cluster, atom::withdraw_v, std::string{"stub-job"});
  auto remover = try_remove();
  f.run();
  REQUIRE(answers->size() == 3);
  CHECK(answers->back() == "deleting");
  caf::anon_send(cluster, atom::enqueue_v,
                 std::vector<dispatch_spec>{spec(job, 2, id("x", "v1.0"), 4)},
                 std::vector<uint64_t>{});
  auto joined = f.ask<bool>(cluster, atom::join_v, r,
                            registration("r", {id("x", "v1.0")}));
  try_remove();
  f.run();
  CHECK(queued() == 0);
  CHECK(jlog->refused.empty());
  CHECK_FALSE(joined->arrived());
  REQUIRE(answers->size() == 4);
  CHECK_THAT(answers->back(), Catch::Contains("is being deleted"));
  // Only the one that decided may finish it.
  caf::anon_send(cluster, atom::remove_v, true);
  f.run();
  CHECK(jlog->refused.empty());

  // Journaled: what waited is refused, the job's attempt back to the job,
  // and so is everything later.
  caf::anon_send(remover, atom::remove_v, true);
  f.run();
  using refused_t = std::vector<std::pair<uint32_t, uint32_t>>;
  CHECK(jlog->refused == refused_t{{2, 4}});
  REQUIRE(joined->error);
  CHECK_THAT(*joined->error, Catch::Contains("cluster c was deleted"));
  caf::anon_send(cluster, atom::enqueue_v,
                 std::vector<dispatch_spec>{spec(job, 3, id("x", "v1.0"))},
                 std::vector<uint64_t>{});
  f.run();
  CHECK(jlog->refused == refused_t{{2, 4}, {3, 1}});
  CHECK(queued() == 0);
  CHECK(jlog->lost.empty());
}

TEST_CASE("deterministic: a deletion the journal refused leaves the cluster "
          "as it was, with the work that waited") {
  fixture f;
  auto cluster = f.keep(weft::spawn_cluster(*f.sys, "c"));
  auto rlog = std::make_shared<runner_log>();
  auto r = caf::actor_cast<weft::runner_actor>(f.stub(stub_runner, rlog));
  auto jlog = std::make_shared<job_log>();
  auto job = caf::actor_cast<weft::job_actor>(f.stub(stub_job, jlog));
  auto answers = std::make_shared<std::vector<std::string>>();
  auto remover = f.stub(stub_remover, cluster, answers);
  f.run();
  REQUIRE(*answers == std::vector<std::string>{"deleting"});
  caf::anon_send(cluster, atom::enqueue_v,
                 std::vector<dispatch_spec>{spec(job, 1, id("x", "v1.0"))},
                 std::vector<uint64_t>{});
  auto joined = f.ask<bool>(cluster, atom::join_v, r,
                            registration("r", {id("x", "v1.0")}));
  f.run();
  CHECK_FALSE(joined->arrived());

  caf::anon_send(remover, atom::remove_v, false);
  f.run();
  CHECK(joined->value == true);
  caf::anon_send(cluster, atom::credit_v, r, uint32_t{1}, uint32_t{0});
  f.run();
  REQUIRE(rlog->batches.size() == 1);
  CHECK(tasks_of(rlog->batches[0]) == std::vector<uint32_t>{1});
  CHECK(jlog->refused.empty());
}

// -- the job ------------------------------------------------------------------

namespace {

weft::core::task_submission submission(std::string name) {
  weft::core::task_submission s;
  s.identifier = id(std::move(name), "v1.0");
  s.input = "{}";
  return s;
}

/// The submission of a job of one root, as the job service writes it.
weft::core::journal_event submission_event(std::string job_id) {
  weft::core::journal_event e;
  e.kind = weft::core::event_kind::job_submitted;
  e.job_id = std::move(job_id);
  e.time = weft::now();
  e.name = "ordered";
  e.cluster = "default";
  e.roots = {submission("root")};
  return e;
}

/// A job's graph as of its submission, as the job service builds it.
weft::recovered_job submitted_job(std::string job_id) {
  auto e = submission_event(std::move(job_id));
  return weft::recovered_job{
    e.job_id, e.name, e.cluster, e.time, weft::core::graph_of(e), {}};
}

/// A runner of `default` in `dir` that runs root and child, with credit.
caf::actor join_default(fixture& f, weft::cluster_directory& dir,
                        std::shared_ptr<runner_log> log) {
  auto r = f.stub(stub_runner, log);
  auto hdl = caf::actor_cast<weft::runner_actor>(r);
  auto cluster = dir.get("default");
  caf::anon_send(cluster, atom::join_v, hdl,
                 registration("stub-runner",
                              {id("root", "v1.0"), id("child", "v1.0")}));
  caf::anon_send(cluster, atom::credit_v, hdl, uint32_t{10}, uint32_t{0});
  f.run();
  return r;
}

} // namespace

TEST_CASE("deterministic: a job's roots reach the cluster only once the "
          "journal has its submission") {
  fixture f;
  auto dir = f.directory();
  auto rlog = std::make_shared<runner_log>();
  join_default(f, *dir, rlog);
  auto jlog = std::make_shared<journal_log>();
  auto journal
    = caf::actor_cast<weft::journal_actor>(f.stub(stub_journal, jlog));
  auto service = f.keep(
    weft::spawn_job_service(*f.sys, dir, weft::orchestrator_config{}, journal));
  weft::submit_request req;
  req.name = "ordered";
  req.cluster = "default";
  req.roots = {submission("root")};
  auto submitted = f.ask<weft::job_info>(service, atom::submit_v, req);
  f.run();
  // The submission waits for the journal: nothing dispatched, no answer.
  REQUIRE(jlog->appends.size() == 1);
  REQUIRE(jlog->kinds(0) == std::vector{weft::core::event_kind::job_submitted});
  auto job_id = jlog->appends[0][0].job_id;
  CHECK(rlog->batches.empty());
  CHECK_FALSE(submitted->arrived());

  caf::anon_send(caf::actor_cast<caf::actor>(journal), ack_atom::value);
  f.run();
  REQUIRE(rlog->batches.size() == 1);
  CHECK(tasks_of(rlog->batches[0]) == std::vector<uint32_t>{0});
  CHECK(rlog->batches[0][0].job_id == job_id);
  CHECK(rlog->batches[0][0].identifier == id("root", "v1.0"));
  REQUIRE(submitted->value);
  CHECK(submitted->value->id == job_id);
  CHECK(rlog->unexpected.empty());
}

TEST_CASE("deterministic: a job enqueues subtasks only after the journal "
          "acknowledged their parent's completion, and reads wait for it") {
  fixture f;
  auto dir = f.directory();
  auto rlog = std::make_shared<runner_log>();
  auto runner = join_default(f, *dir, rlog);
  auto jlog = std::make_shared<journal_log>();
  auto journal_stub = f.stub(stub_journal, jlog);
  auto ack = [&] { caf::anon_send(journal_stub, ack_atom::value); };
  weft::job_environment env;
  env.service = caf::actor_cast<weft::job_service_actor>(f.stub(stub_service));
  env.dir = dir;
  env.journal = caf::actor_cast<weft::journal_actor>(journal_stub);
  env.stats = std::make_shared<weft::core::task_statistics>();
  auto job = f.keep(weft::spawn_job(*f.sys, env, submitted_job("job-1")));
  f.run();
  // Its submission is on disk before a job actor exists: the root goes out
  // at once, without a write of its own.
  CHECK(jlog->appends.empty());
  REQUIRE(rlog->batches.size() == 1);
  REQUIRE(tasks_of(rlog->batches[0]) == std::vector<uint32_t>{0});
  auto root = rlog->batches[0][0];

  // The runner starts the root: it may run at once (its start need not be
  // on disk), and the job writes the start.
  caf::anon_send(runner, go_atom::value);
  f.run();
  REQUIRE(jlog->appends.size() == 1);
  CHECK(jlog->kinds(0) == std::vector{weft::core::event_kind::task_started});
  CHECK_FALSE(jlog->appends[0][0].sync);

  // A read while that write is pending answers only after it, with it.
  auto found = f.ask<weft::job_info>(job, atom::find_v);
  f.run();
  CHECK_FALSE(found->arrived());
  ack();
  f.run();
  REQUIRE(found->value);
  CHECK(found->value->running == 1);
  CHECK(found->value->state == weft::job_state::running);

  // The root completes with two subtasks: they are not enqueued while its
  // completion is being written.
  weft::task_result result;
  result.task = root.task;
  result.attempt = root.attempt;
  result.lease = root.lease;
  result.outcome.succeeded = true;
  result.outcome.subtasks = {submission("child"), submission("child")};
  caf::anon_send(runner, atom::done_v, std::vector<weft::task_result>{result});
  f.run();
  REQUIRE(jlog->appends.size() == 2);
  CHECK(jlog->kinds(1) == std::vector{weft::core::event_kind::task_computed});
  CHECK(jlog->appends[1][0].sync);
  CHECK(rlog->batches.size() == 1);
  auto cinfo = f.ask<weft::cluster_info>(dir->get("default"), atom::info_v);
  auto tasks = f.ask<std::vector<weft::task_info>>(job, atom::tasks_v);
  f.run();
  REQUIRE(cinfo->value);
  CHECK(cinfo->value->queued == 0);
  CHECK(cinfo->value->dispatched == 1); // the root, not yet settled
  CHECK_FALSE(tasks->arrived());

  ack();
  f.run();
  REQUIRE(rlog->batches.size() == 2);
  CHECK(tasks_of(rlog->batches[1]) == std::vector<uint32_t>{1, 2});
  for (const auto& s : rlog->batches[1])
    CHECK(s.identifier == id("child", "v1.0"));
  REQUIRE(tasks->value);
  REQUIRE(tasks->value->size() == 3);
  CHECK((*tasks->value)[0].state == weft::task_state::computed);
  CHECK((*tasks->value)[1].state == weft::task_state::queued);
  cinfo = f.ask<weft::cluster_info>(dir->get("default"), atom::info_v);
  f.run();
  REQUIRE(cinfo->value);
  // The root's dispatch was settled with the subtasks' enqueue.
  CHECK(cinfo->value->dispatched == 2);
  CHECK(rlog->unexpected.empty());
  CHECK(jlog->unanswered.empty());
  CHECK(jlog->acks_without_append == 0);
}

TEST_CASE("deterministic: a retry that lifts a cancel is journaled even when "
          "it requeues nothing, so a replay rebuilds the live job") {
  fixture f;
  auto dir = f.directory();
  auto rlog = std::make_shared<runner_log>();
  auto runner = join_default(f, *dir, rlog);
  auto jlog = std::make_shared<journal_log>();
  auto journal_stub = f.stub(stub_journal, jlog);
  auto ack = [&] {
    caf::anon_send(journal_stub, ack_atom::value);
    f.run();
  };
  weft::job_environment env;
  env.service = caf::actor_cast<weft::job_service_actor>(f.stub(stub_service));
  env.dir = dir;
  env.journal = caf::actor_cast<weft::journal_actor>(journal_stub);
  env.stats = std::make_shared<weft::core::task_statistics>();
  auto job = f.keep(weft::spawn_job(*f.sys, env, submitted_job("job-1")));
  f.run();
  REQUIRE(rlog->batches.size() == 1);
  auto root = rlog->batches[0][0];
  caf::anon_send(runner, go_atom::value);
  f.run();
  ack();

  // The root runs: a cancel finds nothing queued but cancels the job, and
  // a retry finds nothing to requeue but makes it live again.
  auto canceled = f.ask<uint64_t>(job, atom::cancel_v);
  f.run();
  ack();
  REQUIRE(canceled->value);
  CHECK(*canceled->value == 0);
  auto retried = f.ask<uint64_t>(job, atom::retry_v);
  f.run();
  ack();
  REQUIRE(retried->value);
  CHECK(*retried->value == 0);
  REQUIRE(jlog->appends.size() == 3);
  CHECK(jlog->kinds(2) == std::vector{weft::core::event_kind::job_retried});

  // So the root's subtask is queued, not canceled, and starts.
  weft::task_result result;
  result.task = root.task;
  result.attempt = root.attempt;
  result.lease = root.lease;
  result.outcome.succeeded = true;
  result.outcome.subtasks = {submission("child")};
  caf::anon_send(runner, atom::done_v, std::vector<weft::task_result>{result});
  f.run();
  ack();
  REQUIRE(rlog->batches.size() == 2);
  caf::anon_send(runner, go_atom::value);
  f.run();
  ack();

  // What was written replays to the same job, the child's start included.
  weft::core::job_replay replay{"job-1"};
  replay.apply(weft::core::encode_event(submission_event("job-1")));
  for (const auto& append : jlog->appends)
    for (const auto& record : append)
      REQUIRE_NOTHROW(replay.apply(record.bytes));
  CHECK(replay.graph()->state_of(1) == weft::task_state::running);
  CHECK(replay.graph()->state() == weft::job_state::running);
  CHECK(rlog->unexpected.empty());
  CHECK(jlog->unanswered.empty());
}

TEST_CASE("deterministic: a job stopped by a journal error leaves nothing in "
          "its cluster, and idle answers") {
  fixture f;
  auto dir = f.directory();
  auto rlog = std::make_shared<runner_log>();
  auto runner = join_default(f, *dir, rlog);
  auto jlog = std::make_shared<journal_log>();
  auto journal_stub = f.stub(stub_journal, jlog);
  weft::job_environment env;
  env.service = caf::actor_cast<weft::job_service_actor>(f.stub(stub_service));
  env.dir = dir;
  env.journal = caf::actor_cast<weft::journal_actor>(journal_stub);
  env.stats = std::make_shared<weft::core::task_statistics>();
  auto job = f.keep(weft::spawn_job(*f.sys, env, submitted_job("job-1")));
  f.run();
  REQUIRE(rlog->batches.size() == 1);
  auto cluster = dir->get("default");
  auto idle = f.ask<bool>(cluster, atom::idle_v,
                          caf::actor_cast<weft::runner_actor>(runner));
  f.run();
  CHECK_FALSE(idle->arrived());

  // The runner starts the root; the job cannot write the start and stops.
  caf::anon_send(runner, go_atom::value);
  f.run();
  REQUIRE(jlog->appends.size() == 1);
  caf::anon_send(journal_stub, fail_atom::value);
  f.run();
  auto info = f.ask<weft::cluster_info>(cluster, atom::info_v);
  f.run();
  REQUIRE(info->value);
  CHECK(info->value->queued == 0);
  CHECK(info->value->dispatched == 0);
  CHECK(idle->value == true);
}

namespace {

/// A runner stub joined to `cluster` for child tasks, with credit.
caf::actor join_children(fixture& f, const weft::cluster_actor& cluster,
                         std::shared_ptr<runner_log> log) {
  auto r = f.stub(stub_runner, log);
  auto hdl = caf::actor_cast<weft::runner_actor>(r);
  caf::anon_send(cluster, atom::join_v, hdl,
                 registration("gpu-runner", {id("child", "v1.0")}));
  caf::anon_send(cluster, atom::credit_v, hdl, uint32_t{10}, uint32_t{0});
  f.run();
  return r;
}

/// The stub runner `r` starts its last batch and reports it done, each
/// attempt with `subtasks`.
void run_last_batch(fixture& f, const caf::actor& r,
                    const std::shared_ptr<runner_log>& log,
                    std::vector<weft::core::task_submission> subtasks = {}) {
  caf::anon_send(r, go_atom::value);
  f.run();
  std::vector<weft::task_result> results;
  for (const auto& s : log->batches.back()) {
    weft::task_result res;
    res.task = s.task;
    res.attempt = s.attempt;
    res.lease = s.lease;
    res.outcome.succeeded = true;
    res.outcome.subtasks = subtasks;
    results.push_back(std::move(res));
  }
  caf::anon_send(r, atom::done_v, std::move(results));
  f.run();
}

weft::core::task_submission child_on(std::string cluster) {
  auto s = submission("child");
  s.cluster = std::move(cluster);
  return s;
}

} // namespace

TEST_CASE("deterministic: a job whose cluster was deleted under it sends to "
          "the one created since, or waits for it") {
  fixture f;
  auto dir = f.directory();
  auto dlog = std::make_shared<runner_log>();
  auto rd = join_default(f, *dir, dlog);
  auto gpu_log = std::make_shared<runner_log>();
  auto rg = join_children(f, dir->get("gpu"), gpu_log);
  weft::orchestrator_config cfg;
  cfg.create_clusters_on_use = false; // as a server
  auto service = f.keep(weft::spawn_job_service(*f.sys, dir, cfg));
  weft::job_environment env;
  env.service = caf::actor_cast<weft::job_service_actor>(f.stub(stub_service));
  env.dir = dir;
  env.stats = std::make_shared<weft::core::task_statistics>();
  env.create_clusters_on_use = false;
  auto job = f.keep(weft::spawn_job(*f.sys, env, submitted_job("job-1")));
  f.run();
  // The root makes task 1 for gpu (so the job knows that cluster) and
  // task 2 for default.
  run_last_batch(f, rd, dlog, {child_on("gpu"), child_on("default")});
  REQUIRE(gpu_log->batches.size() == 1);
  REQUIRE(tasks_of(gpu_log->batches[0]) == std::vector<uint32_t>{1});
  run_last_batch(f, rg, gpu_log);
  auto old_gpu = dir->get("gpu");
  auto left = f.ask<bool>(old_gpu, atom::stop_v,
                          caf::actor_cast<weft::runner_actor>(rg));
  auto removed = f.ask<bool>(service, atom::remove_v, std::string{"gpu"});
  f.run();
  REQUIRE(left->value == true);
  INFO(removed->error.value_or(""));
  REQUIRE(removed->value == true);
  CHECK_FALSE(dir->find("gpu"));

  auto task_states = [&] {
    auto tasks = f.ask<std::vector<weft::task_info>>(job, atom::tasks_v);
    f.run();
    REQUIRE(tasks->value);
    std::vector<weft::task_state> out;
    for (const auto& t : *tasks->value)
      out.push_back(t.state);
    return out;
  };
  using enum weft::task_state;
  auto create_gpu = [&] {
    auto created
      = f.ask<weft::cluster_info>(service, atom::create_v, std::string{"gpu"});
    f.run();
    REQUIRE(created->value);
  };
  auto new_log = std::make_shared<runner_log>();
  SECTION("created again before the job sends to it") {
    create_gpu();
    // Task 2 makes task 3 for gpu: the old cluster refuses it, the new one
    // gets it.
    run_last_batch(f, rd, dlog, {child_on("gpu")});
  }
  SECTION("not created again: the task waits, QUEUED, until it is") {
    run_last_batch(f, rd, dlog, {child_on("gpu")});
    CHECK(task_states() == std::vector{computed, computed, computed, queued});
    create_gpu();
  }
  auto new_gpu = dir->find("gpu");
  REQUIRE(new_gpu);
  CHECK(new_gpu != old_gpu);
  auto info = f.ask<weft::cluster_info>(new_gpu, atom::info_v);
  f.run();
  REQUIRE(info->value);
  CHECK(info->value->queued == 1);
  auto rg2 = join_children(f, new_gpu, new_log);
  REQUIRE(new_log->batches.size() == 1);
  CHECK(tasks_of(new_log->batches[0]) == std::vector<uint32_t>{3});
  run_last_batch(f, rg2, new_log);
  auto done = f.ask<weft::job_info>(job, atom::wait_v);
  f.run();
  REQUIRE(done->value);
  CHECK(done->value->state == weft::job_state::completed);
  CHECK(gpu_log->batches.size() == 1); // the old runner got nothing more
  CHECK(dlog->unexpected.empty());
  CHECK(new_log->unexpected.empty());
}

TEST_CASE("deterministic: a job has one journal write in flight at a time, "
          "so nothing of it is written after a write that failed") {
  fixture f;
  auto dir = f.directory();
  auto rlog = std::make_shared<runner_log>();
  auto runner = join_default(f, *dir, rlog);
  auto jlog = std::make_shared<journal_log>();
  auto journal_stub = f.stub(stub_journal, jlog);
  weft::job_environment env;
  env.service = caf::actor_cast<weft::job_service_actor>(f.stub(stub_service));
  env.dir = dir;
  env.journal = caf::actor_cast<weft::journal_actor>(journal_stub);
  env.stats = std::make_shared<weft::core::task_statistics>();

  SECTION("the records of steps taken meanwhile go in the next write") {
    auto job = f.keep(weft::spawn_job(*f.sys, env, submitted_job("job-1")));
    f.run();
    REQUIRE(rlog->batches.size() == 1);
    auto root = rlog->batches[0][0];
    caf::anon_send(runner, go_atom::value);
    f.run();
    REQUIRE(jlog->appends.size() == 1); // the start, not yet acknowledged
    weft::task_result result;
    result.task = root.task;
    result.attempt = root.attempt;
    result.lease = root.lease;
    result.outcome.succeeded = true;
    caf::anon_send(runner, atom::done_v,
                   std::vector<weft::task_result>{result});
    f.run();
    CHECK(jlog->appends.size() == 1); // the completion waits
    caf::anon_send(journal_stub, ack_atom::value);
    f.run();
    REQUIRE(jlog->appends.size() == 2);
    CHECK(jlog->kinds(1) == std::vector{weft::core::event_kind::task_computed});
    CHECK(jlog->appends[1][0].sync);
    auto found = f.ask<weft::job_info>(job, atom::find_v);
    f.run();
    CHECK_FALSE(found->arrived()); // it reads what the journal has
    caf::anon_send(journal_stub, ack_atom::value);
    f.run();
    REQUIRE(found->value);
    CHECK(found->value->state == weft::job_state::completed);
  }

  SECTION("after a failed write the job stops and writes nothing more") {
    auto job = weft::spawn_job(*f.sys, env, submitted_job("job-2"));
    f.run();
    REQUIRE(rlog->batches.size() == 1);
    auto root = rlog->batches[0][0];
    caf::anon_send(runner, go_atom::value);
    f.run();
    REQUIRE(jlog->appends.size() == 1);
    // The runner finished before the journal answered the start.
    weft::task_result result;
    result.task = root.task;
    result.attempt = root.attempt;
    result.lease = root.lease;
    result.outcome.succeeded = true;
    caf::anon_send(runner, atom::done_v,
                   std::vector<weft::task_result>{result});
    f.run();
    caf::anon_send(journal_stub, fail_atom::value);
    f.run();
    // Its completion never went out: a journal holding it without the
    // start would not replay.
    CHECK(jlog->appends.size() == 1);
    CHECK(jlog->unanswered.empty());
    auto found = f.ask<weft::job_info>(job, atom::find_v);
    f.run();
    CHECK(found->error); // the actor is gone
  }
  CHECK(rlog->unexpected.empty());
}
