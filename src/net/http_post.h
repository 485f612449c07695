// HttpPoster: posts a webhook delivery (issue 13.4) over HTTP/1.1 with
// Boost.Beast, TLS by OpenSSL verified against the system's CA store. The
// server-side counterpart of the agent's client (src/agent/http_client.*),
// kept apart because it checks every address a name resolves to against
// the server's allow-list before connecting (the SSRF control; a name
// allowed by name may resolve anywhere), follows no redirect and uses no
// proxy: a delivery goes where its URL says or nowhere.
// Thread-safety: Post() may be called from several threads at once.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "webhook/webhook.h"

namespace sms::net {

struct PostResult {
  int status = 0;    // the HTTP status
  std::string body;  // the first 1 KiB of the response body
};

class HttpPoster {
 public:
  virtual ~HttpPoster() = default;
  // Posts `body` to `url` with `headers`. Any HTTP status is a result; an
  // error means no response arrived (refused, timed out, TLS failure, an
  // address outside the allow-list): kUnavailable or kPermissionDenied.
  [[nodiscard]] virtual core::Result<PostResult> Post(
      const std::string& url,
      const std::vector<std::pair<std::string, std::string>>& headers,
      const std::string& body) = 0;
};

struct HttpPosterOptions {
  webhook::AllowList allow;  // empty: any address
  long timeout_s = 10;       // bounds one whole request
  std::string ca_file;       // "" for the system store
};

std::unique_ptr<HttpPoster> NewHttpPoster(HttpPosterOptions options);

}  // namespace sms::net
