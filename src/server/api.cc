#include "server/api.h"

#include <chrono>
#include <iterator>
#include <optional>
#include <random>
#include <set>

#include "auth/crypto.h"
#include "auth/sdk_signer.h"
#include "core/json_writer.h"
#include "core/strings.h"
#include "server/routes.h"
#include "server/static_files.h"

namespace sms::server {

const std::string* FindHeader(const Headers& h, std::string_view name) {
  for (const auto& [k, v] : h)
    if (core::AsciiLower(k) == name) return &v;
  return nullptr;
}

using auth::FormatUuid;
using auth::IsUuid;
using auth::PercentDecode;
using auth::RandomBytes;
using auth::SignableRequest;

namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t pos = path.find('/', start);
    if (pos == std::string_view::npos) pos = path.size();
    out.push_back(std::string(path.substr(start, pos - start)));
    start = pos + 1;
  }
  // "/v3/tasks/" and "/v3/tasks" are the same route.
  if (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

// A request id we echo: 1..128 visible ASCII characters.
bool IsSafeRequestId(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  return true;
}

// A request id in UUID form. Request ids are labels, not secrets: a
// per-thread generator seeded once from the CSPRNG spares every request the
// CSPRNG's fork check (a getpid(2) each).
std::string NewRequestId() {
  thread_local std::mt19937_64 gen = [] {
    std::string seed = RandomBytes(sizeof(uint64_t) * 2);
    std::seed_seq seq(seed.begin(), seed.end());
    return std::mt19937_64(seq);
  }();
  const uint64_t hi = gen();
  const uint64_t lo = gen();
  char b[16];
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<char>(hi >> (8 * i));
    b[8 + i] = static_cast<char>(lo >> (8 * i));
  }
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  return FormatUuid(std::string_view(b, sizeof(b)));
}

std::string Truncate(std::string s, size_t max) {
  if (s.size() > max) s.resize(max);
  return s;
}

}  // namespace

std::map<std::string, std::string> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start <= query.size() && !query.empty()) {
    size_t pos = query.find('&', start);
    if (pos == std::string_view::npos) pos = query.size();
    std::string_view kv = query.substr(start, pos - start);
    if (!kv.empty()) {
      size_t eq = kv.find('=');
      std::string k = PercentDecode(kv.substr(0, eq), true);
      std::string v = eq == std::string_view::npos
                          ? ""
                          : PercentDecode(kv.substr(eq + 1), true);
      out.emplace(std::move(k), std::move(v));
    }
    start = pos + 1;
  }
  return out;
}

HttpResponse Api::ErrorResponse(const ApiError& e,
                                const std::string& request_id) {
  HttpResponse resp;
  resp.status = HttpStatus(e.code);
  json::object body;
  body["error_code"] = SmsCode(e.code);
  if (resp.status == 403) {
    std::string msg = Truncate(e.message, 255);
    body["error_msg"] = msg;
    body["encoded_authorization_message"] = "";
    body["error_param"] = json::array{json::string(msg)};
    body["details"] = json::array{
        json::object{{"error_code", SmsCode(e.code)}, {"error_msg", msg}}};
  } else {
    body["error_msg"] = Truncate(e.message, 1024);
  }
  resp.body = ToJson(body);
  resp.headers = {{"Content-Type", "application/json"},
                  {"X-Request-Id", request_id}};
  if (e.retry_after_s > 0)
    resp.headers.push_back({"Retry-After", std::to_string(e.retry_after_s)});
  return resp;
}

std::optional<ApiError> CheckTargetLength(std::string_view target,
                                          size_t max_target) {
  if (target.size() <= max_target) return std::nullopt;
  return ApiError{ApiCode::kUriTooLong,
                  "URL: longer than " + std::to_string(max_target) + " bytes",
                  "", 0};
}

Api::Api(ApiDeps deps, ApiOptions options)
    : deps_(std::move(deps)),
      options_(std::move(options)),
      sources_(*deps_.store, *deps_.clock, deps_.heartbeats),
      commands_(*deps_.store, *deps_.clock, deps_.heartbeats),
      tenant_settings_(*deps_.store) {
  if (!options_.console_dir.empty())
    console_ = std::make_unique<StaticFiles>(options_.console_dir);
  // Issue 13's services, when the caller brings none (tests): no webhook
  // allow-list.
  if (deps_.changes == nullptr) {
    own_changes_ = std::make_unique<ChangesService>(*deps_.store, *deps_.tasks);
    deps_.changes = own_changes_.get();
  }
  if (deps_.webhooks == nullptr) {
    own_webhooks_ = std::make_unique<WebhookService>(*deps_.store, *deps_.clock,
                                                     webhook::AllowList());
    deps_.webhooks = own_webhooks_.get();
  }
  routes_ = MakeRoutes();
  for (Route& r : routes_) r.segments = SplitPath(r.pattern);
}

Api::~Api() = default;

std::vector<RouteInfo> Api::Routes() const {
  std::vector<RouteInfo> out;
  for (const auto& r : routes_) out.push_back({r.method, r.pattern});
  return out;
}

size_t Api::BodyLimitFor(std::string_view target) const {
  std::string_view path = target.substr(0, target.find('?'));
  if (path.size() >= 8 && path.substr(path.size() - 8) == "/details")
    return options_.max_details_body;
  return options_.max_body;
}

const Api::Route* Api::FindRoute(std::string_view method, std::string_view path,
                                 bool* path_known) const {
  *path_known = false;
  // Segments of the path, as SplitPath() makes them, without copying.
  std::string_view segs[8];
  size_t n = 0;
  for (size_t start = 1; start <= path.size();) {
    size_t pos = path.find('/', start);
    if (pos == std::string_view::npos) pos = path.size();
    if (n == std::size(segs)) return nullptr;  // no route is this deep
    segs[n++] = path.substr(start, pos - start);
    start = pos + 1;
  }
  if (n > 0 && segs[n - 1].empty()) --n;
  // Literal segments first: routes are ordered so that literal routes
  // precede parameter routes of the same shape.
  for (const Route& r : routes_) {
    if (r.segments.size() != n) continue;
    bool ok = true;
    for (size_t i = 0; i < n && ok; ++i) {
      const std::string& p = r.segments[i];
      if (!(p.size() > 2 && p.front() == '{')) ok = p == segs[i];
    }
    if (!ok) continue;
    *path_known = true;
    if (r.method == method) return &r;
  }
  return nullptr;
}

bool Api::ReadOnly(std::string_view method, std::string_view target) const {
  if (method != "GET") return false;
  bool path_known = false;
  const Route* r =
      FindRoute(method, target.substr(0, target.find('?')), &path_known);
  // No route: the 404/405 answer, or a console file.
  return r == nullptr || r->read_only;
}

HttpResponse Api::Handle(const HttpRequest& req) {
  HttpResponse resp = Handle(req, ReadOnly(req.method, req.target));
  if (!resp.stream) return resp;
  BodyStream stream = std::move(resp.stream);
  resp.stream = nullptr;
  for (;;) {
    core::Result<bool> more = stream(resp.body);
    if (!more) {
      const std::string* rid = FindHeader(resp.headers, "x-request-id");
      return ErrorResponse(ApiError{ApiCode::kInternal, "internal error",
                                    more.error().message, 0},
                           rid ? *rid : NewRequestId());
    }
    if (!*more) return resp;
  }
}

HttpResponse Api::Handle(const HttpRequest& req, bool read_only) {
  const auto start = std::chrono::steady_clock::now();
  Context ctx;
  ctx.req = &req;
  const std::string* rid = FindHeader(req.headers, "x-request-id");
  ctx.request_id = rid && IsSafeRequestId(*rid) ? *rid : NewRequestId();

  // A read-only request: authentication and the answer read one snapshot,
  // with one set of store locks.
  auto scope = read_only ? deps_.store->BeginReadScope() : nullptr;
  HttpResponse resp = Dispatch(req, ctx);

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  deps_.metrics->ObserveRequest(req.method, ctx.route, resp.status, seconds);
  if (deps_.log) {
    json::object line{
        {"ts", core::IsoTimeMillis(deps_.clock->NowEpochMillis())},
        {"level", resp.status >= 500 ? "error" : "info"},
        {"request_id", ctx.request_id},
        {"method", req.method},
        {"route", ctx.route},
        {"status", resp.status},
        {"duration_us", static_cast<int64_t>(seconds * 1e6)},
        {"remote", req.remote}};
    if (ctx.who) {
      line["domain"] = ctx.who->domain_name;
      line["user"] = ctx.who->user_name;
      line["auth"] = ctx.who->method;
    }
    if (!ctx.error_code.empty()) line["error_code"] = ctx.error_code;
    deps_.log(ToJson(line));
  }
  return resp;
}

HttpResponse Api::Dispatch(const HttpRequest& req, Context& ctx) {
  auto fail = [&](const ApiError& e) {
    ctx.error_code = std::string(SmsCode(e.code));
    if (e.code == ApiCode::kUnavailable || e.code == ApiCode::kInternal) {
      deps_.metrics->AddStorageError();
      if (deps_.log && !e.internal.empty()) {
        // The internal detail goes to the log only, keyed by request id.
        deps_.log(ToJson(json::object{{"level", "error"},
                                      {"request_id", ctx.request_id},
                                      {"internal", e.internal}}));
      }
    }
    return ErrorResponse(e, ctx.request_id);
  };

  if (auto too_long = CheckTargetLength(req.target, options_.max_target))
    return fail(*too_long);
  size_t qpos = req.target.find('?');
  ctx.path = req.target.substr(0, qpos);
  ctx.query_text = qpos == std::string::npos ? "" : req.target.substr(qpos + 1);
  if (ctx.path.empty() || ctx.path[0] != '/')
    return fail(
        {ApiCode::kMalformed, "URL: the path must start with /", "", 0});
  std::vector<std::string> segs = SplitPath(ctx.path);

  // The console's static files: no authentication, the API's error bodies.
  if (console_) {
    if (auto file = console_->Serve(req.method, ctx.path)) {
      ctx.route = "/console/";
      if (file->status == 404)
        return fail({ApiCode::kNotFound,
                     "The requested resource does not exist.", "", 0});
      if (file->status == 405)
        return fail(
            {ApiCode::kMethodNotAllowed,
             "method " + req.method + " is not allowed on this resource", "",
             0});
      file->headers.push_back({"X-Request-Id", ctx.request_id});
      return std::move(*file);
    }
  }

  bool path_known = false;
  const Route* match = FindRoute(req.method, ctx.path, &path_known);
  if (match == nullptr) {
    if (path_known)
      return fail({ApiCode::kMethodNotAllowed,
                   "method " + req.method + " is not allowed on this resource",
                   "", 0});
    return fail(
        {ApiCode::kNotFound, "The requested resource does not exist.", "", 0});
  }
  ctx.route = match->pattern;
  ctx.query = ParseQuery(ctx.query_text);

  // Authenticate.
  if (match->auth) {
    const std::string* token = FindHeader(req.headers, "x-auth-token");
    const std::string* authz = FindHeader(req.headers, "authorization");
    ApiResult<Identity> who = ApiFail(
        ApiCode::kNoCredentials,
        "Authentication required: send X-Auth-Token or an SDK-HMAC-SHA256 "
        "Authorization header.");
    if (token != nullptr) {
      const std::string* domain_id = FindHeader(req.headers, "x-domain-id");
      const std::string* project_id = FindHeader(req.headers, "x-project-id");
      who = deps_.auth->AuthenticateToken(
          *token, domain_id ? std::string_view(*domain_id) : "",
          project_id ? std::string_view(*project_id) : "");
    } else if (authz != nullptr) {
      SignableRequest sreq{req.method, ctx.path, ctx.query_text, req.headers,
                           req.body};
      who = deps_.auth->AuthenticateSignature(sreq, *authz,
                                              match->signature_once);
    }
    if (!who) return fail(who.error());
    ctx.who = std::move(*who);
  }

  // Path ids.
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::string& p = match->segments[i];
    if (p.size() > 2 && p.front() == '{') {
      std::string name = p.substr(1, p.size() - 2);
      std::string value = PercentDecode(segs[i]);
      if (!IsUuid(value))
        return fail({ApiCode::kMalformed,
                     name + ": expected a lower-case UUID of 36 characters", "",
                     0});
      ctx.params[name] = std::move(value);
    }
  }

  // Body.
  if (match->json_body) {
    if (req.body.size() > BodyLimitFor(req.target))
      return fail({ApiCode::kTooLarge,
                   "request body: larger than " +
                       std::to_string(BodyLimitFor(req.target)) + " bytes",
                   "", 0});
    if (req.body.empty())
      return fail({ApiCode::kMissing, "request body: is required", "", 0});
    const std::string* ct = FindHeader(req.headers, "content-type");
    std::string type = ct ? core::AsciiLower(*ct) : "";
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ') type.pop_back();
    if (type != "application/json")
      return fail({ApiCode::kUnsupportedMedia,
                   "Content-Type: expected application/json", "", 0});
    auto body = ParseJsonObject(req.body);
    if (!body) return fail(body.error());
    ctx.body = std::move(*body);
  }

  if (match->action) {
    if (auto allowed = Require(*ctx.who, *match->action); !allowed)
      return fail(allowed.error());
  }
  auto reply = match->handler(ctx);
  if (!reply) return fail(reply.error());
  HttpResponse resp;
  resp.status = reply->status;
  resp.body = std::move(reply->body);
  resp.stream = std::move(reply->stream);
  if (!reply->content_type.empty())
    resp.headers.push_back({"Content-Type", reply->content_type});
  resp.headers.push_back({"X-Request-Id", ctx.request_id});
  for (auto& h : reply->extra) resp.headers.push_back(std::move(h));
  return resp;
}

}  // namespace sms::server
