#pragma once

// What the embedded cluster, the server and remote nodes share: an actor
// system weft owns, an orchestrator's actors, and connecting to a gateway.

#include "weft/actors/job_service.hpp"
#include "weft/actors/journal.hpp"
#include "weft/actors/metrics.hpp"
#include "weft/actors/wire.hpp"
#include "weft/network.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <filesystem>
#include <memory>

namespace weft {

/// An actor system weft created, with the configuration it must not outlive.
struct owned_system {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  /// Every socket of a networked node (see wire.hpp).
  std::unique_ptr<wire> relay;
  bool networked = false;
  bool tls = false;
  ~owned_system() {
    relay.reset(); // closes every connection; CAF sees them end
    sys.reset();   // waits for every actor to finish, then the config goes
  }
};

/// An actor system with weft's types; with `net`, also the middleman
/// (heartbeats, timeouts, the protocol as app identifier) and the wire that
/// owns its sockets, with TLS when `net` names certificates. Throws
/// `weft::error` for unusable certificates.
std::shared_ptr<owned_system> make_system(size_t scheduler_threads,
                                          const network_options* net);

/// One orchestrator's actors: cluster directory, journal, job service.
struct orchestrator {
  caf::actor_system* sys = nullptr;
  std::shared_ptr<cluster_directory> dir;
  journal_actor journal;
  job_service_actor service;
  /// What its jobs learned about task durations and subtasks (journaled).
  std::shared_ptr<core::task_statistics> stats;
  /// What opening the journal dropped (`journal_store::recovery_note`).
  std::string recovery_note;
  /// What its journal, job service, jobs and clusters count
  /// (docs/metrics.md); `scrape_metrics` writes it out.
  std::shared_ptr<weft::metrics> metrics = std::make_shared<weft::metrics>();

  /// Opens the journal (refusing unusable data before anything runs),
  /// replays it, and spawns the actors. Throws `weft::error`.
  void boot(caf::actor_system& sys, const std::filesystem::path& data_dir,
            bool fsync, orchestrator_config cfg);
  /// Stops the service, its jobs and clusters, then the journal (which
  /// releases the data directory).
  void shutdown();
};

/// Connects to the gateway at `addr`, retrying with backoff for up to
/// `patience`, and checks that it speaks weft's protocol. Throws
/// `weft::error` (unreachable, refused) with the last reason.
job_service_actor connect_gateway(owned_system& node,
                                  const network_address& addr,
                                  std::chrono::milliseconds patience);

} // namespace weft
