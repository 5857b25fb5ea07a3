#pragma once

#include "weft/client.hpp"
#include "weft/http.hpp"
#include "weft/orchestrator_options.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace weft {

/// The HTTP listener of a server (Boost.Beast on threads of its own). It
/// reaches the orchestrator only through `client`, as any client does.
class http_listener {
public:
  /// Starts listening; throws `weft::error`: plain HTTP on a non-loopback
  /// address, no tokens on a non-loopback address, unreadable tokens or
  /// certificates, the address in use.
  http_listener(const http_options& opts, const tls_options& tls,
                std::shared_ptr<job_client::impl> client,
                std::function<std::string()> metrics,
                const orchestrator_options& orchestrator);
  ~http_listener();
  http_listener(const http_listener&) = delete;
  http_listener& operator=(const http_listener&) = delete;

  uint16_t port() const noexcept;
  bool tls() const noexcept;
  /// Closes every connection and joins the listener's threads.
  void stop();

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace weft
