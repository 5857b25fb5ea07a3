#pragma once

#include <string>

namespace weft::core {

/// A new UUIDv7 (RFC 9562) in canonical text form: 48 bits of Unix
/// milliseconds, then a counter that keeps ids created in the same
/// millisecond by this process strictly increasing, then random bits. Ids
/// therefore sort by creation time, which `query` uses for id ranges.
std::string make_uuid_v7();

/// True for a canonical 36-character UUID text.
bool is_uuid(const std::string& text) noexcept;

} // namespace weft::core
