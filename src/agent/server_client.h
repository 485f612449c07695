// ServerClient: the agent's typed view of the SMS v3 API it calls
// (API.md §3-§4): source registration, the command poll (heartbeat),
// command results, and the run uploads. Signs every request with AK/SK
// (SDK-HMAC-SHA256) or sends the token, and corrects its clock from the
// server's Date header so signatures keep verifying on a skewed host.
//
// Errors: kUnavailable means "retry later" (no response, 429, 5xx; see
// retry_after()); any other code is the server refusing the request
// (400 kInvalidArgument, 403 kPermissionDenied, 404 kNotFound,
// 409 kAlreadyExists) and retrying the same request will not help.
// Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/agent_config.h"
#include "agent/http_client.h"
#include "core/clock.h"

namespace sms::agent {

struct SourceInfo {
  std::string name;
  std::string hostname;
  std::string ip;
  std::string os_type = "LINUX";
  std::string os_version;
  std::string agent_version;
};

// GET /v3/sources/{id}/command.
struct Command {
  std::string name;  // "CONSISTENCY_CHECK", "STOP" or "NONE"
  std::string task_id;
  std::string run_id;
  std::vector<std::string> dirs;
  std::string mode = "hash";
  std::string hash_algorithm = "xxh128";
  std::vector<std::string> exclude;
  double io_limit = 0;  // MB/s
  std::string verify_uri;
  // Extensions (issue 12). `cache`: use the hash caches (absent: the
  // agent's `cache` setting). `scope`: "" for the whole directories,
  // "inconsistent" to check again only what `base_run_id` (absent: the
  // task's latest successful run) found not equal.
  std::optional<bool> cache;
  // Issue 16: the task's CONSISTENCY_PUSH_AGENT, as `push_agent` (absent:
  // the agent's `push-agent` setting).
  std::optional<bool> push_agent;
  std::string scope;
  std::string base_run_id;
};

class ServerClient final {
 public:
  ServerClient(HttpClient& http, core::Clock& clock, AgentConfig config);

  // POST /v3/sources: the source's id (the same agent gets the same id).
  [[nodiscard]] core::Result<std::string> RegisterSource(
      const SourceInfo& info);
  // GET /v3/sources/{id}/command.
  [[nodiscard]] core::Result<Command> PollCommand(const std::string& source_id);
  // POST `path` with a JSON body; 2xx is success.
  [[nodiscard]] core::Status PostJson(const std::string& path,
                                      const std::string& body);
  // GET `path` (with its query); the body of a 2xx reply.
  [[nodiscard]] core::Result<std::string> GetJson(const std::string& path);

  // Seconds the server asked to wait (Retry-After) with the last error;
  // 0 when it did not say.
  double retry_after() const { return retry_after_; }
  // Server time minus local time, in milliseconds (from Date headers).
  int64_t clock_skew_ms() const { return skew_ms_; }

 private:
  // Sends a request, re-signing it once when a 403 reveals clock skew.
  core::Result<HttpResponse> Call(const std::string& method,
                                  const std::string& path,
                                  const std::string& body);
  // Signs (or adds the token to) one request and sends it.
  core::Result<HttpResponse> Send(const std::string& method,
                                  const std::string& path,
                                  const std::string& body);
  core::Status Classify(const std::string& what, const HttpResponse& resp);

  HttpClient& http_;
  core::Clock& clock_;
  const AgentConfig config_;
  std::string host_;  // the Host header the server sees
  double retry_after_ = 0;
  int64_t skew_ms_ = 0;
};

// Parses an HTTP-date ("Sun, 29 Nov 2026 10:30:39 GMT") into epoch ms.
[[nodiscard]] core::Result<int64_t> ParseHttpDate(const std::string& date);

}  // namespace sms::agent
