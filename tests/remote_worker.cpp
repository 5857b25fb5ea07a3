// A runner process for the multi-process tests: connects to a server and
// serves the tasks below until SIGTERM.
//
//   weft-remote-worker HOST:PORT --cluster C --name N [--slots N]
//       [--leaf-version vX.Y] [--grace-ms N] [--cert F --key F --ca F]
//       [--heartbeat-ms MS --connection-timeout-ms MS] [--executions FILE]
//       [--cache DIR]
//
// --executions FILE: each leaf execution appends "TASK RUNNER ATTEMPT" to
// FILE (TASK: its index in the job) and logs a line, so that a test sees
// every execution, including those whose results never reached the server,
// and the server keeps a record of every successful attempt.
//
// --cache DIR: the job cache is a file-system cache in DIR, which a client
// given the same store reads.
//
// GatedSpread submits GatedLeaf tasks for the lease tests: optionally one
// that fails its first attempt when a trigger file appears, then instant
// ones, then gated ones that record their start and wait for a gate file
// (see GatedLeaf).
//
// ActorFan submits ActorWait actor tasks, which wait on a timer without a
// thread (forever on the runner a test names, to kill it mid-wait).

#include "count_tasks.hpp"

#include <weft/actor_task.hpp>
#include <weft/remote.hpp>

#include <caf/all.hpp>

#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>

namespace {
std::string executions_file; // empty: not recorded

/// Appends `line` to `file` in one write with O_APPEND: lines of several
/// threads and runner processes never mix.
void append_line(const std::string& file, const std::string& line) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    auto n = ::write(fd, line.data(), line.size());
    (void)n;
    ::close(fd);
  }
}

/// The task's index in its job, from "<job id>/<index>".
std::string task_index(const weft::current_task_info& t) {
  return t.id.substr(t.id.rfind('/') + 1);
}
} // namespace

/// Marks each leaf with the runner that computed it (its display name).
struct leaf_body {
  static void run(weft::context& ctx, uint32_t sleep_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds{sleep_ms});
    ctx.set_display(ctx.current_task().runner);
    ctx.progress("leaves").add(1).done(1);
    if (!executions_file.empty())
      record(ctx);
  }

  static void record(weft::context& ctx) {
    const auto& t = ctx.current_task();
    append_line(executions_file, task_index(t) + " " + t.runner + " "
                                   + std::to_string(t.attempt) + "\n");
    ctx.logger().info("executed", {{"attempt", t.attempt}});
  }
};

struct Leaf {
  uint32_t index = 0;
  uint32_t sleep_ms = 0;
  static weft::task_identifier identifier() {
    return {"Leaf", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    leaf_body::run(ctx, sleep_ms);
  }
};
BOOST_DESCRIBE_STRUCT(Leaf, (), (index, sleep_ms))

/// The same task at another major version: never compatible with v1.
struct LeafV2 {
  uint32_t index = 0;
  uint32_t sleep_ms = 0;
  static weft::task_identifier identifier() {
    return {"Leaf", "v2.0"};
  }
  void execute(weft::context& ctx) const {
    leaf_body::run(ctx, sleep_ms);
  }
};
BOOST_DESCRIBE_STRUCT(LeafV2, (), (index, sleep_ms))

/// Submits `leaves` leaves to each of `clusters`.
struct Spread {
  uint32_t leaves = 0;
  uint32_t sleep_ms = 0;
  std::vector<std::string> clusters;
  static weft::task_identifier identifier() {
    return {"Spread", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    for (const auto& c : clusters)
      for (uint32_t i = 0; i < leaves; ++i) {
        weft::subtask_options opts;
        opts.cluster = c;
        ctx.submit_subtask(Leaf{i, sleep_ms}, opts);
      }
  }
};
BOOST_DESCRIBE_STRUCT(Spread, (), (leaves, sleep_ms, clusters))

/// Binary decomposition of [begin, end): 2 * (end - begin) - 1 tasks.
struct Tree {
  uint32_t begin = 0;
  uint32_t end = 0;
  uint32_t sleep_ms = 0;
  static weft::task_identifier identifier() {
    return {"Tree", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    if (end - begin <= 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds{sleep_ms});
      ctx.progress("leaves").add(1).done(1);
      return;
    }
    auto mid = begin + (end - begin) / 2;
    ctx.submit_subtask(Tree{begin, mid, sleep_ms});
    ctx.submit_subtask(Tree{mid, end, sleep_ms});
  }
};
BOOST_DESCRIBE_STRUCT(Tree, (), (begin, end, sleep_ms))

/// Counts `steps` steps of `step_ms` each, reporting them as it goes: a task
/// whose progress a watcher sees move while it runs.
struct Steps {
  uint32_t index = 0;
  uint32_t steps = 0;
  uint32_t step_ms = 0;
  static weft::task_identifier identifier() {
    return {"Steps", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    ctx.set_display("part " + std::to_string(index));
    auto progress = ctx.progress("steps");
    progress.add(steps);
    for (uint32_t i = 0; i < steps; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds{step_ms});
      progress.done(1);
    }
    ctx.logger().info("counted", {{"steps", steps}});
  }
};
BOOST_DESCRIBE_STRUCT(Steps, (), (index, steps, step_ms))

/// Submits `parts` Steps tasks.
struct Parts {
  uint32_t parts = 0;
  uint32_t steps = 0;
  uint32_t step_ms = 0;
  static weft::task_identifier identifier() {
    return {"Parts", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    for (uint32_t i = 0; i < parts; ++i)
      ctx.submit_subtask(Steps{i, steps, step_ms});
  }
};
BOOST_DESCRIBE_STRUCT(Parts, (), (parts, steps, step_ms))

/// Waits until `file` exists, polling every millisecond; bounded, so that
/// a test that never creates it cannot hold a runner's thread for ever.
void await_file(const std::string& file) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes{2};
  while (!std::filesystem::exists(file)) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error(file + " never appeared");
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
}

/// A leaf of the lease tests, by `mode`:
/// - "instant": returns at once, so that its runner measures short attempts
///   and holds a wide lease window;
/// - "gated": appends "START <task index> <runner> <attempt>" to `log_file`
///   when a slot starts it, then waits until `gate_file` exists, so that the
///   slots stay taken while the runner holds leases beyond them;
/// - "fails_once": unless `marker_file` exists, waits until `trigger_file`
///   exists, creates the marker and throws: its first attempt fails when
///   the test says, the next one succeeds at once.
/// Each logs a line, so that the server keeps every attempt's record.
struct GatedLeaf {
  std::string mode;
  std::string gate_file;
  std::string log_file;
  std::string marker_file;
  std::string trigger_file;
  static weft::task_identifier identifier() {
    return {"GatedLeaf", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    if (mode == "fails_once") {
      if (!std::filesystem::exists(marker_file)) {
        await_file(trigger_file);
        append_line(marker_file, "failed once\n");
        throw std::runtime_error("the first attempt fails");
      }
    } else if (mode == "gated") {
      const auto& t = ctx.current_task();
      append_line(log_file, "START " + task_index(t) + " " + t.runner + " "
                              + std::to_string(t.attempt) + "\n");
      await_file(gate_file);
    }
    ctx.logger().info("executed");
  }
};
BOOST_DESCRIBE_STRUCT(GatedLeaf, (),
                      (mode, gate_file, log_file, marker_file, trigger_file))

/// Submits, all to `cluster` (empty: its own), one leaf that fails once if
/// `fails_once`, then `instant` instant leaves, then `gated` gated ones: a
/// cluster dispatches them in that order (what a runner hands back goes
/// behind the rest).
struct GatedSpread {
  uint32_t instant = 0;
  uint32_t gated = 0;
  bool fails_once = false;
  std::string gate_file;
  std::string log_file;
  std::string marker_file;
  std::string trigger_file;
  std::string cluster;
  static weft::task_identifier identifier() {
    return {"GatedSpread", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    weft::subtask_options opts;
    opts.cluster = cluster;
    auto leaf = [&](const char* mode) {
      ctx.submit_subtask(GatedLeaf{mode, gate_file, log_file, marker_file,
                                   trigger_file},
                         opts);
    };
    if (fails_once)
      leaf("fails_once");
    for (uint32_t i = 0; i < instant; ++i)
      leaf("instant");
    for (uint32_t i = 0; i < gated; ++i)
      leaf("gated");
  }
};
BOOST_DESCRIBE_STRUCT(GatedSpread, (),
                      (instant, gated, fails_once, gate_file, log_file,
                       marker_file, trigger_file, cluster))

using wake_atom = caf::atom_constant<caf::atom("rwWake")>;

/// An actor task that waits `wait_ms` on a timer, then marks itself with
/// its runner; on the runner named `hold_on` it waits until that runner is
/// killed.
struct ActorWait {
  uint32_t index = 0;
  uint32_t wait_ms = 0;
  std::string hold_on;
  static weft::task_identifier identifier() {
    return {"ActorWait", "v1.0"};
  }
  caf::behavior execute(weft::actor_context& ctx) const {
    ctx.progress("waits").add(1);
    if (ctx.current_task().runner != hold_on)
      ctx.self()->delayed_send(ctx.self(), std::chrono::milliseconds{wait_ms},
                               wake_atom::value);
    return {
      [&ctx](wake_atom) {
        ctx.set_display(ctx.current_task().runner);
        ctx.progress("waits").done(1);
        ctx.done();
      },
    };
  }
};
BOOST_DESCRIBE_STRUCT(ActorWait, (), (index, wait_ms, hold_on))

/// Submits `tasks` ActorWait tasks.
struct ActorFan {
  uint32_t tasks = 0;
  uint32_t wait_ms = 0;
  std::string hold_on;
  static weft::task_identifier identifier() {
    return {"ActorFan", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    for (uint32_t i = 0; i < tasks; ++i)
      ctx.submit_subtask(ActorWait{i, wait_ms, hold_on});
  }
};
BOOST_DESCRIBE_STRUCT(ActorFan, (), (tasks, wait_ms, hold_on))

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: weft-remote-worker HOST:PORT [options]\n";
    return 2;
  }
  weft::remote::connect_options copts;
  weft::runner_options ropts;
  ropts.slots = 2;
  std::string leaf_version = "v1.0";
  std::string cache_dir;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--cluster")
      ropts.cluster = value;
    else if (flag == "--name")
      ropts.name = value;
    else if (flag == "--slots")
      ropts.slots = static_cast<uint32_t>(std::stoul(value));
    else if (flag == "--leaf-version")
      leaf_version = value;
    else if (flag == "--grace-ms")
      ropts.grace_period = std::chrono::milliseconds{std::stoul(value)};
    else if (flag == "--heartbeat-ms")
      copts.heartbeat = std::chrono::milliseconds{std::stoul(value)};
    else if (flag == "--connection-timeout-ms")
      copts.connection_timeout = std::chrono::milliseconds{std::stoul(value)};
    else if (flag == "--executions")
      executions_file = value;
    else if (flag == "--cache")
      cache_dir = value;
    else if (flag == "--cert")
      copts.tls.certificate = value;
    else if (flag == "--key")
      copts.tls.key = value;
    else if (flag == "--ca")
      copts.tls.ca = value;
    else {
      std::cerr << "weft-remote-worker: unknown option " << flag << "\n";
      return 2;
    }
  }
  try {
    if (!cache_dir.empty())
      copts.cache = weft::make_file_system_cache(cache_dir);
    copts.scheduler_threads = 2;
    auto conn = weft::remote::connect(argv[1], copts);
    auto runner = conn.make_runner(ropts);
    if (leaf_version == "v2.0")
      runner.register_tasks<LeafV2>();
    else
      runner.register_tasks<Leaf, Spread, Tree, Parts, Steps, GatedSpread,
                            GatedLeaf, weft::test::Count, weft::test::Counts,
                            ActorWait, ActorFan>();
    runner.start();
    std::cout << "ready " << runner.name() << std::endl;
    runner.run_forever();
    std::cout << "stopped " << runner.name() << std::endl;
    return 0;
  } catch (const weft::error& e) {
    std::cerr << "weft-remote-worker: " << e.what() << std::endl;
    return 1;
  }
}
