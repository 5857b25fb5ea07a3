#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft {

/// Storage behind a job cache, addressed by full slash-separated paths
/// ("<job id>/a/b/c"). Implementations are thread-safe: the tasks of a job
/// run concurrently.
class cache_store {
public:
  virtual ~cache_store();
  virtual void put(const std::string& path, std::string_view bytes) = 0;
  virtual std::optional<std::string> get(const std::string& path) const = 0;
  virtual bool contains(const std::string& path) const = 0;
  /// Direct keys (not subgroups) of a group, sorted.
  virtual std::vector<std::string> keys(
    const std::string& group_path) const = 0;
  /// Direct subgroups of a group, sorted.
  virtual std::vector<std::string> groups(
    const std::string& group_path) const = 0;
  /// Removes a group with everything in it (a job's cache, when retention
  /// deletes the job). The default removes nothing: a store that cannot
  /// delete keeps its entries.
  virtual void erase_group(const std::string& group_path);
};

/// A cache kept in this process's memory.
std::shared_ptr<cache_store> make_in_memory_cache();

/// A cache in a directory of the local file system: groups are directories,
/// keys are files. Throws `weft::error` (io_error) if `root` cannot be made.
std::shared_ptr<cache_store> make_file_system_cache(std::filesystem::path root);

/// `store` for reading only: a write throws `weft::error` (invalid_state).
/// What `job_client::cache` hands out, so that code outside a job cannot
/// change what its tasks read.
std::shared_ptr<cache_store> make_read_only_cache(
  std::shared_ptr<cache_store> store);

class cache_group;

/// One entry of a cache group: assign bytes to store them, read them back.
class cache_entry {
public:
  cache_entry(std::shared_ptr<cache_store> store, std::string path)
      : store_(std::move(store)), path_(std::move(path)) {
  }
  cache_entry& operator=(std::string_view bytes);
  /// The stored bytes; throws `weft::error` (missing_key) naming the key.
  std::string get() const;
  operator std::string() const {
    return get();
  }
  bool exists() const;

private:
  std::shared_ptr<cache_store> store_;
  std::string path_;
};

/// A group of a cache: `group("a").group("b")["c"]` is the entry "a/b/c".
/// Key and group names are slash-separated components that are non-empty,
/// not "." or "..", free of NUL and backslash, at most 255 bytes each.
class cache_group {
public:
  cache_group(std::shared_ptr<cache_store> store, std::string prefix = {});

  cache_group group(std::string_view name) const;
  cache_entry operator[](std::string_view key) const;
  void set(std::string_view key, std::string_view bytes) const;
  std::string get(std::string_view key) const;
  bool contains(std::string_view key) const;
  std::vector<std::string> keys() const;
  std::vector<std::string> groups() const;
  const std::string& path() const noexcept {
    return prefix_;
  }

private:
  std::string full(std::string_view key) const;
  std::shared_ptr<cache_store> store_;
  std::string prefix_;
};

} // namespace weft
