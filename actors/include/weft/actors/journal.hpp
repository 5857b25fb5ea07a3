#pragma once

#include "weft/actors/messages.hpp"
#include "weft/core/journal_event.hpp"
#include "weft/core/statistics.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class WriteBatch;
} // namespace rocksdb

namespace weft {

class metrics;
struct recovered_job;

/// Where and how an orchestrator keeps its journal.
struct journal_options {
  std::filesystem::path dir;
  /// Sync each batch that holds a record asking for it
  /// (`journal_record::sync`) before acknowledging it (the default). Off,
  /// acknowledged events may be lost in a machine crash (not in a process
  /// crash): for throwaway runs and benchmarks only.
  bool fsync = true;
};

/// The journal's store: RocksDB in one directory, events in append order.
class journal_store {
public:
  /// Opens or creates the store. Throws `weft::error`: data_in_use when
  /// another process holds the directory, bad_data when it is damaged, not
  /// a weft directory, or from a newer schema; io_error when the disk is
  /// full or unwritable. The message is one line saying which and what to
  /// do. A refused directory is left byte for byte as it was: it is checked
  /// without writing before RocksDB opens it for writing.
  static std::shared_ptr<journal_store> open(const journal_options& opts);

  /// Flushes what the write-ahead log holds into checksummed tables, so a
  /// stopped journal keeps nothing in the log (docs/journal.md).
  ~journal_store();

  /// Appends encoded events as one write, synced when configured and any
  /// record asks for it (`journal_record::sync`). Throws `weft::error`
  /// (io_error) when the write fails, e.g. on a full disk. The store
  /// resumes by itself (RocksDB's recovery, or a resume before the next
  /// append), so writes work again once the disk has room.
  void append(const std::vector<journal_record>& records);

  /// One line saying what opening dropped (the torn tail of the last
  /// write-ahead log, left by a crash during an unsynced write), or empty.
  const std::string& recovery_note() const noexcept {
    return recovery_note_;
  }

  /// The clusters created (and not deleted) through the journal.
  std::vector<std::string> clusters() const;

  /// The learned task profiles (encoded, see core::decode_profile).
  std::vector<std::string> profiles() const;

  /// Brings jobs from a store written by an earlier release up to this
  /// one before anything runs: an index entry for each job without one,
  /// and a snapshot for each job compacted to a summary (which leaves
  /// `jobs`: it is finished and stays on disk).
  void migrate(std::vector<recovered_job>& jobs);

  /// A finished job's snapshot (an encoded job_snapshot event), if the
  /// store has one.
  std::optional<std::string> snapshot(const std::string& job_id) const;

  /// The job's events among the live ones, in order (empty once it is a
  /// snapshot).
  std::vector<std::string> job_history(const std::string& job_id) const;

  /// Whether the job has an index entry (it was submitted and not deleted
  /// by retention).
  bool indexed(const std::string& job_id) const;

  /// Calls `visit` with the index entries (decoded summaries) in id order,
  /// which is submission order, from just after `cursor` (a job id; empty:
  /// the first or, `newest_first`, the last), until it returns false.
  /// Throws `weft::error` (bad_data) for an entry that does not decode.
  void scan_index(const std::string& cursor, bool newest_first,
                  const std::function<bool(job_info&)>& visit) const;

  /// Calls `fn(seq, job_id, record)` for every event: job by job in the
  /// order of their ids, each job's in append order. `job_id` is the job
  /// the store files the record under.
  using record_fn
    = std::function<void(uint64_t, std::string_view, std::string_view)>;
  void for_each(const record_fn& fn) const;

  uint64_t events() const noexcept {
    return next_seq_;
  }
  /// Writes this process made, and how many of them were synced (read them
  /// where the writes are made, or once they stopped).
  uint64_t writes() const noexcept {
    return writes_;
  }
  uint64_t synced_writes() const noexcept {
    return synced_writes_;
  }
  const journal_options& options() const noexcept {
    return opts_;
  }

private:
  journal_store() = default;
  journal_options opts_;
  std::unique_ptr<rocksdb::DB> db_;
  // Snapshots and index entries, each in a column family of its own (see
  // journal.cpp, store_families); owned by db_, released before it closes.
  rocksdb::ColumnFamilyHandle* snapshots_ = nullptr;
  rocksdb::ColumnFamilyHandle* index_ = nullptr;
  void move_legacy_keys();
  uint64_t next_seq_ = 0;
  uint64_t writes_ = 0;
  uint64_t synced_writes_ = 0;
  std::string recovery_note_;
  std::string last_failure_; // why the last write failed, until one works
  int synced_mark_fd_ = -1;  // see write_synced_mark
  void write_synced_mark();
  // The events of jobs submitted in this process, as written, so that a
  // snapshot needs no read of the store. A job whose events began before
  // this process, or outgrew recent_job_bytes, is read back instead.
  struct recent_job {
    std::vector<std::pair<uint64_t, std::string>> events; // seq, bytes
    size_t bytes = 0;
    bool complete = true;
  };
  static constexpr size_t recent_job_bytes = size_t{1} << 20;
  std::unordered_map<std::string, recent_job> recent_;
  void remember(const journal_record& r, uint64_t seq);
  void add_snapshot(rocksdb::WriteBatch& batch, const journal_record& r);
  void add_reopen(rocksdb::WriteBatch& batch, const journal_record& r);
  void add_forget(rocksdb::WriteBatch& batch, const journal_record& r);
  std::vector<std::pair<std::string, std::string>> job_events(
    const std::string& job_id) const;
};

/// Writes events with group commit: every append that arrives while a
/// batch is being formed joins it; the batch is one write, synced when a
/// record in it asks for that, and each append is answered only once the
/// write returned.
using journal_actor = caf::typed_actor<
  caf::replies_to<atom::append, std::vector<journal_record>>::with<uint64_t>,
  caf::reacts_to<atom::flush>>;

/// The journal of `store`, counting its writes into `registry` (null: a
/// registry of its own, which nobody reads).
journal_actor spawn_journal(caf::actor_system& sys,
                            std::shared_ptr<journal_store> store,
                            std::shared_ptr<metrics> registry = nullptr);

/// A job rebuilt from the journal.
struct recovered_job {
  std::string id{};
  std::string name{};
  std::string cluster{};
  timestamp submitted_at = 0;
  std::shared_ptr<core::task_graph> graph{}; ///< null for a compacted job
  job_info summary{};                        ///< a compacted job's answer
  /// Loaded from its snapshot: a finished job whose final state is already
  /// durable (its events are the snapshot's until it runs again).
  bool from_snapshot = false;
};

/// Replays the store into jobs; attempts that were running when the
/// previous process stopped are requeued without spending a retry. Throws
/// `weft::error` (bad_data) naming the first record that does not decode
/// or does not fit its job (see `core::job_replay`).
std::vector<recovered_job> recover_jobs(const journal_store& store);

/// One job replayed from its events, as `recover_jobs` does for all (a
/// supervisor restarting a job actor); nothing when the journal has no
/// events of it. Throws `weft::error` (bad_data) like `recover_jobs`.
std::optional<recovered_job> recover_job(const journal_store& store,
                                         const std::string& job_id);

/// Loads the learned task profiles into `stats`. Throws `weft::error`
/// (bad_data) when one does not decode.
void recover_statistics(const journal_store& store,
                        core::task_statistics& stats);

} // namespace weft
