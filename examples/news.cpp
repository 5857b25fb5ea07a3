// The news workflow of the Tilebox tasks page, on a local file: FetchNews
// reads the articles and shares them through the job cache; PrintHeadlines
// and MostFrequentAuthors depend on it and run in parallel.

#include <weft/weft.hpp>

#include <boost/json.hpp>

#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#ifndef WEFT_EXAMPLES_DATA
#  define WEFT_EXAMPLES_DATA "examples/data"
#endif

struct fetch_news {
  std::string date;
  std::string source_dir;
  static weft::task_identifier identifier() {
    return {"news/FetchNews", "v1.0"};
  }
  void execute(weft::context& ctx) const {
    std::ifstream in{source_dir + "/news-" + date + ".json"};
    if (!in)
      throw std::runtime_error("no news for " + date + " in " + source_dir);
    std::stringstream text;
    text << in.rdbuf();
    ctx.job_cache()["news"] = text.str();
    ctx.logger().info("fetched news", {{"date", date}});
  }
};
BOOST_DESCRIBE_STRUCT(fetch_news, (), (date, source_dir))

struct print_headlines {
  void execute(weft::context& ctx) const {
    auto articles
      = boost::json::parse(ctx.job_cache()["news"].get()).as_array();
    std::ostringstream out;
    for (const auto& a : articles) {
      const auto& obj = a.as_object();
      out << obj.at("date").as_string().c_str() << ": "
          << obj.at("title").as_string().c_str() << " - "
          << obj.at("source").as_string().c_str() << "\n";
    }
    std::cout << out.str() << std::flush;
  }
};
BOOST_DESCRIBE_STRUCT(print_headlines, (), ())

struct most_frequent_authors {
  void execute(weft::context& ctx) const {
    auto articles
      = boost::json::parse(ctx.job_cache()["news"].get()).as_array();
    std::map<std::string, int> counts;
    for (const auto& a : articles)
      ++counts[a.as_object().at("author").as_string().c_str()];
    std::ostringstream out;
    for (const auto& [author, n] : counts)
      out << "Author " << author << " has written " << n << " articles\n";
    std::cout << out.str() << std::flush;
  }
};
BOOST_DESCRIBE_STRUCT(most_frequent_authors, (), ())

struct news_workflow {
  std::string date;
  std::string source_dir;
  void execute(weft::context& ctx) const {
    auto fetch = ctx.submit_subtask(fetch_news{date, source_dir});
    ctx.submit_subtask(print_headlines{}, {.depends_on = {fetch}});
    ctx.submit_subtask(most_frequent_authors{},
                       {.depends_on = {fetch}, .max_retries = 3});
  }
};
BOOST_DESCRIBE_STRUCT(news_workflow, (), (date, source_dir))

int main(int argc, char** argv) {
  std::string data = argc > 1 ? argv[1] : WEFT_EXAMPLES_DATA;
  weft::local_cluster cluster;
  cluster.register_tasks<news_workflow, fetch_news, print_headlines,
                         most_frequent_authors>();
  cluster.start();
  auto job = cluster.jobs().submit("news", news_workflow{"2024-02-15", data});
  auto done = cluster.jobs().wait(job.id);
  std::cout << "job " << done.id << ": " << weft::to_string(done.state) << "\n";
  return done.state == weft::job_state::completed ? 0 : 1;
}
