// The core's transition rules, driven as plain data: no actor system.

#include "weft/core/task_graph.hpp"
#include "weft/error.hpp"

#include <catch2/catch.hpp>

using namespace weft;
using core::attempt_outcome;
using core::task_graph;
using core::task_index;
using core::task_submission;

namespace {

task_submission sub(std::string name, std::vector<uint32_t> deps = {},
                    uint32_t retries = 0, bool optional = false) {
  task_submission s;
  s.identifier = {std::move(name), "v1.0"};
  s.input = "{}";
  s.depends_on = std::move(deps);
  s.max_retries = retries;
  s.optional = optional;
  return s;
}

task_graph make_graph(uint32_t root_retries = 0) {
  std::vector<task_submission> roots{sub("root", {}, root_retries)};
  return task_graph{std::move(roots), "default"};
}

/// Starts `i` under its current attempt and finishes it.
void run(task_graph& g, task_index i, bool ok,
         std::vector<task_submission> subtasks = {},
         std::vector<progress_indicator> progress = {}) {
  auto a = g.attempt(i);
  REQUIRE(g.start(i, a, 100));
  attempt_outcome out;
  out.succeeded = ok;
  out.error = ok ? "" : "boom";
  out.subtasks = std::move(subtasks);
  out.progress = std::move(progress);
  out.started = 100;
  out.stopped = 200;
  REQUIRE(g.finish(i, a, std::move(out)));
}

std::vector<task_index> ready(task_graph& g) {
  auto r = g.take_ready();
  std::sort(r.begin(), r.end());
  return r;
}

} // namespace

TEST_CASE("core: a fresh job is SUBMITTED with its root ready") {
  auto g = make_graph();
  CHECK(g.state() == job_state::submitted);
  CHECK(ready(g) == std::vector<task_index>{0});
  CHECK(ready(g).empty());
}

TEST_CASE("core: subtasks are queued only once their parent is COMPUTED") {
  auto g = make_graph();
  g.take_ready();
  REQUIRE(g.start(0, g.attempt(0), 1));
  CHECK(g.state() == job_state::running);
  CHECK(g.size() == 1);
  attempt_outcome out;
  out.succeeded = true;
  out.subtasks = {sub("a"), sub("b")};
  REQUIRE(g.finish(0, g.attempt(0), std::move(out)));
  CHECK(g.size() == 3);
  CHECK(ready(g) == std::vector<task_index>{1, 2});
  CHECK(g.state() == job_state::started);
  run(g, 1, true);
  run(g, 2, true);
  CHECK(g.state() == job_state::completed);
  CHECK(g.count(task_state::computed) == 3);
}

TEST_CASE("core: a dependent waits for its dependency's whole subtree") {
  auto g = make_graph();
  g.take_ready();
  // root -> fetch(1), print(2) depends on fetch
  run(g, 0, true, {sub("fetch"), sub("print", {0})});
  CHECK(ready(g) == std::vector<task_index>{1});
  // fetch submits a subtask (3); print must wait for it too.
  run(g, 1, true, {sub("fetch-part")});
  CHECK(ready(g) == std::vector<task_index>{3});
  CHECK(g.state_of(2) == task_state::queued);
  run(g, 3, true);
  CHECK(ready(g) == std::vector<task_index>{2});
  run(g, 2, true);
  CHECK(g.state() == job_state::completed);
}

TEST_CASE("core: dependencies chain sequentially") {
  auto g = make_graph();
  g.take_ready();
  run(g, 0, true, {sub("a"), sub("b", {0}), sub("c", {1})});
  CHECK(ready(g) == std::vector<task_index>{1});
  run(g, 1, true);
  CHECK(ready(g) == std::vector<task_index>{2});
  run(g, 2, true);
  CHECK(ready(g) == std::vector<task_index>{3});
}

TEST_CASE("core: a dependency on a later task is refused") {
  std::vector<task_submission> roots{sub("a", {1}), sub("b")};
  CHECK_THROWS_AS((task_graph{roots, "default"}), weft::error);
  auto g = make_graph();
  g.take_ready();
  // A finished attempt with a malformed batch fails instead.
  run(g, 0, true, {sub("a", {0})});
  CHECK(g.state_of(0) == task_state::failed);
}

TEST_CASE("core: retries requeue until spent then the job fails") {
  auto g = make_graph(2);
  g.take_ready();
  run(g, 0, false);
  CHECK(g.state_of(0) == task_state::queued);
  CHECK(ready(g) == std::vector<task_index>{0});
  run(g, 0, false);
  CHECK(ready(g) == std::vector<task_index>{0});
  run(g, 0, false);
  CHECK(g.state_of(0) == task_state::failed);
  CHECK(g.state() == job_state::failed);
  CHECK(ready(g).empty());
}

TEST_CASE("core: a failed task cancels what remains - running ones finish") {
  auto g = make_graph();
  g.take_ready();
  run(g, 0, true, {sub("a"), sub("b"), sub("c", {1})});
  CHECK(ready(g) == std::vector<task_index>{1, 2});
  REQUIRE(g.start(2, g.attempt(2), 1)); // b is running
  run(g, 1, false);                     // a fails
  CHECK(g.state() == job_state::failed);
  CHECK(g.state_of(3) == task_state::canceled);
  // b finishes; its subtasks never start
  attempt_outcome out;
  out.succeeded = true;
  out.subtasks = {sub("b1")};
  REQUIRE(g.finish(2, g.attempt(2), std::move(out)));
  CHECK(g.state_of(2) == task_state::computed);
  CHECK(g.state_of(4) == task_state::canceled);
  CHECK(ready(g).empty());
  // retry requeues the failed and canceled tasks, not the computed ones
  CHECK(g.retry() == 3);
  CHECK(ready(g) == std::vector<task_index>{1, 4});
  run(g, 1, true);
  CHECK(ready(g).empty()); // c waits for b's whole subtree, b1 included
  run(g, 4, true);
  CHECK(ready(g) == std::vector<task_index>{3});
  run(g, 3, true);
  CHECK(g.state() == job_state::completed);
}

TEST_CASE("core: cancel stops queued tasks - a stale start is refused") {
  auto g = make_graph();
  g.take_ready();
  run(g, 0, true, {sub("a"), sub("b")});
  auto r = ready(g);
  REQUIRE(r.size() == 2);
  REQUIRE(g.start(1, g.attempt(1), 1));
  auto old_attempt = g.attempt(2);
  CHECK(g.cancel() == 1);
  CHECK(g.state() == job_state::canceled);
  CHECK_FALSE(g.start(2, old_attempt, 2)); // was queued: never starts

  {
    attempt_outcome out;
    out.succeeded = true;
    out.subtasks = {sub("a1")};
    REQUIRE(g.finish(1, g.attempt(1), std::move(out)));
  }
  CHECK(g.state_of(3) == task_state::canceled);
  CHECK(g.retry() == 2);
  CHECK(g.state() == job_state::started);
  auto again = ready(g);
  CHECK(again == std::vector<task_index>{2, 3});
  CHECK_FALSE(g.start(2, old_attempt, 3)); // the old attempt stays refused
  CHECK(g.start(2, g.attempt(2), 3));
}

TEST_CASE("core: an optional branch fails alone - the rest is SKIPPED") {
  auto g = make_graph();
  g.take_ready();
  // root -> opt(1, optional), after(2) depends on opt
  run(g, 0, true, {sub("opt", {}, 0, true), sub("after", {0})});
  CHECK(ready(g) == std::vector<task_index>{1});
  // opt -> x(3), y(4) depends on x
  run(g, 1, true, {sub("x"), sub("y", {0})});
  CHECK(ready(g) == std::vector<task_index>{3});
  run(g, 3, false);
  CHECK(g.state_of(3) == task_state::failed_optional);
  CHECK(g.state_of(4) == task_state::skipped);
  CHECK(ready(g) == std::vector<task_index>{2});
  run(g, 2, true);
  CHECK(g.state() == job_state::completed);
  CHECK(g.count(task_state::computed) == 3);
  CHECK(g.count(task_state::failed_optional) == 1);
  CHECK(g.count(task_state::skipped) == 1);
}

TEST_CASE("core: a failing optional task's dependents still run") {
  auto g = make_graph();
  g.take_ready();
  run(g, 0, true, {sub("opt", {}, 1, true), sub("after", {0})});
  CHECK(ready(g) == std::vector<task_index>{1});
  run(g, 1, false); // retry first
  CHECK(ready(g) == std::vector<task_index>{1});
  run(g, 1, false);
  CHECK(g.state_of(1) == task_state::failed_optional);
  CHECK(ready(g) == std::vector<task_index>{2});
  run(g, 2, true);
  CHECK(g.state() == job_state::completed);
}

TEST_CASE("core: runner loss requeues without spending a retry ten times") {
  auto g = make_graph();
  g.take_ready();
  for (uint32_t i = 0; i < core::max_runner_losses; ++i) {
    auto a = g.attempt(0);
    REQUIRE(g.start(0, a, 1));
    REQUIRE(g.lose(0, a, "node down", 2));
    CHECK(g.state_of(0) == task_state::queued);
    CHECK(ready(g) == std::vector<task_index>{0});
  }
  auto a = g.attempt(0);
  REQUIRE(g.start(0, a, 1));
  REQUIRE(g.lose(0, a, "node down", 2));
  CHECK(g.state_of(0) == task_state::failed);
  auto info = g.info(0);
  REQUIRE_FALSE(info.history.empty());
  CHECK(info.history.back().error.find("runner lost") != std::string::npos);
}

TEST_CASE("core: progress counts only the last execution of each task") {
  auto g = make_graph(1);
  g.take_ready();
  run(g, 0, false, {}, {{"work", 4, 2}});
  CHECK(g.progress() == std::vector<progress_indicator>{{"work", 4, 2}});
  ready(g);
  run(g, 0, true, {sub("leaf")}, {{"work", 4, 1}});
  CHECK(g.progress() == std::vector<progress_indicator>{{"work", 4, 1}});
  ready(g);
  run(g, 1, true, {}, {{"work", 0, 3}});
  CHECK(g.progress() == std::vector<progress_indicator>{{"work", 4, 4}});
}

TEST_CASE("core: execution statistics") {
  auto g = make_graph();
  g.take_ready();
  run(g, 0, true, {sub("a")});
  ready(g);
  run(g, 1, true);
  auto s = g.stats();
  CHECK(s.first_started == 100);
  CHECK(s.last_stopped == 200);
  CHECK(s.compute_ns == 200);
  CHECK(s.elapsed_ns == 100);
  CHECK(s.parallelism == Approx(2.0));
  CHECK(s.total_tasks == 2);
  CHECK(s.count(task_state::computed) == 2);
}

TEST_CASE("core: job states follow the reference definitions") {
  auto g = make_graph();
  CHECK(g.state() == job_state::submitted);
  g.take_ready();
  REQUIRE(g.start(0, g.attempt(0), 1));
  CHECK(g.state() == job_state::running);
  attempt_outcome out;
  out.succeeded = true;
  out.subtasks = {sub("a")};
  REQUIRE(g.finish(0, g.attempt(0), std::move(out)));
  CHECK(g.state() == job_state::started); // computed + queued, none running
  g.cancel();
  CHECK(g.state() == job_state::canceled);
  g.retry();
  CHECK(g.state() == job_state::started);
}

TEST_CASE(
  "core: a task failing with retries left in a canceled job waits for retry") {
  auto g = make_graph();
  g.take_ready();
  run(g, 0, true, {sub("flaky", {}, 3)});
  ready(g);
  REQUIRE(g.start(1, g.attempt(1), 1));
  g.cancel();
  attempt_outcome out;
  out.succeeded = false;
  REQUIRE(g.finish(1, g.attempt(1), std::move(out)));
  CHECK(g.state_of(1) == task_state::canceled);
  CHECK(ready(g).empty());
  CHECK(g.retry() == 1);
  CHECK(ready(g) == std::vector<task_index>{1});
  run(g, 1, true);
  CHECK(g.state() == job_state::completed);
}

TEST_CASE("core: canceling a completed job changes nothing") {
  auto g = make_graph();
  g.take_ready();
  run(g, 0, true);
  CHECK(g.cancel() == 0);
  CHECK(g.state() == job_state::completed);
}

TEST_CASE("core: entered counts every state a task entered, by cluster") {
  auto g = make_graph();
  g.take_ready();
  auto gpu = sub("b");
  gpu.cluster = "gpu";
  run(g, 0, true, {sub("a", {}, 1), gpu});
  REQUIRE(g.cluster_count() == 2);
  CHECK(g.cluster_name(g.cluster_id(0)) == "default");
  CHECK(g.cluster_name(g.cluster_id(2)) == "gpu");
  auto entered = [&](uint32_t id, task_state s) {
    return g.entered(id)[static_cast<size_t>(s)];
  };
  g.take_ready();
  run(g, 1, false); // its retry queues it again
  run(g, 1, true);
  run(g, 2, false); // no retry: the job fails
  auto def = g.cluster_id(0);
  auto other = g.cluster_id(2);
  // The root and "a" were created queued, "a" queued again for its retry.
  CHECK(entered(def, task_state::queued) == 3);
  CHECK(entered(def, task_state::running) == 3);
  CHECK(entered(def, task_state::computed) == 2);
  CHECK(entered(def, task_state::failed) == 0);
  CHECK(entered(other, task_state::queued) == 1);
  CHECK(entered(other, task_state::failed) == 1);
  // A retry of the job takes "b" out of FAILED; what it entered stays.
  CHECK(g.retry() == 1);
  CHECK(g.count(task_state::failed) == 0);
  CHECK(entered(other, task_state::failed) == 1);
  CHECK(entered(other, task_state::queued) == 2);
}
