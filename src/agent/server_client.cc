#include "agent/server_client.h"

#include <boost/json.hpp>
#include <cstdlib>
#include <ctime>

#include "auth/crypto.h"
#include "auth/sdk_signer.h"
#include "core/strings.h"

namespace sms::agent {
namespace json = boost::json;

namespace {

std::string Str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : "";
}

std::vector<std::string> StrList(const json::object& o, const char* key) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return out;
  if (v->is_array()) {
    for (const auto& item : v->get_array()) {
      if (item.is_string()) out.emplace_back(item.get_string());
    }
  } else if (v->is_string()) {
    // A comma-separated string, as CONSISTENCY_DIR is configured.
    out = core::SplitList(v->get_string());
  }
  return out;
}

// The server's error text: "SMS.2252 task not found" from its JSON body.
std::string ErrorText(const HttpResponse& resp) {
  json::error_code ec;
  json::value v = json::parse(resp.body, ec);
  if (!ec && v.is_object()) {
    std::string code = Str(v.get_object(), "error_code");
    std::string msg = Str(v.get_object(), "error_msg");
    if (!code.empty()) return code + " " + msg;
  }
  return resp.body.substr(0, 200);
}

}  // namespace

core::Result<int64_t> ParseHttpDate(const std::string& date) {
  struct tm tm = {};
  const char* end = strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr) {
    return core::Fail(core::InvalidArgument("bad HTTP date '" + date + "'"));
  }
  return int64_t{timegm(&tm)} * 1000;
}

ServerClient::ServerClient(HttpClient& http, core::Clock& clock,
                           AgentConfig config)
    : http_(http), clock_(clock), config_(std::move(config)) {
  // "https://host:port/prefix" -> "host:port"
  std::string rest = config_.server.substr(config_.server.find("://") + 3);
  host_ = rest.substr(0, rest.find('/'));
}

core::Result<HttpResponse> ServerClient::Call(const std::string& method,
                                              const std::string& path,
                                              const std::string& body) {
  // A host whose clock is far off has its first signed request refused
  // (X-Sdk-Date out of range); the reply's Date header tells the skew, so
  // the request is signed again once with the corrected time.
  for (int attempt = 0;; ++attempt) {
    const int64_t used_skew = skew_ms_;
    SMS_ASSIGN_OR_RETURN(HttpResponse resp, Send(method, path, body));
    if (auto it = resp.headers.find("date"); it != resp.headers.end()) {
      if (auto server_ms = ParseHttpDate(it->second)) {
        skew_ms_ = *server_ms - clock_.NowEpochMillis();
        // The Date header has one-second resolution: ignore what it cannot
        // tell apart from no skew.
        if (skew_ms_ > -2000 && skew_ms_ < 2000) skew_ms_ = 0;
      }
    }
    const bool resign = resp.status == 403 && config_.token.empty() &&
                        std::abs(skew_ms_ - used_skew) >= 60000;
    if (!resign || attempt > 0) return resp;
  }
}

core::Result<HttpResponse> ServerClient::Send(const std::string& method,
                                              const std::string& path,
                                              const std::string& body) {
  HttpRequest req;
  req.method = method;
  req.url = config_.server + path;
  req.body = body;
  req.headers.emplace_back("Content-Type", "application/json");
  if (!config_.token.empty()) {
    req.headers.emplace_back("X-Auth-Token", config_.token);
  } else {
    const std::string date =
        auth::FormatSdkDate(clock_.NowEpochMillis() + skew_ms_);
    // A signed request that changes state is accepted once (a replay is
    // refused): a fresh, signed request id keeps two identical requests in
    // the same second (two polls) from having one signature.
    const std::string request_id = auth::NewUuid();
    auth::SignableRequest sreq;
    sreq.method = method;
    const size_t q = path.find('?');
    sreq.path = path.substr(0, q);
    sreq.query = q == std::string::npos ? "" : path.substr(q + 1);
    sreq.headers = {{"content-type", "application/json"},
                    {"host", host_},
                    {"x-request-id", request_id},
                    {"x-sdk-date", date}};
    sreq.body = body;
    const std::vector<std::string> signed_headers = {
        "content-type", "host", "x-request-id", "x-sdk-date"};
    const std::string signature =
        auth::SdkSignature(sreq, signed_headers, date, config_.sk);
    req.headers.emplace_back("X-Request-Id", request_id);
    req.headers.emplace_back("X-Sdk-Date", date);
    req.headers.emplace_back(
        "Authorization",
        "SDK-HMAC-SHA256 Access=" + config_.ak +
            ", SignedHeaders=content-type;host;x-request-id;x-sdk-date, "
            "Signature=" +
            signature);
  }
  return http_.Send(req);
}

core::Status ServerClient::Classify(const std::string& what,
                                    const HttpResponse& resp) {
  retry_after_ = 0;
  if (resp.status >= 200 && resp.status < 300) return core::Ok();
  if (auto it = resp.headers.find("retry-after"); it != resp.headers.end()) {
    retry_after_ = atof(it->second.c_str());
  }
  std::string message =
      what + ": HTTP " + std::to_string(resp.status) + " " + ErrorText(resp);
  if (resp.status == 429 || resp.status >= 500) {
    return core::Fail(core::Unavailable(std::move(message)));
  }
  switch (resp.status) {
    case 403:
      return core::Fail(core::PermissionDenied(std::move(message)));
    case 404:
      return core::Fail(core::NotFound(std::move(message)));
    case 409:
      return core::Fail(core::AlreadyExists(std::move(message)));
    default:
      return core::Fail(core::InvalidArgument(std::move(message)));
  }
}

core::Result<std::string> ServerClient::RegisterSource(const SourceInfo& info) {
  json::object body;
  body["name"] = info.name;
  body["hostname"] = info.hostname;
  body["ip"] = info.ip;
  body["os_type"] = info.os_type;
  body["os_version"] = info.os_version;
  body["agent_version"] = info.agent_version;
  SMS_ASSIGN_OR_RETURN(HttpResponse resp,
                       Call("POST", "/v3/sources", json::serialize(body)));
  SMS_RETURN_IF_ERROR(Classify("POST /v3/sources", resp));
  json::error_code ec;
  json::value v = json::parse(resp.body, ec);
  std::string id = !ec && v.is_object() ? Str(v.get_object(), "id") : "";
  if (id.empty()) {
    return core::Fail(core::Unavailable("POST /v3/sources: no id in reply"));
  }
  return id;
}

core::Result<Command> ServerClient::PollCommand(const std::string& source_id) {
  const std::string path = "/v3/sources/" + source_id + "/command";
  SMS_ASSIGN_OR_RETURN(HttpResponse resp, Call("GET", path, ""));
  SMS_RETURN_IF_ERROR(Classify("GET " + path, resp));
  json::error_code ec;
  json::value v = json::parse(resp.body, ec);
  if (ec || !v.is_object()) {
    return core::Fail(core::Unavailable("GET " + path + ": reply is not JSON"));
  }
  const json::object& o = v.get_object();
  Command c;
  c.name = Str(o, "command_name");
  if (c.name.empty()) c.name = "NONE";
  if (const json::value* p = o.if_contains("command_param");
      p != nullptr && p->is_object()) {
    const json::object& param = p->get_object();
    c.task_id = Str(param, "task_id");
    c.run_id = Str(param, "run_id");
    c.dirs = StrList(param, "dirs");
    if (auto m = Str(param, "mode"); !m.empty()) c.mode = m;
    if (auto h = Str(param, "hash_algorithm"); !h.empty()) {
      c.hash_algorithm = h;
    }
    c.exclude = StrList(param, "exclude");
    if (const json::value* io = param.if_contains("io_limit")) {
      if (io->is_number()) c.io_limit = io->to_number<double>();
      if (io->is_string()) c.io_limit = atof(io->get_string().c_str());
    }
    c.verify_uri = Str(param, "verify_uri");
    // A bool, or a task setting's "on"/"off" as configured.
    auto on_off = [&](const char* key, std::optional<bool>& out) {
      const json::value* v = param.if_contains(key);
      if (v == nullptr) return;
      if (v->is_bool()) out = v->get_bool();
      if (v->is_string()) {
        const std::string text(v->get_string());
        if (text == "on" || text == "true") out = true;
        if (text == "off" || text == "false") out = false;
      }
    };
    on_off("cache", c.cache);
    on_off("push_agent", c.push_agent);
    c.scope = Str(param, "scope");
    c.base_run_id = Str(param, "base_run_id");
  }
  return c;
}

core::Result<std::string> ServerClient::GetJson(const std::string& path) {
  SMS_ASSIGN_OR_RETURN(HttpResponse resp, Call("GET", path, ""));
  SMS_RETURN_IF_ERROR(Classify("GET " + path.substr(0, path.find('?')), resp));
  return resp.body;
}

core::Status ServerClient::PostJson(const std::string& path,
                                    const std::string& body) {
  SMS_ASSIGN_OR_RETURN(HttpResponse resp, Call("POST", path, body));
  return Classify("POST " + path, resp);
}

}  // namespace sms::agent
