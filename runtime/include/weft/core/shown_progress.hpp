#pragma once

#include "weft/job.hpp"

#include <cstdint>
#include <map>
#include <optional>

/// The percentages a job's watchers are shown: the estimates of
/// `core::estimate`, never going back (see docs/progress.md, "A bar that
/// never goes back").
namespace weft::core {

/// One percentage as shown. It keeps the last shown value s and the last
/// estimate r; for a new estimate r':
///
/// - r' <= r: s stays (the estimate fell: more work appeared);
/// - r' > r: s moves by the same share of what it has left as the estimate
///   moved of what it had left, s' = s + (100 - s) (r' - r) / (100 - r).
///
/// So s never falls, equals the estimate for as long as the estimate never
/// fell, is never below it (the gap shrinks with what the estimate has
/// left), and is 100 exactly when the estimate is. No estimate shows none
/// and keeps the state: the next estimate continues from the last one.
class shown_percent {
public:
  /// Takes the next estimate (0-100; empty: none) and returns the value to
  /// show.
  std::optional<double> next(std::optional<double> raw);

private:
  bool seen_ = false; // an estimate came before
  double shown_ = 0;
  double raw_ = 0;
};

/// The shown percentages of one job: the job's and each item's (by task
/// index), all following one sequence of updates.
class shown_progress {
public:
  /// Fills `u.percent` and each item's `percent` with the values to show,
  /// from their `raw_percent`. A COMPLETED job shows 100.
  void apply(progress_update& u);

  /// Forgets what was shown: the next estimates are shown as they are.
  void reset();

private:
  shown_percent job_;
  std::map<uint32_t, shown_percent> items_;
};

} // namespace weft::core
