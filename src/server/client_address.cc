#include "server/client_address.h"

#include <arpa/inet.h>

#include <cstring>
#include <optional>

namespace sms::server {
namespace {

struct Address {
  bool v6 = false;
  unsigned char bytes[16] = {};
};

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Textual IPv4 or IPv6 (an IPv4-mapped IPv6 address becomes IPv4); nullopt
// for anything else (a host name, a port, "unknown").
std::optional<Address> ParseAddress(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string s(text);
  Address a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes) == 1) return a;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes) != 1) return std::nullopt;
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0,    0,
                                            0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.bytes, kMapped, sizeof(kMapped)) == 0) {
    std::memmove(a.bytes, a.bytes + 12, 4);
    std::memset(a.bytes + 4, 0, 12);
    return a;
  }
  a.v6 = true;
  return a;
}

// The canonical text of `a` (inet_ntop's), so one client has one spelling.
std::string Canonical(const Address& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(a.v6 ? AF_INET6 : AF_INET, a.bytes, buf, sizeof(buf));
  return buf;
}

bool PrefixMatches(const unsigned char* a, const unsigned char* net,
                   int prefix) {
  const int whole = prefix / 8;
  if (std::memcmp(a, net, whole) != 0) return false;
  const int rest = prefix % 8;
  if (rest == 0) return true;
  const unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a[whole] & mask) == (net[whole] & mask);
}

}  // namespace

std::optional<std::string> CanonicalAddress(std::string_view text) {
  auto a = ParseAddress(text);
  if (!a) return std::nullopt;
  return Canonical(*a);
}

core::Result<TrustedProxies> TrustedProxies::Parse(
    const std::vector<std::string>& entries) {
  TrustedProxies out;
  for (const std::string& raw : entries) {
    std::string_view entry = TrimSpaces(raw);
    auto bad = [&](const std::string& why) {
      return core::Fail(core::InvalidArgument(
          "trusted_proxies: \"" + raw + "\": " + why +
          " (expected an IP address or a CIDR network such as 10.0.0.0/8)"));
    };
    const size_t slash = entry.find('/');
    auto addr = ParseAddress(entry.substr(0, slash));
    if (!addr) return bad("not an IP address");
    const int bits = addr->v6 ? 128 : 32;
    int prefix = bits;
    if (slash != std::string_view::npos) {
      std::string_view p = entry.substr(slash + 1);
      if (p.empty() || p.size() > 3) return bad("bad prefix length");
      prefix = 0;
      for (char c : p) {
        if (c < '0' || c > '9') return bad("bad prefix length");
        prefix = prefix * 10 + (c - '0');
      }
      if (prefix > bits)
        return bad("prefix longer than " + std::to_string(bits) + " bits");
    }
    Net net;
    net.v6 = addr->v6;
    std::memcpy(net.bytes, addr->bytes, sizeof(net.bytes));
    net.prefix = prefix;
    out.nets_.push_back(net);
  }
  return out;
}

bool TrustedProxies::Trusts(std::string_view address) const {
  auto a = ParseAddress(address);
  if (!a) return false;
  for (const Net& n : nets_)
    if (n.v6 == a->v6 && PrefixMatches(a->bytes, n.bytes, n.prefix))
      return true;
  return false;
}

std::string TrustedProxies::ClientAddress(
    std::string_view peer,
    const std::vector<std::string>& forwarded_for) const {
  auto peer_address = ParseAddress(peer);
  std::string client =
      peer_address ? Canonical(*peer_address) : std::string(peer);
  if (nets_.empty() || !Trusts(peer)) return client;
  // Every hop, left to right, across repeated headers.
  std::vector<std::string_view> hops;
  for (const std::string& header : forwarded_for) {
    std::string_view rest = header;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      hops.push_back(TrimSpaces(rest.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    auto a = ParseAddress(*it);
    if (!a) break;  // garbage: keep the last address known good
    client = Canonical(*a);
    if (!Trusts(client)) break;
  }
  return client;
}

}  // namespace sms::server
