#pragma once

// Waiting for something another thread or process does: poll a condition
// until it holds or a bound passes, instead of sleeping a fixed time and
// hoping it happened.

#include <chrono>
#include <thread>

namespace weft::test {

/// Polls `pred` every `poll` until it returns true or `limit` passed;
/// returns its last answer (so `REQUIRE(wait_until(...))` fails when the
/// condition never held).
template <class Pred>
bool wait_until(Pred&& pred, std::chrono::milliseconds limit,
                std::chrono::milliseconds poll = std::chrono::milliseconds{5}) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (pred())
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(poll);
  }
}

} // namespace weft::test
