#pragma once

// The job actor: one per active job, owner of its task graph.

#include "weft/orchestrator_options.hpp"

#include "weft/actors/cluster_directory.hpp"
#include "weft/actors/interfaces.hpp"
#include "weft/actors/journal.hpp"
#include "weft/core/statistics.hpp"

#include <chrono>
#include <memory>

namespace weft {

class metrics;

/// What the job actors of one orchestrator share.
struct job_environment {
  job_service_actor service;
  std::shared_ptr<cluster_directory> dir;
  journal_actor journal;                        ///< null: no journal
  std::shared_ptr<core::task_statistics> stats; ///< never null
  std::chrono::milliseconds progress_interval
    = orchestrator_options{}.progress_interval;
  /// As orchestrator_config's: when false, a task whose cluster does not
  /// exist waits, QUEUED, until one of that name is created.
  bool create_clusters_on_use = true;
  /// What the job counts (null: a registry of its own, which nobody reads).
  std::shared_ptr<weft::metrics> metrics;
};

job_actor spawn_job(caf::actor_system& sys, job_environment env,
                    recovered_job job);

} // namespace weft
