#include "weft/local_cluster.hpp"

#include "weft/actors/client_internal.hpp"
#include "weft/actors/directory.hpp"
#include "weft/actors/runner_internal.hpp"


namespace weft {

struct local_cluster::impl {
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> own_sys;
  caf::actor_system* sys = nullptr;
  std::shared_ptr<cluster_directory> dir;
  job_service_actor service;
  std::shared_ptr<cache_store> cache;
  local_cluster_options opts;

  void boot() {
    dir = std::make_shared<cluster_directory>(*sys);
    orchestrator_config ocfg;
    ocfg.max_input_bytes = opts.max_input_bytes;
    service = spawn_job_service(*sys, dir, ocfg);
    cache = opts.cache ? opts.cache : make_in_memory_cache();
  }

  void shutdown() {
    if (sys == nullptr)
      return;
    caf::scoped_actor self{*sys};
    self->monitor(service);
    self->send_exit(service, caf::exit_reason::user_shutdown);
    self->receive([](caf::down_msg&) {});
    dir->shutdown();
  }
};

local_cluster::local_cluster(local_cluster_options opts)
  : impl_(std::make_unique<impl>()) {
  impl_->cfg = std::make_unique<caf::actor_system_config>();
  add_weft_types(*impl_->cfg);
  if (opts.scheduler_threads > 0)
    impl_->cfg->set("scheduler.max-threads", opts.scheduler_threads);
  // Keep the process quiet and self-contained: no config file, no CLI.
  impl_->own_sys = std::make_unique<caf::actor_system>(*impl_->cfg);
  impl_->sys = impl_->own_sys.get();
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
  impl_->own_sys.reset();  // waits for every actor to finish
  impl_->cfg.reset();      // the config must outlive its system
}

runner& local_cluster::add_runner(runner_options opts) {
  runners_.push_back(
    make_runner(*impl_->sys, impl_->service, std::move(opts), impl_->cache));
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
  job_client client{
    std::make_shared<job_client::impl>(*impl_->sys, impl_->service)};
  client.set_max_input_bytes(impl_->opts.max_input_bytes);
  return client;
}

} // namespace weft
