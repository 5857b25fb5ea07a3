// Replay checks every record: a job's records are built with the real
// encoder, then one is made inconsistent the way damage or a foreign
// writer would; each is refused with bad_data in one line naming the job,
// the record and what does not fit, and the sequences weft writes (restarts
// included) still replay.

#include "weft/actors/journal.hpp"
#include "weft/core/job_replay.hpp"
#include "weft/core/journal_event.hpp"
#include "weft/error.hpp"

#include "weft/schemas/journal.capnp.h"

#include "temp_dir.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {

using weft::job_state;
using weft::task_state;
using weft::core::encode_event;
using weft::core::event_kind;
using weft::core::job_replay;
using weft::core::journal_event;
using weft::core::task_submission;

constexpr const char* job_id = "018dd029-58ca-74e5-8b58-b4f99d610f9a";

task_submission task(std::string name, std::vector<uint32_t> deps = {},
                     uint32_t max_retries = 0) {
  task_submission s;
  s.identifier = {std::move(name), "v1.0"};
  s.input = "{}";
  s.depends_on = std::move(deps);
  s.max_retries = max_retries;
  return s;
}

/// A submission of `roots`, each with `max_retries`.
journal_event submitted(std::vector<task_submission> roots,
                        uint32_t max_retries = 0) {
  journal_event e;
  e.kind = event_kind::job_submitted;
  e.job_id = job_id;
  e.time = 1000;
  e.name = "replayed";
  e.cluster = "default";
  e.max_retries = max_retries;
  e.roots = std::move(roots);
  return e;
}

journal_event task_event(event_kind kind, uint32_t task, uint32_t attempt) {
  journal_event e;
  e.kind = kind;
  e.job_id = job_id;
  e.time = 2000;
  e.task = task;
  e.attempt = attempt;
  if (kind == event_kind::task_computed)
    e.outcome.succeeded = true;
  if (kind == event_kind::task_failed)
    e.outcome.error = "boom";
  if (kind == event_kind::task_lost)
    e.reason = "runner gone";
  return e;
}

journal_event started(uint32_t task, uint32_t attempt = 1) {
  return task_event(event_kind::task_started, task, attempt);
}
journal_event computed(uint32_t task, uint32_t attempt = 1,
                       std::vector<task_submission> subtasks = {}) {
  auto e = task_event(event_kind::task_computed, task, attempt);
  e.outcome.subtasks = std::move(subtasks);
  return e;
}
journal_event failed(uint32_t task, uint32_t attempt = 1) {
  return task_event(event_kind::task_failed, task, attempt);
}
journal_event lost(uint32_t task, uint32_t attempt = 1) {
  return task_event(event_kind::task_lost, task, attempt);
}
journal_event job_event(event_kind kind) {
  return task_event(kind, 0, 0);
}

journal_event summary() {
  journal_event e;
  e.kind = event_kind::job_summary;
  e.job_id = job_id;
  e.summary.id = job_id;
  e.summary.name = "replayed";
  e.summary.cluster = "default";
  e.summary.state = job_state::completed;
  e.summary.submitted_at = 1000;
  return e;
}

std::vector<std::string> encoded(const std::vector<journal_event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events)
    out.push_back(encode_event(e));
  return out;
}

/// Applies every record as recovery does: from their bytes.
job_replay replay_all(const std::vector<std::string>& records) {
  job_replay r{job_id};
  for (const auto& bytes : records)
    r.apply(bytes);
  return r;
}

/// The message refusing the last record, all records before it applying.
std::string refusal(const std::vector<std::string>& records) {
  REQUIRE_FALSE(records.empty());
  job_replay r{job_id};
  for (size_t i = 0; i + 1 < records.size(); ++i) {
    INFO("record " << i);
    REQUIRE_NOTHROW(r.apply(records[i]));
  }
  auto last = std::to_string(records.size() - 1);
  try {
    r.apply(records.back());
  } catch (const weft::error& e) {
    CHECK(e.code() == weft::errc::bad_data);
    std::string what = e.what();
    CHECK_THAT(what, Catch::StartsWith(std::string{"job "} + job_id
                                       + ", record " + last));
    CHECK(what.find('\n') == std::string::npos);
    return what;
  }
  FAIL("record " << last << " replayed without complaint");
  return {};
}

std::string refusal(const std::vector<journal_event>& events) {
  return refusal(encoded(events));
}

/// A message whose `taskStarted` is selected but absent: a record no weft
/// writes, which the decoder would otherwise read as task 0, attempt 0.
std::string started_without_fields() {
  capnp::MallocMessageBuilder message;
  auto ev = message.initRoot<weft::schemas::Event>();
  ev.setSchemaVersion(weft::schemas::CURRENT_SCHEMA_VERSION);
  ev.setJobId(job_id);
  ev.initTaskStarted();
  ev.disownTaskStarted();
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return {reinterpret_cast<const char*>(bytes.begin()), bytes.size()};
}

} // namespace

// -- what weft writes still replays
// --------------------------------------------

TEST_CASE("replay: a job's records as weft writes them rebuild its graph") {
  // a; b after a. a splits into c and d (d after c); c fails once and is
  // retried, d loses its runner once; b starts once a's subtree settled.
  auto records = encoded({
    submitted({task("a"), task("b", {0})}),
    started(0),
    computed(0, 1, {task("c", {}, 1), task("d", {0})}),
    started(2),
    failed(2),
    started(2, 2),
    computed(2, 2),
    started(3),
    lost(3),
    started(3, 2),
    computed(3, 2),
    started(1),
    computed(1),
  });
  auto r = replay_all(records);
  CHECK(r.records() == records.size());
  CHECK(r.head().name == "replayed");
  REQUIRE(r.graph());
  const auto& g = *r.graph();
  CHECK(g.size() == 4);
  CHECK(g.state() == job_state::completed);
  CHECK(g.info(2).attempts == 2);
  CHECK(g.info(2).retries_used == 1);
  CHECK(g.info(3).runner_losses == 1);
}

TEST_CASE("replay: a task started again after a restart finishes under its "
          "new attempt") {
  // The first process stopped with a running; the next one requeued it
  // (unrecorded) and started it again, under a number of its own.
  auto r = replay_all(encoded(
    {submitted({task("a")}), started(0, 1), started(0, 3), computed(0, 3)}));
  CHECK(r.graph()->state() == job_state::completed);

  // Still running at the end: requeued by recovery, not refused.
  r = replay_all(
    encoded({submitted({task("a")}), started(0, 1), started(0, 1)}));
  CHECK(r.graph()->state_of(0) == task_state::running);
}

TEST_CASE("replay: cancels, retries and a compacted job's summary replay") {
  auto r = replay_all(
    encoded({submitted({task("a"), task("b")}), started(0),
             job_event(event_kind::job_canceled), computed(0),
             job_event(event_kind::job_retried), started(1), computed(1)}));
  CHECK(r.graph()->state() == job_state::completed);

  r = replay_all(encoded({summary()}));
  CHECK_FALSE(r.graph());
  CHECK(r.head().summary.state == job_state::completed);
}

TEST_CASE("replay: a recorded batch of subtasks the graph refuses fails its "
          "attempt, as it did when written") {
  // A runner of another build may send subtasks depending on a later
  // position: the job recorded the completion and the graph failed it.
  auto r = replay_all(encoded(
    {submitted({task("a")}), started(0), computed(0, 1, {task("c", {0})})}));
  CHECK(r.graph()->size() == 1);
  CHECK(r.graph()->state_of(0) == task_state::failed);
}

// -- inconsistent records are refused
// ------------------------------------------

TEST_CASE("replay: a task out of range is refused") {
  auto why = refusal(
    {submitted({task("a"), task("b")}), started(0), computed(0), started(7)});
  CHECK_THAT(why, Catch::Contains("record 3 (task_started)")
                    && Catch::Contains("task 7 does not exist")
                    && Catch::Contains("2 tasks"));
  why = refusal({submitted({task("a")}), computed(1)});
  CHECK_THAT(why, Catch::Contains("task 1 does not exist"));
  why = refusal({submitted({task("a")}), lost(UINT32_MAX)});
  CHECK_THAT(why, Catch::Contains("(task_lost)")
                    && Catch::Contains("does not exist"));
}

TEST_CASE("replay: an end naming another attempt than its start is refused") {
  auto why = refusal({submitted({task("a")}), started(0, 1), computed(0, 2)});
  CHECK_THAT(why, Catch::Contains("record 2 (task_computed)")
                    && Catch::Contains("attempt 2")
                    && Catch::Contains("attempt 1 is the one running"));
  why = refusal({submitted({task("a")}), started(0, 4), lost(0, 3)});
  CHECK_THAT(why, Catch::Contains("attempt 4 is the one running"));
}

TEST_CASE("replay: a finish or loss without its start is refused") {
  auto why = refusal({submitted({task("a")}), computed(0)});
  CHECK_THAT(why, Catch::Contains("record 1 (task_computed)")
                    && Catch::Contains("task 0 is QUEUED, not running"));
  why = refusal({submitted({task("a")}), failed(0)});
  CHECK_THAT(why, Catch::Contains("(task_failed)")
                    && Catch::Contains("not running"));
  why = refusal({submitted({task("a")}), lost(0)});
  CHECK_THAT(why, Catch::Contains("(task_lost)"));
  // Finished already: a second finish has no start either.
  why = refusal({submitted({task("a")}), started(0), computed(0), computed(0)});
  CHECK_THAT(why, Catch::Contains("record 3")
                    && Catch::Contains("is COMPUTED, not running"));
}

TEST_CASE("replay: starts the graph cannot make are refused") {
  // b waits for a.
  auto why = refusal({submitted({task("a"), task("b", {0})}), started(1)});
  CHECK_THAT(why, Catch::Contains("task 1 starts before the tasks it depends "
                                  "on are settled"));
  why = refusal({submitted({task("a")}), started(0), computed(0), started(0)});
  CHECK_THAT(why, Catch::Contains("task 0 is COMPUTED, so it cannot start"));
  why = refusal({submitted({task("a"), task("b")}),
                 job_event(event_kind::job_canceled), started(1)});
  CHECK_THAT(why, Catch::Contains("starts in a CANCELED job"));
  why = refusal(
    {submitted({task("a"), task("b")}), started(0), failed(0), started(1)});
  CHECK_THAT(why, Catch::Contains("starts in a FAILED job"));
}

TEST_CASE("replay: a cancel of a completed job is refused") {
  auto why = refusal({submitted({task("a")}), started(0), computed(0),
                      job_event(event_kind::job_canceled)});
  CHECK_THAT(why, Catch::Contains("(job_canceled)")
                    && Catch::Contains("had completed"));
}

TEST_CASE("replay: a second submission, a record before the submission and "
          "records beside a summary are refused") {
  auto why
    = refusal({submitted({task("a")}), started(0), submitted({task("a")})});
  CHECK_THAT(why, Catch::Contains("record 2 (job_submitted)")
                    && Catch::Contains("submitted already"));
  why = refusal({started(0)});
  CHECK_THAT(why, Catch::Contains("record 0 (task_started)")
                    && Catch::Contains("first record must be its submission"));
  why = refusal({summary(), started(0)});
  CHECK_THAT(why, Catch::Contains("summary is its only record"));
  why = refusal({summary(), summary()});
  CHECK_THAT(why, Catch::Contains("record 1 (job_summary)"));
  why = refusal({submitted({task("a")}), started(0), summary()});
  CHECK_THAT(why, Catch::Contains("follows 2 of them"));
}

TEST_CASE("replay: a submission without roots or with roots out of order is "
          "refused") {
  auto why = refusal({submitted({})});
  CHECK_THAT(why, Catch::Contains("record 0 (job_submitted)")
                    && Catch::Contains("no root tasks"));
  why = refusal({submitted({task("a", {0})})});
  CHECK_THAT(why, Catch::Contains("root 0 depends on position 0"));
  why = refusal({submitted({task("a"), task("b", {5})})});
  CHECK_THAT(why, Catch::Contains("root 1 depends on position 5"));
  why = refusal({submitted({task("")})});
  CHECK_THAT(why, Catch::Contains("root 0 has no task name"));
}

TEST_CASE("replay: a record filed under another job is refused") {
  auto other = started(0);
  other.job_id = "018dd029-58ca-74e5-8b58-000000000000";
  auto why = refusal({submitted({task("a")}), other});
  CHECK_THAT(why, Catch::Contains("names job \"018dd029-58ca-74e5-8b58-"
                                  "000000000000\""));
  auto nameless = started(0);
  nameless.job_id.clear();
  why = refusal({submitted({task("a")}), nameless});
  CHECK_THAT(why, Catch::Contains("names no job"));

  job_replay r{""};
  CHECK_THROWS_WITH(r.apply(encode_event(submitted({task("a")}))),
                    Catch::Contains("filed under no job id"));
}

TEST_CASE("replay: truncated, garbage and incomplete bytes are refused") {
  auto good = encode_event(computed(0));
  auto records = encoded({submitted({task("a")}), started(0)});
  SECTION("cut inside a word") {
    records.push_back(good.substr(0, good.size() - 3));
    CHECK_THAT(refusal(records), Catch::Contains("not a Cap'n Proto message"));
  }
  SECTION("cut at a word") {
    records.push_back(good.substr(0, good.size() - 8));
    CHECK_THAT(refusal(records), Catch::Contains("corrupt"));
  }
  SECTION("empty") {
    records.push_back("");
    CHECK_THAT(refusal(records), Catch::Contains("0 bytes"));
  }
  SECTION("garbage") {
    records.push_back("12345678garbage!");
    refusal(records);
    std::string noise(64, '\0');
    for (size_t i = 0; i < noise.size(); ++i)
      noise[i] = static_cast<char>(i * 37 + 11);
    records.back() = noise;
    refusal(records);
  }
  SECTION("a kind without its fields") {
    records.push_back(started_without_fields());
    CHECK_THAT(refusal(records),
               Catch::Contains("task_started without its fields"));
  }
  SECTION("no schema version") {
    capnp::MallocMessageBuilder message;
    auto ev = message.initRoot<weft::schemas::Event>();
    ev.setJobId(job_id);
    ev.initTaskStarted();
    auto words = capnp::messageToFlatArray(message);
    auto bytes = words.asBytes();
    records.push_back(
      {reinterpret_cast<const char*>(bytes.begin()), bytes.size()});
    CHECK_THAT(refusal(records), Catch::Contains("no schema version"));
  }
}

// -- recovery
// ------------------------------------------------------------------

TEST_CASE("replay: recovery refuses a journal with an inconsistent record, "
          "naming the directory, the job and the record") {
  weft::test::temp_dir dir;
  {
    auto store = weft::journal_store::open({dir.path, false});
    for (const auto& bytes :
         encoded({submitted({task("a")}), started(0), computed(0, 2)}))
      store->append({weft::journal_record{job_id, bytes}});
  }
  auto store = weft::journal_store::open({dir.path, false});
  try {
    weft::recover_jobs(*store);
    FAIL("recovered an inconsistent journal");
  } catch (const weft::error& e) {
    CHECK(e.code() == weft::errc::bad_data);
    CHECK_THAT(e.what(), Catch::Contains("data directory " + dir.path.string())
                           && Catch::Contains(std::string{"job "} + job_id
                                              + ", record 2 (task_computed)")
                           && Catch::Contains("restore the directory"));
  }
}

TEST_CASE("replay: recovery rebuilds consistent jobs and requeues what was "
          "running") {
  weft::test::temp_dir dir;
  const std::string second = "018dd029-58ca-74e5-8b58-b4f99d610fff";
  {
    auto store = weft::journal_store::open({dir.path, false});
    for (const auto& bytes : encoded({submitted({task("a"), task("b")}),
                                      started(0), computed(0), started(1)}))
      store->append({weft::journal_record{job_id, bytes}});
    auto s = summary();
    s.job_id = s.summary.id = second;
    store->append({weft::journal_record{second, encode_event(s)}});
  }
  auto store = weft::journal_store::open({dir.path, false});
  auto jobs = weft::recover_jobs(*store);
  REQUIRE(jobs.size() == 2);
  CHECK(jobs[0].id == job_id);
  CHECK(jobs[0].name == "replayed");
  CHECK(jobs[0].submitted_at == 1000);
  REQUIRE(jobs[0].graph);
  CHECK(jobs[0].graph->state_of(0) == task_state::computed);
  CHECK(jobs[0].graph->state_of(1) == task_state::queued);
  CHECK(jobs[1].id == second);
  CHECK_FALSE(jobs[1].graph);
  CHECK(jobs[1].summary.state == job_state::completed);
}
