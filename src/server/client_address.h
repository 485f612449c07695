// The client address a request is counted under (the login throttle,
// auth_service.h): the peer's address, or, when the peer is a configured
// trusted proxy, the address that proxy reports in X-Forwarded-For.
//
// X-Forwarded-For is read right to left, as nginx's realip module does with
// real_ip_recursive on: each trusted hop is skipped, and the first address
// not trusted is the client. A header from a peer that is not trusted is
// ignored (anyone can send one); so is a malformed entry, which ends the
// walk at the last address known good.
// Thread-safety: TrustedProxies is immutable after Parse; share it freely.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sms::server {

// The canonical text of an IPv4 or IPv6 address (inet_ntop's; an
// IPv4-mapped IPv6 address as IPv4), or nullopt when `text` is not one.
std::optional<std::string> CanonicalAddress(std::string_view text);

class TrustedProxies final {
 public:
  // No proxy trusted: X-Forwarded-For is never read.
  TrustedProxies() = default;

  // Parses addresses and CIDR networks ("127.0.0.1", "10.0.0.0/8",
  // "::1", "fd00::/8"); kInvalidArgument naming the bad entry.
  [[nodiscard]] static core::Result<TrustedProxies> Parse(
      const std::vector<std::string>& entries);

  // Whether `address` (textual IPv4 or IPv6; an IPv4-mapped IPv6 address
  // counts as its IPv4 one) lies in a trusted network.
  bool Trusts(std::string_view address) const;
  bool empty() const { return nets_.empty(); }

  // The client's address, in canonical text (an IPv4-mapped IPv6 address
  // as IPv4), for a request from `peer` carrying the X-Forwarded-For values
  // `forwarded_for` (every such header, in order; empty: none).
  std::string ClientAddress(
      std::string_view peer,
      const std::vector<std::string>& forwarded_for) const;

 private:
  struct Net {
    bool v6 = false;
    unsigned char bytes[16] = {};
    int prefix = 0;
  };
  std::vector<Net> nets_;
};

}  // namespace sms::server
