#pragma once

// The cluster actor: its ready queue across jobs (core::dispatch_queue)
// and credit-based dispatch to its runners.

#include "weft/actors/interfaces.hpp"

#include <string>

namespace weft {

cluster_actor spawn_cluster(caf::actor_system& sys, std::string name);

} // namespace weft
