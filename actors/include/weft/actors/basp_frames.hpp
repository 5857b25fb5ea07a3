#pragma once

// BASP framing as CAF 0.17.6 speaks it, checked before CAF sees a byte.
// CAF's parser trusts its peer in places (a server handshake without a
// payload dereferences a null buffer; a length claim is allocated before
// anything is authenticated), so every byte a peer sends passes through a
// frame_checker first: it knows which operations each side may send in
// which phase, the header rules of each, and the handshake payloads, and it
// bounds every length. Plain data: unit-tested without sockets.

#include <caf/node_id.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace weft::basp {

/// The size of a BASP header on the wire (CAF 0.17.6, BASP version 3).
constexpr size_t header_size = 32;
/// The BASP version a server handshake carries.
constexpr uint64_t version = 3;
/// Handshakes carry node ids, application identifiers and interface
/// names: a few hundred bytes. Anything near this is not a handshake.
constexpr size_t max_handshake_payload = 64 * 1024;

enum class operation : uint8_t {
  server_handshake = 0,
  client_handshake = 1,
  direct_message = 2,
  routed_message = 3,
  monitor_message = 4,
  down_message = 5,
  heartbeat = 6,
};

struct header {
  uint8_t operation = 0;
  uint8_t padding1 = 0;
  uint8_t padding2 = 0;
  uint8_t flags = 0;
  uint32_t payload_len = 0;
  uint64_t operation_data = 0;
  uint64_t source_actor = 0;
  uint64_t dest_actor = 0;
};

/// Decodes a header from `header_size` bytes (network byte order).
header decode_header(const char* bytes);
/// Encodes a header into `header_size` bytes (for tests and fuzzing).
std::string encode_header(const header& hdr);

/// Which side of a connection this node is.
enum class role {
  accepting,  ///< it accepted: the peer must open with a client handshake
  connecting, ///< it connected: the peer must open with a server handshake
};

/// Checks one direction of a connection: the bytes a peer sends. Bytes that
/// pass are appended to the output in order; the first violation stops the
/// connection for good and says why in one line.
class frame_checker {
public:
  /// `own` is this node: a peer claiming to be it is refused.
  frame_checker(role r, caf::node_id own, size_t max_message_bytes);

  /// Checks `n` more bytes. Appends what passed to `out`; returns false
  /// (and sets `failure()`) at the first violation.
  bool feed(const char* data, size_t n, std::vector<char>& out);

  /// True once the peer's opening handshake passed.
  bool open() const noexcept {
    return phase_ != phase::handshake;
  }
  const std::string& failure() const noexcept {
    return failure_;
  }
  /// Bytes held back while a handshake payload is incomplete.
  size_t buffered() const noexcept {
    return header_have_ + handshake_.size();
  }

private:
  enum class phase { handshake, open, failed };
  bool fail(std::string why);
  bool check_header(const header& hdr);
  bool check_handshake(const header& hdr, const std::vector<char>& payload);

  role role_;
  caf::node_id own_;
  size_t max_message_bytes_;
  phase phase_ = phase::handshake;
  char header_[header_size];
  size_t header_have_ = 0;
  header current_;
  // A handshake's payload is checked whole before it passes; a message's
  // payload streams through.
  bool holding_handshake_ = false;
  std::vector<char> handshake_;
  uint64_t payload_left_ = 0;
  std::string failure_;
};

} // namespace weft::basp
