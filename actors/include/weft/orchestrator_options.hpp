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
};

} // namespace weft
