#pragma once

// weft's side of every network connection. CAF's middleman never opens,
// accepts or reads a socket of its own: the wire owns the listening socket,
// TLS (OpenSSL directly) and every connection, checks each byte a peer
// sends with a basp::frame_checker, and passes what is well-formed to CAF
// through a socket pair whose other end CAF holds as a scribe. A peer that
// breaks a rule is disconnected and logged; a connection that does not
// finish its handshakes in time is closed; the number of connections and
// the bytes buffered per connection are bounded. See docs/security.md.

#include "weft/network.hpp"

#include <caf/actor_control_block.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/intrusive_ptr.hpp>

#include <chrono>
#include <memory>
#include <set>
#include <string>

namespace weft {

/// The relay thread of one node, with the TLS settings of that node.
class wire {
public:
  /// Throws `weft::error` for unusable certificates.
  wire(caf::actor_system& sys, const network_options& net);
  ~wire();
  wire(const wire&) = delete;
  wire& operator=(const wire&) = delete;

  /// Listens on `host:port` (0: any free port) and hands every peer that
  /// passes its handshake to CAF as a connection to `whom`, published with
  /// the interface `sigs`. Returns the port. Throws `weft::error`.
  uint16_t listen(const std::string& host, uint16_t port,
                  caf::strong_actor_ptr whom, std::set<std::string> sigs);
  /// Stops accepting and closes every accepted connection.
  void stop_listening();

  /// What connecting found.
  struct connected {
    caf::strong_actor_ptr handle; ///< the actor the server published
    caf::error error;             ///< CAF's verdict on the handshake
    std::string failure;          ///< plain words when it failed
    bool reached = false;         ///< the TCP connection was made
  };
  /// Connects to `host:port` within `timeout` (TCP, TLS when configured,
  /// then BASP's handshake through CAF) and returns the published actor
  /// if its interface is `sigs`.
  connected connect(const std::string& host, uint16_t port,
                    const std::set<std::string>& sigs,
                    std::chrono::milliseconds timeout);

  bool tls() const noexcept;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace weft
