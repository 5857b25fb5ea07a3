#include "bench_watch.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace weft::bench {

using clock_type = std::chrono::steady_clock;

watch_processes::watch_processes(const std::string& program,
                                 const std::string& job_id,
                                 const std::string& server, uint32_t n) {
  std::vector<std::string> words{program, "watch", job_id, "--server", server};
  std::vector<char*> argv;
  for (auto& w : words)
    argv.push_back(w.data());
  argv.push_back(nullptr);
  for (uint32_t i = 0; i < n; ++i) {
    // Both ends close on exec: a later watcher must not inherit an earlier
    // one's write end, or that pipe would not end with its process. The
    // dup2 onto standard output is what the child keeps.
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      auto err = std::string{std::strerror(errno)};
      finish(std::chrono::milliseconds{0});
      throw std::runtime_error("pipe: " + err);
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null",
                                     O_WRONLY, 0);
    pid_t pid = -1;
    auto rc
      = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      finish(std::chrono::milliseconds{0});
      throw std::runtime_error("cannot start " + program + ": "
                               + std::strerror(rc));
    }
    pids_.push_back(pid);
    outs_.push_back(fds[0]);
  }
  reader_ = std::thread{[this] { read_all(); }};
}

watch_processes::~watch_processes() {
  finish(std::chrono::milliseconds{0});
}

void watch_processes::read_all() {
  std::vector<pollfd> open;
  for (int fd : outs_)
    open.push_back({fd, POLLIN, 0});
  char buf[16 * 1024];
  // Every pipe ends when its process does, killed or not: no other wake-up
  // is needed.
  while (!open.empty()) {
    if (poll(open.data(), open.size(), -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    for (auto& p : open) {
      if (p.revents == 0)
        continue;
      auto n = read(p.fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n > 0) {
        lines_ += static_cast<uint64_t>(std::count(buf, buf + n, '\n'));
        continue;
      }
      close(p.fd);
      p.fd = -1;
    }
    std::erase_if(open, [](const pollfd& p) { return p.fd < 0; });
  }
  for (auto& p : open)
    close(p.fd);
}

watch_processes::outcome watch_processes::finish(
  std::chrono::milliseconds limit) {
  if (finished_)
    return outcome_;
  finished_ = true;
  auto deadline = clock_type::now() + limit;
  std::vector<bool> gone(pids_.size(), false);
  auto reap = [&] {
    bool all = true;
    for (size_t i = 0; i < pids_.size(); ++i) {
      if (gone[i])
        continue;
      int status = 0;
      if (waitpid(pids_[i], &status, WNOHANG) == pids_[i]) {
        gone[i] = true;
        ++outcome_.exited;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
          ++outcome_.ok;
      } else {
        all = false;
      }
    }
    return all;
  };
  while (!reap() && clock_type::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  for (size_t i = 0; i < pids_.size(); ++i)
    if (!gone[i]) {
      kill(pids_[i], SIGKILL);
      waitpid(pids_[i], nullptr, 0);
      ++outcome_.killed;
    }
  if (reader_.joinable())
    reader_.join();
  else
    for (int fd : outs_) // failed while starting: no reader took them
      close(fd);
  outcome_.lines = lines_;
  return outcome_;
}

} // namespace weft::bench
