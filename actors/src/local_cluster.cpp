#include "weft/local_cluster.hpp"

#include "weft/actors/client_internal.hpp"
#include "weft/actors/directory.hpp"
#include "weft/actors/runner_internal.hpp"


namespace weft {

/// An actor system weft created, with the configuration it must not outlive.
struct owned_system {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  ~owned_system() {
    sys.reset();  // waits for every actor to finish, then the config goes
  }
};

struct local_cluster::impl {
  // Shared with the runners and clients handed out, so none of them is left
  // with a dangling system; empty when the caller owns the system.
  std::shared_ptr<owned_system> own;
  caf::actor_system* sys = nullptr;
  std::shared_ptr<cluster_directory> dir;
  journal_actor journal;
  job_service_actor service;
  std::shared_ptr<cache_store> cache;
  local_cluster_options opts;

  void boot() {
    std::vector<recovered_job> recovered;
    if (!opts.data_dir.empty()) {
      // Refuses (throws) before anything runs if the directory is unusable.
      auto store = journal_store::open({opts.data_dir, opts.fsync});
      recovered = recover_jobs(*store);
      journal = spawn_journal(*sys, std::move(store));
    }
    dir = std::make_shared<cluster_directory>(*sys);
    orchestrator_config ocfg;
    ocfg.max_input_bytes = opts.max_input_bytes;
    service = spawn_job_service(*sys, dir, ocfg, journal, std::move(recovered));
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
    if (journal) {
      // Wait for it: the store's lock is released when it is gone.
      self->monitor(journal);
      self->send_exit(journal, caf::exit_reason::user_shutdown);
      self->receive([](caf::down_msg&) {});
      // Its thread ends only once no handle to it is left.
      journal = journal_actor{};
    }
  }
};

local_cluster::local_cluster(local_cluster_options opts)
  : impl_(std::make_unique<impl>()) {
  auto own = std::make_shared<owned_system>();
  add_weft_types(own->cfg);
  if (opts.scheduler_threads > 0)
    own->cfg.set("scheduler.max-threads", opts.scheduler_threads);
  own->sys = std::make_unique<caf::actor_system>(own->cfg);
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
  impl_->own.reset();  // the last owner waits for every actor to finish
}

runner& local_cluster::add_runner(runner_options opts) {
  runners_.push_back(
    make_runner(*impl_->sys, impl_->service, std::move(opts), impl_->cache,
                impl_->own));
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
    std::make_shared<job_client::impl>(*impl_->sys, impl_->service,
                                       impl_->own)};
  client.set_max_input_bytes(impl_->opts.max_input_bytes);
  return client;
}

} // namespace weft
