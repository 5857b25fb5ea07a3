#include "delay_relay.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>

namespace weft::bench {

using clock_type = std::chrono::steady_clock;

namespace {

sockaddr_in loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// Small frames must not wait for Nagle on top of the delay.
void no_delay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/// A blocking connection to 127.0.0.1:`port`, or -1.
int connect_to(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  auto addr = loopback(port);
  int rc = 0;
  do
    rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    close(fd);
    return -1;
  }
  no_delay(fd);
  return fd;
}

bool send_all(int fd, const std::string& bytes) {
  for (size_t sent = 0; sent < bytes.size();) {
    // MSG_NOSIGNAL: a peer gone mid-write is an error here, not SIGPIPE.
    auto n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

} // namespace

/// One relayed connection: the accepted socket, its upstream one, and per
/// direction a reader that timestamps chunks into a queue and a writer that
/// sends each once due.
struct delay_relay::connection {
  struct chunk {
    clock_type::time_point due;
    std::string bytes; ///< empty: the reading side closed
  };
  struct direction {
    int from = -1;
    int to = -1;
    std::mutex mtx;
    std::condition_variable cv;
    std::deque<chunk> queue;
  };

  int down = -1; ///< accepted from a client
  int up = -1;   ///< to the target
  std::chrono::microseconds one_way{0};
  std::atomic<bool> closing{false};
  std::atomic<int> running{0};
  direction to_up;
  direction to_down;
  std::vector<std::thread> threads;

  connection(int accepted, int upstream, std::chrono::microseconds delay)
      : down(accepted), up(upstream), one_way(delay) {
    to_up.from = down;
    to_up.to = up;
    to_down.from = up;
    to_down.to = down;
  }

  ~connection() {
    close_both();
    for (auto& t : threads)
      t.join();
    close(down);
    close(up);
  }

  void start() {
    running = 4;
    for (auto* d : {&to_up, &to_down}) {
      threads.emplace_back([this, d] {
        read_into(*d);
        --running;
      });
      threads.emplace_back([this, d] {
        write_from(*d);
        --running;
      });
    }
  }

  bool finished() const {
    return running == 0;
  }

  /// Shuts both sockets down, which wakes the readers (their reads return
  /// 0) and fails any blocked write; the writers see `closing`.
  void close_both() {
    if (!closing.exchange(true)) {
      shutdown(down, SHUT_RDWR);
      shutdown(up, SHUT_RDWR);
    }
    for (auto* d : {&to_up, &to_down}) {
      // Under the lock, so a writer between its check and its wait does not
      // miss the wake-up.
      std::lock_guard<std::mutex> guard{d->mtx};
      d->cv.notify_all();
    }
  }

  void read_into(direction& d) {
    std::string buf(64 * 1024, '\0');
    for (;;) {
      auto n = recv(d.from, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR)
        continue;
      auto due = clock_type::now() + one_way;
      std::lock_guard<std::mutex> guard{d.mtx};
      // The close travels like the bytes: what was sent before it arrives
      // first.
      d.queue.push_back(
        {due, n > 0 ? buf.substr(0, static_cast<size_t>(n)) : std::string{}});
      d.cv.notify_all();
      if (n <= 0)
        return;
    }
  }

  void write_from(direction& d) {
    std::vector<std::string> due_now;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock{d.mtx};
        d.cv.wait(lock, [&] { return closing || !d.queue.empty(); });
        if (closing)
          return;
        // Chunks are queued in the order they are due: only the front's time
        // matters, and only a close can cut the wait short.
        auto due = d.queue.front().due;
        if (d.cv.wait_until(lock, due, [&] { return closing.load(); }))
          return;
        auto now = clock_type::now();
        while (!d.queue.empty() && d.queue.front().due <= now) {
          due_now.push_back(std::move(d.queue.front().bytes));
          d.queue.pop_front();
        }
      }
      for (auto& bytes : due_now)
        if (bytes.empty() || !send_all(d.to, bytes)) {
          close_both();
          return;
        }
      due_now.clear();
    }
  }
};

delay_relay::delay_relay(uint16_t target_port,
                         std::chrono::microseconds one_way)
    : target_port_(target_port), one_way_(one_way) {
  listen_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  auto addr = loopback(0);
  socklen_t len = sizeof addr;
  if (listen_ < 0 || wake_ < 0
      || bind(listen_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
      || listen(listen_, 64) != 0
      || getsockname(listen_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    auto err = std::string{std::strerror(errno)};
    if (listen_ >= 0)
      close(listen_);
    if (wake_ >= 0)
      close(wake_);
    throw std::runtime_error("delay relay: cannot listen: " + err);
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread{[this] { accept_loop(); }};
}

delay_relay::~delay_relay() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_, &one, sizeof one);
  acceptor_.join();
  reap(true);
  close(listen_);
  close(wake_);
}

void delay_relay::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{listen_, POLLIN, 0}, {wake_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return;
    }
    if (fds[1].revents != 0)
      return;
    int down = accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
    if (down < 0)
      continue; // e.g. the client gave up before we accepted
    ++accepted_;
    reap(false);
    no_delay(down);
    int up = connect_to(target_port_);
    if (up < 0) {
      // Nothing to relay to: the client sees its connection closed.
      ++refused_;
      close(down);
      continue;
    }
    auto c = std::make_unique<connection>(down, up, one_way_);
    c->start();
    connections_.push_back(std::move(c));
  }
}

void delay_relay::reap(bool all) {
  // Destroying a connection closes it and joins its threads; when not
  // stopping, only those whose threads have all returned.
  std::erase_if(connections_,
                [&](const auto& c) { return all || c->finished(); });
}

} // namespace weft::bench
