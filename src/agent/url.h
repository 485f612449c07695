// Url: the parts of an http:// or https:// URL the agent's HTTP client needs
// (the server's URL and proxy URLs). Pure functions, no I/O.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sms::agent {

struct Url {
  std::string scheme;     // "http" or "https", lower-case
  std::string userinfo;   // "user:password" as written (proxies), or ""
  std::string host;       // no brackets: "::1", "sms.example.com"
  uint16_t port = 0;      // as written, or the scheme's default (80, 443)
  std::string authority;  // "host[:port]" as written (brackets kept): Host
  std::string target;     // "/path?query" ("/" when the URL has no path)
};

// Parses `text`, an absolute http:// or https:// URL. A fragment is dropped.
// InvalidArgument names what is wrong ("bad URL 'x': no scheme").
[[nodiscard]] core::Result<Url> ParseUrl(std::string_view text);

// True when `host` is an IPv4 or IPv6 literal (no brackets).
bool IsIpLiteral(const std::string& host);

// `text` with %XX escapes decoded (userinfo of proxy URLs).
std::string PercentDecode(std::string_view text);

}  // namespace sms::agent
