// The job cache: groups, missing keys, validation, both storages.

#include "weft/cache.hpp"
#include "weft/error.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

namespace fs = std::filesystem;

namespace {

using weft::test::temp_dir;

} // namespace

TEST_CASE("cache: groups, keys and errors behave alike in both storages") {
  temp_dir dir;
  auto kind = GENERATE(as<std::string>{}, "memory", "file system");
  auto store = kind == "memory" ? weft::make_in_memory_cache()
                                : weft::make_file_system_cache(dir.path);
  weft::cache_group cache{store, "job-1"};
  INFO(kind);

  SECTION("a/b/c is group(a).group(b)[c], both ways") {
    cache["a/b/c"] = "via path";
    CHECK(cache.group("a").group("b")["c"].get() == "via path");
    cache.group("a").group("b")["d"] = "via groups";
    CHECK(cache.get("a/b/d") == "via groups");
    CHECK(cache.group("a/b").get("c") == "via path");
    CHECK(cache.contains("a/b/c"));
    CHECK_FALSE(cache.contains("a/b/x"));
  }

  SECTION("overwrite and binary values") {
    cache.set("k", "one");
    cache.set("k", "two");
    CHECK(cache.get("k") == "two");
    std::string bytes{"\0\x01\xff\0end", 7};
    cache["bin"] = bytes;
    CHECK(cache.get("bin") == bytes);
  }

  SECTION("a missing key names the whole key") {
    try {
      std::string x = cache.group("a")["nothing"];
      FAIL("missing key read");
    } catch (const weft::error& e) {
      CHECK(e.code() == weft::errc::missing_key);
      CHECK_THAT(e.what(), Catch::Contains("job-1/a/nothing"));
    }
  }

  SECTION("invalid keys are refused") {
    for (const std::string& bad :
         std::vector<std::string>{"", "..", "a//b", "/a", "a/", "a/./b", "a\\b",
                                  std::string(300, 'x')}) {
      INFO(bad);
      try {
        cache.set(bad, "x");
        FAIL("accepted");
      } catch (const weft::error& e) {
        CHECK(e.code() == weft::errc::invalid_argument);
      }
    }
  }

  SECTION("a key and a group may share a name; listings") {
    cache["x"] = "key";
    cache["x/y"] = "nested";
    cache["z"] = "other";
    CHECK(cache.get("x") == "key");
    CHECK(cache.get("x/y") == "nested");
    CHECK(cache.keys() == std::vector<std::string>{"x", "z"});
    CHECK(cache.groups() == std::vector<std::string>{"x"});
    CHECK(cache.group("x").keys() == std::vector<std::string>{"y"});
  }

  SECTION("concurrent writers all land") {
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t)
      writers.emplace_back([&, t] {
        for (int i = 0; i < 50; ++i)
          cache.group("t" + std::to_string(t))[std::to_string(i)]
            = std::to_string(t * 1000 + i);
      });
    for (auto& w : writers)
      w.join();
    for (int t = 0; t < 4; ++t)
      for (int i = 0; i < 50; ++i)
        CHECK(cache.get("t" + std::to_string(t) + "/" + std::to_string(i))
              == std::to_string(t * 1000 + i));
  }
}

TEST_CASE("cache: the file system cache survives reopening") {
  temp_dir dir;
  {
    weft::cache_group cache{weft::make_file_system_cache(dir.path), "job"};
    cache["images/a.png"] = "png bytes";
  }
  weft::cache_group again{weft::make_file_system_cache(dir.path), "job"};
  CHECK(again.get("images/a.png") == "png bytes");
  CHECK(again.group("images").keys() == std::vector<std::string>{"a.png"});
}

TEST_CASE("cache: an unusable root is a clear error") {
  temp_dir dir;
  auto file = dir.path / "plain-file";
  std::ofstream{file} << "x";
  try {
    weft::make_file_system_cache(file / "sub");
    FAIL("accepted");
  } catch (const weft::error& e) {
    CHECK(e.code() == weft::errc::io_error);
    CHECK_THAT(e.what(), Catch::Contains("plain-file"));
  }
}
