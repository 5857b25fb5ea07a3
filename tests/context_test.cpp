// What a task sees while it executes, driven through execute_attempt on
// the calling thread: no actor system involved.

#include "weft/registry.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

namespace context_test {

struct child {
  int n = 0;
  void execute(weft::context&) const {
  }
};
BOOST_DESCRIBE_STRUCT(child, (), (n))

struct parent {
  void execute(weft::context& ctx) const {
    auto a = ctx.submit_subtask(child{1});
    auto b = ctx.submit_subtask(child{2}, {.max_retries = 2, .cluster = "gpu"});
    ctx.submit_subtask(child{3}, {.depends_on = {a, b}, .optional = true});
    ctx.submit_subtasks(std::vector<child>{{4}, {5}}, {.depends_on = {a}});
    ctx.progress("items").add(5).done(2);
    ctx.progress().add(1);
    ctx.set_display("Parent\nsecond line");
    ctx.logger().info("submitted",
                      {{"count", 5}, {"names", std::vector<std::string>{"a"}}});
    auto span = ctx.tracer().span("work");
    span.set_attribute("size", 5);
  }
};
BOOST_DESCRIBE_STRUCT(parent, (), ())

struct long_display {
  void execute(weft::context& ctx) const {
    // 1023 characters, a 3-byte one as the 1024th, then more: characters
    // count, not bytes.
    ctx.set_display(std::string(1023, 'x') + "€tail");
  }
};
BOOST_DESCRIBE_STRUCT(long_display, (), ())

struct long_label {
  void execute(weft::context& ctx) const {
    ctx.progress(std::string(101, 'l')).add(1);
  }
};
BOOST_DESCRIBE_STRUCT(long_label, (), ())

struct many_labels {
  void execute(weft::context& ctx) const {
    for (int i = 0; i <= 1000; ++i)
      ctx.progress("p" + std::to_string(i)).add(1);
  }
};
BOOST_DESCRIBE_STRUCT(many_labels, (), ())

struct reads_missing {
  void execute(weft::context& ctx) const {
    std::string x = ctx.job_cache().group("data")["absent"];
  }
};
BOOST_DESCRIBE_STRUCT(reads_missing, (), ())

struct big_subtask {
  void execute(weft::context& ctx) const {
    ctx.submit_subtask(child{1});
    ctx.submit_json({"child", "v0.0"}, std::string(2000, ' ') + "{}");
  }
};
BOOST_DESCRIBE_STRUCT(big_subtask, (), ())

/// `logs` log lines, then `spans` spans, each named with `size` bytes, then
/// one short log line and span; fails at the end when `fail` is set.
struct chatty {
  int logs = 0;
  int spans = 0;
  size_t size = 10;
  bool fail = false;
  void execute(weft::context& ctx) const {
    for (int i = 0; i < logs; ++i)
      ctx.logger().info(std::string(size, 'm'));
    for (int i = 0; i < spans; ++i)
      ctx.tracer().span(std::string(size, 's'));
    ctx.logger().debug("");
    ctx.tracer().span("");
    if (fail)
      throw weft::error(weft::errc::invalid_state, "failed after logging");
  }
};
BOOST_DESCRIBE_STRUCT(chatty, (), (logs, spans, size, fail))

struct throws_int {
  void execute(weft::context&) const {
    throw 42;
  }
};
BOOST_DESCRIBE_STRUCT(throws_int, (), ())

} // namespace context_test

using namespace context_test;

namespace {

weft::core::attempt_outcome run(const weft::task_registry& reg,
                                weft::task_identifier id,
                                std::string input = "{}",
                                weft::context_limits limits = {}) {
  weft::attempt_request req;
  req.job_id = "job";
  req.task = 7;
  req.attempt = 1;
  req.identifier = std::move(id);
  req.input = std::move(input);
  return weft::execute_attempt(reg, req, weft::make_in_memory_cache(), limits,
                               "test-runner");
}

weft::task_registry registry() {
  weft::task_registry reg;
  reg.add_all<child, parent, long_display, long_label, many_labels,
              reads_missing, big_subtask, chatty, throws_int>();
  return reg;
}

std::string chatty_input(int logs, int spans, size_t size = 10,
                         bool fail = false) {
  return weft::json::encode(chatty{logs, spans, size, fail});
}

/// The closing warning of an attempt that dropped records: its last log.
const weft::log_record& dropped_note(const weft::core::attempt_outcome& out) {
  REQUIRE_FALSE(out.logs.empty());
  const auto& note = out.logs.back();
  CHECK(note.level == "warn");
  CHECK_THAT(note.message, Catch::StartsWith("this attempt dropped ")
                             && Catch::Contains("runner_options::limits"));
  return note;
}

} // namespace

TEST_CASE("context: an execution collects subtasks, progress, display, logs") {
  auto out = run(registry(), {"parent", "v0.0"});
  REQUIRE(out.succeeded);
  REQUIRE(out.subtasks.size() == 5);
  CHECK(out.subtasks[0].input == R"({"n":1})");
  CHECK(out.subtasks[1].max_retries == 2);
  CHECK(out.subtasks[1].cluster == "gpu");
  CHECK(out.subtasks[2].depends_on == std::vector<uint32_t>{0, 1});
  CHECK(out.subtasks[2].optional);
  CHECK(out.subtasks[4].depends_on == std::vector<uint32_t>{0});
  CHECK(out.progress
        == std::vector<weft::progress_indicator>{{"items", 5, 2}, {"", 1, 0}});
  CHECK(out.display == "Parent\nsecond line");
  REQUIRE(out.logs.size() == 1);
  CHECK(out.logs[0].level == "info");
  CHECK(out.logs[0].fields == R"({"count":5,"names":["a"]})");
  REQUIRE(out.spans.size() == 1);
  CHECK(out.spans[0].attributes == R"({"size":5})");
  CHECK(out.spans[0].end >= out.spans[0].start);
  CHECK(out.runner == "test-runner");
}

TEST_CASE("context: display names are cut at 1024 characters, not bytes") {
  auto out = run(registry(), {"long_display", "v0.0"});
  REQUIRE(out.succeeded);
  CHECK(out.display == std::string(1023, 'x') + "€");
}

TEST_CASE("context: progress labels and indicator counts are limited") {
  auto out = run(registry(), {"long_label", "v0.0"});
  CHECK_FALSE(out.succeeded);
  CHECK_THAT(out.error, Catch::Contains("at most 100 bytes"));
  out = run(registry(), {"many_labels", "v0.0"});
  CHECK_FALSE(out.succeeded);
  CHECK_THAT(out.error, Catch::Contains("at most 1000 progress indicators"));
}

TEST_CASE("context: failures carry a message and drop the subtasks") {
  auto out = run(registry(), {"reads_missing", "v0.0"});
  CHECK_FALSE(out.succeeded);
  CHECK_THAT(out.error,
             Catch::Contains("job cache has no key 'job/data/absent'"));
  out
    = run(registry(), {"big_subtask", "v0.0"}, "{}", {.max_input_bytes = 1024});
  CHECK_FALSE(out.succeeded);
  CHECK_THAT(out.error, Catch::Contains("above the limit of 1024 bytes"));
  CHECK(out.subtasks.empty());
  out = run(registry(), {"throws_int", "v0.0"});
  CHECK_FALSE(out.succeeded);
  CHECK_THAT(out.error, Catch::Contains("not a std::exception"));
}

TEST_CASE("context: inputs that do not decode name the field") {
  auto out = run(registry(), {"child", "v0.0"}, R"({"n":"one"})");
  CHECK_FALSE(out.succeeded);
  CHECK_THAT(out.error, Catch::Contains("child@v0.0")
                          && Catch::Contains("field 'n': expected integer"));
  out = run(registry(), {"child", "v0.0"}, "{oops");
  CHECK_THAT(out.error, Catch::Contains("malformed JSON"));
  out = run(registry(), {"nobody", "v1.0"});
  CHECK_THAT(out.error,
             Catch::Contains("no task registered that can run nobody@v1.0"));
}

TEST_CASE("context: identifiers and version compatibility") {
  CHECK(weft::parse_version("v1.3") == weft::task_version{1, 3});
  for (auto bad : {"1.3", "v1", "v1.", "v.3", "v1.3.0", "v-1.3", "v1.3 ",
                   "V1.3", "v99999999999.0"})
    CHECK_THROWS_AS(weft::parse_version(bad), weft::error);
  CHECK(weft::compatible(weft::task_version{1, 3}, {1, 3}));
  CHECK(weft::compatible(weft::task_version{1, 3}, {1, 5}));
  CHECK_FALSE(weft::compatible(weft::task_version{1, 3}, {1, 2}));
  CHECK_FALSE(weft::compatible(weft::task_version{1, 3}, {2, 5}));
  CHECK_THROWS_AS(weft::validate_identifier({std::string(257, 'n'), "v1.0"}),
                  weft::error);
  CHECK_NOTHROW(weft::validate_identifier({std::string(256, 'n'), "v1.0"}));
}

TEST_CASE("context: an attempt keeps 10,000 logs and spans and 1 MiB of each "
          "by default") {
  weft::context_limits defaults;
  CHECK(defaults.max_logs == 10000);
  CHECK(defaults.max_log_bytes == 1u << 20);
  CHECK(defaults.max_spans == 10000);
  CHECK(defaults.max_span_bytes == 1u << 20);
  // 9,999 lines and spans, plus chatty's closing short ones: all kept.
  auto out = run(registry(), {"chatty", "v0.0"}, chatty_input(9999, 9999));
  REQUIRE(out.succeeded);
  CHECK(out.logs.size() == 10000);
  CHECK(out.spans.size() == 10000);
  CHECK(out.logs.back().level == "debug"); // no closing warning
  // One more of each: dropped, and said so.
  out = run(registry(), {"chatty", "v0.0"}, chatty_input(10000, 10000));
  CHECK(out.logs.size() == 10001);
  CHECK(out.spans.size() == 10000);
  CHECK_THAT(dropped_note(out).message,
             Catch::Contains("1 log record (2 bytes) past its limit of 10000 "
                             "log records (context_limits::max_logs)")
               && Catch::Contains("1 span (2 bytes) past its limit of 10000 "
                                  "spans (context_limits::max_spans)")
               && Catch::Contains("raise them"));
  // 1 MiB in records of 1 KiB (1022 bytes of message, "{}"): 1,024 fit.
  out = run(registry(), {"chatty", "v0.0"}, chatty_input(1100, 0, 1022));
  CHECK(out.logs.size() == 1024 + 1);
  CHECK_THAT(dropped_note(out).message,
             Catch::Contains("77 log records (77826 bytes) past its limit of "
                             "1048576 bytes of log records "
                             "(context_limits::max_log_bytes)"));
}

TEST_CASE("context: logs past a limit are dropped and counted in one "
          "closing warning") {
  auto out
    = run(registry(), {"chatty", "v0.0"}, chatty_input(5, 0), {.max_logs = 3});
  REQUIRE(out.succeeded);
  REQUIRE(out.logs.size() == 4);
  for (int i = 0; i < 3; ++i)
    CHECK(out.logs[i].message == std::string(10, 'm'));
  const auto& note = dropped_note(out);
  // Lines 4 and 5 (10 bytes and "{}" each) and the closing debug line.
  CHECK_THAT(note.message,
             Catch::Contains("dropped 3 log records (26 bytes) past its limit "
                             "of 3 log records (context_limits::max_logs): "
                             "raise it"));
  CHECK(boost::json::parse(note.fields)
        == boost::json::parse(R"({"logs":{"dropped":3,"dropped_bytes":26,)"
                              R"("limit":"max_logs"}})"));
  CHECK(out.spans.size() == 1); // spans have limits of their own
}

TEST_CASE("context: past the byte limit every later record is dropped, "
          "small ones too") {
  // Each line takes 12 bytes (10 of message, "{}" of fields): two fit in
  // 30; the third would pass it, and the short closing line after it is
  // dropped as well, so what is kept has no holes.
  auto out = run(registry(), {"chatty", "v0.0"}, chatty_input(4, 0),
                 {.max_log_bytes = 30});
  REQUIRE(out.logs.size() == 3);
  CHECK_THAT(dropped_note(out).message,
             Catch::Contains("dropped 3 log records (26 bytes) past its limit "
                             "of 30 bytes of log records "
                             "(context_limits::max_log_bytes)"));
}

TEST_CASE("context: spans past a limit are dropped, and logs and spans share "
          "the closing warning") {
  // Spans take their name and attributes ("{}"): 4 of 12 bytes fit in 50.
  auto out = run(registry(), {"chatty", "v0.0"}, chatty_input(2, 6),
                 {.max_logs = 1, .max_span_bytes = 50});
  CHECK(out.spans.size() == 4);
  REQUIRE(out.logs.size() == 2);
  const auto& note = dropped_note(out);
  CHECK_THAT(note.message,
             Catch::Contains("dropped 2 log records (14 bytes) past its limit "
                             "of 1 log record (context_limits::max_logs) and "
                             "3 spans (26 bytes) past its limit of 50 bytes "
                             "of spans (context_limits::max_span_bytes): "
                             "raise them"));
  auto fields = boost::json::parse(note.fields);
  CHECK(fields.at("spans").at("dropped") == 3);
  CHECK(fields.at("spans").at("limit") == "max_span_bytes");
  CHECK(fields.at("logs").at("limit") == "max_logs");
}

TEST_CASE("context: a failed attempt reports its dropped records too") {
  auto out = run(registry(), {"chatty", "v0.0"}, chatty_input(3, 0, 10, true),
                 {.max_logs = 0});
  CHECK_FALSE(out.succeeded);
  REQUIRE(out.logs.size() == 1);
  CHECK_THAT(dropped_note(out).message,
             Catch::Contains("dropped 4 log records"));
}
