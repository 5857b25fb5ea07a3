// Supervision and embedding at the actor level.

#include "wait.hpp"
#include "weft/actors/client_internal.hpp"
#include "weft/actors/cluster.hpp"
#include "weft/actors/job.hpp"
#include "weft/actors/job_service.hpp"
#include "weft/actors/memory.hpp"
#include "weft/actors/node.hpp"
#include "weft/actors/runner_actor.hpp"
#include "weft/weft.hpp"

#include <caf/all.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;

namespace {

std::atomic<bool> first_run{true};
std::atomic<bool> reached{false};
std::mutex victim_mtx;
std::string victim;
std::promise<void>* release = nullptr;

} // namespace

struct stuck_once {
  void execute(weft::context& ctx) const {
    if (first_run.exchange(false)) {
      {
        std::lock_guard<std::mutex> guard{victim_mtx};
        victim = ctx.current_task().runner;
      }
      reached = true;
      release->get_future().wait();
    }
  }
};
BOOST_DESCRIBE_STRUCT(stuck_once, (), ())

struct lose_root {
  void execute(weft::context& ctx) const {
    ctx.submit_subtask(stuck_once{});
  }
};
BOOST_DESCRIBE_STRUCT(lose_root, (), ())

TEST_CASE("actors: a lost runner's task moves on without spending a retry") {
  std::promise<void> gate;
  release = &gate;
  first_run = true;
  reached = false;
  weft::local_cluster_options opts;
  opts.runners = {weft::runner_options{}, weft::runner_options{}};
  opts.runners[0].slots = 1;
  opts.runners[1].slots = 1;
  opts.scheduler_threads = 2;
  weft::local_cluster lc{opts};
  lc.register_tasks<lose_root, stuck_once>();
  lc.start();
  auto job = lc.jobs().submit("lose-a-runner", lose_root{});
  REQUIRE(weft::test::wait_until([] { return reached.load(); }, 30s));
  // Lost mid-task: its job knows the attempt started (a runner reports the
  // start of a short task's successor up to a millisecond late, and a
  // dispatch lost before its start is redelivered, not a runner loss).
  REQUIRE(
    weft::test::wait_until([&] { return lc.jobs().find(job.id).running == 1; },
                           30s));
  std::string name;
  {
    std::lock_guard<std::mutex> guard{victim_mtx};
    name = victim;
  }
  // Kill the runner's actor outright: its task actors die with it and the
  // job only learns of it through its monitor.
  auto& dead = lc.runner(0).name() == name ? lc.runner(0) : lc.runner(1);
  caf::anon_send_exit(weft::actor_of(dead), caf::exit_reason::kill);
  auto done = lc.jobs().wait(job.id, 30s);
  CHECK(done.state == weft::job_state::completed);
  auto tasks = lc.jobs().tasks(job.id);
  REQUIRE(tasks.size() == 2);
  CHECK(tasks[1].runner_losses == 1);
  CHECK(tasks[1].retries_used == 0);
  CHECK(tasks[1].attempts == 2);
  gate.set_value(); // let the orphaned thread end
}

struct hello {
  void execute(weft::context& ctx) const {
    ctx.progress("hello").add(1).done(1);
  }
};
BOOST_DESCRIBE_STRUCT(hello, (), ())

TEST_CASE("actors: weft runs inside an actor system the caller owns") {
  caf::actor_system_config cfg;
  weft::add_weft_types(cfg);
  caf::actor_system sys{cfg};
  {
    weft::local_cluster_options opts;
    opts.runners[0].slots = 1;
    weft::local_cluster lc{sys, opts};
    lc.register_tasks<hello>();
    lc.start();
    auto job = lc.jobs().submit("hello", hello{});
    auto done = lc.jobs().wait(job.id, 30s);
    CHECK(done.state == weft::job_state::completed);
    CHECK(done.progress
          == std::vector<weft::progress_indicator>{{"hello", 1, 1}});
  }
  // The caller's system keeps working after weft is gone.
  auto echo = sys.spawn(
    []() -> caf::behavior { return {[](int x) { return x + 1; }}; });
  caf::scoped_actor self{sys};
  int answer = 0;
  self->request(echo, 5s, 41)
    .receive([&](int x) { answer = x; }, [](caf::error&) {});
  CHECK(answer == 42);
  self->send_exit(echo, caf::exit_reason::user_shutdown);
}

// A runner that joins, takes work and dies before starting any of it.
weft::runner_actor::behavior_type black_hole(weft::runner_actor::pointer self,
                                             weft::cluster_actor cluster,
                                             caf::actor joined) {
  auto me = caf::actor_cast<weft::runner_actor>(self);
  weft::runner_registration reg{"black-hole", 4, {{"hello", "v0.0"}}, 0, {}};
  self->request(cluster, caf::infinite, weft::atom::join_v, me, reg)
    .then([self, cluster, me, joined](bool) {
      self->send(cluster, weft::atom::credit_v, me, uint32_t{4}, uint32_t{0});
      caf::anon_send(joined, caf::ok_atom::value);
    });
  return {
    [self](weft::atom::run, std::vector<weft::dispatch_spec>&) {
      self->quit(caf::exit_reason::kill);
    },
    [](weft::atom::withdraw, const std::string&) {
      return std::vector<uint64_t>{};
    },
    [](weft::atom::done, weft::job_actor&, std::string&, uint64_t,
       weft::task_result&) {},
    [](weft::atom::done) {},
    [](weft::atom::flush) {},
    [](weft::atom::tick) {},
    [](weft::atom::idle) { return true; },
    [](weft::atom::stop) {},
  };
}

TEST_CASE(
  "actors: dispatches held by a runner that dies unstarted are redelivered") {
  caf::actor_system_config cfg;
  weft::add_weft_types(cfg);
  caf::actor_system sys{cfg};
  auto dir = std::make_shared<weft::cluster_directory>(sys);
  auto service = weft::spawn_job_service(sys, dir, {});
  auto jobs = weft::job_client_access::make(
    std::make_shared<weft::job_client::impl>(sys, service));
  {
    caf::scoped_actor self{sys};
    sys.spawn(black_hole, dir->get("default"), caf::actor{self});
    self->receive([](caf::ok_atom) {});
    auto job = jobs.submit("redeliver", std::vector<hello>{{}, {}, {}});
    // The black hole took the three roots and died; a real runner joins.
    auto runner = weft::make_runner(sys, service, {.slots = 2}, nullptr);
    runner.register_tasks<hello>();
    runner.start();
    auto done = jobs.wait(job.id, 30s);
    CHECK(done.state == weft::job_state::completed);
    CHECK(done.progress
          == std::vector<weft::progress_indicator>{{"hello", 3, 3}});
    for (const auto& t : jobs.tasks(job.id)) {
      CHECK(t.attempts == 1);      // started once, on the real runner
      CHECK(t.runner_losses == 0); // never started on the dead one
    }
    runner.stop();
    self->send_exit(service, caf::exit_reason::user_shutdown);
  }
  dir->shutdown();
}

namespace {

/// The resident set in KiB.
long resident_kib() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return -1;
}

} // namespace

TEST_CASE("memory: a pass hands free pages amid the heap back to the OS") {
  // 64 MiB in 1 KiB blocks, then all freed but every 64th: the free memory
  // lies between live blocks, where trimming the heap's top cannot reach.
  std::vector<std::unique_ptr<char[]>> blocks(64 * 1024);
  for (auto& b : blocks) {
    b.reset(new char[1024]);
    std::memset(b.get(), 1, 1024);
  }
  for (size_t i = 0; i < blocks.size(); ++i)
    if (i % 64 != 0)
      blocks[i].reset();
  auto before = resident_kib();
  if (!weft::memory_releaser::release_now()) {
    WARN("not glibc's allocator: nothing to release");
    return;
  }
  auto after = resident_kib();
  INFO("resident " << before << " KiB before, " << after << " KiB after");
  CHECK(before - after > 32 * 1024);
}

TEST_CASE("memory: passes are asked for by large jobs only, and settling "
          "within the interval defers a pass instead of dropping it") {
  if (!weft::memory_releaser::release_now()) {
    WARN("not glibc's allocator: nothing to release");
    return;
  }
  weft::memory_releaser releaser{10'000, 200ms};
  CHECK_FALSE(releaser.job_settled(9'999));
  REQUIRE(releaser.wait_idle(5s));
  CHECK(releaser.passes() == 0);
  CHECK(releaser.job_settled(10'000));
  REQUIRE(releaser.wait_idle(5s));
  CHECK(releaser.passes() == 1);
  // Three jobs settle at once, within the interval of the last pass: one
  // more pass, once the interval is over.
  CHECK(releaser.job_settled(50'000));
  CHECK(releaser.job_settled(20'000));
  CHECK(releaser.job_settled(1'000'000));
  REQUIRE(releaser.wait_idle(5s));
  CHECK(releaser.passes() == 2);
}

struct mem_leaf {
  void execute(weft::context&) const {
  }
};
BOOST_DESCRIBE_STRUCT(mem_leaf, (), ())

struct mem_fanout {
  uint32_t count = 0;
  void execute(weft::context& ctx) const {
    for (uint32_t i = 0; i < count; ++i)
      ctx.submit_subtask(mem_leaf{});
  }
};
BOOST_DESCRIBE_STRUCT(mem_fanout, (), (count))

TEST_CASE("memory: a job of 10,000 tasks asks for a pass as it settles, a "
          "small one does not") {
  if (!weft::memory_releaser::release_now()) {
    WARN("not glibc's allocator: nothing to release");
    return;
  }
  weft::local_cluster lc;
  lc.register_tasks<mem_fanout, mem_leaf>();
  lc.start();
  auto& releaser = weft::memory_releaser::process();
  REQUIRE(releaser.wait_idle(10s));
  auto before = releaser.passes();
  auto small = lc.jobs().submit("small", mem_fanout{10});
  REQUIRE(lc.jobs().wait(small.id, 30s).state == weft::job_state::completed);
  REQUIRE(releaser.wait_idle(10s));
  CHECK(releaser.passes() == before);
  auto large = lc.jobs().submit("large", mem_fanout{10'000});
  auto done = lc.jobs().wait(large.id, 60s);
  REQUIRE(done.state == weft::job_state::completed);
  CHECK(done.stats.total_tasks == 10'001);
  REQUIRE(releaser.wait_idle(10s));
  CHECK(releaser.passes() == before + 1);
}

// weft's actor systems use their own clock (actors/src/node.cpp): it skips
// exits of actors that never set a timeout, and must keep every kind of
// timeout working, and actors exiting with one pending or none.
TEST_CASE("actors: timeouts on weft's clock fire, with actors exiting") {
  auto own = weft::make_system(2, nullptr);
  auto& sys = *own->sys;
  // Answers nothing: it keeps each request's promise.
  auto silent = sys.spawn([](caf::event_based_actor* s) -> caf::behavior {
    auto kept = std::make_shared<std::vector<caf::response_promise>>();
    return {[s, kept](int) { kept->push_back(s->make_response_promise()); }};
  });
  caf::scoped_actor self{sys};
  // A request timeout.
  bool timed_out = false;
  self->request(silent, std::chrono::milliseconds{50}, 1)
    .receive([](caf::message&) {},
             [&](caf::error& e) {
               timed_out = e == caf::sec::request_timeout;
             });
  CHECK(timed_out);
  // A receive timeout and a delayed message, from an actor that quits after.
  std::promise<int> seen;
  auto waiter = sys.spawn([&seen](caf::event_based_actor* s) -> caf::behavior {
    s->delayed_send(s, std::chrono::milliseconds{20}, std::string{"later"});
    return {
      [&seen, s](const std::string&) {
        seen.set_value(1);
        s->quit();
      },
      caf::after(std::chrono::seconds{10}) >>
        [&seen, s] {
          seen.set_value(2);
          s->quit();
        },
    };
  });
  auto got = seen.get_future();
  REQUIRE(got.wait_for(std::chrono::seconds{5}) == std::future_status::ready);
  CHECK(got.get() == 1);
  // Many actors that exit, half of them with a request pending.
  std::atomic<int> ended{0};
  for (int i = 0; i < 2000; ++i) {
    sys.spawn([silent, i, &ended](caf::event_based_actor* s) {
      if (i % 2 == 0)
        s->request(silent, std::chrono::seconds{30}, i)
          .then([](caf::message&) {}, [](caf::error&) {});
      s->attach_functor([&ended] { ++ended; });
      s->quit();
    });
  }
  CHECK(weft::test::wait_until([&] { return ended.load() == 2000; },
                               std::chrono::seconds{10}));
  // The clock still serves requests after them.
  timed_out = false;
  self->request(silent, std::chrono::milliseconds{20}, 2)
    .receive([](caf::message&) {},
             [&](caf::error& e) {
               timed_out = e == caf::sec::request_timeout;
             });
  CHECK(timed_out);
  self->send_exit(silent, caf::exit_reason::user_shutdown);
}
