#include "weft/actors/wire.hpp"

#include "weft/actors/basp_frames.hpp"
#include "weft/error.hpp"

#include <caf/all.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/multiplexer.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

namespace weft {

namespace {

using clock_type = std::chrono::steady_clock;

std::string errno_text(int code) {
  switch (code) {
    case ECONNREFUSED: return "connection refused";
    case ETIMEDOUT: return "timed out";
    case EHOSTUNREACH: return "host unreachable";
    case ENETUNREACH: return "network unreachable";
    case ECONNRESET: return "connection reset";
    case EADDRINUSE: return "address already in use";
    case EADDRNOTAVAIL: return "address not available on this machine";
    case EACCES: return "permission denied";
    default: return std::strerror(code);
  }
}

/// OpenSSL's reason for the last failure, in its own short words, and the
/// thread's error queue emptied so the next connection starts clean.
std::string ssl_reason() {
  std::string out;
  while (auto code = ERR_get_error()) {
    if (out.empty()) {
      const char* why = ERR_reason_error_string(code);
      out = why != nullptr ? why : "error " + std::to_string(code);
    }
  }
  return out.empty() ? std::string{"TLS failure"} : out;
}

std::string peer_of(int fd) {
  sockaddr_storage st{};
  socklen_t len = sizeof(st);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&st), &len) != 0)
    return "a peer";
  char buf[INET6_ADDRSTRLEN] = {0};
  if (st.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&st);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    return std::string{buf} + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (st.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&st);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    return "[" + std::string{buf} + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return "a peer";
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/// At most a few lines a second reach the log however many peers misbehave;
/// the rest are counted and summed up in one line.
class refusal_log {
public:
  void line(const std::string& text) {
    auto now = clock_type::now();
    if (now - window_ >= std::chrono::seconds{1}) {
      if (suppressed_ > 0)
        std::cerr << "weft: " << suppressed_
                  << " more connections closed in the last second\n";
      window_ = now;
      written_ = 0;
      suppressed_ = 0;
    }
    if (written_ < 10) {
      ++written_;
      std::cerr << "weft: " << text << "\n";
    } else {
      ++suppressed_;
    }
  }

private:
  clock_type::time_point window_{};
  size_t written_ = 0;
  size_t suppressed_ = 0;
};

SSL_CTX* make_tls_context(const tls_options& tls) {
  auto check_readable = [](const std::filesystem::path& file,
                           const char* what) {
    std::ifstream in{file};
    if (file.empty() || !in)
      throw error(errc::invalid_argument,
                  std::string{"cannot read the TLS "} + what + " "
                    + (file.empty() ? std::string{"(none given)"}
                                    : file.string())
                    + ": give --cert, --key and --ca together (make them "
                      "with `weft certs init` and `weft certs issue NAME`)");
  };
  check_readable(tls.certificate, "certificate");
  check_readable(tls.key, "key");
  check_readable(tls.ca, "CA certificate");
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  if (ctx == nullptr)
    throw error(errc::io_error, "cannot set up TLS: " + ssl_reason());
  auto bad = [&](const std::string& what, const std::filesystem::path& f) {
    auto why = ssl_reason();
    SSL_CTX_free(ctx);
    return error(errc::invalid_argument,
                 "cannot use " + f.string() + " as the TLS " + what + " (" + why
                   + "): make it with `weft certs init` and `weft "
                     "certs issue NAME`");
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // A peer that closes without TLS's close_notify has simply gone.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                          | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.certificate.c_str()) != 1)
    throw bad("certificate", tls.certificate);
  if (SSL_CTX_use_PrivateKey_file(ctx, tls.key.c_str(), SSL_FILETYPE_PEM) != 1)
    throw bad("key", tls.key);
  if (SSL_CTX_check_private_key(ctx) != 1)
    throw bad("key (it does not match the certificate)", tls.key);
  if (SSL_CTX_load_verify_locations(ctx, tls.ca.c_str(), nullptr) != 1)
    throw bad("CA certificate", tls.ca);
  // Mutual authentication: either side refuses a peer without a
  // certificate the CA signed.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     nullptr);
  return ctx;
}

} // namespace

// -- connections --------------------------------------------------------------

namespace {

struct link;

/// What an epoll event refers to.
struct watch {
  enum kind_t { wake, listener, peer_side, caf_side } kind;
  link* owner = nullptr;
};

struct link {
  uint64_t id = 0;
  basp::role role;
  int peer_fd = -1; // the socket to the peer
  SSL* ssl = nullptr;
  int caf_fd = -1; // our end of the socket pair whose other end CAF holds
  bool tls_done = true;
  bool handed_over = false;
  basp::frame_checker checker;
  std::vector<char> to_caf; // checked bytes from the peer
  size_t to_caf_pos = 0;
  std::vector<char> to_peer; // CAF's bytes for the peer
  size_t to_peer_pos = 0;
  size_t ssl_write_len = 0;          // a retried SSL_write repeats its length
  clock_type::time_point deadline;   // for the handshakes
  clock_type::time_point last_drain; // the peer last took bytes
  std::string peer;
  watch peer_w{watch::peer_side, nullptr};
  watch caf_w{watch::caf_side, nullptr};
  // Readiness as the edges reported it, cleared when the kernel has no
  // more: no syscall is made only to hear EAGAIN.
  bool peer_in = true, peer_out = true, caf_in = true, caf_out = true;

  link(basp::role r, caf::node_id own, size_t max_message)
      : role(r), checker(r, std::move(own), max_message) {
    peer_w.owner = this;
    caf_w.owner = this;
  }
};

size_t pending(const std::vector<char>& buf, size_t pos) {
  return buf.size() - pos;
}

void consume(std::vector<char>& buf, size_t& pos, size_t n) {
  pos += n;
  if (pos == buf.size()) {
    buf.clear();
    pos = 0;
  } else if (pos > (64u << 10) && pos * 2 > buf.size()) {
    buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(pos));
    pos = 0;
  }
}

} // namespace

struct wire::impl {
  caf::actor_system& sys;
  network_options net;
  SSL_CTX* tls_ctx = nullptr;
  caf::actor basp_broker;
  int epoll_fd = -1;
  int wake_fd = -1;
  watch wake_w{watch::wake, nullptr};
  watch listen_w{watch::listener, nullptr};
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::mutex mtx;
  std::vector<std::function<void()>> commands;
  // Owned by the relay thread.
  std::list<link> links;
  size_t accepted = 0; // links in the accepting role
  uint64_t next_id = 1;
  int listen_fd = -1;
  int reserve_fd = -1; // given up for a moment to refuse at EMFILE
  uint16_t port = 0;
  caf::strong_actor_ptr published;
  std::set<std::string> published_sigs;
  refusal_log log;

  impl(caf::actor_system& s, const network_options& n) : sys(s), net(n) {
  }

  // -- the thread -------------------------------------------------------------

  void post(std::function<void()> f) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      commands.push_back(std::move(f));
    }
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof(one));
  }

  /// Runs `f` on the relay thread and waits for it.
  template <class F>
  auto call(F f) -> decltype(f()) {
    using result = decltype(f());
    std::packaged_task<result()> task{std::move(f)};
    auto fut = task.get_future();
    post([&task] { task(); });
    return fut.get();
  }

  void run() {
    std::vector<epoll_event> events(256);
    while (!stopping) {
      int n = epoll_wait(epoll_fd, events.data(),
                         static_cast<int>(events.size()), 200);
      for (int i = 0; i < n; ++i) {
        auto* w = static_cast<watch*>(events[i].data.ptr);
        switch (w->kind) {
          case watch::wake: run_commands(); break;
          case watch::listener: accept_all(); break;
          case watch::peer_side:
          case watch::caf_side: {
            auto ev = events[i].events;
            bool in = (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
            bool out = (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
            auto& l = *w->owner;
            if (w->kind == watch::peer_side) {
              l.peer_in |= in;
              l.peer_out |= out;
            } else {
              l.caf_in |= in;
              l.caf_out |= out;
            }
            service(l);
            break;
          }
        }
      }
      sweep();
      reap();
    }
    run_commands();
    close_all(false);
  }

  void run_commands() {
    uint64_t count = 0;
    [[maybe_unused]] auto r = ::read(wake_fd, &count, sizeof(count));
    std::vector<std::function<void()>> todo;
    {
      std::lock_guard<std::mutex> guard{mtx};
      todo.swap(commands);
    }
    for (auto& f : todo)
      f();
  }

  // -- accepting --------------------------------------------------------------

  void accept_all() {
    for (;;) {
      int fd
        = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR)
          continue;
        if (errno == EMFILE || errno == ENFILE) {
          // Out of descriptors: take the connection with the one kept in
          // reserve and close it, or the listener stays readable forever.
          if (reserve_fd >= 0) {
            ::close(reserve_fd);
            int drop = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (drop >= 0)
              ::close(drop);
            reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
          }
          log.line("refused a connection: this process is out of file "
                   "descriptors (raise `ulimit -n` or lower max_connections)");
          continue;
        }
        return; // EAGAIN, or the peer went away before we took it
      }
      if (accepted >= net.limits.max_connections && !make_room()) {
        log.line("refused a connection from " + peer_of(fd) + ": "
                 + std::to_string(accepted)
                 + " connections are open, the maximum (max_connections)");
        ::close(fd);
        continue;
      }
      set_nodelay(fd);
      auto& l = links.emplace_back(basp::role::accepting, sys.node(),
                                   net.limits.max_message_bytes);
      l.id = next_id++;
      ++accepted;
      l.peer_fd = fd;
      l.peer = peer_of(fd);
      l.deadline = clock_type::now() + net.limits.handshake_timeout;
      l.last_drain = clock_type::now();
      if (tls_ctx != nullptr) {
        ERR_clear_error();
        l.ssl = SSL_new(tls_ctx);
        SSL_set_fd(l.ssl, fd);
        SSL_set_accept_state(l.ssl);
        l.tls_done = false;
      }
      add_watch(l.peer_fd, l.peer_w);
      service(l);
    }
  }

  /// At the limit, the oldest connection still in its handshake gives way
  /// to the new one: a flood of silent connections cannot lock out nodes
  /// that speak, only delay itself.
  bool make_room() {
    for (auto& l : links)
      if (l.role == basp::role::accepting && l.peer_fd >= 0
          && !l.checker.open()) {
        fail(l, "closed to make room: " + std::to_string(accepted)
                  + " connections are open, the maximum (max_connections), "
                    "and it had not finished its handshake");
        return true;
      }
    return false;
  }

  // -- moving bytes -----------------------------------------------------------

  /// Edge-triggered, both directions, registered once: a link is serviced
  /// whole on any edge, and each pump runs until the kernel says EAGAIN (or
  /// returns less than was asked, which means the same for a stream).
  void add_watch(int fd, watch& w) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = &w;
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  }

  /// Marks a link for closing; `why` is logged when not empty.
  void fail(link& l, const std::string& why) {
    if (l.peer_fd < 0)
      return;
    if (!why.empty())
      log.line((l.role == basp::role::accepting ? "closed the connection "
                                                  "from "
                                                : "closed the connection to ")
               + l.peer + ": " + why);
    close_link(l);
  }

  void close_link(link& l) {
    if (l.ssl != nullptr) {
      if (l.tls_done) {
        ERR_clear_error();
        SSL_shutdown(l.ssl); // close_notify, best effort: never waits
        ERR_clear_error();
      }
      SSL_free(l.ssl);
      l.ssl = nullptr;
    }
    if (l.peer_fd >= 0) {
      if (l.role == basp::role::accepting)
        --accepted;
      epoll_ctl(epoll_fd, EPOLL_CTL_DEL, l.peer_fd, nullptr);
      ::close(l.peer_fd);
      l.peer_fd = -1;
    }
    if (l.caf_fd >= 0) {
      epoll_ctl(epoll_fd, EPOLL_CTL_DEL, l.caf_fd, nullptr);
      ::close(l.caf_fd);
      l.caf_fd = -1;
    }
  }

  /// Drops closed links (never while one of them is being serviced).
  void reap() {
    for (auto i = links.begin(); i != links.end();) {
      if (i->peer_fd < 0) {
        i = links.erase(i);
      } else {
        ++i;
      }
    }
  }

  /// Moves what can move in both directions, then waits for what blocks.
  void service(link& l) {
    if (l.peer_fd < 0)
      return;
    if (!l.tls_done && !tls_handshake(l))
      return;
    bool progress = true;
    while (progress && l.peer_fd >= 0) {
      progress = false;
      if (!read_peer(l, progress) || !write_caf(l, progress)
          || !read_caf(l, progress) || !write_peer(l, progress))
        return;
    }
  }

  bool tls_handshake(link& l) {
    ERR_clear_error();
    int r = SSL_do_handshake(l.ssl);
    if (r == 1) {
      l.tls_done = true;
      return true;
    }
    switch (SSL_get_error(l.ssl, r)) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE: return false;
      default:
        fail(l, "TLS handshake failed (" + ssl_reason() + ")");
        return false;
    }
  }

  /// Reads from the peer into `to_caf` through the checker.
  bool read_peer(link& l, bool& progress) {
    char buf[64 * 1024];
    while ((l.peer_in || l.ssl != nullptr)
           && pending(l.to_caf, l.to_caf_pos) < net.limits.buffer_bytes) {
      ssize_t n;
      if (l.ssl != nullptr) {
        ERR_clear_error();
        int r = SSL_read(l.ssl, buf, sizeof(buf));
        if (r <= 0) {
          int code = SSL_get_error(l.ssl, r);
          if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE)
            break; // the next edge services the link again
          if (code == SSL_ERROR_ZERO_RETURN)
            return peer_closed(l);
          if (code == SSL_ERROR_SYSCALL) {
            ERR_clear_error();
            return peer_closed(l);
          }
          fail(l, "TLS error (" + ssl_reason() + ")");
          return false;
        }
        n = r;
      } else {
        n = ::recv(l.peer_fd, buf, sizeof(buf), 0);
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            l.peer_in = false;
            break;
          }
          if (errno == EINTR)
            continue;
          return peer_closed(l);
        }
        if (n == 0)
          return peer_closed(l);
        if (static_cast<size_t>(n) < sizeof(buf))
          l.peer_in = false; // drained: the next byte brings a new edge
      }
      progress = true;
      if (!l.checker.feed(buf, static_cast<size_t>(n), l.to_caf)) {
        fail(l, l.checker.failure());
        return false;
      }
      if (l.checker.open() && !l.handed_over && !hand_over(l))
        return false;
    }
    return true;
  }

  /// The peer ended its side: CAF gets what was checked, then the end.
  bool peer_closed(link& l) {
    if (l.caf_fd >= 0 && pending(l.to_caf, l.to_caf_pos) > 0) {
      // One blocking-free attempt; CAF treats a cut message as a close.
      [[maybe_unused]] auto n
        = ::send(l.caf_fd, l.to_caf.data() + l.to_caf_pos,
                 pending(l.to_caf, l.to_caf_pos), MSG_NOSIGNAL);
    }
    close_link(l);
    return false;
  }

  bool write_caf(link& l, bool& progress) {
    while (l.caf_fd >= 0 && l.caf_out && pending(l.to_caf, l.to_caf_pos) > 0) {
      auto want = pending(l.to_caf, l.to_caf_pos);
      auto n
        = ::send(l.caf_fd, l.to_caf.data() + l.to_caf_pos, want, MSG_NOSIGNAL);
      if (n >= 0 && static_cast<size_t>(n) < want)
        l.caf_out = false; // full: the writable edge comes back
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          l.caf_out = false;
          break;
        }
        if (errno == EINTR)
          continue;
        close_link(l); // CAF closed its end
        return false;
      }
      progress = true;
      consume(l.to_caf, l.to_caf_pos, static_cast<size_t>(n));
    }
    return true;
  }

  bool read_caf(link& l, bool& progress) {
    char buf[64 * 1024];
    while (l.caf_fd >= 0 && l.caf_in
           && pending(l.to_peer, l.to_peer_pos) < net.limits.buffer_bytes) {
      auto n = ::recv(l.caf_fd, buf, sizeof(buf), 0);
      if (n > 0 && static_cast<size_t>(n) < sizeof(buf))
        l.caf_in = false;
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          l.caf_in = false;
          break;
        }
        if (errno == EINTR)
          continue;
        n = 0;
      }
      if (n == 0) {
        // CAF closed the connection (a refusal, a timeout, a shutdown):
        // the peer gets what CAF wrote before, then the end.
        bool dummy = false;
        write_peer(l, dummy);
        close_link(l);
        return false;
      }
      progress = true;
      l.to_peer.insert(l.to_peer.end(), buf, buf + n);
    }
    return true;
  }

  bool write_peer(link& l, bool& progress) {
    while (l.peer_fd >= 0 && (l.peer_out || l.ssl != nullptr)
           && pending(l.to_peer, l.to_peer_pos) > 0) {
      const char* data = l.to_peer.data() + l.to_peer_pos;
      size_t len = pending(l.to_peer, l.to_peer_pos);
      ssize_t n;
      if (l.ssl != nullptr) {
        if (l.ssl_write_len == 0)
          l.ssl_write_len = std::min<size_t>(len, 64u << 10);
        ERR_clear_error();
        int r = SSL_write(l.ssl, data, static_cast<int>(l.ssl_write_len));
        if (r <= 0) {
          int code = SSL_get_error(l.ssl, r);
          if (code == SSL_ERROR_WANT_WRITE || code == SSL_ERROR_WANT_READ)
            return true;
          ERR_clear_error();
          close_link(l);
          return false;
        }
        l.ssl_write_len = 0;
        n = r;
      } else {
        n = ::send(l.peer_fd, data, len, MSG_NOSIGNAL);
        if (n >= 0 && static_cast<size_t>(n) < len)
          l.peer_out = false;
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            l.peer_out = false;
            return true;
          }
          if (errno == EINTR)
            continue;
          close_link(l);
          return false;
        }
      }
      progress = true;
      l.last_drain = clock_type::now();
      consume(l.to_peer, l.to_peer_pos, static_cast<size_t>(n));
    }
    return true;
  }

  /// A peer passed its opening handshake: CAF gets a connection.
  bool hand_over(link& l) {
    l.handed_over = true;
    if (l.caf_fd >= 0)
      return true; // connecting: CAF has held its end from the start
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv)
        != 0) {
      fail(l, "cannot hand the connection over (" + errno_text(errno) + ")");
      return false;
    }
    l.caf_fd = sv[0];
    add_watch(l.caf_fd, l.caf_w);
    auto scribe = sys.middleman().backend().new_scribe(sv[1]);
    caf::anon_send(basp_broker, caf::publish_atom_v, std::move(scribe), port,
                   published, published_sigs);
    return true;
  }

  /// Closes connections whose handshakes are overdue, or whose peer stopped
  /// reading.
  void sweep() {
    auto now = clock_type::now();
    for (auto& l : links) {
      if (l.peer_fd < 0)
        continue;
      if (!l.checker.open() && now > l.deadline) {
        fail(l, std::string{"no "} + (l.tls_done ? "BASP" : "TLS")
                  + " handshake within "
                  + std::to_string(net.limits.handshake_timeout.count())
                  + " ms (handshake_timeout)");
        continue;
      }
      if (pending(l.to_peer, l.to_peer_pos) >= net.limits.buffer_bytes
          && now - l.last_drain > net.limits.stall_timeout)
        fail(l, "it read nothing for "
                  + std::to_string(net.limits.stall_timeout.count())
                  + " ms (stall_timeout)");
    }
  }

  uint64_t relay_to_server(int fd, SSL* ssl, const std::string& host,
                           uint16_t port, clock_type::time_point until,
                           caf::io::scribe_ptr& scribe, std::string& failure);
  void basp_connect(caf::io::scribe_ptr scribe, uint16_t port,
                    const std::set<std::string>& sigs,
                    clock_type::time_point until,
                    std::chrono::milliseconds timeout, connected& out);

  void close_all(bool accepting_only) {
    for (auto& l : links)
      if (!accepting_only || l.role == basp::role::accepting)
        close_link(l);
  }
};

wire::wire(caf::actor_system& sys, const network_options& net)
    : impl_(std::make_unique<impl>(sys, net)) {
  auto& st = *impl_;
  // OpenSSL writes to its sockets with write(2): a peer gone mid-write
  // would kill the process with SIGPIPE. CAF's own writes ask for EPIPE
  // instead; weft's TLS needs the signal ignored (unless the embedding
  // program installed a handler of its own).
  struct sigaction old {};
  if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL)
    std::signal(SIGPIPE, SIG_IGN);
  if (net.tls.enabled())
    st.tls_ctx = make_tls_context(net.tls);
  st.basp_broker
    = sys.middleman().named_broker<caf::io::basp_broker>(caf::atom("BASP"));
  st.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  st.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (st.epoll_fd < 0 || st.wake_fd < 0)
    throw error(errc::io_error,
                "cannot start the network relay (" + errno_text(errno) + ")");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &st.wake_w;
  epoll_ctl(st.epoll_fd, EPOLL_CTL_ADD, st.wake_fd, &ev);
  st.thread = std::thread{[&st] {
    pthread_setname_np(pthread_self(), "weft.wire");
    st.run();
  }};
}

wire::~wire() {
  auto& st = *impl_;
  st.stopping = true;
  st.post([] {});
  st.thread.join();
  if (st.listen_fd >= 0)
    ::close(st.listen_fd);
  if (st.reserve_fd >= 0)
    ::close(st.reserve_fd);
  ::close(st.wake_fd);
  ::close(st.epoll_fd);
  if (st.tls_ctx != nullptr)
    SSL_CTX_free(st.tls_ctx);
}

bool wire::tls() const noexcept {
  return impl_->tls_ctx != nullptr;
}

namespace {

/// A non-blocking listening socket on `host:port`, and the port it got.
std::pair<int, uint16_t> open_listener(const std::string& host, uint16_t port) {
  auto where = (host.find(':') != std::string::npos ? "[" + host + "]" : host)
               + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  auto service = std::to_string(port);
  if (getaddrinfo(host.c_str(), service.c_str(), &hints, &res) != 0
      || res == nullptr)
    throw error(errc::invalid_argument,
                "cannot listen on " + where
                  + ": unknown host; give an address of this machine");
  int fd
    = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0)
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0
      || ::listen(fd, 512) != 0) {
    auto code = errno;
    freeaddrinfo(res);
    if (fd >= 0)
      ::close(fd);
    throw error(errc::io_error, "cannot listen on " + where + ": "
                                  + errno_text(code)
                                  + " (pick another port, or stop what holds "
                                    "it)");
  }
  freeaddrinfo(res);
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  uint16_t actual
    = bound.ss_family == AF_INET6
        ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
        : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return {fd, actual};
}

/// Each connection takes three descriptors (the peer's, and a socket pair
/// with CAF): makes room for `connections` where the hard limit allows.
void make_room_for(size_t connections) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return;
  rlim_t want = 3 * connections + 256;
  if (lim.rlim_cur < want) {
    lim.rlim_cur = std::min(want, lim.rlim_max);
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

} // namespace

uint16_t wire::listen(const std::string& host, uint16_t port,
                      caf::strong_actor_ptr whom, std::set<std::string> sigs) {
  auto& st = *impl_;
  auto [fd, actual] = open_listener(host, port);
  make_room_for(st.net.limits.max_connections);
  st.call([&, fd = fd, actual = actual] {
    st.listen_fd = fd;
    st.port = actual;
    st.published = std::move(whom);
    st.published_sigs = std::move(sigs);
    st.reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &st.listen_w;
    epoll_ctl(st.epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  });
  return actual;
}

void wire::stop_listening() {
  auto& st = *impl_;
  st.call([&] {
    if (st.listen_fd >= 0) {
      epoll_ctl(st.epoll_fd, EPOLL_CTL_DEL, st.listen_fd, nullptr);
      ::close(st.listen_fd);
      st.listen_fd = -1;
    }
    st.close_all(true);
  });
}

namespace {

/// A blocking TCP connect with a deadline; returns the socket or -1 and
/// the reason in plain words.
int dial(const std::string& host, uint16_t port, clock_type::time_point until,
         std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  auto service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
      rc != 0 || res == nullptr) {
    why = "unknown host";
    return -1;
  }
  int fd = -1;
  for (auto* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      why = errno_text(errno);
      continue;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - clock_type::now());
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
      if (rc == 1) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        errno = err;
      } else {
        rc = -1;
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0)
      break;
    why = errno_text(errno);
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd >= 0)
    set_nodelay(fd);
  return fd;
}

/// TLS's client handshake on a non-blocking socket, within the deadline.
bool tls_connect(SSL* ssl, int fd, clock_type::time_point until,
                 std::string& why) {
  for (;;) {
    ERR_clear_error();
    int r = SSL_connect(ssl);
    if (r == 1)
      return true;
    int code = SSL_get_error(ssl, r);
    short events = 0;
    if (code == SSL_ERROR_WANT_READ)
      events = POLLIN;
    else if (code == SSL_ERROR_WANT_WRITE)
      events = POLLOUT;
    else {
      why = code == SSL_ERROR_SYSCALL || code == SSL_ERROR_ZERO_RETURN
              ? std::string{"the server closed the connection during the TLS "
                            "handshake (does it trust this node's "
                            "certificate?)"}
              : "TLS handshake failed (" + ssl_reason() + ")";
      ERR_clear_error();
      return false;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until - clock_type::now());
    if (left.count() <= 0) {
      why = "TLS handshake timed out";
      return false;
    }
    pollfd p{fd, events, 0};
    poll(&p, 1, static_cast<int>(left.count()));
  }
}

} // namespace

/// The relayed side of a TLS connection to a server: a link that checks
/// what the server sends (framing only, bounded by BASP's own 4 GiB: the
/// server is this node's choice), and the scribe CAF reads from. Returns
/// the link's id, 0 when no socket pair could be made.
uint64_t wire::impl::relay_to_server(int fd, SSL* ssl, const std::string& host,
                                     uint16_t port,
                                     clock_type::time_point until,
                                     caf::io::scribe_ptr& scribe,
                                     std::string& failure) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv)
      != 0) {
    failure = errno_text(errno);
    return 0;
  }
  auto id = call([this] { return next_id++; });
  post([this, id, fd, ssl, caf_fd = sv[0], host, port, until] {
    auto& l = links.emplace_back(basp::role::connecting, sys.node(),
                                 size_t{0xFFFFFFFFu} + basp::header_size);
    l.id = id;
    l.peer_fd = fd;
    l.ssl = ssl;
    l.caf_fd = caf_fd;
    l.peer = host + ":" + std::to_string(port);
    l.deadline = until;
    l.last_drain = clock_type::now();
    add_watch(l.peer_fd, l.peer_w);
    add_watch(l.caf_fd, l.caf_w);
    service(l);
  });
  scribe = sys.middleman().backend().new_scribe(sv[1]);
  return id;
}

/// BASP's client handshake through the BASP broker on `scribe`.
void wire::impl::basp_connect(caf::io::scribe_ptr scribe, uint16_t port,
                              const std::set<std::string>& sigs,
                              clock_type::time_point until,
                              std::chrono::milliseconds timeout,
                              connected& out) {
  caf::scoped_actor self{sys};
  auto left = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(
                         until - clock_type::now()),
                       std::chrono::milliseconds{1});
  self->request(basp_broker, left, caf::connect_atom_v, std::move(scribe), port)
    .receive(
      [&](caf::node_id&, caf::strong_actor_ptr& hdl,
          std::set<std::string>& ifs) {
        if (!hdl) {
          out.failure = "nothing is published there";
        } else if (!sys.assignable(ifs, sigs)) {
          out.error = caf::sec::unexpected_actor_messaging_interface;
          out.failure = "the service there is not a weft orchestrator";
        } else {
          out.handle = std::move(hdl);
        }
      },
      [&](caf::error& err) {
        out.error = err;
        if (err == caf::sec::request_timeout)
          out.failure
            = "no handshake within " + std::to_string(timeout.count()) + " ms";
        else if (err == caf::sec::incompatible_application_ids)
          out.failure = "it speaks another weft protocol";
        else
          out.failure = "the connection closed during the handshake (is it "
                        "a weft server? one with TLS needs --cert, --key "
                        "and --ca)";
      });
}

wire::connected wire::connect(const std::string& host, uint16_t port,
                              const std::set<std::string>& sigs,
                              std::chrono::milliseconds timeout) {
  auto& st = *impl_;
  connected out;
  auto until = clock_type::now() + timeout;
  int fd = dial(host, port, until, out.failure);
  if (fd < 0)
    return out;
  out.reached = true;
  caf::io::scribe_ptr scribe;
  uint64_t id = 0;
  if (st.tls_ctx == nullptr) {
    // Plain TCP is loopback only, and this node chose the server: CAF reads
    // the socket itself, saving the relay's hop on every message (the
    // server checks what this node sends either way).
    scribe = st.sys.middleman().backend().new_scribe(fd);
  } else {
    ERR_clear_error();
    SSL* ssl = SSL_new(st.tls_ctx);
    SSL_set_fd(ssl, fd);
    if (tls_connect(ssl, fd, until, out.failure))
      id = st.relay_to_server(fd, ssl, host, port, until, scribe, out.failure);
    if (id == 0) {
      SSL_free(ssl);
      ::close(fd);
      return out;
    }
  }
  st.basp_connect(std::move(scribe), port, sigs, until, timeout, out);
  if (!out.handle && id != 0)
    st.post([&st, id] {
      for (auto& l : st.links)
        if (l.id == id)
          st.close_link(l);
    });
  return out;
}

} // namespace weft
