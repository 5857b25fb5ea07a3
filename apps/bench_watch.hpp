#pragma once

// `weft watch` processes on one job, as weft-bench starts them beside a
// job to see what watching costs the server: each one's standard output
// is a pipe read on one thread here, which counts the lines (one per
// update when the output is not a terminal).

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace weft::bench {

class watch_processes {
public:
  struct outcome {
    uint64_t lines = 0;  ///< printed by all of them
    uint32_t exited = 0; ///< ended by themselves within the limit
    uint32_t ok = 0;     ///< of those, with status 0 (the job COMPLETED)
    uint32_t killed = 0; ///< still running at the limit
  };

  /// Starts `n` times `program watch JOB_ID --server SERVER`, standard
  /// error to /dev/null, without waiting for them to connect. Throws
  /// std::runtime_error when one cannot start (those started are killed).
  watch_processes(const std::string& program, const std::string& job_id,
                  const std::string& server, uint32_t n);
  /// Kills what still runs.
  ~watch_processes();
  watch_processes(const watch_processes&) = delete;
  watch_processes& operator=(const watch_processes&) = delete;

  /// Waits up to `limit` for every process to exit, kills the rest, and
  /// reads what they printed to its end. Once; later calls return the same.
  outcome finish(std::chrono::milliseconds limit);

private:
  void read_all();

  std::vector<pid_t> pids_;
  std::vector<int> outs_; ///< read ends, closed by the reading thread
  std::atomic<uint64_t> lines_{0};
  std::thread reader_;
  bool finished_ = false;
  outcome outcome_;
};

} // namespace weft::bench
