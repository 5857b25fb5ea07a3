// A runner process for the multi-process tests: connects to a server and
// serves the tasks below until SIGTERM.
//
//   weft-remote-worker HOST:PORT --cluster C --name N [--slots N]
//       [--leaf-version vX.Y] [--grace-ms N] [--cert F --key F --ca F]
//       [--heartbeat-ms MS --connection-timeout-ms MS] [--executions FILE]
//
// --executions FILE: each leaf execution appends "TASK RUNNER ATTEMPT" to
// FILE (TASK: its index in the job) and logs a line, so that a test sees
// every execution, including those whose results never reached the server,
// and the server keeps a record of every successful attempt.

#include <weft/actor_task.hpp>
#include <weft/remote.hpp>

#include <caf/all.hpp>

#include <chrono>
#include <fcntl.h>
#include <iostream>
#include <string>
#include <thread>
#include <unistd.h>

namespace {
std::string executions_file; // empty: not recorded
}

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
    auto line = t.id.substr(t.id.rfind('/') + 1) + " " + t.runner + " "
                + std::to_string(t.attempt) + "\n";
    // One write with O_APPEND: lines of both runner processes never mix.
    int fd
      = ::open(executions_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      auto n = ::write(fd, line.data(), line.size());
      (void)n;
      ::close(fd);
    }
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
    copts.scheduler_threads = 2;
    auto conn = weft::remote::connect(argv[1], copts);
    auto runner = conn.make_runner(ropts);
    if (leaf_version == "v2.0")
      runner.register_tasks<LeafV2>();
    else
      runner.register_tasks<Leaf, Spread, Tree, Parts, Steps, ActorWait,
                            ActorFan>();
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
