// What no peer may do to a server: crash it, stall it, or exhaust it. A
// `weft server` runs jobs on a runner process while thousands of hostile
// connections (random bytes, every BASP header field mutated, truncated and
// oversized handshakes, huge length claims, garbage after a valid
// handshake, silent, slow and half-open connections) hit its port, over
// plain TCP and over TLS with and without a CA-signed certificate.

#include "servers.hpp"

#include <weft/actors/basp_frames.hpp>
#include <weft/certs.hpp>

#include <caf/binary_serializer.hpp>
#include <caf/node_id.hpp>
#include <caf/serializer.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <random>

using namespace std::chrono_literals;
using namespace weft::test;
namespace basp = weft::basp;

namespace {

int dial(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  return fd;
}

/// A node id no real node has.
std::string client_handshake_payload(std::mt19937_64& rng) {
  caf::node_id::default_data::host_id_type host;
  for (auto& b : host)
    b = static_cast<uint8_t>(rng());
  auto node = caf::make_node_id(static_cast<uint32_t>(rng() | 1), host);
  std::vector<char> buf;
  caf::binary_serializer sink{static_cast<caf::execution_unit*>(nullptr), buf};
  if (auto err = sink(node))
    FAIL("cannot serialize a node id");
  return {buf.begin(), buf.end()};
}

std::string client_handshake(std::mt19937_64& rng) {
  auto payload = client_handshake_payload(rng);
  basp::header h;
  h.operation = static_cast<uint8_t>(basp::operation::client_handshake);
  h.payload_len = static_cast<uint32_t>(payload.size());
  return basp::encode_header(h) + payload;
}

std::string random_bytes(std::mt19937_64& rng, size_t n) {
  std::string out(n, '\0');
  for (auto& c : out)
    c = static_cast<char>(rng());
  return out;
}

/// One peer's connection: plain, or TLS with the given context.
class peer {
public:
  peer(uint16_t port, SSL_CTX* tls) : fd_(dial(port)) {
    if (fd_ < 0 || tls == nullptr)
      return;
    ssl_ = SSL_new(tls);
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) {
      ERR_clear_error();
      tls_failed_ = true;
    }
  }
  ~peer() {
    if (ssl_ != nullptr)
      SSL_free(ssl_);
    if (fd_ >= 0)
      ::close(fd_);
  }
  peer(const peer&) = delete;
  peer& operator=(const peer&) = delete;

  bool usable() const {
    return fd_ >= 0 && !tls_failed_;
  }
  bool tls_failed() const {
    return tls_failed_;
  }
  int fd() const {
    return fd_;
  }

  /// False once the server closed the connection.
  bool send(const std::string& bytes) {
    if (!usable())
      return false;
    if (ssl_ != nullptr) {
      ERR_clear_error();
      bool ok
        = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) > 0;
      ERR_clear_error();
      return ok;
    }
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL)
           == static_cast<ssize_t>(bytes.size());
  }

  /// Reads what arrives within `wait`; false when the server closed.
  bool drain(std::chrono::milliseconds wait) {
    if (!usable())
      return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(wait.count())) <= 0)
      return true;
    char buf[4096];
    if (ssl_ != nullptr) {
      ERR_clear_error();
      int n = SSL_read(ssl_, buf, sizeof(buf));
      ERR_clear_error();
      return n > 0;
    }
    return ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT) > 0;
  }

  void half_close() {
    if (fd_ >= 0)
      ::shutdown(fd_, SHUT_WR);
  }

private:
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  bool tls_failed_ = false;
};

/// One hostile connection of kind `kind`.
void attack(uint16_t port, SSL_CTX* tls, int kind, std::mt19937_64& rng) {
  peer p{port, tls};
  if (!p.usable())
    return;
  switch (kind) {
    case 0: // random bytes
      p.send(random_bytes(rng, 1 + rng() % 2048));
      break;
    case 1: { // a client handshake with one header field mutated
      auto payload = client_handshake_payload(rng);
      basp::header h;
      h.operation = static_cast<uint8_t>(basp::operation::client_handshake);
      h.payload_len = static_cast<uint32_t>(payload.size());
      switch (rng() % 8) {
        case 0: h.operation = static_cast<uint8_t>(rng()); break;
        case 1: h.padding1 = static_cast<uint8_t>(rng() | 1); break;
        case 2: h.padding2 = static_cast<uint8_t>(rng() | 1); break;
        case 3: h.flags = static_cast<uint8_t>(rng()); break;
        case 4: h.payload_len = static_cast<uint32_t>(rng()); break;
        case 5: h.operation_data = rng(); break;
        case 6: h.source_actor = rng(); break;
        case 7: h.dest_actor = rng(); break;
      }
      p.send(basp::encode_header(h) + payload);
      p.drain(20ms);
      break;
    }
    case 2: { // a truncated handshake
      auto hs = client_handshake(rng);
      p.send(hs.substr(0, 1 + rng() % (hs.size() - 1)));
      break;
    }
    case 3: { // an oversized handshake claim, and a little of it
      basp::header h;
      h.operation = static_cast<uint8_t>(basp::operation::client_handshake);
      h.payload_len = static_cast<uint32_t>(basp::max_handshake_payload + 1
                                            + rng() % (1u << 30));
      p.send(basp::encode_header(h) + random_bytes(rng, 4096));
      break;
    }
    case 4: { // a huge length claim in any operation
      basp::header h;
      h.operation = static_cast<uint8_t>(rng() % 7);
      h.payload_len = 0xFFFFFFF0u;
      h.operation_data = rng() % 2 == 0 ? 1 : 0;
      h.dest_actor = rng() % 2;
      p.send(basp::encode_header(h));
      break;
    }
    case 5: { // a valid handshake, then frames with random headers
      p.send(client_handshake(rng));
      for (int i = 0; i < 20; ++i) {
        basp::header h;
        h.operation = static_cast<uint8_t>(rng() % 8);
        h.flags = static_cast<uint8_t>(rng() % 4);
        auto len = static_cast<uint32_t>(rng() % 512);
        h.payload_len = rng() % 16 == 0 ? static_cast<uint32_t>(rng()) : len;
        h.operation_data = rng() % 3 == 0 ? rng() : 0;
        h.source_actor = rng() % 3 == 0 ? rng() % 100 : 0;
        h.dest_actor = rng() % 3 == 0 ? rng() % 100 : 0;
        if (!p.send(basp::encode_header(h) + random_bytes(rng, len)))
          break;
      }
      p.drain(20ms);
      break;
    }
    case 6: { // a valid handshake, then a second one of the other kind
      p.send(client_handshake(rng));
      basp::header h;
      h.operation = static_cast<uint8_t>(basp::operation::server_handshake);
      h.operation_data = basp::version;
      h.payload_len = 0;
      p.send(basp::encode_header(h));
      p.drain(20ms);
      break;
    }
    case 7: { // a valid handshake, then the connection half-closed
      p.send(client_handshake(rng));
      p.half_close();
      p.drain(50ms);
      break;
    }
    default: // a valid handshake and gone
      p.send(client_handshake(rng));
      break;
  }
}

SSL_CTX* client_context(const weft::certificate_files* cert,
                        const std::string& ca) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (cert != nullptr) {
    SSL_CTX_use_certificate_chain_file(ctx, cert->certificate.c_str());
    SSL_CTX_use_PrivateKey_file(ctx, cert->key.c_str(), SSL_FILETYPE_PEM);
  }
  SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr);
  return ctx;
}

struct context_deleter {
  void operator()(SSL_CTX* ctx) const {
    SSL_CTX_free(ctx);
  }
};
using context_ptr = std::unique_ptr<SSL_CTX, context_deleter>;

/// Runs `weft jobs` every few hundred milliseconds until `stop`, keeping the
/// slowest answer.
struct cli_probe {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> slowest_ms{0};
  std::atomic<int> calls{0};
  std::atomic<int> failures{0};
  std::thread thread;

  cli_probe(fs::path dir, std::string address, std::vector<std::string> tls) {
    thread = std::thread{[this, dir, address, tls] {
      while (!stop) {
        std::vector<std::string> args{WEFT_CLI, "jobs", "--server", address};
        args.insert(args.end(), tls.begin(), tls.end());
        auto t0 = std::chrono::steady_clock::now();
        child_process cli{args, dir / "probe.out"};
        auto rc = cli.wait(10s);
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - t0)
                    .count();
        if (rc != 0)
          ++failures;
        ++calls;
        if (ms > slowest_ms)
          slowest_ms = ms;
        std::this_thread::sleep_for(250ms);
      }
    }};
  }
  ~cli_probe() {
    stop = true;
    thread.join();
  }
};

/// The whole barrage against one server; `tls` is the signed peers'
/// context (null for plain TCP), `refused` contexts fail their handshake.
void barrage(const fs::path& dir, server_process& srv, child_process& runner,
             weft::job_client& jobs, std::vector<std::string> cli_tls,
             SSL_CTX* tls, std::vector<SSL_CTX*> refused, int connections) {
  auto first = jobs.submit("under fire", {spread(150, 60, {"default"})});
  std::vector<int> silent;
  for (int i = 0; i < 20; ++i)
    silent.push_back(dial(srv.port));
  cli_probe probe{dir, srv.address(), cli_tls};
  // Slow peers trickle a valid handshake until the server gives up on them.
  std::atomic<int> slow_closed{0};
  std::vector<std::thread> slow;
  for (int t = 0; t < 3; ++t)
    slow.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      peer p{srv.port, tls};
      auto hs = client_handshake(rng);
      for (char c : hs) {
        if (!p.send(std::string(1, c))) {
          ++slow_closed;
          return;
        }
        std::this_thread::sleep_for(300ms);
      }
    });
  std::atomic<int> next{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t)
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(7 + t);
      for (int i = next++; i < connections; i = next++) {
        auto kind = static_cast<int>(rng() % 9);
        if (!refused.empty() && rng() % 5 == 0)
          attack(srv.port, refused[rng() % refused.size()], 0, rng);
        else if (tls != nullptr && rng() % 8 == 0)
          attack(srv.port, nullptr, kind, rng); // BASP without TLS
        else
          attack(srv.port, tls, kind, rng);
      }
    });
  for (auto& w : workers)
    w.join();
  for (auto& s : slow)
    s.join();
  // The silent connections were closed by the server, not by us.
  int closed = 0;
  for (int fd : silent) {
    char c;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) == 1 && ::recv(fd, &c, 1, MSG_DONTWAIT) <= 0)
      ++closed;
    ::close(fd);
  }
  auto second = jobs.submit("after the fire", {spread(40, 0, {"default"})});
  probe.stop = true;
  CHECK(srv.proc->running());
  INFO("server stderr: " << srv.proc->errors().substr(0, 2000));
  CHECK(closed == 20);
  CHECK(slow_closed == 3);
  for (const auto& id : {first.id, second.id}) {
    CHECK(jobs.wait(id, 90s).state == weft::job_state::completed);
    for (const auto& task : jobs.tasks(id)) {
      CHECK(task.state == weft::task_state::computed);
      CHECK(task.attempts == 1);
      CHECK(task.runner_losses == 0);
    }
  }
  CHECK_THAT(runner.errors(), !Catch::Contains("lost the orchestrator"));
  CHECK(probe.failures == 0);
  CHECK(probe.calls > 3);
  WARN(connections << " hostile connections; " << probe.calls
                   << " CLI calls, the slowest answered in " << probe.slowest_ms
                   << " ms");
  CHECK(probe.slowest_ms < 1000);
  // Refusals are logged, a few lines a second.
  CHECK_THAT(srv.proc->errors(), Catch::Contains("closed the connection"));
}

} // namespace

TEST_CASE("fuzz: hostile connections over plain TCP neither crash nor stall "
          "the server",
          "[fuzz]") {
  temp_dir dir;
  auto srv = start_server(dir.path, "127.0.0.1:0",
                          {"--data", (dir.path / "data").string()});
  auto runner = start_runner(dir.path, srv.address(), "default", "steady",
                             {"--slots", "4"});
  std::optional<weft::remote::connection> conn;
  try {
    conn.emplace(connect(srv.address()));
  } catch (const std::exception& e) {
    // Should the server be gone, its own words and exit status say why.
    FAIL(e.what() << "; server running: " << srv.proc->running()
                  << ", exit status " << srv.proc->wait(0ms)
                  << ", stderr: " << srv.proc->errors().substr(0, 2000));
  }
  auto jobs = conn->jobs();
  barrage(dir.path, srv, *runner, jobs, {}, nullptr, {}, 2500);
}

TEST_CASE("fuzz: hostile connections over TLS, signed or not, neither crash "
          "nor stall the server",
          "[fuzz]") {
  temp_dir dir;
  test_pki pki{dir.path};
  const auto& [certs, rogue, server_cert, node_cert, rogue_cert, ca] = pki;
  std::vector<std::string> tls_args{"--cert", node_cert.certificate.string(),
                                    "--key",  node_cert.key.string(),
                                    "--ca",   ca};
  std::vector<std::string> server_args{
    "--cert", server_cert.certificate.string(),
    "--key",  server_cert.key.string(),
    "--ca",   ca,
    "--data", (dir.path / "data").string()};
  auto srv = start_server(dir.path, "127.0.0.1:0", server_args);
  auto runner_args = tls_args;
  runner_args.insert(runner_args.end(), {"--slots", "4"});
  auto runner
    = start_runner(dir.path, srv.address(), "default", "steady", runner_args);
  auto conn
    = connect(srv.address(), {node_cert.certificate, node_cert.key, ca});
  auto jobs = conn.jobs();
  context_ptr signed_ctx{client_context(&node_cert, ca)};
  context_ptr unsigned_ctx{client_context(nullptr, ca)};
  context_ptr rogue_ctx{client_context(&rogue_cert, ca)};
  barrage(dir.path, srv, *runner, jobs, tls_args, signed_ctx.get(),
          {unsigned_ctx.get(), rogue_ctx.get()}, 1200);
}

TEST_CASE("fuzz: silent connections beyond max_connections cannot lock out "
          "nodes that speak",
          "[fuzz]") {
  temp_dir dir;
  auto srv = start_server(dir.path, "127.0.0.1:0",
                          {"--max-connections", "30", "--handshake-timeout-ms",
                           "60000"});
  auto runner = start_runner(dir.path, srv.address(), "default", "steady");
  std::vector<int> silent;
  for (int i = 0; i < 80; ++i)
    silent.push_back(dial(srv.port));
  // The oldest silent ones gave way; a client and the runner still work.
  for (int i = 0; i < 3; ++i) {
    child_process cli{{WEFT_CLI, "jobs", "--server", srv.address()},
                      dir.path / "cli.out"};
    CHECK(cli.wait(10s) == 0);
  }
  auto conn = connect(srv.address());
  auto jobs = conn.jobs();
  auto job = jobs.submit("crowded", {spread(10, 0, {"default"})});
  CHECK(jobs.wait(job.id, 60s).state == weft::job_state::completed);
  CHECK_THAT(srv.proc->errors(), Catch::Contains("to make room"));
  CHECK_THAT(runner->errors(), !Catch::Contains("lost the orchestrator"));
  for (int fd : silent)
    if (fd >= 0)
      ::close(fd);
}

TEST_CASE("fuzz: a maximum message size below what runners send is refused "
          "at start",
          "[fuzz]") {
  temp_dir dir;
  child_process srv{{WEFT_CLI, "server", "--listen", "127.0.0.1:0",
                     "--max-message-bytes", "1000000"},
                    dir.path / "small.out"};
  CHECK(srv.wait(30s) == 1);
  CHECK_THAT(srv.errors(), Catch::Contains("at least 40 MiB"));
}
