#pragma once

#include "weft/client.hpp"
#include "weft/http.hpp"
#include "weft/network.hpp"
#include "weft/orchestrator_options.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

namespace weft {

class workflow_endpoint; // weft/workflow_actor.hpp (includes CAF)

/// An orchestrator as a network service (what `weft server` runs).
struct server_options {
  /// Where to listen; port 0 picks a free port (see `server::port()`).
  network_address listen{"127.0.0.1", 0};
  /// Journal, limits and intervals (`.orchestrator = {.data_dir = ...}`).
  orchestrator_options orchestrator{};
  /// Without TLS certificates the server listens only on loopback
  /// addresses: plain TCP is for development on one machine.
  network_options network{};
  /// The HTTP listener (REST API, update stream, metrics, dashboard; see
  /// docs/http.md): off unless `http.listen` is set. HTTPS with
  /// `network.tls`'s certificate and key when they are given.
  http_options http{};
};

/// Boots an orchestrator (replaying its journal) and publishes its gateway.
/// Clusters other than "default" must be created before jobs or runners
/// use them.
class server {
public:
  /// Throws `weft::error`: unusable data directory, plain TCP on a
  /// non-loopback address, unreadable certificates, port in use.
  explicit server(server_options opts);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// The port it listens on.
  uint16_t port() const noexcept;
  /// The port of the HTTP listener, or 0 when it is off.
  uint16_t http_port() const noexcept;
  const std::string& host() const noexcept;
  bool tls() const noexcept;
  /// One line saying what opening the journal dropped (a torn tail left by
  /// a crash), or empty.
  const std::string& recovery_note() const noexcept;

  /// A client in this process.
  job_client jobs();

  /// For actor programs in this process (include weft/workflow_actor.hpp):
  /// the server's actor system and its orchestrator's `workflow_actor`, the
  /// one it publishes; no job cache store (the runners hold those).
  workflow_endpoint workflows() const;

  /// Blocks until SIGTERM or SIGINT (or `stop()` from another thread).
  void run_until_signal();
  /// Stops listening, then stops the orchestrator; its journal is closed.
  void stop();

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace weft
