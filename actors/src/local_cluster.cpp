#include "weft/local_cluster.hpp"

#include "weft/actors/client_internal.hpp"
#include "weft/actors/node.hpp"
#include "weft/actors/runner_actor.hpp"

#include <caf/all.hpp>

namespace weft {

struct local_cluster::impl {
  // Shared with the runners and clients handed out, so none of them is left
  // with a dangling system; empty when the caller owns the system.
  std::shared_ptr<owned_system> own;
  caf::actor_system* sys = nullptr;
  orchestrator orch;
  std::shared_ptr<cache_store> cache;
  local_cluster_options opts;

  void boot() {
    cache = opts.cache ? opts.cache : make_in_memory_cache();
    orchestrator_config ocfg;
    ocfg.options = opts.orchestrator;
    ocfg.cache = cache; // retention deletes a job's entries with the job
    orch.boot(*sys, opts.orchestrator.data_dir, opts.orchestrator.fsync, ocfg);
  }

  void shutdown() {
    orch.shutdown();
  }
};

local_cluster::local_cluster(local_cluster_options opts)
    : impl_(std::make_unique<impl>()) {
  auto own = make_system(opts.scheduler_threads, nullptr);
  impl_->sys = own->sys.get();
  impl_->own = std::move(own);
  impl_->opts = std::move(opts);
  impl_->boot();
  for (const auto& r : impl_->opts.runners)
    add_runner(r);
}

local_cluster::local_cluster(caf::actor_system& sys, local_cluster_options opts)
    : impl_(std::make_unique<impl>()) {
  impl_->sys = &sys;
  impl_->opts = std::move(opts);
  impl_->boot();
  for (const auto& r : impl_->opts.runners)
    add_runner(r);
}

local_cluster::~local_cluster() {
  for (auto& r : runners_)
    r.stop();
  runners_.clear();
  impl_->shutdown();
  impl_->own.reset(); // the last owner waits for every actor to finish
}

runner& local_cluster::add_runner(runner_options opts) {
  runners_.push_back(make_runner(*impl_->sys, impl_->orch.service,
                                 std::move(opts), impl_->cache, impl_->own));
  return runners_.back();
}

runner& local_cluster::runner(size_t index) {
  if (index >= runners_.size())
    throw error(errc::invalid_argument,
                "local cluster has " + std::to_string(runners_.size())
                  + " runners, no runner " + std::to_string(index));
  return runners_[index];
}

void local_cluster::start() {
  for (auto& r : runners_)
    r.start();
}

void local_cluster::run_all() {
  start();
  for (auto& r : runners_)
    r.run_all();
}

job_client local_cluster::jobs() {
  auto client = job_client_access::make(
    std::make_shared<job_client::impl>(*impl_->sys, impl_->orch.service,
                                       impl_->own));
  client.set_max_input_bytes(impl_->opts.orchestrator.max_input_bytes);
  // The cache of the runners that bring none: a runner given its own
  // (runner_options::cache) keeps what this client cannot see.
  client.set_cache(impl_->cache);
  return client;
}

workflow_endpoint local_cluster::workflows() const {
  return workflow_endpoint{*impl_->sys, impl_->orch.service, impl_->cache};
}

} // namespace weft
