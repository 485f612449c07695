// The route table's types, shared by api.cc (matching, authentication,
// body parsing) and routes.cc (the table: one entry per route, naming its
// handler). Internal to the server.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/api.h"
#include "server/identity.h"
#include "server/json_fields.h"

namespace sms::server {

// The first header named `name` (lower case), any case on the wire.
const std::string* FindHeader(const Headers& h, std::string_view name);

struct Reply {
  int status = 200;
  std::string body;
  BodyStream stream;  // set: the rest of the body, produced as it is sent
  std::string content_type = "application/json";
  Headers extra;
};

struct Api::Context {
  const HttpRequest* req = nullptr;
  std::string request_id;
  std::string route = "unmatched";
  std::string path;
  std::string query_text;
  QueryParams query;
  std::map<std::string, std::string> params;
  std::optional<Identity> who;
  json::object body;
  std::string error_code;
};

using Handler = std::function<ApiResult<Reply>(Api::Context&)>;

// One route. Declared with designated initialisers in routes.cc; the
// defaults are the common case (authenticated, no body, writes, a signed
// request may be repeated).
struct Api::Route {
  std::string method;   // "GET"
  std::string pattern;  // "/v3/tasks/{task_id}": {x} is a UUID path id
  // Needs an X-Auth-Token or an AK/SK signature (ctx.who is set).
  bool auth = true;
  // Parses the body as a JSON object into ctx.body (415/413/400 first).
  bool json_body = false;
  // Writes nothing (Api::ReadOnly: may run in a read snapshot).
  bool read_only = false;
  // What the caller's role must allow (identity.h), checked once the body
  // is parsed and before the handler runs: a request a role may not make is
  // a 403 whatever its fields. The services check it again.
  std::optional<Action> action;
  // A signed request here is accepted once: a replay could repeat a state
  // change. Routes whose repeat is harmless by their body (uploads,
  // registration, export) leave it false.
  bool signature_once = false;
  // Checks that only read, run after the role check and before `handler`
  // (the poll: the source is the caller's). Optional.
  std::function<ApiStatus(Api::Context&)> check;
  // Answered through Api::HandleAsync by the transport: a signed request
  // here waits for its signature's record without holding a thread (the
  // agent's command poll, thousands a second). Authentication and `check`
  // run in one read snapshot before the record is queued, `handler` after
  // it is durable; a refusal found before then is answered after it, as
  // for any route (the record is the same either way). The handler may run
  // on the signature ledger's thread (the transport's choice), so it must
  // not wait on the ledger itself.
  bool async = false;
  Handler handler;
  // Filled from `pattern` by the Api.
  std::vector<std::string> segments;
};

// An encoded result as a 200 (or `status`) reply.
inline Reply JsonReply(const json::value& v, int status = 200) {
  Reply r;
  r.status = status;
  r.body = ToJson(v);
  return r;
}

}  // namespace sms::server
