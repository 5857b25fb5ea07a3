// Storage faults: a real data directory, written by a real server, is
// damaged the way disks and people damage it; a start must either refuse
// in one line and leave every byte as it was, or lose nothing acknowledged.

#include "weft/actors/journal.hpp"
#include "weft/core/journal_event.hpp"
#include "weft/core/uuid.hpp"
#include "weft/server.hpp"
#include "weft/weft.hpp"

#include "process.hpp"
#include "temp_dir.hpp"

#include <caf/all.hpp>

#include <catch2/catch.hpp>

#include <sys/mount.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using weft::test::temp_dir;

struct s_noop {
  int i = 0;
  void execute(weft::context&) const {
  }
};
BOOST_DESCRIBE_STRUCT(s_noop, (), (i))

struct s_big {
  std::string pad;
  void execute(weft::context&) const {
  }
};
BOOST_DESCRIBE_STRUCT(s_big, (), (pad))

/// Every file under `dir` with its content (the directories are small).
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file())
      continue;
    std::ifstream in{e.path(), std::ios::binary};
    files[fs::relative(e.path(), dir).string()].assign(
      std::istreambuf_iterator<char>{in}, {});
  }
  return files;
}

weft::server_options server_at(const fs::path& data) {
  weft::server_options opts;
  opts.orchestrator.data_dir = data;
  opts.orchestrator.fsync = true;
  return opts;
}

/// Submits `n` jobs (acknowledged: durable) and returns their ids.
std::set<std::string> submit_jobs(weft::server& srv, int n) {
  std::set<std::string> ids;
  for (int i = 0; i < n; ++i)
    ids.insert(srv.jobs().submit("job-" + std::to_string(i), s_noop{i}).id);
  return ids;
}

std::set<std::string> listed(weft::server& srv) {
  std::set<std::string> ids;
  for (const auto& j : srv.jobs().query())
    ids.insert(j.id);
  return ids;
}

/// What a crash leaves: the directory as it is while the server runs
/// (every write has reached the operating system; nothing was flushed at
/// stop). `out` must not exist.
std::set<std::string> crash_image(const fs::path& out, int n) {
  temp_dir live;
  weft::server srv{server_at(live.path / "data")};
  auto ids = submit_jobs(srv, n);
  fs::copy(live.path / "data", out, fs::copy_options::recursive);
  fs::remove(out / "LOCK"); // a crashed process holds no lock
  std::ofstream{out / "LOCK"};
  return ids;
}

fs::path newest_log(const fs::path& dir) {
  fs::path newest;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".log"
        && (newest.empty() || e.path().filename() > newest.filename()))
      newest = e.path();
  return newest;
}

void flip(const fs::path& file, size_t at, size_t n) {
  std::fstream io{file, std::ios::in | std::ios::out | std::ios::binary};
  std::string b(n, '\0');
  io.seekg(static_cast<std::streamoff>(at));
  io.read(b.data(), static_cast<std::streamsize>(n));
  for (auto& c : b)
    c = static_cast<char>(c ^ 0x5a);
  io.seekp(static_cast<std::streamoff>(at));
  io.write(b.data(), static_cast<std::streamsize>(n));
}

/// Starts a server on `data`, expecting a refusal: its error, checked to
/// be one line with `code`, and the directory unchanged.
std::string refused_start(const fs::path& data, weft::errc code) {
  auto before = snapshot(data);
  std::string what;
  try {
    weft::server srv{server_at(data)};
    FAIL("started on a damaged directory");
  } catch (const weft::error& e) {
    what = e.what();
    CHECK(e.code() == code);
  }
  INFO(what);
  CHECK(what.find('\n') == std::string::npos);
  CHECK(snapshot(data) == before);
  return what;
}

} // namespace

TEST_CASE("storage: a damaged write-ahead log is refused and left as it was",
          "[storage]") {
  temp_dir dir;
  auto data = dir.path / "data";
  auto ids = crash_image(data, 20);
  auto log = newest_log(data);
  REQUIRE(!log.empty());
  auto size = fs::file_size(log);
  REQUIRE(size > 2000);
  std::string what;
  SECTION("16 bytes flipped in the middle") {
    flip(log, size / 2, 16);
    what = refused_start(data, weft::errc::bad_data);
    CHECK_THAT(what, Catch::Contains(log.filename().string())
                       && Catch::Contains("valid records after it"));
  }
  SECTION("16 bytes flipped at the start") {
    flip(log, 0, 16);
    what = refused_start(data, weft::errc::bad_data);
    CHECK_THAT(what, Catch::Contains(log.filename().string())
                       && Catch::Contains("bad record at byte 0"));
  }
  SECTION("truncated to half") {
    fs::resize_file(log, size / 2);
    what = refused_start(data, weft::errc::bad_data);
    CHECK_THAT(what, Catch::Contains(log.filename().string())
                       && Catch::Contains("synced bytes"));
  }
  SECTION("deleted") {
    fs::remove(log);
    what = refused_start(data, weft::errc::bad_data);
    CHECK_THAT(what, Catch::Contains("write-ahead log")
                       && Catch::Contains("missing"));
  }
  if (!what.empty())
    CHECK_THAT(what, Catch::Contains("restore the directory from a backup")
                       && Catch::Contains("move it aside"));
  // Undamaged, the same image starts with every acknowledged job.
  SECTION("undamaged") {
    weft::server srv{server_at(data)};
    CHECK(srv.recovery_note().empty());
    CHECK(listed(srv) == ids);
  }
}

TEST_CASE("storage: a clean stop leaves nothing in the write-ahead log",
          "[storage]") {
  temp_dir dir;
  auto data = dir.path / "data";
  std::set<std::string> ids;
  {
    weft::server srv{server_at(data)};
    ids = submit_jobs(srv, 20);
  }
  // Everything is in checksummed tables: a log flip cannot lose a job.
  CHECK(fs::file_size(newest_log(data)) == 0);
  weft::server srv{server_at(data)};
  CHECK(listed(srv) == ids);
}

TEST_CASE("storage: files named like logs but not as RocksDB names them are "
          "ignored, as RocksDB ignores them",
          "[storage]") {
  temp_dir dir;
  auto data = dir.path / "data";
  auto ids = crash_image(data, 5);
  // A number past 64 bits once escaped the checks as std::out_of_range.
  for (const auto* name : {"99999999999999999999999.log", ".log", "12ab.log"})
    std::ofstream{data / name} << "not a log";
  weft::server srv{server_at(data)};
  CHECK(srv.recovery_note().empty());
  CHECK(listed(srv) == ids);
}

TEST_CASE("storage: a torn unsynced tail is dropped with a warning, nothing "
          "acknowledged is lost",
          "[storage]") {
  temp_dir dir;
  auto live = dir.path / "live";
  auto data = dir.path / "data";
  std::vector<std::string> jobs;
  uintmax_t synced_size = 0;
  {
    // Submissions synced, then task starts (written unsynced) after them.
    auto store = weft::journal_store::open({live, true});
    for (int i = 0; i < 20; ++i) {
      weft::core::journal_event e;
      e.kind = weft::core::event_kind::job_submitted;
      e.job_id = weft::core::make_uuid_v7();
      e.name = "job-" + std::to_string(i);
      e.cluster = "default";
      weft::core::task_submission root;
      root.identifier = {"s_noop", "v0.0"};
      root.input = R"({"i":0})";
      e.roots = {root};
      store->append(
        {weft::journal_record{e.job_id, weft::core::encode_event(e)}});
      jobs.push_back(e.job_id);
    }
    synced_size = fs::file_size(newest_log(live));
    for (const auto& id : jobs) {
      weft::core::journal_event e;
      e.kind = weft::core::event_kind::task_started;
      e.job_id = id;
      e.runner = "r1";
      weft::journal_record r{id, weft::core::encode_event(e)};
      r.sync = false;
      store->append({r});
    }
    CHECK(store->synced_writes() == 20);
    fs::copy(live, data, fs::copy_options::recursive);
  }
  auto log = newest_log(data);
  auto size = fs::file_size(log);
  REQUIRE(size > synced_size + 200);
  // Torn inside the unsynced tail.
  auto cut = synced_size + (size - synced_size) / 2 + 3;
  fs::resize_file(log, cut);
  weft::server srv{server_at(data)};
  INFO(srv.recovery_note());
  CHECK_THAT(srv.recovery_note(),
             Catch::Contains("dropped the last")
               && Catch::Contains(log.filename().string()));
  CHECK(srv.recovery_note().find('\n') == std::string::npos);
  auto ids = listed(srv);
  for (const auto& id : jobs)
    CHECK(ids.count(id) == 1);
}

TEST_CASE("storage: a corrupt table, a missing CURRENT and a file as --data "
          "are refused with their own reason",
          "[storage]") {
  temp_dir dir;
  auto data = dir.path / "data";
  {
    weft::server srv{server_at(data)};
    submit_jobs(srv, 20);
  } // the stop flushes the log into a table
  SECTION("a flipped data block") {
    fs::path table;
    for (const auto& e : fs::directory_iterator(data))
      if (e.path().extension() == ".sst")
        table = e.path();
    REQUIRE(!table.empty());
    // Data blocks come first in a table.
    flip(table, 64, 16);
    auto what = refused_start(data, weft::errc::bad_data);
    CHECK_THAT(what, Catch::Contains(table.filename().string())
                       && Catch::Contains("corrupt")
                       && Catch::Contains("restore the directory"));
  }
  SECTION("CURRENT deleted") {
    fs::remove(data / "CURRENT");
    auto what = refused_start(data, weft::errc::bad_data);
    CHECK_THAT(what, Catch::Contains("CURRENT") && Catch::Contains("damaged")
                       && Catch::Contains("restore the directory"));
  }
  SECTION("a regular file") {
    auto file = dir.path / "plain-file";
    std::ofstream{file} << "not a directory";
    try {
      weft::server srv{server_at(file)};
      FAIL("started on a file");
    } catch (const weft::error& e) {
      CHECK(e.code() == weft::errc::bad_data);
      CHECK_THAT(e.what(), Catch::Contains("is a file, not a directory"));
    }
    std::ifstream in{file};
    std::string content;
    std::getline(in, content);
    CHECK(content == "not a directory");
  }
}

TEST_CASE("storage: weft server refuses a damaged directory in one line with "
          "exit code 1",
          "[storage]") {
  temp_dir dir;
  auto data = dir.path / "data";
  crash_image(data, 5);
  auto log = newest_log(data);
  flip(log, fs::file_size(log) / 2, 16);
  auto before = snapshot(data);
  weft::test::child_process proc{{WEFT_CLI, "server", "--data", data.string(),
                                  "--listen", "127.0.0.1:0"},
                                 dir.path / "server.out"};
  REQUIRE(proc.started());
  CHECK(proc.wait(30s) == 1);
  auto err = proc.errors();
  INFO(err);
  REQUIRE(!err.empty());
  CHECK(err.find('\n') == err.size() - 1); // one line
  CHECK_THAT(err, Catch::StartsWith("weft: journal in ")
                    && Catch::Contains(log.filename().string())
                    && Catch::Contains("restore the directory"));
  CHECK(snapshot(data) == before);
}

TEST_CASE("storage: info logs stay bounded over many starts", "[storage]") {
  temp_dir dir;
  auto data = dir.path / "data";
  for (int i = 0; i < 8; ++i)
    weft::journal_store::open({data, true});
  int info_logs = 0;
  for (const auto& e : fs::directory_iterator(data))
    if (e.path().filename().string().rfind("LOG", 0) == 0)
      ++info_logs;
  CHECK(info_logs <= 2); // LOG and at most one LOG.old
}

namespace {

/// A 40 MB tmpfs (RocksDB clears a full-disk error only once a memtable's
/// worth, 16 MB, is free: 20 MB leaves just under that), unmounted at scope
/// exit; `mounted` is false when the system refuses to mount (no privileges).
struct small_disk {
  temp_dir dir{"weft-tmpfs-"};
  bool mounted = false;
  small_disk() {
    mounted = ::mount("tmpfs", dir.path.c_str(), "tmpfs", 0, "size=40m") == 0;
  }
  ~small_disk() {
    if (mounted)
      ::umount2(dir.path.c_str(), MNT_DETACH);
  }
  /// Writes a file until the disk has `leave` bytes free (full: 0).
  void fill(const fs::path& file, uint64_t leave = 0) {
    std::ofstream out{file, std::ios::binary};
    std::string chunk(1 << 16, 'x');
    while (
      fs::space(dir.path).available > leave + chunk.size()
      && out.write(chunk.data(), static_cast<std::streamsize>(chunk.size())))
      out.flush();
    if (leave > 0)
      return;
    // Whatever a partial chunk could not take.
    std::ofstream more{file.string() + ".2", std::ios::binary};
    for (int i = 0; i < (1 << 16) && more.put('x'); ++i)
      more.flush();
  }
};

} // namespace

TEST_CASE("storage: on a full disk writes fail clearly and resume by "
          "themselves once there is room; a start on a full disk is refused",
          "[storage]") {
  small_disk disk;
  if (!disk.mounted) {
    WARN("skipped: cannot mount a tmpfs here (" << std::strerror(errno) << ")");
    return;
  }
  auto data = disk.dir.path / "data";
  auto filler = disk.dir.path / "filler";
  auto rest = disk.dir.path / "rest";
  std::set<std::string> ids;
  {
    // Little room from the start: RocksDB cannot reserve its usual 17 MB
    // for the log ahead, so its writes really meet the full disk.
    disk.fill(rest, 6 << 20);
    weft::server srv{server_at(data)};
    ids = submit_jobs(srv, 5);
    disk.fill(filler);
    // Each write answers with a clear error; the server stays up.
    int failed = 0;
    for (int i = 0; i < 3; ++i) {
      try {
        // Larger than what is left of the log's last page.
        ids.insert(
          srv.jobs().submit("full", s_big{std::string(64 << 10, 'p')}).id);
      } catch (const weft::error& e) {
        ++failed;
        INFO(e.what());
        CHECK_THAT(e.what(), Catch::Contains("no space left"));
      }
    }
    CHECK(failed == 3);
    fs::remove(filler);
    fs::remove(filler.string() + ".2");
    fs::remove(rest);
    // No restart: the journal resumes by itself once a memtable's worth
    // (16 MB) is free (RocksDB looks every five seconds); writes until
    // then fail as before.
    std::string id;
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (id.empty() && std::chrono::steady_clock::now() < deadline) {
      try {
        id = srv.jobs().submit("after", s_noop{9}).id;
      } catch (const weft::error& e) {
        CHECK_THAT(e.what(), Catch::Contains("no space left"));
        std::this_thread::sleep_for(200ms);
      }
    }
    REQUIRE(!id.empty());
    ids.insert(id);
    CHECK(srv.jobs().find(id).name == "after");
    CHECK(listed(srv) == ids);
  }
  // Starting on a full disk: one line, not an abort, nothing changed.
  disk.fill(filler);
  auto what = refused_start(data, weft::errc::io_error);
  CHECK_THAT(what,
             Catch::Contains("no space left") && Catch::Contains("free space"));
  fs::remove(filler);
  fs::remove(filler.string() + ".2");
  weft::server srv{server_at(data)};
  CHECK(listed(srv) == ids);
}
