// The snippets of docs/writing-tasks.md, compiled and run. Each block
// between "snippet NAME" and "end snippet" markers appears verbatim in the
// page; a test checks that they agree. Laid out for reading on the page,
// so clang-format leaves this file alone.
// clang-format off

#include <weft/weft.hpp>

#include <iostream>

// snippet task
struct resize_image {
  std::string path;
  uint32_t width = 0;
  std::optional<uint32_t> height;  // may be absent or null in the input
  std::vector<std::string> tags;

  // Optional: the default is {"resize_image", "v0.0"}.
  static weft::task_identifier identifier() {
    return {"images/Resize", "v1.2"};
  }

  void execute(weft::context& ctx) const {
    ctx.set_display("Resize\n" + path);
    // ... the work ...
  }
};
BOOST_DESCRIBE_STRUCT(resize_image, (), (path, width, height, tags))
// end snippet

struct publish {
  std::vector<std::string> paths;
  void execute(weft::context& ctx) const {
    ctx.logger().info("published", {{"count", paths.size()}});
  }
};
BOOST_DESCRIBE_STRUCT(publish, (), (paths))

// snippet subtasks
struct resize_all {
  std::vector<std::string> paths;

  void execute(weft::context& ctx) const {
    std::vector<weft::subtask_handle> resized;
    for (const auto& p : paths)
      resized.push_back(ctx.submit_subtask(resize_image{p, 640, {}, {}},
                                           {.max_retries = 2}));
    // Runs once every resize and everything they submit is COMPUTED.
    ctx.submit_subtask(publish{paths}, {.depends_on = resized});
  }
};
BOOST_DESCRIBE_STRUCT(resize_all, (), (paths))
// end snippet

// snippet progress
struct count_words {
  std::vector<std::string> lines;

  void execute(weft::context& ctx) const {
    ctx.progress("lines").add(lines.size());
    size_t words = 0;
    for (const auto& line : lines) {
      words += static_cast<size_t>(std::count(line.begin(), line.end(), ' ')) + 1;
      ctx.progress("lines").done(1);
    }
    // The job cache is shared by the tasks of this job.
    ctx.job_cache().group("counts")["words"] = std::to_string(words);
    auto span = ctx.tracer().span("report");
    span.set_attribute("words", words);
    ctx.logger().info("counted", {{"words", words}, {"lines", lines.size()}});
  }
};
BOOST_DESCRIBE_STRUCT(count_words, (), (lines))
// end snippet

int main() {
  // snippet embedded
  weft::local_cluster cluster{{.runners = {{.cluster = "default", .slots = 2}}}};
  cluster.register_tasks<resize_all, resize_image, publish, count_words>();
  cluster.start();

  auto jobs = cluster.jobs();
  auto job = jobs.submit("thumbnails", resize_all{{"a.png", "b.png"}},
                         {.max_retries = 1});
  auto done = jobs.wait(job.id);
  std::cout << weft::to_string(done.state) << " with "
            << done.stats.total_tasks << " tasks\n";
  // end snippet

  // snippet inspect
  auto words = jobs.submit("words", count_words{{"a b c", "d e"}});
  jobs.wait(words.id);
  for (const auto& task : jobs.tasks(words.id)) {
    std::cout << task.display << ": " << weft::to_string(task.state) << "\n";
    for (const auto& attempt : task.history)
      for (const auto& line : attempt.logs)
        std::cout << "  " << line.level << " " << line.message << " "
                  << line.fields << "\n";
  }
  for (const auto& p : jobs.find(words.id).progress)
    std::cout << p.label << ": " << p.done << "/" << p.total << "\n";
  // end snippet

  // snippet after_the_job
  // Read what the job's tasks left in its cache, after the job.
  std::string counted = jobs.cache(words.id).group("counts")["words"];
  std::cout << "words: " << counted << "\n";
  // Jobs submitted in a time range (UTC; `to` is excluded).
  for (const auto& j : jobs.query({.from = "2025-01-01", .to = "2261-01-01"}))
    std::cout << j.id << " " << j.name << " " << weft::format_time(j.submitted_at)
              << "\n";
  // end snippet

  // snippet runner
  weft::runner gpu = cluster.add_runner({.cluster = "gpu", .slots = 1});
  gpu.register_tasks<resize_image>();
  auto on_gpu = jobs.submit("gpu-resize", resize_image{"c.png", 320, 200, {}},
                            {.cluster = "gpu"});
  gpu.run_all();  // returns once nothing is left that it can run
  // end snippet
  std::cout << "gpu job: " << weft::to_string(jobs.find(on_gpu.id).state)
            << "\n";
  return done.state == weft::job_state::completed ? 0 : 1;
}
