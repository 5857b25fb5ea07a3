#include "weft/core/task_graph.hpp"

#include "weft/error.hpp"
#include "weft/text.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace weft::core {

namespace {

bool is_settled_state(task_state s) noexcept {
  return s == task_state::computed || s == task_state::failed_optional
         || s == task_state::skipped;
}

void validate_batch(const std::vector<task_submission>& batch) {
  for (size_t pos = 0; pos < batch.size(); ++pos)
    for (auto dep : batch[pos].depends_on)
      if (dep >= pos)
        throw error(errc::invalid_argument,
                    "task " + std::to_string(pos) + " ("
                      + batch[pos].identifier.name + ") depends on position "
                      + std::to_string(dep)
                      + ": a task may only depend on tasks submitted before "
                        "it in the same execution");
}

} // namespace

task_graph::task_graph(std::vector<task_submission> roots,
                       std::string job_cluster) {
  if (roots.empty())
    throw error(errc::invalid_argument, "a job needs at least one root task");
  validate_batch(roots);
  auto cluster = intern_cluster(job_cluster);
  add_batch(no_task, std::move(roots), cluster);
}

uint32_t task_graph::intern_identifier(const task_identifier& id) {
  auto [it, added]
    = identifier_ids_.emplace(id, static_cast<uint32_t>(identifiers_.size()));
  if (added)
    identifiers_.push_back(id);
  return it->second;
}

uint32_t task_graph::intern_cluster(const std::string& name) {
  for (uint32_t i = 0; i < clusters_.size(); ++i)
    if (clusters_[i] == name)
      return i;
  clusters_.push_back(name);
  entered_.emplace_back();
  return static_cast<uint32_t>(clusters_.size() - 1);
}

uint32_t task_graph::depth_under(task_index parent, uint32_t identifier) const {
  uint32_t depth = 0;
  for (uint32_t steps = 0; parent != no_task && steps <= max_depth; ++steps) {
    if (nodes_[parent].identifier == identifier && ++depth == max_depth)
      break;
    parent = nodes_[parent].parent;
  }
  return depth;
}

void task_graph::set_state(node& n, task_state s) {
  --counts_[static_cast<size_t>(n.state)];
  ++counts_[static_cast<size_t>(s)];
  ++entered_[n.cluster][static_cast<size_t>(s)];
  if (n.state == task_state::failed)
    --failed_;
  if (s == task_state::failed)
    ++failed_;
  n.state = s;
}

void task_graph::add_batch(task_index parent,
                           std::vector<task_submission>&& batch,
                           uint32_t inherited_cluster) {
  auto base = static_cast<task_index>(nodes_.size());
  auto n = static_cast<uint32_t>(batch.size());
  // New tasks of a halted job never start; in a failed optional branch they
  // are skipped. Both are decided once for the whole batch.
  auto initial = task_state::queued;
  if (parent != no_task && in_failed_branch(parent))
    initial = task_state::skipped;
  else if (halted())
    initial = task_state::canceled;
  for (uint32_t pos = 0; pos < n; ++pos) {
    auto& sub = batch[pos];
    node x;
    x.parent = parent;
    x.identifier = intern_identifier(sub.identifier);
    x.cluster
      = sub.cluster.empty() ? inherited_cluster : intern_cluster(sub.cluster);
    x.max_retries = sub.max_retries;
    x.optional = sub.optional;
    if (parent != no_task)
      x.depth = pos > 0 && x.identifier == nodes_[base + pos - 1].identifier
                  ? nodes_[base + pos - 1].depth
                  : depth_under(parent, x.identifier);
    x.input = std::move(sub.input);
    auto& deps = sub.depends_on;
    std::sort(deps.begin(), deps.end());
    deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
    x.pending_deps = static_cast<uint32_t>(deps.size());
    x.state = initial;
    ++counts_[static_cast<size_t>(initial)];
    ++entered_[x.cluster][static_cast<size_t>(initial)];
    nodes_.push_back(std::move(x));
    if (!deps.empty()) {
      ++with_dependencies_;
      auto& mine = extra(base + pos).depends_on;
      for (auto d : deps) {
        mine.push_back(base + d);
        extra(base + d).dependents.push_back(base + pos);
      }
    }
  }
  if (parent != no_task) {
    auto& p = nodes_[parent];
    p.first_child = base;
    p.child_count = n;
    p.open_children = n;
  }
  if (initial == task_state::queued) {
    for (uint32_t pos = 0; pos < n; ++pos)
      if (nodes_[base + pos].pending_deps == 0)
        make_ready(base + pos);
  } else if (initial == task_state::skipped) {
    for (uint32_t pos = 0; pos < n; ++pos)
      propagate_settled(base + pos);
  }
}

void task_graph::make_ready(task_index i) {
  auto& n = nodes_[i];
  if (halted() || n.state != task_state::queued || n.pending_deps != 0)
    return;
  ++n.attempt;
  ready_.push_back(i);
}

std::vector<task_index> task_graph::take_ready() {
  std::vector<task_index> result;
  result.swap(ready_);
  return result;
}

bool task_graph::settled(const node& n) const noexcept {
  return is_settled_state(n.state) && n.open_children == 0;
}

void task_graph::propagate_settled(task_index start) {
  // Iterative: settling a leaf can settle a whole chain of ancestors.
  std::vector<task_index> todo;
  if (settled(nodes_[start]))
    todo.push_back(start);
  while (!todo.empty()) {
    auto i = todo.back();
    todo.pop_back();
    if (const auto* ex = find_extra(i))
      for (auto d : ex->dependents) {
        auto& dep = nodes_[d];
        if (--dep.pending_deps == 0 && dep.state == task_state::queued)
          make_ready(d);
      }
    auto p = nodes_[i].parent;
    if (p != no_task) {
      auto& pn = nodes_[p];
      --pn.open_children;
      if (settled(pn))
        todo.push_back(p);
    }
  }
}

bool task_graph::in_failed_branch(task_index i) const {
  if (failed_branches_ == 0)
    return false;
  for (; i != no_task; i = nodes_[i].parent)
    if (nodes_[i].branch_failed)
      return true;
  return false;
}

task_index task_graph::optional_branch_root(task_index i) const {
  for (; i != no_task; i = nodes_[i].parent)
    if (nodes_[i].optional)
      return i;
  return no_task;
}

bool task_graph::start(task_index i, uint32_t attempt, timestamp at) {
  if (i >= nodes_.size())
    return false;
  auto& n = nodes_[i];
  if (n.state != task_state::queued || n.attempt != attempt || halted())
    return false;
  set_state(n, task_state::running);
  ++n.attempts_started;
  n.started = at;
  n.stopped = 0;
  if (first_started_ == 0 || at < first_started_)
    first_started_ = at;
  return true;
}

void task_graph::replace_progress(task_index i,
                                  std::vector<progress_indicator>&& fresh) {
  // Only the last execution of a task counts: take the old one out first.
  auto find = [this](const std::string& label) -> progress_indicator& {
    for (auto& p : progress_)
      if (p.label == label)
        return p;
    progress_.push_back(progress_indicator{label, 0, 0});
    return progress_.back();
  };
  if (auto* ex = const_cast<extras*>(find_extra(i)))
    for (auto& old : ex->progress) {
      auto& sum = find(old.label);
      sum.total -= old.total;
      sum.done -= old.done;
    }
  if (fresh.empty()) {
    if (auto* ex = const_cast<extras*>(find_extra(i)))
      ex->progress.clear();
    return;
  }
  for (auto& p : fresh) {
    auto& sum = find(p.label);
    sum.total += p.total;
    sum.done += p.done;
  }
  extra(i).progress = std::move(fresh);
}

bool task_graph::report_progress(task_index i, uint32_t attempt,
                                 std::vector<progress_indicator> indicators) {
  if (i >= nodes_.size())
    return false;
  const auto& n = nodes_[i];
  if (n.state != task_state::running || n.attempt != attempt)
    return false;
  replace_progress(i, std::move(indicators));
  return true;
}

bool task_graph::finish(task_index i, uint32_t attempt, attempt_outcome&& out) {
  if (i >= nodes_.size())
    return false;
  auto& n = nodes_[i];
  if (n.state != task_state::running || n.attempt != attempt)
    return false;
  ++finished_attempts_;
  n.started = out.started != 0 ? out.started : n.started;
  n.stopped = out.stopped;
  if (n.started != 0 && out.stopped >= n.started)
    compute_ns_ += out.stopped - n.started;
  if (out.stopped > last_stopped_)
    last_stopped_ = out.stopped;
  replace_progress(i, std::move(out.progress));
  // Runners clean display names already; one of another release may not,
  // and what is stored here is shown on terminals and written as JSON.
  if (!out.display.empty())
    extra(i).display
      = clean_display_name(out.display, std::numeric_limits<size_t>::max());
  if (!out.succeeded || !out.logs.empty() || !out.spans.empty()) {
    attempt_record rec;
    rec.attempt = n.attempts_started;
    rec.runner = std::move(out.runner);
    rec.started = n.started;
    rec.stopped = n.stopped;
    rec.succeeded = out.succeeded;
    rec.error = out.error;
    rec.logs = std::move(out.logs);
    rec.spans = std::move(out.spans);
    history_[i].push_back(std::move(rec));
  }
  if (!out.succeeded) {
    fail_attempt(i, out.stopped);
    return true;
  }
  // Subtasks of a bad batch fail the attempt instead of corrupting the job.
  try {
    validate_batch(out.subtasks);
  } catch (const error& e) {
    history_[i].push_back(attempt_record{
      n.attempts_started, {}, n.started, n.stopped, false, e.what(), {}, {}});
    fail_attempt(i, out.stopped);
    return true;
  }
  set_state(nodes_[i], task_state::computed);
  if (out.subtasks.empty())
    propagate_settled(i);
  else // the task settles through its children (at once if all are skipped)
    add_batch(i, std::move(out.subtasks), nodes_[i].cluster);
  return true;
}

void task_graph::fail_attempt(task_index i, timestamp) {
  auto& n = nodes_[i];
  if (n.retries_used < n.max_retries && !in_failed_branch(i)) {
    ++n.retries_used;
    // In a halted job the retry waits for the job's retry, like any task
    // that did not get to start.
    set_state(n, halted() ? task_state::canceled : task_state::queued);
    make_ready(i);
    return;
  }
  if (in_failed_branch(i)) {
    // Already inside a branch given up on: its failure changes nothing else.
    set_state(n, task_state::failed_optional);
    propagate_settled(i);
    return;
  }
  auto branch = optional_branch_root(i);
  if (branch == no_task) {
    set_state(n, task_state::failed);
    cancel_queued();
    return;
  }
  set_state(n, task_state::failed_optional);
  nodes_[branch].branch_failed = true;
  ++failed_branches_;
  skip_branch(branch);
  propagate_settled(i);
}

void task_graph::skip_branch(task_index root) {
  // Queued tasks of the branch will never run; running ones finish and
  // their subtasks are skipped on arrival (see add_batch).
  std::vector<task_index> todo{root};
  std::vector<task_index> skipped;
  while (!todo.empty()) {
    auto i = todo.back();
    todo.pop_back();
    auto& n = nodes_[i];
    if (n.state == task_state::queued) {
      set_state(n, task_state::skipped);
      skipped.push_back(i);
    }
    for (uint32_t c = 0; c < n.child_count; ++c)
      todo.push_back(n.first_child + c);
  }
  ready_.erase(std::remove_if(ready_.begin(), ready_.end(),
                              [this](task_index r) {
                                return nodes_[r].state != task_state::queued;
                              }),
               ready_.end());
  for (auto i : skipped)
    propagate_settled(i);
}

void task_graph::cancel_queued() {
  for (auto& n : nodes_)
    if (n.state == task_state::queued)
      set_state(n, task_state::canceled);
  ready_.clear();
}

bool task_graph::lose(task_index i, uint32_t attempt, const std::string& reason,
                      timestamp at) {
  if (i >= nodes_.size())
    return false;
  auto& n = nodes_[i];
  if (n.state != task_state::running || n.attempt != attempt)
    return false;
  if (n.losses < max_runner_losses) {
    ++n.losses;
    set_state(n, task_state::queued);
    if (!halted())
      make_ready(i);
    else
      set_state(n, task_state::canceled);
    return true;
  }
  ++finished_attempts_;
  history_[i].push_back(attempt_record{n.attempts_started,
                                       {},
                                       n.started,
                                       at,
                                       false,
                                       "runner lost "
                                         + std::to_string(max_runner_losses + 1)
                                         + " times; last: " + reason,
                                       {},
                                       {}});
  fail_attempt(i, at);
  return true;
}

bool task_graph::redeliver(task_index i, uint32_t attempt) {
  if (i >= nodes_.size())
    return false;
  auto& n = nodes_[i];
  if (n.state != task_state::queued || n.attempt != attempt || halted())
    return false;
  make_ready(i);
  return true;
}

void task_graph::rebuild_ready() {
  ready_.clear();
  for (task_index i = 0; i < nodes_.size(); ++i)
    make_ready(i); // only queued tasks whose dependencies are settled
}

size_t task_graph::requeue_running() {
  size_t n = 0;
  for (task_index i = 0; i < nodes_.size(); ++i) {
    auto& node = nodes_[i];
    if (node.state != task_state::running)
      continue;
    set_state(node, halted() ? task_state::canceled : task_state::queued);
    make_ready(i);
    ++n;
  }
  return n;
}

size_t task_graph::cancel() {
  if (state() == job_state::completed)
    return 0; // nothing left to cancel
  canceled_ = true;
  auto before = count(task_state::canceled);
  cancel_queued();
  return count(task_state::canceled) - before;
}

size_t task_graph::retry() {
  canceled_ = false;
  std::vector<task_index> requeued;
  for (task_index i = 0; i < nodes_.size(); ++i) {
    auto& n = nodes_[i];
    if (n.state == task_state::failed || n.state == task_state::canceled) {
      set_state(n, task_state::queued);
      n.retries_used = 0;
      n.losses = 0;
      requeued.push_back(i);
    }
  }
  for (auto i : requeued)
    make_ready(i);
  return requeued.size();
}

job_state task_graph::state() const noexcept {
  if (failed_ > 0)
    return job_state::failed;
  if (canceled_)
    return job_state::canceled;
  if (count(task_state::running) > 0)
    return job_state::running;
  auto done = count(task_state::computed) + count(task_state::failed_optional)
              + count(task_state::skipped);
  if (done == nodes_.size())
    return job_state::completed;
  if (done > 0 || finished_attempts_ > 0)
    return job_state::started;
  return job_state::submitted;
}

const std::vector<uint32_t>& task_graph::dependencies(task_index i) const {
  static const std::vector<uint32_t> none;
  const auto* ex = find_extra(i);
  return ex == nullptr ? none : ex->depends_on;
}

task_info task_graph::info(task_index i) const {
  const auto& n = nodes_[i];
  task_info r;
  r.index = i;
  r.parent = n.parent == no_task ? task_info::no_parent : n.parent;
  r.identifier = identifiers_[n.identifier];
  const auto* ex = find_extra(i);
  r.display
    = ex == nullptr || ex->display.empty() ? r.identifier.name : ex->display;
  r.state = n.state;
  r.cluster = clusters_[n.cluster];
  r.input = n.input;
  r.optional = n.optional;
  r.attempts = n.attempts_started;
  r.retries_used = n.retries_used;
  r.runner_losses = n.losses;
  if (ex != nullptr)
    r.depends_on = ex->depends_on;
  for (uint32_t c = 0; c < n.child_count; ++c)
    r.subtasks.push_back(n.first_child + c);
  if (ex != nullptr)
    r.progress = ex->progress;
  r.started = n.started;
  r.stopped = n.stopped;
  if (auto it = history_.find(i); it != history_.end())
    r.history = it->second;
  return r;
}

execution_stats task_graph::stats() const {
  execution_stats s;
  s.first_started = first_started_;
  s.last_stopped = last_stopped_;
  s.compute_ns = compute_ns_;
  if (first_started_ != 0 && last_stopped_ > first_started_)
    s.elapsed_ns = last_stopped_ - first_started_;
  if (s.elapsed_ns > 0)
    s.parallelism
      = static_cast<double>(s.compute_ns) / static_cast<double>(s.elapsed_ns);
  s.total_tasks = nodes_.size();
  s.tasks_by_state = counts_;
  return s;
}

std::vector<item_progress> task_graph::items() const {
  std::vector<item_progress> result;
  auto describe = [&](task_index i) {
    item_progress item;
    item.task = i;
    const auto* x = find_extra(i);
    item.label = x != nullptr && !x->display.empty()
                   ? x->display
                   : identifiers_[nodes_[i].identifier].name;
    item.state = nodes_[i].state;
    uint64_t done = 0;
    uint64_t total = 0;
    std::vector<task_index> todo{i};
    while (!todo.empty()) {
      auto k = todo.back();
      todo.pop_back();
      const auto& n = nodes_[k];
      if (const auto* e = find_extra(k))
        for (const auto& p : e->progress) {
          done += p.done;
          total += p.total;
        }
      for (uint32_t c = 0; c < n.child_count; ++c)
        todo.push_back(n.first_child + c);
    }
    if (settled(nodes_[i]))
      item.percent = 100;
    else if (total > 0)
      item.percent
        = std::min(99.9, 100.0 * static_cast<double>(std::min(done, total))
                           / static_cast<double>(total));
    result.push_back(std::move(item));
  };
  for (task_index i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].parent != no_task)
      break; // the roots come first
    describe(i);
    const auto& root = nodes_[i];
    for (uint32_t c = 0; c < root.child_count; ++c) {
      auto k = root.first_child + c;
      const auto* x = find_extra(k);
      if (x != nullptr && !x->display.empty())
        describe(k);
    }
  }
  return result;
}

std::vector<progress_indicator> task_graph::progress() const {
  return progress_;
}

size_t task_graph::approximate_bytes() const {
  auto bytes = nodes_.capacity() * sizeof(node);
  for (const auto& n : nodes_)
    bytes += n.input.capacity();
  for (const auto& [i, ex] : extras_)
    bytes += sizeof(ex) + 32 + ex.display.capacity()
             + 4 * (ex.depends_on.capacity() + ex.dependents.capacity())
             + ex.progress.capacity() * sizeof(progress_indicator);
  for (const auto& [i, attempts] : history_)
    for (const auto& a : attempts) {
      bytes += sizeof(a) + a.error.capacity() + a.runner.capacity();
      for (const auto& l : a.logs)
        bytes += sizeof(l) + l.message.capacity() + l.fields.capacity();
      for (const auto& sp : a.spans)
        bytes += sizeof(sp) + sp.name.capacity() + sp.attributes.capacity();
    }
  return bytes;
}

} // namespace weft::core
