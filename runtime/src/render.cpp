#include "weft/render.hpp"

#include "weft/error.hpp"

#include <gvc.h>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>

namespace weft {

namespace {

/// Graphviz keeps global state: one context, one caller at a time.
std::mutex graphviz_mtx;

GVC_t* context() {
  static GVC_t* gvc = gvContext();
  return gvc;
}

/// Text for a Graphviz escString: backslashes kept, line breaks as "\n".
std::string escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c != '\r')
      out += c;
  }
  return out;
}

/// "4800" -> "4,800".
std::string thousands(uint64_t n) {
  auto digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

void set(void* obj, const char* name, const std::string& value) {
  agsafeset(obj, const_cast<char*>(name), const_cast<char*>(value.c_str()),
            const_cast<char*>(""));
}

/// One drawn node: a task, or a group of collapsed tasks.
struct box {
  std::string label;
  task_state state;
  std::string tooltip;
};

/// Owns a graph and its layout for the duration of one render.
struct graph_guard {
  Agraph_t* g;
  bool laid_out = false;
  ~graph_guard() {
    if (laid_out)
      gvFreeLayout(context(), g);
    agclose(g);
  }
};

} // namespace

const char* state_color(task_state state) noexcept {
  switch (state) {
    case task_state::queued: return "#d0d7de";
    case task_state::running: return "#54aeff";
    case task_state::computed: return "#4ac26b";
    case task_state::failed: return "#ff8182";
    case task_state::canceled: return "#eac54f";
    case task_state::failed_optional: return "#fb8f44";
    case task_state::skipped: return "#f6f8fa";
  }
  return "#ffffff";
}

std::string render_svg(const job_info& job, const std::vector<task_info>& tasks,
                       const render_options& options) {
  // Decide the boxes first: one per task, or one per (parent's box,
  // identifier, state) when the job is large.
  bool collapse = tasks.size() > options.collapse_threshold;
  std::vector<size_t> box_of(tasks.size());
  std::vector<box> boxes;
  std::vector<uint64_t> counts;
  std::map<std::tuple<size_t, std::string, std::string, task_state>, size_t>
    groups;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const auto& t = tasks[i];
    if (!collapse) {
      box_of[i] = boxes.size();
      boxes.push_back(box{t.display, t.state,
                          to_string(t.identifier) + " " + to_string(t.state)});
      counts.push_back(1);
      continue;
    }
    size_t parent_box = t.parent < tasks.size() ? box_of[t.parent] : SIZE_MAX;
    auto key = std::make_tuple(parent_box, t.identifier.name,
                               t.identifier.version, t.state);
    auto [it, added] = groups.emplace(key, boxes.size());
    if (added) {
      boxes.push_back(box{t.display, t.state,
                          to_string(t.identifier) + " " + to_string(t.state)});
      counts.push_back(0);
    }
    box_of[i] = it->second;
    ++counts[it->second];
  }
  if (collapse)
    for (size_t b = 0; b < boxes.size(); ++b)
      if (counts[b] > 1) {
        auto name = boxes[b].tooltip.substr(0, boxes[b].tooltip.find('@'));
        boxes[b].label = name + " × " + thousands(counts[b]) + "\n"
                         + to_string(boxes[b].state);
      }

  std::lock_guard<std::mutex> guard{graphviz_mtx};
  graph_guard gg{agopen(const_cast<char*>("job"), Agdirected, nullptr)};
  auto* g = gg.g;
  set(g, "label",
      escape(job.name + " — " + to_string(job.state) + " ("
             + thousands(tasks.size())
             + (tasks.size() == 1 ? " task)" : " tasks)")));
  set(g, "labelloc", "t");
  set(g, "fontname", "Helvetica");
  set(g, "fontsize", "16");
  set(g, "rankdir", "TB");
  std::vector<Agnode_t*> nodes(boxes.size());
  for (size_t b = 0; b < boxes.size(); ++b) {
    auto name = "t" + std::to_string(b);
    auto* n = agnode(g, const_cast<char*>(name.c_str()), 1);
    set(n, "label", escape(boxes[b].label));
    set(n, "shape", "box");
    set(n, "style", "rounded,filled");
    set(n, "fillcolor", state_color(boxes[b].state));
    set(n, "fontname", "Helvetica");
    set(n, "tooltip", escape(boxes[b].tooltip));
    set(n, "class", "task");
    nodes[b] = n;
  }
  std::set<std::pair<size_t, size_t>> solid;
  std::set<std::pair<size_t, size_t>> dashed;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const auto& t = tasks[i];
    if (t.parent < tasks.size())
      solid.emplace(box_of[t.parent], box_of[i]);
    for (auto d : t.depends_on)
      if (d < tasks.size() && box_of[d] != box_of[i])
        dashed.emplace(box_of[d], box_of[i]);
  }
  for (auto [from, to] : solid)
    agedge(g, nodes[from], nodes[to], nullptr, 1);
  for (auto [from, to] : dashed) {
    auto* e = agedge(g, nodes[from], nodes[to], const_cast<char*>("dep"), 1);
    set(e, "style", "dashed");
    set(e, "color", "#57606a");
    set(e, "constraint", "false");
  }
  // The legend: one swatch per state, in a box of its own.
  auto* legend = agsubg(g, const_cast<char*>("cluster_legend"), 1);
  set(legend, "label", "task states");
  set(legend, "fontsize", "12");
  set(legend, "style", "rounded");
  Agnode_t* prev = nullptr;
  for (size_t s = 0; s < task_state_count; ++s) {
    auto state = static_cast<task_state>(s);
    auto name = std::string{"legend_"} + to_string(state);
    auto* n = agnode(legend, const_cast<char*>(name.c_str()), 1);
    set(n, "label", to_string(state));
    set(n, "shape", "box");
    set(n, "style", "rounded,filled");
    set(n, "fillcolor", state_color(state));
    set(n, "fontname", "Helvetica");
    set(n, "fontsize", "10");
    set(n, "class", "legend");
    if (prev != nullptr) {
      auto* e = agedge(legend, prev, n, nullptr, 1);
      set(e, "style", "invis");
    }
    prev = n;
  }
  if (gvLayout(context(), g, "dot") != 0)
    throw error(errc::invalid_state,
                "graphviz could not lay out job " + job.id);
  gg.laid_out = true;
  char* data = nullptr;
  unsigned int len = 0;
  if (gvRenderData(context(), g, "svg", &data, &len) != 0 || data == nullptr)
    throw error(errc::invalid_state, "graphviz could not render job " + job.id);
  std::string svg{data, len};
  gvFreeRenderData(data);
  return svg;
}

} // namespace weft
