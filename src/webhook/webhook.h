// Webhook: the pure parts of telling people about runs (issue 13.4): which
// events exist, how a delivery is signed, when a failed one is tried again,
// and which target URLs a server accepts.
//
// Signature (as Stripe signs): X-Sms-Signature: t=UNIX_SECONDS,v1=HEX where
// HEX = lower-case hex HMAC-SHA256(secret, "<t>.<body>"). A receiver
// recomputes it over the raw body and refuses a `t` far from its clock.
// Thread-safety: pure functions; AllowList is immutable after Parse.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sms::webhook {

// The events a webhook may subscribe to.
inline constexpr std::string_view kEvents[] = {"run.finished",
                                               "run.inconsistent", "run.failed",
                                               "task.ready", "task.not_ready"};
bool IsEvent(std::string_view name);

// The X-Sms-Signature value for `body` sent at `unix_seconds`.
std::string Sign(std::string_view secret, int64_t unix_seconds,
                 std::string_view body);
// True when `header` carries a v1 signature of `body` with `secret` whose
// time is within `tolerance_s` of `now_s` (what a receiver checks).
bool Verify(std::string_view secret, std::string_view header,
            std::string_view body, int64_t now_s, int64_t tolerance_s = 300);

// Retries: attempt n (1 = the first retry) waits min(10 s * 2^(n-1), 6 h),
// scaled by a jitter in [0.5, 1.0] (`unit` in [0, 1)); a delivery is given
// up once its first attempt is more than kGiveUpMs old, so every delivery is
// tried for at least 24 hours.
inline constexpr int64_t kGiveUpMs = 26LL * 3600 * 1000;
int64_t RetryDelayMs(int attempt, double unit);

// A target URL split into its parts.
struct Target {
  std::string scheme;  // "http" | "https"
  std::string host;    // name or address, without brackets
  int port = 0;
  std::string path;  // with the query, "/" at least
};
// Only http(s) URLs with a host, no user info, no fragment; port 1..65535.
[[nodiscard]] core::Result<Target> ParseTarget(std::string_view url);

// Which targets a server may post to (server setting `webhook_allow`):
// entries are host names ("hooks.example.com"), wildcard domains
// ("*.corp.example": any name below it), or IP networks ("10.0.0.0/8",
// "192.0.2.7", "fd00::/8"). Empty: anything is allowed (a self-hosted
// server posts to internal systems by default).
class AllowList {
 public:
  [[nodiscard]] static core::Result<AllowList> Parse(
      const std::vector<std::string>& entries);
  bool empty() const { return names_.empty() && nets_.empty(); }
  // The URL's host by name (before resolution).
  bool AllowsName(std::string_view host) const;
  // An address the host resolved to (checked at connect time, so a name
  // that resolves into a forbidden network is refused: DNS rebinding).
  // Host names allowed by name are allowed whatever they resolve to.
  bool AllowsAddress(std::string_view ip) const;

 private:
  struct Net {
    std::string bytes;  // 4 or 16 address bytes
    int prefix = 0;
  };
  std::vector<std::string> names_;  // lower-case; "*.x" kept as ".x"
  std::vector<Net> nets_;
};

}  // namespace sms::webhook
