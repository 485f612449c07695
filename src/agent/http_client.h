// HttpClient: the seam between the agent and the network. NewHttpClient()
// gives the real one: HTTP/1.1 over Boost.Beast, TLS by OpenSSL verified
// against the system's CA store, proxies from the environment (curl's
// variables), names resolved without NSS (name_resolver.h), so the same code
// runs in the dynamic and in the fully static agent. Tests substitute a fake.
// Thread-safety: Send() may be called from one thread at a time per client.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/name_resolver.h"
#include "agent/proxy.h"
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
  // response arrived (refused, reset, timed out, TLS failure): Unavailable;
  // or the URL or a proxy setting is malformed: InvalidArgument.
  [[nodiscard]] virtual core::Result<HttpResponse> Send(
      const HttpRequest& request) = 0;
};

struct HttpClientOptions {
  // A CA bundle (PEM) that verifies the server's certificate; "" for the
  // system store: $SSL_CERT_FILE / $SSL_CERT_DIR when set, otherwise the
  // first bundle found among the usual places of Debian, Ubuntu, RHEL,
  // CentOS, Fedora, SUSE and Alpine (docs/packaging.md lists them).
  std::string ca_file;
  long timeout_s = 120;         // bounds one whole request
  long connect_timeout_s = 10;  // bounds resolving and connecting
  ProxySettings proxy = ProxySettingsFromEnvironment();
  ResolverOptions resolver;
};

std::unique_ptr<HttpClient> NewHttpClient(HttpClientOptions options);

// `ca_file` ("" for the system store) verifies the server's certificate;
// `timeout_s` bounds one whole request.
inline std::unique_ptr<HttpClient> NewHttpClient(std::string ca_file,
                                                 long timeout_s) {
  return NewHttpClient(
      HttpClientOptions{.ca_file = std::move(ca_file), .timeout_s = timeout_s});
}

// The name callers used when the client was libcurl's; kept until main.cc
// and adhoc_upload.cc call NewHttpClient().
inline std::unique_ptr<HttpClient> NewCurlHttpClient(std::string ca_file,
                                                     long timeout_s) {
  return NewHttpClient(std::move(ca_file), timeout_s);
}

}  // namespace sms::agent
