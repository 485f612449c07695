#include "server/api.h"

#include <chrono>
#include <condition_variable>
#include <iterator>
#include <mutex>
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

Api::Running Api::HowToRun(std::string_view method,
                           std::string_view target) const {
  bool path_known = false;
  const Route* r =
      FindRoute(method, target.substr(0, target.find('?')), &path_known);
  if (r != nullptr && r->async) return Running::kAsync;
  // No route: the 404/405 answer, or a console file.
  if (method == "GET" && (r == nullptr || r->read_only)) return Running::kRead;
  return Running::kWrite;
}

bool Api::ReadOnly(std::string_view method, std::string_view target) const {
  return HowToRun(method, target) == Running::kRead;
}

bool Api::Async(std::string_view method, std::string_view target) const {
  return HowToRun(method, target) == Running::kAsync;
}

HttpResponse Api::Handle(const HttpRequest& req) {
  const Running how = HowToRun(req.method, req.target);
  if (how == Running::kAsync) {
    // A caller without an event loop: run the resumed part here.
    struct Waiting {
      std::mutex mu;
      std::condition_variable cv;
      std::function<void()> work;
      std::optional<HttpResponse> answer;
    };
    auto w = std::make_shared<Waiting>();
    HandleAsync(
        std::make_shared<HttpRequest>(req),
        [w](std::function<void()> work) {
          std::lock_guard lock(w->mu);
          w->work = std::move(work);
          w->cv.notify_one();
        },
        [w](HttpResponse r) {
          std::lock_guard lock(w->mu);
          w->answer = std::move(r);
          w->cv.notify_one();
        });
    std::unique_lock lock(w->mu);
    for (;;) {
      w->cv.wait(lock, [&] { return w->work || w->answer; });
      if (w->answer) return std::move(*w->answer);
      std::function<void()> work = std::move(w->work);
      w->work = nullptr;
      lock.unlock();
      work();
      lock.lock();
    }
  }
  HttpResponse resp = Handle(req, how == Running::kRead);
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

namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

constexpr char kNoCredentials[] =
    "Authentication required: send X-Auth-Token or an SDK-HMAC-SHA256 "
    "Authorization header.";

// X-Auth-Token `token` of `req`, with its X-Domain-Id and X-Project-Id.
ApiResult<Identity> AuthenticateTokenOf(AuthService& auth,
                                        const HttpRequest& req,
                                        const std::string& token) {
  const std::string* domain_id = FindHeader(req.headers, "x-domain-id");
  const std::string* project_id = FindHeader(req.headers, "x-project-id");
  return auth.AuthenticateToken(
      token, domain_id ? std::string_view(*domain_id) : "",
      project_id ? std::string_view(*project_id) : "");
}

std::string RequestIdFor(const HttpRequest& req) {
  const std::string* rid = FindHeader(req.headers, "x-request-id");
  return rid && IsSafeRequestId(*rid) ? *rid : NewRequestId();
}

}  // namespace

HttpResponse Api::Handle(const HttpRequest& req, bool read_only) {
  const auto start = std::chrono::steady_clock::now();
  Context ctx;
  ctx.req = &req;
  ctx.request_id = RequestIdFor(req);

  // A read-only request: authentication and the answer read one snapshot,
  // with one set of store locks.
  auto scope = read_only ? deps_.store->BeginReadScope() : nullptr;
  HttpResponse resp = Dispatch(req, ctx);
  scope.reset();
  Observe(req, ctx, resp, SecondsSince(start));
  return resp;
}

void Api::Observe(const HttpRequest& req, const Context& ctx,
                  const HttpResponse& resp, double seconds) {
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
}

HttpResponse Api::Fail(const ApiError& e, Context& ctx) {
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
}

std::optional<HttpResponse> Api::MatchRoute(const HttpRequest& req,
                                            Context& ctx,
                                            const Api::Route** route) {
  *route = nullptr;
  if (auto too_long = CheckTargetLength(req.target, options_.max_target))
    return Fail(*too_long, ctx);
  size_t qpos = req.target.find('?');
  ctx.path = req.target.substr(0, qpos);
  ctx.query_text = qpos == std::string::npos ? "" : req.target.substr(qpos + 1);
  if (ctx.path.empty() || ctx.path[0] != '/')
    return Fail({ApiCode::kMalformed, "URL: the path must start with /", "", 0},
                ctx);

  // The console's static files: no authentication, the API's error bodies.
  if (console_) {
    if (auto file = console_->Serve(req.method, ctx.path)) {
      ctx.route = "/console/";
      if (file->status == 404)
        return Fail({ApiCode::kNotFound,
                     "The requested resource does not exist.", "", 0},
                    ctx);
      if (file->status == 405)
        return Fail(
            {ApiCode::kMethodNotAllowed,
             "method " + req.method + " is not allowed on this resource", "",
             0},
            ctx);
      file->headers.push_back({"X-Request-Id", ctx.request_id});
      return std::move(*file);
    }
  }

  bool path_known = false;
  const Route* match = FindRoute(req.method, ctx.path, &path_known);
  if (match == nullptr) {
    if (path_known)
      return Fail(
          {ApiCode::kMethodNotAllowed,
           "method " + req.method + " is not allowed on this resource", "", 0},
          ctx);
    return Fail(
        {ApiCode::kNotFound, "The requested resource does not exist.", "", 0},
        ctx);
  }
  ctx.route = match->pattern;
  ctx.query = ParseQuery(ctx.query_text);
  *route = match;
  return std::nullopt;
}

ApiStatus Api::Prepare(const Api::Route& route, Context& ctx) {
  const HttpRequest& req = *ctx.req;
  // Path ids.
  std::vector<std::string> segs = SplitPath(ctx.path);
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::string& p = route.segments[i];
    if (p.size() > 2 && p.front() == '{') {
      std::string name = p.substr(1, p.size() - 2);
      std::string value = PercentDecode(segs[i]);
      if (!IsUuid(value))
        return ApiFail(ApiCode::kMalformed,
                       name + ": expected a lower-case UUID of 36 characters");
      ctx.params[name] = std::move(value);
    }
  }

  // Body.
  if (route.json_body) {
    if (req.body.size() > BodyLimitFor(req.target))
      return ApiFail(ApiCode::kTooLarge,
                     "request body: larger than " +
                         std::to_string(BodyLimitFor(req.target)) + " bytes");
    if (req.body.empty())
      return ApiFail(ApiCode::kMissing, "request body: is required");
    const std::string* ct = FindHeader(req.headers, "content-type");
    std::string type = ct ? core::AsciiLower(*ct) : "";
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ') type.pop_back();
    if (type != "application/json")
      return ApiFail(ApiCode::kUnsupportedMedia,
                     "Content-Type: expected application/json");
    auto body = ParseJsonObject(req.body);
    if (!body) return tl::unexpected(body.error());
    ctx.body = std::move(*body);
  }

  if (route.action) SMS_RETURN_IF_ERROR(Require(*ctx.who, *route.action));
  if (route.check) SMS_RETURN_IF_ERROR(route.check(ctx));
  return {};
}

HttpResponse Api::Answer(const Api::Route& route, Context& ctx) {
  auto reply = route.handler(ctx);
  if (!reply) return Fail(reply.error(), ctx);
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

HttpResponse Api::Dispatch(const HttpRequest& req, Context& ctx) {
  const Route* match = nullptr;
  if (auto answered = MatchRoute(req, ctx, &match)) return std::move(*answered);

  // Authenticate.
  if (match->auth) {
    const std::string* token = FindHeader(req.headers, "x-auth-token");
    const std::string* authz = FindHeader(req.headers, "authorization");
    ApiResult<Identity> who = ApiFail(ApiCode::kNoCredentials, kNoCredentials);
    if (token != nullptr) {
      who = AuthenticateTokenOf(*deps_.auth, req, *token);
    } else if (authz != nullptr) {
      SignableRequest sreq{req.method, ctx.path, ctx.query_text, req.headers,
                           req.body};
      who = deps_.auth->AuthenticateSignature(sreq, *authz,
                                              match->signature_once);
    }
    if (!who) return Fail(who.error(), ctx);
    ctx.who = std::move(*who);
  }

  if (auto ready = Prepare(*match, ctx); !ready)
    return Fail(ready.error(), ctx);
  return Answer(*match, ctx);
}

// One request of an async route, from HandleAsync until it is answered.
struct Api::AsyncCall {
  std::shared_ptr<const HttpRequest> req;
  Resume resume;
  Respond respond;
  std::chrono::steady_clock::time_point start;
  Context ctx;
  const Route* route = nullptr;
  // A refusal found before the signature was recorded, answered after.
  std::optional<ApiError> refused;
};

void Api::HandleAsync(std::shared_ptr<const HttpRequest> req, Resume resume,
                      Respond respond) {
  auto call = std::make_shared<AsyncCall>();
  call->req = std::move(req);
  call->resume = std::move(resume);
  call->respond = std::move(respond);
  call->start = std::chrono::steady_clock::now();
  Context& ctx = call->ctx;
  const HttpRequest& r = *call->req;
  ctx.req = &r;
  ctx.request_id = RequestIdFor(r);
  auto answer_now = [&](HttpResponse resp) {
    Observe(r, ctx, resp, SecondsSince(call->start));
    call->respond(std::move(resp));
  };
  std::optional<AuthService::VerifiedSignature> to_record;
  try {
    if (auto answered = MatchRoute(r, ctx, &call->route))
      return answer_now(std::move(*answered));
    const Route& route = *call->route;
    // Authentication and the route's checks read one snapshot; the
    // signature is recorded after it has ended (a write).
    auto scope = deps_.store->BeginReadScope();
    if (route.auth) {
      ApiResult<Identity> who =
          ApiFail(ApiCode::kNoCredentials, kNoCredentials);
      const std::string* token = FindHeader(r.headers, "x-auth-token");
      const std::string* authz = FindHeader(r.headers, "authorization");
      if (token != nullptr) {
        who = AuthenticateTokenOf(*deps_.auth, r, *token);
      } else if (authz != nullptr) {
        SignableRequest sreq{r.method, ctx.path, ctx.query_text, r.headers,
                             r.body};
        auto verified = deps_.auth->VerifySignature(sreq, *authz);
        if (!verified) {
          who = tl::unexpected(verified.error());
        } else {
          who = verified->who;
          if (route.signature_once) to_record = std::move(*verified);
        }
      }
      if (!who) {
        scope.reset();
        return answer_now(Fail(who.error(), ctx));
      }
      ctx.who = std::move(*who);
    }
    if (auto ready = Prepare(route, ctx); !ready) call->refused = ready.error();
  } catch (const std::exception& e) {
    return answer_now(
        Fail(ApiError{ApiCode::kInternal, "internal error", e.what(), 0}, ctx));
  }
  if (!to_record) return Continue(call, {});
  deps_.auth->RecordSignatureAsync(*to_record, [this, call](ApiStatus s) {
    Resume resume = call->resume;
    resume([this, call, s = std::move(s)] { Continue(call, s); });
  });
}

void Api::Continue(const std::shared_ptr<AsyncCall>& call, ApiStatus recorded) {
  Context& ctx = call->ctx;
  HttpResponse resp;
  try {
    if (!recorded)
      resp = Fail(recorded.error(), ctx);
    else if (call->refused)
      resp = Fail(*call->refused, ctx);
    else
      resp = Answer(*call->route, ctx);
  } catch (const std::exception& e) {
    resp =
        Fail(ApiError{ApiCode::kInternal, "internal error", e.what(), 0}, ctx);
  }
  Observe(*call->req, ctx, resp, SecondsSince(call->start));
  Respond respond = std::move(call->respond);
  respond(std::move(resp));
}

}  // namespace sms::server
