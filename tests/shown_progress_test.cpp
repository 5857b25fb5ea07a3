// The percentage watchers are shown never goes back: the rule as plain
// data, applied to the estimates of a job that fans out into more work
// than was learned, and the JSON form that carries both figures.

#include "weft/core/json_views.hpp"
#include "weft/core/shown_progress.hpp"
#include "weft/core/statistics.hpp"
#include "weft/core/task_graph.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <random>
#include <vector>

using namespace weft;
using core::shown_percent;
using core::shown_progress;

namespace {

/// What `shown_percent` shows for each of `raw`, in order.
std::vector<std::optional<double>> show(
  const std::vector<std::optional<double>>& raw) {
  shown_percent s;
  std::vector<std::optional<double>> result;
  for (auto r : raw)
    result.push_back(s.next(r));
  return result;
}

core::task_submission sub(std::string name) {
  core::task_submission s;
  s.identifier = {std::move(name), "v1.0"};
  s.input = "{}";
  return s;
}

/// Starts `i` at `from` and finishes it at `to`, submitting `subtasks`.
void run(core::task_graph& g, core::task_index i, timestamp from, timestamp to,
         std::vector<core::task_submission> subtasks = {}) {
  auto a = g.attempt(i);
  REQUIRE(g.start(i, a, from));
  core::attempt_outcome out;
  out.succeeded = true;
  out.subtasks = std::move(subtasks);
  out.started = from;
  out.stopped = to;
  REQUIRE(g.finish(i, a, std::move(out)));
}

} // namespace

TEST_CASE("shown progress: equals the estimate while it never falls") {
  std::vector<std::optional<double>> raw{0.0,  0.0,  3.25, 17.5, 17.5,
                                         41.0, 58.3, 99.9, 100.0};
  CHECK(show(raw) == raw);
}

TEST_CASE("shown progress: holds when the estimate falls, then moves more "
          "slowly and meets it at 100") {
  auto s = show({20.0, 58.3, 41.0, 41.0, 70.5, 100.0});
  REQUIRE(s.size() == 6);
  CHECK(s[1] == 58.3);
  CHECK(s[2] == 58.3); // held
  CHECK(s[3] == 58.3);
  // The estimate covered half of what it had left (41 -> 70.5 of 100):
  // the shown value covers half of what it has left.
  CHECK(*s[4] == Approx(58.3 + (100 - 58.3) / 2));
  CHECK(*s[4] - 58.3 < 70.5 - 41.0); // more slowly
  CHECK(s[5] == 100.0);
}

TEST_CASE("shown progress: no estimate shows none and keeps the state") {
  auto s = show({std::nullopt, 50.0, std::nullopt, 30.0, std::nullopt, 65.0});
  CHECK_FALSE(s[0]);
  CHECK(s[1] == 50.0);
  CHECK_FALSE(s[2]);
  CHECK(s[3] == 50.0); // 30 is below the last estimate, 50
  CHECK_FALSE(s[4]);
  CHECK(*s[5] == Approx(50 + 50 * 35.0 / 70));
}

TEST_CASE("shown progress: never falls, never below the estimate, 100 "
          "exactly with it, for any sequence") {
  std::mt19937 gen{42};
  std::uniform_real_distribution<double> value{0, 99.9};
  std::uniform_int_distribution<int> kind{0, 9};
  for (int trial = 0; trial < 200; ++trial) {
    INFO("trial " << trial);
    std::vector<std::optional<double>> raw;
    for (int k = 0; k < 60; ++k) {
      auto c = kind(gen);
      if (c == 0)
        raw.emplace_back(); // no estimate
      else if (c < 4 && !raw.empty() && raw.back())
        raw.emplace_back(*raw.back()); // unchanged
      else
        raw.emplace_back(value(gen));
    }
    raw.emplace_back(100.0);
    auto s = show(raw);
    std::optional<double> last;
    for (size_t k = 0; k < raw.size(); ++k) {
      INFO("step " << k);
      CHECK(s[k].has_value() == raw[k].has_value());
      if (!s[k])
        continue;
      if (last)
        CHECK(*s[k] >= *last);
      CHECK(*s[k] >= *raw[k]);
      CHECK((*s[k] == 100) == (*raw[k] == 100));
      last = s[k];
    }
    CHECK(s.back() == 100.0);
  }
}

TEST_CASE("shown progress: a job's and its items' percentages, a completed "
          "job at 100, and a reset") {
  shown_progress filter;
  progress_update u;
  u.state = job_state::running;
  u.raw_percent = 60.0;
  u.items = {{0, "a", task_state::running, {}, 60.0},
             {1, "b", task_state::running, {}, 10.0}};
  filter.apply(u);
  CHECK(u.percent == 60.0);
  CHECK(u.items[0].percent == 60.0);
  CHECK(u.items[1].percent == 10.0);
  // More work appeared under item a; item b moved; a new item c appeared.
  u.raw_percent = 40.0;
  u.items = {{0, "a", task_state::running, {}, 20.0},
             {1, "b", task_state::running, {}, 30.0},
             {5, "c", task_state::queued, {}, 0.0}};
  filter.apply(u);
  CHECK(u.raw_percent == 40.0); // the estimate stays as it came
  CHECK(u.percent == 60.0);
  CHECK(u.items[0].percent == 60.0);
  CHECK(u.items[1].percent == 30.0);
  CHECK(u.items[2].percent == 0.0); // a new item starts from its estimate
  // COMPLETED shows 100.
  u.state = job_state::completed;
  u.raw_percent = 100.0;
  for (auto& i : u.items)
    i.raw_percent = 100.0;
  filter.apply(u);
  CHECK(u.percent == 100.0);
  for (const auto& i : u.items)
    CHECK(i.percent == 100.0);
  // After a reset (a retried job's new run) the estimates show as they are.
  filter.reset();
  u.state = job_state::running;
  u.raw_percent = 70.0;
  u.items = {{0, "a", task_state::running, {}, 5.0}};
  filter.apply(u);
  CHECK(u.percent == 70.0);
  CHECK(u.items[0].percent == 5.0);
}

TEST_CASE("shown progress: a pipeline that fans out into four times the work "
          "it learned falls back in its estimate, not in what is shown") {
  // A root submits three stages, each depending on the one before; each
  // stage submits `fan` leaves of 300 ns. Learned with one leaf per stage,
  // run with four.
  auto stages = [] {
    std::vector<core::task_submission> s{sub("stage"), sub("stage"),
                                         sub("stage")};
    s[1].depends_on = {0};
    s[2].depends_on = {1};
    return s;
  };
  core::task_statistics stats;
  std::vector<double> raw;
  std::vector<double> shown;
  shown_progress filter;
  auto observe = [&](const core::task_graph& g, timestamp at) {
    auto e = core::estimate(g, stats, at);
    progress_update u;
    u.state = g.state();
    u.raw_percent = e.percent;
    filter.apply(u);
    REQUIRE(u.raw_percent);
    REQUIRE(u.percent);
    raw.push_back(*u.raw_percent);
    shown.push_back(*u.percent);
  };
  auto run_job = [&](size_t fan, bool watched) {
    core::task_graph g{{sub("root")}, "default"};
    g.take_ready();
    timestamp t = 1000;
    run(g, 0, t, t + 100, stages());
    stats.learn(g, {0});
    t += 100;
    for (int stage = 0; stage < 3; ++stage) {
      if (watched)
        observe(g, t);
      auto ready = g.take_ready();
      REQUIRE(ready.size() == 1);
      run(g, ready[0], t, t + 100,
          std::vector<core::task_submission>(fan, sub("leaf")));
      stats.learn(g, ready);
      t += 100;
      if (watched)
        observe(g, t);
      ready = g.take_ready();
      REQUIRE(ready.size() == fan);
      for (auto leaf : ready)
        run(g, leaf, t, t + 300);
      stats.learn(g, ready);
      t += 300;
    }
    REQUIRE(g.state() == job_state::completed);
    if (watched)
      observe(g, t);
  };
  run_job(1, false);
  run_job(4, true);
  bool fell = false;
  for (size_t k = 1; k < raw.size(); ++k) {
    INFO("update " << k << ": estimate " << raw[k - 1] << " -> " << raw[k]
                   << ", shown " << shown[k - 1] << " -> " << shown[k]);
    fell = fell || raw[k] < raw[k - 1];
    CHECK(shown[k] >= shown[k - 1]);
    CHECK(shown[k] >= raw[k]);
  }
  CHECK(fell);
  CHECK(raw.back() == 100);
  CHECK(shown.back() == 100);
}

TEST_CASE("shown progress: the JSON form of an update has the shown and the "
          "raw percentage, null when there is none") {
  progress_update u;
  u.state = job_state::running;
  u.percent = 58.3;
  u.raw_percent = 41.0;
  u.items = {{0, "a", task_state::running, 60.0, 20.0},
             {1, "b", task_state::queued, {}, {}}};
  auto o = core::to_json(u);
  CHECK(o.at("percent").as_double() == 58.3);
  CHECK(o.at("raw_percent").as_double() == 41.0);
  const auto& items = o.at("items").as_array();
  REQUIRE(items.size() == 2);
  CHECK(items[0].at("percent").as_double() == 60.0);
  CHECK(items[0].at("raw_percent").as_double() == 20.0);
  CHECK(items[1].at("percent").is_null());
  CHECK(items[1].at("raw_percent").is_null());
  u.percent.reset();
  u.raw_percent.reset();
  o = core::to_json(u);
  CHECK(o.at("percent").is_null());
  CHECK(o.at("raw_percent").is_null());
}
