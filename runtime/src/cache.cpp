#include "weft/cache.hpp"

#include "weft/error.hpp"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <sstream>

namespace fs = std::filesystem;

namespace weft {

namespace {

constexpr size_t max_component = 255;
constexpr size_t max_path = 4096;

/// Checks every slash-separated component of `key`.
void validate_key(std::string_view key, const char* what) {
  auto bad = [&](const std::string& rule) {
    throw error(errc::invalid_argument, std::string{"invalid job cache "} + what
                                          + " '" + std::string{key}
                                          + "': " + rule);
  };
  if (key.empty())
    bad("it is empty");
  if (key.size() > max_path)
    bad("longer than 4096 bytes");
  size_t start = 0;
  while (start <= key.size()) {
    auto end = key.find('/', start);
    if (end == std::string_view::npos)
      end = key.size();
    auto part = key.substr(start, end - start);
    if (part.empty())
      bad("it has an empty component (leading, trailing or double '/')");
    if (part == "." || part == "..")
      bad("'.' and '..' are not allowed as components");
    if (part.size() > max_component)
      bad("a component is longer than 255 bytes");
    if (part.find('\0') != std::string_view::npos
        || part.find('\\') != std::string_view::npos)
      bad("NUL and backslash are not allowed");
    start = end + 1;
  }
}

/// Splits "a/b/c" into group "a/b" and key "c".
std::pair<std::string, std::string> split(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos)
    return {std::string{}, path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

class in_memory_cache : public cache_store {
public:
  void put(const std::string& path, std::string_view bytes) override {
    std::unique_lock guard{mtx_};
    entries_[path] = std::string{bytes};
  }

  std::optional<std::string> get(const std::string& path) const override {
    std::shared_lock guard{mtx_};
    auto i = entries_.find(path);
    if (i == entries_.end())
      return std::nullopt;
    return i->second;
  }

  bool contains(const std::string& path) const override {
    std::shared_lock guard{mtx_};
    return entries_.count(path) > 0;
  }

  std::vector<std::string> keys(const std::string& group) const override {
    std::shared_lock guard{mtx_};
    std::vector<std::string> result;
    auto prefix = group.empty() ? group : group + "/";
    for (auto i = entries_.lower_bound(prefix);
         i != entries_.end() && i->first.compare(0, prefix.size(), prefix) == 0;
         ++i) {
      auto rest = i->first.substr(prefix.size());
      if (rest.find('/') == std::string::npos)
        result.push_back(rest);
    }
    return result;
  }

  std::vector<std::string> groups(const std::string& group) const override {
    std::shared_lock guard{mtx_};
    std::set<std::string> result;
    auto prefix = group.empty() ? group : group + "/";
    for (auto i = entries_.lower_bound(prefix);
         i != entries_.end() && i->first.compare(0, prefix.size(), prefix) == 0;
         ++i) {
      auto rest = i->first.substr(prefix.size());
      if (auto slash = rest.find('/'); slash != std::string::npos)
        result.insert(rest.substr(0, slash));
    }
    return {result.begin(), result.end()};
  }

  void erase_group(const std::string& group) override {
    std::unique_lock guard{mtx_};
    auto prefix = group + "/";
    auto i = entries_.lower_bound(prefix);
    while (i != entries_.end()
           && i->first.compare(0, prefix.size(), prefix) == 0)
      i = entries_.erase(i);
  }

private:
  mutable std::shared_mutex mtx_;
  std::map<std::string, std::string> entries_;
};

/// Keys are files named "<key>.v" inside the group's directory, groups are
/// directories named "<group>.g": a key and a group of the same name can
/// coexist, and no key can collide with a temporary file ("*.tmp.*").
class file_system_cache : public cache_store {
public:
  explicit file_system_cache(fs::path root) : root_(std::move(root)) {
    std::error_code ec;
    fs::create_directories(root_, ec);
    if (ec || !fs::is_directory(root_))
      throw error(errc::io_error, "cannot create job cache directory "
                                    + root_.string() + ": " + ec.message());
  }

  void put(const std::string& path, std::string_view bytes) override {
    auto [group, key] = split(path);
    auto dir = dir_of(group);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
      throw error(errc::io_error, "cannot create job cache group "
                                    + dir.string() + ": " + ec.message());
    static std::atomic<uint64_t> counter{0};
    auto tmp = dir / (key + ".tmp." + std::to_string(++counter));
    {
      std::ofstream out{tmp, std::ios::binary | std::ios::trunc};
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      if (!out)
        throw error(errc::io_error,
                    "cannot write job cache entry " + tmp.string());
    }
    // Rename is atomic: readers see the old or the new value, never half.
    fs::rename(tmp, dir / (key + ".v"), ec);
    if (ec) {
      fs::remove(tmp, ec);
      throw error(errc::io_error, "cannot store job cache entry '" + path
                                    + "': " + ec.message());
    }
  }

  std::optional<std::string> get(const std::string& path) const override {
    std::ifstream in{file_of(path), std::ios::binary};
    if (!in)
      return std::nullopt;
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }

  bool contains(const std::string& path) const override {
    std::error_code ec;
    return fs::is_regular_file(file_of(path), ec);
  }

  std::vector<std::string> keys(const std::string& group) const override {
    return list(group, ".v", false);
  }

  std::vector<std::string> groups(const std::string& group) const override {
    return list(group, ".g", true);
  }

  void erase_group(const std::string& group) override {
    std::error_code ec;
    fs::remove_all(dir_of(group), ec);
    if (ec)
      throw error(errc::io_error, "cannot delete job cache group "
                                    + dir_of(group).string() + ": "
                                    + ec.message());
  }

private:
  fs::path dir_of(const std::string& group) const {
    auto dir = root_;
    size_t start = 0;
    while (start < group.size()) {
      auto end = group.find('/', start);
      if (end == std::string::npos)
        end = group.size();
      dir /= group.substr(start, end - start) + ".g";
      start = end + 1;
    }
    return dir;
  }

  fs::path file_of(const std::string& path) const {
    auto [group, key] = split(path);
    return dir_of(group) / (key + ".v");
  }

  std::vector<std::string> list(const std::string& group,
                                const std::string& suffix, bool dirs) const {
    std::vector<std::string> result;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator{dir_of(group), ec}) {
      auto name = e.path().filename().string();
      if (name.size() <= suffix.size()
          || name.compare(name.size() - suffix.size(), suffix.size(), suffix)
               != 0
          || e.is_directory() != dirs)
        continue;
      result.push_back(name.substr(0, name.size() - suffix.size()));
    }
    std::sort(result.begin(), result.end());
    return result;
  }

  fs::path root_;
};

class read_only_cache : public cache_store {
public:
  explicit read_only_cache(std::shared_ptr<cache_store> store)
      : store_(std::move(store)) {
  }

  void put(const std::string& path, std::string_view) override {
    throw error(errc::invalid_state,
                "cannot write job cache entry '" + path
                  + "': this view of the cache is read-only (only a job's "
                    "tasks write its cache)");
  }

  std::optional<std::string> get(const std::string& path) const override {
    return store_->get(path);
  }

  bool contains(const std::string& path) const override {
    return store_->contains(path);
  }

  std::vector<std::string> keys(const std::string& group) const override {
    return store_->keys(group);
  }

  std::vector<std::string> groups(const std::string& group) const override {
    return store_->groups(group);
  }

private:
  std::shared_ptr<cache_store> store_;
};

} // namespace

cache_store::~cache_store() = default;

void cache_store::erase_group(const std::string&) {
}

std::shared_ptr<cache_store> make_in_memory_cache() {
  return std::make_shared<in_memory_cache>();
}

std::shared_ptr<cache_store> make_file_system_cache(fs::path root) {
  return std::make_shared<file_system_cache>(std::move(root));
}

std::shared_ptr<cache_store> make_read_only_cache(
  std::shared_ptr<cache_store> store) {
  return std::make_shared<read_only_cache>(std::move(store));
}

cache_entry& cache_entry::operator=(std::string_view bytes) {
  store_->put(path_, bytes);
  return *this;
}

std::string cache_entry::get() const {
  if (auto x = store_->get(path_))
    return std::move(*x);
  throw error(errc::missing_key, "job cache has no key '" + path_ + "'");
}

bool cache_entry::exists() const {
  return store_->contains(path_);
}

cache_group::cache_group(std::shared_ptr<cache_store> store, std::string prefix)
    : store_(std::move(store)), prefix_(std::move(prefix)) {
  if (!prefix_.empty())
    validate_key(prefix_, "group");
}

std::string cache_group::full(std::string_view key) const {
  validate_key(key, "key");
  return prefix_.empty() ? std::string{key} : prefix_ + "/" + std::string{key};
}

cache_group cache_group::group(std::string_view name) const {
  validate_key(name, "group");
  return cache_group{store_, full(name)};
}

cache_entry cache_group::operator[](std::string_view key) const {
  return cache_entry{store_, full(key)};
}

void cache_group::set(std::string_view key, std::string_view bytes) const {
  store_->put(full(key), bytes);
}

std::string cache_group::get(std::string_view key) const {
  return (*this)[key].get();
}

bool cache_group::contains(std::string_view key) const {
  return store_->contains(full(key));
}

std::vector<std::string> cache_group::keys() const {
  return store_->keys(prefix_);
}

std::vector<std::string> cache_group::groups() const {
  return store_->groups(prefix_);
}

} // namespace weft
