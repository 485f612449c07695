// AuthService: passwords, tokens and AK/SK signatures (spec/API.md §2), and
// the admin operations that create domains, users and credentials.
//
// Tokens are 256 random bits, handed out once and stored only as their
// SHA-256, so lookups are by hash and a database leak yields no usable
// token. Failed logins are rate-limited per (domain, user) and per client
// address. Secrets (passwords, tokens, SKs) are never logged or returned in
// errors.
// Thread-safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "auth/sdk_signer.h"
#include "auth/secret_box.h"
#include "core/clock.h"
#include "server/api_error.h"
#include "server/codec/auth_codec.h"
#include "server/identity.h"
#include "server/json_fields.h"
#include "storage/store.h"

namespace sms::server {

using auth::SignableRequest;

struct AuthOptions {
  // Token lifetime.
  int64_t token_ttl_ms = 24LL * 3600 * 1000;
  // Failed logins allowed per key within `failure_window_ms`.
  int max_login_failures = 5;
  int64_t failure_window_ms = 15LL * 60 * 1000;
  // Largest accepted distance between X-Sdk-Date and server time.
  int64_t sdk_date_skew_ms = 15LL * 60 * 1000;
  // PBKDF2 iterations for new password hashes.
  int pbkdf2_iterations = 210000;
  // Seals new SKs in the store and opens sealed ones (secret_box.h); null:
  // new SKs are stored in the clear. SKs stored in the clear (by an older
  // version, or without a key) are used as they are either way.
  const auth::SecretBox* secrets = nullptr;
};

struct CreatedUser {
  storage::User user;
  std::string password;  // generated one, empty if the caller chose it
};

struct CreatedCredential {
  std::string access_key;
  std::string secret_key;
};

class AuthService final {
 public:
  AuthService(storage::Store& store, core::Clock& clock, AuthOptions options);
  AuthService(const AuthService&) = delete;
  AuthService& operator=(const AuthService&) = delete;

  // Checks the password and issues a token (403 SMS.9002 on a wrong name or
  // password; 429 SMS.9010 when the key is locked out).
  [[nodiscard]] ApiResult<IssuedToken> Login(const LoginRequest& req);
  // Resolves X-Auth-Token (403 SMS.9002 if unknown, expired or revoked).
  [[nodiscard]] ApiResult<Identity> AuthenticateToken(std::string_view token);
  // Verifies an SDK-HMAC-SHA256 request (403 SMS.9003 on any mismatch,
  // including a body other than the one signed). `once`: the request changes
  // state in a way a replay could repeat harmfully, so its signature is
  // accepted once within the X-Sdk-Date window (403 SMS.9003 on a replay).
  [[nodiscard]] ApiResult<Identity> AuthenticateSignature(
      const SignableRequest& req, std::string_view authorization,
      bool once = false);
  // Revokes a token at once.
  [[nodiscard]] ApiStatus RevokeToken(std::string_view token);

  // --- admin ---
  [[nodiscard]] ApiResult<storage::Domain> CreateDomain(
      const std::string& name);
  // An empty password generates one (returned once in CreatedUser).
  [[nodiscard]] ApiResult<CreatedUser> CreateUser(
      const std::string& domain_name, const std::string& user_name,
      const std::string& role, const std::string& password);
  [[nodiscard]] ApiResult<CreatedCredential> CreateCredential(
      const std::string& domain_name, const std::string& user_name);
  [[nodiscard]] ApiStatus RevokeCredential(const std::string& access_key);

 private:
  // Returns 429 if `key` has too many recent failures.
  ApiStatus CheckLockout(const std::string& key, int64_t now);
  void RecordFailure(const std::string& key, int64_t now);
  // The credential's SK, opened when stored sealed (AuthOptions::secrets);
  // a 500 when it cannot be opened.
  ApiResult<std::string> OpenSecretKey(const storage::Credential& cred) const;
  ApiResult<Identity> LoadIdentity(const std::string& domain_id,
                                   const std::string& user_id,
                                   std::string method, ApiCode fail_code);

  storage::Store& store_;
  core::Clock& clock_;
  const AuthOptions options_;
  // A hash checked when the user does not exist, so a missing user costs
  // the same time as a wrong password.
  const std::string dummy_hash_;

  std::mutex mu_;
  // Guarded by mu_: failure times per rate-limit key.
  std::map<std::string, std::deque<int64_t>> failures_;
};

}  // namespace sms::server
