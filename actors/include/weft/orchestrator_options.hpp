#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>

namespace weft {

/// What every orchestrator takes, embedded (`local_cluster_options`) or as
/// a server (`server_options`): each default is written here and nowhere
/// else.
struct orchestrator_options {
  /// Where the orchestrator journals every transition (RocksDB); empty: no
  /// journal, jobs live in memory only. An existing directory is replayed:
  /// unfinished jobs resume. A damaged directory, one from a newer weft or
  /// one in use by another process is refused with `weft::error`.
  std::filesystem::path data_dir{};
  /// Sync each journal batch to disk before acknowledging it; off, a
  /// machine crash (not a process crash) may lose acknowledged events.
  bool fsync = true;
  /// The largest input of a root task, in bytes of JSON.
  size_t max_input_bytes = 1 << 20;
  /// How often a running job sends its watchers what changed.
  std::chrono::milliseconds progress_interval{std::chrono::seconds{2}};

  // -- finished jobs (docs/journal.md, "Live and finished jobs") ----------

  /// How long a finished job's actor stays in memory after its final state
  /// is durable; later requests load it back from its snapshot.
  std::chrono::seconds finished_linger{60};
  /// At most this many finished jobs keep an actor in memory (the longest
  /// at rest leave first) ...
  size_t finished_in_memory = 1000;
  /// ... holding at most about this many bytes of task graphs.
  size_t finished_in_memory_bytes = size_t{64} << 20;
  /// Without a data directory: how many finished jobs are kept at all
  /// (their graphs in memory); the oldest finished are dropped first.
  size_t finished_kept_without_data_dir = 10000;
  /// Finished jobs submitted longer ago than this are deleted with their
  /// snapshots and job-cache entries, in the background; zero: kept.
  std::chrono::seconds retention{0};
};

} // namespace weft
