#pragma once

#include "weft/actors/fwd.hpp"
#include "weft/registry.hpp"
#include "weft/runner.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace weft {

/// The threads a runner executes attempts on: one per slot.
class worker_pool {
public:
  explicit worker_pool(uint32_t threads);
  ~worker_pool();
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  void post(std::function<void()> job);
  /// Finishes the jobs being executed, drops the rest, joins the threads.
  void shutdown();

private:
  void loop();
  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

/// What a runner's actors and worker threads share.
struct runner_shared {
  std::string name;
  std::shared_ptr<const task_registry> registry;
  std::shared_ptr<cache_store> cache;
  context_limits limits;
  bool print_logs = false;
  worker_pool pool;

  runner_shared(uint32_t slots) : pool(slots) {
  }
};

/// Spawns a runner actor serving `cluster`.
runner_actor spawn_runner(caf::actor_system& sys, cluster_actor cluster,
                          std::shared_ptr<runner_shared> shared,
                          uint32_t slots);

/// The actor behind a started runner (tests use it to kill a runner).
runner_actor actor_of(const runner& r);

/// Builds a runner handle on an actor system and a job service; `owner`
/// keeps an actor system weft created alive as long as the runner exists.
runner make_runner(caf::actor_system& sys, job_service_actor service,
                   runner_options opts, std::shared_ptr<cache_store> cache,
                   std::shared_ptr<void> owner = nullptr);

} // namespace weft
