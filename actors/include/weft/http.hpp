#pragma once

#include "weft/network.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>

namespace weft {

/// The HTTP listener of a server (docs/http.md): the REST API under
/// `/api/v1`, the update stream, `/metrics` and the dashboard. Off unless
/// `listen` is set. Each bound here is one a client cannot raise.
struct http_options {
  /// Where to listen; port 0 picks a free port (`server::http_port()`).
  /// Without TLS certificates (`network_options::tls`, the same ones the
  /// node uses) only a loopback address is accepted; with them the
  /// listener speaks HTTPS only.
  std::optional<network_address> listen{};
  /// Bearer tokens, one per line (blank lines and lines starting with '#'
  /// are skipped). Required on a non-loopback address; on loopback
  /// optional, and when given every request to the API and `/metrics`
  /// needs one of them (the dashboard's pages hold no data and do not).
  std::filesystem::path token_file{};
  /// Threads that read and write connections.
  size_t io_threads = 2;
  /// Threads that wait for the orchestrator's answers.
  size_t worker_threads = 4;
  /// A request body above this is refused (413) before it is read whole.
  size_t max_body_bytes = size_t{2} << 20;
  /// Connections open at once; one more gets 503 and is closed.
  size_t max_connections = 2048;
  /// Update streams open at once; one more gets 503 with `Retry-After`.
  size_t max_streams = 1024;
  /// A request must arrive whole within this (slow clients are closed).
  std::chrono::milliseconds read_timeout{std::chrono::seconds{30}};
  /// A response, or one event of a stream, must be taken within this.
  std::chrono::milliseconds write_timeout{std::chrono::seconds{30}};
  /// An idle stream gets a comment line this often, so that proxies keep
  /// it open.
  std::chrono::milliseconds keepalive{std::chrono::seconds{15}};
};

} // namespace weft
