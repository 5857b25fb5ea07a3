#pragma once

#include "weft/actors/interfaces.hpp"

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace weft {

/// The orchestrator's clusters by name, created on first use. Shared by the
/// job service and the job actors of one orchestrator (same process), so a
/// job can route a task without a round trip.
class cluster_directory {
public:
  explicit cluster_directory(caf::actor_system& sys) : sys_(sys) {
  }

  /// The cluster named `name`, spawning it if it does not exist yet.
  cluster_actor get(const std::string& name);

  /// The cluster named `name`, or a null handle.
  cluster_actor find(const std::string& name) const;

  /// Forgets a cluster and stops its actor; false if there was none.
  bool remove(const std::string& name);

  std::vector<std::string> names() const;

  /// Stops every cluster actor (orchestrator shutdown).
  void shutdown();

private:
  caf::actor_system& sys_;
  mutable std::mutex mtx_;
  std::map<std::string, cluster_actor> clusters_;
};

} // namespace weft
