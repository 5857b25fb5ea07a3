#pragma once

// The cluster actor: its ready queue across jobs (core::dispatch_queue)
// and credit-based dispatch to its runners.

#include "weft/actors/interfaces.hpp"

#include <memory>
#include <string>

namespace weft {

class metrics;

/// The cluster `name`, counting what it dispatches into `registry` (null:
/// a registry of its own, which nobody reads).
cluster_actor spawn_cluster(caf::actor_system& sys, std::string name,
                            std::shared_ptr<metrics> registry = nullptr);

} // namespace weft
