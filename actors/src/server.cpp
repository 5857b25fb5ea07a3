#include "weft/server.hpp"

#include "weft/actors/client_internal.hpp"
#include "weft/actors/http_server.hpp"
#include "weft/actors/metrics.hpp"
#include "weft/actors/node.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <thread>

namespace weft {

namespace {

std::atomic<bool> stop_requested{false};

extern "C" void on_server_signal(int) {
  stop_requested = true;
}

} // namespace

struct server::impl {
  server_options opts;
  std::shared_ptr<owned_system> node;
  orchestrator orch;
  std::unique_ptr<http_listener> http;
  uint16_t port = 0;
  std::mutex mtx;
  std::condition_variable cv;
  bool stopped = false;
};

server::server(server_options opts) : impl_(std::make_unique<impl>()) {
  auto& st = *impl_;
  st.opts = std::move(opts);
  const auto& host = st.opts.listen.host;
  bool tls = st.opts.network.tls.enabled();
  if (!tls && !is_loopback(host))
    throw error(errc::invalid_argument,
                "refusing to listen on " + host
                  + " without TLS: plain TCP is for loopback only; give "
                    "--cert, --key and --ca (see `weft certs`) or listen on "
                    "127.0.0.1");
  constexpr size_t smallest_message = 40u << 20;
  if (st.opts.network.limits.max_message_bytes < smallest_message)
    throw error(errc::invalid_argument,
                "max_message_bytes must be at least 40 MiB: one attempt's "
                "results may take 32 MiB in one message");
  st.node = make_system(st.opts.network.scheduler_threads, &st.opts.network);
  orchestrator_config cfg;
  cfg.options = st.opts.orchestrator;
  cfg.create_clusters_on_use = false;
  st.orch.boot(*st.node->sys, st.opts.orchestrator.data_dir,
               st.opts.orchestrator.fsync, cfg);
  try {
    st.port = st.node->relay->listen(
      host, st.opts.listen.port,
      caf::actor_cast<caf::strong_actor_ptr>(st.orch.service),
      st.node->sys->message_types<job_service_actor>());
    if (st.opts.http.listen)
      st.http = std::make_unique<http_listener>(
        st.opts.http, st.opts.network.tls,
        std::make_shared<job_client::impl>(*st.node->sys, st.orch.service,
                                           st.node),
        [&st] { return scrape_metrics(st.orch, std::chrono::seconds{1}); },
        st.opts.orchestrator);
  } catch (...) {
    if (st.node->relay)
      st.node->relay->stop_listening();
    st.orch.shutdown();
    throw;
  }
}

server::~server() {
  stop();
}

uint16_t server::port() const noexcept {
  return impl_->port;
}

const std::string& server::host() const noexcept {
  return impl_->opts.listen.host;
}

const std::string& server::recovery_note() const noexcept {
  return impl_->orch.recovery_note;
}

uint16_t server::http_port() const noexcept {
  return impl_->http ? impl_->http->port() : 0;
}

bool server::tls() const noexcept {
  return impl_->node->tls;
}

job_client server::jobs() {
  auto ptr
    = std::make_shared<job_client::impl>(*impl_->node->sys, impl_->orch.service,
                                         impl_->node);
  auto client = job_client_access::make(std::move(ptr));
  client.set_max_input_bytes(impl_->opts.orchestrator.max_input_bytes);
  return client;
}

workflow_endpoint server::workflows() const {
  return workflow_endpoint{*impl_->node->sys, impl_->orch.service};
}

void server::run_until_signal() {
  stop_requested = false;
  auto old_term = std::signal(SIGTERM, on_server_signal);
  auto old_int = std::signal(SIGINT, on_server_signal);
  for (;;) {
    std::unique_lock<std::mutex> guard{impl_->mtx};
    if (impl_->stopped || stop_requested)
      break;
    impl_->cv.wait_for(guard, std::chrono::milliseconds{50});
  }
  std::signal(SIGTERM, old_term);
  std::signal(SIGINT, old_int);
}

void server::stop() {
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    if (impl_->stopped)
      return;
    impl_->stopped = true;
  }
  impl_->cv.notify_all();
  if (impl_->http)
    impl_->http->stop(); // before the orchestrator it talks to
  impl_->node->relay->stop_listening();
  impl_->orch.shutdown();
}

} // namespace weft
