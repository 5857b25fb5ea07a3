#pragma once

// A TCP relay on loopback that delays what it forwards: weft-bench puts it
// between runner processes and the server to give their connections a
// round-trip time (this kernel has no netem). Each chunk read on one side
// is written to the other `one_way` later, in order; reading goes on
// meanwhile, so the delay adds latency without limiting bandwidth.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace weft::bench {

class delay_relay {
public:
  /// Listens on 127.0.0.1 (a free port) and forwards every connection it
  /// accepts to 127.0.0.1:`target_port`. Throws std::runtime_error when it
  /// cannot listen.
  delay_relay(uint16_t target_port, std::chrono::microseconds one_way);
  /// Stops accepting, closes every connection and joins its threads.
  ~delay_relay();
  delay_relay(const delay_relay&) = delete;
  delay_relay& operator=(const delay_relay&) = delete;

  uint16_t port() const noexcept {
    return port_;
  }
  /// Connections accepted so far, and those of them whose upstream
  /// connection failed (closed at once).
  uint64_t accepted() const noexcept {
    return accepted_;
  }
  uint64_t refused() const noexcept {
    return refused_;
  }

private:
  struct connection;
  void accept_loop();
  void reap(bool all);

  uint16_t target_port_;
  std::chrono::microseconds one_way_;
  int listen_ = -1;
  int wake_ = -1; ///< eventfd that stops the accepting thread
  uint16_t port_ = 0;
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> refused_{0};
  std::vector<std::unique_ptr<connection>> connections_; ///< accept thread's
  std::thread acceptor_;
};

} // namespace weft::bench
