// weft-bench: measures weft. Each scenario prints a human summary line and
// one JSON line. Benchmarks measure; tests never assert timings.
//
//   weft-bench --scenario fanout   --tasks N [--slots S] [--threshold T]
//   weft-bench --scenario actor-fanout --tasks N [--slots S] [--threshold T]
//   weft-bench --scenario actor-wait --tasks N --wait-ms MS [--slots S]
//   weft-bench --scenario tree     --tasks N [--slots S]
//   weft-bench --scenario chain    --tasks K [--slots S]
//   weft-bench --scenario many-jobs --jobs J [--slots S] [--submitters N]
//   weft-bench --scenario soak --jobs J --journal fsync [--submitters N]
//   weft-bench --scenario render   --tasks N [--slots S]
//   weft-bench --scenario recovery --events N
//   weft-bench --scenario caf-baseline [--pairs N]
//   weft-bench --scenario estimate [--learn N] [--runs N] [--slots S]
//   weft-bench --scenario estimate-cost --tasks N
//   weft-bench --scenario http [--streams N] [--seconds S] [--jobs J]
//                              [--progress-interval MS]
//
// Job scenarios take --journal none|fsync|nofsync (default none): run with
// a journal in a scratch directory, syncing each batch or not; and
// --runner-processes N: run the orchestrator as a server in this process
// and N runner processes (this program with --serve) over loopback, each
// with --slots slots. Runners (embedded too) take runner_options' defaults;
// --prefetch N sets their max_leases (their lease window's bound). With runner
// processes, --rtt-ms MS puts a relay that delays each direction by MS / 2
// between them and the server, and --watchers N starts N `weft watch`
// processes on the job (the `weft` program next to this one, or --weft).
//
// actor-fanout runs the fanout job twice in one setup, with plain no-op
// leaves and then with actor-task leaves that end at once, and reports
// both rates and their ratio. actor-wait is the fanout with actor-task
// leaves that each wait --wait-ms on a timer (default 100): a thread-bound
// runner would take tasks * wait / slots.

#include "weft/actor_task.hpp"
#include "weft/actors/journal.hpp"
#include "weft/actors/memory.hpp"
#include "weft/actors/messages.hpp"
#include "weft/core/journal_event.hpp"
#include "weft/core/statistics.hpp"
#include "weft/core/task_graph.hpp"
#include "weft/core/uuid.hpp"
#include "weft/weft.hpp"

#include "bench_http.hpp"
#include "bench_watch.hpp"
#include "delay_relay.hpp"

#include <caf/all.hpp>

#include <caf/io/middleman.hpp>

#include <malloc.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct bench_noop {
  void execute(weft::context&) const {
  }
};
BOOST_DESCRIBE_STRUCT(bench_noop, (), ())

/// Splits [begin, end) in two until single leaves.
struct bench_tree {
  uint64_t begin = 0;
  uint64_t end = 0;
  void execute(weft::context& ctx) const {
    auto n = end - begin;
    if (n <= 1)
      return;
    auto mid = begin + n / 2;
    ctx.submit_subtask(bench_tree{begin, mid});
    ctx.submit_subtask(bench_tree{mid, end});
  }
};
BOOST_DESCRIBE_STRUCT(bench_tree, (), (begin, end))

/// `count` no-op leaves: submitted directly up to `threshold`, else split
/// into 64 parts (recursive decomposition with fan-out 64).
struct bench_fanout {
  uint64_t count = 0;
  uint64_t threshold = 64;
  void execute(weft::context& ctx) const {
    if (count <= threshold) {
      for (uint64_t i = 0; i < count; ++i)
        ctx.submit_subtask(bench_noop{});
      return;
    }
    for (uint64_t i = 0; i < 64; ++i) {
      auto part = count * (i + 1) / 64 - count * i / 64;
      if (part > 0)
        ctx.submit_subtask(bench_fanout{part, threshold});
    }
  }
};
BOOST_DESCRIBE_STRUCT(bench_fanout, (), (count, threshold))

using bench_wake = caf::atom_constant<caf::atom("benchWake")>;

/// An actor task that ends at once, or after `wait_ms` on a timer.
struct bench_actor_leaf {
  uint32_t wait_ms = 0;
  caf::behavior execute(weft::actor_context& ctx) const {
    if (wait_ms == 0) {
      ctx.done();
      return {};
    }
    ctx.self()->delayed_send(ctx.self(), std::chrono::milliseconds{wait_ms},
                             bench_wake::value);
    return {[&ctx](bench_wake) { ctx.done(); }};
  }
};
BOOST_DESCRIBE_STRUCT(bench_actor_leaf, (), (wait_ms))

/// bench_fanout with actor-task leaves.
struct bench_actor_fanout {
  uint64_t count = 0;
  uint64_t threshold = 64;
  uint32_t wait_ms = 0;
  void execute(weft::context& ctx) const {
    if (count <= threshold) {
      for (uint64_t i = 0; i < count; ++i)
        ctx.submit_subtask(bench_actor_leaf{wait_ms});
      return;
    }
    for (uint64_t i = 0; i < 64; ++i) {
      auto part = count * (i + 1) / 64 - count * i / 64;
      if (part > 0)
        ctx.submit_subtask(bench_actor_fanout{part, threshold, wait_ms});
    }
  }
};
BOOST_DESCRIBE_STRUCT(bench_actor_fanout, (), (count, threshold, wait_ms))

/// K no-op tasks, each depending on the previous one.
struct bench_chain {
  uint64_t length = 0;
  void execute(weft::context& ctx) const {
    std::optional<weft::subtask_handle> prev;
    for (uint64_t i = 0; i < length; ++i) {
      weft::subtask_options opts;
      if (prev)
        opts.depends_on = {*prev};
      prev = ctx.submit_subtask(bench_noop{}, opts);
    }
  }
};
BOOST_DESCRIBE_STRUCT(bench_chain, (), (length))

/// A small job: itself plus `count` no-op subtasks.
struct bench_small_job {
  uint32_t count = 9;
  void execute(weft::context& ctx) const {
    for (uint32_t i = 0; i < count; ++i)
      ctx.submit_subtask(bench_noop{});
  }
};
BOOST_DESCRIBE_STRUCT(bench_small_job, (), (count))

// -- the estimate scenario's synthetic workflows
// ---------------------------------

/// Sleeps `ms` in `steps` steps, reporting each as done (0: no indicator,
/// so its progress is judged by the time it has run).
struct est_sleep {
  uint32_t ms = 0;
  uint32_t steps = 0;
  void execute(weft::context& ctx) const {
    if (steps == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds{ms});
      return;
    }
    auto step = ctx.progress("steps");
    step.add(steps);
    for (uint32_t i = 0; i < steps; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds{ms / steps});
      step.done(1);
    }
  }
};
BOOST_DESCRIBE_STRUCT(est_sleep, (), (ms, steps))

/// Draws the shape of one run from its seed, so runs differ as real inputs
/// do, but every invocation of the scenario makes the same ones.
struct est_dice {
  std::mt19937 gen;
  explicit est_dice(uint32_t seed) : gen(seed) {
  }
  uint32_t operator()(uint32_t lo, uint32_t hi) {
    return std::uniform_int_distribution<uint32_t>{lo, hi}(gen);
  }
};

/// Flat: 30-50 leaves of 50-150 ms that report steps.
struct est_flat {
  uint32_t seed = 0;
  void execute(weft::context& ctx) const {
    est_dice dice{seed};
    auto n = dice(30, 50);
    for (uint32_t i = 0; i < n; ++i)
      ctx.submit_subtask(est_sleep{dice(50, 150), 5});
  }
};
BOOST_DESCRIBE_STRUCT(est_flat, (), (seed))

/// A group of the tree workflow: 30 ms of its own, then 5-12 silent leaves
/// of 40-120 ms.
struct est_group {
  uint32_t seed = 0;
  void execute(weft::context& ctx) const {
    std::this_thread::sleep_for(std::chrono::milliseconds{30});
    est_dice dice{seed};
    auto n = dice(5, 12);
    for (uint32_t i = 0; i < n; ++i)
      ctx.submit_subtask(est_sleep{dice(40, 120), 0});
  }
};
BOOST_DESCRIBE_STRUCT(est_group, (), (seed))

/// Tree: 3-6 groups.
struct est_tree {
  uint32_t seed = 0;
  void execute(weft::context& ctx) const {
    est_dice dice{seed};
    auto n = dice(3, 6);
    for (uint32_t i = 0; i < n; ++i)
      ctx.submit_subtask(est_group{seed * 16 + i});
  }
};
BOOST_DESCRIBE_STRUCT(est_tree, (), (seed))

/// The merge step of the pipeline: 200 ms, then 10-20 leaves of 50-100 ms.
struct est_merge {
  uint32_t seed = 0;
  void execute(weft::context& ctx) const {
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
    est_dice dice{seed};
    auto n = dice(10, 20);
    for (uint32_t i = 0; i < n; ++i)
      ctx.submit_subtask(est_sleep{dice(50, 100), 2});
  }
};
BOOST_DESCRIBE_STRUCT(est_merge, (), (seed))

/// Pipeline: 4-8 preparing tasks of 100-200 ms, then a merge that depends
/// on all of them: phases of different parallelism.
struct est_pipeline {
  uint32_t seed = 0;
  void execute(weft::context& ctx) const {
    est_dice dice{seed};
    auto n = dice(4, 8);
    std::vector<weft::subtask_handle> prepared;
    for (uint32_t i = 0; i < n; ++i)
      prepared.push_back(ctx.submit_subtask(est_sleep{dice(100, 200), 0}));
    ctx.submit_subtask(est_merge{seed + 1000}, {.depends_on = prepared});
  }
};
BOOST_DESCRIBE_STRUCT(est_pipeline, (), (seed))

double status_mb(const char* field) {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  auto len = std::char_traits<char>::length(field);
  while (std::getline(in, line))
    if (line.compare(0, len, field) == 0)
      return std::stod(line.substr(len)) / 1024.0;
  return 0;
}

/// Bytes the allocator has handed out and not had back: the live data,
/// without the free memory it keeps resident.
double heap_in_use() {
  auto mi = mallinfo2();
  return static_cast<double>(mi.uordblks + mi.hblkhd);
}

double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto i = static_cast<size_t>(p * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(i, xs.size() - 1)];
}

struct options {
  std::string scenario = "fanout";
  std::string journal = "none";
  uint64_t events = 1000000;
  uint64_t tasks = 100000;
  uint64_t jobs = 1000;
  uint64_t pairs = 200000;
  uint32_t slots = 2;
  uint64_t threshold = 64;
  uint32_t wait_ms = 100; // actor-wait: each leaf's wait
  // Embedded job scenarios: the actor system's threads (0: CAF's default).
  uint32_t scheduler_threads = 0;
  uint32_t runner_processes = 0; // 0: embedded runners
  // runner_options::max_leases of every runner; runner_options' default
  // unless given.
  std::optional<uint32_t> prefetch;
  uint32_t rtt_ms = 0;      // runner processes: added round trip to the server
  uint32_t watchers = 0;    // runner processes: `weft watch` processes
  std::string weft_path;    // the `weft` program; empty: next to this one
  uint32_t submitters = 16; // many-jobs: client threads submitting
  uint32_t learn = 3;       // estimate: learning runs per workflow
  uint32_t runs = 3;        // estimate: measured runs per workflow
  uint32_t streams = 1000;  // http: update streams on one running job
  uint32_t seconds = 10;    // http: length of each CPU window
  // http: the server's progress interval (0: its default, 2 s)
  uint32_t progress_interval_ms = 0;
  std::string serve; // runner process mode: the server address
  std::string self_path;
};

struct result {
  std::string scenario;
  uint64_t tasks = 0;
  double seconds = 0;
  double p50_us = 0;
  double p99_us = 0;
  double bytes_per_task = 0;
  std::string extra; // more JSON fields, comma-led
};

void report(const result& r, const std::string& summary) {
  auto rate = r.seconds > 0 ? static_cast<double>(r.tasks) / r.seconds : 0;
  std::cout << r.scenario << ": " << summary << "\n";
  std::ostringstream json;
  json << "{\"scenario\":\"" << r.scenario << "\",\"tasks\":" << r.tasks
       << ",\"seconds\":" << r.seconds << ",\"tasks_per_s\":" << rate
       << ",\"p50_us\":" << r.p50_us << ",\"p99_us\":" << r.p99_us
       << ",\"peak_rss_mb\":" << status_mb("VmHWM:")
       << ",\"bytes_per_task\":" << r.bytes_per_task << r.extra << "}";
  std::cout << json.str() << std::endl;
}

/// A directory removed when the scenario ends.
struct scratch_dir {
  std::filesystem::path path;
  scratch_dir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path()
           / ("weft-bench-" + std::to_string(rd()) + std::to_string(rd()));
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

weft::local_cluster_options cluster_options(const options& opt,
                                            const scratch_dir& dir) {
  weft::local_cluster_options lco;
  lco.runners[0].slots = opt.slots;
  lco.scheduler_threads = opt.scheduler_threads;
  if (opt.prefetch)
    lco.runners[0].max_leases = *opt.prefetch;
  if (opt.journal != "none") {
    lco.orchestrator.data_dir = dir.path;
    lco.orchestrator.fsync = opt.journal == "fsync";
  }
  return lco;
}

std::string journal_fields(const options& opt, const scratch_dir& dir,
                           double seconds) {
  if (opt.journal == "none")
    return ",\"journal\":\"none\"";
  auto store = weft::journal_store::open({dir.path, false});
  auto events = store->events();
  return ",\"journal\":\"" + opt.journal
         + "\",\"events\":" + std::to_string(events) + ",\"events_per_s\":"
         + std::to_string(static_cast<double>(events) / seconds);
}

/// Where a job scenario runs: an embedded cluster, or a server in this
/// process with runner processes over loopback (through a delaying relay
/// with --rtt-ms).
struct bench_setup {
  std::optional<weft::local_cluster> cluster;
  std::optional<weft::server> server;
  // After the server: destroyed before it, once the runners are gone.
  std::optional<weft::bench::delay_relay> relay;
  std::vector<pid_t> runners;

  bench_setup(const options& opt, const scratch_dir& dir) {
    if (opt.runner_processes == 0) {
      cluster.emplace(cluster_options(opt, dir));
      cluster->register_tasks<bench_noop, bench_tree, bench_fanout, bench_chain,
                              bench_actor_leaf, bench_actor_fanout>();
      cluster->start();
      return;
    }
    weft::server_options so;
    if (opt.journal != "none") {
      so.orchestrator.data_dir = dir.path;
      so.orchestrator.fsync = opt.journal == "fsync";
    }
    server.emplace(so);
    auto port = server->port();
    if (opt.rtt_ms > 0) {
      relay.emplace(port, std::chrono::microseconds{opt.rtt_ms * 1000 / 2});
      port = relay->port();
    }
    auto address = "127.0.0.1:" + std::to_string(port);
    for (uint32_t i = 0; i < opt.runner_processes; ++i) {
      std::vector<std::string> args{opt.self_path, "--serve", address,
                                    "--slots", std::to_string(opt.slots)};
      if (opt.prefetch) {
        args.push_back("--prefetch");
        args.push_back(std::to_string(*opt.prefetch));
      }
      std::vector<char*> argv;
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      pid_t pid = 0;
      if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ)
          != 0)
        throw std::runtime_error("cannot start a runner process");
      runners.push_back(pid);
    }
    auto jobs = server->jobs();
    auto deadline = clock_type::now() + std::chrono::seconds{30};
    while (jobs.find_cluster("default").runners.size() < runners.size()) {
      if (clock_type::now() > deadline)
        throw std::runtime_error("runner processes did not join in 30 s");
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
  }

  ~bench_setup() {
    for (auto pid : runners)
      kill(pid, SIGTERM);
    for (auto pid : runners) {
      int status = 0;
      waitpid(pid, &status, 0);
    }
  }

  weft::job_client jobs() {
    return cluster ? cluster->jobs() : server->jobs();
  }

  /// Stops the runner processes, then the orchestrator (closing its
  /// journal).
  void stop() {
    for (auto pid : runners) {
      kill(pid, SIGTERM);
      int status = 0;
      waitpid(pid, &status, 0);
    }
    runners.clear();
    relay.reset();
    if (server)
      server->stop();
    cluster.reset();
  }
};

/// Runner process mode: serve the bench tasks of a server until SIGTERM.
int serve(const options& opt) {
  weft::remote::connect_options co;
  co.scheduler_threads = 2;
  auto conn = weft::remote::connect(opt.serve, co);
  // runner_options' defaults but for what the bench was told.
  weft::runner_options ro;
  ro.slots = opt.slots;
  if (opt.prefetch)
    ro.max_leases = *opt.prefetch;
  auto runner = conn.make_runner(ro);
  runner.register_tasks<bench_noop, bench_tree, bench_fanout, bench_chain,
                        bench_actor_leaf, bench_actor_fanout>();
  runner.run_forever();
  return 0;
}

/// actor-fanout and actor-wait: one setup, the jobs one after the other.
int run_actor_scenario(const options& opt) {
  scratch_dir dir;
  bench_setup setup{opt, dir};
  auto jobs = setup.jobs();
  struct run {
    uint64_t tasks = 0;
    double seconds = 0;
    weft::job_state state = weft::job_state::submitted;
  };
  auto measure = [&](const std::string& name, const auto& root) {
    auto start = clock_type::now();
    auto job = jobs.submit(name, root);
    auto done = jobs.wait(job.id, std::chrono::hours{1});
    return run{done.stats.total_tasks,
               std::chrono::duration<double>(clock_type::now() - start).count(),
               done.state};
  };
  auto rate = [](const run& x) {
    return x.seconds > 0 ? static_cast<double>(x.tasks) / x.seconds : 0;
  };
  auto where
    = ",\"slots\":" + std::to_string(opt.slots)
      + ",\"runner_processes\":" + std::to_string(opt.runner_processes);
  if (opt.scenario == "actor-wait") {
    auto x = measure("bench-actor-wait",
                     bench_actor_fanout{opt.tasks, opt.threshold, opt.wait_ms});
    // On threads alone each leaf would hold a slot for its whole wait.
    auto bound = static_cast<double>(opt.tasks) * opt.wait_ms / 1000.0
                 / std::max(1u, opt.slots);
    result r;
    r.scenario = opt.scenario;
    r.tasks = x.tasks;
    r.seconds = x.seconds;
    r.extra = where + ",\"wait_ms\":" + std::to_string(opt.wait_ms)
              + ",\"leaves\":" + std::to_string(opt.tasks)
              + ",\"thread_bound_s\":" + std::to_string(bound);
    std::ostringstream summary;
    summary << opt.tasks << " actor tasks waiting " << opt.wait_ms << " ms "
            << weft::to_string(x.state) << " in " << x.seconds << " s ("
            << x.tasks << " tasks, " << static_cast<uint64_t>(rate(x))
            << " tasks/s; on " << opt.slots << " threads alone: " << bound
            << " s)";
    setup.stop();
    report(r, summary.str());
    return x.state == weft::job_state::completed ? 0 : 1;
  }
  auto plain = measure("bench-fanout", bench_fanout{opt.tasks, opt.threshold});
  auto actor = measure("bench-actor-fanout",
                       bench_actor_fanout{opt.tasks, opt.threshold});
  setup.stop();
  auto ratio = rate(plain) > 0 ? rate(actor) / rate(plain) : 0;
  result p;
  p.scenario = "fanout";
  p.tasks = plain.tasks;
  p.seconds = plain.seconds;
  p.extra = where;
  report(p, std::to_string(plain.tasks) + " plain tasks in "
              + std::to_string(plain.seconds) + " s");
  result a;
  a.scenario = opt.scenario;
  a.tasks = actor.tasks;
  a.seconds = actor.seconds;
  a.extra = where + ",\"plain_tasks_per_s\":" + std::to_string(rate(plain))
            + ",\"actor_to_plain\":" + std::to_string(ratio);
  std::ostringstream summary;
  summary << actor.tasks << " tasks with actor-task leaves "
          << weft::to_string(actor.state) << " in " << actor.seconds << " s, "
          << static_cast<uint64_t>(rate(actor)) << " tasks/s, " << ratio
          << " x the plain fanout's " << static_cast<uint64_t>(rate(plain))
          << " tasks/s";
  report(a, summary.str());
  return plain.state == weft::job_state::completed
             && actor.state == weft::job_state::completed
           ? 0
           : 1;
}

int run_job_scenario(const options& opt) {
  scratch_dir dir;
  std::optional<bench_setup> owner;
  owner.emplace(opt, dir);
  auto jobs = owner->jobs();
  auto rss_before = status_mb("VmRSS:");
  auto heap_before = heap_in_use();
  auto start = clock_type::now();
  weft::job_info job;
  if (opt.scenario == "tree")
    job = jobs.submit("bench-tree", bench_tree{0, opt.tasks});
  else if (opt.scenario == "chain")
    job = jobs.submit("bench-chain", bench_chain{opt.tasks});
  else
    job = jobs.submit("bench-fanout", bench_fanout{opt.tasks, opt.threshold});
  // Started, not waited for: the job runs while they connect, as it would
  // with watchers coming and going.
  std::optional<weft::bench::watch_processes> watchers;
  if (opt.watchers > 0)
    watchers.emplace(opt.weft_path, job.id,
                     "127.0.0.1:" + std::to_string(owner->server->port()),
                     opt.watchers);
  auto done = jobs.wait(job.id, std::chrono::hours{1});
  result r;
  r.scenario = opt.scenario;
  r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  r.tasks = done.stats.total_tasks;
  // Each watcher ends with the job; before the memory is measured, so their
  // sessions on the server are gone.
  weft::bench::watch_processes::outcome watched;
  if (watchers)
    watched = watchers->finish(std::chrono::seconds{30});
  // The job stays in the orchestrator's memory once finished: what it holds
  // per task is the growth of the resident set, once the orchestrator has
  // returned what the run left free (memory_releaser, on its own thread).
  weft::memory_releaser::process().wait_idle(std::chrono::seconds{10});
  r.bytes_per_task = (status_mb("VmRSS:") - rss_before) * 1024 * 1024
                     / static_cast<double>(r.tasks);
  auto heap_per_task
    = (heap_in_use() - heap_before) / static_cast<double>(r.tasks);
  std::ostringstream summary;
  summary << r.tasks << " tasks " << weft::to_string(done.state) << " in "
          << r.seconds << " s, "
          << static_cast<uint64_t>(static_cast<double>(r.tasks) / r.seconds)
          << " tasks/s, " << static_cast<uint64_t>(r.bytes_per_task)
          << " bytes/task resident, " << opt.slots << " slots";
  if (opt.scenario == "chain") {
    // Per hop: from one task's end to the next one's start.
    auto tasks = jobs.tasks(job.id);
    std::vector<double> hops;
    for (size_t i = 2; i < tasks.size(); ++i)
      hops.push_back(
        static_cast<double>(tasks[i].started - tasks[i - 1].stopped) / 1000.0);
    r.p50_us = percentile(hops, 0.5);
    r.p99_us = percentile(hops, 0.99);
    summary << ", per hop p50 " << r.p50_us << " us, p99 " << r.p99_us << " us";
  }
  if (opt.rtt_ms > 0)
    summary << ", round trip +" << opt.rtt_ms << " ms";
  if (watchers) {
    summary << ", " << opt.watchers << " watchers printed " << watched.lines
            << " lines (" << watched.ok << " ended COMPLETED";
    if (watched.killed > 0)
      summary << ", " << watched.killed << " killed";
    summary << ")";
  }
  owner->stop(); // closes the journal
  // Runners take runner_options' max_leases unless told.
  auto prefetch
    = opt.prefetch ? std::to_string(*opt.prefetch) : std::string{"\"default\""};
  r.extra = ",\"slots\":" + std::to_string(opt.slots) + ",\"runner_processes\":"
            + std::to_string(opt.runner_processes) + ",\"prefetch\":" + prefetch
            + ",\"rtt_ms\":" + std::to_string(opt.rtt_ms)
            + ",\"watchers\":" + std::to_string(opt.watchers)
            + ",\"watch_lines\":" + std::to_string(watched.lines);
  if (watchers)
    r.extra += ",\"watchers_completed\":" + std::to_string(watched.ok)
               + ",\"watchers_killed\":" + std::to_string(watched.killed);
  r.extra += ",\"heap_bytes_per_task\":" + std::to_string(heap_per_task)
             + journal_fields(opt, dir, r.seconds);
  owner.reset();
  report(r, summary.str());
  return done.state == weft::job_state::completed ? 0 : 1;
}

/// Time to draw a finished job of about N tasks (a binary tree of N/2
/// leaves): fetching its tasks plus laying out and rendering the SVG.
int run_render(const options& opt) {
  scratch_dir dir;
  weft::local_cluster cluster{cluster_options(opt, dir)};
  cluster.register_tasks<bench_tree>();
  cluster.start();
  auto jobs = cluster.jobs();
  auto job = jobs.submit("bench-render", bench_tree{0, (opt.tasks + 1) / 2});
  auto done = jobs.wait(job.id, std::chrono::hours{1});
  auto t0 = clock_type::now();
  auto tasks = jobs.tasks(job.id);
  auto t1 = clock_type::now();
  auto svg = weft::render_svg(done, tasks);
  auto t2 = clock_type::now();
  result r;
  r.scenario = "render";
  r.tasks = tasks.size();
  r.seconds = std::chrono::duration<double>(t2 - t0).count();
  auto fetch_s = std::chrono::duration<double>(t1 - t0).count();
  auto render_s = std::chrono::duration<double>(t2 - t1).count();
  r.extra = ",\"fetch_seconds\":" + std::to_string(fetch_s)
            + ",\"render_seconds\":" + std::to_string(render_s)
            + ",\"svg_bytes\":" + std::to_string(svg.size());
  std::ostringstream summary;
  summary << r.tasks << " tasks drawn in " << render_s << " s (SVG of "
          << svg.size() << " bytes), after fetching them in " << fetch_s
          << " s";
  report(r, summary.str());
  return 0;
}

// -- soak: a long-running orchestrator
// -------------------------------------------

/// Submits `count` small jobs from `submitters` threads, each keeping
/// `window` jobs in flight (waiting for its oldest before the next), and
/// calls `checkpoint(done)` from one thread every `every` finished jobs.
template <class Checkpoint>
void run_jobs_in_window(weft::job_client& jobs, uint64_t count,
                        uint32_t submitters, uint32_t window, uint64_t every,
                        Checkpoint checkpoint) {
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> done{0};
  std::mutex checkpoint_mtx;
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < submitters; ++t)
    threads.emplace_back([&] {
      std::deque<std::string> in_flight;
      auto finish_oldest = [&] {
        jobs.wait(in_flight.front(), std::chrono::hours{1});
        in_flight.pop_front();
        auto n = ++done;
        if (n % every == 0) {
          std::lock_guard<std::mutex> guard{checkpoint_mtx};
          checkpoint(n);
        }
      };
      while (next++ < count) {
        in_flight.push_back(jobs.submit("soak", bench_small_job{9}).id);
        if (in_flight.size() >= window)
          finish_oldest();
      }
      while (!in_flight.empty())
        finish_oldest();
    });
  for (auto& th : threads)
    th.join();
}

/// The median, in milliseconds, of `runs` calls of `fn`.
template <class Fn>
double median_ms(int runs, Fn fn) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    auto t0 = clock_type::now();
    fn();
    ms.push_back(
      std::chrono::duration<double, std::milli>(clock_type::now() - t0)
        .count());
  }
  return percentile(ms, 0.5);
}

/// What a store of finished jobs costs to use: a restart until it accepts
/// work, the newest page of the index, a finished 1,000-task job's find and
/// tasks (cold: loaded from its snapshot each time; warm: its actor back in
/// memory).
std::string finished_store_fields(const options& opt, const scratch_dir& dir,
                                  const std::string& big_job) {
  auto lco = cluster_options(opt, dir);
  auto t0 = clock_type::now();
  std::optional<weft::local_cluster> owner;
  owner.emplace(lco);
  owner->register_tasks<bench_noop, bench_small_job>();
  owner->start();
  auto probe = owner->jobs().submit("probe", bench_small_job{0}).id;
  auto restart_ms
    = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
  owner->jobs().wait(probe, std::chrono::minutes{1});
  auto jobs = owner->jobs();
  weft::job_query newest;
  newest.limit = 100;
  newest.newest_first = true;
  auto query_ms = median_ms(50, [&] { jobs.query(newest); });
  auto warm_ms = median_ms(50, [&] {
    jobs.find(big_job);
    jobs.tasks(big_job);
  });
  owner.reset();
  lco.orchestrator.finished_in_memory = 0; // every request loads it again
  owner.emplace(lco);
  owner->register_tasks<bench_noop, bench_small_job>();
  owner->start();
  auto cold = owner->jobs();
  auto cold_ms = median_ms(50, [&] {
    cold.find(big_job);
    cold.tasks(big_job);
  });
  return ",\"restart_accepts_work_ms\":" + std::to_string(restart_ms)
         + ",\"query_newest_100_p50_ms\":" + std::to_string(query_ms)
         + ",\"find_tasks_1000_warm_p50_ms\":" + std::to_string(warm_ms)
         + ",\"find_tasks_1000_cold_p50_ms\":" + std::to_string(cold_ms);
}

int run_soak(const options& opt) {
  scratch_dir dir;
  std::optional<weft::local_cluster> owner;
  owner.emplace(cluster_options(opt, dir));
  owner->register_tasks<bench_noop, bench_small_job>();
  owner->start();
  auto jobs = owner->jobs();
  auto every = std::max<uint64_t>(1, std::min<uint64_t>(100000, opt.jobs / 10));
  std::vector<double> rss; // at each checkpoint
  auto start = clock_type::now();
  run_jobs_in_window(
    jobs, opt.jobs, opt.submitters, 32, every, [&](uint64_t done) {
      auto mb = status_mb("VmRSS:");
      rss.push_back(mb);
      auto s = std::chrono::duration<double>(clock_type::now() - start).count();
      std::cout << "{\"scenario\":\"soak-checkpoint\","
                   "\"jobs\":"
                << done << ",\"seconds\":" << s
                << ",\"jobs_per_s\":" << static_cast<double>(done) / s
                << ",\"rss_mb\":" << mb
                << ",\"heap_mb\":" << heap_in_use() / (1 << 20) << "}"
                << std::endl;
    });
  auto seconds
    = std::chrono::duration<double>(clock_type::now() - start).count();
  // A finished job of 1,000 tasks to read back later.
  auto big = jobs.submit("soak-big", bench_small_job{999}).id;
  jobs.wait(big, std::chrono::minutes{5});
  owner.reset();
  result r;
  r.scenario = "soak";
  r.seconds = seconds;
  r.tasks = opt.jobs * 10;
  auto first = rss.empty() ? 0.0 : rss.front();
  auto last = rss.empty() ? 0.0 : rss.back();
  r.extra = ",\"jobs\":" + std::to_string(opt.jobs) + ",\"jobs_per_s\":"
            + std::to_string(static_cast<double>(opt.jobs) / seconds)
            + ",\"rss_first_checkpoint_mb\":" + std::to_string(first)
            + ",\"rss_last_checkpoint_mb\":" + std::to_string(last)
            + ",\"rss_growth\":" + std::to_string(first > 0 ? last / first : 0)
            + ",\"journal\":\"" + opt.journal + "\"";
  if (opt.journal != "none")
    r.extra += finished_store_fields(opt, dir, big);
  std::ostringstream summary;
  summary << opt.jobs << " jobs of 10 tasks in " << seconds << " s, resident "
          << first << " MB at the first checkpoint, " << last
          << " MB at the last";
  report(r, summary.str());
  return 0;
}

int run_many_jobs(const options& opt) {
  scratch_dir dir;
  std::optional<weft::local_cluster> owner;
  owner.emplace(cluster_options(opt, dir));
  auto& cluster = *owner;
  cluster.register_tasks<bench_noop, bench_small_job>();
  cluster.start();
  auto jobs = cluster.jobs();
  // Jobs are submitted concurrently from several client threads, as
  // independent users would: group commit then shares synced writes. Each
  // then waits for its own jobs to finish.
  std::vector<double> submit_us(opt.jobs);
  std::vector<std::string> ids(opt.jobs);
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> tasks{0};
  auto start = clock_type::now();
  {
    std::vector<std::thread> submitters;
    for (uint32_t t = 0; t < opt.submitters; ++t)
      submitters.emplace_back([&, t] {
        for (uint64_t i = t; i < opt.jobs; i += opt.submitters) {
          auto t0 = clock_type::now();
          ids[i] = jobs.submit("bench-small", bench_small_job{9}).id;
          submit_us[i]
            = std::chrono::duration<double, std::micro>(clock_type::now() - t0)
                .count();
        }
        for (uint64_t i = t; i < opt.jobs; i += opt.submitters) {
          auto done = jobs.wait(ids[i], std::chrono::hours{1});
          completed += done.state == weft::job_state::completed ? 1 : 0;
          tasks += done.stats.total_tasks;
        }
      });
    for (auto& th : submitters)
      th.join();
  }
  result r;
  r.scenario = "many-jobs";
  r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  r.tasks = tasks.load();
  r.p50_us = percentile(submit_us, 0.5);
  r.p99_us = percentile(submit_us, 0.99);
  auto jobs_per_s = static_cast<double>(opt.jobs) / r.seconds;
  owner.reset();
  r.extra = ",\"jobs\":" + std::to_string(opt.jobs)
            + ",\"jobs_per_s\":" + std::to_string(jobs_per_s)
            + ",\"submitters\":" + std::to_string(opt.submitters)
            + ",\"slots\":" + std::to_string(opt.slots)
            + journal_fields(opt, dir, r.seconds);
  std::ostringstream summary;
  summary << opt.jobs << " jobs of 10 tasks (" << completed.load()
          << " completed) in " << r.seconds
          << " s: " << static_cast<uint64_t>(jobs_per_s)
          << " jobs/s; submit p50 " << r.p50_us << " us, p99 " << r.p99_us
          << " us";
  report(r, summary.str());
  return completed == opt.jobs ? 0 : 1;
}

/// How far one percentage of a watched run was from the truth.
struct percent_error {
  double mean_abs = 0;    ///< percentage points, time-weighted
  double max_abs = 0;     ///< percentage points, the largest at any time
  uint64_t decreases = 0; ///< updates lower than the one before
};

/// How one watched run of a workflow went: what was shown, and the
/// estimate it follows, against what was true.
struct estimate_run {
  percent_error raw;              ///< the estimate (`raw_percent`)
  percent_error shown;            ///< what watchers see (`percent`)
  double no_estimate_share = 0;   ///< of the run's time
  std::vector<double> eta_errors; ///< relative, from the 20 % mark on
  double seconds = 0;
  uint64_t tasks = 0;
};

/// Submits `root`, watches it, and compares each update's percentages
/// (shown and raw) with the fraction of the job's time elapsed when it was
/// sent (held until the next update), and its ETA with the time that was
/// really left.
template <class Root>
estimate_run watch_run(weft::job_client& jobs, const Root& root) {
  struct sample {
    weft::timestamp at;
    std::optional<double> percent;
    std::optional<double> raw_percent;
    std::optional<int64_t> eta_ns;
  };
  std::vector<sample> samples;
  auto t0 = weft::now();
  auto job = jobs.submit("bench-estimate", root);
  auto last = jobs.watch(job.id, [&](const weft::progress_update& u) {
    if (!u.final)
      samples.push_back({u.at, u.percent, u.raw_percent, u.eta_ns});
  });
  auto t1 = std::max(last.stats.last_stopped, t0 + 1);
  estimate_run r;
  r.seconds = static_cast<double>(t1 - t0) / 1e9;
  r.tasks = last.stats.total_tasks;
  auto span = static_cast<double>(t1 - t0);
  // The error of one percentage against a truth rising linearly with time.
  auto measure = [&](std::optional<double> sample::*field) {
    percent_error e;
    double error_area = 0;
    double known_time = 0;
    std::optional<double> before;
    for (size_t k = 0; k < samples.size(); ++k) {
      const auto& p = samples[k].*field;
      if (p && before && *p < *before)
        ++e.decreases;
      if (p)
        before = p;
      auto from = std::clamp(samples[k].at, t0, t1);
      auto to
        = k + 1 < samples.size() ? std::clamp(samples[k + 1].at, t0, t1) : t1;
      if (to <= from || !p)
        continue;
      auto truth_from = 100 * static_cast<double>(from - t0) / span;
      auto truth_to = 100 * static_cast<double>(to - t0) / span;
      e.max_abs = std::max(
        {e.max_abs, std::abs(*p - truth_from), std::abs(*p - truth_to)});
      auto step = static_cast<double>(to - from) / 16;
      for (int j = 0; j < 16; ++j) {
        auto t = static_cast<double>(from - t0) + (j + 0.5) * step;
        error_area += std::abs(*p - 100 * t / span) * step;
      }
      known_time += static_cast<double>(to - from);
    }
    e.mean_abs = known_time > 0 ? error_area / known_time : -1;
    return e;
  };
  r.raw = measure(&sample::raw_percent);
  r.shown = measure(&sample::percent);
  for (size_t k = 0; k < samples.size(); ++k) {
    auto from = std::clamp(samples[k].at, t0, t1);
    auto to
      = k + 1 < samples.size() ? std::clamp(samples[k + 1].at, t0, t1) : t1;
    if (to <= from)
      continue;
    if (!samples[k].raw_percent) {
      r.no_estimate_share += static_cast<double>(to - from) / span;
      continue;
    }
    auto fraction = static_cast<double>(from - t0) / span;
    auto left = static_cast<double>(t1 - from);
    // From the 20 % mark on; the last 5 % is within an update interval of
    // the end, where any ETA is right or wrong by the interval alone.
    if (fraction >= 0.2 && fraction <= 0.95 && samples[k].eta_ns)
      r.eta_errors.push_back(
        std::abs(static_cast<double>(*samples[k].eta_ns) - left) / left);
  }
  return r;
}

/// The time one progress estimate takes on a job of about N tasks, half
/// done: a root, 1,000 groups and N / 1,000 leaves under each, all learned
/// before. Built as plain data (the job actor computes it the same way,
/// once per update interval while the job is watched).
int run_estimate_cost(const options& opt) {
  using namespace weft::core;
  auto sub = [](const char* name) {
    task_submission s;
    s.identifier = {name, "v1.0"};
    s.input = "{}";
    return s;
  };
  task_statistics stats;
  task_graph graph{{sub("root")}, "default"};
  graph.take_ready();
  auto run = [&](task_index i, weft::timestamp from, weft::timestamp to,
                 std::vector<task_submission> subtasks) {
    auto attempt = graph.attempt(i);
    graph.start(i, attempt, from);
    attempt_outcome out;
    out.succeeded = true;
    out.subtasks = std::move(subtasks);
    out.started = from;
    out.stopped = to;
    graph.finish(i, attempt, std::move(out));
  };
  constexpr uint64_t groups = 1000;
  auto per_group = std::max<uint64_t>(1, opt.tasks / groups);
  run(0, 1000, 1100, std::vector<task_submission>(groups, sub("group")));
  std::vector<task_index> learned{0};
  for (auto i : graph.take_ready()) {
    run(i, 2000, 2100, std::vector<task_submission>(per_group, sub("leaf")));
    learned.push_back(i);
  }
  stats.learn(graph, learned);
  auto leaves = graph.take_ready();
  learned.clear();
  for (size_t k = 0; k < leaves.size() / 2; ++k) {
    run(leaves[k], 3000, 3200, {});
    learned.push_back(leaves[k]);
  }
  stats.learn(graph, learned);
  std::vector<double> ms;
  weft::core::job_estimate e;
  for (int k = 0; k < 5; ++k) {
    auto t0 = clock_type::now();
    e = estimate(graph, stats, 5000);
    ms.push_back(
      std::chrono::duration<double, std::milli>(clock_type::now() - t0)
        .count());
  }
  result r;
  r.scenario = "estimate-cost";
  r.tasks = graph.size();
  r.seconds = percentile(ms, 0.5) / 1000;
  r.extra = ",\"estimate_ms\":" + std::to_string(percentile(ms, 0.5))
            + ",\"percent\":" + std::to_string(e.percent.value_or(-1));
  std::ostringstream summary;
  summary << "one estimate of a job of " << r.tasks
          << " tasks, half done: " << percentile(ms, 0.5)
          << " ms (median of 5), " << e.percent.value_or(-1) << " %";
  report(r, summary.str());
  return 0;
}

/// Runs synthetic workflows of varied fan-out and durations, `learn` times
/// each so the orchestrator learns them, then watches `runs` more runs of
/// each and reports how far the percentage and the ETA were from the
/// truth.
int run_estimate(const options& opt) {
  weft::local_cluster_options lco;
  lco.runners[0].slots = opt.slots;
  lco.runners[0].progress_interval = std::chrono::milliseconds{50};
  lco.orchestrator.progress_interval = std::chrono::milliseconds{100};
  weft::local_cluster cluster{lco};
  cluster.register_tasks<est_sleep, est_flat, est_group, est_tree, est_merge,
                         est_pipeline>();
  cluster.start();
  auto jobs = cluster.jobs();
  struct workflow_result {
    std::string name;
    std::vector<estimate_run> measured;
    double first_no_estimate = 0;
  };
  std::vector<workflow_result> results;
  auto start = clock_type::now();
  auto measure = [&](const std::string& name, auto make) {
    workflow_result w;
    w.name = name;
    uint32_t seed = 1;
    for (uint32_t i = 0; i < opt.learn; ++i) {
      auto run = watch_run(jobs, make(seed++));
      if (i == 0)
        w.first_no_estimate = run.no_estimate_share;
    }
    for (uint32_t i = 0; i < opt.runs; ++i)
      w.measured.push_back(watch_run(jobs, make(seed++)));
    results.push_back(std::move(w));
  };
  measure("flat", [](uint32_t seed) { return est_flat{seed}; });
  measure("tree", [](uint32_t seed) { return est_tree{seed}; });
  measure("pipeline", [](uint32_t seed) { return est_pipeline{seed}; });
  auto seconds
    = std::chrono::duration<double>(clock_type::now() - start).count();
  std::vector<double> errors;
  std::vector<double> shown_errors;
  double max_error = 0;
  double shown_max_error = 0;
  uint64_t decreases = 0;
  uint64_t shown_decreases = 0;
  std::vector<double> eta_errors;
  uint64_t tasks = 0;
  std::ostringstream summary;
  std::ostringstream per_workflow;
  summary << opt.learn << " learning runs, then " << opt.runs
          << " measured runs per workflow, " << opt.slots << " slots";
  for (const auto& w : results) {
    std::vector<double> mine;
    std::vector<double> mine_shown;
    std::vector<double> mine_eta;
    double no_estimate = 0;
    uint64_t mine_decreases = 0;
    for (const auto& run : w.measured) {
      tasks += run.tasks;
      mine.push_back(run.raw.mean_abs);
      mine_shown.push_back(run.shown.mean_abs);
      max_error = std::max(max_error, run.raw.max_abs);
      shown_max_error = std::max(shown_max_error, run.shown.max_abs);
      mine_decreases += run.raw.decreases;
      shown_decreases += run.shown.decreases;
      mine_eta.insert(mine_eta.end(), run.eta_errors.begin(),
                      run.eta_errors.end());
      no_estimate = std::max(no_estimate, run.no_estimate_share);
    }
    decreases += mine_decreases;
    errors.insert(errors.end(), mine.begin(), mine.end());
    shown_errors.insert(shown_errors.end(), mine_shown.begin(),
                        mine_shown.end());
    eta_errors.insert(eta_errors.end(), mine_eta.begin(), mine_eta.end());
    summary << "\n  " << w.name << ": percentage off by "
            << percentile(mine, 0.5) << " points (median of runs; shown "
            << percentile(mine_shown, 0.5) << ", the estimate fell "
            << mine_decreases << " times), ETA off by "
            << 100 * percentile(mine_eta, 0.5) << " % (median; p90 "
            << 100 * percentile(mine_eta, 0.9) << " %) from the 20 % mark; "
            << "no estimate for " << 100 * w.first_no_estimate
            << " % of the first run, " << 100 * no_estimate
            << " % of the measured ones";
    per_workflow << ",\"" << w.name
                 << "_error_points\":" << percentile(mine, 0.5) << ",\""
                 << w.name
                 << "_shown_error_points\":" << percentile(mine_shown, 0.5)
                 << ",\"" << w.name
                 << "_eta_error\":" << percentile(mine_eta, 0.5);
  }
  auto mean_of = [](const std::vector<double>& xs) {
    double m = 0;
    for (auto x : xs)
      m += x / static_cast<double>(xs.size());
    return m;
  };
  auto mean_error = mean_of(errors);
  auto shown_mean_error = mean_of(shown_errors);
  auto within = std::count_if(eta_errors.begin(), eta_errors.end(),
                              [](double e) { return e <= 0.25; });
  result r;
  r.scenario = "estimate";
  r.seconds = seconds;
  r.tasks = tasks; // of the measured runs
  r.extra
    = ",\"learning_runs\":" + std::to_string(opt.learn)
      + ",\"measured_runs\":" + std::to_string(opt.runs)
      + ",\"mean_error_points\":" + std::to_string(mean_error)
      + ",\"max_error_points\":" + std::to_string(max_error)
      + ",\"shown_mean_error_points\":" + std::to_string(shown_mean_error)
      + ",\"shown_max_error_points\":" + std::to_string(shown_max_error)
      + ",\"raw_decreases\":" + std::to_string(decreases)
      + ",\"shown_decreases\":" + std::to_string(shown_decreases)
      + ",\"eta_error_median\":" + std::to_string(percentile(eta_errors, 0.5))
      + ",\"eta_error_p90\":" + std::to_string(percentile(eta_errors, 0.9))
      + ",\"eta_within_25_percent\":"
      + std::to_string(eta_errors.empty()
                         ? 0.0
                         : static_cast<double>(within)
                             / static_cast<double>(eta_errors.size()))
      + per_workflow.str();
  summary << "\n  overall: mean error " << mean_error << " points (max "
          << max_error << "), the estimate fell " << decreases
          << " times; shown: mean error " << shown_mean_error << " points (max "
          << shown_max_error << "), fell " << shown_decreases
          << " times; ETA within 25 % in "
          << (eta_errors.empty()
                ? 0
                : 100 * within / static_cast<double>(eta_errors.size()))
          << " % of updates from the 20 % mark (median error "
          << 100 * percentile(eta_errors, 0.5) << " %)";
  report(r, summary.str());
  return 0;
}

/// Writes a journal of about `events` events for jobs of binary-split
/// tasks (as the tree scenario makes them), then measures how long an
/// orchestrator takes to open and replay it.
int run_recovery(const options& opt) {
  scratch_dir dir;
  uint64_t written = 0;
  {
    auto store = weft::journal_store::open({dir.path, false});
    std::vector<weft::journal_record> batch;
    auto flush = [&] {
      store->append(batch);
      written += batch.size();
      batch.clear();
    };
    uint64_t leaves_per_job = 50000; // 99,999 tasks, ~200,000 events
    while (written + batch.size() < opt.events) {
      weft::core::journal_event sub;
      sub.kind = weft::core::event_kind::job_submitted;
      sub.job_id = weft::core::make_uuid_v7();
      sub.time = weft::now();
      sub.name = "recovery";
      sub.cluster = "default";
      weft::core::task_submission root;
      root.identifier = weft::validated_identifier_of<bench_tree>();
      root.input = weft::json::encode(bench_tree{0, leaves_per_job});
      sub.roots = {root};
      batch.push_back({sub.job_id, weft::core::encode_event(sub)});
      // Drive a graph like the orchestrator would and journal its events.
      auto graph = weft::core::graph_of(sub);
      std::vector<weft::core::task_index> ready = graph->take_ready();
      while (!ready.empty() && written + batch.size() < opt.events) {
        std::vector<weft::core::task_index> next;
        for (auto i : ready) {
          auto t = weft::json::decode<bench_tree>(graph->input(i));
          weft::core::journal_event started;
          started.kind = weft::core::event_kind::task_started;
          started.job_id = sub.job_id;
          started.task = i;
          started.attempt = graph->attempt(i);
          started.time = weft::now();
          started.runner = "runner-1";
          graph->start(i, graph->attempt(i), started.time);
          batch.push_back({sub.job_id, weft::core::encode_event(started)});
          weft::core::journal_event computed = started;
          computed.kind = weft::core::event_kind::task_computed;
          computed.outcome.succeeded = true;
          computed.outcome.started = started.time;
          computed.outcome.stopped = started.time + 1000;
          if (t.end - t.begin > 1) {
            auto mid = t.begin + (t.end - t.begin) / 2;
            for (auto part :
                 {bench_tree{t.begin, mid}, bench_tree{mid, t.end}}) {
              weft::core::task_submission s;
              s.identifier = root.identifier;
              s.input = weft::json::encode(part);
              computed.outcome.subtasks.push_back(std::move(s));
            }
          }
          batch.push_back({sub.job_id, weft::core::encode_event(computed)});
          auto out = computed.outcome;
          graph->finish(i, graph->attempt(i), std::move(out));
          auto more = graph->take_ready();
          next.insert(next.end(), more.begin(), more.end());
          if (batch.size() >= 10000)
            flush();
        }
        ready = std::move(next);
      }
    }
    flush();
  }
  auto start = clock_type::now();
  uint64_t tasks = 0;
  {
    auto store = weft::journal_store::open({dir.path, true});
    for (const auto& job : weft::recover_jobs(*store))
      tasks += job.graph->size();
  }
  result r;
  r.scenario = "recovery";
  r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  r.tasks = tasks;
  r.extra = ",\"events\":" + std::to_string(written) + ",\"events_per_s\":"
            + std::to_string(static_cast<double>(written) / r.seconds);
  std::ostringstream summary;
  summary << "replayed " << written << " events (" << tasks << " tasks) in "
          << r.seconds << " s";
  report(r, summary.str());
  return 0;
}

// -- raw CAF request/reply, the ceiling every weft message pays into
// --------------

using ping_atom = caf::atom_constant<caf::atom("benchPing")>;

caf::behavior pong() {
  return {[](ping_atom, uint64_t x) { return x; }};
}

/// Keeps `window` requests in flight until `total` replies came back.
caf::behavior pinger(caf::event_based_actor* self, caf::actor target,
                     uint64_t total, uint64_t window, caf::actor done) {
  auto sent = std::make_shared<uint64_t>(0);
  auto received = std::make_shared<uint64_t>(0);
  auto fire = std::make_shared<std::function<void()>>();
  *fire = [=] {
    ++*sent;
    self->request(target, caf::infinite, ping_atom::value, *sent)
      .then([=](uint64_t) {
        if (++*received == total) {
          self->send(done, caf::ok_atom::value);
          self->quit();
        } else if (*sent < total) {
          (*fire)();
        }
      });
  };
  for (uint64_t i = 0; i < window && i < total; ++i)
    (*fire)();
  return {[](caf::ok_atom) {}};
}

double measure_pairs(caf::actor_system& sys, caf::actor target, uint64_t n) {
  caf::scoped_actor self{sys};
  auto start = clock_type::now();
  sys.spawn(pinger, target, n, uint64_t{256}, caf::actor{self});
  self->receive([](caf::ok_atom) {});
  auto secs = std::chrono::duration<double>(clock_type::now() - start).count();
  return static_cast<double>(n) / secs;
}

int run_caf_baseline(const options& opt) {
  double local_rate = 0;
  double remote_rate = 0;
  {
    caf::actor_system_config cfg;
    caf::actor_system sys{cfg};
    auto target = sys.spawn(pong);
    local_rate = measure_pairs(sys, target, opt.pairs);
    caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
  }
  {
    // Two actor systems in one process, talking BASP over loopback TCP.
    caf::actor_system_config server_cfg;
    server_cfg.load<caf::io::middleman>();
    caf::actor_system server{server_cfg};
    caf::actor_system_config client_cfg;
    client_cfg.load<caf::io::middleman>();
    caf::actor_system client{client_cfg};
    auto target = server.spawn(pong);
    auto port = server.middleman().publish(target, 0, "127.0.0.1", true);
    if (!port) {
      std::cerr << "weft-bench: cannot publish on loopback: "
                << server.render(port.error()) << "\n";
      return 1;
    }
    auto proxy = client.middleman().remote_actor("127.0.0.1", *port);
    if (!proxy) {
      std::cerr << "weft-bench: cannot connect over loopback: "
                << client.render(proxy.error()) << "\n";
      return 1;
    }
    remote_rate = measure_pairs(client, *proxy, opt.pairs / 10);
    caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
  }
  result r;
  r.scenario = "caf-baseline";
  r.tasks = opt.pairs;
  r.seconds = static_cast<double>(opt.pairs) / local_rate;
  r.extra = ",\"pairs_per_s_in_process\":" + std::to_string(local_rate)
            + ",\"pairs_per_s_loopback\":" + std::to_string(remote_rate);
  std::ostringstream summary;
  summary << "request/reply pairs, 256 in flight: "
          << static_cast<uint64_t>(local_rate) << "/s in process, "
          << static_cast<uint64_t>(remote_rate) << "/s over loopback TCP";
  report(r, summary.str());
  return 0;
}

// -- http: the HTTP listener of a `weft server` process
// ----------------------------------------------------------

/// Set when the http scenario is done with the job its streams watch.
std::atomic<bool> bench_streams_done{false};

/// Sleeps `steps` steps of `step_ms`, reporting each one done, until the
/// scenario is done with it: a job that runs, and reports progress, for as
/// long as its update streams are measured.
struct bench_progress {
  uint32_t steps = 0;
  uint32_t step_ms = 100;
  void execute(weft::context& ctx) const {
    auto step = ctx.progress("steps");
    step.add(steps);
    for (uint32_t i = 0; i < steps && !bench_streams_done; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds{step_ms});
      step.done(1);
    }
  }
};
BOOST_DESCRIBE_STRUCT(bench_progress, (), (steps, step_ms))

/// A process's CPU use over a window: the fraction of one core, in all and
/// by thread name.
struct cpu_window {
  double fraction = 0;
  std::map<std::string, double> by_thread;
};

cpu_window measure_cpu(pid_t pid, uint32_t seconds) {
  auto threads0 = weft::bench::thread_cpu_seconds(pid);
  auto cpu0 = weft::bench::process_cpu_seconds(pid);
  auto t0 = clock_type::now();
  std::this_thread::sleep_for(std::chrono::seconds{seconds});
  auto cpu1 = weft::bench::process_cpu_seconds(pid);
  auto threads1 = weft::bench::thread_cpu_seconds(pid);
  auto elapsed = std::chrono::duration<double>(clock_type::now() - t0).count();
  cpu_window w;
  w.fraction = (cpu1 - cpu0) / elapsed;
  for (const auto& [name, cpu] : threads1)
    w.by_thread[name] = (cpu - threads0[name]) / elapsed;
  return w;
}

/// "name 1.2 %, name 0.3 %": the threads that used the most of `w`.
std::string busiest_threads(const cpu_window& w) {
  std::vector<std::pair<double, std::string>> list;
  for (const auto& [name, f] : w.by_thread)
    list.emplace_back(f, name);
  std::sort(list.rbegin(), list.rend());
  std::ostringstream out;
  for (size_t i = 0; i < list.size() && i < 4; ++i)
    out << (i ? ", " : "") << list[i].second << " " << 100 * list[i].first
        << " %";
  return out.str();
}

std::string fixed(double x, int digits) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(digits);
  out << x;
  return out.str();
}

/// 1. What `streams` update streams on one running job cost the server.
bool measure_streams(const options& opt, weft::bench::server_process& srv) {
  weft::remote::connect_options co;
  co.scheduler_threads = 2;
  auto conn
    = weft::remote::connect("127.0.0.1:" + std::to_string(srv.port()), co);
  weft::runner_options ro;
  ro.slots = 1;
  ro.grace_period = std::chrono::seconds{1};
  // The runner reports at least as often as the job updates its watchers.
  auto interval = opt.progress_interval_ms > 0
                    ? std::chrono::milliseconds{opt.progress_interval_ms}
                    : weft::orchestrator_options{}.progress_interval;
  ro.progress_interval = std::min(ro.progress_interval, interval);
  auto runner = conn.make_runner(ro);
  runner.register_tasks<bench_progress>();
  runner.start();
  auto jobs = conn.jobs();
  // Steps of 100 ms for three windows and what lies between them.
  auto steps = (3 * opt.seconds + 60) * 10;
  auto job = jobs.submit("bench-http-streams", bench_progress{steps, 100});
  auto deadline = clock_type::now() + std::chrono::seconds{30};
  while (jobs.find(job.id).state != weft::job_state::running) {
    if (clock_type::now() > deadline)
      throw std::runtime_error("the streamed job did not start in 30 s");
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  std::this_thread::sleep_for(std::chrono::seconds{3}); // its first updates
  auto without = measure_cpu(srv.pid(), opt.seconds);
  auto rss_without = weft::bench::process_rss_mb(srv.pid());
  std::optional<weft::bench::event_streams> streams;
  streams.emplace(srv.http_port(), "/api/v1/jobs/" + job.id + "/events",
                  opt.streams);
  auto opening = clock_type::now();
  streams->wait_answered(std::chrono::seconds{30});
  auto open_s
    = std::chrono::duration<double>(clock_type::now() - opening).count();
  std::this_thread::sleep_for(std::chrono::seconds{3}); // their first events
  auto before = streams->snapshot();
  auto with = measure_cpu(srv.pid(), opt.seconds);
  auto after = streams->snapshot();
  auto rss_with = weft::bench::process_rss_mb(srv.pid());
  // From an update's time to its event's arrival here: the fan-out to every
  // stream included.
  auto delays = streams->progress_delays_ms(before.progress, after.progress);
  streams.reset();
  std::this_thread::sleep_for(std::chrono::seconds{3}); // the closes arrive
  auto closed = measure_cpu(srv.pid(), opt.seconds);
  auto rss_closed = weft::bench::process_rss_mb(srv.pid());
  bench_streams_done = true;
  runner.stop();

  auto open = static_cast<double>(std::max<uint64_t>(1, after.open));
  auto events = static_cast<double>(after.events - before.events) / open;
  auto progress = static_cast<double>(after.progress - before.progress) / open;
  auto client_cpu = (after.cpu_seconds - before.cpu_seconds) / opt.seconds;
  auto cost = with.fraction - without.fraction;
  result r;
  r.scenario = "http-streams";
  r.seconds = opt.seconds;
  r.extra = ",\"streams\":" + std::to_string(opt.streams)
            + ",\"streams_open\":" + std::to_string(after.open)
            + ",\"streams_refused\":" + std::to_string(after.refused)
            + ",\"streams_closed_by_server\":" + std::to_string(after.closed)
            + ",\"window_s\":" + std::to_string(opt.seconds)
            + ",\"progress_interval_ms\":" + std::to_string(interval.count())
            + ",\"cpu_without_streams\":" + fixed(without.fraction, 4)
            + ",\"cpu_with_streams\":" + fixed(with.fraction, 4)
            + ",\"cpu_streams_cost\":" + fixed(cost, 4)
            + ",\"cpu_after_close\":" + fixed(closed.fraction, 4)
            + ",\"events_per_stream\":" + fixed(events, 2)
            + ",\"progress_events_per_stream\":" + fixed(progress, 2)
            + ",\"event_delay_p50_ms\":" + fixed(percentile(delays, 0.5), 2)
            + ",\"event_delay_p99_ms\":" + fixed(percentile(delays, 0.99), 2)
            + ",\"event_delay_max_ms\":" + fixed(percentile(delays, 1), 2)
            + ",\"client_cpu\":" + fixed(client_cpu, 4)
            + ",\"server_rss_mb_without\":" + fixed(rss_without, 1)
            + ",\"server_rss_mb_with\":" + fixed(rss_with, 1)
            + ",\"server_rss_mb_after_close\":" + fixed(rss_closed, 1)
            + ",\"open_seconds\":" + fixed(open_s, 3);
  std::ostringstream summary;
  summary << after.open << " of " << opt.streams
          << " update streams open on one running job (all answered in "
          << open_s << " s): the server used " << 100 * with.fraction
          << " % of a core with them, " << 100 * without.fraction
          << " % without (+" << 100 * cost << " %), " << 100 * closed.fraction
          << " % after they closed; " << events << " events per stream in "
          << opt.seconds << " s (" << progress
          << " execution_progress), each read " << percentile(delays, 0.5)
          << " ms after its update (p50; p99 " << percentile(delays, 0.99)
          << " ms); the clients' thread " << 100 * client_cpu << " %; resident "
          << rss_without << " -> " << rss_with << " MB, " << rss_closed
          << " MB after they closed\n  busiest server threads with streams: "
          << busiest_threads(with)
          << "\n  without: " << busiest_threads(without);
  report(r, summary.str());
  return after.open == opt.streams && after.closed == 0;
}

/// 2. and 3.: POST /api/v1/jobs on one kept-alive connection (the first
/// 2,000 timed as the figure), `jobs` of them left queued on a cluster
/// without runners; then GET /metrics with those jobs live.
bool measure_submit_and_metrics(const options& opt,
                                weft::bench::server_process& srv) {
  weft::bench::http_connection http{srv.http_port()};
  auto created
    = http.request("POST", "/api/v1/clusters", R"({"name":"bench-queued"})");
  if (created.status != 201)
    throw std::runtime_error("POST /api/v1/clusters answered "
                             + std::to_string(created.status) + ": "
                             + created.body);
  auto measured = std::min<uint64_t>(2000, opt.jobs);
  std::vector<double> submit_us;
  uint64_t accepted = 0;
  std::string refusal;
  auto start = clock_type::now();
  double measured_s = 0;
  for (uint64_t i = 0; i < opt.jobs; ++i) {
    auto body = R"({"name":"bench-http","cluster":"bench-queued",)"
                R"("roots":[{"task":"bench/Queued@v1.0","input":{"i":)"
                + std::to_string(i) + "}}]}";
    auto t0 = clock_type::now();
    auto rep = http.request("POST", "/api/v1/jobs", body);
    submit_us.push_back(
      std::chrono::duration<double, std::micro>(clock_type::now() - t0)
        .count());
    if (rep.status == 201)
      ++accepted;
    else if (refusal.empty())
      refusal = std::to_string(rep.status) + " " + rep.body;
    if (i + 1 == measured)
      measured_s
        = std::chrono::duration<double>(clock_type::now() - start).count();
  }
  auto all_s = std::chrono::duration<double>(clock_type::now() - start).count();
  std::vector<double> first{submit_us.begin(),
                            submit_us.begin()
                              + static_cast<std::ptrdiff_t>(measured)};
  result sub;
  sub.scenario = "http-submit";
  sub.tasks = measured;
  sub.seconds = measured_s;
  sub.p50_us = percentile(first, 0.5);
  sub.p99_us = percentile(first, 0.99);
  sub.extra = ",\"submissions\":" + std::to_string(measured)
              + ",\"all_submissions\":" + std::to_string(opt.jobs)
              + ",\"accepted\":" + std::to_string(accepted)
              + ",\"all_p50_us\":" + fixed(percentile(submit_us, 0.5), 1)
              + ",\"all_p99_us\":" + fixed(percentile(submit_us, 0.99), 1)
              + ",\"all_seconds\":" + fixed(all_s, 3);
  std::ostringstream ss;
  ss << "POST /api/v1/jobs on one kept-alive connection: p50 " << sub.p50_us
     << " us, p99 " << sub.p99_us << " us over the first " << measured
     << "; p50 " << percentile(submit_us, 0.5) << " us, p99 "
     << percentile(submit_us, 0.99) << " us over all " << opt.jobs << " ("
     << accepted << " accepted" << (refusal.empty() ? "" : ", first refusal ")
     << refusal << ")";
  report(sub, ss.str());

  auto idle = measure_cpu(srv.pid(), std::min<uint32_t>(opt.seconds, 5));
  std::vector<double> scrape_ms;
  unsigned status = 0;
  size_t body_bytes = 0;
  auto scrapes_start = clock_type::now();
  for (int i = 0; i < 20; ++i) {
    auto t0 = clock_type::now();
    auto rep = http.request("GET", "/metrics");
    scrape_ms.push_back(
      std::chrono::duration<double, std::milli>(clock_type::now() - t0)
        .count());
    status = rep.status;
    body_bytes = rep.body.size();
  }
  auto max_ms = *std::max_element(scrape_ms.begin(), scrape_ms.end());
  result m;
  m.scenario = "http-metrics";
  m.seconds
    = std::chrono::duration<double>(clock_type::now() - scrapes_start).count();
  m.p50_us = 1000 * percentile(scrape_ms, 0.5);
  m.p99_us = 1000 * percentile(scrape_ms, 0.99);
  m.extra = ",\"live_jobs\":" + std::to_string(accepted)
            + ",\"scrapes\":20,\"status\":" + std::to_string(status)
            + ",\"p50_ms\":" + fixed(percentile(scrape_ms, 0.5), 3)
            + ",\"max_ms\":" + fixed(max_ms, 3) + ",\"body_bytes\":"
            + std::to_string(body_bytes) + ",\"server_cpu_idle\":"
            + fixed(idle.fraction, 4) + ",\"server_rss_mb\":"
            + fixed(weft::bench::process_rss_mb(srv.pid()), 1);
  std::ostringstream ms;
  ms << "GET /metrics with " << accepted << " live jobs: status " << status
     << ", p50 " << percentile(scrape_ms, 0.5) << " ms, max " << max_ms
     << " ms over 20 scrapes, " << body_bytes << " bytes; the server idle at "
     << 100 * idle.fraction << " % of a core with those jobs queued";
  report(m, ms.str());
  return accepted == opt.jobs && status == 200;
}

/// The HTTP listener of a `weft server` process (the `weft` program next
/// to this one), measured from outside: update streams, submissions and
/// metrics.
int run_http(const options& opt) {
  // Each stream holds a socket here and one in the server, which inherits
  // this limit.
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur < opt.streams + 256) {
    std::cerr << "weft-bench: " << opt.streams << " streams need "
              << opt.streams + 256 << " open files; the limit is "
              << files.rlim_cur << "\n";
    return 1;
  }
  auto program = opt.weft_path.empty()
                   ? std::filesystem::path{opt.self_path}.parent_path() / "weft"
                   : std::filesystem::path{opt.weft_path};
  std::vector<std::string> args{"server", "--listen", "127.0.0.1:0", "--http",
                                "127.0.0.1:0"};
  if (opt.progress_interval_ms > 0) {
    args.push_back("--progress-interval");
    args.push_back(std::to_string(opt.progress_interval_ms));
  }
  if (opt.streams > 1024) {
    args.push_back("--http-max-streams");
    args.push_back(std::to_string(opt.streams));
  }
  try {
    weft::bench::server_process srv{program.string(), args};
    bool ok = measure_streams(opt, srv);
    ok = measure_submit_and_metrics(opt, srv) && ok;
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "weft-bench: " << e.what() << "\n";
    return 1;
  }
}

void usage() {
  std::cerr
    << "usage: weft-bench --scenario "
       "fanout|tree|chain|actor-fanout|actor-wait|many-jobs|soak|render|"
       "recovery|caf-baseline|estimate|estimate-cost|http\n"
       "                  [--tasks N] [--jobs N] [--events N] [--pairs N]\n"
       "                  [--slots N] [--threshold N] [--wait-ms MS "
       "(actor-wait; default 100)]\n"
       "                  [--scheduler-threads N (embedded job scenarios: "
       "the actor\n"
       "                   system's threads; default 0, CAF's: the larger of "
       "4 and\n"
       "                   the hardware threads)]\n"
       "                  [--journal none|fsync|nofsync] [--runner-processes "
       "N]\n"
       "                  [--prefetch N (runner_options::max_leases of the "
       "runners;\n"
       "                   their default unless given; 0: no leases beyond "
       "the slots)]\n"
       "                  [--rtt-ms MS (runner processes: a relay adding MS "
       "to each\n"
       "                   round trip to the server; default 0, none)]\n"
       "                  [--watchers N (runner processes: N `weft watch` on "
       "the job;\n"
       "                   default 0)] [--weft PATH (default: next to "
       "weft-bench)]\n"
       "                  [--submitters N (many-jobs; default 16)]\n"
       "                  [--learn N] [--runs N] (estimate; default 3 and 3)\n"
       "                  [--streams N] [--seconds S] (http; default 1000 and "
       "10;\n"
       "                   --jobs: live jobs for /metrics, default 10000;\n"
       "                   --progress-interval MS: the server's, default "
       "2000)\n";
}

} // namespace

int main(int argc, char** argv) {
  options opt;
  bool tasks_given = false;
  bool jobs_given = false;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc)
          throw std::invalid_argument(arg + " needs a value");
        return argv[++i];
      };
      if (arg == "--scenario")
        opt.scenario = value();
      else if (arg == "--tasks")
        opt.tasks = std::stoull(value()), tasks_given = true;
      else if (arg == "--jobs")
        opt.jobs = std::stoull(value()), jobs_given = true;
      else if (arg == "--pairs")
        opt.pairs = std::stoull(value());
      else if (arg == "--slots")
        opt.slots = static_cast<uint32_t>(std::stoul(value()));
      else if (arg == "--journal")
        opt.journal = value();
      else if (arg == "--events")
        opt.events = std::stoull(value());
      else if (arg == "--threshold")
        opt.threshold = std::stoull(value());
      else if (arg == "--scheduler-threads")
        opt.scheduler_threads = static_cast<uint32_t>(std::stoul(value()));
      else if (arg == "--wait-ms")
        opt.wait_ms = static_cast<uint32_t>(std::stoul(value()));
      else if (arg == "--runner-processes")
        opt.runner_processes = static_cast<uint32_t>(std::stoul(value()));
      else if (arg == "--submitters")
        opt.submitters
          = std::max(1u, static_cast<uint32_t>(std::stoul(value())));
      else if (arg == "--learn")
        opt.learn = static_cast<uint32_t>(std::stoul(value()));
      else if (arg == "--runs")
        opt.runs = std::max(1u, static_cast<uint32_t>(std::stoul(value())));
      else if (arg == "--prefetch")
        opt.prefetch = static_cast<uint32_t>(std::stoul(value()));
      else if (arg == "--rtt-ms")
        opt.rtt_ms = static_cast<uint32_t>(std::stoul(value()));
      else if (arg == "--watchers")
        opt.watchers = static_cast<uint32_t>(std::stoul(value()));
      else if (arg == "--weft")
        opt.weft_path = value();
      else if (arg == "--streams")
        opt.streams = static_cast<uint32_t>(std::stoul(value()));
      else if (arg == "--seconds")
        opt.seconds = std::max(1u, static_cast<uint32_t>(std::stoul(value())));
      else if (arg == "--progress-interval")
        opt.progress_interval_ms = static_cast<uint32_t>(std::stoul(value()));
      else if (arg == "--serve")
        opt.serve = value();
      else
        throw std::invalid_argument("unknown option " + arg);
    }
  } catch (const std::exception& e) {
    std::cerr << "weft-bench: " << e.what() << "\n";
    usage();
    return 2;
  }
  if (opt.journal != "none" && opt.journal != "fsync"
      && opt.journal != "nofsync") {
    std::cerr << "weft-bench: --journal takes none, fsync or nofsync\n";
    return 2;
  }
  opt.self_path = std::filesystem::canonical("/proc/self/exe").string();
  if (!opt.serve.empty())
    return serve(opt);
  bool actor_scenario
    = opt.scenario == "actor-fanout" || opt.scenario == "actor-wait";
  bool job_scenario = opt.scenario == "fanout" || opt.scenario == "tree"
                      || opt.scenario == "chain" || actor_scenario;
  // Both act on the connection to a server: embedded runners have none.
  for (auto [flag, given] : {std::pair{"--rtt-ms", opt.rtt_ms > 0},
                             std::pair{"--watchers", opt.watchers > 0}})
    if (given && (!job_scenario || opt.runner_processes == 0)) {
      std::cerr << "weft-bench: " << flag
                << " needs a job scenario (fanout, tree, chain, actor-fanout, "
                   "actor-wait) with "
                   "--runner-processes N\n";
      return 2;
    }
  if (opt.watchers > 0) {
    if (opt.weft_path.empty())
      opt.weft_path
        = (std::filesystem::path{opt.self_path}.parent_path() / "weft")
            .string();
    if (access(opt.weft_path.c_str(), X_OK) != 0) {
      std::cerr << "weft-bench: --watchers: no program " << opt.weft_path
                << " (build the weft target or give --weft PATH)\n";
      return 2;
    }
  }
  if (opt.scenario == "chain" && !tasks_given)
    opt.tasks = 2000;
  if (opt.scenario == "actor-wait" && !tasks_given)
    opt.tasks = 10000;
  if (actor_scenario) {
    if (opt.watchers > 0) {
      std::cerr << "weft-bench: --watchers is for fanout, tree and chain\n";
      return 2;
    }
    return run_actor_scenario(opt);
  }
  if (job_scenario)
    return run_job_scenario(opt);
  if (opt.scenario == "many-jobs")
    return run_many_jobs(opt);
  if (opt.scenario == "soak")
    return run_soak(opt);
  if (opt.scenario == "render")
    return run_render(opt);
  if (opt.scenario == "recovery")
    return run_recovery(opt);
  if (opt.scenario == "caf-baseline")
    return run_caf_baseline(opt);
  if (opt.scenario == "estimate")
    return run_estimate(opt);
  if (opt.scenario == "estimate-cost")
    return run_estimate_cost(opt);
  if (opt.scenario == "http") {
    if (!jobs_given)
      opt.jobs = 10000;
    return run_http(opt);
  }
  std::cerr << "weft-bench: unknown scenario '" << opt.scenario << "'\n";
  usage();
  return 2;
}
