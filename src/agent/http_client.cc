#include "agent/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace sms::agent {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string line(data, size * n);
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) {
      value.pop_back();
    }
    (*headers)[name] = value;
  }
  return size * n;
}

class CurlHttpClient final : public HttpClient {
 public:
  CurlHttpClient(std::string ca_file, long timeout_s)
      : ca_file_(std::move(ca_file)), timeout_s_(timeout_s) {
    GlobalInit();
    curl_ = curl_easy_init();
  }
  ~CurlHttpClient() override { curl_easy_cleanup(curl_); }
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  core::Result<HttpResponse> Send(const HttpRequest& req) override {
    if (curl_ == nullptr) {
      return core::Fail(core::Internal("libcurl could not be initialised"));
    }
    // Reuses the handle (and its connection) across requests.
    curl_easy_reset(curl_);
    HttpResponse resp;
    curl_slist* headers = nullptr;
    for (const auto& [k, v] : req.headers) {
      headers = curl_slist_append(headers, (k + ": " + v).c_str());
    }
    // Never send "Expect: 100-continue": one round trip per upload.
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(curl_, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (req.method == "GET") {
      curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    } else if (!req.body.empty() || req.method == "POST") {
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(req.body.size()));
    }
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &resp.body);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &resp.headers);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT, timeout_s_);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!ca_file_.empty())
      curl_easy_setopt(curl_, CURLOPT_CAINFO, ca_file_.c_str());
    char error[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error);
    const CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
      return core::Fail(
          core::Unavailable(req.method + " " + req.url + ": " +
                            (error[0] != 0 ? error : curl_easy_strerror(rc))));
    }
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    resp.status = static_cast<int>(status);
    return resp;
  }

 private:
  const std::string ca_file_;
  const long timeout_s_;
  CURL* curl_ = nullptr;
};

}  // namespace

std::unique_ptr<HttpClient> NewCurlHttpClient(std::string ca_file,
                                              long timeout_s) {
  return std::make_unique<CurlHttpClient>(std::move(ca_file), timeout_s);
}

}  // namespace sms::agent
