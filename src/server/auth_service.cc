#include "server/auth_service.h"

#include <ctime>

#include "auth/crypto.h"
#include "core/strings.h"

namespace sms::server {

using auth::Base64UrlEncode;
using auth::CheckSignedBodyHash;
using auth::ConstantTimeEquals;
using auth::HashPassword;
using auth::NewUuid;
using auth::ParseSdkAuthorization;
using auth::ParseSdkDate;
using auth::RandomBytes;
using auth::SdkSignature;
using auth::Sha256Hex;
using auth::SignableRequest;
using auth::VerifyPassword;
namespace {

constexpr char kBadLogin[] = "The username or password is wrong.";
constexpr char kBadToken[] = "The token is invalid, expired or revoked.";
constexpr char kBadSignature[] =
    "The request signature does not match (check AK, SK and X-Sdk-Date).";

}  // namespace

AuthService::AuthService(storage::Store& store, core::Clock& clock,
                         AuthOptions options)
    : store_(store),
      clock_(clock),
      options_(options),
      dummy_hash_(HashPassword("dummy", options.pbkdf2_iterations)) {}

ApiStatus AuthService::CheckLockout(const std::string& key, int64_t now) {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  if (it == failures_.end()) return {};
  auto& q = it->second;
  while (!q.empty() && q.front() <= now - options_.failure_window_ms)
    q.pop_front();
  if (static_cast<int>(q.size()) < options_.max_login_failures) return {};
  int64_t wait_ms = q.front() + options_.failure_window_ms - now;
  ApiError e{ApiCode::kTooManyRequests, "Too many failed logins; retry later.",
             "login lockout", static_cast<int>((wait_ms + 999) / 1000)};
  return tl::unexpected(std::move(e));
}

void AuthService::RecordFailure(const std::string& key, int64_t now) {
  std::lock_guard lock(mu_);
  if (failures_.size() > 100000) {
    // Bound memory: drop keys whose failures are all outside the window.
    for (auto it = failures_.begin(); it != failures_.end();) {
      if (it->second.empty() ||
          it->second.back() <= now - options_.failure_window_ms)
        it = failures_.erase(it);
      else
        ++it;
    }
  }
  auto& q = failures_[key];
  q.push_back(now);
  while (static_cast<int>(q.size()) > options_.max_login_failures)
    q.pop_front();
}

ApiResult<IssuedToken> AuthService::Login(const LoginRequest& req) {
  const int64_t now = clock_.NowEpochMillis();
  const std::string user_key =
      "user:" +
      (req.domain_id.empty() ? "n:" + req.domain_name : "i:" + req.domain_id) +
      "/" + req.user_name;
  const std::string addr_key = "addr:" + req.remote;
  SMS_RETURN_IF_ERROR(CheckLockout(user_key, now));
  if (!req.remote.empty()) SMS_RETURN_IF_ERROR(CheckLockout(addr_key, now));
  auto fail = [&]() -> tl::unexpected<ApiError> {
    RecordFailure(user_key, now);
    if (!req.remote.empty()) RecordFailure(addr_key, now);
    return ApiFail(ApiCode::kBadToken, kBadLogin);
  };
  auto domain = req.domain_id.empty() ? store_.GetDomainByName(req.domain_name)
                                      : store_.GetDomain(req.domain_id);
  if (!domain) {
    if (domain.error().code != core::ErrorCode::kNotFound)
      return StoreFail(domain.error(), "");
    // Spend the same time as a real check so names cannot be probed.
    VerifyPassword(req.password, dummy_hash_);
    return fail();
  }
  if (!req.domain_name.empty() && domain->name != req.domain_name)
    return fail();
  auto user = store_.GetUserByName(domain->id, req.user_name);
  if (!user) {
    if (user.error().code != core::ErrorCode::kNotFound)
      return StoreFail(user.error(), "");
    VerifyPassword(req.password, dummy_hash_);
    return fail();
  }
  if (!VerifyPassword(req.password, user->password_hash)) return fail();

  IssuedToken out;
  out.token = Base64UrlEncode(RandomBytes(32));
  out.issued_at = now;
  out.expires_at = now + options_.token_ttl_ms;
  SMS_ASSIGN_OR_RETURN(out.identity, IdentityOf(*domain, *user, "token"));
  storage::Token t{Sha256Hex(out.token), domain->id,     user->id,
                   out.issued_at,        out.expires_at, std::nullopt};
  SMS_RETURN_IF_ERROR(FromStore(store_.CreateToken(t), ""));
  {
    std::lock_guard lock(mu_);
    failures_.erase(user_key);
  }
  return out;
}

ApiResult<Identity> AuthService::LoadIdentity(const std::string& domain_id,
                                              const std::string& user_id,
                                              std::string method,
                                              ApiCode fail_code) {
  const char* msg = fail_code == ApiCode::kBadToken ? kBadToken : kBadSignature;
  auto domain = store_.GetDomain(domain_id);
  if (!domain) {
    if (domain.error().code == core::ErrorCode::kNotFound)
      return ApiFail(fail_code, msg);
    return StoreFail(domain.error(), "");
  }
  auto user = store_.GetUser(domain_id, user_id);
  if (!user) {
    if (user.error().code == core::ErrorCode::kNotFound)
      return ApiFail(fail_code, msg);
    return StoreFail(user.error(), "");
  }
  return IdentityOf(*domain, *user, std::move(method));
}

ApiResult<Identity> AuthService::AuthenticateToken(std::string_view token) {
  if (token.empty() || token.size() > 16384)
    return ApiFail(ApiCode::kBadToken, kBadToken);
  auto t = store_.ResolveToken(Sha256Hex(token));
  if (!t) {
    if (t.error().code == core::ErrorCode::kNotFound)
      return ApiFail(ApiCode::kBadToken, kBadToken);
    return StoreFail(t.error(), "");
  }
  if (t->token.revoked_at || t->token.expires_at <= clock_.NowEpochMillis())
    return ApiFail(ApiCode::kBadToken, kBadToken);
  return IdentityOf(t->domain, t->user, "token");
}

ApiResult<std::string> AuthService::OpenSecretKey(
    const storage::Credential& cred) const {
  if (!auth::SecretBox::IsSealed(cred.secret_key)) return cred.secret_key;
  // A server that cannot open its SKs is misconfigured: say so loudly (500,
  // the detail in the log), not as a client's bad signature.
  auto misconfigured = [&](const std::string& why) {
    return ApiError{ApiCode::kInternal, "internal error",
                    "credential " + cred.access_key +
                        ": the SK is sealed and " + why +
                        " (--secret-key-file must name the key it was "
                        "sealed with)",
                    0};
  };
  if (options_.secrets == nullptr)
    return tl::unexpected(misconfigured("no secret key file given"));
  auto opened = options_.secrets->Open(cred.access_key, cred.secret_key);
  if (!opened) return tl::unexpected(misconfigured(opened.error().message));
  return std::move(*opened);
}

ApiResult<Identity> AuthService::AuthenticateSignature(
    const SignableRequest& req, std::string_view authorization, bool once) {
  auto auth = ParseSdkAuthorization(authorization);
  if (!auth) return ApiFail(ApiCode::kBadSignature, auth.error().message);
  std::string sdk_date;
  std::string domain_header;
  std::string project_header;
  for (const auto& [k, v] : req.headers) {
    std::string name = core::AsciiLower(k);
    if (name == "x-sdk-date") sdk_date = v;
    if (name == "x-domain-id") domain_header = v;
    if (name == "x-project-id") project_header = v;
  }
  bool date_signed = false;
  for (const auto& h : auth->signed_headers)
    if (h == "x-sdk-date") date_signed = true;
  if (sdk_date.empty() || !date_signed)
    return ApiFail(ApiCode::kBadSignature,
                   "X-Sdk-Date: is required and must be a signed header");
  auto when = ParseSdkDate(sdk_date);
  if (!when) return ApiFail(ApiCode::kBadSignature, when.error().message);
  int64_t skew = *when - clock_.NowEpochMillis();
  if (skew > options_.sdk_date_skew_ms || -skew > options_.sdk_date_skew_ms)
    return ApiFail(ApiCode::kBadSignature,
                   "X-Sdk-Date: more than 15 minutes from server time");
  auto cred = store_.GetCredential(auth->access_key);
  if (!cred) {
    if (cred.error().code == core::ErrorCode::kNotFound)
      return ApiFail(ApiCode::kBadSignature, kBadSignature);
    return StoreFail(cred.error(), "");
  }
  SMS_ASSIGN_OR_RETURN(const std::string sk, OpenSecretKey(*cred));
  std::string want = SdkSignature(req, auth->signed_headers, sdk_date, sk);
  // Compare even for a revoked key, so timing does not tell revoked keys.
  bool match = ConstantTimeEquals(want, auth->signature);
  if (!match || cred->revoked_at)
    return ApiFail(ApiCode::kBadSignature, kBadSignature);
  if (auto body = CheckSignedBodyHash(req, auth->signed_headers); !body)
    return ApiFail(ApiCode::kBadSignature, body.error().message);
  if (!domain_header.empty() && domain_header != cred->domain_id)
    return ApiFail(ApiCode::kBadSignature,
                   "X-Domain-Id: does not match the credential's domain");
  if (!project_header.empty() && project_header != cred->domain_id)
    return ApiFail(ApiCode::kBadSignature,
                   "X-Project-Id: does not match the credential's tenant");
  if (once) {
    // Held until the date leaves the window, when the date check refuses
    // the request anyway.
    auto fresh = store_.RememberSignature(
        cred->access_key + ":" + auth->signature,
        *when + options_.sdk_date_skew_ms + 1000, clock_.NowEpochMillis());
    if (!fresh) {
      if (fresh.error().code == core::ErrorCode::kAlreadyExists)
        return ApiFail(ApiCode::kBadSignature,
                       "this signed request was accepted once already "
                       "(a replay): sign each request anew");
      return StoreFail(fresh.error(), "");
    }
  }
  return LoadIdentity(cred->domain_id, cred->user_id, "aksk",
                      ApiCode::kBadSignature);
}

ApiStatus AuthService::RevokeToken(std::string_view token) {
  if (token.empty() || token.size() > 16384)
    return ApiFail(ApiCode::kBadToken, kBadToken);
  auto s = store_.RevokeToken(Sha256Hex(token), clock_.NowEpochMillis());
  if (!s) {
    if (s.error().code == core::ErrorCode::kNotFound)
      return ApiFail(ApiCode::kBadToken, kBadToken);
    return StoreFail(s.error(), "");
  }
  return {};
}

ApiResult<storage::Domain> AuthService::CreateDomain(const std::string& name) {
  if (name.empty() || name.size() > 64)
    return Malformed("domain name", "must be 1..64 bytes");
  storage::Domain d{NewUuid(), name, clock_.NowEpochMillis()};
  if (auto s = store_.CreateDomain(d); !s) {
    if (s.error().code == core::ErrorCode::kAlreadyExists)
      return ApiFail(ApiCode::kConflict, "domain " + name + " already exists");
    return StoreFail(s.error(), "");
  }
  return d;
}

ApiResult<CreatedUser> AuthService::CreateUser(const std::string& domain_name,
                                               const std::string& user_name,
                                               const std::string& role,
                                               const std::string& password) {
  if (user_name.empty() || user_name.size() > 64)
    return Malformed("user name", "must be 1..64 bytes");
  if (!storage::ParseRole(role))
    return Malformed("role", "must be one of admin, operator, viewer, agent");
  if (!password.empty() && password.size() < 8)
    return Malformed("password", "shorter than 8 bytes");
  auto domain = store_.GetDomainByName(domain_name);
  if (!domain) return StoreFail(domain.error(), "the domain does not exist");
  CreatedUser out;
  std::string pw = password;
  if (pw.empty()) {
    pw = Base64UrlEncode(RandomBytes(18));
    out.password = pw;
  }
  out.user = storage::User{NewUuid(),
                           domain->id,
                           user_name,
                           role,
                           HashPassword(pw, options_.pbkdf2_iterations),
                           clock_.NowEpochMillis()};
  if (auto s = store_.CreateUser(out.user); !s) {
    if (s.error().code == core::ErrorCode::kAlreadyExists)
      return ApiFail(ApiCode::kConflict,
                     "user " + user_name + " already exists");
    return StoreFail(s.error(), "");
  }
  return out;
}

ApiResult<CreatedCredential> AuthService::CreateCredential(
    const std::string& domain_name, const std::string& user_name) {
  auto domain = store_.GetDomainByName(domain_name);
  if (!domain) return StoreFail(domain.error(), "the domain does not exist");
  auto user = store_.GetUserByName(domain->id, user_name);
  if (!user) return StoreFail(user.error(), "the user does not exist");
  // AK: 20 upper-case base32-like characters, as the vendor's; SK: 40.
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string ak;
  for (unsigned char c : RandomBytes(20)) ak.push_back(kAlphabet[c % 32]);
  std::string sk = Base64UrlEncode(RandomBytes(30));
  const std::string stored =
      options_.secrets != nullptr ? options_.secrets->Seal(ak, sk) : sk;
  storage::Credential c{
      ak, domain->id, user->id, stored, clock_.NowEpochMillis(), std::nullopt};
  if (auto s = store_.CreateCredential(c); !s) return StoreFail(s.error(), "");
  return CreatedCredential{ak, sk};
}

ApiStatus AuthService::RevokeCredential(const std::string& access_key) {
  auto s = store_.RevokeCredential(access_key, clock_.NowEpochMillis());
  if (!s)
    return StoreFail(s.error(),
                     "the credential does not exist or is already revoked");
  return {};
}

}  // namespace sms::server
