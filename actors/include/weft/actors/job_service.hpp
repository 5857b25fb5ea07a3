#pragma once

// The job service actor: the orchestrator's job index and front door.

#include "weft/cache.hpp"
#include "weft/orchestrator_options.hpp"

#include "weft/actors/cluster_directory.hpp"
#include "weft/actors/interfaces.hpp"
#include "weft/actors/journal.hpp"
#include "weft/core/statistics.hpp"

#include <memory>
#include <vector>

namespace weft {

class metrics;

/// Settings of one orchestrator.
struct orchestrator_config {
  orchestrator_options options{};
  /// Create a cluster when a job or runner first names it (the embedded
  /// default); off, only "default" and clusters created explicitly exist.
  bool create_clusters_on_use = true;
  /// The journal's store, read for finished jobs and the index; null: no
  /// journal, finished jobs are kept in memory (bounded).
  std::shared_ptr<journal_store> store{};
  /// The job cache whose entries retention deletes with their jobs; null:
  /// none reachable from here (a server's runners keep their own).
  std::shared_ptr<cache_store> cache{};
  /// What its jobs count (docs/metrics.md); null: a registry of its own,
  /// which nobody reads.
  std::shared_ptr<weft::metrics> metrics{};
};

/// The job service; with a journal (non-null), submissions are durable
/// before they are acknowledged, `recovered` jobs resume, and what `stats`
/// learns is journaled about once a second. Null `stats`: fresh ones.
job_service_actor spawn_job_service(caf::actor_system& sys,
                                    std::shared_ptr<cluster_directory> dir,
                                    orchestrator_config cfg,
                                    journal_actor journal = {},
                                    std::vector<recovered_job> recovered = {},
                                    std::shared_ptr<core::task_statistics> stats
                                    = nullptr);

/// Journal records of what `stats` learned since the last call.
std::vector<journal_record> statistics_records(core::task_statistics& stats);

} // namespace weft
