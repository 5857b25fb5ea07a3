#include "weft/actors/journal.hpp"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <map>

namespace fs = std::filesystem;

namespace weft {

namespace {

constexpr const char* meta_key = "meta/format";
constexpr const char* format_tag = "weft-journal";
constexpr char event_prefix = 'e';
constexpr char cluster_prefix = 'c';  // 'c' + name: a created cluster
constexpr char profile_prefix = 's';  // 's' + key: a learned task profile

// Events are keyed by job, then by a store-wide sequence number: a job's
// events are one contiguous range (replayed in order, and removable as one
// range once the job is compacted), and jobs replay in submission order
// since their ids are time-ordered.
constexpr size_t job_id_size = 36;
constexpr size_t event_key_size = 1 + job_id_size + 8;

std::string event_key(const std::string& job_id, uint64_t seq) {
  std::string key;
  key.reserve(event_key_size);
  key += event_prefix;
  key += job_id;
  key.resize(1 + job_id_size, ' ');
  for (int i = 0; i < 8; ++i)
    key += static_cast<char>(seq >> (56 - 8 * i));
  return key;
}

uint64_t seq_of(const rocksdb::Slice& key) {
  uint64_t seq = 0;
  for (size_t i = 1 + job_id_size; i < event_key_size; ++i)
    seq = (seq << 8) | static_cast<unsigned char>(key[i]);
  return seq;
}

bool is_event_key(const rocksdb::Slice& key) {
  return key.size() == event_key_size && key[0] == event_prefix;
}

[[noreturn]] void refuse(const rocksdb::Status& st, const fs::path& dir) {
  auto what = st.ToString();
  if (st.IsIOError() && what.find("lock") != std::string::npos)
    throw error(errc::data_in_use,
                "data directory " + dir.string()
                  + " is in use by another weft process (" + what
                  + "): stop that process or pass another --data directory");
  if (st.IsCorruption())
    throw error(errc::bad_data,
                "data directory " + dir.string() + " is corrupt (" + what
                  + "): restore it from a backup or move it away; weft does "
                    "not repair or truncate it");
  throw error(errc::io_error,
              "cannot open data directory " + dir.string() + ": " + what);
}

} // namespace

journal_store::~journal_store() = default;

std::shared_ptr<journal_store> journal_store::open(const journal_options& opts) {
  std::shared_ptr<journal_store> store{new journal_store};
  store->opts_ = opts;
  const auto& dir = opts.dir;
  std::error_code ec;
  bool fresh = !fs::exists(dir, ec) || fs::is_empty(dir, ec);
  if (!fresh && !fs::exists(dir / "CURRENT", ec))
    throw error(errc::bad_data,
                "data directory " + dir.string()
                  + " is not empty and holds no weft journal: pass an empty "
                    "or a weft data directory");
  if (fresh) {
    fs::create_directories(dir, ec);
    if (ec)
      throw error(errc::io_error, "cannot create data directory "
                                    + dir.string() + ": " + ec.message());
  }
  rocksdb::Options options;
  options.create_if_missing = fresh;
  options.paranoid_checks = true;
  // The journal's records are small and a finished job's are deleted in
  // one range: a 16 MB memtable (RocksDB's default is 64 MB) writes as
  // fast and holds a quarter of the memory (docs/performance.md).
  options.write_buffer_size = 16 << 20;
  options.max_write_buffer_number = 2;
  // Replay must see a prefix of the writes: an unsynced start lost while
  // the synced completion after it survived would drop that completion.
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(options, dir.string(), &raw);
  if (!st.ok())
    refuse(st, dir);
  store->db_.reset(raw);
  std::string format;
  st = store->db_->Get(rocksdb::ReadOptions{}, meta_key, &format);
  auto expected = std::string{format_tag} + " "
                  + std::to_string(core::journal_schema_version());
  if (st.IsNotFound()) {
    std::unique_ptr<rocksdb::Iterator> it{
      store->db_->NewIterator(rocksdb::ReadOptions{})};
    it->SeekToFirst();
    if (it->Valid())
      throw error(errc::bad_data,
                  "data directory " + dir.string()
                    + " holds a RocksDB store that is not a weft journal: "
                      "pass another --data directory");
    rocksdb::WriteOptions wo;
    wo.sync = true;
    st = store->db_->Put(wo, meta_key, expected);
    if (!st.ok())
      refuse(st, dir);
  } else if (!st.ok()) {
    refuse(st, dir);
  } else if (format.rfind(format_tag, 0) != 0) {
    throw error(errc::bad_data, "data directory " + dir.string()
                                  + " holds no weft journal (format '"
                                  + format + "')");
  } else {
    auto version = std::stoul(format.substr(std::string{format_tag}.size()));
    if (version > core::journal_schema_version())
      throw error(errc::bad_data,
                  "data directory " + dir.string()
                    + " was written by a newer weft (journal schema "
                    + std::to_string(version) + ", this weft reads up to "
                    + std::to_string(core::journal_schema_version())
                    + "): run a newer weft on it");
  }
  // Continue numbering after the highest sequence number of any job.
  std::unique_ptr<rocksdb::Iterator> it{
    store->db_->NewIterator(rocksdb::ReadOptions{})};
  for (it->Seek(std::string(1, event_prefix)); it->Valid(); it->Next()) {
    if (!is_event_key(it->key()))
      break;
    store->next_seq_ = std::max(store->next_seq_, seq_of(it->key()) + 1);
  }
  return store;
}

void journal_store::append(const std::vector<journal_record>& records) {
  rocksdb::WriteBatch batch;
  bool sync = false;
  for (const auto& r : records) {
    sync = sync || r.sync;
    if (r.kind == journal_record::cluster_created) {
      batch.Put(cluster_prefix + r.job_id, "");
      continue;
    }
    if (r.kind == journal_record::cluster_deleted) {
      batch.Delete(cluster_prefix + r.job_id);
      continue;
    }
    if (r.kind == journal_record::statistics) {
      batch.Put(profile_prefix + r.job_id, r.bytes);
      continue;
    }
    if (r.replaces_job) // the job's range, up to the key written next
      batch.DeleteRange(event_key(r.job_id, 0), event_key(r.job_id, next_seq_));
    batch.Put(event_key(r.job_id, next_seq_++), r.bytes);
  }
  // One log: a synced write also makes every unsynced one before it
  // durable.
  rocksdb::WriteOptions wo;
  wo.sync = opts_.fsync && sync;
  auto st = db_->Write(wo, &batch);
  if (!st.ok())
    throw error(errc::io_error, "journal write failed in " + opts_.dir.string()
                                  + ": " + st.ToString());
  ++writes_;
  if (wo.sync)
    ++synced_writes_;
}

std::vector<std::string> journal_store::clusters() const {
  std::vector<std::string> result;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator({})};
  for (it->Seek(std::string(1, cluster_prefix));
       it->Valid() && it->key().size() > 0 && it->key()[0] == cluster_prefix;
       it->Next())
    result.emplace_back(it->key().data() + 1, it->key().size() - 1);
  return result;
}

std::vector<std::string> journal_store::profiles() const {
  std::vector<std::string> result;
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro)};
  for (it->Seek(std::string(1, profile_prefix));
       it->Valid() && it->key().size() > 0 && it->key()[0] == profile_prefix;
       it->Next())
    result.emplace_back(it->value().data(), it->value().size());
  if (!it->status().ok())
    throw error(errc::bad_data, "data directory " + opts_.dir.string()
                                  + " is corrupt (" + it->status().ToString()
                                  + "): restore it from a backup or move it "
                                    "away; weft does not truncate it");
  return result;
}

void journal_store::for_each(
  const std::function<void(uint64_t, std::string_view)>& fn) const {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro)};
  for (it->Seek(std::string(1, event_prefix)); it->Valid(); it->Next()) {
    auto key = it->key();
    if (!is_event_key(key))
      break;
    fn(seq_of(key), std::string_view{it->value().data(), it->value().size()});
  }
  if (!it->status().ok())
    throw error(errc::bad_data, "data directory " + opts_.dir.string()
                                  + " is corrupt (" + it->status().ToString()
                                  + "): restore it from a backup or move it "
                                    "away; weft does not truncate it");
}

namespace {

struct journal_data {
  std::shared_ptr<journal_store> store;
  std::vector<journal_record> batch;
  std::vector<caf::typed_response_promise<uint64_t>> waiting;
  bool flush_scheduled = false;
  static inline const char* name = "weft.journal";
};

journal_actor::behavior_type
journal_fn(journal_actor::stateful_pointer<journal_data> self,
           std::shared_ptr<journal_store> store) {
  self->state.store = std::move(store);
  return {
    [self](atom::append, std::vector<journal_record>& records)
      -> caf::result<uint64_t> {
      auto& st = self->state;
      for (auto& r : records)
        st.batch.push_back(std::move(r));
      auto rp = self->make_response_promise<uint64_t>();
      st.waiting.push_back(rp);
      // Appends already in the mailbox arrive before this flush and join
      // the batch: one synced write for all of them.
      if (!st.flush_scheduled) {
        st.flush_scheduled = true;
        self->send(self, atom::flush_v);
      }
      return rp;
    },
    [self](atom::flush) {
      auto& st = self->state;
      st.flush_scheduled = false;
      auto waiting = std::move(st.waiting);
      auto batch = std::move(st.batch);
      st.waiting.clear();
      st.batch.clear();
      try {
        st.store->append(batch);
      } catch (const error& e) {
        for (auto& rp : waiting)
          rp.deliver(make_weft_error(e.code(), e.what()));
        return;
      }
      auto last = st.store->events();
      for (auto& rp : waiting)
        rp.deliver(last);
    },
  };
}

} // namespace

journal_actor spawn_journal(caf::actor_system& sys,
                            std::shared_ptr<journal_store> store) {
  // Its own thread: a synced write blocks for milliseconds.
  return sys.spawn<caf::detached>(journal_fn, std::move(store));
}

std::vector<recovered_job> recover_jobs(const journal_store& store) {
  std::vector<recovered_job> jobs;
  std::map<std::string, size_t> index;
  store.for_each([&](uint64_t seq, std::string_view bytes) {
    core::journal_event e;
    try {
      e = core::decode_event(bytes);
    } catch (const error& err) {
      throw error(errc::bad_data,
                  "data directory " + store.options().dir.string()
                    + ", event " + std::to_string(seq) + ": " + err.what()
                    + " (weft refuses to start on a journal it cannot read "
                      "whole)");
    }
    if (e.kind == core::event_kind::job_summary) {
      // A completed job, compacted: only its summary is left.
      recovered_job job;
      job.id = e.job_id;
      job.name = e.summary.name;
      job.cluster = e.summary.cluster;
      job.submitted_at = e.summary.submitted_at;
      job.summary = e.summary;
      index[e.job_id] = jobs.size();
      jobs.push_back(std::move(job));
      return;
    }
    if (e.kind == core::event_kind::job_submitted) {
      index.emplace(e.job_id, jobs.size());
      jobs.push_back(recovered_job{e.job_id, e.name, e.cluster, e.time,
                                   core::graph_of(e)});
      return;
    }
    auto i = index.find(e.job_id);
    if (i == index.end())
      throw error(errc::bad_data,
                  "data directory " + store.options().dir.string()
                    + ", event " + std::to_string(seq) + ": job " + e.job_id
                    + " has events but was never submitted");
    if (!jobs[i->second].graph)
      throw error(errc::bad_data,
                  "data directory " + store.options().dir.string()
                    + ", event " + std::to_string(seq) + ": job " + e.job_id
                    + " has events after its summary");
    core::replay(*jobs[i->second].graph, e);
  });
  for (auto& j : jobs) {
    if (!j.graph)
      continue;
    j.graph->requeue_running();
    j.graph->rebuild_ready();
  }
  return jobs;
}

void recover_statistics(const journal_store& store,
                        core::task_statistics& stats) {
  for (const auto& bytes : store.profiles()) {
    try {
      auto [key, profile] = core::decode_profile(bytes);
      stats.load(key, std::move(profile));
    } catch (const error& e) {
      throw error(errc::bad_data,
                  "data directory " + store.options().dir.string()
                    + ", learned task statistics: " + e.what());
    }
  }
}

} // namespace weft
