// Which proxy, if any, a request goes through: curl's environment variables
// and rules, so an agent behaves as the curl and wget next to it do.
// Thread-safety: plain values and pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "agent/url.h"
#include "core/result.h"

namespace sms::agent {

struct ProxySettings {
  std::string http_proxy;   // for http:// URLs ("" = none)
  std::string https_proxy;  // for https:// URLs ("" = none)
  std::string no_proxy;     // hosts that bypass the proxies (curl's syntax)
};

// As curl reads them: `http_proxy` (lower case only: HTTP_PROXY can be set by
// a CGI request's "Proxy:" header), `https_proxy` or `HTTPS_PROXY`, then
// `all_proxy` or `ALL_PROXY` for a scheme without its own, `no_proxy` or
// `NO_PROXY`.
ProxySettings ProxySettingsFromEnvironment();

// True when `host` (no brackets, lower-case) matches `no_proxy`: "*" matches
// every host; otherwise a comma- or space-separated list of names, each
// matching itself and its subdomains (a leading '.' is ignored), and IP
// addresses or CIDR ranges ("10.0.0.0/8", "::1") matching address literals.
bool BypassesProxy(std::string_view no_proxy, const std::string& host);

// The proxy `target` goes through, or nullopt for a direct connection.
// A proxy given without a scheme is http://; https://, socks and other proxy
// schemes are refused (InvalidArgument naming the variable's value).
[[nodiscard]] core::Result<std::optional<Url>> ProxyFor(
    const ProxySettings& settings, const Url& target);

}  // namespace sms::agent
