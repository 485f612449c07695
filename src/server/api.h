// Api: the HTTP API of spec/API.md as a function from request to response,
// without sockets. The transport (http_server.cc, Boost.Beast) parses bytes
// into an HttpRequest and writes the HttpResponse back; tests call Handle()
// directly.
//
// Per request: route -> authenticate -> validate path ids -> parse body ->
// call a service -> serialise. Errors become the bodies of API.md §1 in
// exactly one place (ErrorResponse). One JSON log line per request.
// Thread-safety: Handle() is safe to call concurrently.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "server/api_error.h"
#include "server/auth_service.h"
#include "server/body_stream.h"
#include "server/changes_service.h"
#include "server/command_service.h"
#include "server/export_service.h"
#include "server/metrics.h"
#include "server/result_service.h"
#include "server/source_service.h"
#include "server/task_service.h"
#include "server/tenant_settings_service.h"
#include "server/webhook_service.h"
#include "storage/store.h"

namespace sms::server {

class StaticFiles;

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET"
  std::string target;  // path and query, as on the wire
  Headers headers;     // names in any case
  std::string body;
  std::string remote;  // client address, for rate limits and logs
};

struct HttpResponse {
  int status = 200;
  Headers headers;
  std::string body;
  // Set for a body produced as it is sent (chunked), `body` being its
  // first piece.
  BodyStream stream;
};

struct ApiOptions {
  // Serve /metrics without authentication.
  bool public_metrics = true;
  // The OpenAPI document served at /openapi.json.
  std::string openapi_json;
  // Body limits (API.md §0).
  size_t max_body = 1 << 20;
  size_t max_details_body = 16 << 20;
  size_t max_target = 8192;
  // The web console's directory, served at /console/ without authentication
  // (static_files.h); empty: no console.
  std::string console_dir;
};

// Services and sinks the Api uses; all outlive it. (SourceService and
// CommandService hold nothing but the store, the clock and the heartbeats:
// the Api builds them from `store`, `clock` and `heartbeats`.)
struct ApiDeps {
  storage::Store* store;
  core::Clock* clock;
  AuthService* auth;
  TaskService* tasks;
  ResultService* results;
  ExportService* exports;
  Metrics* metrics;
  // Receives one JSON line per request (no trailing newline).
  std::function<void(const std::string&)> log;
  // Issue 13 (null: the Api makes its own, with no webhook allow-list).
  ChangesService* changes = nullptr;
  WebhookService* webhooks = nullptr;
  // Agents' polls noted in memory, flushed by the owner (null: each poll
  // writes its heartbeat at once).
  Heartbeats* heartbeats = nullptr;
};

struct RouteInfo {
  std::string method;
  std::string pattern;  // "/v3/tasks/{task_id}"
};

class Api final {
 public:
  Api(ApiDeps deps, ApiOptions options);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  // The answer, whole: a streamed body is run to its end into `body` (an
  // error part-way answers 500), for callers without a socket.
  HttpResponse Handle(const HttpRequest& req);
  // The answer for a caller that has asked ReadOnly() of this request
  // already (the transport, to choose the thread); a large body may come
  // as `stream`, for the caller to send as it is produced.
  HttpResponse Handle(const HttpRequest& req, bool read_only);

  // Routes that answer without holding a thread while a write they need is
  // made durable (the agent's command poll, whose signature is recorded
  // first: Route::async). The transport asks Async() and calls HandleAsync
  // instead of Handle.
  //
  // `respond` is called exactly once with the answer: on the calling
  // thread when it is known at once (a refusal, a request with nothing to
  // record), else from a thread that `resume` was given. `resume(work)`
  // must run `work` soon on a thread of the transport's choosing (one that
  // may read the store; the work may also hand over a command, a write);
  // it is called at most once, from the thread that wrote the signature
  // ledger's batch (its writer thread, or a worker blocked in a signed
  // write's SignatureLedger::Use: never an I/O thread).
  // The request must stay alive until `respond` has been called (it is held
  // by the shared pointer).
  using Respond = std::function<void(HttpResponse)>;
  using Resume = std::function<void(std::function<void()> work)>;
  bool Async(std::string_view method, std::string_view target) const;
  void HandleAsync(std::shared_ptr<const HttpRequest> req, Resume resume,
                   Respond respond);

  // The largest body accepted for this target (the transport enforces it
  // before reading the body).
  size_t BodyLimitFor(std::string_view target) const;
  // True when answering this request writes nothing to the store (every GET
  // but the agent's command poll, which records its signature and may hand
  // over a command): the transport
  // may then run it without the worker pool (HttpServerOptions).
  bool ReadOnly(std::string_view method, std::string_view target) const;
  // Both questions in one route lookup (the transport asks it of every
  // request): kAsync when Async(), kRead when ReadOnly(), else kWrite.
  enum class Running { kWrite, kRead, kAsync };
  Running HowToRun(std::string_view method, std::string_view target) const;
  const ApiOptions& options() const { return options_; }
  // Every route served, for the OpenAPI test.
  std::vector<RouteInfo> Routes() const;

  // The §1 error body and status for `e`, with X-Request-Id.
  static HttpResponse ErrorResponse(const ApiError& e,
                                    const std::string& request_id);

  // Per-request state and route entries (defined in api.cc).
  struct Context;
  struct Route;

 private:
  // The route table (routes.cc).
  std::vector<Route> MakeRoutes();
  HttpResponse Dispatch(const HttpRequest& req, Context& ctx);
  // Steps of Dispatch, shared with HandleAsync. The matched route of a
  // request that passed the URL checks (ctx.route and ctx.query set), or
  // the error answer (nullopt in *route for the console: *answer holds the
  // file).
  std::optional<HttpResponse> MatchRoute(const HttpRequest& req, Context& ctx,
                                         const Api::Route** route);
  // After authentication: path ids, body, role check, the route's check.
  ApiStatus Prepare(const Api::Route& route, Context& ctx);
  // The route's handler and its answer.
  HttpResponse Answer(const Api::Route& route, Context& ctx);
  // The error answer (counted, logged when internal).
  HttpResponse Fail(const ApiError& e, Context& ctx);
  // Metrics and the request's log line.
  void Observe(const HttpRequest& req, const Context& ctx,
               const HttpResponse& resp, double seconds);
  // The async path of HandleAsync, once the route is known.
  struct AsyncCall;
  void Continue(const std::shared_ptr<AsyncCall>& call, ApiStatus recorded);
  // The route for `method` on `path` (no query), or null; `path_known`:
  // some route has this path, with another method (405 rather than 404).
  const Route* FindRoute(std::string_view method, std::string_view path,
                         bool* path_known) const;

  ApiDeps deps_;
  const ApiOptions options_;
  SourceService sources_;
  CommandService commands_;
  TenantSettingsService tenant_settings_;
  std::vector<Route> routes_;
  std::unique_ptr<StaticFiles> console_;         // null: no console
  std::unique_ptr<ChangesService> own_changes_;  // when deps brought none
  std::unique_ptr<WebhookService> own_webhooks_;
};

// The 414 for a request target (path and query) longer than `max_target`
// bytes, or nullopt. The transport checks it before reading a body, the Api
// for callers of Handle.
std::optional<ApiError> CheckTargetLength(std::string_view target,
                                          size_t max_target);

// Splits "a=1&b=x%20y+z" into a -> "1", b -> "x y z" (percent-decoded, '+'
// is a space as in every form-encoded query; the first of repeated keys
// wins).
std::map<std::string, std::string> ParseQuery(std::string_view query);

}  // namespace sms::server
