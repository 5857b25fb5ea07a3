#include "weft/actors/node.hpp"

#include <caf/all.hpp>

#include <caf/io/all.hpp>

#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>

#include <algorithm>
#include <mutex>
#include <thread>
#include <unordered_set>

namespace weft {

namespace {

/// CAF's clock, except that an actor's exit reaches the clock thread only
/// if the actor ever set a timeout. CAF tells the clock of every exit; each
/// of those woke the clock thread, and with thousands of short task actors
/// a second those wake-ups (and workers waiting on the clock's 64-slot
/// queue) took a quarter of the CPU (docs/performance.md, "Actor tasks").
class timeout_clock : public caf::detail::thread_safe_actor_clock {
public:
  using super = caf::detail::thread_safe_actor_clock;

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self,
                            caf::atom_value type, uint64_t id) override {
    note(self);
    super::set_ordinary_timeout(t, self, type, id);
  }

  void set_request_timeout(time_point t, caf::abstract_actor* self,
                           caf::message_id id) override {
    note(self);
    super::set_request_timeout(t, self, id);
  }

  void set_multi_timeout(time_point t, caf::abstract_actor* self,
                         caf::atom_value type, uint64_t id) override {
    note(self);
    super::set_multi_timeout(t, self, type, id);
  }

  void cancel_timeouts(caf::abstract_actor* self) override {
    bool had;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      had = with_timeouts_.erase(self->id()) > 0;
    }
    if (had)
      super::cancel_timeouts(self);
  }

private:
  void note(caf::abstract_actor* self) {
    std::lock_guard<std::mutex> guard{mtx_};
    with_timeouts_.insert(self->id());
  }

  std::mutex mtx_;
  std::unordered_set<caf::actor_id> with_timeouts_; // live actors only
};

/// CAF's work-stealing scheduler with `timeout_clock` as the system clock
/// (the base class's own clock thread stays idle).
class coordinator
    : public caf::scheduler::coordinator<caf::policy::work_stealing> {
public:
  using super = caf::scheduler::coordinator<caf::policy::work_stealing>;

  using super::super;

  timeout_clock& clock() noexcept override {
    return clock_;
  }

protected:
  void start() override {
    clock_thread_ = std::thread{[this] {
      caf::detail::set_thread_name("weft.clock");
      system().thread_started();
      clock_.run_dispatch_loop();
      system().thread_terminates();
    }};
    super::start();
  }

  void stop() override {
    super::stop();
    clock_.cancel_dispatch_loop();
    clock_thread_.join();
  }

private:
  timeout_clock clock_;
  std::thread clock_thread_;
};

} // namespace

std::shared_ptr<owned_system> make_system(size_t scheduler_threads,
                                          const network_options* net) {
  auto own = std::make_shared<owned_system>();
  auto& cfg = own->cfg;
  add_weft_types(cfg);
  if (scheduler_threads > 0)
    cfg.set("scheduler.max-threads", scheduler_threads);
  // An idle worker spins briefly, then sleeps on its condition variable
  // (woken by the next job), skipping CAF's middle phase of 500 polls 50 us
  // apart: on two cores those sleeps and wake-ups took the CPU the actors
  // needed (embedded fanout 167k -> 218k tasks/s, a chain hop over
  // loopback 960 -> 565 us; docs/performance.md).
  cfg.set("work-stealing.moderate-poll-attempts", size_t{0});
  cfg.module_factories.push_back(
    [](caf::actor_system& sys) -> caf::actor_system::module* {
      return new coordinator(sys);
    });
  if (net != nullptr) {
    own->networked = true;
    cfg.load<caf::io::middleman>();
    cfg.set("middleman.app-identifiers",
            std::vector<std::string>{protocol_version});
    cfg.set("middleman.heartbeat-interval", caf::timespan{net->heartbeat});
    cfg.set("middleman.connection-timeout",
            caf::timespan{net->connection_timeout});
  }
  own->sys = std::make_unique<caf::actor_system>(cfg);
  if (net != nullptr) {
    // Certificates are checked here, before anything listens or connects.
    own->relay = std::make_unique<wire>(*own->sys, *net);
    own->tls = own->relay->tls();
  }
  return own;
}

void orchestrator::boot(caf::actor_system& s,
                        const std::filesystem::path& data_dir, bool fsync,
                        orchestrator_config cfg) {
  sys = &s;
  stats = std::make_shared<core::task_statistics>();
  std::vector<recovered_job> recovered;
  std::vector<std::string> clusters;
  if (!data_dir.empty()) {
    // Refuses (throws) before anything runs if the directory is unusable.
    auto store = journal_store::open({data_dir, fsync});
    recovery_note = store->recovery_note();
    recovered = recover_jobs(*store);
    store->migrate(recovered);
    clusters = store->clusters();
    recover_statistics(*store, *stats);
    cfg.store = store; // the job service reads snapshots and the index
    journal = spawn_journal(s, std::move(store), metrics);
  }
  cfg.metrics = metrics;
  dir = std::make_shared<cluster_directory>(s, metrics);
  dir->get("default");
  for (const auto& name : clusters)
    dir->get(name);
  service
    = spawn_job_service(s, dir, cfg, journal, std::move(recovered), stats);
}

void orchestrator::shutdown() {
  if (sys == nullptr || !service)
    return;
  caf::scoped_actor self{*sys};
  self->monitor(service);
  self->send_exit(service, caf::exit_reason::user_shutdown);
  self->receive([](caf::down_msg&) {});
  service = job_service_actor{};
  dir->shutdown();
  if (journal) {
    // What was learned since the service's last write goes first.
    auto records = statistics_records(*stats);
    if (!records.empty())
      self
        ->request(journal, std::chrono::seconds{10}, atom::append_v,
                  std::move(records))
        .receive([](uint64_t) {}, [](caf::error&) {});
    // Wait for it: the store's lock is released when it is gone.
    self->monitor(journal);
    self->send_exit(journal, caf::exit_reason::user_shutdown);
    self->receive([](caf::down_msg&) {});
    // Its thread ends only once no handle to it is left.
    journal = journal_actor{};
  }
}

job_service_actor connect_gateway(owned_system& node,
                                  const network_address& addr,
                                  std::chrono::milliseconds patience) {
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + patience;
  auto backoff = std::chrono::milliseconds{100};
  // Brackets keep an IPv6 address readable as HOST:PORT.
  auto where = (addr.host.find(':') != std::string::npos ? "[" + addr.host + "]"
                                                         : addr.host)
               + ":" + std::to_string(addr.port);
  std::string last;
  for (;;) {
    auto now = clock::now();
    auto attempt = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::max(deadline - now, clock::duration{std::chrono::seconds{1}}));
    attempt = std::min(attempt, std::chrono::milliseconds{10000});
    auto conn
      = node.relay->connect(addr.host, addr.port,
                            node.sys->message_types<job_service_actor>(),
                            attempt);
    if (conn.handle) {
      auto hdl = caf::actor_cast<job_service_actor>(std::move(conn.handle));
      caf::scoped_actor self{*node.sys};
      caf::error err;
      // Asked again every 2 s while patience lasts, so that one hello that
      // goes unanswered does not use all of it: a runner's first hello once
      // went 10 s without an answer while the server served others (once
      // in about 600 runs of examples/remote_demo.sh, four at a time).
      auto asked = clock::now();
      for (;;) {
        err = caf::error{};
        auto wait
          = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(
                         deadline - clock::now()),
                       std::chrono::milliseconds{100},
                       std::chrono::milliseconds{2000});
        self->request(hdl, wait, atom::hello_v, std::string{protocol_version})
          .receive([](std::string&) {}, [&](caf::error& e) { err = e; });
        if (err != caf::sec::request_timeout || clock::now() >= deadline)
          break;
      }
      if (!err)
        return hdl;
      if (err.category() == caf::atom("weft"))
        throw to_weft_error(err);
      last = err == caf::sec::request_timeout
               ? "it did not answer within "
                   + std::to_string(
                     std::chrono::duration_cast<std::chrono::milliseconds>(
                       clock::now() - asked)
                       .count())
                   + " ms"
               : "the connection closed after the handshake";
    } else {
      const auto& err = conn.error;
      if (err == caf::sec::incompatible_application_ids
          || err == caf::sec::incompatible_versions)
        throw error(errc::refused,
                    "the orchestrator at " + where
                      + " speaks another protocol than this node ("
                      + protocol_version
                      + "): run the same weft release on both");
      if (err == caf::sec::unexpected_actor_messaging_interface)
        throw error(errc::refused,
                    "the service at " + where
                      + " is not a weft orchestrator of this release");
      last = conn.failure;
    }
    if (clock::now() + backoff > deadline)
      throw error(errc::unreachable,
                  "cannot reach the server at " + where + ": " + last
                    + (conn.reached ? std::string{}
                                    : std::string{" (is `weft server` running "
                                                  "there?)"}));
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds{2000});
  }
}

} // namespace weft
