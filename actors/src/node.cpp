#include "weft/actors/node.hpp"

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <dlfcn.h>

#include <fstream>
#include <thread>

// CAF 0.17.6's TLS sessions never drain OpenSSL's per-thread error queue
// after a failed call (the draining code sits in log statements that
// Debian's build compiles out). One failed handshake, say from a node with
// a foreign certificate, then leaves an error that the next SSL_get_error
// on the same I/O thread reports for a healthy connection, which CAF then
// closes. Wrapping SSL_get_error to clear the queue once a failure has been
// reported keeps one bad peer from disconnecting the others.
extern "C" int SSL_get_error(const SSL* ssl, int ret) {
  using real_fn = int (*)(const SSL*, int);
  static const auto real =
    reinterpret_cast<real_fn>(dlsym(RTLD_NEXT, "SSL_get_error"));
  auto code = real(ssl, ret);
  if (code == SSL_ERROR_SSL || code == SSL_ERROR_SYSCALL)
    ERR_clear_error();
  return code;
}

namespace weft {

namespace {

void check_readable(const std::filesystem::path& file, const char* what) {
  std::ifstream in{file};
  if (file.empty() || !in)
    throw error(errc::invalid_argument,
                std::string{"cannot read the TLS "} + what + " "
                  + (file.empty() ? std::string{"(none given)"}
                                  : file.string())
                  + ": give --cert, --key and --ca together (make them with "
                    "`weft certs init` and `weft certs issue NAME`)");
}

} // namespace

network_address parse_address(const std::string& text, bool allow_any_port) {
  auto colon = text.rfind(':');
  auto bad = [&](const std::string& why) {
    return error(errc::invalid_argument,
                 "address \"" + text + "\" " + why
                   + ": write HOST:PORT, e.g. 127.0.0.1:7100");
  };
  if (colon == std::string::npos || colon == 0)
    throw bad("has no host or no port");
  network_address addr;
  addr.host = text.substr(0, colon);
  if (addr.host.size() > 2 && addr.host.front() == '['
      && addr.host.back() == ']')
    addr.host = addr.host.substr(1, addr.host.size() - 2);
  auto port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5
      || port.find_first_not_of("0123456789") != std::string::npos)
    throw bad("has no valid port");
  auto n = std::stoul(port);
  if (n > 65535 || (n == 0 && !allow_any_port))
    throw bad("has a port outside 1-65535");
  addr.port = static_cast<uint16_t>(n);
  return addr;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::shared_ptr<owned_system> make_system(size_t scheduler_threads,
                                          const network_options* net) {
  auto own = std::make_shared<owned_system>();
  auto& cfg = own->cfg;
  add_weft_types(cfg);
  if (scheduler_threads > 0)
    cfg.set("scheduler.max-threads", scheduler_threads);
  if (net != nullptr) {
    own->networked = true;
    cfg.load<caf::io::middleman>();
    cfg.set("middleman.app-identifiers",
            std::vector<std::string>{protocol_version});
    cfg.set("middleman.heartbeat-interval", caf::timespan{net->heartbeat});
    cfg.set("middleman.connection-timeout",
            caf::timespan{net->connection_timeout});
    if (net->tls.enabled()) {
      check_readable(net->tls.certificate, "certificate");
      check_readable(net->tls.key, "key");
      check_readable(net->tls.ca, "CA certificate");
      cfg.load<caf::openssl::manager>();
      cfg.openssl_certificate = net->tls.certificate.string();
      cfg.openssl_key = net->tls.key.string();
      cfg.openssl_cafile = net->tls.ca.string();
      own->tls = true;
    }
  }
  own->sys = std::make_unique<caf::actor_system>(cfg);
  return own;
}

void orchestrator::boot(caf::actor_system& s,
                        const std::filesystem::path& data_dir, bool fsync,
                        orchestrator_config cfg) {
  sys = &s;
  stats = std::make_shared<core::task_statistics>();
  std::vector<recovered_job> recovered;
  std::vector<std::string> clusters;
  if (!data_dir.empty()) {
    // Refuses (throws) before anything runs if the directory is unusable.
    auto store = journal_store::open({data_dir, fsync});
    recovery_note = store->recovery_note();
    recovered = recover_jobs(*store);
    clusters = store->clusters();
    recover_statistics(*store, *stats);
    journal = spawn_journal(s, std::move(store));
  }
  dir = std::make_shared<cluster_directory>(s);
  dir->get("default");
  for (const auto& name : clusters)
    dir->get(name);
  service = spawn_job_service(s, dir, cfg, journal, std::move(recovered),
                              stats);
}

void orchestrator::shutdown() {
  if (sys == nullptr || !service)
    return;
  caf::scoped_actor self{*sys};
  self->monitor(service);
  self->send_exit(service, caf::exit_reason::user_shutdown);
  self->receive([](caf::down_msg&) {});
  service = job_service_actor{};
  dir->shutdown();
  if (journal) {
    // What was learned since the service's last write goes first.
    auto records = statistics_records(*stats);
    if (!records.empty())
      self->request(journal, std::chrono::seconds{10}, atom::append_v,
                    std::move(records))
        .receive([](uint64_t) {}, [](caf::error&) {});
    // Wait for it: the store's lock is released when it is gone.
    self->monitor(journal);
    self->send_exit(journal, caf::exit_reason::user_shutdown);
    self->receive([](caf::down_msg&) {});
    // Its thread ends only once no handle to it is left.
    journal = journal_actor{};
  }
}

job_service_actor connect_gateway(owned_system& node,
                                  const network_address& addr,
                                  std::chrono::milliseconds patience) {
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + patience;
  auto backoff = std::chrono::milliseconds{100};
  auto where = addr.host + ":" + std::to_string(addr.port);
  std::string last;
  for (;;) {
    auto hdl = node.tls ? caf::openssl::remote_actor<job_service_actor>(
                            *node.sys, addr.host, addr.port)
                        : node.sys->middleman().remote_actor<job_service_actor>(
                            addr.host, addr.port);
    if (hdl) {
      caf::scoped_actor self{*node.sys};
      caf::error err;
      self
        ->request(*hdl, std::chrono::seconds{10}, atom::hello_v,
                  std::string{protocol_version})
        .receive([](std::string&) {}, [&](caf::error& e) { err = e; });
      if (!err)
        return *hdl;
      if (err.category() == caf::atom("weft"))
        throw to_weft_error(err);
      last = caf::to_string(err);
    } else {
      const auto& err = hdl.error();
      if (err == caf::sec::incompatible_application_ids
          || err == caf::sec::incompatible_versions)
        throw error(errc::refused,
                    "the orchestrator at " + where
                      + " speaks another protocol than this node ("
                      + protocol_version
                      + "): run the same weft release on both");
      if (err == caf::sec::unexpected_actor_messaging_interface)
        throw error(errc::refused,
                    "the service at " + where
                      + " is not a weft orchestrator of this release");
      last = node.sys->render(err);
    }
    if (clock::now() + backoff > deadline)
      throw error(errc::unreachable,
                  "cannot reach the weft orchestrator at " + where + " ("
                    + last + "): is `weft server` running there"
                    + (node.tls ? ", and does it trust this node's "
                                  "certificate?"
                                : "?"));
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds{2000});
  }
}

} // namespace weft
