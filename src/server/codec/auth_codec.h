// Auth codec: the IAM-style body of POST /v3/auth/tokens (spec/API.md §2)
// decoded into a LoginRequest, and an issued token encoded as IAM answers
// it (the secret itself goes only into X-Subject-Token).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/codec/query.h"
#include "server/identity.h"
#include "server/json_fields.h"

namespace sms::server {

struct LoginRequest {
  std::string user_name;
  std::string password;
  std::string domain_name;  // user.domain.name, or
  std::string domain_id;    // user.domain.id
  std::string remote;       // the peer's address (the socket's)
  // Every X-Forwarded-For header, in order: believed only from a trusted
  // proxy (AuthOptions::trusted_proxies, client_address.h).
  std::vector<std::string> forwarded_for;
};

// The password method only; a scope, when given, must be the user's own
// domain.
[[nodiscard]] ApiResult<LoginRequest> DecodeLoginRequest(
    const json::object& body);

struct IssuedToken {
  std::string token;  // the secret; only ever in X-Subject-Token
  Identity identity;
  int64_t issued_at = 0;
  int64_t expires_at = 0;
};

// {"token": {"expires_at", "issued_at", "methods", "user", "domain",
// "roles"}}
json::value EncodeIssuedToken(const IssuedToken& t);

// DELETE /v3/auth/login-failures?user_name=&address=: the user of the
// caller's domain whose login lock is cleared (required, as in a login),
// and the address it is cleared for (empty: every address).
struct LoginLockQuery {
  std::string user_name;
  std::string address;
};
[[nodiscard]] ApiResult<LoginLockQuery> DecodeLoginLockQuery(
    const QueryParams& q);

// {"user_name", "address", "cleared": budgets cleared}
json::value EncodeLoginLockCleared(const LoginLockQuery& q, int64_t cleared);

}  // namespace sms::server
