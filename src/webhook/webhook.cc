#include "webhook/webhook.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "auth/crypto.h"
#include "core/strings.h"

namespace sms::webhook {
namespace {

using core::Fail;
using core::InvalidArgument;

// 4 or 16 bytes of a textual address, or empty.
std::string AddressBytes(std::string_view text) {
  std::string s(text);
  if (s.size() > 2 && s.front() == '[' && s.back() == ']')
    s = s.substr(1, s.size() - 2);
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1)
    return std::string(reinterpret_cast<char*>(buf), 4);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    std::string v6(reinterpret_cast<char*>(buf), 16);
    // An IPv4-mapped address is its IPv4 address.
    if (v6.compare(0, 12, std::string("\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) == 0)
      return v6.substr(12);
    return v6;
  }
  return "";
}

bool InNet(const std::string& addr, const std::string& net, int prefix) {
  if (addr.size() != net.size()) return false;
  int full = prefix / 8, rest = prefix % 8;
  if (addr.compare(0, full, net, 0, full) != 0) return false;
  if (rest == 0) return true;
  unsigned mask = (0xffu << (8 - rest)) & 0xffu;
  return (static_cast<unsigned char>(addr[full]) & mask) ==
         (static_cast<unsigned char>(net[full]) & mask);
}

}  // namespace

bool IsEvent(std::string_view name) {
  return std::find(std::begin(kEvents), std::end(kEvents), name) !=
         std::end(kEvents);
}

std::string Sign(std::string_view secret, int64_t unix_seconds,
                 std::string_view body) {
  const std::string t = std::to_string(unix_seconds);
  std::string payload = t;
  payload += '.';
  payload.append(body);
  return "t=" + t + ",v1=" + auth::HexEncode(auth::HmacSha256(secret, payload));
}

bool Verify(std::string_view secret, std::string_view header,
            std::string_view body, int64_t now_s, int64_t tolerance_s) {
  int64_t t = -1;
  std::vector<std::string_view> v1;
  for (std::string_view part : core::Split(header, ',')) {
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view k = part.substr(0, eq), v = part.substr(eq + 1);
    if (k == "t") {
      t = 0;
      for (char c : v) {
        if (!std::isdigit(static_cast<unsigned char>(c)) || t > 1e15) {
          t = -1;
          break;
        }
        t = t * 10 + (c - '0');
      }
    } else if (k == "v1") {
      v1.push_back(v);
    }
  }
  if (t < 0 || std::llabs(now_s - t) > tolerance_s) return false;
  const std::string want = Sign(secret, t, body);
  const std::string_view want_hex =
      std::string_view(want).substr(want.find(",v1=") + 4);
  for (std::string_view got : v1)
    if (auth::ConstantTimeEquals(want_hex, got)) return true;
  return false;
}

int64_t RetryDelayMs(int attempt, double unit) {
  const double base = 10000.0 * std::pow(2.0, std::max(0, attempt - 1));
  const double capped = std::min(base, 6.0 * 3600 * 1000);
  const double jitter = 0.5 + 0.5 * std::clamp(unit, 0.0, 1.0);
  return static_cast<int64_t>(capped * jitter);
}

core::Result<Target> ParseTarget(std::string_view url) {
  Target t;
  const size_t colon = url.find("://");
  if (colon == std::string_view::npos)
    return Fail(InvalidArgument("url: expected http://HOST/... or https://"));
  t.scheme = core::AsciiLower(url.substr(0, colon));
  if (t.scheme != "http" && t.scheme != "https")
    return Fail(InvalidArgument("url: only http and https are allowed, not " +
                                t.scheme));
  if (url.find('#') != std::string_view::npos)
    return Fail(InvalidArgument("url: a fragment (#) is not allowed"));
  std::string_view rest = url.substr(colon + 3);
  const size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  t.path =
      slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (t.path[0] == '?') t.path = "/" + t.path;
  if (authority.find('@') != std::string_view::npos)
    return Fail(InvalidArgument(
        "url: user info (user@host) is not allowed: put credentials in the "
        "secret, which signs each delivery"));
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return Fail(InvalidArgument("url: unclosed [ in the host"));
    t.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':')
        return Fail(InvalidArgument("url: bad host"));
      port = authority.substr(close + 2);
    }
  } else {
    const size_t c = authority.rfind(':');
    t.host = std::string(authority.substr(0, c));
    if (c != std::string_view::npos) port = authority.substr(c + 1);
  }
  if (t.host.empty()) return Fail(InvalidArgument("url: no host"));
  t.host = core::AsciiLower(t.host);
  t.port = t.scheme == "https" ? 443 : 80;
  if (!port.empty()) {
    int p = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || p > 65535) {
        p = -1;
        break;
      }
      p = p * 10 + (c - '0');
    }
    if (p < 1 || p > 65535)
      return Fail(InvalidArgument("url: port must be 1..65535"));
    t.port = p;
  }
  return t;
}

core::Result<AllowList> AllowList::Parse(
    const std::vector<std::string>& entries) {
  AllowList a;
  for (const std::string& raw : entries) {
    std::string e = core::AsciiLower(raw);
    if (e.empty()) continue;
    std::string addr = e;
    int prefix = -1;
    if (size_t slash = e.find('/'); slash != std::string::npos) {
      addr = e.substr(0, slash);
      prefix = 0;
      const std::string p = e.substr(slash + 1);
      if (p.empty() || p.size() > 3)
        return Fail(InvalidArgument("webhook_allow: bad prefix in " + raw));
      for (char c : p) {
        if (!std::isdigit(static_cast<unsigned char>(c)))
          return Fail(InvalidArgument("webhook_allow: bad prefix in " + raw));
        prefix = prefix * 10 + (c - '0');
      }
    }
    std::string bytes = AddressBytes(addr);
    if (!bytes.empty()) {
      const int bits = static_cast<int>(bytes.size()) * 8;
      if (prefix < 0) prefix = bits;
      if (prefix > bits)
        return Fail(
            InvalidArgument("webhook_allow: prefix longer than the "
                            "address in " +
                            raw));
      a.nets_.push_back({bytes, prefix});
      continue;
    }
    if (prefix >= 0)
      return Fail(InvalidArgument("webhook_allow: " + raw +
                                  " is neither a network nor a host name"));
    if (e.rfind("*.", 0) == 0) e = e.substr(1);  // "*.x" -> ".x"
    for (char c : e) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
            c == '.' || c == '_'))
        return Fail(InvalidArgument("webhook_allow: '" + raw +
                                    "' is not a host name, *.domain or "
                                    "network"));
    }
    a.names_.push_back(e);
  }
  return a;
}

bool AllowList::AllowsName(std::string_view host) const {
  if (empty()) return true;
  const std::string h = core::AsciiLower(host);
  for (const std::string& n : names_) {
    if (n[0] == '.') {
      if (h.size() > n.size() &&
          h.compare(h.size() - n.size(), n.size(), n) == 0)
        return true;
    } else if (h == n) {
      return true;
    }
  }
  // An address written in the URL is judged as an address.
  return AllowsAddress(host);
}

bool AllowList::AllowsAddress(std::string_view ip) const {
  if (empty()) return true;
  const std::string bytes = AddressBytes(ip);
  if (bytes.empty()) return false;
  for (const Net& n : nets_)
    if (InNet(bytes, n.bytes, n.prefix)) return true;
  return false;
}

}  // namespace sms::webhook
