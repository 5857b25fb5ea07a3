#include "weft/actors/journal.hpp"
#include "weft/actors/metrics.hpp"

#include "weft/core/job_replay.hpp"

#include <caf/all.hpp>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>

#include <charconv>
#include <rocksdb/write_batch.h>
#include <string_view>

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>

namespace fs = std::filesystem;

namespace weft {

namespace {

constexpr const char* meta_key = "meta/format";
constexpr const char* format_tag = "weft-journal";
constexpr char event_prefix = 'e';
constexpr char cluster_prefix = 'c';  // 'c' + name: a created cluster
constexpr char profile_prefix = 's';  // 's' + key: a learned task profile
constexpr char snapshot_prefix = 'f'; // 'f' + job id: a finished job
constexpr char index_prefix = 'i';    // 'i' + job id: its summary
// Where snapshots and index entries live. Their keys are time-ordered and
// only recent jobs' are written (an index entry at submission and again
// at the snapshot), so in families of their own each flushed table lies
// after nearly every older one and moves down the levels without being
// rewritten. Beside the events (whose range spans them) every compaction
// rewrote all of them: a store of a million finished jobs wrote each byte
// about thirty times, and the journal slowed as it grew.
constexpr const char* snapshots_family = "snapshots";
constexpr const char* index_family = "index";

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

// The job an event key files its record under, without event_key's padding.
std::string_view job_of(const rocksdb::Slice& key) {
  std::string_view job{key.data() + 1, job_id_size};
  auto end = job.find_last_not_of(' ');
  return job.substr(0, end == std::string_view::npos ? 0 : end + 1);
}

// What to do about a damaged directory, the end of every such refusal.
constexpr const char* restore_hint
  = ": restore the directory from a backup, or move it aside to start a new "
    "journal; weft does not repair or truncate it";

// RocksDB statuses can span lines; a refusal is one line.
std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

[[noreturn]] void refuse(const rocksdb::Status& st, const fs::path& dir) {
  auto what = one_line(st.ToString());
  if (st.IsIOError() && what.find("lock") != std::string::npos)
    throw error(errc::data_in_use,
                "data directory " + dir.string()
                  + " is in use by another weft process (" + what
                  + "): stop that process or pass another --data directory");
  if (st.IsCorruption())
    throw error(errc::bad_data, "journal in " + dir.string() + " is corrupt ("
                                  + what + ")" + restore_hint);
  if (st.IsNoSpace())
    throw error(errc::io_error, "no space left for the journal in "
                                  + dir.string() + " (" + what
                                  + "): free space on that disk and start "
                                    "again");
  throw error(errc::io_error,
              "cannot open data directory " + dir.string() + ": " + what);
}

// -- checks made before RocksDB may write anything ---------------------------

// The files RocksDB keeps in a store's directory.
bool is_store_file(const std::string& name) {
  auto ends = [&](std::string_view tail) {
    return name.size() > tail.size()
           && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  return name.rfind("MANIFEST-", 0) == 0 || name.rfind("OPTIONS-", 0) == 0
         || name == "IDENTITY" || name == "LOCK" || ends(".log")
         || ends(".sst");
}

// CRC-32C as RocksDB's log records carry it (masked).
uint32_t crc32c(const unsigned char* p, size_t n) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i)
    c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

uint32_t unmask(uint32_t masked) {
  auto rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

// RocksDB's WAL format (db/log_format.h): 32 KiB blocks of records, each
// a header (crc32c, length, type; recyclable types add the log number)
// and a payload; a logical record is one FULL fragment or FIRST, MIDDLE...,
// LAST; fewer than a header's bytes at a block's end are zero padding.
constexpr size_t wal_block = 32768;

struct wal_record {
  size_t header = 0; // 0: no valid record here
  size_t length = 0;
  int type = 0;
};

wal_record record_at(const std::string& log, size_t at) {
  auto left_in_block = wal_block - at % wal_block;
  if (left_in_block < 7 || at + 7 > log.size())
    return {};
  auto p = reinterpret_cast<const unsigned char*>(log.data()) + at;
  int type = p[6];
  size_t header = type >= 5 && type <= 8 ? 11 : 7;
  size_t length = p[4] | (size_t{p[5]} << 8);
  if (type < 1 || type > 10 || header > left_in_block
      || length > left_in_block - header || at + header + length > log.size())
    return {};
  uint32_t stored = p[0] | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16)
                    | (uint32_t{p[3]} << 24);
  // The checksum covers the type byte, the log number if any, the payload.
  if (unmask(stored) != crc32c(p + 6, header - 6 + length))
    return {};
  return {header, length, type};
}

struct wal_scan {
  size_t size = 0;
  size_t whole = 0;     // bytes up to the end of the last whole record
  bool damaged = false; // a valid record follows a bad spot
  size_t bad_at = 0;    // where the first bad spot is
};

// Reads a WAL the way recovery will: what is whole, and whether anything
// valid follows the first bad spot (then it is damage, not a torn tail).
wal_scan scan_wal(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  std::string log{std::istreambuf_iterator<char>{in}, {}};
  wal_scan scan;
  scan.size = log.size();
  size_t at = 0;
  bool in_fragments = false;
  for (;;) {
    auto left_in_block = wal_block - at % wal_block;
    if (left_in_block < 7) {
      at += left_in_block; // padding
      continue;
    }
    if (at >= log.size())
      break;
    auto r = record_at(log, at);
    if (r.header == 0)
      break;
    int kind = r.type >= 5 && r.type <= 8 ? r.type - 4 : r.type;
    bool first_or_full = kind == 1 || kind == 2;
    if (first_or_full == in_fragments && kind <= 4)
      break; // a fragment out of sequence
    at += r.header + r.length;
    if (kind == 2 || kind == 3)
      in_fragments = true;
    else {
      in_fragments = false;
      scan.whole = at;
    }
  }
  scan.bad_at = scan.whole;
  if (scan.whole >= log.size())
    return scan;
  // A crash tears at most the end: any valid record after the bad spot
  // means bytes in the middle changed.
  for (size_t q = scan.whole + 1; q + 7 <= log.size(); ++q)
    if (record_at(log, q).header != 0) {
      scan.damaged = true;
      break;
    }
  return scan;
}

bool all_zero(const fs::path& file, size_t from) {
  std::ifstream in{file, std::ios::binary};
  in.seekg(static_cast<std::streamoff>(from));
  char c = 0;
  while (in.get(c))
    if (c != 0)
      return false;
  return true;
}

struct quiet_logger : rocksdb::Logger {
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {
  }
};

// RocksDB's info log in LOG, written by weft: RocksDB's own logger aborts
// the process (an assertion in Debian's build) on the write after one
// that failed, which a full disk makes the first thing to fail; and it
// keeps one LOG.old.* per start. This one drops lines it cannot write and
// keeps LOG plus one LOG.old, each at most max_bytes.
class info_log : public rocksdb::Logger {
public:
  explicit info_log(fs::path file) : file_(std::move(file)) {
    std::error_code ec;
    auto size = fs::file_size(file_, ec);
    if (!ec && size > max_bytes / 2) {
      roll();
    } else {
      out_ = std::fopen(file_.c_str(), "ae");
      written_ = ec ? 0 : size;
    }
  }
  ~info_log() override {
    if (out_ != nullptr)
      std::fclose(out_);
  }
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[1024];
    auto now = std::chrono::system_clock::now();
    auto t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    auto n = std::strftime(line, sizeof line, "%Y/%m/%d-%H:%M:%S ", &tm);
    va_list copy;
    va_copy(copy, ap);
    auto m = std::vsnprintf(line + n, sizeof line - n - 1, format, copy);
    va_end(copy);
    n = std::min(n + static_cast<size_t>(std::max(m, 0)), sizeof line - 2);
    line[n++] = '\n';
    std::lock_guard<std::mutex> guard{mtx_};
    if (out_ == nullptr)
      return;
    if (std::fwrite(line, 1, n, out_) == n)
      written_ += n;
    std::fflush(out_);
    if (written_ > max_bytes)
      roll();
  }

  static constexpr size_t max_bytes = 4 << 20;

private:
  void roll() {
    if (out_ != nullptr)
      std::fclose(out_);
    std::error_code ec;
    fs::rename(file_, file_.string() + ".old", ec);
    out_ = std::fopen(file_.c_str(), "ae");
    written_ = 0;
  }
  fs::path file_;
  std::FILE* out_ = nullptr;
  size_t written_ = 0;
  std::mutex mtx_;
};

rocksdb::Options store_options() {
  rocksdb::Options options;
  options.paranoid_checks = true;
  // The journal's records are small and a finished job's are replaced by
  // its snapshot: a 16 MB memtable (RocksDB's default is 64 MB) writes as
  // fast and holds a quarter of the memory (docs/performance.md).
  options.write_buffer_size = 16 << 20;
  options.max_write_buffer_number = 2;
  // The three families' memtables share this bound.
  options.db_write_buffer_size = 32 << 20;
  // Tables' index and filter blocks live in one bounded cache (8 MB:
  // larger measured no faster in the soak bench, only bigger) instead of
  // beside each open table, where they grow with every finished job kept.
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(size_t{8} << 20);
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Replay must see a prefix of the writes: an unsynced start lost while
  // the synced completion after it survived would drop that completion.
  // What the prefix may leave out is checked before (check_logs).
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // Closed, synced logs (left behind when a crash came between a memtable
  // switch and its flush) must be there, whole.
  options.track_and_verify_wals_in_manifest = true;
  return options;
}

/// The column families of a store: the default one (events, clusters,
/// profiles, the format tag), snapshots and the index. A store written
/// before the families has only the default one; the others are created
/// and its keys moved at open (journal_store::move_legacy_keys).
std::vector<rocksdb::ColumnFamilyDescriptor> store_families(
  const rocksdb::Options& options) {
  rocksdb::ColumnFamilyOptions family{options};
  return {{rocksdb::kDefaultColumnFamilyName, family},
          {snapshots_family, family},
          {index_family, family}};
}

/// The families a store on disk has (the default one for a new store).
std::vector<rocksdb::ColumnFamilyDescriptor> existing_families(
  const rocksdb::Options& options, const fs::path& dir) {
  std::vector<std::string> names;
  auto st = rocksdb::DB::ListColumnFamilies(options, dir.string(), &names);
  std::vector<rocksdb::ColumnFamilyDescriptor> result;
  rocksdb::ColumnFamilyOptions family{options};
  if (!st.ok() || names.empty())
    names = {rocksdb::kDefaultColumnFamilyName};
  for (auto& n : names)
    result.emplace_back(n, family);
  return result;
}

// Free space RocksDB needs to open: the logs flushed into a table, a new
// log, manifest, options and info log. Below it RocksDB fails midway
// (and Debian's build asserts in its file writer), so refuse first.
constexpr uint64_t open_headroom = 4 << 20;

// RocksDB records the sizes of closed logs only, not how much of the live
// one was synced, so a log cut short after a crash would look like a torn
// tail. After each synced write the store notes "log N holds at least S
// synced bytes" in this file, unsynced: the note always trails the data it
// describes onto the disk, so a log shorter than its note lost synced
// (acknowledged) writes. One pwrite per synced write, no extra sync.
constexpr const char* synced_mark_name = "WEFT-SYNCED";
constexpr char synced_mark_magic[8] = {'w', 'e', 'f', 't', 's', 'y', 'n', '1'};
constexpr size_t synced_mark_size = 8 + 8 + 8 + 4;

std::string log_name(uint64_t number) {
  auto digits = std::to_string(number);
  return std::string(digits.size() < 6 ? 6 - digits.size() : 0, '0') + digits
         + ".log";
}

struct synced_mark {
  uint64_t log = 0;
  uint64_t bytes = 0;
};

std::string encode_mark(const synced_mark& m) {
  std::string out(synced_mark_magic, 8);
  for (auto v : {m.log, m.bytes})
    for (int i = 0; i < 8; ++i)
      out += static_cast<char>(v >> (8 * i));
  auto crc = crc32c(reinterpret_cast<const unsigned char*>(out.data()), 24);
  for (int i = 0; i < 4; ++i)
    out += static_cast<char>(crc >> (8 * i));
  return out;
}

// Empty when absent or unreadable (a machine crash may tear it: it then
// vouches for nothing).
std::optional<synced_mark> read_mark(const fs::path& dir) {
  std::ifstream in{dir / synced_mark_name, std::ios::binary};
  std::string b(synced_mark_size, '\0');
  if (!in.read(b.data(), static_cast<std::streamsize>(b.size()))
      || b.compare(0, 8, synced_mark_magic, 8) != 0)
    return std::nullopt;
  auto u = [&](size_t at, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i)
      v = (v << 8) | static_cast<unsigned char>(b[at + i]);
    return v;
  };
  auto p = reinterpret_cast<const unsigned char*>(b.data());
  if (crc32c(p, 24) != u(24, 4))
    return std::nullopt;
  return synced_mark{u(8, 8), u(16, 8)};
}

// Everything that can be checked without writing a byte: a refused
// directory stays exactly as it was. Returns what recovery will drop.
/// Refuses a directory another process holds: RocksDB's own lock (it also
/// knows this process's locks) is asked before a read-only open, which
/// does not lock.
void check_not_in_use(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir / "LOCK", ec))
    return;
  rocksdb::FileLock* lock = nullptr;
  auto* env = rocksdb::Env::Default();
  auto st = env->LockFile((dir / "LOCK").string(), &lock);
  if (!st.ok())
    throw error(errc::data_in_use,
                "data directory " + dir.string()
                  + " is in use by another weft process ("
                  + one_line(st.ToString())
                  + "): stop that process or pass another --data "
                    "directory");
  env->UnlockFile(lock).PermitUncheckedError();
}

/// The number of a write-ahead log named `<digits>.log`; none for any other
/// name (".log" alone, or digits past 64 bits). RocksDB parses its file
/// names the same way and ignores what does not parse: so do these checks.
std::optional<uint64_t> wal_number(std::string_view name) {
  constexpr std::string_view suffix = ".log";
  if (name.size() <= suffix.size() || !name.ends_with(suffix))
    return std::nullopt;
  auto digits = name.substr(0, name.size() - suffix.size());
  uint64_t number = 0;
  auto [end, ec]
    = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (ec != std::errc{} || end != digits.data() + digits.size())
    return std::nullopt;
  return number;
}

/// The write-ahead logs by number.
std::vector<std::pair<uint64_t, fs::path>> wal_files(const fs::path& dir) {
  std::error_code ec;
  std::vector<std::pair<uint64_t, fs::path>> logs;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (auto number = wal_number(entry.path().filename().string()))
      logs.emplace_back(*number, entry.path());
  }
  std::sort(logs.begin(), logs.end());
  return logs;
}

/// Recovery (point in time) silently stops at the first bad record, so
/// this decides what may be dropped: only a torn end of the newest log. A
/// store always has a live log. Returns the note for a dropped tail, and
/// adds the logs' size to `log_bytes`.
std::string check_logs(const fs::path& dir, uint64_t& log_bytes) {
  auto logs = wal_files(dir);
  if (logs.empty())
    throw error(errc::bad_data,
                "journal in " + dir.string()
                  + " is damaged: its write-ahead log (*.log) is missing, "
                    "and with it what was written since the last flush"
                  + restore_hint);
  auto mark = read_mark(dir);
  if (mark && logs.back().first < mark->log)
    throw error(errc::bad_data,
                "journal in " + dir.string() + " is damaged: write-ahead log "
                  + log_name(mark->log)
                  + ", which held synced writes, is missing" + restore_hint);
  std::string note;
  for (size_t i = 0; i < logs.size(); ++i) {
    const auto& file = logs[i].second;
    auto scan = scan_wal(file);
    log_bytes += scan.size;
    if (mark && logs[i].first == mark->log && scan.whole < mark->bytes
        && !scan.damaged)
      throw error(errc::bad_data, "journal in " + dir.string()
                                    + " is damaged: write-ahead log "
                                    + file.filename().string() + " held "
                                    + std::to_string(mark->bytes)
                                    + " synced bytes but only its first "
                                    + std::to_string(scan.whole)
                                    + " are whole (truncated?)" + restore_hint);
    auto dropped = scan.size - scan.whole;
    if (dropped == 0 || all_zero(file, scan.whole))
      continue;
    bool newest = i + 1 == logs.size();
    if (scan.damaged || !newest)
      throw error(errc::bad_data,
                  "journal in " + dir.string() + " is corrupt: write-ahead log "
                    + file.filename().string() + " has a bad record at byte "
                    + std::to_string(scan.bad_at) + " of "
                    + std::to_string(scan.size)
                    + (scan.damaged ? " with valid records after it"
                                    : " and is not the newest log")
                    + restore_hint);
    note = "journal in " + dir.string() + ": dropped the last "
           + std::to_string(dropped) + " bytes of write-ahead log "
           + file.filename().string()
           + ", an incomplete record torn by a crash (never acknowledged as "
             "synced)";
  }
  return note;
}

/// Manifest and tables, read-only and without an info log (that would
/// rotate LOG): every block's checksum is verified.
void check_tables(const fs::path& dir) {
  auto options = store_options();
  options.info_log = std::make_shared<quiet_logger>();
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  auto st = rocksdb::DB::OpenForReadOnly(options, dir.string(),
                                         existing_families(options, dir),
                                         &handles, &raw);
  if (!st.ok())
    refuse(st, dir);
  std::unique_ptr<rocksdb::DB> db{raw};
  st = db->VerifyChecksum();
  for (auto* h : handles)
    db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  if (!st.ok())
    refuse(st, dir);
}

void check_free_space(const fs::path& dir, uint64_t log_bytes) {
  struct statvfs vfs {};
  if (statvfs(dir.c_str(), &vfs) != 0)
    return;
  auto free_bytes = uint64_t{vfs.f_bavail} * vfs.f_frsize;
  auto needed = log_bytes + open_headroom;
  if (free_bytes < needed)
    throw error(errc::io_error,
                "no space left for the journal in " + dir.string() + " ("
                  + std::to_string(free_bytes >> 10) + " KiB free, opening "
                  + "it needs " + std::to_string(needed >> 10)
                  + " KiB): free space on that disk and start again");
}

/// Everything a start checks before RocksDB may write to the directory;
/// returns the note for a dropped torn tail, if any.
std::string check_store(const fs::path& dir) {
  check_not_in_use(dir);
  uint64_t log_bytes = 0;
  auto note = check_logs(dir, log_bytes);
  check_tables(dir);
  check_free_space(dir, log_bytes);
  return note;
}

} // namespace

journal_store::~journal_store() {
  if (!db_)
    return;
  // After a clean stop everything is in tables with block checksums and
  // sizes the manifest records; the log holds nothing a damaged log could
  // lose. A failure (a full disk) leaves it in the log, which is replayed.
  db_
    ->Flush(rocksdb::FlushOptions{},
            {db_->DefaultColumnFamily(), snapshots_, index_})
    .PermitUncheckedError();
  db_->DestroyColumnFamilyHandle(snapshots_).PermitUncheckedError();
  db_->DestroyColumnFamilyHandle(index_).PermitUncheckedError();
  db_->Close().PermitUncheckedError();
  if (synced_mark_fd_ >= 0)
    ::close(synced_mark_fd_);
}

void journal_store::write_synced_mark() {
  std::unique_ptr<rocksdb::LogFile> log;
  if (synced_mark_fd_ < 0 || !db_->GetCurrentWalFile(&log).ok() || !log)
    return;
  auto bytes = encode_mark({log->LogNumber(), log->SizeFileBytes()});
  // Best effort: a missing note only weakens the check at the next start.
  [[maybe_unused]] auto n
    = ::pwrite(synced_mark_fd_, bytes.data(), bytes.size(), 0);
}

namespace {

/// What `--data` names: returns true for a new (missing or empty)
/// directory; refuses a file, a damaged store and foreign contents.
bool check_directory(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw error(errc::bad_data,
                "data directory " + dir.string()
                  + " is a file, not a directory: pass a directory (a new "
                    "or empty one starts a new journal)");
  bool fresh = !fs::exists(dir, ec) || fs::is_empty(dir, ec);
  if (fresh || fs::exists(dir / "CURRENT", ec))
    return fresh;
  bool store_files = false;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    store_files
      = store_files || is_store_file(entry.path().filename().string());
  if (store_files)
    throw error(errc::bad_data,
                "journal in " + dir.string()
                  + " is damaged: its CURRENT file (which names the "
                    "manifest) is missing"
                  + restore_hint);
  throw error(errc::bad_data,
              "data directory " + dir.string()
                + " is not empty and holds no weft journal: pass an empty "
                  "or a weft data directory");
}

/// The store's format tag: written into a new store, checked in an old one.
void check_format(rocksdb::DB& db, const fs::path& dir) {
  std::string format;
  auto st = db.Get(rocksdb::ReadOptions{}, meta_key, &format);
  auto expected = std::string{format_tag} + " "
                  + std::to_string(core::journal_schema_version());
  if (st.IsNotFound()) {
    std::unique_ptr<rocksdb::Iterator> it{
      db.NewIterator(rocksdb::ReadOptions{})};
    it->SeekToFirst();
    if (it->Valid())
      throw error(errc::bad_data,
                  "data directory " + dir.string()
                    + " holds a RocksDB store that is not a weft journal: "
                      "pass another --data directory");
    rocksdb::WriteOptions wo;
    wo.sync = true;
    st = db.Put(wo, meta_key, expected);
    format = expected;
  }
  if (!st.ok())
    refuse(st, dir);
  auto tag = std::string_view{format};
  unsigned long version = 0;
  auto digits
    = tag.substr(std::min(tag.size(), std::string_view{format_tag}.size()));
  while (!digits.empty() && digits.front() == ' ')
    digits.remove_prefix(1);
  auto [end, ec]
    = std::from_chars(digits.data(), digits.data() + digits.size(), version);
  if (tag.rfind(format_tag, 0) != 0 || ec != std::errc{}
      || end != digits.data() + digits.size())
    throw error(errc::bad_data, "data directory " + dir.string()
                                  + " holds no weft journal (format "
                                  + one_line(format) + ")");
  if (version > core::journal_schema_version())
    throw error(errc::bad_data,
                "data directory " + dir.string()
                  + " was written by a newer weft (journal schema "
                  + std::to_string(version) + ", this weft reads up to "
                  + std::to_string(core::journal_schema_version())
                  + "): run a newer weft on it");
}

/// The highest sequence number of any job's event, plus one.
uint64_t next_event_seq(rocksdb::DB& db) {
  uint64_t next = 0;
  std::unique_ptr<rocksdb::Iterator> it{db.NewIterator(rocksdb::ReadOptions{})};
  for (it->Seek(std::string(1, event_prefix)); it->Valid(); it->Next()) {
    if (!is_event_key(it->key()))
      break;
    next = std::max(next, seq_of(it->key()) + 1);
  }
  return next;
}

} // namespace

std::shared_ptr<journal_store> journal_store::open(
  const journal_options& opts) {
  std::shared_ptr<journal_store> store{new journal_store};
  store->opts_ = opts;
  const auto& dir = opts.dir;
  bool fresh = check_directory(dir);
  if (fresh) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
      throw error(errc::io_error, "cannot create data directory " + dir.string()
                                    + ": " + ec.message());
  } else {
    store->recovery_note_ = check_store(dir);
  }
  auto options = store_options();
  options.create_if_missing = fresh;
  options.create_missing_column_families = true;
  options.info_log = std::make_shared<info_log>(dir / "LOG");
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  auto st = rocksdb::DB::Open(options, dir.string(), store_families(options),
                              &handles, &raw);
  if (!st.ok())
    refuse(st, dir);
  store->db_.reset(raw);
  store->snapshots_ = handles[1];
  store->index_ = handles[2];
  // The default family is reached through the database itself.
  store->db_->DestroyColumnFamilyHandle(handles[0]).PermitUncheckedError();
  store->synced_mark_fd_ = ::open((dir / synced_mark_name).c_str(),
                                  O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  check_format(*store->db_, dir);
  store->move_legacy_keys();
  // Continue numbering after the highest sequence number of any job.
  store->next_seq_ = next_event_seq(*store->db_);
  return store;
}

namespace {

std::string write_failure(const rocksdb::Status& st, const fs::path& dir) {
  auto what = one_line(st.ToString());
  if (st.IsNoSpace() || what.find("No space") != std::string::npos)
    return "journal write failed in " + dir.string()
           + ": no space left on device (" + what
           + "): free space on that disk; weft keeps running and writes "
             "again once there is room";
  return "journal write failed in " + dir.string() + ": " + what;
}

} // namespace

void journal_store::append(const std::vector<journal_record>& records) {
  // After a failed write RocksDB refuses every write until it is resumed.
  // For a full disk its SstFileManager does that by itself once there is
  // room (it looks every five seconds), and Resume() answers Busy
  // meanwhile; for other errors resume here, so the journal works again
  // without a restart once the cause is gone.
  if (!last_failure_.empty()) {
    auto st = db_->Resume();
    if (!st.ok() && !st.IsBusy())
      throw error(errc::io_error, write_failure(st, opts_.dir));
  }
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
    if (r.kind == journal_record::index) {
      batch.Put(index_, index_prefix + r.job_id, r.bytes);
      continue;
    }
    if (r.kind == journal_record::snapshot) {
      add_snapshot(batch, r);
      continue;
    }
    if (r.kind == journal_record::reopen) {
      add_reopen(batch, r);
      continue;
    }
    if (r.kind == journal_record::forget) {
      add_forget(batch, r);
      continue;
    }
    remember(r, next_seq_);
    batch.Put(event_key(r.job_id, next_seq_++), r.bytes);
  }
  // One log: a synced write also makes every unsynced one before it
  // durable.
  rocksdb::WriteOptions wo;
  wo.sync = opts_.fsync && sync;
  auto st = db_->Write(wo, &batch);
  if (!st.ok()) {
    for (const auto& r : records) // what they remember was not written
      if (auto i = recent_.find(r.job_id); i != recent_.end())
        i->second = recent_job{{}, 0, false};
    // While RocksDB recovers, writes fail with its stored error or Busy:
    // keep reporting the cause.
    if (last_failure_.empty() || !st.IsBusy())
      last_failure_ = write_failure(st, opts_.dir);
    throw error(errc::io_error, last_failure_);
  }
  last_failure_.clear();
  ++writes_;
  if (wo.sync) {
    ++synced_writes_;
    write_synced_mark();
  }
}

std::vector<std::pair<std::string, std::string>> journal_store::job_events(
  const std::string& job_id) const {
  std::vector<std::pair<std::string, std::string>> events;
  auto first = event_key(job_id, 0);
  auto last = event_key(job_id, UINT64_MAX);
  rocksdb::Slice upper{last};
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.iterate_upper_bound = &upper; // the job's range only
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro)};
  auto prefix = rocksdb::Slice{first.data(), 1 + job_id_size};
  for (it->Seek(first); it->Valid() && it->key().starts_with(prefix);
       it->Next())
    events.emplace_back(it->key().ToString(), it->value().ToString());
  if (!it->status().ok())
    throw error(errc::io_error, "journal read failed in " + opts_.dir.string()
                                  + ": " + one_line(it->status().ToString()));
  return events;
}

void journal_store::remember(const journal_record& r, uint64_t seq) {
  auto i = recent_.find(r.job_id);
  if (i == recent_.end()) {
    // Remembered from its submission on, or not at all.
    bool first
      = core::decode_event(r.bytes).kind == core::event_kind::job_submitted;
    i = recent_.emplace(r.job_id, recent_job{{}, 0, first}).first;
  }
  auto& job = i->second;
  if (!job.complete)
    return;
  job.bytes += r.bytes.size();
  if (job.bytes > recent_job_bytes) {
    job = recent_job{{}, 0, false}; // read back from the store instead
    return;
  }
  job.events.emplace_back(seq, r.bytes);
}

// One write: the events go, the snapshot and the index entry come. Point
// deletes, not a range: a store of a million finished jobs would otherwise
// carry a million range tombstones into every read. Single deletes, because
// an event key is written once: a single delete and the put it removes
// vanish together when they meet in a flush or compaction, so a job that
// settles while its events are still in the memtable costs the store's
// files only its snapshot (a plain delete would be carried down to the
// last level).
void journal_store::add_snapshot(rocksdb::WriteBatch& batch,
                                 const journal_record& r) {
  auto summary = core::decode_event(r.bytes).summary;
  std::vector<std::string> history;
  auto known = recent_.find(r.job_id);
  if (known != recent_.end() && known->second.complete) {
    // Remembered from its submission on: plain events, as written.
    for (auto& [seq, bytes] : known->second.events) {
      batch.SingleDelete(event_key(r.job_id, seq));
      history.push_back(std::move(bytes));
    }
  } else {
    for (auto& [key, value] : job_events(r.job_id)) {
      batch.SingleDelete(key);
      history.push_back(std::move(value));
    }
    history = core::flatten_history(std::move(history));
  }
  if (known != recent_.end())
    recent_.erase(known);
  auto snap = core::make_snapshot(summary, std::move(history));
  batch.Put(snapshots_, snapshot_prefix + r.job_id, core::encode_event(snap));
  batch.Put(index_, index_prefix + r.job_id, r.bytes);
}

void journal_store::add_reopen(rocksdb::WriteBatch& batch,
                               const journal_record& r) {
  auto snap = snapshot(r.job_id);
  if (!snap)
    return;                                     // already among the events
  recent_[r.job_id] = recent_job{{}, 0, false}; // its history is read back
  batch.Put(event_key(r.job_id, next_seq_++), *snap);
  batch.Delete(snapshots_, snapshot_prefix + r.job_id);
}

void journal_store::add_forget(rocksdb::WriteBatch& batch,
                               const journal_record& r) {
  recent_.erase(r.job_id);
  for (auto& [key, value] : job_events(r.job_id))
    batch.SingleDelete(key);
  batch.Delete(snapshots_, snapshot_prefix + r.job_id);
  batch.Delete(index_, index_prefix + r.job_id);
}

void journal_store::migrate(std::vector<recovered_job>& jobs) {
  std::vector<journal_record> records;
  for (const auto& job : jobs) {
    if (!job.graph) {
      records.push_back({job.id, core::encode_summary(job.summary)});
      records.back().kind = journal_record::snapshot;
    } else if (!indexed(job.id)) {
      job_info info;
      info.id = job.id;
      info.name = job.name;
      info.cluster = job.cluster;
      info.submitted_at = job.submitted_at;
      info.state = job.graph->state();
      records.push_back({job.id, core::encode_summary(info)});
      records.back().kind = journal_record::index;
    }
  }
  if (!records.empty())
    append(records);
  std::erase_if(jobs, [](const recovered_job& j) { return !j.graph; });
}

void journal_store::move_legacy_keys() {
  // Snapshots and index entries of a store written before their families
  // (and of one that stopped midway through this) move there, a bounded
  // batch at a time: each batch puts them in their family and deletes them
  // here in one write, so a crash between batches loses nothing.
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  for (auto [prefix, family] : {std::pair{snapshot_prefix, snapshots_},
                                std::pair{index_prefix, index_}}) {
    // Each batch starts after the last one's keys: seeking from the prefix
    // again would step over every delete written so far.
    std::string from(1, prefix);
    for (;;) {
      rocksdb::WriteBatch batch;
      size_t moved = 0;
      std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro)};
      for (it->Seek(from); it->Valid() && it->key().size() > 0
                           && it->key()[0] == prefix && moved < 10000;
           it->Next(), ++moved) {
        batch.Put(family, it->key(), it->value());
        batch.Delete(it->key());
        from = it->key().ToString() + '\0';
      }
      if (!it->status().ok())
        refuse(it->status(), opts_.dir);
      if (moved == 0)
        break;
      rocksdb::WriteOptions wo;
      wo.sync = true;
      auto st = db_->Write(wo, &batch);
      if (!st.ok())
        refuse(st, opts_.dir);
    }
  }
}

std::vector<std::string> journal_store::job_history(
  const std::string& job_id) const {
  std::vector<std::string> result;
  for (auto& [key, value] : job_events(job_id))
    result.push_back(std::move(value));
  return result;
}

std::optional<std::string> journal_store::snapshot(
  const std::string& job_id) const {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  std::string value;
  auto st = db_->Get(ro, snapshots_, snapshot_prefix + job_id, &value);
  if (st.IsNotFound())
    return std::nullopt;
  if (!st.ok())
    throw error(errc::io_error, "journal read failed in " + opts_.dir.string()
                                  + ": " + one_line(st.ToString()));
  return value;
}

bool journal_store::indexed(const std::string& job_id) const {
  std::string value;
  return db_->Get(rocksdb::ReadOptions{}, index_, index_prefix + job_id, &value)
    .ok();
}

void journal_store::scan_index(
  const std::string& cursor, bool newest_first,
  const std::function<bool(job_info&)>& visit) const {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, index_)};
  auto in_index = [&] {
    return it->Valid() && it->key().size() > 0 && it->key()[0] == index_prefix;
  };
  auto from = index_prefix + cursor;
  if (newest_first) {
    if (cursor.empty())
      it->SeekForPrev(std::string(1, index_prefix + 1));
    else
      it->SeekForPrev(from);
    if (in_index() && !cursor.empty() && it->key() == from)
      it->Prev();
  } else {
    it->Seek(from);
    if (in_index() && !cursor.empty() && it->key() == from)
      it->Next();
  }
  for (; in_index(); newest_first ? it->Prev() : it->Next()) {
    auto bytes = std::string_view{it->value().data(), it->value().size()};
    job_info info;
    try {
      info = core::decode_event(bytes).summary;
    } catch (const error& e) {
      throw error(errc::bad_data, "data directory " + opts_.dir.string()
                                    + ", index entry of job "
                                    + it->key().ToString().substr(1) + ": "
                                    + e.what());
    }
    if (!visit(info))
      return;
  }
  if (!it->status().ok())
    throw error(errc::io_error, "journal read failed in " + opts_.dir.string()
                                  + ": " + one_line(it->status().ToString()));
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

void journal_store::for_each(const record_fn& fn) const {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro)};
  for (it->Seek(std::string(1, event_prefix)); it->Valid(); it->Next()) {
    auto key = it->key();
    if (!is_event_key(key))
      break;
    fn(seq_of(key), job_of(key),
       std::string_view{it->value().data(), it->value().size()});
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
  std::shared_ptr<weft::metrics> metrics;
  std::vector<journal_record> batch;
  std::vector<caf::typed_response_promise<uint64_t>> waiting;
  bool flush_scheduled = false;
  static inline const char* name = "weft.journal";
};

journal_actor::behavior_type journal_fn(
  journal_actor::stateful_pointer<journal_data> self,
  std::shared_ptr<journal_store> store, std::shared_ptr<metrics> registry) {
  self->state.store = std::move(store);
  self->state.metrics = std::move(registry);
  return {
    [self](atom::append,
           std::vector<journal_record>& records) -> caf::result<uint64_t> {
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
      auto synced = st.store->synced_writes();
      auto began = std::chrono::steady_clock::now();
      try {
        st.store->append(batch);
        st.metrics->journal_written(
          st.store->synced_writes() != synced,
          std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::steady_clock::now() - began)
            .count());
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
                            std::shared_ptr<journal_store> store,
                            std::shared_ptr<metrics> registry) {
  if (!registry)
    registry = std::make_shared<metrics>();
  // Its own thread: a synced write blocks for milliseconds.
  return sys.spawn<caf::detached>(journal_fn, std::move(store),
                                  std::move(registry));
}

namespace {

recovered_job recovered(const core::job_replay& replay) {
  const auto& head = replay.head();
  if (!replay.graph()) { // compacted: only its summary is left
    const auto& s = head.summary;
    return recovered_job{replay.job_id(), s.name,  s.cluster,
                         s.submitted_at,  nullptr, s};
  }
  return recovered_job{replay.job_id(), head.name,      head.cluster,
                       head.time,       replay.graph(), {}};
}

} // namespace

std::vector<recovered_job> recover_jobs(const journal_store& store) {
  std::vector<recovered_job> jobs;
  // A job's records are contiguous (keyed by job first): one at a time.
  std::optional<core::job_replay> replay;
  store.for_each(
    [&](uint64_t seq, std::string_view job_id, std::string_view bytes) {
      if (!replay || replay->job_id() != job_id) {
        if (replay)
          jobs.push_back(recovered(*replay));
        replay.emplace(std::string{job_id});
      }
      try {
        replay->apply(bytes);
      } catch (const error& err) {
        throw error(errc::bad_data,
                    "data directory " + store.options().dir.string()
                      + ", event " + std::to_string(seq) + ": " + err.what()
                      + " (weft refuses to start on a journal it cannot read "
                        "whole)"
                      + restore_hint);
      }
    });
  if (replay)
    jobs.push_back(recovered(*replay));
  for (auto& j : jobs) {
    if (!j.graph)
      continue;
    j.graph->requeue_running();
    j.graph->rebuild_ready();
  }
  return jobs;
}

std::optional<recovered_job> recover_job(const journal_store& store,
                                         const std::string& job_id) {
  auto history = store.job_history(job_id);
  if (history.empty())
    return std::nullopt;
  core::job_replay replay{job_id};
  try {
    for (const auto& bytes : history)
      replay.apply(std::string_view{bytes});
  } catch (const error& err) {
    throw error(errc::bad_data, "data directory " + store.options().dir.string()
                                  + ": " + err.what());
  }
  auto job = recovered(replay);
  if (!job.graph)
    return std::nullopt;
  job.graph->requeue_running();
  job.graph->rebuild_ready();
  return job;
}

void recover_statistics(const journal_store& store,
                        core::task_statistics& stats) {
  for (const auto& bytes : store.profiles()) {
    try {
      auto [key, profile] = core::decode_profile(bytes);
      stats.load(key, std::move(profile));
    } catch (const error& e) {
      throw error(errc::bad_data, "data directory "
                                    + store.options().dir.string()
                                    + ", learned task statistics: " + e.what());
    }
  }
}

} // namespace weft
