#pragma once

// Servers, runner processes and clients of the multi-process tests: every
// process on 127.0.0.1 with port 0, awaited with deadlines, killed at scope
// exit.

#include "process.hpp"
#include "temp_dir.hpp"

#include <weft/certs.hpp>
#include <weft/remote.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace weft::test {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct server_process {
  std::unique_ptr<child_process> proc;
  std::string host; ///< as the server prints it; IPv6 in brackets
  uint16_t port = 0;

  std::string address() const {
    return host + ":" + std::to_string(port);
  }
};

/// Starts `weft server` and reads the address it prints.
inline server_process start_server(const fs::path& dir,
                                   const std::string& listen,
                                   std::vector<std::string> extra = {}) {
  std::vector<std::string> args{WEFT_CLI, "server", "--listen", listen};
  for (auto& x : extra)
    args.push_back(x);
  static int n = 0;
  server_process s;
  s.proc = std::make_unique<child_process>(
    args, dir / ("server-" + std::to_string(++n) + ".out"));
  REQUIRE(s.proc->started());
  auto line = s.proc->await_line("listening on", 30s);
  INFO("server stderr: " << s.proc->errors());
  REQUIRE(line.has_value());
  auto words = line->substr(line->find("listening on ") + 13);
  words = words.substr(0, words.find(' '));
  auto colon = words.rfind(':');
  s.host = words.substr(0, colon);
  s.port = static_cast<uint16_t>(std::stoul(words.substr(colon + 1)));
  return s;
}

inline std::unique_ptr<child_process> start_runner(
  const fs::path& dir, const std::string& address, const std::string& cluster,
  const std::string& name, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{WEFT_REMOTE_WORKER, address,
                                "--cluster",        cluster,
                                "--name",           name};
  for (auto& x : extra)
    args.push_back(x);
  auto proc = std::make_unique<child_process>(args, dir / (name + ".out"));
  REQUIRE(proc->started());
  auto line = proc->await_line("ready", 30s);
  INFO("runner " << name << " stderr: " << proc->errors());
  REQUIRE(line.has_value());
  return proc;
}

/// The port of the HTTP listener a `weft server --http` process announces.
inline uint16_t http_port_of(child_process& proc) {
  auto line = proc.await_line("HTTP API at", 30s);
  INFO("server stderr: " << proc.errors());
  REQUIRE(line.has_value());
  auto rest = line->substr(line->find("://") + 3);
  rest = rest.substr(0, rest.find('/'));
  return static_cast<uint16_t>(std::stoul(rest.substr(rest.rfind(':') + 1)));
}

inline weft::remote::connection connect(const std::string& address,
                                        weft::tls_options tls = {}) {
  weft::remote::connect_options opts;
  opts.tls = std::move(tls);
  opts.scheduler_threads = 2;
  opts.patience = 10s;
  return weft::remote::connect(address, opts);
}

/// The root task of the worker's Spread workflow, submitted by name.
inline weft::task_input spread(uint32_t leaves, uint32_t sleep_ms,
                               std::vector<std::string> clusters) {
  std::string list;
  for (const auto& c : clusters)
    list += (list.empty() ? "\"" : ",\"") + c + "\"";
  return {{"Spread", "v1.0"},
          "{\"leaves\":" + std::to_string(leaves) + ",\"sleep_ms\":"
            + std::to_string(sleep_ms) + ",\"clusters\":[" + list + "]}"};
}

inline weft::task_input leaf(uint32_t index, uint32_t sleep_ms,
                             std::string version = "v1.0") {
  return {{"Leaf", std::move(version)},
          "{\"index\":" + std::to_string(index)
            + ",\"sleep_ms\":" + std::to_string(sleep_ms) + "}"};
}

/// Polls until `pred(find(id))` or the deadline.
template <class Pred>
bool await_job(weft::job_client& jobs, const std::string& id, Pred pred,
               std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(jobs.find(id)))
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

/// A CA with a server and a node certificate, and a rogue CA with a
/// certificate of its own.
struct test_pki {
  fs::path certs;
  fs::path rogue;
  weft::certificate_files server_cert;
  weft::certificate_files node_cert;
  weft::certificate_files rogue_cert;
  std::string ca;

  explicit test_pki(const fs::path& dir)
      : certs(dir / "certs"), rogue(dir / "rogue") {
    weft::make_certificate_authority(certs);
    server_cert = weft::issue_certificate(certs, "server");
    node_cert = weft::issue_certificate(certs, "node");
    weft::make_certificate_authority(rogue);
    rogue_cert = weft::issue_certificate(rogue, "intruder");
    ca = (certs / "ca.pem").string();
  }
};

} // namespace weft::test
