#pragma once

// Tasks whose results a second job is built from, shared by the tests of
// actor programs and the runner processes they start (remote_worker.cpp):
// the same identifiers and inputs in one process and across processes.

#include <weft/context.hpp>
#include <weft/task.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace weft::test {

/// Counts to `n`, one step of `step_ms` at a time, reporting each step, and
/// leaves `n` in the job cache under "counted/<index>".
struct Count {
  uint32_t index = 0;
  uint32_t n = 0;
  uint32_t step_ms = 0;
  static weft::task_identifier identifier() {
    return {"Count", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    auto progress = ctx.progress("count");
    progress.add(n);
    for (uint32_t i = 0; i < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds{step_ms});
      progress.done(1);
    }
    ctx.job_cache().group("counted")[std::to_string(index)] = std::to_string(n);
  }
};
BOOST_DESCRIBE_STRUCT(Count, (), (index, n, step_ms))

/// One Count per entry of `ns`.
struct Counts {
  std::vector<uint32_t> ns;
  uint32_t step_ms = 0;
  static weft::task_identifier identifier() {
    return {"Counts", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    for (uint32_t i = 0; i < ns.size(); ++i)
      ctx.submit_subtask(Count{i, ns[i], step_ms});
  }
};
BOOST_DESCRIBE_STRUCT(Counts, (), (ns, step_ms))

} // namespace weft::test
