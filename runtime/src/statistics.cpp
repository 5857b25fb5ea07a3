#include "weft/core/statistics.hpp"

#include "weft/error.hpp"

#include <algorithm>
#include <compare>
#include <functional>
#include <optional>
#include <unordered_map>

namespace weft::core {

std::string to_string(const stat_key& key) {
  auto s = key.name + "@v" + std::to_string(key.major);
  if (key.depth > 0)
    s += " depth " + std::to_string(key.depth);
  if (!key.parent.empty())
    s += " under " + key.parent;
  return s;
}

stat_key key_of(const task_graph& graph, task_index i) {
  const auto& id = graph.identifier(i);
  auto parent = graph.parent(i);
  stat_key key{id.name, 0, graph.depth(i),
               parent == no_task ? std::string{}
                                 : graph.identifier(parent).name};
  try {
    key.major = parse_version(id.version).major;
  } catch (const error&) {
    // Never submitted: identifiers are validated first. Learned under v0.
  }
  return key;
}

namespace {

/// Tasks of one key look alike to the graph: same identifier, same
/// parent identifier, same depth. Comparing those is cheaper than
/// building keys.
struct key_shape {
  const task_identifier* id = nullptr;
  const task_identifier* parent = nullptr;
  uint32_t depth = 0;

  key_shape(const task_graph& graph, task_index i)
      : id(&graph.identifier(i)),
        parent(graph.parent(i) == no_task ? nullptr
                                          : &graph.identifier(graph.parent(i))),
        depth(graph.depth(i)) {
  }
  friend bool operator==(const key_shape&, const key_shape&) = default;
  friend auto operator<=>(const key_shape&, const key_shape&) = default;
};

} // namespace

void task_statistics::learn(const task_graph& graph,
                            const std::vector<task_index>& tasks) {
  // Keys are built outside the lock, once per shape in the batch (a batch
  // of results mostly holds siblings), and samples refer to them by index:
  // learning allocates per batch, not per task.
  std::vector<stat_key> keys;
  std::vector<std::pair<key_shape, size_t>> known;
  auto key_index = [&](task_index i) {
    key_shape shape{graph, i};
    for (auto k = known.size(); k-- > 0;)
      if (known[k].first == shape)
        return known[k].second;
    keys.push_back(key_of(graph, i));
    known.emplace_back(shape, keys.size() - 1);
    return keys.size() - 1;
  };
  struct sample {
    size_t key;
    double ns;
    size_t subs_begin;
    size_t subs_end;
  };
  std::vector<sample> samples;
  std::vector<std::pair<size_t, double>> subs; // key index, count
  for (auto i : tasks) {
    auto started = graph.started(i);
    auto stopped = graph.stopped(i);
    if (started == 0 || stopped < started)
      continue;
    sample x{key_index(i), static_cast<double>(stopped - started), subs.size(),
             0};
    auto [first, count] = graph.children(i);
    for (auto c = first; c < first + count; ++c) {
      auto k = key_index(c);
      auto it
        = std::find_if(subs.begin() + static_cast<ptrdiff_t>(x.subs_begin),
                       subs.end(), [k](const auto& e) { return e.first == k; });
      if (it == subs.end())
        subs.emplace_back(k, 1.0);
      else
        it->second += 1;
    }
    x.subs_end = subs.size();
    samples.push_back(x);
  }
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<task_profile*> profiles(keys.size(), nullptr);
  std::vector<std::pair<const stat_key*, double>> counts;
  for (const auto& x : samples) {
    auto*& p = profiles[x.key];
    if (p == nullptr) {
      p = &profiles_[keys[x.key]];
      changed_.insert(keys[x.key]);
    }
    counts.clear();
    for (auto j = x.subs_begin; j < x.subs_end; ++j)
      counts.emplace_back(&keys[subs[j].first], subs[j].second);
    learn_into(*p, x.ns, counts);
  }
}

void task_statistics::learn(const stat_key& key, double duration_ns,
                            const std::map<stat_key, double>& subtasks) {
  std::vector<std::pair<const stat_key*, double>> counts;
  for (const auto& [k, n] : subtasks)
    counts.emplace_back(&k, n);
  std::lock_guard<std::mutex> guard{mtx_};
  learn_into(profiles_[key], duration_ns, counts);
  changed_.insert(key);
}

void task_statistics::learn_into(
  task_profile& p, double duration_ns,
  const std::vector<std::pair<const stat_key*, double>>& subtasks) {
  ++p.runs;
  auto w = 1.0 / static_cast<double>(std::min(p.runs, window));
  p.mean_ns += (duration_ns - p.mean_ns) * w;
  auto count_of = [&](const stat_key& key) {
    for (const auto& [k, n] : subtasks)
      if (*k == key)
        return n;
    return 0.0; // not submitted this time: counts as none of them
  };
  for (auto& [sub, mean] : p.subtasks)
    mean += (count_of(sub) - mean) * w;
  for (const auto& [sub, n] : subtasks)
    if (p.subtasks.count(*sub) == 0)
      p.subtasks.emplace(*sub, n * w); // earlier runs submitted none
}

void task_statistics::load(const stat_key& key, task_profile profile) {
  std::lock_guard<std::mutex> guard{mtx_};
  profiles_[key] = std::move(profile);
}

std::optional<task_profile> task_statistics::find(const stat_key& key) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto it = profiles_.find(key);
  if (it == profiles_.end())
    return std::nullopt;
  return it->second;
}

size_t task_statistics::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return profiles_.size();
}

std::map<stat_key, work_prediction> task_statistics::predict(
  const std::set<stat_key>& keys) const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::map<stat_key, work_prediction> memo;
  std::set<stat_key> open; // being solved: reaching one again is a cycle
  std::function<work_prediction(const stat_key&)> solve;
  solve = [&](const stat_key& key) -> work_prediction {
    if (auto it = memo.find(key); it != memo.end())
      return it->second;
    if (open.count(key) > 0)
      return {};
    work_prediction w;
    auto it = profiles_.find(key);
    if (it == profiles_.end() || it->second.runs == 0) {
      memo.emplace(key, w);
      return w;
    }
    open.insert(key);
    const auto& p = it->second;
    double sub = 0;
    double span = 0;
    double self = 0; // mean subtasks of its own key (deepest level only)
    bool known = true;
    for (const auto& [k, mean] : p.subtasks) {
      if (mean <= 0)
        continue;
      if (k == key) {
        self = mean;
        continue;
      }
      auto child = solve(k);
      if (!child.known) {
        known = false;
        break;
      }
      sub += mean * child.total_ns();
      // Only subtasks submitted at least once on average lengthen it.
      if (mean >= 1)
        span = std::max(span, child.own_ns + child.span_ns);
    }
    open.erase(key);
    if (known && self < 1) {
      // W = own + sub + self * W
      auto total = (p.mean_ns + sub) / (1 - self);
      w = work_prediction{true, p.mean_ns, total - p.mean_ns, span};
    }
    memo.emplace(key, w);
    return w;
  };
  std::map<stat_key, work_prediction> result;
  for (const auto& key : keys)
    result.emplace(key, solve(key));
  return result;
}

std::vector<std::pair<stat_key, task_profile>> task_statistics::take_changed() {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<std::pair<stat_key, task_profile>> result;
  result.reserve(changed_.size());
  for (const auto& key : changed_)
    result.emplace_back(key, profiles_.at(key));
  changed_.clear();
  return result;
}

namespace {

bool finished_state(task_state s) noexcept {
  return s == task_state::computed || s == task_state::failed
         || s == task_state::failed_optional;
}

/// Done over total of indicators, or negative without totals.
double indicator_fraction(const std::vector<progress_indicator>& list) {
  uint64_t done = 0;
  uint64_t total = 0;
  for (const auto& p : list) {
    done += std::min(p.done, p.total);
    total += p.total;
  }
  return total == 0 ? -1.0
                    : static_cast<double>(done) / static_cast<double>(total);
}

double capped(double percent) {
  return std::min(99.9, std::max(0.0, percent));
}

/// The time the longest chain of remaining work takes with slots to
/// spare. A task's subtasks exist only once its own execution is over, so
/// the chain through a queued or running task is its own remaining
/// duration plus the longest chain through the subtasks its key is
/// expected to submit; a task with dependencies starts once their whole
/// subtrees are done. A dependency's subtasks come after its dependents in
/// the graph, so the pass repeats until nothing moves, at most 8 times
/// (deeper nestings of dependencies get a shorter chain: it stays a lower
/// bound); without dependencies, one pass.
double critical_path(const task_graph& graph,
                     const std::vector<double>& own_left,
                     const std::vector<double>& future_span) {
  auto n = static_cast<task_index>(graph.size());
  std::vector<task_index> open;
  for (task_index i = 0; i < n; ++i)
    if (own_left[i] > 0 || future_span[i] > 0)
      open.push_back(i);
  std::vector<double> own_end(n, 0.0); // finished: 0, nothing of its own left
  // When a dependency's subtree is done, per pass (dependencies are few;
  // their subtrees are walked whole, finished tasks included).
  std::unordered_map<task_index, double> subtree_end;
  std::vector<task_index> stack;
  auto subtree_done = [&](task_index d) {
    if (auto it = subtree_end.find(d); it != subtree_end.end())
      return it->second;
    double end = 0;
    stack.assign(1, d);
    while (!stack.empty()) {
      auto t = stack.back();
      stack.pop_back();
      end = std::max(end, own_end[t] + future_span[t]);
      auto [first, count] = graph.children(t);
      for (uint32_t c = 0; c < count; ++c)
        stack.push_back(first + c);
    }
    subtree_end.emplace(d, end);
    return end;
  };
  bool any_dependencies = graph.has_dependencies();
  for (int pass = 0; pass < 8; ++pass) {
    bool moved = false;
    subtree_end.clear();
    for (auto i : open) {
      double start = 0;
      if (any_dependencies)
        for (auto d : graph.dependencies(i))
          start = std::max(start, subtree_done(d));
      auto end = start + own_left[i];
      if (end != own_end[i]) {
        own_end[i] = end;
        moved = true;
      }
    }
    if (!moved || !any_dependencies)
      break;
  }
  double longest = 0;
  for (auto i : open)
    longest = std::max(longest, own_end[i] + future_span[i]);
  return longest;
}

} // namespace

job_estimate estimate(const task_graph& graph, const task_statistics& stats,
                      timestamp now) {
  job_estimate r;
  r.items = graph.items();
  auto n = static_cast<task_index>(graph.size());
  auto job_state = graph.state();
  // Predictions per key of every task that still has work.
  std::map<key_shape, int> slots;
  std::vector<int> slot_of(n, -1);
  std::set<stat_key> keys;
  std::vector<stat_key> slot_keys;
  for (task_index i = 0; i < n; ++i) {
    auto s = graph.state_of(i);
    if (s != task_state::queued && s != task_state::running)
      continue;
    auto [it, added]
      = slots.emplace(key_shape{graph, i}, static_cast<int>(slot_keys.size()));
    if (added) {
      slot_keys.push_back(key_of(graph, i));
      keys.insert(slot_keys.back());
    }
    slot_of[i] = it->second;
  }
  auto predicted = stats.predict(keys);
  std::vector<work_prediction> preds;
  preds.reserve(slot_keys.size());
  for (const auto& k : slot_keys)
    preds.push_back(predicted.at(k));
  // Work done and remaining per task, then summed over subtrees (children
  // always come after their parent).
  std::vector<double> done(n, 0.0);
  std::vector<double> left(n, 0.0);
  std::vector<uint8_t> unknown(n, 0);
  // For the critical path: what is left of each task's own execution, and
  // the longest chain through the subtasks it has yet to submit.
  std::vector<double> own_left(n, 0.0);
  std::vector<double> future_span(n, 0.0);
  // Time the job's attempts ran within the last quarter of its run, at
  // most the last minute (a job resumed after a restart or a retry has an
  // idle stretch behind it): the slots it keeps busy lately.
  constexpr timestamp max_window = 60'000'000'000;
  auto first = graph.stats().first_started;
  auto window = std::clamp<timestamp>((now - first) / 4, 1, max_window);
  double recent_busy = 0;
  auto count_recent = [&](timestamp started, timestamp stopped) {
    auto from = std::max(started, now - window);
    if (started != 0 && stopped > from)
      recent_busy += static_cast<double>(stopped - from);
  };
  for (task_index i = 0; i < n; ++i) {
    auto s = graph.state_of(i);
    if (finished_state(s)) {
      auto started = graph.started(i);
      auto stopped = graph.stopped(i);
      if (started != 0 && stopped >= started) {
        done[i] = static_cast<double>(stopped - started);
        count_recent(started, std::min(stopped, now));
      }
      continue;
    }
    if (s == task_state::running)
      count_recent(graph.started(i), now);
    if (slot_of[i] < 0)
      continue; // skipped or canceled: no work
    const auto& w = preds[static_cast<size_t>(slot_of[i])];
    if (!w.known) {
      unknown[i] = 1;
      continue;
    }
    future_span[i] = w.span_ns;
    if (s == task_state::queued) {
      left[i] = w.total_ns();
      own_left[i] = w.own_ns;
      continue;
    }
    // Running: its live indicators say how far it is, else the time it
    // has run so far against its usual duration.
    double f = -1;
    if (const auto* live = graph.progress_of(i))
      f = indicator_fraction(*live);
    if (f < 0) {
      auto ran
        = static_cast<double>(std::max<timestamp>(0, now - graph.started(i)));
      f = w.own_ns > 0 ? std::min(0.95, ran / w.own_ns) : 0.95;
    }
    done[i] = f * w.own_ns;
    left[i] = (1 - f) * w.own_ns + w.subtasks_ns;
    own_left[i] = (1 - f) * w.own_ns;
  }
  for (task_index i = n; i-- > 0;) {
    auto p = graph.parent(i);
    if (p == no_task)
      continue;
    done[p] += done[i];
    left[p] += left[i];
    unknown[p] |= unknown[i];
  }
  double job_done = 0;
  double job_left = 0;
  bool job_unknown = false;
  for (task_index i = 0; i < n && graph.parent(i) == no_task; ++i) {
    job_done += done[i];
    job_left += left[i];
    job_unknown = job_unknown || unknown[i] != 0;
  }
  for (auto& item : r.items) {
    if (item.percent && *item.percent >= 100)
      continue; // settled
    auto t = item.task;
    if (unknown[t] == 0 && done[t] + left[t] > 0)
      item.percent = capped(100 * done[t] / (done[t] + left[t]));
  }
  if (job_state == job_state::completed) {
    r.percent = 100; // known, not estimated: `learned` stays false
    r.eta_ns = 0;
    return r;
  }
  if (!job_unknown && job_done + job_left > 0) {
    r.learned = true;
    r.percent = capped(100 * job_done / (job_done + job_left));
    if (!is_final(job_state) && job_done > 0 && first > 0 && now > first) {
      // The work left spreads over the slots the job has been seen to keep
      // busy: over its whole run, or lately when more (a serial phase
      // lowers the first, not the capacity). Both are observed, so a job
      // sharing its slots with others gets its share, not the cluster's
      // size; with less than one slot, its chain slows down as well. No
      // schedule beats the longer of the chain and the work spread over
      // the slots; a greedy one takes at most the chain plus the rest
      // spread over them. The ETA is the middle of the two bounds.
      auto chain = critical_path(graph, own_left, future_span);
      auto slots = std::max(job_done / static_cast<double>(now - first),
                            recent_busy / static_cast<double>(window));
      auto chain_time = chain / std::min(1.0, slots);
      auto lower = std::max(chain_time, job_left / slots);
      auto upper = chain_time + std::max(0.0, job_left - chain) / slots;
      // A job that barely ran yet may predict centuries: keep it a number.
      constexpr double max_eta = 1e18;
      r.eta_ns = static_cast<int64_t>(std::min(max_eta, (lower + upper) / 2));
    }
    return r;
  }
  // No prediction: the job's own indicators, when they have totals.
  auto f = indicator_fraction(graph.progress());
  if (f < 0)
    return r;
  auto percent = capped(100 * f);
  r.percent = percent;
  if (!is_final(job_state) && percent > 0 && first > 0 && now > first)
    r.eta_ns = static_cast<int64_t>(static_cast<double>(now - first)
                                    * (100 - percent) / percent);
  return r;
}

} // namespace weft::core
