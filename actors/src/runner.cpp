#include "weft/runner.hpp"

#include "weft/actors/runner_actor.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <csignal>
#include <iostream>
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
  std::shared_ptr<void> keep_alive; // declared first: destroyed last
  caf::actor_system& sys;
  job_service_actor service;
  gateway_connector connect; // set for a runner on a remote orchestrator
  runner_options opts;
  std::shared_ptr<cache_store> cache;
  task_registry registry;
  std::shared_ptr<runner_shared> shared;
  runner_actor actor;
  std::mutex mtx;
  std::condition_variable stopping_cv;
  std::thread supervisor;
  bool started = false;
  bool stopped = false;

  impl(caf::actor_system& s, job_service_actor svc, runner_options o,
       std::shared_ptr<cache_store> c, std::shared_ptr<void> owner)
      : keep_alive(std::move(owner)), sys(s), service(std::move(svc)),
        opts(std::move(o)), cache(std::move(c)) {
    if (opts.name.empty())
      opts.name = next_runner_name();
    if (opts.slots == 0)
      opts.slots = std::max(1u, std::thread::hardware_concurrency());
    if (opts.cluster.empty())
      opts.cluster = "default";
    if (opts.cache)
      cache = opts.cache;
    if (!cache)
      cache = make_in_memory_cache();
  }

  ~impl() {
    stop();
  }

  /// Joins the cluster through `svc` with a new runner actor.
  runner_actor join(const job_service_actor& svc) {
    caf::scoped_actor self{sys};
    cluster_actor cluster;
    caf::error err;
    self->request(svc, std::chrono::seconds{30}, atom::cluster_v, opts.cluster)
      .receive([&](cluster_actor& c) { cluster = std::move(c); },
               [&](caf::error& e) { err = std::move(e); });
    if (err)
      throw to_weft_error(err);
    return spawn_runner(sys, std::move(cluster), svc, shared, opts.slots,
                        opts.max_leases);
  }

  void start() {
    std::lock_guard<std::mutex> guard{mtx};
    if (started)
      return;
    if (stopped)
      throw error(errc::invalid_state,
                  "runner " + opts.name + " was stopped and cannot restart");
    shared = std::make_shared<runner_shared>(opts.slots);
    shared->name = opts.name;
    shared->registry = std::make_shared<const task_registry>(registry);
    shared->cache = cache;
    shared->limits = opts.limits;
    shared->print_logs = opts.print_logs;
    shared->progress_interval = opts.progress_interval;
    shared->actor_slots = std::max(1u, opts.actor_slots);
    if (connect)
      service = connect(opts.connect_patience);
    actor = join(service);
    started = true;
    if (connect)
      supervisor = std::thread{[this] { supervise(); }};
  }

  /// Remote runners: whenever the runner actor ends without a stop (the
  /// orchestrator went away), connect again with backoff and rejoin.
  void supervise() {
    for (;;) {
      runner_actor current;
      {
        std::lock_guard<std::mutex> guard{mtx};
        if (stopped)
          return;
        current = actor;
      }
      std::string reason;
      {
        caf::scoped_actor self{sys};
        self->monitor(current);
        self->receive(
          [&](caf::down_msg& msg) { reason = sys.render(msg.reason); });
      }
      auto backoff = std::chrono::milliseconds{100};
      bool told = false;
      for (;;) {
        {
          std::unique_lock<std::mutex> guard{mtx};
          if (stopped)
            return;
        }
        try {
          auto svc = connect(std::chrono::milliseconds{500});
          auto next = join(svc);
          std::unique_lock<std::mutex> guard{mtx};
          service = std::move(svc);
          actor = std::move(next);
          if (stopped) {
            caf::anon_send(actor, atom::stop_v);
            return;
          }
          std::cerr << "weft runner " << opts.name
                    << ": reconnected to the orchestrator\n";
          break;
        } catch (const error& e) {
          if (!told)
            std::cerr << "weft runner " << opts.name
                      << ": lost the orchestrator (" << reason
                      << "); reconnecting: " << e.what() << "\n";
          told = true;
        }
        std::unique_lock<std::mutex> guard{mtx};
        stopping_cv.wait_for(guard, backoff, [this] { return stopped; });
        backoff = std::min(backoff * 2, std::chrono::milliseconds{2000});
      }
    }
  }

  void run_all() {
    start();
    caf::scoped_actor self{sys};
    caf::error err;
    runner_actor current;
    {
      std::lock_guard<std::mutex> guard{mtx};
      current = actor;
    }
    self->request(current, caf::infinite, atom::idle_v)
      .receive([](bool) {}, [&](caf::error& e) { err = std::move(e); });
    if (err)
      throw to_weft_error(err);
  }

  void stop() {
    runner_actor current;
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (!started || stopped)
        return;
      stopped = true;
      current = actor;
    }
    stopping_cv.notify_all();
    // Leave the cluster and let running attempts finish, for at most the
    // grace period; then hand back what still runs (its job requeues it
    // without spending a retry) and leave its threads behind.
    caf::scoped_actor self{sys};
    self->monitor(current);
    self->send(current, atom::stop_v);
    bool finished = false;
    self->receive([&](caf::down_msg&) { finished = true; },
                  caf::after(opts.grace_period) >> [] {});
    if (!finished) {
      std::cerr << "weft runner " << opts.name
                << ": grace period over, handing back running tasks\n";
      self->send_exit(current, caf::exit_reason::kill);
      self->receive([](caf::down_msg&) {});
    }
    if (supervisor.joinable())
      supervisor.join();
    // A reconnect may have replaced the actor meanwhile.
    runner_actor last;
    {
      std::lock_guard<std::mutex> guard{mtx};
      last = actor;
    }
    if (last && last != current) {
      self->monitor(last);
      self->send_exit(last, caf::exit_reason::kill);
      self->receive([](caf::down_msg&) {});
    }
    // Task actors still running (past the grace period, or of an earlier
    // connection) would keep the actor system from shutting down; their
    // jobs requeue them as they would a thread's attempt.
    std::vector<caf::actor> left;
    {
      std::lock_guard<std::mutex> guard{shared->actors_mtx};
      for (auto& [id, hdl] : shared->task_actors)
        left.push_back(hdl);
    }
    for (auto& hdl : left)
      self->send_exit(hdl, caf::exit_reason::kill);
    if (finished)
      shared->pool.shutdown();
    else
      shared->pool.abandon();
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

/// What weft's own code reaches of a runner.
struct runner_access {
  static runner::impl& of(const runner& r) {
    return *r.impl_;
  }
};

runner_actor actor_of(const runner& r) {
  auto& st = runner_access::of(r);
  std::lock_guard<std::mutex> guard{st.mtx};
  return st.actor;
}

runner make_remote_runner(caf::actor_system& sys, gateway_connector connect,
                          runner_options opts,
                          std::shared_ptr<cache_store> cache,
                          std::shared_ptr<void> owner) {
  auto ptr
    = std::make_shared<runner::impl>(sys, job_service_actor{}, std::move(opts),
                                     std::move(cache), std::move(owner));
  ptr->connect = std::move(connect);
  return runner{std::move(ptr)};
}

runner make_runner(caf::actor_system& sys, job_service_actor service,
                   runner_options opts, std::shared_ptr<cache_store> cache,
                   std::shared_ptr<void> owner) {
  return runner{
    std::make_shared<runner::impl>(sys, std::move(service), std::move(opts),
                                   std::move(cache), std::move(owner))};
}

} // namespace weft
