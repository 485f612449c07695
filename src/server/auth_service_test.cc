// AuthService without HTTP or JSON: logins and their lockout, tokens
// (expiry, revocation), AK/SK signatures (dates, replays, revoked keys) and
// the admin operations, over a real SQLite store and a fake clock.
#include "server/auth_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "auth/sdk_signer.h"
#include "server/service_fixture.h"

namespace sms::server {
namespace {

using storage::Role;

class AuthServiceTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    AuthOptions options;
    options.pbkdf2_iterations = 1000;  // fast; the default is for servers
    auth_ = std::make_unique<AuthService>(*store_, clock_, options);
    ASSERT_THAT(auth_->CreateDomain("tenant"), ApiOk());
    ASSERT_THAT(
        auth_->CreateUser("tenant", "alice", "operator", "correct-horse"),
        ApiOk());
  }

  static LoginRequest Login(const std::string& password,
                            const std::string& remote = "10.0.0.1") {
    return LoginRequest{.user_name = "alice",
                        .password = password,
                        .domain_name = "tenant",
                        .domain_id = "",
                        .remote = remote};
  }

  // A signed GET /v3/tasks with `ak`/`sk`, dated `date_ms`.
  static SignableRequest Signed(const std::string& date,
                                std::string* authorization,
                                const CreatedCredential& cred) {
    SignableRequest req{"GET", "/v3/tasks", "", {{"X-Sdk-Date", date}}, ""};
    const std::string sig =
        auth::SdkSignature(req, {"x-sdk-date"}, date, cred.secret_key);
    *authorization = "SDK-HMAC-SHA256 Access=" + cred.access_key +
                     ", SignedHeaders=x-sdk-date, Signature=" + sig;
    return req;
  }

  std::unique_ptr<AuthService> auth_;
};

TEST_F(AuthServiceTest, ALoginIssuesATokenThatAuthenticates) {
  auto issued = auth_->Login(Login("correct-horse"));
  ASSERT_THAT(issued, ApiOk());
  EXPECT_EQ(issued->identity.user_name, "alice");
  EXPECT_EQ(issued->identity.role, Role::kOperator);
  EXPECT_EQ(issued->expires_at - issued->issued_at, 24LL * 3600 * 1000);
  auto who = auth_->AuthenticateToken(issued->token);
  ASSERT_THAT(who, ApiOk());
  EXPECT_EQ(who->user_id, issued->identity.user_id);
  EXPECT_EQ(who->method, "token");
  // Only the token's hash is stored.
  EXPECT_THAT(auth_->AuthenticateToken(issued->token + "x"),
              ApiFails(ApiCode::kBadToken, "invalid"));
}

TEST_F(AuthServiceTest, ATokenExpiresAndCanBeRevoked) {
  auto a = auth_->Login(Login("correct-horse"));
  auto b = auth_->Login(Login("correct-horse"));
  ASSERT_THAT(a, ApiOk());
  ASSERT_THAT(b, ApiOk());
  ASSERT_THAT(auth_->RevokeToken(a->token), ApiOk());
  EXPECT_THAT(auth_->AuthenticateToken(a->token),
              ApiFails(ApiCode::kBadToken, ""));
  EXPECT_THAT(auth_->AuthenticateToken(b->token), ApiOk());
  clock_.Advance(std::chrono::hours(24));
  EXPECT_THAT(auth_->AuthenticateToken(b->token),
              ApiFails(ApiCode::kBadToken, "expired"));
  EXPECT_THAT(auth_->RevokeToken("never-issued"),
              ApiFails(ApiCode::kBadToken, ""));
}

TEST_F(AuthServiceTest, RepeatedBadPasswordsLockTheUserOutForAWhile) {
  LoginRequest unknown = Login("whatever");
  unknown.user_name = "mallory";
  EXPECT_THAT(auth_->Login(unknown), ApiFails(ApiCode::kBadToken, "wrong"));
  for (int i = 0; i < 5; ++i) {
    EXPECT_THAT(auth_->Login(Login("wrong", "10.0.0." + std::to_string(i))),
                ApiFails(ApiCode::kBadToken, "wrong"));
  }
  // Locked out by (domain, user), whatever the address, even with the
  // right password.
  auto locked = auth_->Login(Login("correct-horse", "10.9.9.9"));
  ASSERT_THAT(locked, ApiFails(ApiCode::kTooManyRequests, "retry later"));
  EXPECT_GT(locked.error().retry_after_s, 0);
  EXPECT_LE(locked.error().retry_after_s, 15 * 60);
  clock_.Advance(std::chrono::minutes(15));
  EXPECT_THAT(auth_->Login(Login("correct-horse")), ApiOk());
}

TEST_F(AuthServiceTest, ASignatureIsCheckedForDateKeyAndReplay) {
  auto cred = auth_->CreateCredential("tenant", "alice");
  ASSERT_THAT(cred, ApiOk());
  const std::string now = auth::FormatSdkDate(clock_.NowEpochMillis());
  std::string authz;
  SignableRequest req = Signed(now, &authz, *cred);
  auto who = auth_->AuthenticateSignature(req, authz);
  ASSERT_THAT(who, ApiOk());
  EXPECT_EQ(who->method, "aksk");
  EXPECT_EQ(who->user_name, "alice");

  // Accepted once where the route asks for it; a replay is refused.
  ASSERT_THAT(auth_->AuthenticateSignature(req, authz, /*once=*/true), ApiOk());
  EXPECT_THAT(auth_->AuthenticateSignature(req, authz, /*once=*/true),
              ApiFails(ApiCode::kBadSignature, "a replay"));

  // Another body than the one signed.
  SignableRequest tampered = req;
  tampered.body = "{}";
  EXPECT_THAT(auth_->AuthenticateSignature(tampered, authz),
              ApiFails(ApiCode::kBadSignature, ""));

  // A date outside ±15 minutes.
  const std::string old =
      auth::FormatSdkDate(clock_.NowEpochMillis() - 16 * 60 * 1000);
  SignableRequest stale = Signed(old, &authz, *cred);
  EXPECT_THAT(auth_->AuthenticateSignature(stale, authz),
              ApiFails(ApiCode::kBadSignature, "15 minutes"));

  // A revoked key stops at once.
  ASSERT_THAT(auth_->RevokeCredential(cred->access_key), ApiOk());
  req = Signed(now, &authz, *cred);
  EXPECT_THAT(auth_->AuthenticateSignature(req, authz),
              ApiFails(ApiCode::kBadSignature, "does not match"));
}

TEST_F(AuthServiceTest, AdminOperationsNameWhatIsWrong) {
  EXPECT_THAT(auth_->CreateDomain("tenant"),
              ApiFails(ApiCode::kConflict, "already exists"));
  EXPECT_THAT(auth_->CreateUser("tenant", "bob", "root", ""),
              ApiFails(ApiCode::kMalformed, "role"));
  EXPECT_THAT(auth_->CreateUser("tenant", "bob", "viewer", "short"),
              ApiFails(ApiCode::kMalformed, "shorter than 8 bytes"));
  EXPECT_THAT(auth_->CreateUser("nowhere", "bob", "viewer", ""),
              ApiFails(ApiCode::kNotFound, "domain"));
  auto generated = auth_->CreateUser("tenant", "bob", "viewer", "");
  ASSERT_THAT(generated, ApiOk());
  EXPECT_GE(generated->password.size(), 20u);
  LoginRequest bob = Login(generated->password);
  bob.user_name = "bob";
  EXPECT_THAT(auth_->Login(bob), ApiOk());
  EXPECT_THAT(auth_->CreateCredential("tenant", "nobody"),
              ApiFails(ApiCode::kNotFound, "user"));
  EXPECT_THAT(auth_->RevokeCredential("NOSUCHKEY"),
              ApiFails(ApiCode::kNotFound, "credential"));
}

}  // namespace
}  // namespace sms::server
