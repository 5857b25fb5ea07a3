#pragma once

#include "weft/orchestrator_options.hpp"

#include "weft/actors/fwd.hpp"
#include "weft/actors/journal.hpp"
#include "weft/core/statistics.hpp"

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

/// Settings of one orchestrator.
struct orchestrator_config {
  orchestrator_options options{};
  /// Create a cluster when a job or runner first names it (the embedded
  /// default); off, only "default" and clusters created explicitly exist.
  bool create_clusters_on_use = true;
};

cluster_actor spawn_cluster(caf::actor_system& sys, std::string name);

/// The job service; with a journal (non-null), submissions are durable
/// before they are acknowledged, `recovered` jobs resume, and what `stats`
/// learns is journaled about once a second. Null `stats`: fresh ones.
job_service_actor spawn_job_service(
  caf::actor_system& sys, std::shared_ptr<cluster_directory> dir,
  orchestrator_config cfg, journal_actor journal = {},
  std::vector<recovered_job> recovered = {},
  std::shared_ptr<core::task_statistics> stats = nullptr);

/// What the job actors of one orchestrator share.
struct job_environment {
  job_service_actor service;
  std::shared_ptr<cluster_directory> dir;
  journal_actor journal;  ///< null: no journal
  std::shared_ptr<core::task_statistics> stats;  ///< never null
  std::chrono::milliseconds progress_interval =
    orchestrator_options{}.progress_interval;
};

job_actor spawn_job(caf::actor_system& sys, job_environment env,
                    recovered_job job);

/// Journal records of what `stats` learned since the last call.
std::vector<journal_record> statistics_records(core::task_statistics& stats);

} // namespace weft
