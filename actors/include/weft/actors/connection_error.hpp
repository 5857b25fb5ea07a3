#pragma once

// Plain words for a failed connection to an orchestrator. CAF renders such
// failures as its own terms ("system_error(cannot_connect_to_node, ...)")
// and keeps no OS reason; users need "connection refused" or "no such
// host" instead.

#include "weft/network.hpp"

#include <caf/error.hpp>

#include <chrono>
#include <string>

namespace weft {

/// What one plain TCP connection attempt to `addr` found.
struct probe_result {
  bool connected = false;  ///< something accepted the connection
  std::string reason;      ///< why not, e.g. "connection refused"
};

/// Resolves `addr` and tries one TCP connection, for at most `limit`. For
/// explaining a failure after the fact, not for talking to the server.
probe_result probe_connection(const network_address& addr,
                              std::chrono::milliseconds limit);

/// Why connecting to the orchestrator at `addr` failed, from the CAF error
/// of `remote_actor` or of the first request, in words without CAF's
/// terms, e.g. "connection refused" or "the TLS handshake failed (does
/// the server trust this node's certificate?)". May probe `addr` briefly
/// (half a second at most) to learn what CAF did not keep.
std::string describe_connection_error(const caf::error& err,
                                      const network_address& addr, bool tls);

/// Why listening on `addr` fails, from one plain bind, e.g. "address
/// already in use"; empty when the bind succeeds (the port is free now).
std::string probe_listen(const network_address& addr);

/// Why publishing the gateway on `addr` failed, from CAF's error of
/// `publish`, in words without CAF's terms.
std::string describe_listen_error(const caf::error& err,
                                  const network_address& addr);

} // namespace weft
