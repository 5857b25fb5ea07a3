#pragma once

// A cluster's dispatch rules as plain data: the cluster actor only moves
// the messages this decides. Queued attempts wait in one FIFO per task
// identifier; a runner with credit takes, one at a time, the head of the
// compatible queue that arrived first (a runner may run a task when the
// names match, the majors are equal and its minor is at least the
// submitted one); what it was given stays "in flight" until the job
// settles it, so a runner lost before its job heard of them hands them
// back, and a job that is gone takes its items and dispatches with it.
// Runners are served round robin, one item each per round, one batch each
// per dispatch. A runner has credit of two kinds: for plain tasks (its
// threads and their leases) and for actor tasks (its actor slots); an item
// takes credit of the kind the runner registered its task as.

#include "weft/error.hpp"
#include "weft/identifier.hpp"
#include "weft/task.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace weft::core {

/// `Item` has `identifier` (task_identifier), `job_id` (std::string) and
/// `seq` (uint64_t, assigned here), and `Ticket ticket() const`: what is
/// kept of it while in flight. `RunnerKey` identifies a runner (equality).
template <class Item, class RunnerKey, class Ticket>
class dispatch_queue {
public:
  struct in_flight {
    RunnerKey runner;
    std::string job_id; // so that a job that is gone can be forgotten
    Ticket ticket;
  };

  /// Queues `items` in arrival order, each stamped with the next seq.
  void enqueue(std::vector<Item>& items) {
    for (auto& item : items) {
      item.seq = next_seq_++;
      auto i = queues_.find(item.identifier);
      if (i == queues_.end())
        i = queues_.emplace(item.identifier, make_queue(item.identifier)).first;
      i->second.items.push_back(std::move(item));
    }
  }

  /// The job processed these dispatches: they are no longer in flight.
  void settle(const std::vector<uint64_t>& seqs) {
    for (auto seq : seqs)
      in_flight_.erase(seq);
  }

  /// Drops every queued item of a job (canceled, failed).
  void withdraw(const std::string& job_id) {
    for (auto& [id, q] : queues_)
      q.items.erase(std::remove_if(q.items.begin(), q.items.end(),
                                   [&](const Item& x) {
                                     return x.job_id == job_id;
                                   }),
                    q.items.end());
  }

  /// The runners that hold dispatches of a job not yet settled, each once.
  std::vector<RunnerKey> holders(const std::string& job_id) const {
    std::vector<RunnerKey> out;
    for (const auto& [seq, f] : in_flight_)
      if (f.job_id == job_id
          && std::find(out.begin(), out.end(), f.runner) == out.end())
        out.push_back(f.runner);
    return out;
  }

  /// A job is gone (its actor ended): nobody will settle what it was given
  /// or start what it queued, so both are dropped. Returns how many in-flight
  /// dispatches went. No credit comes back here: queued items took none,
  /// and a runner returns the credit of each dispatch it received itself,
  /// once the attempt ends or its job fails to answer the start request.
  size_t forget_job(const std::string& job_id) {
    withdraw(job_id);
    return std::erase_if(in_flight_, [&](const auto& entry) {
      return entry.second.job_id == job_id;
    });
  }

  /// A runner that runs `versions` (already validated) joins with no
  /// credit; those also in `actor_versions` are actor tasks there.
  void add_runner(RunnerKey key, std::vector<task_identifier> versions,
                  const std::vector<task_identifier>& actor_versions = {}) {
    runner r{std::move(key), {}, {}};
    for (auto& id : versions) {
      auto kind = std::find(actor_versions.begin(), actor_versions.end(), id)
                      != actor_versions.end()
                    ? task_kind::actor
                    : task_kind::plain;
      r.versions.push_back(
        {std::move(id.name), parse_version(id.version), kind});
    }
    runners_.push_back(std::move(r));
  }

  /// A runner left. Returns what it was given and its job has not settled,
  /// with their seqs, to hand back; they stay in flight until settled.
  std::vector<std::pair<uint64_t, Ticket>> remove_runner(const RunnerKey& key) {
    std::vector<std::pair<uint64_t, Ticket>> lost;
    for (const auto& [seq, f] : in_flight_)
      if (f.runner == key)
        lost.emplace_back(seq, f.ticket);
    std::sort(lost.begin(), lost.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    erase_runner(key);
    return lost;
  }

  /// A runner left gracefully: what it was given, it runs.
  void forget_runner(const RunnerKey& key) {
    erase_runner(key);
  }

  /// Credit for `plain` more plain attempts and `actor` more actor ones.
  void add_credit(const RunnerKey& key, uint64_t plain, uint64_t actor = 0) {
    for (auto& r : runners_)
      if (r.key == key) {
        r.credit[0] += plain;
        r.credit[1] += actor;
        return;
      }
  }

  /// Hands queued items to runners with credit, one batch per runner: one
  /// item per runner per round, the runners in round-robin order starting
  /// one further each time, so that runners with credit share what is
  /// queued (a runner with a large lease window does not take it all).
  std::vector<std::pair<RunnerKey, std::vector<Item>>> dispatch() {
    std::vector<std::pair<RunnerKey, std::vector<Item>>> out;
    auto n = runners_.size();
    if (n == 0)
      return out;
    std::vector<std::vector<Item>> batches(n);
    for (bool took = true; took;) {
      took = false;
      for (size_t k = 0; k < n; ++k) {
        auto idx = (next_runner_ + k) % n;
        auto& r = runners_[idx];
        if (r.credit[0] == 0 && r.credit[1] == 0)
          continue;
        auto [q, kind] = next_queue_with_credit(r);
        if (q == nullptr)
          continue;
        auto& item = q->items.front();
        in_flight_.emplace(item.seq,
                           in_flight{r.key, item.job_id, item.ticket()});
        batches[idx].push_back(std::move(item));
        q->items.pop_front();
        --r.credit[static_cast<size_t>(kind)];
        took = true;
      }
    }
    for (size_t k = 0; k < n; ++k) {
      auto idx = (next_runner_ + k) % n;
      if (!batches[idx].empty())
        out.emplace_back(runners_[idx].key, std::move(batches[idx]));
    }
    next_runner_ = (next_runner_ + 1) % n;
    return out;
  }

  /// Nothing is in flight and nothing queued is for this runner (a runner
  /// not in the cluster counts as idle).
  bool idle_for(const RunnerKey& key) const {
    if (!in_flight_.empty())
      return false;
    for (const auto& r : runners_)
      if (r.key == key)
        return next_queue(r) == nullptr;
    return true;
  }

  size_t queued() const {
    size_t n = 0;
    for (const auto& [id, q] : queues_)
      n += q.items.size();
    return n;
  }

  size_t dispatched() const {
    return in_flight_.size();
  }

  bool any_in_flight() const {
    return !in_flight_.empty();
  }

  /// Identifiers with queued items that no runner of the cluster can run.
  std::vector<task_identifier> unserved() const {
    std::vector<task_identifier> out;
    for (const auto& [id, q] : queues_) {
      if (q.items.empty())
        continue;
      bool served = std::any_of(runners_.begin(), runners_.end(),
                                [&](const runner& r) { return can_run(r, q); });
      if (!served)
        out.push_back(id);
    }
    return out;
  }

private:
  struct version_entry {
    std::string name;
    task_version version;
    task_kind kind = task_kind::plain;
  };

  struct runner {
    RunnerKey key;
    std::vector<version_entry> versions;
    std::array<uint64_t, 2> credit{}; // by task_kind
  };

  struct queue {
    std::string name;
    std::optional<task_version> version; // none: never dispatched
    std::deque<Item> items;
  };

  static queue make_queue(const task_identifier& id) {
    queue q;
    q.name = id.name;
    try {
      q.version = parse_version(id.version);
    } catch (const error&) {
      // Submission checks prevent this; such items wait, unserved.
    }
    return q;
  }

  static bool can_run(const runner& r, const queue& q) {
    return kind_for(r, q).has_value();
  }

  /// How `r` runs the items of `q`: as the version it would choose (the
  /// highest compatible minor, as its registry does); none if it cannot.
  static std::optional<task_kind> kind_for(const runner& r, const queue& q) {
    if (!q.version)
      return std::nullopt;
    const version_entry* best = nullptr;
    for (const auto& v : r.versions)
      if (v.name == q.name && compatible(*q.version, v.version)
          && (best == nullptr || v.version.minor > best->version.minor))
        best = &v;
    if (best == nullptr)
      return std::nullopt;
    return best->kind;
  }

  /// The compatible queue whose head arrived first among those the runner
  /// has credit for, with the kind it runs them as; null if none.
  std::pair<queue*, task_kind> next_queue_with_credit(const runner& r) {
    queue* best = nullptr;
    task_kind best_kind = task_kind::plain;
    for (auto& [id, q] : queues_) {
      if (q.items.empty()
          || (best != nullptr
              && q.items.front().seq >= best->items.front().seq))
        continue;
      auto kind = kind_for(r, q);
      if (kind && r.credit[static_cast<size_t>(*kind)] > 0) {
        best = &q;
        best_kind = *kind;
      }
    }
    return {best, best_kind};
  }

  /// The compatible queue whose head arrived first, or null.
  const queue* next_queue(const runner& r) const {
    const queue* best = nullptr;
    for (const auto& [id, q] : queues_)
      if (!q.items.empty() && can_run(r, q)
          && (best == nullptr || q.items.front().seq < best->items.front().seq))
        best = &q;
    return best;
  }

  void erase_runner(const RunnerKey& key) {
    runners_.erase(std::remove_if(runners_.begin(), runners_.end(),
                                  [&](const runner& r) {
                                    return r.key == key;
                                  }),
                   runners_.end());
  }

  std::vector<runner> runners_;
  std::map<task_identifier, queue> queues_;
  std::unordered_map<uint64_t, in_flight> in_flight_;
  uint64_t next_seq_ = 0;
  size_t next_runner_ = 0;
};

} // namespace weft::core
