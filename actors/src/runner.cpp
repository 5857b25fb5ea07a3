#include "weft/runner.hpp"

#include "weft/actors/runner_internal.hpp"

#include <atomic>
#include <csignal>
#include <thread>

namespace weft {

namespace {

std::atomic<bool> stop_signal{false};

extern "C" void on_stop_signal(int) {
  stop_signal = true;
}

std::string next_runner_name() {
  static std::atomic<uint32_t> counter{0};
  return "runner-" + std::to_string(++counter);
}

} // namespace

struct runner::impl {
  std::shared_ptr<void> keep_alive;  // declared first: destroyed last
  caf::actor_system& sys;
  job_service_actor service;
  runner_options opts;
  std::shared_ptr<cache_store> cache;
  task_registry registry;
  std::shared_ptr<runner_shared> shared;
  runner_actor actor;
  std::mutex mtx;
  bool started = false;
  bool stopped = false;

  impl(caf::actor_system& s, job_service_actor svc, runner_options o,
       std::shared_ptr<cache_store> c, std::shared_ptr<void> owner)
    : keep_alive(std::move(owner)),
      sys(s),
      service(std::move(svc)),
      opts(std::move(o)),
      cache(std::move(c)) {
    if (opts.name.empty())
      opts.name = next_runner_name();
    if (opts.slots == 0)
      opts.slots = std::max(1u, std::thread::hardware_concurrency());
    if (opts.cluster.empty())
      opts.cluster = "default";
    if (opts.cache)
      cache = opts.cache;
  }

  ~impl() {
    stop();
  }

  void start() {
    std::lock_guard<std::mutex> guard{mtx};
    if (started)
      return;
    if (stopped)
      throw error(errc::invalid_state,
                  "runner " + opts.name + " was stopped and cannot restart");
    caf::scoped_actor self{sys};
    cluster_actor cluster;
    caf::error err;
    self->request(service, std::chrono::seconds{30}, atom::cluster_v,
                  opts.cluster)
      .receive([&](cluster_actor& c) { cluster = std::move(c); },
               [&](caf::error& e) { err = std::move(e); });
    if (err)
      throw to_weft_error(err);
    shared = std::make_shared<runner_shared>(opts.slots);
    shared->name = opts.name;
    shared->registry = std::make_shared<const task_registry>(registry);
    shared->cache = cache;
    shared->limits = opts.limits;
    shared->print_logs = opts.print_logs;
    actor = spawn_runner(sys, std::move(cluster), shared, opts.slots);
    started = true;
  }

  void run_all() {
    start();
    caf::scoped_actor self{sys};
    caf::error err;
    self->request(actor, caf::infinite, atom::idle_v)
      .receive([](bool) {}, [&](caf::error& e) { err = std::move(e); });
    if (err)
      throw to_weft_error(err);
  }

  void stop() {
    std::lock_guard<std::mutex> guard{mtx};
    if (!started || stopped)
      return;
    stopped = true;
    // Leave the cluster, let running attempts finish, then join the threads.
    caf::scoped_actor self{sys};
    self->monitor(actor);
    self->send(actor, atom::stop_v);
    self->receive([](caf::down_msg&) {});
    shared->pool.shutdown();
  }
};

runner::runner(std::shared_ptr<impl> ptr) : impl_(std::move(ptr)) {
}

task_registry& runner::registry() {
  if (impl_->started)
    throw error(errc::invalid_state,
                "runner " + impl_->opts.name
                  + " already started: register its tasks before start()");
  return impl_->registry;
}

void runner::start() {
  impl_->start();
}

void runner::run_all() {
  impl_->run_all();
}

void runner::run_forever() {
  stop_signal = false;
  auto old_term = std::signal(SIGTERM, on_stop_signal);
  auto old_int = std::signal(SIGINT, on_stop_signal);
  try {
    impl_->start();
  } catch (...) {
    std::signal(SIGTERM, old_term);
    std::signal(SIGINT, old_int);
    throw;
  }
  while (!stop_signal) {
    {
      std::lock_guard<std::mutex> guard{impl_->mtx};
      if (impl_->stopped)
        break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  std::signal(SIGTERM, old_term);
  std::signal(SIGINT, old_int);
  impl_->stop();
}

void runner::stop() {
  impl_->stop();
}

const std::string& runner::name() const {
  return impl_->opts.name;
}

const runner_options& runner::options() const {
  return impl_->opts;
}

runner_actor actor_of(const runner& r) {
  return r.internals()->actor;
}

runner make_runner(caf::actor_system& sys, job_service_actor service,
                   runner_options opts, std::shared_ptr<cache_store> cache,
                   std::shared_ptr<void> owner) {
  return runner{std::make_shared<runner::impl>(sys, std::move(service),
                                               std::move(opts),
                                               std::move(cache),
                                               std::move(owner))};
}

} // namespace weft
