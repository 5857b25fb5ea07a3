#pragma once

#include "weft/actors/interfaces.hpp"

#include <caf/actor_addr.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace weft {

class metrics;

/// The orchestrator's clusters by name, created on first use. Shared by the
/// job service and the job actors of one orchestrator (same process), so a
/// job can route a task without a round trip.
class cluster_directory {
public:
  /// Its clusters count what they dispatch into `registry` (null: one of
  /// their own).
  explicit cluster_directory(caf::actor_system& sys,
                             std::shared_ptr<metrics> registry = nullptr);

  /// The cluster named `name`, spawning it if it does not exist yet; a new
  /// one is announced to the jobs that wait for it (see find_or_await).
  cluster_actor get(const std::string& name);

  /// The cluster named `name`, or a null handle.
  cluster_actor find(const std::string& name) const;

  /// The cluster named `name`; if there is none, a null handle, and `job`
  /// is told `(cluster, name)` once one of that name is created. One step,
  /// so that a creation in between cannot go unannounced.
  cluster_actor find_or_await(const std::string& name, const job_actor& job);

  /// Forgets a cluster's name; false if there was none. Its actor, deleted
  /// (it refuses work, see cluster.cpp), is not stopped: jobs that hold its
  /// handle learn from it that it is gone. It ends once no handle to it is
  /// left, or at shutdown().
  bool remove(const std::string& name);

  std::vector<std::string> names() const;

  /// Stops every cluster actor (orchestrator shutdown).
  void shutdown();

private:
  caf::actor_system& sys_;
  std::shared_ptr<metrics> metrics_;
  mutable std::mutex mtx_;
  std::map<std::string, cluster_actor> clusters_;
  std::map<std::string, std::set<caf::actor_addr>> awaited_; // jobs, weakly
  std::vector<caf::actor_addr> removed_; // deleted, still running maybe
};

} // namespace weft
