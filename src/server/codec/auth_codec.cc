#include "server/codec/auth_codec.h"

#include "core/json_writer.h"

namespace sms::server {

ApiResult<LoginRequest> DecodeLoginRequest(const json::object& body) {
  LoginRequest r;
  SMS_ASSIGN_OR_RETURN(const json::object* auth,
                       ReqObject(body, "auth", "auth"));
  SMS_ASSIGN_OR_RETURN(const json::object* identity,
                       ReqObject(*auth, "identity", "auth.identity"));
  SMS_ASSIGN_OR_RETURN(
      const json::array* methods,
      ReqArray(*identity, "methods", "auth.identity.methods", 1, 10));
  bool has_password = false;
  for (const auto& m : *methods)
    if (m.is_string() && m.get_string() == "password") has_password = true;
  if (!has_password)
    return Malformed("auth.identity.methods", "only \"password\" is supported");
  SMS_ASSIGN_OR_RETURN(
      const json::object* password,
      ReqObject(*identity, "password", "auth.identity.password"));
  SMS_ASSIGN_OR_RETURN(
      const json::object* user,
      ReqObject(*password, "user", "auth.identity.password.user"));
  SMS_ASSIGN_OR_RETURN(
      r.user_name,
      ReqString(*user, "name", "auth.identity.password.user.name", 1, 255));
  SMS_ASSIGN_OR_RETURN(
      r.password, ReqString(*user, "password",
                            "auth.identity.password.user.password", 1, 1024));
  SMS_ASSIGN_OR_RETURN(
      const json::object* domain,
      ReqObject(*user, "domain", "auth.identity.password.user.domain"));
  SMS_ASSIGN_OR_RETURN(
      std::optional<std::string> dname,
      OptString(*domain, "name", "auth.identity.password.user.domain.name", 1,
                255));
  SMS_ASSIGN_OR_RETURN(
      std::optional<std::string> did,
      OptString(*domain, "id", "auth.identity.password.user.domain.id", 1, 64));
  if (!dname && !did) return Missing("auth.identity.password.user.domain.name");
  r.domain_name = dname.value_or("");
  r.domain_id = did.value_or("");
  // scope: a domain (or project) of the same tenant; checked in Login.
  SMS_ASSIGN_OR_RETURN(const json::object* scope,
                       OptObject(*auth, "scope", "auth.scope"));
  if (scope == nullptr) return r;
  SMS_ASSIGN_OR_RETURN(const json::object* sd,
                       OptObject(*scope, "domain", "auth.scope.domain"));
  if (sd == nullptr) return r;
  SMS_ASSIGN_OR_RETURN(
      std::optional<std::string> sname,
      OptString(*sd, "name", "auth.scope.domain.name", 1, 255));
  SMS_ASSIGN_OR_RETURN(std::optional<std::string> sid,
                       OptString(*sd, "id", "auth.scope.domain.id", 1, 64));
  if ((sname && !r.domain_name.empty() && *sname != r.domain_name) ||
      (sid && !r.domain_id.empty() && *sid != r.domain_id)) {
    return Malformed("auth.scope.domain", "must be the user's own domain");
  }
  return r;
}

json::value EncodeIssuedToken(const IssuedToken& t) {
  json::object domain{{"id", t.identity.domain_id},
                      {"name", t.identity.domain_name}};
  json::object user{{"id", t.identity.user_id},
                    {"name", t.identity.user_name},
                    {"domain", domain}};
  json::object token{
      {"expires_at", core::IsoTimeMillis(t.expires_at)},
      {"issued_at", core::IsoTimeMillis(t.issued_at)},
      {"methods", json::array{"password"}},
      {"user", std::move(user)},
      {"domain", std::move(domain)},
      {"roles",
       json::array{json::object{{"name", storage::ToText(t.identity.role)}}}}};
  return json::object{{"token", std::move(token)}};
}

ApiResult<LoginLockQuery> DecodeLoginLockQuery(const QueryParams& q) {
  LoginLockQuery out;
  SMS_ASSIGN_OR_RETURN(std::optional<std::string> user,
                       QueryString(q, "user_name", 255));
  if (!user || user->empty()) return Missing("user_name");
  out.user_name = std::move(*user);
  SMS_ASSIGN_OR_RETURN(std::optional<std::string> address,
                       QueryString(q, "address", 64));
  out.address = address.value_or("");
  return out;
}

json::value EncodeLoginLockCleared(const LoginLockQuery& q, int64_t cleared) {
  return json::object{
      {"user_name", q.user_name}, {"address", q.address}, {"cleared", cleared}};
}

}  // namespace sms::server
