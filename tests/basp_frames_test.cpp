// The frame checker as plain data: which frames pass, in which order, and
// that a stream cut anywhere gives the same verdict.

#include <weft/actors/basp_frames.hpp>

#include <caf/binary_serializer.hpp>
#include <caf/serializer.hpp>

#include <catch2/catch.hpp>

namespace basp = weft::basp;

namespace {

caf::node_id some_node(uint8_t seed) {
  caf::node_id::default_data::host_id_type host;
  for (size_t i = 0; i < host.size(); ++i)
    host[i] = static_cast<uint8_t>(seed + i);
  return caf::make_node_id(1000u + seed, host);
}

std::string frame(basp::operation op, const std::string& payload,
                  uint64_t operation_data = 0, uint64_t dest = 0,
                  uint8_t flags = 0) {
  basp::header h;
  h.operation = static_cast<uint8_t>(op);
  h.flags = flags;
  h.payload_len = static_cast<uint32_t>(payload.size());
  h.operation_data = operation_data;
  h.dest_actor = dest;
  return basp::encode_header(h) + payload;
}

template <class... Ts>
std::string serialized(Ts&&... xs) {
  std::vector<char> buf;
  caf::binary_serializer sink{static_cast<caf::execution_unit*>(nullptr), buf};
  if (auto err = sink(xs...))
    FAIL("cannot serialize");
  return {buf.begin(), buf.end()};
}

std::string client_hello(uint8_t seed = 1, uint8_t flags = 0) {
  auto node = some_node(seed);
  return frame(basp::operation::client_handshake, serialized(node), 0, 0,
               flags);
}

struct verdict {
  bool ok;
  std::string passed;
  std::string why;
};

verdict check(basp::role role, const std::string& bytes, size_t chunk = 0,
              size_t max_message = 1 << 20) {
  basp::frame_checker c{role, some_node(99), max_message};
  std::vector<char> out;
  bool ok = true;
  if (chunk == 0)
    chunk = bytes.size();
  for (size_t i = 0; i < bytes.size() && ok; i += chunk)
    ok = c.feed(bytes.data() + i, std::min(chunk, bytes.size() - i), out);
  return {ok, {out.begin(), out.end()}, c.failure()};
}

} // namespace

TEST_CASE("basp frames: a client's handshake and messages pass unchanged, "
          "cut anywhere") {
  auto stream = client_hello() + client_hello(1, 2)
                + frame(basp::operation::heartbeat, "")
                + frame(basp::operation::direct_message, "payload", 0, 7);
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{32}, stream.size()}) {
    auto v = check(basp::role::accepting, stream, chunk);
    INFO("chunk " << chunk << ": " << v.why);
    CHECK(v.ok);
    CHECK(v.passed == stream);
  }
}

TEST_CASE("basp frames: a server refuses what CAF would crash or stall on") {
  using op = basp::operation;
  SECTION("a server handshake without payload (CAF dereferences null)") {
    auto v = check(basp::role::accepting, frame(op::server_handshake, "", 1));
    CHECK_FALSE(v.ok);
    CHECK(v.passed.empty());
    CHECK_THAT(v.why, Catch::Contains("server handshake"));
  }
  SECTION("a length claim of 4 GB, before anything is allocated") {
    basp::header h;
    h.operation = static_cast<uint8_t>(op::client_handshake);
    h.payload_len = 0xFFFFFFF0u;
    auto v = check(basp::role::accepting, basp::encode_header(h));
    CHECK_FALSE(v.ok);
    CHECK_THAT(v.why, Catch::Contains("more than the limit"));
  }
  SECTION("a message larger than the maximum message size") {
    basp::header h;
    h.operation = static_cast<uint8_t>(op::direct_message);
    h.dest_actor = 1;
    h.payload_len = 2 << 20;
    auto v
      = check(basp::role::accepting, client_hello() + basp::encode_header(h));
    CHECK_FALSE(v.ok);
    CHECK(v.passed == client_hello());
  }
  SECTION("messages before the handshake") {
    CHECK_FALSE(check(basp::role::accepting, frame(op::heartbeat, "")).ok);
  }
  SECTION("a handshake whose payload is not a node id") {
    auto v = check(basp::role::accepting,
                   frame(op::client_handshake, std::string(40, '\x7f')));
    CHECK_FALSE(v.ok);
    CHECK(v.passed.empty());
  }
  SECTION("a peer claiming this node's id") {
    auto own = some_node(99);
    auto v = check(basp::role::accepting,
                   frame(op::client_handshake, serialized(own)));
    CHECK_FALSE(v.ok);
  }
  SECTION("unknown operations, stray flags and nonzero padding") {
    auto bad_op = client_hello() + frame(static_cast<op>(9), "x");
    CHECK_FALSE(check(basp::role::accepting, bad_op).ok);
    auto flags = client_hello() + frame(op::heartbeat, "", 0, 0, 1);
    CHECK_FALSE(check(basp::role::accepting, flags).ok);
    basp::header h;
    h.operation = static_cast<uint8_t>(op::heartbeat);
    h.padding2 = 1;
    CHECK_FALSE(
      check(basp::role::accepting, client_hello() + basp::encode_header(h)).ok);
  }
  SECTION("header rules CAF checks later, checked first") {
    // A direct message needs a receiver; a heartbeat carries nothing.
    CHECK_FALSE(check(basp::role::accepting,
                      client_hello() + frame(op::direct_message, "x", 0, 0))
                  .ok);
    CHECK_FALSE(
      check(basp::role::accepting, client_hello() + frame(op::heartbeat, "x"))
        .ok);
  }
}

TEST_CASE("basp frames: a connecting node expects one server handshake") {
  using op = basp::operation;
  auto node = some_node(5);
  std::vector<std::string> app_ids{"weft/3"};
  uint64_t aid = 42;
  std::set<std::string> sigs{"iface"};
  auto hello = frame(op::server_handshake, serialized(node, app_ids, aid, sigs),
                     basp::version);
  CHECK(check(basp::role::connecting, hello).ok);
  CHECK_FALSE(check(basp::role::connecting, hello + hello).ok);
  CHECK_FALSE(check(basp::role::connecting, client_hello()).ok);
  // Another BASP version is not this protocol.
  auto old
    = frame(op::server_handshake, serialized(node, app_ids, aid, sigs), 2);
  CHECK_FALSE(check(basp::role::connecting, old).ok);
}
