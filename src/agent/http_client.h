// HttpClient: the seam between the agent and the network. CurlHttpClient
// is the real one (libcurl: TLS verification, proxies from the
// environment); tests substitute a fake.
// Thread-safety: Send() may be called from one thread at a time per client.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace sms::agent {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string url;     // absolute
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends `request`. Any HTTP status is a response; an error means no
  // response arrived (refused, reset, timed out, TLS failure): Unavailable.
  [[nodiscard]] virtual core::Result<HttpResponse> Send(
      const HttpRequest& request) = 0;
};

// `ca_file` ("" for the system store) verifies the server's certificate;
// `timeout_s` bounds one whole request.
std::unique_ptr<HttpClient> NewCurlHttpClient(std::string ca_file,
                                              long timeout_s);

}  // namespace sms::agent
