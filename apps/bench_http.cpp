#include "bench_http.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace weft::bench {

using clock_type = std::chrono::steady_clock;

namespace {

/// The fields of a /proc stat line after the command name, which may hold
/// spaces and parentheses itself; `name` gets the command name.
std::vector<std::string> stat_fields(const std::filesystem::path& file,
                                     std::string* name = nullptr) {
  std::ifstream in{file};
  std::string line;
  std::getline(in, line);
  auto open = line.find('(');
  auto close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos)
    return {};
  if (name)
    *name = line.substr(open + 1, close - open - 1);
  std::istringstream rest{line.substr(close + 1)};
  std::vector<std::string> fields;
  std::string f;
  while (rest >> f)
    fields.push_back(f);
  return fields;
}

/// utime + stime (fields 14 and 15 of proc(5); here from field 3 on).
double cpu_of(const std::vector<std::string>& fields) {
  if (fields.size() < 13)
    return 0;
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

} // namespace

double process_cpu_seconds(pid_t pid) {
  return cpu_of(stat_fields("/proc/" + std::to_string(pid) + "/stat"));
}

std::map<std::string, double> thread_cpu_seconds(pid_t pid) {
  std::map<std::string, double> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator{
         "/proc/" + std::to_string(pid) + "/task", ec}) {
    std::string name;
    auto fields = stat_fields(entry.path() / "stat", &name);
    out[name] += cpu_of(fields);
  }
  return out;
}

double process_rss_mb(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

// -- server_process -----------------------------------------------------------

server_process::server_process(const std::string& program,
                               const std::vector<std::string>& args) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    fail("pipe");
  out_ = fds[0];
  std::vector<std::string> words{program};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words)
    argv.push_back(w.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  auto rc
    = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(out_);
    throw std::runtime_error("cannot start " + program + ": "
                             + std::strerror(rc));
  }
  // "weft server listening on HOST:PORT ..." and "dashboard and HTTP API at
  // http://HOST:PORT/".
  auto port_after = [](const std::string& line, size_t from) {
    auto colon = line.rfind(':', line.find_first_of(" /", from));
    return static_cast<uint16_t>(std::stoul(line.substr(colon + 1)));
  };
  std::string pending;
  auto deadline = clock_type::now() + std::chrono::seconds{30};
  while (port_ == 0 || http_port_ == 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - clock_type::now());
    pollfd p{out_, POLLIN, 0};
    char buf[4096];
    ssize_t n = 0;
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0
        || (n = read(out_, buf, sizeof buf)) <= 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      close(out_);
      throw std::runtime_error(program + " named no ports within 30 s");
    }
    pending.append(buf, static_cast<size_t>(n));
    size_t eol = 0;
    while ((eol = pending.find('\n')) != std::string::npos) {
      auto line = pending.substr(0, eol);
      pending.erase(0, eol + 1);
      constexpr std::string_view node = "listening on ";
      constexpr std::string_view web = "HTTP API at ";
      if (auto i = line.find(node); i != std::string::npos)
        port_ = port_after(line, i + node.size());
      else if (auto j = line.find(web); j != std::string::npos)
        http_port_ = port_after(line, line.find("://", j) + 3);
    }
  }
}

server_process::~server_process() {
  kill(pid_, SIGTERM);
  auto deadline = clock_type::now() + std::chrono::seconds{20};
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (clock_type::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  close(out_);
}

// -- http_connection ----------------------------------------------------------

http_connection::http_connection(uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0)
    fail("socket");
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto addr = loopback(port);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd_);
    fail("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
}

http_connection::~http_connection() {
  close(fd_);
}

http_reply http_connection::request(const std::string& method,
                                    const std::string& target,
                                    const std::string& body) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!body.empty())
    req += "Content-Type: application/json\r\nContent-Length: "
           + std::to_string(body.size()) + "\r\n";
  req += "\r\n";
  req += body;
  for (size_t sent = 0; sent < req.size();) {
    auto n = send(fd_, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      fail("send");
    sent += static_cast<size_t>(n);
  }
  auto fill = [&] {
    char buf[65536];
    auto n = recv(fd_, buf, sizeof buf, 0);
    if (n == 0)
      throw std::runtime_error("the server closed the connection");
    if (n < 0)
      fail("recv");
    in_.append(buf, static_cast<size_t>(n));
  };
  size_t end = 0;
  while ((end = in_.find("\r\n\r\n")) == std::string::npos)
    fill();
  auto head = lower(in_.substr(0, end));
  http_reply rep;
  if (head.size() > 12)
    rep.status = static_cast<unsigned>(std::stoul(head.substr(9, 3)));
  size_t length = 0;
  if (auto i = head.find("\r\ncontent-length:"); i != std::string::npos)
    length = std::stoull(head.substr(i + 17));
  auto total = end + 4 + length;
  while (in_.size() < total)
    fill();
  rep.body = in_.substr(end + 4, length);
  in_.erase(0, total);
  return rep;
}

// -- event_streams ------------------------------------------------------------

struct event_streams::stream {
  enum class phase { connecting, head, events, done };
  int fd = -1;
  phase at = phase::connecting;
  std::string in;
};

event_streams::event_streams(uint16_t port, std::string target, size_t n)
    : port_(port), target_(std::move(target)), n_(n) {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_ < 0 || wake_ < 0)
    fail("epoll");
  epoll_event wev{};
  wev.events = EPOLLIN;
  wev.data.ptr = nullptr;
  epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &wev);
  auto addr = loopback(port_);
  for (size_t i = 0; i < n_; ++i) {
    auto s = std::make_unique<stream>();
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
      fail("socket (raise the limit of open files)");
    if (connect(s->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
        && errno != EINPROGRESS)
      fail("connect");
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = s.get();
    epoll_ctl(epoll_, EPOLL_CTL_ADD, s->fd, &ev);
    streams_.push_back(std::move(s));
  }
  thread_ = std::thread{[this] { run(); }};
}

event_streams::~event_streams() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_, &one, sizeof one);
  thread_.join();
  for (auto& s : streams_)
    if (s->fd >= 0)
      close(s->fd);
  close(wake_);
  close(epoll_);
}

event_streams::counts event_streams::snapshot() const {
  counts c;
  c.open = counts_.open;
  c.refused = counts_.refused;
  c.closed = counts_.closed;
  c.events = counts_.events;
  c.progress = counts_.progress;
  c.comments = counts_.comments;
  c.bytes = counts_.bytes;
  c.cpu_seconds = static_cast<double>(counts_.cpu_ns.load()) / 1e9;
  return c;
}

std::vector<double> event_streams::progress_delays_ms(uint64_t from,
                                                      uint64_t to) const {
  std::lock_guard<std::mutex> guard{delays_mtx_};
  to = std::min<uint64_t>(to, delays_ms_.size());
  from = std::min(from, to);
  return {delays_ms_.begin() + static_cast<std::ptrdiff_t>(from),
          delays_ms_.begin() + static_cast<std::ptrdiff_t>(to)};
}

bool event_streams::wait_answered(std::chrono::milliseconds limit) const {
  auto deadline = clock_type::now() + limit;
  while (counts_.open + counts_.refused + counts_.closed < n_) {
    if (clock_type::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return true;
}

void event_streams::run() {
  std::string request = "GET " + target_
                        + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Accept: text/event-stream\r\n\r\n";
  std::vector<epoll_event> ready(256);
  for (;;) {
    auto n
      = epoll_wait(epoll_, ready.data(), static_cast<int>(ready.size()), -1);
    for (int i = 0; i < n; ++i) {
      auto* s = static_cast<stream*>(ready[i].data.ptr);
      if (!s)
        return; // woken to stop
      if (s->at == stream::phase::connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (ready[i].events & EPOLLERR)) {
          ++counts_.refused;
          s->at = stream::phase::done;
          epoll_ctl(epoll_, EPOLL_CTL_DEL, s->fd, nullptr);
          continue;
        }
        if (!(ready[i].events & EPOLLOUT))
          continue;
        // A request of a hundred bytes fits any fresh socket's buffer.
        if (send(s->fd, request.data(), request.size(), MSG_NOSIGNAL)
            != static_cast<ssize_t>(request.size())) {
          ++counts_.refused;
          s->at = stream::phase::done;
          epoll_ctl(epoll_, EPOLL_CTL_DEL, s->fd, nullptr);
          continue;
        }
        s->at = stream::phase::head;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.ptr = s;
        epoll_ctl(epoll_, EPOLL_CTL_MOD, s->fd, &ev);
        continue;
      }
      on_readable(*s);
    }
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    counts_.cpu_ns = static_cast<uint64_t>(ts.tv_sec) * 1000000000u
                     + static_cast<uint64_t>(ts.tv_nsec);
  }
}

void event_streams::on_readable(stream& s) {
  char buf[16384];
  for (;;) {
    auto n = recv(s.fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if (n <= 0) {
      if (s.at == stream::phase::events)
        ++counts_.closed;
      else
        ++counts_.refused;
      s.at = stream::phase::done;
      epoll_ctl(epoll_, EPOLL_CTL_DEL, s.fd, nullptr);
      return;
    }
    counts_.bytes += static_cast<uint64_t>(n);
    s.in.append(buf, static_cast<size_t>(n));
  }
  if (s.at == stream::phase::head) {
    auto end = s.in.find("\r\n\r\n");
    if (end == std::string::npos)
      return;
    if (s.in.rfind("HTTP/1.1 200", 0) != 0) {
      ++counts_.refused;
      s.at = stream::phase::done;
      epoll_ctl(epoll_, EPOLL_CTL_DEL, s.fd, nullptr);
      return;
    }
    ++counts_.open;
    s.at = stream::phase::events;
    s.in.erase(0, end + 4);
  }
  // Server-Sent Events: blocks of lines, each block ended by a blank line.
  size_t from = 0;
  size_t end = 0;
  while ((end = s.in.find("\n\n", from)) != std::string::npos) {
    std::string_view block{s.in.data() + from, end - from};
    from = end + 2;
    if (block.starts_with(':')) {
      ++counts_.comments;
      continue;
    }
    constexpr std::string_view tag = "event: ";
    auto at = block.starts_with(tag) ? 0 : block.find("\nevent: ");
    if (at == std::string_view::npos)
      continue; // such as "retry: 2000"
    auto name = block.substr(at + (at == 0 ? 0 : 1) + tag.size());
    name = name.substr(0, name.find('\n'));
    ++counts_.events;
    if (name != "execution_progress")
      continue;
    // "id: <update time in ns>-<job state>"
    double delay = -1;
    if (block.starts_with("id: ")) {
      timespec ts{};
      clock_gettime(CLOCK_REALTIME, &ts);
      auto at = std::strtoull(block.data() + 4, nullptr, 10);
      auto now = static_cast<uint64_t>(ts.tv_sec) * 1000000000u
                 + static_cast<uint64_t>(ts.tv_nsec);
      delay = (static_cast<double>(now) - static_cast<double>(at)) / 1e6;
    }
    {
      std::lock_guard<std::mutex> guard{delays_mtx_};
      delays_ms_.push_back(delay);
    }
    ++counts_.progress;
  }
  s.in.erase(0, from);
}

} // namespace weft::bench
