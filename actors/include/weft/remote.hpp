#pragma once

#include "weft/client.hpp"
#include "weft/network.hpp"
#include "weft/runner.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace weft {
class workflow_endpoint; // weft/workflow_actor.hpp (includes CAF)
} // namespace weft

namespace weft::remote {

/// How to reach an orchestrator (`weft server`) over the network.
struct connect_options : network_options {
  /// How long `connect` keeps trying before it gives up.
  std::chrono::milliseconds patience{std::chrono::seconds{10}};
  /// The job cache of the runners made here that bring none, and what
  /// `jobs().cache(id)` reads: to read a job's cache from this node, the
  /// runners that ran it must use the same store, such as
  /// `make_file_system_cache(dir)` on a directory they all reach. Empty:
  /// each runner keeps an in-memory cache of its own, which no client reads.
  std::shared_ptr<cache_store> cache{};
};

/// A node's connection to a remote orchestrator: runners that execute its
/// tasks and a client for its jobs. Runners and clients reconnect with
/// backoff when the orchestrator restarts and carry on.
class connection {
public:
  struct impl;
  explicit connection(std::shared_ptr<impl> ptr);

  /// A client for the orchestrator's jobs.
  job_client jobs();

  /// For actor programs (include weft/workflow_actor.hpp): this node's
  /// actor system, in which actors talk to the orchestrator over this
  /// connection, the orchestrator's `workflow_actor` as connected, and
  /// `connect_options::cache`. When the orchestrator's node goes away, the
  /// handle's actor is down for good (a monitor reports
  /// `caf::exit_reason::remote_link_unreachable`): `jobs()` reconnects by
  /// itself, an actor program calls `reconnect()`.
  workflow_endpoint workflows() const;

  /// Connects this node to the orchestrator again, after its node went
  /// away (it may have restarted from its journal), and returns the new
  /// handle, which `workflows()` gives from then on. Blocks for up to
  /// `connect_options::patience`: call it from a thread of the program, not
  /// from an actor. Throws as `connect` does.
  workflow_endpoint reconnect();

  /// A runner on this orchestrator (register its tasks, then `start()` or
  /// `run_forever()`). Its cluster must exist there (`weft clusters create`).
  weft::runner make_runner(runner_options opts = {});

  /// "host:port" of the orchestrator.
  const std::string& address() const;

private:
  std::shared_ptr<impl> impl_;
};

/// Connects to the orchestrator at "host:port". Throws `weft::error`:
/// unreachable (nothing answered within `opts.patience`), refused (another
/// protocol version, or a certificate the server does not trust),
/// invalid_argument (a malformed address or unreadable certificates).
connection connect(const std::string& address, connect_options opts = {});

} // namespace weft::remote
