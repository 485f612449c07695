#include "server/auth_service.h"

#include <algorithm>
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
      dummy_hash_(HashPassword("dummy", options.pbkdf2_iterations)),
      used_signatures_(store) {}

int64_t AuthService::BackoffMs(int64_t failures, int budget) const {
  if (failures < budget) return 0;
  const int64_t past = failures - budget;
  int64_t delay = options_.backoff_base_ms;
  for (int64_t n = 0; n < past && delay < options_.backoff_max_ms; ++n)
    delay *= 2;
  return std::min(delay, options_.backoff_max_ms);
}

ApiStatus AuthService::CheckThrottle(const storage::LoginFailureKey& key,
                                     int budget, int64_t now) {
  auto failures =
      store_.GetLoginFailures(key, now - options_.forget_failures_ms);
  if (!failures) return StoreFail(failures.error(), "");
  const int64_t until = failures->last_at + BackoffMs(failures->count, budget);
  if (failures->count < budget || until <= now) return {};
  const int64_t wait_s = (until - now + 999) / 1000;
  ApiError e{ApiCode::kTooManyRequests,
             std::string("Too many failed logins ") +
                 (key.user_name.empty() ? "from this address"
                                        : "for this user from this address") +
                 "; retry in " + std::to_string(wait_s) + " s (" +
                 (key.user_name.empty()
                      ? "the operator can clear it: sms-server admin "
                        "unlock-login)."
                      : "the domain's admin can clear it: DELETE "
                        "/v3/auth/login-failures, or sms-server admin "
                        "unlock-login)."),
             "login throttle " + key.domain_id + "/" + key.user_name + "@" +
                 key.address,
             static_cast<int>(wait_s)};
  return tl::unexpected(std::move(e));
}

ApiResult<IssuedToken> AuthService::Login(const LoginRequest& req) {
  const int64_t now = clock_.NowEpochMillis();
  std::string address =
      options_.trusted_proxies.ClientAddress(req.remote, req.forwarded_for);
  if (address.empty()) address = "unknown";
  auto domain = req.domain_id.empty() ? store_.GetDomainByName(req.domain_name)
                                      : store_.GetDomain(req.domain_id);
  if (!domain && domain.error().code != core::ErrorCode::kNotFound)
    return StoreFail(domain.error(), "");
  // One budget per domain however the login names it; an unknown domain's
  // by what was given (every guess there fails anyway).
  const std::string domain_key =
      domain ? domain->id
             : (req.domain_id.empty() ? "?name:" + req.domain_name
                                      : "?id:" + req.domain_id);
  const storage::LoginFailureKey user_key{domain_key, req.user_name, address};
  const storage::LoginFailureKey address_key{"", "", address};
  SMS_RETURN_IF_ERROR(
      CheckThrottle(user_key, options_.max_login_failures, now));
  SMS_RETURN_IF_ERROR(
      CheckThrottle(address_key, options_.max_address_failures, now));
  auto fail = [&]() -> ApiResult<IssuedToken> {
    const int64_t since = now - options_.forget_failures_ms;
    for (const auto* key : {&user_key, &address_key}) {
      if (auto n = store_.RecordLoginFailure(*key, now, since); !n)
        return StoreFail(n.error(), "");
    }
    return ApiFail(ApiCode::kBadToken, kBadLogin);
  };
  if (!domain) {
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
  // The user's budget from this address starts again; the address's does
  // not (an attacker's own account must not refill it). Best effort: the
  // token is issued either way, and the failures are forgotten in a day.
  (void)store_.ClearLoginFailures(user_key);
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

ApiResult<Identity> AuthService::AuthenticateToken(
    std::string_view token, std::string_view domain_header,
    std::string_view project_header) {
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
  if (!domain_header.empty() && domain_header != t->domain.id)
    return ApiFail(ApiCode::kBadToken,
                   "X-Domain-Id: does not match the token's domain");
  if (!project_header.empty() && project_header != t->domain.id)
    return ApiFail(ApiCode::kBadToken,
                   "X-Project-Id: does not match the token's tenant");
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
  std::string memo_key = cred.access_key + '\n' + cred.secret_key;
  {
    std::lock_guard lock(opened_mu_);
    if (auto it = opened_.find(memo_key); it != opened_.end())
      return it->second;
  }
  auto opened = options_.secrets->Open(cred.access_key, cred.secret_key);
  if (!opened) return tl::unexpected(misconfigured(opened.error().message));
  std::lock_guard lock(opened_mu_);
  if (opened_.size() >= kOpenedSecretKeys) opened_.clear();
  opened_.emplace(std::move(memo_key), *opened);
  return std::move(*opened);
}

namespace {

// The ledger's answer for a signature as the API's.
ApiStatus RecordedSignature(storage::Status fresh) {
  if (fresh) return {};
  if (fresh.error().code == core::ErrorCode::kAlreadyExists)
    return ApiFail(ApiCode::kBadSignature,
                   "this signed request was accepted once already "
                   "(a replay): sign each request anew");
  return StoreFail(fresh.error(), "");
}

}  // namespace

ApiResult<Identity> AuthService::AuthenticateSignature(
    const SignableRequest& req, std::string_view authorization, bool once) {
  SMS_ASSIGN_OR_RETURN(VerifiedSignature verified,
                       VerifySignature(req, authorization));
  if (once) {
    SMS_RETURN_IF_ERROR(RecordedSignature(used_signatures_.Use(
        verified.key, verified.expires_at, clock_.NowEpochMillis())));
  }
  return std::move(verified.who);
}

void AuthService::RecordSignatureAsync(const VerifiedSignature& verified,
                                       std::function<void(ApiStatus)> done) {
  used_signatures_.UseAsync(verified.key, verified.expires_at,
                            clock_.NowEpochMillis(),
                            [done = std::move(done)](storage::Status fresh) {
                              done(RecordedSignature(std::move(fresh)));
                            });
}

ApiResult<AuthService::VerifiedSignature> AuthService::VerifySignature(
    const SignableRequest& req, std::string_view authorization) {
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
  VerifiedSignature out;
  SMS_ASSIGN_OR_RETURN(out.who, LoadIdentity(cred->domain_id, cred->user_id,
                                             "aksk", ApiCode::kBadSignature));
  // Held until the date leaves the window, when the date check refuses the
  // request anyway.
  out.key = cred->access_key + ":" + auth->signature;
  out.expires_at = *when + options_.sdk_date_skew_ms + 1000;
  return out;
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
  if (!domain)
    return StoreFail(domain.error(),
                     "domain " + domain_name + " does not exist");
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
  if (!domain)
    return StoreFail(domain.error(),
                     "domain " + domain_name + " does not exist");
  auto user = store_.GetUserByName(domain->id, user_name);
  if (!user)
    return StoreFail(user.error(), "user " + user_name + " of domain " +
                                       domain_name + " does not exist");
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

ApiResult<int64_t> AuthService::UnlockLogin(const std::string& domain_name,
                                            const std::string& user_name,
                                            const std::string& address) {
  storage::LoginFailureKey key;
  if (!address.empty()) {
    auto canonical = CanonicalAddress(address);
    if (!canonical) return Malformed("address", "not an IPv4 or IPv6 address");
    key.address = *canonical;
  }
  if (!user_name.empty() || !domain_name.empty()) {
    if (user_name.empty() || domain_name.empty())
      return Malformed("user", "name both the domain and the user");
    auto domain = store_.GetDomainByName(domain_name);
    if (!domain)
      return StoreFail(domain.error(),
                       "domain " + domain_name + " does not exist");
    key.domain_id = domain->id;
    key.user_name = user_name;
  } else if (key.address.empty()) {
    return Malformed("unlock-login", "name a domain and user, or an address");
  }
  auto cleared = store_.ClearLoginFailures(key);
  if (!cleared) return StoreFail(cleared.error(), "");
  return *cleared;
}

ApiResult<int64_t> AuthService::ClearLoginLock(const Identity& who,
                                               const std::string& user_name,
                                               const std::string& address) {
  if (who.role != Role::kAdmin)
    return ApiFail(ApiCode::kForbidden,
                   "clearing a login lock needs the admin role"
                   " (sms:user:unlock)");
  storage::LoginFailureKey key;
  key.domain_id = who.domain_id;
  if (!address.empty()) {
    auto canonical = CanonicalAddress(address);
    if (!canonical) return Malformed("address", "not an IPv4 or IPv6 address");
    key.address = *canonical;
  }
  auto user = store_.GetUserByName(who.domain_id, user_name);
  if (!user) return StoreFail(user.error(), "user not found");
  key.user_name = user->name;
  auto cleared = store_.ClearLoginFailures(key);
  if (!cleared) return StoreFail(cleared.error(), "");
  return *cleared;
}

}  // namespace sms::server
