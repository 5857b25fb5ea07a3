// Recursive subtask decomposition: a task splits its range of files in two
// until a range is small enough to process directly, so work starts
// without waiting for one task to enumerate everything.

#include <weft/weft.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

namespace fs = std::filesystem;

struct count_lines {
  std::vector<std::string> files;
  void execute(weft::context& ctx) const {
    uint64_t lines = 0;
    for (const auto& f : files) {
      std::ifstream in{f};
      std::string line;
      while (std::getline(in, line))
        ++lines;
    }
    ctx.progress("files").done(files.size());
    ctx.set_display("CountLines\n" + std::to_string(files.size()) + " files, "
                    + std::to_string(lines) + " lines");
  }
};
BOOST_DESCRIBE_STRUCT(count_lines, (), (files))

struct split_files {
  std::vector<std::string> files;
  uint32_t threshold = 4;
  void execute(weft::context& ctx) const {
    if (files.size() <= threshold) {
      ctx.submit_subtask(count_lines{files});
      return;
    }
    auto mid = files.begin() + static_cast<long>(files.size() / 2);
    ctx.submit_subtask(split_files{{files.begin(), mid}, threshold});
    ctx.submit_subtask(split_files{{mid, files.end()}, threshold});
  }
};
BOOST_DESCRIBE_STRUCT(split_files, (), (files, threshold))

struct count_all_lines {
  std::vector<std::string> files;
  void execute(weft::context& ctx) const {
    ctx.progress("files").add(files.size());
    ctx.submit_subtask(split_files{files, 4});
  }
};
BOOST_DESCRIBE_STRUCT(count_all_lines, (), (files))

int main(int argc, char** argv) {
  fs::path dir = argc > 1 ? fs::path{argv[1]} : fs::path{WEFT_SOURCE_DIR};
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator{dir})
    if (e.is_regular_file()
        && (e.path().extension() == ".cpp" || e.path().extension() == ".hpp"))
      files.push_back(e.path().string());
  weft::local_cluster cluster;
  cluster.register_tasks<count_all_lines, split_files, count_lines>();
  cluster.start();
  auto job = cluster.jobs().submit("count-lines", count_all_lines{files});
  auto done = cluster.jobs().wait(job.id);
  std::cout << files.size() << " files in " << done.stats.total_tasks
            << " tasks, parallelism " << done.stats.parallelism << "\n";
  for (const auto& p : done.progress)
    std::cout << "progress " << p.label << ": " << p.done << "/" << p.total
              << "\n";
  std::cout << "job " << done.id << ": " << weft::to_string(done.state) << "\n";
  return done.state == weft::job_state::completed ? 0 : 1;
}
