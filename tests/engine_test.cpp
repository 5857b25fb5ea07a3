// The embedded engine through its public API on a local_cluster.

#include "wait.hpp"
#include "weft/weft.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

using namespace std::chrono_literals;

namespace {

std::mutex log_mtx;
std::vector<std::string> exec_log;

void record(std::string what) {
  std::lock_guard<std::mutex> guard{log_mtx};
  exec_log.push_back(std::move(what));
}

std::vector<std::string> take_log() {
  std::lock_guard<std::mutex> guard{log_mtx};
  auto result = std::move(exec_log);
  exec_log.clear();
  return result;
}

size_t position(const std::vector<std::string>& log, const std::string& x) {
  auto i = std::find(log.begin(), log.end(), x);
  REQUIRE(i != log.end());
  return static_cast<size_t>(i - log.begin());
}

weft::local_cluster_options slots(uint32_t n, std::string cluster = "default") {
  weft::local_cluster_options opts;
  opts.runners = {weft::runner_options{}};
  opts.runners[0].slots = n;
  opts.runners[0].cluster = std::move(cluster);
  opts.scheduler_threads = 2;
  return opts;
}

} // namespace

// -- Fibonacci with the job cache ---------------------------------------------

struct fib_sum {
  int n = 0;
  void execute(weft::context& ctx) const {
    auto cache = ctx.job_cache().group("fib");
    auto a = std::stoi(cache.get(std::to_string(n - 1)));
    auto b = std::stoi(cache.get(std::to_string(n - 2)));
    cache[std::to_string(n)] = std::to_string(a + b);
  }
};
BOOST_DESCRIBE_STRUCT(fib_sum, (), (n))

struct fib {
  int n = 0;
  void execute(weft::context& ctx) const {
    if (n <= 2) {
      ctx.job_cache()["fib/" + std::to_string(n)] = "1";
      return;
    }
    auto a = ctx.submit_subtask(fib{n - 1});
    auto b = ctx.submit_subtask(fib{n - 2});
    ctx.submit_subtask(fib_sum{n}, {.depends_on = {a, b}});
  }
};
BOOST_DESCRIBE_STRUCT(fib, (), (n))

TEST_CASE("engine: fib(7) through subtasks dependencies and the job cache") {
  auto cache = weft::make_in_memory_cache();
  auto opts = slots(2);
  opts.cache = cache;
  weft::local_cluster lc{opts};
  lc.register_tasks<fib, fib_sum>();
  lc.start();
  auto job = lc.jobs().submit("fibonacci", fib{7});
  auto done = lc.jobs().wait(job.id, 30s);
  REQUIRE(done.state == weft::job_state::completed);
  weft::cache_group group{cache, job.id};
  std::vector<std::string> values;
  for (int i = 1; i <= 7; ++i)
    values.push_back(group.group("fib")[std::to_string(i)]);
  CHECK(values == std::vector<std::string>{"1", "1", "2", "3", "5", "8", "13"});
  CHECK(group.get("fib/7") == "13");
}

// -- retries and resuming a failed job
// ------------------------------------------

std::atomic<bool> flaky_broken{true};
std::atomic<int> flaky_runs{0};

struct flaky {
  void execute(weft::context& ctx) const {
    ++flaky_runs;
    ctx.progress("flaky").add(1);
    ctx.progress("flaky").done(1);
    if (flaky_broken)
      throw std::runtime_error("the service is down");
  }
};
BOOST_DESCRIBE_STRUCT(flaky, (), ())

struct flaky_root {
  uint32_t retries = 0;
  void execute(weft::context& ctx) const {
    ctx.submit_subtask(flaky{}, {.max_retries = retries});
  }
};
BOOST_DESCRIBE_STRUCT(flaky_root, (), (retries))

TEST_CASE("engine: a flaky task fails the job - retry resumes it") {
  weft::local_cluster lc{slots(2)};
  lc.register_tasks<flaky, flaky_root>();
  lc.start();
  flaky_broken = true;
  flaky_runs = 0;
  auto job = lc.jobs().submit("flaky", flaky_root{2});
  auto failed = lc.jobs().wait(job.id, 30s);
  CHECK(failed.state == weft::job_state::failed);
  CHECK(flaky_runs == 3); // one run plus two retries
  auto tasks = lc.jobs().tasks(job.id);
  REQUIRE(tasks.size() == 2);
  CHECK(tasks[0].state == weft::task_state::computed);
  CHECK(tasks[1].state == weft::task_state::failed);
  REQUIRE_FALSE(tasks[1].history.empty());
  CHECK_THAT(tasks[1].history.back().error,
             Catch::Contains("the service is down"));
  // Progress of a task counts once, however often it ran.
  REQUIRE(failed.progress.size() == 1);
  CHECK(failed.progress[0].total == 1);
  CHECK(failed.progress[0].done == 1);

  flaky_broken = false;
  CHECK(lc.jobs().retry(job.id) == 1);
  auto done = lc.jobs().wait(job.id, 30s);
  CHECK(done.state == weft::job_state::completed);
  CHECK(flaky_runs == 4);
  CHECK(done.progress
        == std::vector<weft::progress_indicator>{{"flaky", 1, 1}});
}

TEST_CASE("engine: the root's retries come from submit") {
  weft::local_cluster lc{slots(1)};
  lc.register_tasks<flaky>();
  lc.start();
  flaky_broken = true;
  flaky_runs = 0;
  auto job = lc.jobs().submit("flaky-root", flaky{}, {.max_retries = 3});
  CHECK(lc.jobs().wait(job.id, 30s).state == weft::job_state::failed);
  CHECK(flaky_runs == 4);
}

// -- progress
// -------------------------------------------------------------------

struct leaf_done {
  void execute(weft::context& ctx) const {
    ctx.progress("test").done(1);
  }
};
BOOST_DESCRIBE_STRUCT(leaf_done, (), ())

struct progress_root {
  void execute(weft::context& ctx) const {
    ctx.progress("test").add(4);
    for (int i = 0; i < 4; ++i)
      ctx.submit_subtask(leaf_done{});
  }
};
BOOST_DESCRIBE_STRUCT(progress_root, (), ())

TEST_CASE("engine: progress sums over the tasks of a job") {
  weft::local_cluster lc{slots(2)};
  lc.register_tasks<progress_root, leaf_done>();
  lc.start();
  auto job = lc.jobs().submit("progress", progress_root{});
  auto done = lc.jobs().wait(job.id, 30s);
  CHECK(done.state == weft::job_state::completed);
  CHECK(done.progress == std::vector<weft::progress_indicator>{{"test", 4, 4}});
  CHECK(done.stats.total_tasks == 5);
  CHECK(done.stats.count(weft::task_state::computed) == 5);
  CHECK(done.stats.first_started > 0);
  CHECK(done.stats.last_stopped >= done.stats.first_started);
}

// -- optional tasks
// -------------------------------------------------------------

struct noop {
  std::string tag;
  void execute(weft::context&) const {
    record(tag);
  }
};
BOOST_DESCRIBE_STRUCT(noop, (), (tag))

struct always_fails {
  void execute(weft::context&) const {
    throw std::runtime_error("optional work failed");
  }
};
BOOST_DESCRIBE_STRUCT(always_fails, (), ())

struct optional_branch {
  void execute(weft::context& ctx) const {
    auto x = ctx.submit_subtask(always_fails{});
    ctx.submit_subtask(noop{"never"}, {.depends_on = {x}});
  }
};
BOOST_DESCRIBE_STRUCT(optional_branch, (), ())

struct optional_root {
  bool branch = true;
  void execute(weft::context& ctx) const {
    auto opt = branch
                 ? ctx.submit_subtask(optional_branch{}, {.optional = true})
                 : ctx.submit_subtask(always_fails{}, {.optional = true});
    ctx.submit_subtask(noop{"after-optional"}, {.depends_on = {opt}});
  }
};
BOOST_DESCRIBE_STRUCT(optional_root, (), (branch))

TEST_CASE("engine: an optional branch that fails is contained") {
  weft::local_cluster lc{slots(2)};
  lc.register_tasks<optional_root, optional_branch, always_fails, noop>();
  lc.start();
  take_log();
  auto job = lc.jobs().submit("optional-branch", optional_root{true});
  auto done = lc.jobs().wait(job.id, 30s);
  CHECK(done.state == weft::job_state::completed);
  CHECK(done.stats.count(weft::task_state::computed) == 3);
  CHECK(done.stats.count(weft::task_state::failed_optional) == 1);
  CHECK(done.stats.count(weft::task_state::skipped) == 1);
  auto log = take_log();
  CHECK(std::count(log.begin(), log.end(), "never") == 0);
  CHECK(std::count(log.begin(), log.end(), "after-optional") == 1);
}

TEST_CASE("engine: a failing optional subtask's dependent still runs") {
  weft::local_cluster lc{slots(2)};
  lc.register_tasks<optional_root, optional_branch, always_fails, noop>();
  lc.start();
  take_log();
  auto job = lc.jobs().submit("optional-task", optional_root{false});
  auto done = lc.jobs().wait(job.id, 30s);
  CHECK(done.state == weft::job_state::completed);
  CHECK(done.stats.count(weft::task_state::failed_optional) == 1);
  CHECK(take_log() == std::vector<std::string>{"after-optional"});
}

// -- the news workflow: dependents run after the whole dependency subtree
// ------

struct fetch_part {
  int part = 0;
  void execute(weft::context&) const {
    std::this_thread::sleep_for(5ms);
    record("fetch-part-" + std::to_string(part));
  }
};
BOOST_DESCRIBE_STRUCT(fetch_part, (), (part))

struct fetch_news {
  std::string date;
  static weft::task_identifier identifier() {
    return {"news/FetchNews", "v1.2"};
  }
  void execute(weft::context& ctx) const {
    record("fetch");
    for (int i = 0; i < 3; ++i)
      ctx.submit_subtask(fetch_part{i});
  }
};
BOOST_DESCRIBE_STRUCT(fetch_news, (), (date))

struct news_workflow {
  std::string date;
  void execute(weft::context& ctx) const {
    auto fetch = ctx.submit_subtask(fetch_news{date});
    ctx.submit_subtask(noop{"print-headlines"}, {.depends_on = {fetch}});
    ctx.submit_subtask(noop{"most-frequent-authors"},
                       {.depends_on = {fetch}, .max_retries = 3});
  }
};
BOOST_DESCRIBE_STRUCT(news_workflow, (), (date))

TEST_CASE("engine: the news workflow runs dependents after the subtree") {
  weft::local_cluster lc{slots(4)};
  lc.register_tasks<news_workflow, fetch_news, fetch_part, noop>();
  lc.start();
  take_log();
  auto job = lc.jobs().submit("news", news_workflow{"2024-02-15"});
  CHECK(lc.jobs().wait(job.id, 30s).state == weft::job_state::completed);
  auto log = take_log();
  REQUIRE(log.size() == 6);
  auto first_dependent = std::min(position(log, "print-headlines"),
                                  position(log, "most-frequent-authors"));
  for (int i = 0; i < 3; ++i)
    CHECK(position(log, "fetch-part-" + std::to_string(i)) < first_dependent);
  CHECK(position(log, "fetch") == 0);
  auto tasks = lc.jobs().tasks(job.id);
  CHECK(tasks[1].identifier == weft::task_identifier{"news/FetchNews", "v1.2"});
}

// -- the movies job: fix and retry runs only what is not computed
// --------------

std::atomic<bool> movies_fixed{false};
std::mutex movies_mtx;
std::map<std::string, int> movie_runs;

struct print_movie_stats {
  std::string title;
  void execute(weft::context& ctx) const {
    {
      std::lock_guard<std::mutex> guard{movies_mtx};
      ++movie_runs[title];
    }
    auto span = ctx.tracer().span("fetch-movie-stats");
    span.set_attribute("movie.title", title);
    if (title == "Tilebox - The Movie" && !movies_fixed)
      throw std::out_of_range("KeyError('Title')");
    ctx.set_display(title);
    ctx.logger().info("Movie release date fetched", {{"title", title}});
  }
};
BOOST_DESCRIBE_STRUCT(print_movie_stats, (), (title))

struct movies_stats {
  std::vector<std::string> titles;
  void execute(weft::context& ctx) const {
    for (const auto& t : titles)
      ctx.submit_subtask(print_movie_stats{t});
  }
};
BOOST_DESCRIBE_STRUCT(movies_stats, (), (titles))

TEST_CASE("engine: the movies job fails on one title and resumes on retry") {
  weft::local_cluster lc{slots(1)};
  lc.register_tasks<movies_stats, print_movie_stats>();
  lc.start();
  movies_fixed = false;
  movie_runs.clear();
  auto job
    = lc.jobs().submit("movies-stats",
                       movies_stats{{"The Matrix", "Shrek 2",
                                     "Tilebox - The Movie", "The Avengers"}});
  auto failed = lc.jobs().wait(job.id, 30s);
  REQUIRE(failed.state == weft::job_state::failed);
  CHECK(movie_runs["The Matrix"] == 1);
  CHECK(movie_runs["Shrek 2"] == 1);
  CHECK(movie_runs["Tilebox - The Movie"] == 1);
  auto tasks = lc.jobs().tasks(job.id);
  // One slot: The Avengers was leased behind the failing title. Either the
  // revocation reached the runner first and it never ran (CANCELED), or the
  // slot had started it before, and it finished like any running task.
  REQUIRE(tasks.size() == 5);
  // A slot may also have started it just before the revocation while its
  // start reached the job after the failure: it ran, its result was
  // rejected, and it stays CANCELED.
  bool avengers_ran = tasks[4].state == weft::task_state::computed;
  int avengers_before = movie_runs["The Avengers"];
  CHECK(avengers_before <= 1);
  if (avengers_ran)
    CHECK(avengers_before == 1);
  REQUIRE(tasks.size() == 5);
  CHECK(tasks[1].display == "The Matrix");
  REQUIRE(tasks[1].history.size() == 1);
  CHECK(tasks[1].history[0].logs.at(0).message == "Movie release date fetched");
  CHECK_THAT(tasks[1].history[0].logs.at(0).fields,
             Catch::Contains("The Matrix"));
  CHECK(tasks[1].history[0].spans.at(0).name == "fetch-movie-stats");
  CHECK(tasks[3].state == weft::task_state::failed);
  CHECK_THAT(tasks[3].history.at(0).error, Catch::Contains("KeyError"));
  if (!avengers_ran)
    CHECK(tasks[4].state == weft::task_state::canceled);

  movies_fixed = true;
  CHECK(lc.jobs().retry(job.id) == (avengers_ran ? 1 : 2));
  CHECK(lc.jobs().wait(job.id, 30s).state == weft::job_state::completed);
  CHECK(movie_runs["The Matrix"] == 1);
  CHECK(movie_runs["Shrek 2"] == 1);
  CHECK(movie_runs["Tilebox - The Movie"] == 2);
  CHECK(movie_runs["The Avengers"] == avengers_before + (avengers_ran ? 0 : 1));
}

// -- cancel -------------------------------------------------------------------

std::promise<void>* cancel_gate = nullptr;
std::atomic<bool> gate_reached{false};

struct gated {
  void execute(weft::context& ctx) const {
    gate_reached = true;
    cancel_gate->get_future().wait();
    for (int i = 0; i < 3; ++i)
      ctx.submit_subtask(noop{"child-of-gated"});
  }
};
BOOST_DESCRIBE_STRUCT(gated, (), ())

struct cancel_root {
  void execute(weft::context& ctx) const {
    ctx.submit_subtask(gated{});
    ctx.submit_subtask(noop{"queued-sibling"});
    ctx.submit_subtask(noop{"queued-sibling"});
  }
};
BOOST_DESCRIBE_STRUCT(cancel_root, (), ())

TEST_CASE("engine: cancel stops queued tasks lets running ones finish") {
  // A task is RUNNING only while it holds a slot, so the siblings behind
  // the gated task are still QUEUED (leased or not) when the job is
  // canceled, and the cancel revokes them.
  weft::local_cluster lc{slots(1)};
  lc.register_tasks<cancel_root, gated, noop>();
  std::promise<void> gate;
  cancel_gate = &gate;
  gate_reached = false;
  lc.start();
  take_log();
  auto job = lc.jobs().submit("cancel", cancel_root{});
  REQUIRE(weft::test::wait_until([] { return gate_reached.load(); }, 30s));
  // Its start reaches the job within about a millisecond.
  REQUIRE(weft::test::wait_until(
    [&] { return lc.jobs().find(job.id).state == weft::job_state::running; },
    30s));
  CHECK(lc.jobs().cancel(job.id) == 2); // the two queued siblings
  gate.set_value(); // the running task finishes and submits subtasks
  auto canceled = lc.jobs().wait(job.id, 30s);
  CHECK(canceled.state == weft::job_state::canceled);
  CHECK(take_log().empty()); // nothing queued started
  auto tasks = lc.jobs().tasks(job.id);
  REQUIRE(tasks.size() == 7);
  CHECK(tasks[1].state == weft::task_state::computed); // gated finished
  CHECK(canceled.stats.count(weft::task_state::canceled) == 5);
  // A canceled job resumes with retry.
  std::promise<void> open;
  open.set_value();
  cancel_gate = &open;
  CHECK(lc.jobs().retry(job.id) == 5);
  CHECK(lc.jobs().wait(job.id, 30s).state == weft::job_state::completed);
  CHECK(take_log().size() == 5);
}

TEST_CASE("engine: leased attempts stay QUEUED and a cancel revokes them") {
  // One slot, a fast root: once the runner has measured it, it leases the
  // siblings while the gated one runs. They stay QUEUED at the job, and
  // the cancel drops them on the runner: they never execute.
  weft::local_cluster lc{slots(1)};
  lc.register_tasks<cancel_root, gated, noop>();
  std::promise<void> gate;
  cancel_gate = &gate;
  gate_reached = false;
  lc.start();
  take_log();
  auto job = lc.jobs().submit("leases", cancel_root{});
  REQUIRE(weft::test::wait_until([] { return gate_reached.load(); }, 30s));
  // They went to the runner (one holds the slot) as far as its window,
  // sized from the root's duration, allows: both siblings when the root
  // took under a millisecond or so, as it does but on a loaded machine.
  auto cluster = lc.jobs().find_cluster("default");
  CHECK(cluster.dispatched + cluster.queued == 3);
  CHECK(cluster.dispatched >= 1);
  if (cluster.dispatched < 3)
    WARN("the runner leased " << cluster.dispatched - 1
                              << " of the 2 siblings");
  REQUIRE(
    weft::test::wait_until([&] { return lc.jobs().find(job.id).running == 1; },
                           30s));
  CHECK(lc.jobs().cancel(job.id) == 2);
  // The cancel returned after the runner dropped them.
  CHECK(lc.jobs().find_cluster("default").dispatched == 1);
  gate.set_value();
  auto canceled = lc.jobs().wait(job.id, 30s);
  CHECK(canceled.state == weft::job_state::canceled);
  CHECK(canceled.running == 0);
  CHECK(take_log().empty()); // no leased sibling executed
  CHECK(canceled.stats.count(weft::task_state::computed) == 2);
}

// -- versions
// -------------------------------------------------------------------

// Four builds of one task, as four runners would deploy them.
#define WEFT_TEST_MY_TASK(type, version)                                       \
  struct type {                                                                \
    static weft::task_identifier identifier() {                                \
      return {"MyTask", version};                                              \
    }                                                                          \
    void execute(weft::context&) const {                                       \
      record(std::string{"ran "} + version);                                   \
    }                                                                          \
  };                                                                           \
  BOOST_DESCRIBE_STRUCT(type, (), ())

WEFT_TEST_MY_TASK(my_task_v1_3, "v1.3")
WEFT_TEST_MY_TASK(my_task_v1_5, "v1.5")
WEFT_TEST_MY_TASK(my_task_v1_2, "v1.2")
WEFT_TEST_MY_TASK(my_task_v2_5, "v2.5")

template <class Runner>
bool runs_v13() {
  weft::local_cluster lc{slots(1)};
  lc.register_tasks<Runner>();
  take_log();
  auto job = lc.jobs().submit("versions", std::vector<weft::task_input>{
                                            {{"MyTask", "v1.3"}, "{}"}});
  lc.run_all(); // returns once nothing it can run is left
  auto state = lc.jobs().find(job.id).state;
  auto log = take_log();
  if (state == weft::job_state::completed) {
    REQUIRE(log.size() == 1);
    return true;
  }
  CHECK(state == weft::job_state::submitted); // it waits for a runner
  CHECK(log.empty());
  return false;
}

TEST_CASE("engine: version matrix for a task submitted as v1.3") {
  CHECK(runs_v13<my_task_v1_3>());
  CHECK(runs_v13<my_task_v1_5>());
  CHECK_FALSE(runs_v13<my_task_v1_2>());
  CHECK_FALSE(runs_v13<my_task_v2_5>());
}

// -- registration and identifiers
// ------------------------------------------------

struct bad_name {
  static weft::task_identifier identifier() {
    return {"", "v1.0"};
  }
  void execute(weft::context&) const {
  }
};
BOOST_DESCRIBE_STRUCT(bad_name, (), ())

struct bad_version {
  static weft::task_identifier identifier() {
    return {"BadVersion", "1.0"};
  }
  void execute(weft::context&) const {
  }
};
BOOST_DESCRIBE_STRUCT(bad_version, (), ())

struct same_as_my_task {
  static weft::task_identifier identifier() {
    return {"MyTask", "v1.3"};
  }
  void execute(weft::context&) const {
  }
};
BOOST_DESCRIBE_STRUCT(same_as_my_task, (), ())

TEST_CASE("engine: registration rejects duplicates and bad identifiers") {
  weft::task_registry reg;
  reg.add<my_task_v1_3>();
  reg.add<my_task_v1_5>(); // same name, other version: fine
  try {
    reg.add<same_as_my_task>();
    FAIL("duplicate accepted");
  } catch (const weft::error& e) {
    CHECK(e.code() == weft::errc::duplicate_task);
    CHECK_THAT(e.what(), Catch::Contains("MyTask@v1.3"));
  }
  try {
    reg.add<bad_name>();
    FAIL("empty name accepted");
  } catch (const weft::error& e) {
    CHECK(e.code() == weft::errc::invalid_identifier);
    CHECK_THAT(e.what(), Catch::Contains("bad_name"));
    CHECK_THAT(e.what(), Catch::Contains("1 to 256 bytes"));
  }
  try {
    reg.add<bad_version>();
    FAIL("bad version accepted");
  } catch (const weft::error& e) {
    CHECK(e.code() == weft::errc::invalid_identifier);
    CHECK_THAT(e.what(), Catch::Contains("bad_version"));
    CHECK_THAT(e.what(), Catch::Contains("v(\\d+)"));
  }
  CHECK(weft::identifier_of<noop>() == weft::task_identifier{"noop", "v0.0"});
  CHECK(reg.find({"MyTask", "v1.4"})->identifier.version == "v1.5");
  CHECK(reg.find({"MyTask", "v1.6"}) == nullptr);
}

TEST_CASE("engine: bad input is refused or fails the attempt clearly") {
  weft::local_cluster_options opts = slots(1);
  opts.orchestrator.max_input_bytes = 64;
  weft::local_cluster lc{opts};
  lc.register_tasks<fib, noop>();
  lc.start();
  // Too large: refused at submission.
  try {
    lc.jobs().submit("big", noop{std::string(100, 'x')});
    FAIL("oversized input accepted");
  } catch (const weft::error& e) {
    CHECK(e.code() == weft::errc::input_too_large);
  }
  // Not JSON: refused at submission.
  try {
    lc.jobs().submit("garbage", {{{"fib", "v0.0"}, "{not json"}});
    FAIL("malformed JSON accepted");
  } catch (const weft::error& e) {
    CHECK(e.code() == weft::errc::invalid_input);
  }
  // Valid JSON of the wrong shape: the attempt fails naming the field.
  auto job
    = lc.jobs().submit("wrong-field", {{{"fib", "v0.0"}, R"({"n":"seven"})"}});
  CHECK(lc.jobs().wait(job.id, 30s).state == weft::job_state::failed);
  auto tasks = lc.jobs().tasks(job.id);
  CHECK_THAT(tasks[0].history.at(0).error, Catch::Contains("'n'"));
  // Unknown jobs.
  CHECK_THROWS_AS(lc.jobs().find("018dd029-58ca-74e5-8b58-b4f99d610f9a"),
                  weft::error);
  try {
    lc.jobs().find("nonsense");
  } catch (const weft::error& e) {
    CHECK(e.code() == weft::errc::unknown_job);
    CHECK_THAT(e.what(), Catch::Contains("not a job id"));
  }
}

// -- the client: find and query
// ---------------------------------------------------

TEST_CASE("engine: query by state name cluster and id range") {
  weft::local_cluster lc{slots(2)};
  lc.register_tasks<noop, always_fails>();
  lc.start();
  auto a = lc.jobs().submit("alpha", noop{"a"});
  auto b = lc.jobs().submit("beta", always_fails{});
  auto c = lc.jobs().submit("alpha", noop{"c"}, {.cluster = "elsewhere"});
  lc.jobs().wait(a.id, 30s);
  lc.jobs().wait(b.id, 30s);
  CHECK(a.id < b.id);
  CHECK(b.id < c.id);
  CHECK(lc.jobs().query().size() == 3);
  auto alphas = lc.jobs().query({.name = "alpha"});
  CHECK(alphas.size() == 2);
  auto failed = lc.jobs().query({.states = {weft::job_state::failed}});
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].id == b.id);
  auto waiting = lc.jobs().query({.cluster = "elsewhere"});
  REQUIRE(waiting.size() == 1);
  CHECK(waiting[0].state == weft::job_state::submitted);
  auto range = lc.jobs().query({.id_from = b.id});
  CHECK(range.size() == 2);
  auto times = lc.jobs().query({.from = a.submitted_at, .to = b.submitted_at});
  REQUIRE(times.size() == 1);
  CHECK(times[0].id == a.id);
}

// -- scale --------------------------------------------------------------------

struct split_range {
  uint32_t begin = 0;
  uint32_t end = 0;
  void execute(weft::context& ctx) const {
    if (end - begin <= 1)
      return;
    auto mid = begin + (end - begin) / 2;
    ctx.submit_subtask(split_range{begin, mid});
    ctx.submit_subtask(split_range{mid, end});
  }
};
BOOST_DESCRIBE_STRUCT(split_range, (), (begin, end))

TEST_CASE("engine: a job of 100000 tasks by recursive decomposition") {
  weft::local_cluster lc{slots(2)};
  lc.register_tasks<split_range>();
  lc.start();
  // A binary split of 50,000 leaves makes 99,999 tasks; one more root pair.
  auto job = lc.jobs().submit("decompose",
                              std::vector<split_range>{{0, 50000}, {0, 1}});
  auto done = lc.jobs().wait(job.id, 300s);
  CHECK(done.state == weft::job_state::completed);
  CHECK(done.stats.total_tasks == 100000);
  CHECK(done.stats.count(weft::task_state::computed) == 100000);
}

// -- serving
// ---------------------------------------------------------------------

TEST_CASE("engine: run_forever serves until stop() or SIGTERM") {
  weft::local_cluster lc{{.runners = {}}};
  for (bool by_signal : {false, true}) {
    auto& runner = lc.add_runner({.slots = 1});
    runner.register_tasks<noop>();
    std::thread serving{[&] { runner.run_forever(); }};
    auto job = lc.jobs().submit("served", noop{"served"});
    CHECK(lc.jobs().wait(job.id, 30s).state == weft::job_state::completed);
    if (by_signal)
      std::raise(SIGTERM); // run_forever's handler, installed before start
    else
      runner.stop();
    serving.join();
  }
  take_log();
}

TEST_CASE("engine: wait gives up with a clear timeout and the job goes on") {
  weft::local_cluster lc{{.runners = {}}};
  auto job = lc.jobs().submit("nobody-serves", noop{"x"});
  try {
    lc.jobs().wait(job.id, 50ms);
    FAIL("wait returned");
  } catch (const weft::error& e) {
    CHECK(e.code() == weft::errc::timeout);
    CHECK_THAT(e.what(), Catch::Contains(job.id) && Catch::Contains("50 ms"));
  }
  CHECK(lc.jobs().find(job.id).state == weft::job_state::submitted);
}

TEST_CASE(
  "engine: a client or runner handle that outlives its cluster fails cleanly") {
  std::optional<weft::job_client> jobs;
  std::optional<weft::runner> runner;
  std::string id;
  {
    weft::local_cluster lc{slots(1)};
    lc.register_tasks<noop>();
    lc.start();
    jobs.emplace(lc.jobs());
    runner.emplace(lc.runner(0));
    id = jobs->submit("short-lived", noop{"x"}).id;
    jobs->wait(id, 30s);
  }
  take_log();
  try {
    jobs->find(id);
    FAIL("found a job of a cluster that is gone");
  } catch (const weft::error& e) {
    CHECK(e.code() == weft::errc::not_running);
  }
  CHECK_NOTHROW(runner->stop());
}
