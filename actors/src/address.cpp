#include "weft/error.hpp"
#include "weft/network.hpp"
#include "weft/text.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

namespace weft {

network_address parse_address(const std::string& text, bool allow_any_port) {
  auto bad = [&](const std::string& why) {
    return error(errc::invalid_argument,
                 "address " + text::quote(text) + " " + why
                   + ": write HOST:PORT, e.g. 127.0.0.1:7100 or [::1]:7100");
  };
  network_address addr;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    // [IPv6]:PORT, the only form in which a host may hold colons.
    auto close = text.find(']');
    if (close == std::string::npos)
      throw bad("has no ']' after its IPv6 host");
    addr.host = text.substr(1, close - 1);
    in6_addr ignored;
    if (addr.host.empty()
        || ::inet_pton(AF_INET6, addr.host.c_str(), &ignored) != 1)
      throw bad("has no IPv6 address between '[' and ']'");
    if (close + 1 >= text.size() || text[close + 1] != ':')
      throw bad("has no ':PORT' after ']'");
    port = text.substr(close + 2);
  } else {
    auto colon = text.find(':');
    if (colon == std::string::npos)
      throw bad("has no port");
    if (text.find(':', colon + 1) != std::string::npos)
      throw bad("has more than one ':' (an IPv6 host goes in brackets)");
    addr.host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (addr.host.empty())
      throw bad("has no host");
    for (char c : addr.host)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
        throw bad("has a host that is not a name or an IP address");
  }
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos)
    throw bad("has no port number after ':'");
  // Compared as text first: a long number must be named as too large, not
  // wrap or overflow the conversion.
  auto digits = port.substr(std::min(port.find_first_not_of('0'), port.size()));
  unsigned long n
    = digits.size() <= 5 && !digits.empty() ? std::stoul(digits) : 0;
  if (digits.size() > 5 || n > 65535)
    throw bad("has port "
              + (port.size() > 20 ? port.substr(0, 20) + "..." : port)
              + ", which is too large (ports are 1-65535)");
  if (n == 0 && !allow_any_port)
    throw bad("has port 0 (ports are 1-65535)");
  addr.port = static_cast<uint16_t>(n);
  return addr;
}

bool is_loopback(const std::string& host) {
  in6_addr v6;
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&v6);
  return host == "localhost" || host.rfind("127.", 0) == 0;
}

} // namespace weft
