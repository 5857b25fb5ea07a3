// Pictures of jobs: well-formed SVG, one node per task, state colours,
// collapsing of large jobs.

#include "weft/render.hpp"
#include "weft/weft.hpp"

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <catch2/catch.hpp>

#include <sstream>

namespace {

namespace pt = boost::property_tree;

/// The fill of the first filled shape below `tree`.
std::string first_fill(const pt::ptree& tree) {
  for (const auto& [name, child] : tree) {
    if (name == "path" || name == "polygon") {
      auto fill = child.get("<xmlattr>.fill", std::string{"none"});
      if (fill != "none")
        return fill;
    }
    if (auto fill = first_fill(child); !fill.empty())
      return fill;
  }
  return {};
}

/// Every node group of an SVG (class "node ..."): (title, fill colour).
void collect_nodes(const pt::ptree& tree,
                   std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& [name, child] : tree) {
    if (name == "g"
        && child.get("<xmlattr>.class", std::string{}).rfind("node", 0) == 0)
      out.emplace_back(child.get("title", ""), first_fill(child));
    collect_nodes(child, out);
  }
}

std::vector<std::pair<std::string, std::string>> parse_nodes(
  const std::string& svg) {
  std::istringstream in{svg};
  pt::ptree tree;
  pt::read_xml(in, tree); // throws on malformed XML
  std::vector<std::pair<std::string, std::string>> nodes;
  collect_nodes(tree, nodes);
  return nodes;
}

weft::task_info make_task(uint32_t index, uint32_t parent, std::string name,
                          weft::task_state state) {
  weft::task_info t;
  t.index = index;
  t.parent = parent;
  t.identifier = {std::move(name), "v1.0"};
  t.display = t.identifier.name;
  t.state = state;
  return t;
}

} // namespace

TEST_CASE("render: a 10-task job is valid SVG with one node per task") {
  weft::job_info job;
  job.id = "j";
  job.name = "ten <tasks> & \"quotes\"";
  job.state = weft::job_state::running;
  std::vector<weft::task_info> tasks;
  tasks.push_back(make_task(0, weft::task_info::no_parent, "Root",
                            weft::task_state::computed));
  tasks[0].display = "Root\nsecond line";
  const weft::task_state states[]
    = {weft::task_state::computed, weft::task_state::running,
       weft::task_state::queued,   weft::task_state::failed,
       weft::task_state::canceled, weft::task_state::failed_optional,
       weft::task_state::skipped,  weft::task_state::computed,
       weft::task_state::queued};
  for (uint32_t i = 1; i < 10; ++i)
    tasks.push_back(make_task(i, 0, "Leaf", states[i - 1]));
  tasks[9].depends_on = {8};
  auto svg = weft::render_svg(job, tasks);
  auto nodes = parse_nodes(svg);
  size_t task_nodes = 0;
  size_t legend_nodes = 0;
  for (const auto& [title, fill] : nodes) {
    if (title.rfind("legend_", 0) == 0) {
      ++legend_nodes;
      continue;
    }
    auto index = std::stoul(title.substr(1));
    REQUIRE(index < tasks.size());
    CHECK(fill == weft::state_color(tasks[index].state));
    ++task_nodes;
  }
  CHECK(task_nodes == 10);
  CHECK(legend_nodes == weft::task_state_count);
  CHECK_THAT(svg, Catch::Contains("RUNNING"));          // title and legend
  CHECK_THAT(svg, Catch::Contains("second line"));      // multi-line label
  CHECK_THAT(svg, Catch::Contains("stroke-dasharray")); // the dependency
}

TEST_CASE("render: a 100000-task job collapses siblings into counted groups") {
  weft::job_info job;
  job.id = "big";
  job.name = "big";
  job.state = weft::job_state::completed;
  std::vector<weft::task_info> tasks;
  tasks.push_back(make_task(0, weft::task_info::no_parent, "Root",
                            weft::task_state::computed));
  // Root -> 1,000 splitters -> 99 downloads each (a few failed).
  for (uint32_t s = 0; s < 1000; ++s)
    tasks.push_back(make_task(static_cast<uint32_t>(tasks.size()), 0, "Split",
                              weft::task_state::computed));
  for (uint32_t s = 0; s < 1000; ++s)
    for (uint32_t d = 0; d < 99; ++d)
      tasks.push_back(make_task(static_cast<uint32_t>(tasks.size()), 1 + s,
                                "DownloadImage",
                                d == 0 && s < 10 ? weft::task_state::failed
                                                 : weft::task_state::computed));
  REQUIRE(tasks.size() == 100001);
  auto svg = weft::render_svg(job, tasks);
  auto nodes = parse_nodes(svg);
  CHECK(nodes.size() == 4 + weft::task_state_count);
  CHECK_THAT(svg, Catch::Contains("DownloadImage × 98,990"));
  CHECK_THAT(svg, Catch::Contains("DownloadImage × 10"));
  CHECK_THAT(svg, Catch::Contains("Split × 1,000"));
  CHECK_THAT(svg, Catch::Contains("100,001 tasks"));
}

struct pic_leaf {
  int i = 0;
  void execute(weft::context& ctx) const {
    ctx.set_display("Leaf Nr. " + std::to_string(i));
  }
};
BOOST_DESCRIBE_STRUCT(pic_leaf, (), (i))

struct pic_root {
  void execute(weft::context& ctx) const {
    ctx.set_display("Root(3)");
    for (int i = 0; i < 3; ++i)
      ctx.submit_subtask(pic_leaf{i});
  }
};
BOOST_DESCRIBE_STRUCT(pic_root, (), ())

TEST_CASE("render: jobs().visualize draws a finished job with display names") {
  weft::local_cluster lc{{.runners = {{.slots = 2}}}};
  lc.register_tasks<pic_root, pic_leaf>();
  lc.start();
  auto job = lc.jobs().submit("custom-display-names", pic_root{});
  lc.jobs().wait(job.id, std::chrono::seconds{30});
  auto svg = lc.jobs().visualize(job.id);
  auto nodes = parse_nodes(svg);
  CHECK(nodes.size() == 4 + weft::task_state_count);
  CHECK_THAT(svg, Catch::Contains("Root(3)") && Catch::Contains("Leaf Nr. 2")
                    && Catch::Contains("custom&#45;display&#45;names")
                    && Catch::Contains("COMPLETED"));
}
