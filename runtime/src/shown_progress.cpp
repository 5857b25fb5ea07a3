#include "weft/core/shown_progress.hpp"

#include <algorithm>

namespace weft::core {

std::optional<double> shown_percent::next(std::optional<double> raw) {
  if (!raw)
    return std::nullopt;
  auto r = std::clamp(*raw, 0.0, 100.0);
  if (!seen_) {
    seen_ = true;
    shown_ = r;
  } else if (r >= 100) {
    shown_ = 100;
  } else if (r > raw_) {
    // While they agree (the estimate never fell) the estimate itself: the
    // formula gives the same up to rounding.
    shown_ = shown_ == raw_
               ? r
               : std::min(100.0,
                          shown_ + (100 - shown_) * (r - raw_) / (100 - raw_));
  }
  raw_ = r;
  return shown_;
}

void shown_progress::apply(progress_update& u) {
  u.percent = job_.next(u.raw_percent);
  if (u.state == job_state::completed)
    u.percent = 100;
  for (auto& item : u.items)
    item.percent = items_[item.task].next(item.raw_percent);
}

void shown_progress::reset() {
  job_ = {};
  items_.clear();
}

} // namespace weft::core
