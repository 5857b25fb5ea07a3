// The journal's format on disk: records written by earlier weft builds,
// checked in under tests/data/, still decode to the same values, field by
// field; states are Cap'n Proto enums whose numbers match the C++ enums;
// numbers this build does not know are refused, naming the record.
//
// Never regenerate the files under tests/data/: they stand for the journals
// users already have. A new format adds a directory and a test case.

#include "weft/core/journal_event.hpp"
#include "weft/error.hpp"
#include "weft/job.hpp"

#include "weft/schemas/journal.capnp.h"

#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>
#include <catch2/catch.hpp>

#include <cctype>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

using weft::job_state;
using weft::task_state;
using weft::core::decode_event;
using weft::core::encode_event;
using weft::core::event_kind;
using weft::core::journal_event;

constexpr const char* job_id = "018dd029-58ca-74e5-8b58-b4f99d610f9a";
constexpr weft::timestamp event_time = 1700000000123456789;

/// The bytes of tests/data/<dir>/<name>.bin, exactly as checked in.
std::string data_file(const std::string& dir, const std::string& name) {
  auto path = std::string{WEFT_TEST_DATA_DIR} + "/" + dir + "/" + name + ".bin";
  std::ifstream in{path, std::ios::binary};
  INFO(path);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

journal_event v1(const std::string& name) {
  return decode_event(data_file("journal-v1", name));
}

std::string flat_bytes(capnp::MallocMessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return {reinterpret_cast<const char*>(bytes.begin()), bytes.size()};
}

/// Runs `fn` on a message holding a copy of `bytes`, to look at fields the
/// decoder hides.
template <class Root, class F>
void with_root(const std::string& bytes, F fn) {
  REQUIRE(bytes.size() % sizeof(capnp::word) == 0);
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  capnp::FlatArrayMessageReader message{words};
  fn(message.getRoot<Root>());
}

/// The message a decoder throws for `bytes`, checking that it is bad_data.
std::string refusal(const std::string& bytes) {
  try {
    decode_event(bytes);
  } catch (const weft::error& e) {
    CHECK(e.code() == weft::errc::bad_data);
    return e.what();
  }
  FAIL("decoded without complaint");
  return {};
}

void check_common_header(const journal_event& e) {
  CHECK(e.job_id == job_id);
  CHECK(e.time == event_time);
}

void check_spec(const weft::core::task_submission& s, const char* name,
                const char* version, const char* input, const char* cluster,
                std::vector<uint32_t> deps, uint32_t retries, bool optional) {
  CHECK(s.identifier.name == name);
  CHECK(s.identifier.version == version);
  CHECK(s.input == input);
  CHECK(s.cluster == cluster);
  CHECK(s.depends_on == deps);
  CHECK(s.max_retries == retries);
  CHECK(s.optional == optional);
}

/// The outcome the v1 task_computed and task_failed records carry.
void check_outcome(const weft::core::attempt_outcome& o) {
  CHECK(o.progress
        == std::vector<weft::progress_indicator>{{"files", 10, 4},
                                                 {"bytes", 2048, 1024}});
  CHECK(o.display == "upload a.txt");
  REQUIRE(o.logs.size() == 2);
  CHECK(o.logs[0].time == 1700000000200000000);
  CHECK(o.logs[0].level == "info");
  CHECK(o.logs[0].message == "hello");
  CHECK(o.logs[0].fields == R"({"k":1})");
  CHECK(o.logs[1].time == 1700000000300000000);
  CHECK(o.logs[1].level == "warn");
  CHECK(o.logs[1].message == "careful");
  CHECK(o.logs[1].fields == "{}");
  REQUIRE(o.spans.size() == 1);
  CHECK(o.spans[0].name == "fetch");
  CHECK(o.spans[0].start == 1700000000210000000);
  CHECK(o.spans[0].end == 1700000000290000000);
  CHECK(o.spans[0].attributes == R"({"url":"x"})");
  CHECK(o.started == 1700000000100000000);
  CHECK(o.stopped == 1700000000400000000);
  CHECK(o.runner == "runner-1");
}

/// "FAILED_OPTIONAL" -> "failedOptional", as the schema spells it.
std::string camel(const char* upper) {
  std::string out;
  bool up = false;
  for (const char* p = upper; *p; ++p) {
    if (*p == '_') {
      up = true;
      continue;
    }
    auto c = static_cast<char>(std::tolower(static_cast<unsigned char>(*p)));
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
              : c;
    up = false;
  }
  return out;
}

/// A summary message with a chosen `jobState`, legacy `state` and counts.
std::string summary_bytes(uint16_t job_state_value, uint8_t legacy_state,
                          std::vector<uint64_t> counts = {}) {
  capnp::MallocMessageBuilder message;
  auto ev = message.initRoot<weft::schemas::Event>();
  ev.setSchemaVersion(1);
  ev.setJobId(job_id);
  auto b = ev.initJobSummary();
  b.setName("n");
  b.setJobState(static_cast<weft::schemas::JobState>(job_state_value));
  b.setState(legacy_state);
  auto list = b.initTasksByState(static_cast<unsigned>(counts.size()));
  for (unsigned i = 0; i < counts.size(); ++i)
    list.set(i, counts[i]);
  return flat_bytes(message);
}

} // namespace

TEST_CASE(
  "journal format: v1 records of every event kind decode field by field") {
  SECTION("job submitted") {
    auto e = v1("job_submitted");
    CHECK(e.kind == event_kind::job_submitted);
    check_common_header(e);
    CHECK(e.name == "nightly");
    CHECK(e.cluster == "gpu");
    CHECK(e.max_retries == 2);
    REQUIRE(e.roots.size() == 2);
    check_spec(e.roots[0], "fetch", "v1.2", R"({"x":1})", "gpu", {}, 3, false);
    check_spec(e.roots[1], "train", "v2.0", R"({"y":[1,2]})", "", {0}, 0, true);
  }
  SECTION("task started") {
    auto e = v1("task_started");
    CHECK(e.kind == event_kind::task_started);
    check_common_header(e);
    CHECK(e.task == 1);
    CHECK(e.attempt == 2);
    CHECK(e.runner == "runner-1");
  }
  SECTION("task computed") {
    auto e = v1("task_computed");
    CHECK(e.kind == event_kind::task_computed);
    check_common_header(e);
    CHECK(e.task == 3);
    CHECK(e.attempt == 1);
    CHECK(e.outcome.succeeded);
    CHECK(e.outcome.error.empty());
    REQUIRE(e.outcome.subtasks.size() == 2);
    check_spec(e.outcome.subtasks[0], "part", "v1.0", R"({"i":0})", "cpu", {},
               1, false);
    check_spec(e.outcome.subtasks[1], "part", "v1.0", R"({"i":1})", "", {0}, 1,
               true);
    check_outcome(e.outcome);
  }
  SECTION("task failed (cause: the task)") {
    auto e = v1("task_failed");
    CHECK(e.kind == event_kind::task_failed);
    check_common_header(e);
    CHECK(e.task == 4);
    CHECK(e.attempt == 3);
    CHECK_FALSE(e.outcome.succeeded);
    CHECK(e.outcome.error == "boom: division by zero");
    CHECK(e.reason.empty());
    CHECK(e.outcome.subtasks.empty());
    check_outcome(e.outcome);
  }
  SECTION("task lost (cause: its runner)") {
    auto e = v1("task_lost");
    CHECK(e.kind == event_kind::task_lost);
    check_common_header(e);
    CHECK(e.task == 5);
    CHECK(e.attempt == 1);
    CHECK(e.reason == "runner runner-2 vanished");
    CHECK(e.outcome.error.empty());
    CHECK(e.outcome.started == 1700000000100000000);
    CHECK(e.outcome.stopped == 0);
    CHECK(e.outcome.runner == "runner-2");
    CHECK(e.outcome.progress.empty());
    CHECK(e.outcome.logs.empty());
    CHECK(e.outcome.spans.empty());
  }
  SECTION("job canceled") {
    auto e = v1("job_canceled");
    CHECK(e.kind == event_kind::job_canceled);
    check_common_header(e);
  }
  SECTION("job retried") {
    auto e = v1("job_retried");
    CHECK(e.kind == event_kind::job_retried);
    check_common_header(e);
  }
  SECTION("task profile") {
    auto [key, profile]
      = weft::core::decode_profile(data_file("journal-v1", "task_profile"));
    CHECK(key == weft::core::stat_key{"train", 2, 1, "fetch"});
    CHECK(profile.runs == 42);
    CHECK(profile.mean_ns == 1234567.5);
    REQUIRE(profile.subtasks.size() == 1);
    CHECK(profile.subtasks.begin()->first
          == weft::core::stat_key{"part", 1, 2, "train"});
    CHECK(profile.subtasks.begin()->second == 3.25);
  }
}

TEST_CASE(
  "journal format: v1 summaries decode every job state, counts by task state") {
  // The numbers v1 wrote, spelled out: a renumbering fails here.
  struct expected {
    const char* file;
    job_state state;
    unsigned number;
    const char* name;
  };
  const expected all[] = {
    {"job_summary_submitted", job_state::submitted, 0, "SUBMITTED"},
    {"job_summary_running", job_state::running, 1, "RUNNING"},
    {"job_summary_started", job_state::started, 2, "STARTED"},
    {"job_summary_completed", job_state::completed, 3, "COMPLETED"},
    {"job_summary_failed", job_state::failed, 4, "FAILED"},
    {"job_summary_canceled", job_state::canceled, 5, "CANCELED"},
  };
  static_assert(std::size(all) == weft::job_state_count);
  for (const auto& x : all) {
    INFO(x.file);
    auto bytes = data_file("journal-v1", x.file);
    // v1 had only the UInt8 `state`: `jobState` reads as its default.
    with_root<weft::schemas::Event>(bytes, [&](auto ev) {
      CHECK(ev.getSchemaVersion() == 1);
      REQUIRE(ev.isJobSummary());
      CHECK(ev.getJobSummary().getState() == x.number);
      CHECK(ev.getJobSummary().getJobState()
            == weft::schemas::JobState::SUBMITTED);
    });
    auto e = decode_event(bytes);
    CHECK(e.kind == event_kind::job_summary);
    check_common_header(e);
    const auto& j = e.summary;
    CHECK(j.id == job_id);
    CHECK(j.name == "nightly");
    CHECK(j.cluster == "gpu");
    CHECK(j.state == x.state);
    CHECK(static_cast<unsigned>(j.state) == x.number);
    CHECK(std::string{weft::to_string(j.state)} == x.name);
    CHECK(j.submitted_at == 1700000000000000000);
    CHECK(j.progress
          == std::vector<weft::progress_indicator>{{"files", 10, 10}});
    CHECK(j.stats.first_started == 1700000000100000000);
    CHECK(j.stats.last_stopped == 1700000009100000000);
    CHECK(j.stats.compute_ns == 12000000000);
    CHECK(j.stats.elapsed_ns == 9000000000);
    CHECK(j.stats.parallelism == 1.5);
    CHECK(j.stats.total_tasks == 28);
    // Position i held i + 1: each task state reads its own count.
    CHECK(j.stats.count(task_state::queued) == 1);
    CHECK(j.stats.count(task_state::running) == 2);
    CHECK(j.stats.count(task_state::computed) == 3);
    CHECK(j.stats.count(task_state::failed) == 4);
    CHECK(j.stats.count(task_state::canceled) == 5);
    CHECK(j.stats.count(task_state::failed_optional) == 6);
    CHECK(j.stats.count(task_state::skipped) == 7);
  }
}

TEST_CASE("journal format: summaries write the state as a JobState and as the "
          "legacy number") {
  for (unsigned s = 0; s < weft::job_state_count; ++s) {
    INFO(s);
    journal_event e;
    e.kind = event_kind::job_summary;
    e.job_id = job_id;
    e.summary.state = static_cast<job_state>(s);
    auto bytes = encode_event(e);
    with_root<weft::schemas::Event>(bytes, [&](auto ev) {
      auto r = ev.getJobSummary();
      CHECK(static_cast<unsigned>(r.getJobState()) == s);
      CHECK(r.getState() == s); // what a weft before jobState reads
    });
    CHECK(decode_event(bytes).summary.state == static_cast<job_state>(s));
  }
}

TEST_CASE("journal format: the schema's state enums are the C++ enums") {
  auto jobs = capnp::Schema::from<weft::schemas::JobState>().getEnumerants();
  REQUIRE(jobs.size() == weft::job_state_count);
  for (unsigned i = 0; i < jobs.size(); ++i) {
    CHECK(jobs[i].getOrdinal() == i);
    CHECK(std::string{jobs[i].getProto().getName().cStr()}
          == camel(weft::to_string(static_cast<job_state>(i))));
  }
  auto tasks = capnp::Schema::from<weft::schemas::TaskState>().getEnumerants();
  REQUIRE(tasks.size() == weft::task_state_count);
  for (unsigned i = 0; i < tasks.size(); ++i) {
    CHECK(tasks[i].getOrdinal() == i);
    CHECK(std::string{tasks[i].getProto().getName().cStr()}
          == camel(weft::to_string(static_cast<task_state>(i))));
  }
}

TEST_CASE("journal format: unknown state and cause numbers are refused, naming "
          "the record") {
  using Catch::Matchers::Contains;
  auto prefix = std::string{"job summary of job "} + job_id;

  auto msg = refusal(summary_bytes(42, 3));
  CHECK_THAT(msg, Contains(prefix) && Contains("unknown job state (42)"));

  // A record from before jobState: the legacy number is checked as well.
  msg = refusal(summary_bytes(0, 200));
  CHECK_THAT(msg, Contains(prefix) && Contains("unknown job state (200)"));

  // Counts at a position past the last task state this build knows.
  msg = refusal(summary_bytes(3, 3, {0, 0, 0, 0, 0, 0, 0, 5}));
  CHECK_THAT(msg, Contains(prefix) && Contains("unknown task state (7)"));
  CHECK(decode_event(summary_bytes(3, 3, {1, 0, 0, 0, 0, 0, 0, 0}))
          .summary.stats.count(task_state::queued)
        == 1);

  capnp::MallocMessageBuilder message;
  auto ev = message.initRoot<weft::schemas::Event>();
  ev.setSchemaVersion(1);
  ev.setJobId(job_id);
  ev.initTaskFailed().setCause(static_cast<weft::schemas::FailureCause>(9));
  msg = refusal(flat_bytes(message));
  CHECK_THAT(msg, Contains(std::string{"task failure of job "} + job_id)
                    && Contains("unknown cause (9)"));
}
