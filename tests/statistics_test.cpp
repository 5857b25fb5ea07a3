// What the orchestrator learns from finished executions and the estimate
// it predicts from that, driven as plain data: no actor system.

#include "weft/core/journal_event.hpp"
#include "weft/core/statistics.hpp"
#include "weft/core/task_graph.hpp"
#include "weft/error.hpp"

#include <catch2/catch.hpp>

using namespace weft;
using core::attempt_outcome;
using core::stat_key;
using core::task_graph;
using core::task_index;
using core::task_statistics;
using core::task_submission;

namespace {

task_submission sub(std::string name, std::string version = "v1.0") {
  task_submission s;
  s.identifier = {std::move(name), std::move(version)};
  s.input = "{}";
  return s;
}

/// Starts `i` at `from` and finishes it at `to`, submitting `subtasks`.
void run(task_graph& g, task_index i, timestamp from, timestamp to,
         std::vector<task_submission> subtasks = {}) {
  auto a = g.attempt(i);
  REQUIRE(g.start(i, a, from));
  attempt_outcome out;
  out.succeeded = true;
  out.subtasks = std::move(subtasks);
  out.started = from;
  out.stopped = to;
  REQUIRE(g.finish(i, a, std::move(out)));
}

std::vector<task_submission> leaves(size_t n) {
  return std::vector<task_submission>(n, sub("leaf"));
}

task_graph fanout_job() {
  return task_graph{{sub("root")}, "default"};
}

/// Runs a whole fan-out job of `n` leaves: the root takes 100 ns, each
/// leaf 200 ns. Learns from every task as the job actor does.
void run_fanout(task_statistics& stats, size_t n) {
  auto g = fanout_job();
  g.take_ready();
  run(g, 0, 1000, 1100, leaves(n));
  stats.learn(g, {0});
  std::vector<task_index> done;
  for (auto i : g.take_ready()) {
    run(g, i, 2000, 2200);
    done.push_back(i);
  }
  stats.learn(g, done);
  REQUIRE(g.state() == job_state::completed);
}

} // namespace

TEST_CASE("statistics: means of durations and subtask counts per key") {
  task_statistics stats;
  stat_key root{"root", 1, 0};
  stat_key leaf{"leaf", 1, 0};
  stats.learn(root, 100, {{leaf, 4}});
  stats.learn(root, 300, {{leaf, 8}});
  auto p = stats.find(root);
  REQUIRE(p);
  CHECK(p->runs == 2);
  CHECK(p->mean_ns == Approx(200));
  CHECK(p->subtasks.at(leaf) == Approx(6));
  // A key it did not submit this time counts as none of them.
  stats.learn(root, 200, {});
  CHECK(stats.find(root)->subtasks.at(leaf) == Approx(4));
  CHECK_FALSE(stats.find(leaf));
}

TEST_CASE("statistics: keys are the name, the major version and the depth") {
  task_graph g{{sub("split", "v2.3")}, "default"};
  g.take_ready();
  run(g, 0, 10, 20, {sub("split", "v2.3"), sub("other", "v2.3")});
  CHECK(core::key_of(g, 0) == stat_key{"split", 2, 0, ""});
  // It splits itself: one level down, under itself.
  CHECK(core::key_of(g, 1) == stat_key{"split", 2, 1, "split"});
  CHECK(core::key_of(g, 2) == stat_key{"other", 2, 0, "split"});
  CHECK(core::to_string(stat_key{"split", 2, 1, "split"})
        == "split@v2 depth 1 under split");
}

TEST_CASE("statistics: a task type is learned per parent that submits it") {
  task_statistics stats;
  // The same leaf type: 200 ns under one root, 1000 ns under another.
  for (auto [root, ns] : {std::pair{"quick", 200}, std::pair{"slow", 1000}}) {
    task_graph g{{sub(root)}, "default"};
    g.take_ready();
    run(g, 0, 1, 101, leaves(2));
    std::vector<task_index> all{0};
    for (auto i : g.take_ready()) {
      run(g, i, 100, 100 + ns);
      all.push_back(i);
    }
    stats.learn(g, all);
  }
  CHECK(stats.find(stat_key{"leaf", 1, 0, "quick"})->mean_ns == Approx(200));
  CHECK(stats.find(stat_key{"leaf", 1, 0, "slow"})->mean_ns == Approx(1000));
  stat_key slow{"slow", 1, 0, ""};
  CHECK(stats.predict({slow}).at(slow).total_ns() == Approx(2100));
}

TEST_CASE("statistics: a prediction needs history for every key it reaches") {
  task_statistics stats;
  stat_key root{"root", 1, 0};
  stat_key leaf{"leaf", 1, 0};
  stats.learn(root, 100, {{leaf, 4}});
  // The leaves were never seen: the root's fan-out cannot be predicted.
  CHECK_FALSE(stats.predict({root}).at(root).known);
  CHECK_FALSE(stats.predict({leaf}).at(leaf).known);
  stats.learn(leaf, 50, {});
  auto w = stats.predict({root, leaf});
  REQUIRE(w.at(root).known);
  CHECK(w.at(root).own_ns == Approx(100));
  CHECK(w.at(root).subtasks_ns == Approx(200));
  CHECK(w.at(leaf).total_ns() == Approx(50));
}

TEST_CASE("statistics: a task that submits its own key is summed as a "
          "series") {
  task_statistics stats;
  stat_key deep{"split", 1, 63};
  // Each execution submits half a task of its own key on average.
  stats.learn(deep, 100, {{deep, 0.5}});
  auto w = stats.predict({deep}).at(deep);
  REQUIRE(w.known);
  CHECK(w.total_ns() == Approx(200)); // 100 / (1 - 0.5)
  // Two keys submitting each other cannot be predicted.
  stat_key a{"a", 1, 0};
  stat_key b{"b", 1, 0};
  stats.learn(a, 10, {{b, 1}});
  stats.learn(b, 10, {{a, 1}});
  CHECK_FALSE(stats.predict({a}).at(a).known);
}

TEST_CASE("statistics: no estimate for a fan-out never seen, a number once "
          "history exists") {
  task_statistics stats;
  auto g = fanout_job();
  g.take_ready();
  CHECK_FALSE(core::estimate(g, stats, 1000).percent);
  run(g, 0, 1000, 1100, leaves(4));
  // The leaves have no history and no indicator has a total.
  auto e = core::estimate(g, stats, 1500);
  CHECK_FALSE(e.percent);
  CHECK_FALSE(e.eta_ns);
  CHECK_FALSE(e.learned);

  run_fanout(stats, 4);
  auto h = fanout_job();
  h.take_ready();
  auto queued = core::estimate(h, stats, 5000);
  CHECK(queued.learned);
  CHECK(queued.percent == 0);
  // Root (100) and two leaves (2 x 200) of 100 + 4 x 200 done.
  run(h, 0, 5000, 5100, leaves(4));
  auto ready = h.take_ready();
  REQUIRE(ready.size() == 4);
  run(h, ready[0], 5100, 5300);
  run(h, ready[1], 5100, 5300);
  auto half = core::estimate(h, stats, 5300);
  CHECK(half.learned);
  CHECK(*half.percent == Approx(100.0 * 500 / 900));
  // 300 ns elapsed for 500 of work, two slots busy lately; 400 left in
  // two leaves of 200: at least 200 ns, at most 200 + 200 / 2.
  CHECK(half.eta_ns == 250);
  run(h, ready[2], 5300, 5500);
  run(h, ready[3], 5300, 5500);
  auto done = core::estimate(h, stats, 5500);
  CHECK(done.percent == 100);
  CHECK(done.eta_ns == 0);
}

TEST_CASE("statistics: a running task's live indicators say how far it is") {
  task_statistics stats;
  run_fanout(stats, 2);
  auto g = fanout_job();
  g.take_ready();
  run(g, 0, 1000, 1100, leaves(2));
  auto ready = g.take_ready();
  REQUIRE(g.start(ready[0], g.attempt(ready[0]), 1100));
  REQUIRE(g.start(ready[1], g.attempt(ready[1]), 1100));
  // One leaf reports 3 of 4 done, the other nothing yet (then its time
  // against its usual 200 ns counts: at 1150 it is a quarter through).
  REQUIRE(g.report_progress(ready[0], g.attempt(ready[0]), {{"rows", 4, 3}}));
  auto e = core::estimate(g, stats, 1150);
  CHECK(e.learned);
  CHECK(*e.percent == Approx(100.0 * (100 + 150 + 50) / 500));
  // The indicators of a running attempt count in the job's.
  CHECK(g.progress() == std::vector<progress_indicator>{{"rows", 4, 3}});
  // A stale attempt's report is ignored.
  CHECK_FALSE(
    g.report_progress(ready[1], g.attempt(ready[1]) + 1, {{"rows", 1, 1}}));
}

TEST_CASE("statistics: without history the indicators' totals give the "
          "percentage") {
  task_statistics stats;
  auto g = fanout_job();
  g.take_ready();
  auto a = g.attempt(0);
  REQUIRE(g.start(0, a, 1000));
  attempt_outcome out;
  out.succeeded = true;
  out.subtasks = leaves(4);
  out.progress = {{"files", 4, 0}};
  out.started = 1000;
  out.stopped = 1100;
  REQUIRE(g.finish(0, a, std::move(out)));
  auto e = core::estimate(g, stats, 1200);
  CHECK_FALSE(e.learned);
  CHECK(e.percent == 0);
}

TEST_CASE("statistics: profiles round-trip through their journal records") {
  core::task_profile p;
  p.runs = 7;
  p.mean_ns = 1234.5;
  p.subtasks = {{stat_key{"leaf", 2, 0, "split"}, 3.5},
                {stat_key{"split", 2, 4, "split"}, 2}};
  auto [key, back] = core::decode_profile(
    core::encode_profile(stat_key{"split", 2, 3, "split"}, p));
  CHECK(key == stat_key{"split", 2, 3, "split"});
  CHECK(back == p);
  CHECK_THROWS_WITH(core::decode_profile("garbage!"),
                    Catch::Contains("corrupt") || Catch::Contains("not a"));
  CHECK_THROWS_AS(core::decode_profile("short"), weft::error);
}

TEST_CASE("statistics: a task that waits for the others runs alone: the ETA "
          "counts its whole duration, not a share of the slots") {
  // A root submitting four leaves of 200 ns and a merge of 200 ns that
  // depends on all of them.
  auto batch = [] {
    auto subs = leaves(4);
    auto merge = sub("merge");
    merge.depends_on = {0, 1, 2, 3};
    subs.push_back(merge);
    return subs;
  };
  // Runs it on two slots up to the merge; returns the graph.
  auto run_to_merge = [&](task_statistics& stats) {
    auto g = fanout_job();
    g.take_ready();
    run(g, 0, 5000, 5100, batch());
    stats.learn(g, {0});
    auto ready = g.take_ready();
    REQUIRE(ready.size() == 4); // the merge waits
    run(g, ready[0], 5100, 5300);
    run(g, ready[1], 5100, 5300);
    run(g, ready[2], 5300, 5500);
    run(g, ready[3], 5300, 5500);
    stats.learn(g, ready);
    CHECK(g.dependencies(5) == std::vector<uint32_t>{1, 2, 3, 4});
    return g;
  };
  task_statistics stats;
  {
    auto g = run_to_merge(stats);
    auto merge = g.take_ready();
    REQUIRE(merge.size() == 1);
    run(g, merge[0], 5500, 5700);
    stats.learn(g, merge);
  }
  auto g = run_to_merge(stats);
  auto e = core::estimate(g, stats, 5500);
  REQUIRE(e.learned);
  CHECK(*e.percent == Approx(100.0 * 900 / 1100));
  // Two slots were busy lately (1.8 over the whole run). Spread over them
  // the merge would take 100 ns; alone on one slot it takes 200.
  CHECK(e.eta_ns == 200);
}

TEST_CASE("statistics: the chain runs through a running dependency and the "
          "subtasks it is expected to submit") {
  // The root submits x and y (200 ns each), prep (100 ns, then two parts
  // of 300 ns) and final (50 ns) that depends on prep.
  auto batch = [] {
    std::vector<task_submission> subs{sub("x"), sub("y"), sub("prep"),
                                      sub("final")};
    subs[3].depends_on = {2};
    return subs;
  };
  auto start_job = [&](task_statistics& stats) {
    auto g = fanout_job();
    g.take_ready();
    run(g, 0, 5000, 5100, batch());
    stats.learn(g, {0});
    auto ready = g.take_ready();
    REQUIRE(ready.size() == 3); // final waits for prep
    run(g, ready[0], 5100, 5300);
    run(g, ready[1], 5100, 5300);
    stats.learn(g, {ready[0], ready[1]});
    return std::make_pair(std::move(g), ready[2]);
  };
  task_statistics stats;
  {
    auto [g, prep] = start_job(stats);
    run(g, prep, 5300, 5400, std::vector<task_submission>(2, sub("part")));
    stats.learn(g, {prep});
    std::vector<task_index> rest;
    for (auto i : g.take_ready()) {
      auto name = g.identifier(i).name;
      run(g, i, 5400, name == "part" ? 5700 : 5450);
      rest.push_back(i);
    }
    stats.learn(g, rest);
    auto last = g.take_ready(); // final, once prep's parts are done
    REQUIRE(last.size() == 1);
    run(g, last[0], 5700, 5750);
    stats.learn(g, last);
  }
  auto [g, prep] = start_job(stats);
  REQUIRE(g.start(prep, g.attempt(prep), 5300));
  auto e = core::estimate(g, stats, 5350);
  REQUIRE(e.learned);
  // Done: root 100, x and y 200 each, half of prep: 550 in 350 ns, 1.57
  // slots (1.43 lately). Left: 50 of prep, its parts 600, final 50: 700.
  // The chain: prep's 50, a part's 300, final's 50 = 400. Bounds: 445
  // (the work over the slots) and 400 + 300 / 1.57 = 591.
  auto slots = 550.0 / 350;
  auto expected = (std::max(400.0, 700 / slots) + 400 + 300 / slots) / 2;
  REQUIRE(e.eta_ns);
  CHECK(static_cast<double>(*e.eta_ns) == Approx(expected).margin(1));
}
