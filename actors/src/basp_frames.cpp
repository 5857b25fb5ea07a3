#include "weft/actors/basp_frames.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/deserializer.hpp>

#include <cstring>
#include <set>

namespace weft::basp {

namespace {

uint64_t get_be(const char* p, size_t n) {
  uint64_t x = 0;
  for (size_t i = 0; i < n; ++i)
    x = (x << 8) | static_cast<uint8_t>(p[i]);
  return x;
}

void put_be(std::string& out, uint64_t x, size_t n) {
  for (size_t i = n; i-- > 0;)
    out.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
}

// Header flags CAF defines, and which operation may carry them.
constexpr uint8_t named_receiver_flag = 0x01;
constexpr uint8_t select_connection_flag = 0x02;

const char* name_of(uint8_t op) {
  switch (static_cast<operation>(op)) {
    case operation::server_handshake: return "server handshake";
    case operation::client_handshake: return "client handshake";
    case operation::direct_message: return "direct message";
    case operation::routed_message: return "routed message";
    case operation::monitor_message: return "monitor message";
    case operation::down_message: return "down message";
    case operation::heartbeat: return "heartbeat";
  }
  return "unknown operation";
}

/// The header fields each operation requires (those CAF checks, and those
/// it checks only later or not at all), and the flags it may carry.
bool fields_hold(const header& h, bool first, uint8_t& allowed_flags) {
  auto zero = [](uint64_t x) { return x == 0; };
  allowed_flags = 0;
  switch (static_cast<operation>(h.operation)) {
    case operation::server_handshake:
      return h.operation_data == version && h.payload_len > 0
             && zero(h.source_actor) && zero(h.dest_actor);
    case operation::client_handshake:
      // The first one selects nothing; the repeat selects this connection.
      if (!first)
        allowed_flags = select_connection_flag;
      return zero(h.operation_data) && h.payload_len > 0 && zero(h.source_actor)
             && zero(h.dest_actor);
    case operation::direct_message:
      allowed_flags = named_receiver_flag;
      return !zero(h.dest_actor) && h.payload_len > 0;
    case operation::routed_message:
      return !zero(h.dest_actor) && h.payload_len > 0;
    case operation::monitor_message:
      return h.payload_len > 0 && zero(h.operation_data);
    case operation::down_message:
      return !zero(h.source_actor) && zero(h.dest_actor) && h.payload_len > 0
             && zero(h.operation_data);
    case operation::heartbeat:
      return zero(h.source_actor) && zero(h.dest_actor) && h.payload_len == 0
             && zero(h.operation_data);
  }
  return false;
}

} // namespace

header decode_header(const char* b) {
  header h;
  h.operation = static_cast<uint8_t>(b[0]);
  h.padding1 = static_cast<uint8_t>(b[1]);
  h.padding2 = static_cast<uint8_t>(b[2]);
  h.flags = static_cast<uint8_t>(b[3]);
  h.payload_len = static_cast<uint32_t>(get_be(b + 4, 4));
  h.operation_data = get_be(b + 8, 8);
  h.source_actor = get_be(b + 16, 8);
  h.dest_actor = get_be(b + 24, 8);
  return h;
}

std::string encode_header(const header& h) {
  std::string out;
  out.reserve(header_size);
  out.push_back(static_cast<char>(h.operation));
  out.push_back(static_cast<char>(h.padding1));
  out.push_back(static_cast<char>(h.padding2));
  out.push_back(static_cast<char>(h.flags));
  put_be(out, h.payload_len, 4);
  put_be(out, h.operation_data, 8);
  put_be(out, h.source_actor, 8);
  put_be(out, h.dest_actor, 8);
  return out;
}

frame_checker::frame_checker(role r, caf::node_id own, size_t max_message_bytes)
    : role_(r), own_(std::move(own)), max_message_bytes_(max_message_bytes) {
}

bool frame_checker::fail(std::string why) {
  phase_ = phase::failed;
  failure_ = std::move(why);
  handshake_.clear();
  handshake_.shrink_to_fit();
  return false;
}

bool frame_checker::check_header(const header& h) {
  if (h.padding1 != 0 || h.padding2 != 0)
    return fail("malformed BASP header (nonzero padding)");
  if (h.operation > static_cast<uint8_t>(operation::heartbeat))
    return fail("malformed BASP header (operation "
                + std::to_string(h.operation) + ")");
  auto op = static_cast<operation>(h.operation);
  const bool handshake
    = op == operation::server_handshake || op == operation::client_handshake;
  // Which handshake each side may send, and when.
  auto expected = role_ == role::accepting ? operation::client_handshake
                                           : operation::server_handshake;
  if (phase_ == phase::handshake && op != expected)
    return fail(std::string{"expected a "} + name_of(uint8_t(expected))
                + " first, got a " + name_of(h.operation));
  if (op == operation::server_handshake && role_ == role::accepting)
    return fail("a server handshake from a connecting peer");
  if (op == operation::server_handshake && phase_ != phase::handshake)
    return fail("a second server handshake");
  if (op == operation::client_handshake && role_ == role::connecting)
    return fail("a client handshake from the server");
  size_t limit
    = handshake ? max_handshake_payload : max_message_bytes_ - header_size;
  if (h.payload_len > limit)
    return fail(std::string{"a "} + name_of(h.operation) + " of "
                + std::to_string(h.payload_len)
                + " bytes, more than the limit of " + std::to_string(limit));
  uint8_t allowed_flags = 0;
  bool ok = fields_hold(h, phase_ == phase::handshake, allowed_flags);
  if (!ok)
    return fail(std::string{"malformed "} + name_of(h.operation) + " header");
  if ((h.flags & ~allowed_flags) != 0)
    return fail(std::string{"malformed "} + name_of(h.operation)
                + " header (flags " + std::to_string(h.flags) + ")");
  return true;
}

bool frame_checker::check_handshake(const header& h,
                                    const std::vector<char>& payload) {
  caf::binary_deserializer bd{static_cast<caf::execution_unit*>(nullptr),
                              payload.data(), payload.size()};
  caf::node_id node;
  caf::error err;
  if (static_cast<operation>(h.operation) == operation::client_handshake) {
    err = bd(node);
  } else {
    std::vector<std::string> app_ids;
    uint64_t aid = 0;
    std::set<std::string> sigs;
    err = bd(node, app_ids, aid, sigs);
  }
  if (err || bd.remaining() != 0)
    return fail(std::string{"malformed "} + name_of(h.operation) + " payload");
  if (!node)
    return fail(std::string{"a "} + name_of(h.operation)
                + " without a node id");
  if (node == own_)
    return fail(std::string{"a "} + name_of(h.operation)
                + " that claims this node's id");
  return true;
}

bool frame_checker::feed(const char* data, size_t n, std::vector<char>& out) {
  while (n > 0) {
    if (phase_ == phase::failed)
      return false;
    if (payload_left_ > 0) {
      auto take = static_cast<size_t>(std::min<uint64_t>(payload_left_, n));
      if (holding_handshake_)
        handshake_.insert(handshake_.end(), data, data + take);
      else
        out.insert(out.end(), data, data + take);
      data += take;
      n -= take;
      payload_left_ -= take;
      if (payload_left_ == 0 && holding_handshake_) {
        holding_handshake_ = false;
        if (!check_handshake(current_, handshake_))
          return false;
        out.insert(out.end(), header_, header_ + header_size);
        out.insert(out.end(), handshake_.begin(), handshake_.end());
        handshake_.clear();
        phase_ = phase::open;
      }
      continue;
    }
    auto take = std::min(header_size - header_have_, n);
    std::memcpy(header_ + header_have_, data, take);
    header_have_ += take;
    data += take;
    n -= take;
    if (header_have_ < header_size)
      break;
    header_have_ = 0;
    current_ = decode_header(header_);
    if (!check_header(current_))
      return false;
    auto op = static_cast<operation>(current_.operation);
    payload_left_ = current_.payload_len;
    if (op == operation::server_handshake
        || op == operation::client_handshake) {
      holding_handshake_ = true;
      handshake_.reserve(current_.payload_len);
    } else {
      out.insert(out.end(), header_, header_ + header_size);
    }
  }
  return phase_ != phase::failed;
}

} // namespace weft::basp
