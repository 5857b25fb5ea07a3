#include "weft/core/uuid.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>

namespace weft::core {

std::string make_uuid_v7() {
  static std::mutex mtx;
  static std::mt19937_64 rng{std::random_device{}()};
  static uint64_t last_ms = 0;
  static uint16_t counter = 0;
  uint64_t ms;
  uint16_t seq;
  uint64_t rand_b;
  {
    std::lock_guard<std::mutex> guard{mtx};
    ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch())
        .count());
    if (ms <= last_ms) {
      // Same (or an earlier, after a clock step) millisecond: count on.
      ms = last_ms;
      if (++counter > 0x0fff) {
        ++ms;
        counter = 0;
      }
    } else {
      counter = static_cast<uint16_t>(rng() & 0x01ff); // leave room to count
    }
    last_ms = ms;
    seq = counter;
    rand_b = rng();
  }
  uint8_t b[16];
  for (int i = 0; i < 6; ++i)
    b[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  b[6] = static_cast<uint8_t>(0x70 | ((seq >> 8) & 0x0f));
  b[7] = static_cast<uint8_t>(seq & 0xff);
  for (int i = 0; i < 8; ++i)
    b[8 + i] = static_cast<uint8_t>(rand_b >> (56 - 8 * i));
  b[8] = static_cast<uint8_t>(0x80 | (b[8] & 0x3f));
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out.push_back('-');
    out.push_back(hex[b[i] >> 4]);
    out.push_back(hex[b[i] & 0x0f]);
  }
  return out;
}

bool is_uuid(const std::string& text) noexcept {
  if (text.size() != 36)
    return false;
  for (size_t i = 0; i < 36; ++i) {
    char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-')
        return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                 || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

} // namespace weft::core
