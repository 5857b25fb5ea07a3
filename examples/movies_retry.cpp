// The movies job of the Tilebox jobs page: one title is not in the movie
// database and the first implementation fails on it. A runner with the
// fixed implementation (a new minor version, so it may run the submitted
// tasks) replaces the first one, and `retry` resumes the job: only the
// tasks that did not compute run again.

#include <weft/weft.hpp>

#include <boost/json.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

#ifndef WEFT_EXAMPLES_DATA
#  define WEFT_EXAMPLES_DATA "examples/data"
#endif

namespace {

boost::json::object load_movies(const std::string& dir) {
  std::ifstream in{dir + "/movies.json"};
  if (!in)
    throw std::runtime_error("cannot read " + dir + "/movies.json");
  std::stringstream text;
  text << in.rdbuf();
  return boost::json::parse(text.str()).as_object();
}

} // namespace

struct print_movie_stats {
  std::string title;
  std::string data_dir;
  static weft::task_identifier identifier() {
    return {"PrintMovieStats", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    auto span = ctx.tracer().span("fetch-movie-stats");
    span.set_attribute("movie.title", title);
    auto db = load_movies(data_dir);
    boost::json::object response;
    if (auto* hit = db.if_contains(title))
      response = hit->as_object();
    // The bug: a title the database lacks has no "Title" key.
    ctx.set_display(response.at("Title").as_string().c_str());
    ctx.logger().info("Movie release date fetched",
                      {{"title", response.at("Title")},
                       {"released", response.at("Released")}});
  }
};
BOOST_DESCRIBE_STRUCT(print_movie_stats, (), (title, data_dir))

struct print_movie_stats_fixed {
  std::string title;
  std::string data_dir;
  static weft::task_identifier identifier() {
    return {"PrintMovieStats", "v1.1"};
  }
  void execute(weft::context& ctx) const {
    auto span = ctx.tracer().span("fetch-movie-stats");
    span.set_attribute("movie.title", title);
    auto db = load_movies(data_dir);
    auto* hit = db.if_contains(title);
    if (hit != nullptr && hit->as_object().contains("Title")) {
      const auto& r = hit->as_object();
      ctx.set_display(r.at("Title").as_string().c_str());
      ctx.logger().info("Movie release date fetched",
                        {{"title", r.at("Title")},
                         {"released", r.at("Released")}});
    } else {
      ctx.set_display("NotFound: " + title);
      ctx.logger().info("Movie release date not found", {{"title", title}});
    }
  }
};
BOOST_DESCRIBE_STRUCT(print_movie_stats_fixed, (), (title, data_dir))

struct movies_stats {
  std::vector<std::string> titles;
  std::string data_dir;
  void execute(weft::context& ctx) const {
    for (const auto& t : titles)
      ctx.submit_subtask(print_movie_stats{t, data_dir});
  }
};
BOOST_DESCRIBE_STRUCT(movies_stats, (), (titles, data_dir))

void show(weft::job_client& jobs, const std::string& id) {
  for (const auto& t : jobs.tasks(id))
    std::cout << "  " << t.display << ": " << weft::to_string(t.state) << "\n";
}

int main(int argc, char** argv) {
  std::string data = argc > 1 ? argv[1] : WEFT_EXAMPLES_DATA;
  weft::local_cluster_options opts;
  opts.runners[0].slots = 1;
  opts.runners[0].print_logs = true;
  weft::local_cluster cluster{opts};
  cluster.runner(0).register_tasks<movies_stats, print_movie_stats>();
  cluster.start();
  auto jobs = cluster.jobs();
  auto job = jobs.submit("movies-stats",
                         movies_stats{{"The Matrix", "Shrek 2",
                                       "Tilebox - The Movie", "The Avengers"},
                                      data});
  auto first = jobs.wait(job.id);
  std::cout << "first run: " << weft::to_string(first.state) << std::endl;
  show(jobs, job.id);

  // Redeploy: the buggy runner leaves, a runner with v1.1 takes over.
  cluster.runner(0).stop();
  weft::runner_options fixed;
  fixed.slots = 1;
  fixed.print_logs = true;
  auto& runner = cluster.add_runner(fixed);
  runner.register_tasks<movies_stats, print_movie_stats_fixed>();
  runner.start();
  auto requeued = jobs.retry(job.id);
  std::cout << "retry requeued " << requeued << " tasks" << std::endl;
  auto second = jobs.wait(job.id);
  std::cout << "after retry: " << weft::to_string(second.state) << "\n";
  show(jobs, job.id);
  return second.state == weft::job_state::completed ? 0 : 1;
}
