#include "agent/proxy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace sms::agent {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

std::string FirstSet(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    std::string v = Env(name);
    if (!v.empty()) return v;
  }
  return "";
}

// `text` as an address: 4 or 16 bytes in `out`, their count returned (0: not
// an address).
size_t ParseAddress(const std::string& text, unsigned char out[16]) {
  if (inet_pton(AF_INET, text.c_str(), out) == 1) return 4;
  if (inet_pton(AF_INET6, text.c_str(), out) == 1) return 16;
  return 0;
}

// "10.0.0.0/8" matches 10.1.2.3; "::1" matches ::1 only.
bool MatchesRange(const std::string& entry, const std::string& host) {
  unsigned char want[16], have[16];
  const size_t slash = entry.find('/');
  const size_t n = ParseAddress(entry.substr(0, slash), want);
  if (n == 0 || ParseAddress(host, have) != n) return false;
  unsigned bits = static_cast<unsigned>(n * 8);
  if (slash != std::string::npos) {
    const std::string b = entry.substr(slash + 1);
    auto [end, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (ec != std::errc() || end != b.data() + b.size() || bits > n * 8)
      return false;
  }
  for (unsigned i = 0; i < bits; ++i) {
    const unsigned char mask = static_cast<unsigned char>(0x80u >> (i % 8));
    if ((want[i / 8] & mask) != (have[i / 8] & mask)) return false;
  }
  return true;
}

bool MatchesName(std::string entry, const std::string& host) {
  if (!entry.empty() && entry[0] == '.') entry.erase(0, 1);
  if (entry.empty()) return false;
  if (host == entry) return true;
  return host.size() > entry.size() &&
         host.compare(host.size() - entry.size(), entry.size(), entry) == 0 &&
         host[host.size() - entry.size() - 1] == '.';
}

}  // namespace

ProxySettings ProxySettingsFromEnvironment() {
  ProxySettings s;
  const std::string all = FirstSet({"all_proxy", "ALL_PROXY"});
  s.http_proxy = Env("http_proxy");
  if (s.http_proxy.empty()) s.http_proxy = all;
  s.https_proxy = FirstSet({"https_proxy", "HTTPS_PROXY"});
  if (s.https_proxy.empty()) s.https_proxy = all;
  s.no_proxy = FirstSet({"no_proxy", "NO_PROXY"});
  return s;
}

bool BypassesProxy(std::string_view no_proxy, const std::string& host) {
  size_t pos = 0;
  while (pos < no_proxy.size()) {
    const size_t end = no_proxy.find_first_of(", \t", pos);
    std::string entry(no_proxy.substr(pos, end - pos));
    pos = end == std::string_view::npos ? no_proxy.size() : end + 1;
    if (entry.empty()) continue;
    std::transform(entry.begin(), entry.end(), entry.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (entry == "*") return true;
    if (entry.size() > 2 && entry.front() == '[' && entry.back() == ']')
      entry = entry.substr(1, entry.size() - 2);
    if (IsIpLiteral(host) ? MatchesRange(entry, host)
                          : MatchesName(entry, host)) {
      return true;
    }
  }
  return false;
}

core::Result<std::optional<Url>> ProxyFor(const ProxySettings& settings,
                                          const Url& target) {
  const std::string& raw =
      target.scheme == "https" ? settings.https_proxy : settings.http_proxy;
  if (raw.empty() || BypassesProxy(settings.no_proxy, target.host))
    return std::optional<Url>();
  std::string text = raw;
  if (text.find("://") == std::string::npos) text = "http://" + text;
  const std::string scheme = text.substr(0, text.find("://"));
  if (scheme != "http" && scheme != "HTTP") {
    return core::Fail(core::InvalidArgument(
        "proxy '" + raw + "': only http:// proxies are supported (" + scheme +
        "://)"));
  }
  core::Result<Url> proxy = ParseUrl(text);
  if (!proxy) {
    return core::Fail(
        core::InvalidArgument("proxy '" + raw + "': " + proxy.error().message));
  }
  return std::optional<Url>(std::move(*proxy));
}

}  // namespace sms::agent
