#pragma once

// How CAF serializes weft's public value types (job.hpp, core/attempt.hpp)
// when they travel between nodes. Field order is the wire format.

#include "weft/core/attempt.hpp"
#include "weft/job.hpp"

#include <caf/meta/type_name.hpp>

#include <optional>

namespace weft {

/// A `std::optional` member as CAF inspects its own `caf::optional`: a
/// flag, then the value when there is one. CAF 0.17 knows no std::optional,
/// and an overload for it could not be found by argument-dependent lookup,
/// so members are wrapped: `optional_field<double> p{x.percent}`.
template <class T>
struct optional_field {
  std::optional<T>& value;

  // Reads into `present` and `storage`, then sets `value` from them.
  struct loader {
    bool& present;
    T& storage;
    template <class Inspector>
    friend typename Inspector::result_type inspect(Inspector& f, loader& x) {
      return x.present ? f(x.storage) : f();
    }
  };

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f,
                                                 optional_field& x) {
    if constexpr (Inspector::reads_state) {
      return x.value ? f(true, *x.value) : f(false);
    } else {
      bool present = false;
      T storage{};
      loader helper{present, storage};
      struct assign {
        optional_field& x;
        bool& present;
        T& storage;
        ~assign() {
          if (present)
            x.value = std::move(storage);
          else
            x.value.reset();
        }
      } on_exit{x, present, storage};
      return f(present, helper);
    }
  }
};

template <class F>
typename F::result_type inspect(F& f, task_identifier& x) {
  return f(caf::meta::type_name("task_identifier"), x.name, x.version);
}

template <class F>
typename F::result_type inspect(F& f, progress_indicator& x) {
  return f(caf::meta::type_name("progress_indicator"), x.label, x.total,
           x.done);
}

template <class F>
typename F::result_type inspect(F& f, execution_stats& x) {
  return f(caf::meta::type_name("execution_stats"), x.first_started,
           x.last_stopped, x.compute_ns, x.elapsed_ns, x.parallelism,
           x.total_tasks, x.tasks_by_state);
}

template <class F>
typename F::result_type inspect(F& f, job_info& x) {
  return f(caf::meta::type_name("job_info"), x.id, x.name, x.cluster, x.state,
           x.submitted_at, x.running, x.progress, x.stats);
}

template <class F>
typename F::result_type inspect(F& f, job_query& x) {
  return f(caf::meta::type_name("job_query"), x.from.ns, x.to.ns, x.id_from,
           x.id_to, x.states, x.name, x.cluster, x.limit, x.cursor,
           x.newest_first);
}

template <class F>
typename F::result_type inspect(F& f, log_record& x) {
  return f(caf::meta::type_name("log_record"), x.time, x.level, x.message,
           x.fields);
}

template <class F>
typename F::result_type inspect(F& f, span_record& x) {
  return f(caf::meta::type_name("span_record"), x.name, x.start, x.end,
           x.attributes);
}

template <class F>
typename F::result_type inspect(F& f, attempt_record& x) {
  return f(caf::meta::type_name("attempt_record"), x.attempt, x.runner,
           x.started, x.stopped, x.succeeded, x.error, x.logs, x.spans);
}

template <class F>
typename F::result_type inspect(F& f, task_info& x) {
  return f(caf::meta::type_name("task_info"), x.index, x.parent, x.identifier,
           x.display, x.state, x.cluster, x.input, x.optional, x.attempts,
           x.retries_used, x.runner_losses, x.depends_on, x.subtasks,
           x.progress, x.started, x.stopped, x.history);
}

namespace core {

template <class F>
typename F::result_type inspect(F& f, task_submission& x) {
  return f(caf::meta::type_name("task_submission"), x.identifier, x.input,
           x.cluster, x.depends_on, x.max_retries, x.optional);
}

template <class F>
typename F::result_type inspect(F& f, attempt_outcome& x) {
  return f(caf::meta::type_name("attempt_outcome"), x.succeeded, x.error,
           x.subtasks, x.progress, x.display, x.logs, x.spans, x.started,
           x.stopped, x.runner);
}

} // namespace core

template <class F>
typename F::result_type inspect(F& f, runner_info& x) {
  return f(caf::meta::type_name("runner_info"), x.name, x.slots, x.identifiers,
           x.actor_slots, x.actor_tasks);
}

template <class F>
typename F::result_type inspect(F& f, item_progress& x) {
  optional_field<double> percent{x.percent};
  optional_field<double> raw_percent{x.raw_percent};
  return f(caf::meta::type_name("item_progress"), x.task, x.label, x.state,
           percent, raw_percent);
}

template <class F>
typename F::result_type inspect(F& f, progress_update& x) {
  optional_field<double> percent{x.percent};
  optional_field<double> raw_percent{x.raw_percent};
  optional_field<int64_t> eta_ns{x.eta_ns};
  return f(caf::meta::type_name("progress_update"), x.job_id, x.name, x.state,
           x.progress, x.stats, percent, raw_percent, x.items, eta_ns, x.at,
           x.final, x.learned);
}

template <class F>
typename F::result_type inspect(F& f, cluster_info& x) {
  return f(caf::meta::type_name("cluster_info"), x.name, x.runners, x.queued,
           x.dispatched, x.unserved);
}

} // namespace weft
