// Reading jobs from outside them: `query` by date strings and `cache(id)`,
// on a local_cluster and through a remote client sharing a file-system
// cache with the runners.

#include "temp_dir.hpp"

#include "weft/remote.hpp"
#include "weft/server.hpp"
#include "weft/weft.hpp"

#include <catch2/catch.hpp>

#include <functional>

using namespace std::chrono_literals;

namespace {

constexpr weft::timestamp day_ns = 86'400LL * 1'000'000'000;

weft::local_cluster_options two_slots() {
  weft::local_cluster_options opts;
  opts.runners = {weft::runner_options{}};
  opts.runners[0].slots = 2;
  opts.scheduler_threads = 2;
  return opts;
}

/// "YYYY-MM-DD" of a timestamp, as a user would type it.
std::string date_of(weft::timestamp t) {
  return weft::format_time(t).substr(0, 10);
}

/// "YYYY-MM-DDTHH:MM:SSZ" of a timestamp, cut to the second.
std::string second_of(weft::timestamp t) {
  return weft::format_time(t).substr(0, 19) + "Z";
}

weft::errc code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const weft::error& e) {
    return e.code();
  }
  return weft::errc::none;
}

} // namespace

struct access_noop {
  void execute(weft::context&) const {
  }
};
BOOST_DESCRIBE_STRUCT(access_noop, (), ())

/// Leaves values in the job cache, one of them in a nested group.
struct access_tally {
  std::string text;
  void execute(weft::context& ctx) const {
    auto cache = ctx.job_cache();
    cache["text"] = text;
    cache.group("counts").group("words")["total"] = "2";
    cache.group("counts")["chars"] = std::to_string(text.size());
  }
};
BOOST_DESCRIBE_STRUCT(access_tally, (), (text))

TEST_CASE("job access: query takes its time range as date strings") {
  weft::local_cluster lc{two_slots()};
  lc.register_tasks<access_noop>();
  lc.start();
  auto jobs = lc.jobs();
  auto a = jobs.submit("first", access_noop{});
  auto b = jobs.submit("second", access_noop{});
  jobs.wait(a.id, 30s);
  jobs.wait(b.id, 30s);
  auto yesterday = date_of(a.submitted_at - day_ns);
  auto tomorrow = date_of(a.submitted_at + day_ns);
  auto ids = [](const std::vector<weft::job_info>& found) {
    std::vector<std::string> result;
    for (const auto& j : found)
      result.push_back(j.id);
    return result;
  };
  using ids_t = std::vector<std::string>;
  // A range around today holds both, in id order; ranges before and after
  // hold neither.
  CHECK(ids(jobs.query({.from = yesterday, .to = tomorrow}))
        == ids_t{a.id, b.id});
  CHECK(ids(jobs.query(weft::job_query::between(yesterday, tomorrow)))
        == ids_t{a.id, b.id});
  CHECK(jobs.query({.from = "2020-01-01", .to = yesterday}).empty());
  CHECK(jobs.query({.from = tomorrow}).empty());
  CHECK(ids(jobs.query({.to = tomorrow})) == ids_t{a.id, b.id});
  // To the second: the range is half-open, so a job submitted within the
  // second `to` names is outside it, and inside one that starts there.
  CHECK(jobs.query({.to = second_of(a.submitted_at)}).empty());
  CHECK(ids(jobs.query({.from = second_of(a.submitted_at), .to = tomorrow}))
        == ids_t{a.id, b.id});
  // Text combines with the other criteria.
  CHECK(ids(jobs.query({.from = yesterday, .name = "second"})) == ids_t{b.id});
  // An impossible date is refused before anything is asked.
  CHECK(code_of([&] { jobs.query({.from = "2025-02-29"}); })
        == weft::errc::invalid_argument);
  CHECK_THROWS_WITH(jobs.query({.to = "2026-13-01"}),
                    Catch::Contains("\"2026-13-01\" has no month 13"));
}

TEST_CASE("job access: cache(id) reads what a finished job's tasks wrote") {
  weft::local_cluster lc{two_slots()};
  lc.register_tasks<access_tally>();
  lc.start();
  auto jobs = lc.jobs();
  auto job = jobs.submit("tally", access_tally{"hello world"});
  REQUIRE(jobs.wait(job.id, 30s).state == weft::job_state::completed);
  auto other = jobs.submit("tally", access_tally{"other"});
  REQUIRE(jobs.wait(other.id, 30s).state == weft::job_state::completed);

  auto cache = jobs.cache(job.id);
  CHECK(cache.get("text") == "hello world");
  CHECK(cache.group("counts").group("words")["total"].get() == "2");
  std::string chars = cache.group("counts")["chars"];
  CHECK(chars == "11");
  CHECK(cache.get("counts/words/total") == "2");
  CHECK(cache.keys() == std::vector<std::string>{"text"});
  CHECK(cache.groups() == std::vector<std::string>{"counts"});
  CHECK(cache.group("counts").keys() == std::vector<std::string>{"chars"});
  CHECK(cache.group("counts").groups() == std::vector<std::string>{"words"});
  // Each job sees its own entries.
  CHECK(jobs.cache(other.id).get("text") == "other");

  // A key never written is missing_key, and the message names it.
  CHECK(code_of([&] { cache.get("nope"); }) == weft::errc::missing_key);
  CHECK_THROWS_WITH(cache.group("counts")["lines"].get(),
                    Catch::Contains("counts/lines"));
  CHECK_FALSE(cache.contains("nope"));
  CHECK_FALSE(cache.group("counts")["lines"].exists());
  // The view is for reading: what the tasks left stays as they left it.
  CHECK(code_of([&] { cache["text"] = "changed"; })
        == weft::errc::invalid_state);
  CHECK(code_of([&] { cache.set("new", "x"); }) == weft::errc::invalid_state);
  CHECK(cache.get("text") == "hello world");

  // An id the orchestrator does not know.
  CHECK(code_of([&] { jobs.cache("01a2037f-caef-70b2-8438-12d1f925d3cc"); })
        == weft::errc::unknown_job);
}

TEST_CASE("job access: a remote client reads a job's cache through the "
          "file-system cache its runners share") {
  weft::test::temp_dir dir;
  weft::server_options sopts;
  weft::server srv{sopts};
  auto address = "127.0.0.1:" + std::to_string(srv.port());
  // The runners' node and the client's node are two connections (two actor
  // systems) that share nothing but the directory.
  weft::remote::connect_options ropts;
  ropts.cache = weft::make_file_system_cache(dir.path / "cache");
  auto runner_node = weft::remote::connect(address, ropts);
  auto runner = runner_node.make_runner({.slots = 1});
  runner.register_tasks<access_tally>();
  runner.start();
  weft::remote::connect_options copts;
  copts.cache = weft::make_file_system_cache(dir.path / "cache");
  auto client_node = weft::remote::connect(address, copts);
  auto jobs = client_node.jobs();
  auto job = jobs.submit("tally", access_tally{"remote"});
  REQUIRE(jobs.wait(job.id, 30s).state == weft::job_state::completed);
  auto cache = jobs.cache(job.id);
  CHECK(cache.get("text") == "remote");
  CHECK(cache.group("counts").group("words").get("total") == "2");
  CHECK(code_of([&] { cache.get("nope"); }) == weft::errc::missing_key);
  CHECK(code_of([&] { jobs.cache("01a2037f-caef-70b2-8438-12d1f925d3cc"); })
        == weft::errc::unknown_job);
  // Without a shared store the cache is out of reach, and the error says
  // how to share one.
  auto plain = weft::remote::connect(address).jobs();
  CHECK(code_of([&] { plain.cache(job.id); }) == weft::errc::invalid_state);
  CHECK_THROWS_WITH(plain.cache(job.id),
                    Catch::Contains("make_file_system_cache"));
  runner.stop();
}
