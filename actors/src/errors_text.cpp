#include "weft/actors/connection_error.hpp"

#include <caf/sec.hpp>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>

namespace weft {

namespace {

std::string lowercase_first(std::string s) {
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z')
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

/// One non-blocking connect to `ai`; 0 when it connected, else an errno.
int try_connect(const addrinfo& ai, std::chrono::milliseconds limit) {
  int fd = ::socket(ai.ai_family, ai.ai_socktype | SOCK_CLOEXEC, ai.ai_protocol);
  if (fd < 0)
    return errno;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  int result = 0;
  if (::connect(fd, ai.ai_addr, ai.ai_addrlen) != 0) {
    result = errno;
    if (result == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int n = ::poll(&p, 1, static_cast<int>(limit.count()));
      if (n == 0) {
        result = ETIMEDOUT;
      } else if (n < 0) {
        result = errno;
      } else {
        socklen_t len = sizeof result;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &result, &len) != 0)
          result = errno;
      }
    }
  }
  ::close(fd);
  return result;
}

} // namespace

probe_result probe_connection(const network_address& addr,
                              std::chrono::milliseconds limit) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  auto port = std::to_string(addr.port);
  int rc = ::getaddrinfo(addr.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    if (rc == EAI_NONAME || rc == EAI_NODATA)
      return {false, "no such host " + addr.host};
    return {false, "cannot resolve " + addr.host + " ("
                     + lowercase_first(::gai_strerror(rc)) + ")"};
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard{found,
                                                            &::freeaddrinfo};
  int last = 0;
  for (auto* ai = found; ai != nullptr; ai = ai->ai_next) {
    last = try_connect(*ai, limit);
    if (last == 0)
      return {true, {}};
  }
  if (last == ETIMEDOUT)
    return {false, "no answer within "
                     + std::to_string(limit.count()) + " ms"};
  return {false, lowercase_first(std::strerror(last))};
}

std::string describe_connection_error(const caf::error& err,
                                      const network_address& addr, bool tls) {
  if (err == caf::sec::request_timeout || err == caf::sec::connection_timeout)
    return "the server did not answer in time";
  if (err == caf::sec::incompatible_versions
      || err == caf::sec::incompatible_application_ids)
    return "it speaks another protocol than this node";
  if (err == caf::sec::unexpected_actor_messaging_interface
      || err == caf::sec::no_actor_published_at_port)
    return "it is not a weft orchestrator of this release";
  if (err == caf::sec::request_receiver_down
      || err == caf::sec::no_route_to_receiving_node
      || err == caf::sec::disconnect_during_handshake
      || err == caf::sec::socket_disconnected)
    return "the connection was closed";
  // CAF's error names neither refused nor unresolvable: a second, plain
  // attempt finds out which.
  auto probe = probe_connection(addr, std::chrono::milliseconds{500});
  if (!probe.connected)
    return probe.reason;
  if (tls)
    return "the TLS handshake failed (does the server trust this node's "
           "certificate, and does this node trust the server's CA?)";
  return "it accepts connections but does not answer as a weft server (a "
         "TLS server needs --cert, --key and --ca)";
}

std::string probe_listen(const network_address& addr) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  auto port = std::to_string(addr.port);
  int rc = ::getaddrinfo(addr.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0)
    return rc == EAI_NONAME || rc == EAI_NODATA
             ? "no such host " + addr.host
             : "cannot resolve " + addr.host + " ("
                 + lowercase_first(::gai_strerror(rc)) + ")";
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard{found,
                                                            &::freeaddrinfo};
  int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC,
                    found->ai_protocol);
  if (fd < 0)
    return lowercase_first(std::strerror(errno));
  // As CAF binds: with SO_REUSEADDR, so only a live listener collides.
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  std::string why;
  if (::bind(fd, found->ai_addr, found->ai_addrlen) != 0)
    why = lowercase_first(std::strerror(errno));
  ::close(fd);
  return why;
}

std::string describe_listen_error(const caf::error& err,
                                  const network_address& addr) {
  auto why = probe_listen(addr);
  if (!why.empty())
    return why;
  if (err == caf::sec::cannot_open_port)
    return "the port could not be opened";
  return "publishing the orchestrator failed";
}

} // namespace weft
