#include "weft/actors/metrics.hpp"
#include "weft/actors/memory.hpp"
#include "weft/actors/node.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

namespace weft {

namespace {

constexpr double latency_bounds[] = {
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
  0.1,    0.25,    0.5,    1,     2.5,    5,     10,   25,    60,
};

constexpr double duration_bounds[] = {
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
  0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10,
  25,     60,      120,    300,   600,    1800,  3600,
};

/// The task states a task does not leave by itself, as labels.
constexpr task_state final_task_states[] = {
  task_state::computed,        task_state::failed,  task_state::canceled,
  task_state::failed_optional, task_state::skipped,
};

constexpr job_state final_job_states[] = {
  job_state::completed,
  job_state::failed,
  job_state::canceled,
};

/// "COMPUTED" -> "computed": label values in the format's usual case.
std::string lower(const char* text) {
  std::string out{text};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/// A number as the format writes it: the shortest text that reads back
/// as the same double, never in exponent form; +Inf, -Inf, NaN.
std::string number(double x) {
  if (std::isnan(x))
    return "NaN";
  if (std::isinf(x))
    return x > 0 ? "+Inf" : "-Inf";
  char buf[400];
  auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed);
  return std::string{buf, res.ptr};
}

/// Writes families: each name once, HELP and TYPE before its samples.
class exposition {
public:
  void family(std::string_view name, std::string_view type,
              std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    for (char c : help) {
      if (c == '\\')
        out_ += "\\\\";
      else if (c == '\n')
        out_ += "\\n";
      else
        out_ += c;
    }
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  /// `labels` as `name`, `value` pairs (values unescaped).
  void sample(
    std::string_view name,
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
    std::string_view value) {
    out_ += name;
    if (labels.size() > 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [key, val] : labels) {
        if (!first)
          out_ += ',';
        first = false;
        out_ += key;
        out_ += "=\"";
        out_ += escape_label_value(val);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }

  void sample(std::string_view name, std::string_view value) {
    sample(name, {}, value);
  }

  /// A histogram's series: `_bucket` per bound and +Inf, `_sum`, `_count`;
  /// `cluster` empty: no label.
  void histogram(std::string_view name, std::string_view cluster,
                 const duration_histogram& h) {
    auto r = h.read();
    auto bucket = std::string{name} + "_bucket";
    auto bounds = h.bounds();
    for (size_t i = 0; i <= bounds.size(); ++i) {
      auto le = i < bounds.size() ? number(bounds[i]) : std::string{"+Inf"};
      auto count = std::to_string(r.buckets[i]);
      if (cluster.empty())
        sample(bucket, {{"le", le}}, count);
      else
        sample(bucket, {{"cluster", cluster}, {"le", le}}, count);
    }
    auto sum = number(r.sum);
    auto count = std::to_string(r.count);
    if (cluster.empty()) {
      sample(std::string{name} + "_sum", sum);
      sample(std::string{name} + "_count", count);
    } else {
      sample(std::string{name} + "_sum", {{"cluster", cluster}}, sum);
      sample(std::string{name} + "_count", {{"cluster", cluster}}, count);
    }
  }

  std::string take() {
    return std::move(out_);
  }

private:
  std::string out_;
};

} // namespace

// -- duration_histogram -------------------------------------------------------

duration_histogram::duration_histogram(std::span<const double> bounds)
    : bounds_(bounds),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size() + 1)) {
  bounds_ns_.reserve(bounds.size());
  for (auto b : bounds)
    bounds_ns_.push_back(static_cast<int64_t>(std::llround(b * 1e9)));
}

void duration_histogram::observe(int64_t ns) noexcept {
  ns = std::max<int64_t>(ns, 0);
  // The first bound at or above it: `le` is inclusive.
  auto i = static_cast<size_t>(
    std::lower_bound(bounds_ns_.begin(), bounds_ns_.end(), ns)
    - bounds_ns_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}

duration_histogram::reading duration_histogram::read() const {
  reading r;
  r.buckets.resize(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    r.buckets[i] = total;
  }
  r.count = total;
  r.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return r;
}

std::span<const double> latency_buckets() noexcept {
  return latency_bounds;
}

std::span<const double> duration_buckets() noexcept {
  return duration_bounds;
}

// -- metrics ------------------------------------------------------------------

cluster_metrics& metrics::cluster(const std::string& name) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& slot = clusters_[name];
  if (!slot)
    slot = std::make_unique<cluster_metrics>();
  return *slot;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string metrics::render(const std::vector<cluster_gauges>& clusters,
                            std::optional<uint64_t> resident_bytes) const {
  auto load = [](const auto& a) {
    return std::to_string(a.load(std::memory_order_relaxed));
  };
  // The counters of every cluster seen so far, by name. Each block stays
  // where it is while the registry lives; only the map needs the lock.
  std::vector<std::pair<std::string, const cluster_metrics*>> blocks;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (const auto& [name, block] : clusters_)
      blocks.emplace_back(name, block.get());
  }
  auto gauges = clusters;
  std::sort(gauges.begin(), gauges.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });

  exposition x;
  x.family("weft_jobs_finished_total", "counter",
           "Jobs that settled (final, nothing of them running), by final "
           "state.");
  for (auto s : final_job_states)
    x.sample("weft_jobs_finished_total", {{"state", lower(to_string(s))}},
             load(jobs_settled_[static_cast<size_t>(s)]));

  x.family("weft_jobs_live", "gauge", "Jobs with an actor in memory.");
  x.sample("weft_jobs_live", load(jobs_live_));

  x.family("weft_tasks_finished_total", "counter",
           "Tasks that reached a final state, by cluster and state.");
  for (const auto& [name, block] : blocks)
    for (auto s : final_task_states)
      x.sample("weft_tasks_finished_total",
               {{"cluster", name}, {"state", lower(to_string(s))}},
               load(block->tasks_entered[static_cast<size_t>(s)]));

  x.family("weft_attempts_requeued_total", "counter",
           "Attempts sent again because their runner was lost.");
  for (const auto& [name, block] : blocks)
    x.sample("weft_attempts_requeued_total", {{"cluster", name}},
             load(block->attempts_requeued));

  x.family("weft_attempt_reports_rejected_total", "counter",
           "Start and result reports of attempts that no lease of their "
           "job held any more (canceled, revoked, or given to another "
           "runner): fenced off, never counted.");
  x.sample("weft_attempt_reports_rejected_total", {{"kind", "start"}},
           load(starts_rejected_));
  x.sample("weft_attempt_reports_rejected_total", {{"kind", "result"}},
           load(results_rejected_));

  x.family("weft_leases_handed_back_total", "counter",
           "Leased attempts runners handed back unstarted (leaving their "
           "cluster, or holding more than their window): dispatched "
           "again, no retry spent.");
  x.sample("weft_leases_handed_back_total", load(leases_handed_back_));

  x.family("weft_task_duration_seconds", "histogram",
           "How long attempts ran, as their runners measured them.");
  for (const auto& [name, block] : blocks)
    x.histogram("weft_task_duration_seconds", name, block->task_duration);

  x.family("weft_dispatch_latency_seconds", "histogram",
           "From a cluster queuing an attempt to it sending the attempt to "
           "a runner.");
  for (const auto& [name, block] : blocks)
    x.histogram("weft_dispatch_latency_seconds", name, block->dispatch_latency);

  x.family("weft_tasks_queued", "gauge",
           "Attempts waiting in a cluster for a runner.");
  for (const auto& g : gauges)
    x.sample("weft_tasks_queued", {{"cluster", g.name}},
             std::to_string(g.queued));

  x.family("weft_tasks_running", "gauge",
           "Attempts a cluster sent to runners whose job has not settled "
           "them yet.");
  for (const auto& g : gauges)
    x.sample("weft_tasks_running", {{"cluster", g.name}},
             std::to_string(g.running));

  x.family("weft_runners_connected", "gauge", "Runners joined to a cluster.");
  for (const auto& g : gauges)
    x.sample("weft_runners_connected", {{"cluster", g.name}},
             std::to_string(g.runners));

  x.family("weft_runner_slots", "gauge",
           "Slots of the runners joined to a cluster.");
  for (const auto& g : gauges)
    x.sample("weft_runner_slots", {{"cluster", g.name}},
             std::to_string(g.slots));

  x.family("weft_journal_writes_total", "counter",
           "Writes the journal made (each a batch of records).");
  x.sample("weft_journal_writes_total", load(journal_writes_));

  x.family("weft_journal_syncs_total", "counter",
           "Journal writes that were synced to disk.");
  x.sample("weft_journal_syncs_total", load(journal_syncs_));

  x.family("weft_journal_sync_seconds", "histogram",
           "How long a synced journal write took, the sync included.");
  x.histogram("weft_journal_sync_seconds", {}, journal_sync_);

  x.family("weft_process_resident_memory_bytes", "gauge",
           "Resident memory of the orchestrator's process.");
  if (resident_bytes)
    x.sample("weft_process_resident_memory_bytes",
             std::to_string(*resident_bytes));
  return x.take();
}

// -- scraping -----------------------------------------------------------------

std::string scrape_metrics(orchestrator& orch,
                           std::chrono::milliseconds timeout) {
  std::vector<cluster_gauges> gauges;
  if (orch.sys != nullptr && orch.dir) {
    caf::scoped_actor self{*orch.sys};
    // Every request goes out before the first answer is awaited: the
    // clusters answer side by side, and each timeout runs from now.
    using handle = decltype(self->request(std::declval<cluster_actor>(),
                                          timeout, atom::info_v));
    std::vector<handle> asked;
    for (const auto& name : orch.dir->names())
      if (auto hdl = orch.dir->find(name))
        asked.push_back(self->request(hdl, timeout, atom::info_v));
    for (auto& h : asked)
      h.receive(
        [&](cluster_info& info) {
          cluster_gauges g;
          g.name = std::move(info.name);
          g.queued = info.queued;
          g.running = info.dispatched;
          g.runners = info.runners.size();
          for (const auto& r : info.runners)
            g.slots += r.slots;
          gauges.push_back(std::move(g));
        },
        [](caf::error&) {
          // Busy past the timeout, or gone: its gauges are left out.
        });
  }
  return orch.metrics->render(gauges, resident_memory_bytes());
}

} // namespace weft
