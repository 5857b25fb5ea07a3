#pragma once

// A child process for multi-process tests: stdout and stderr go to files,
// lines are awaited with a deadline, and the destructor kills what is left.

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <optional>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace weft::test {

class child_process {
public:
  /// `in`, if given, is the file its standard input reads.
  child_process(std::vector<std::string> args, std::filesystem::path out,
                const std::filesystem::path& in = {})
      : out_(std::move(out)), err_(out_.string() + ".err") {
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (!in.empty())
      posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    auto rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
      pid_ = -1;
  }

  ~child_process() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  bool started() const noexcept {
    return pid_ > 0;
  }

  /// True while it has not exited (reaps it when it has).
  bool running() {
    if (pid_ <= 0 || status_)
      return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = status;
      return false;
    }
    return true;
  }

  void signal(int sig) {
    if (running())
      ::kill(pid_, sig);
  }

  /// Waits for it to exit; its exit code, 128 + signal if a signal ended
  /// it, or -1 if it was still running at the deadline.
  int wait(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (running() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    if (running())
      return -1;
    if (!status_)
      return -1;
    if (WIFSIGNALED(*status_))
      return 128 + WTERMSIG(*status_);
    return WEXITSTATUS(*status_);
  }

  /// Kills it with SIGKILL and reaps it.
  void kill() {
    signal(SIGKILL);
    wait(std::chrono::seconds{10});
  }

  /// The first stdout line containing `needle`, waiting up to `limit`.
  std::optional<std::string> await_line(const std::string& needle,
                                        std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      std::ifstream in{out_};
      std::string line;
      while (std::getline(in, line))
        if (line.find(needle) != std::string::npos)
          return line;
      if (!running() || std::chrono::steady_clock::now() > deadline)
        return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
  }

  std::string output() const {
    std::ifstream in{out_};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string errors() const {
    std::ifstream in{err_};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path out_;
  std::filesystem::path err_;
};

} // namespace weft::test
