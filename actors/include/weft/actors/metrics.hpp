#pragma once

// What an orchestrator counts while it works, and the text a Prometheus
// server scrapes (exposition format 0.0.4): counters and histograms the
// actors update as they go, gauges read from the clusters at scrape time.
// The metrics are listed in docs/metrics.md.

#include "weft/job.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace weft {

struct orchestrator;

/// A histogram of durations over fixed buckets. Observing is lock-free
/// (two relaxed atomic additions) and may come from any thread.
class duration_histogram {
public:
  /// `bounds`: the buckets' upper bounds in seconds, increasing, in storage
  /// that outlives the histogram.
  explicit duration_histogram(std::span<const double> bounds);

  duration_histogram(const duration_histogram&) = delete;
  duration_histogram& operator=(const duration_histogram&) = delete;

  /// One duration in nanoseconds; a negative one (clocks of two machines)
  /// counts as zero.
  void observe(int64_t ns) noexcept;

  struct reading {
    /// Cumulative: observations at or below each bound, then all (+Inf).
    std::vector<uint64_t> buckets;
    double sum = 0; ///< seconds
    /// Equal to buckets.back(), by construction.
    uint64_t count = 0;
  };
  /// What was observed so far. Observations made meanwhile may be in the
  /// buckets and not yet in the sum, never the other way round in the
  /// count: the count is the buckets'.
  reading read() const;

  std::span<const double> bounds() const noexcept {
    return bounds_;
  }

private:
  std::span<const double> bounds_;
  std::vector<int64_t> bounds_ns_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_; // per bucket, then +Inf
  std::atomic<uint64_t> sum_ns_{0};
};

/// Bucket bounds in seconds, 100 µs to 60 s in steps of 1, 2.5 and 5: for
/// latencies (dispatch, journal syncs).
std::span<const double> latency_buckets() noexcept;
/// The same, continued up to an hour: for how long attempts run.
std::span<const double> duration_buckets() noexcept;

/// What the job and cluster actors count for one cluster name. Created on
/// first use and never removed, so a reference stays valid for as long as
/// the registry lives: actors look theirs up once and keep the pointer.
struct cluster_metrics {
  /// Tasks that entered each state (only the final ones are exposed:
  /// computed, failed, canceled, failed_optional, skipped).
  std::array<std::atomic<uint64_t>, task_state_count> tasks_entered{};
  /// Attempts sent again after their runner was lost.
  std::atomic<uint64_t> attempts_requeued{0};
  /// How long attempts ran, as their runners measured them. (Job actors
  /// write this one, the cluster actor the next: a cache line each.)
  alignas(64) duration_histogram task_duration{duration_buckets()};
  /// From the cluster queuing an attempt to it sending it to a runner.
  alignas(64) duration_histogram dispatch_latency{latency_buckets()};
};

/// A cluster's gauges as it answered at scrape time (`cluster_info`).
struct cluster_gauges {
  std::string name;
  uint64_t queued = 0;
  uint64_t running = 0; ///< dispatched to runners, not yet settled
  uint64_t runners = 0;
  uint64_t slots = 0;
};

/// One orchestrator's metrics. Thread-safe: counters and histograms are
/// atomics; a mutex guards only the creation of a cluster's counters.
class metrics {
public:
  metrics() = default;
  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;

  /// The counters of cluster `name`, created on first use (takes the
  /// mutex: look it up once, keep the reference).
  cluster_metrics& cluster(const std::string& name);

  /// A job settled in `state` (final, nothing of it running).
  void job_settled(job_state state) noexcept {
    jobs_settled_[static_cast<size_t>(state)].fetch_add(
      1, std::memory_order_relaxed);
  }

  /// `n` start (or result) reports of attempts were rejected: no lease of
  /// their job held them any more.
  void reports_rejected(bool result, size_t n) noexcept {
    (result ? results_rejected_ : starts_rejected_)
      .fetch_add(n, std::memory_order_relaxed);
  }

  /// A runner handed back `n` leased attempts it had not started.
  void leases_handed_back(size_t n) noexcept {
    leases_handed_back_.fetch_add(n, std::memory_order_relaxed);
  }

  /// A job actor came into memory, or left it.
  void job_loaded() noexcept {
    jobs_live_.fetch_add(1, std::memory_order_relaxed);
  }
  void job_unloaded() noexcept {
    jobs_live_.fetch_sub(1, std::memory_order_relaxed);
  }

  /// The journal made a write; `synced` ones took `ns` including the sync.
  void journal_written(bool synced, int64_t ns) noexcept {
    journal_writes_.fetch_add(1, std::memory_order_relaxed);
    if (synced) {
      journal_syncs_.fetch_add(1, std::memory_order_relaxed);
      journal_sync_.observe(ns);
    }
  }

  /// Every metric as exposition text, with the gauges of `clusters` (those
  /// that answered) and the resident set, when known.
  std::string render(const std::vector<cluster_gauges>& clusters,
                     std::optional<uint64_t> resident_bytes) const;

private:
  std::array<std::atomic<uint64_t>, job_state_count> jobs_settled_{};
  std::atomic<int64_t> jobs_live_{0};
  std::atomic<uint64_t> starts_rejected_{0};
  std::atomic<uint64_t> results_rejected_{0};
  std::atomic<uint64_t> leases_handed_back_{0};
  std::atomic<uint64_t> journal_writes_{0};
  std::atomic<uint64_t> journal_syncs_{0};
  duration_histogram journal_sync_{latency_buckets()};
  mutable std::mutex mtx_; // guards clusters_ (the map, not the counters)
  std::map<std::string, std::unique_ptr<cluster_metrics>> clusters_;
};

/// A label value as the exposition format writes it between quotes:
/// backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view value);

/// The orchestrator's metrics as exposition text (serve it with
/// `Content-Type: text/plain; version=0.0.4`). Callable from any thread
/// that is not one of the orchestrator's actors: it asks each cluster for
/// its gauges, waiting up to `timeout` in all; a cluster that does not
/// answer in time is left out of the gauges. No job actor is asked.
std::string scrape_metrics(orchestrator& orch,
                           std::chrono::milliseconds timeout);

} // namespace weft
