#pragma once

// What weft-bench's http scenario drives the HTTP listener with: a `weft
// server` child process, whose CPU time it reads from /proc; a kept-alive
// HTTP/1.1 connection; and many update streams read on one thread with
// epoll, so that the clients cost little next to the server.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace weft::bench {

/// CPU time (user + system) process `pid` has used so far, in seconds.
double process_cpu_seconds(pid_t pid);

/// CPU time of each thread of process `pid` so far, in seconds, summed by
/// thread name.
std::map<std::string, double> thread_cpu_seconds(pid_t pid);

/// The resident set of process `pid`, in MB.
double process_rss_mb(pid_t pid);

/// `weft server` as a child process, its standard output read until it
/// names its ports. The destructor sends SIGTERM and waits for it.
class server_process {
public:
  /// Throws std::runtime_error when it cannot start or names no ports
  /// within 30 s.
  server_process(const std::string& program,
                 const std::vector<std::string>& args);
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  pid_t pid() const noexcept {
    return pid_;
  }
  /// The node's port, for runners and clients.
  uint16_t port() const noexcept {
    return port_;
  }
  uint16_t http_port() const noexcept {
    return http_port_;
  }

private:
  pid_t pid_ = -1;
  int out_ = -1;
  uint16_t port_ = 0;
  uint16_t http_port_ = 0;
};

struct http_reply {
  unsigned status = 0;
  std::string body;
};

/// One kept-alive HTTP/1.1 connection to 127.0.0.1, blocking. Throws
/// std::runtime_error when the connection fails or closes.
class http_connection {
public:
  explicit http_connection(uint16_t port);
  ~http_connection();
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  /// Sends a request (with a JSON body when `body` is not empty) and reads
  /// its response whole.
  http_reply request(const std::string& method, const std::string& target,
                     const std::string& body = {});

private:
  int fd_ = -1;
  std::string in_; ///< bytes read past the last response
};

/// `n` update streams (`GET target`) to 127.0.0.1:`port`, opened at once
/// and read on one thread with epoll until destroyed. Counts what they
/// receive.
class event_streams {
public:
  struct counts {
    uint64_t open = 0;     ///< answered 200 and streaming
    uint64_t refused = 0;  ///< answered something else
    uint64_t closed = 0;   ///< closed by the server after opening
    uint64_t events = 0;   ///< every event, whatever its name
    uint64_t progress = 0; ///< `execution_progress` events
    uint64_t comments = 0; ///< comment lines such as `: keepalive`
    uint64_t bytes = 0;
    double cpu_seconds = 0; ///< of the reading thread
  };

  event_streams(uint16_t port, std::string target, size_t n);
  ~event_streams();
  event_streams(const event_streams&) = delete;
  event_streams& operator=(const event_streams&) = delete;

  counts snapshot() const;
  /// How late each `execution_progress` event arrived, in ms, from the
  /// update's time (the event's id) to its reading here: the events
  /// numbered [from, to) in the order they arrived (`counts::progress`).
  std::vector<double> progress_delays_ms(uint64_t from, uint64_t to) const;
  /// Waits until every stream has been answered; false after `limit`.
  bool wait_answered(std::chrono::milliseconds limit) const;

private:
  struct stream;
  struct shared_counts {
    std::atomic<uint64_t> open{0}, refused{0}, closed{0}, events{0},
      progress{0}, comments{0}, bytes{0}, cpu_ns{0};
  };
  void run();
  void on_readable(stream& s);

  uint16_t port_;
  std::string target_;
  size_t n_;
  int epoll_ = -1;
  int wake_ = -1; ///< eventfd that stops the thread
  std::vector<std::unique_ptr<stream>> streams_;
  shared_counts counts_;
  mutable std::mutex delays_mtx_;
  std::vector<double> delays_ms_;
  std::thread thread_;
};

} // namespace weft::bench
