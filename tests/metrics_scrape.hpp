#pragma once

// Reading a counter from a server's /metrics, as the multi-process tests do.

#include "exposition.hpp"
#include "http_client.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <string>

namespace weft::test {

/// The sum of a counter's series, or nullopt when it is not exported yet.
inline std::optional<double> counter_sum(const http_target& to,
                                         const std::string& name) {
  auto r = http_get(to, "/metrics");
  REQUIRE(r.status == 200);
  auto m = exposition::parsed(r.body);
  if (!m.has(name))
    return std::nullopt;
  double sum = 0;
  for (const auto& s : m.get(name).samples)
    sum += s.value;
  return sum;
}

} // namespace weft::test
