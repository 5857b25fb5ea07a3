#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace weft {

/// Certificates for TLS with mutual authentication (see `weft certs`). Set
/// all three or none: a node with them accepts only peers whose certificate
/// the CA signed.
struct tls_options {
  std::filesystem::path certificate{}; ///< this node's certificate (PEM)
  std::filesystem::path key{};         ///< its private key (PEM)
  std::filesystem::path ca{};          ///< the CA that signs every node (PEM)

  bool enabled() const noexcept {
    return !certificate.empty() || !key.empty() || !ca.empty();
  }
};

/// What a node accepts from the peers that connect to it (see
/// docs/security.md). Every field is a bound an attacker cannot raise.
struct wire_limits {
  /// The largest BASP message (header and payload) a server accepts from
  /// a peer; senders split their batches below it. A peer that announces
  /// more is disconnected before anything is allocated for it.
  size_t max_message_bytes = 64u << 20;
  /// A connection that has not finished its TLS and BASP handshakes within
  /// this is closed.
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds{5}};
  /// Connections a server holds at once, handshaking or not; one more is
  /// accepted, closed and logged.
  size_t max_connections = 1000;
  /// Bytes buffered per connection and direction before weft stops reading
  /// from the sending side.
  size_t buffer_bytes = 256u << 10;
  /// A peer that reads nothing of what it is sent for this long is closed.
  std::chrono::milliseconds stall_timeout{std::chrono::seconds{30}};
};

/// How a node talks to other nodes.
struct network_options {
  tls_options tls{};
  wire_limits limits{};
  /// How often a node tells its peers it is alive.
  std::chrono::milliseconds heartbeat{std::chrono::seconds{1}};
  /// A peer silent for this long is dropped (its runner's tasks are lost
  /// and requeued; a client reconnects).
  std::chrono::milliseconds connection_timeout{std::chrono::seconds{5}};
  /// Threads of the node's actor system (0: CAF's default, the larger of
  /// 4 and the hardware threads).
  size_t scheduler_threads = 0;
};

/// "host:port" split; throws `weft::error` (invalid_argument) naming what is
/// wrong. Port 0 is allowed only when `allow_any_port`.
struct network_address {
  std::string host;
  uint16_t port = 0;
};
network_address parse_address(const std::string& text,
                              bool allow_any_port = false);

/// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback(const std::string& host);

} // namespace weft
