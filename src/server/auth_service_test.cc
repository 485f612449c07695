// AuthService without HTTP or JSON: logins and their throttle, tokens
// (expiry, revocation), AK/SK signatures (dates, replays, revoked keys) and
// the admin operations, over a real SQLite store and a fake clock.
#include "server/auth_service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include "auth/sdk_signer.h"
#include "auth/secret_box.h"
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

// The admin commands print these: a typo in --domain or --user is named
// ("sms-server: the user does not exist" left the user guessing which).
TEST_F(AuthServiceTest, AnUnknownDomainOrUserIsNamed) {
  auto no_domain = auth_->CreateCredential("tenantt", "alice");
  ASSERT_FALSE(no_domain);
  EXPECT_EQ(no_domain.error().message, "domain tenantt does not exist");
  auto no_user = auth_->CreateCredential("tenant", "alicee");
  ASSERT_FALSE(no_user);
  EXPECT_EQ(no_user.error().message,
            "user alicee of domain tenant does not exist");
  auto create = auth_->CreateUser("nowhere", "bob", "viewer", "");
  ASSERT_FALSE(create);
  EXPECT_EQ(create.error().message, "domain nowhere does not exist");
  auto unlock = auth_->UnlockLogin("nowhere", "bob", "");
  ASSERT_FALSE(unlock);
  EXPECT_EQ(unlock.error().message, "domain nowhere does not exist");
}

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

TEST_F(AuthServiceTest, ATokenWithAnotherDomainsXDomainIdIsRefused) {
  ASSERT_THAT(auth_->CreateDomain("other"), ApiOk());
  auto other = store_->GetDomainByName("other");
  ASSERT_TRUE(other);
  auto issued = auth_->Login(Login("correct-horse"));
  ASSERT_THAT(issued, ApiOk());
  const std::string own = issued->identity.domain_id;
  EXPECT_THAT(auth_->AuthenticateToken(issued->token, own), ApiOk());
  EXPECT_THAT(auth_->AuthenticateToken(issued->token, own, own), ApiOk());
  EXPECT_THAT(auth_->AuthenticateToken(issued->token, other->id),
              ApiFails(ApiCode::kBadToken, "X-Domain-Id"));
  EXPECT_THAT(auth_->AuthenticateToken(issued->token, "", other->id),
              ApiFails(ApiCode::kBadToken, "X-Project-Id"));
}

TEST_F(AuthServiceTest, RepeatedBadPasswordsBackOffExponentially) {
  LoginRequest unknown = Login("whatever");
  unknown.user_name = "mallory";
  EXPECT_THAT(auth_->Login(unknown), ApiFails(ApiCode::kBadToken, "wrong"));
  for (int i = 0; i < 5; ++i)
    EXPECT_THAT(auth_->Login(Login("wrong")),
                ApiFails(ApiCode::kBadToken, "wrong"));
  // Locked from this address, even with the right password: 30 s, then
  // each further failure doubles it, up to 15 minutes.
  auto locked = auth_->Login(Login("correct-horse"));
  ASSERT_THAT(locked, ApiFails(ApiCode::kTooManyRequests, "retry in 30 s"));
  EXPECT_EQ(locked.error().retry_after_s, 30);
  int64_t expected_s = 30;
  for (int round = 0; round < 8; ++round) {
    clock_.Advance(std::chrono::seconds(expected_s));
    EXPECT_THAT(auth_->Login(Login("wrong")),
                ApiFails(ApiCode::kBadToken, "wrong"));
    expected_s = std::min<int64_t>(expected_s * 2, 15 * 60);
    auto again = auth_->Login(Login("correct-horse"));
    ASSERT_THAT(again, ApiFails(ApiCode::kTooManyRequests, ""));
    EXPECT_EQ(again.error().retry_after_s, expected_s) << round;
  }
  clock_.Advance(std::chrono::seconds(expected_s));
  EXPECT_THAT(auth_->Login(Login("correct-horse")), ApiOk());
  // The success starts the budget again: five more tries before a lock.
  for (int i = 0; i < 4; ++i)
    EXPECT_THAT(auth_->Login(Login("wrong")),
                ApiFails(ApiCode::kBadToken, "wrong"));
  EXPECT_THAT(auth_->Login(Login("correct-horse")), ApiOk());
}

// Issue 11.4: behind one proxy address, one attacker must not block every
// other user's login.
TEST_F(AuthServiceTest, AnotherUsersCorrectPasswordFromTheSameAddressLogsIn) {
  ASSERT_THAT(auth_->CreateUser("tenant", "bob", "viewer", "bobs-password"),
              ApiOk());
  for (int i = 0; i < 10; ++i) (void)auth_->Login(Login("wrong", "10.0.0.1"));
  EXPECT_THAT(auth_->Login(Login("correct-horse", "10.0.0.1")),
              ApiFails(ApiCode::kTooManyRequests, "for this user"));
  LoginRequest bob = Login("bobs-password", "10.0.0.1");
  bob.user_name = "bob";
  EXPECT_THAT(auth_->Login(bob), ApiOk());
}

TEST_F(AuthServiceTest, OneClientCannotLockAUserOutFromEveryAddress) {
  for (int i = 0; i < 20; ++i)
    (void)auth_->Login(Login("wrong", "198.51.100.66"));
  EXPECT_THAT(auth_->Login(Login("correct-horse", "198.51.100.66")),
              ApiFails(ApiCode::kTooManyRequests, ""));
  EXPECT_THAT(auth_->Login(Login("correct-horse", "10.0.0.1")), ApiOk());
}

TEST_F(AuthServiceTest, NamingTheDomainByIdOrNameSharesOneBudget) {
  auto domain = store_->GetDomainByName("tenant");
  ASSERT_TRUE(domain);
  LoginRequest by_id = Login("wrong");
  by_id.domain_name.clear();
  by_id.domain_id = domain->id;
  for (int i = 0; i < 3; ++i)
    EXPECT_THAT(auth_->Login(Login("wrong")),
                ApiFails(ApiCode::kBadToken, "wrong"));
  for (int i = 0; i < 2; ++i)
    EXPECT_THAT(auth_->Login(by_id), ApiFails(ApiCode::kBadToken, "wrong"));
  by_id.password = "correct-horse";
  EXPECT_THAT(auth_->Login(by_id), ApiFails(ApiCode::kTooManyRequests, ""));
  EXPECT_THAT(auth_->Login(Login("correct-horse")),
              ApiFails(ApiCode::kTooManyRequests, ""));
}

TEST_F(AuthServiceTest, OneAddressSprayingManyUsersIsThrottledAlone) {
  // 50 failures from one address over many user names: that address waits,
  // any other address does not.
  for (int i = 0; i < 50; ++i) {
    LoginRequest spray = Login("wrong", "203.0.113.9");
    spray.user_name = "user" + std::to_string(i);
    EXPECT_THAT(auth_->Login(spray), ApiFails(ApiCode::kBadToken, "wrong"));
  }
  EXPECT_THAT(auth_->Login(Login("correct-horse", "203.0.113.9")),
              ApiFails(ApiCode::kTooManyRequests, "from this address"));
  EXPECT_THAT(auth_->Login(Login("correct-horse", "203.0.113.10")), ApiOk());
  // The attacker's own correct login does not refill the address's budget.
  clock_.Advance(std::chrono::seconds(30));
  EXPECT_THAT(auth_->Login(Login("correct-horse", "203.0.113.9")), ApiOk());
  EXPECT_THAT(auth_->Login(Login("wrong", "203.0.113.9")),
              ApiFails(ApiCode::kBadToken, "wrong"));
  EXPECT_THAT(auth_->Login(Login("correct-horse", "203.0.113.9")),
              ApiFails(ApiCode::kTooManyRequests, "from this address"));
}

TEST_F(AuthServiceTest, ALockedOutUserKeepsTokensAndKeysAndAnAdminCanClear) {
  auto token = auth_->Login(Login("correct-horse"));
  ASSERT_THAT(token, ApiOk());
  auto cred = auth_->CreateCredential("tenant", "alice");
  ASSERT_THAT(cred, ApiOk());
  for (int i = 0; i < 12; ++i) (void)auth_->Login(Login("wrong"));
  ASSERT_THAT(auth_->Login(Login("correct-horse")),
              ApiFails(ApiCode::kTooManyRequests, ""));
  EXPECT_THAT(auth_->AuthenticateToken(token->token), ApiOk());
  std::string authz;
  SignableRequest req =
      Signed(auth::FormatSdkDate(clock_.NowEpochMillis()), &authz, *cred);
  EXPECT_THAT(auth_->AuthenticateSignature(req, authz), ApiOk());

  EXPECT_THAT(auth_->UnlockLogin("tenant", "", ""),
              ApiFails(ApiCode::kMalformed, "user"));
  EXPECT_THAT(auth_->UnlockLogin("", "", "not-an-ip"),
              ApiFails(ApiCode::kMalformed, "address"));
  EXPECT_THAT(auth_->UnlockLogin("nowhere", "alice", ""),
              ApiFails(ApiCode::kNotFound, "domain"));
  auto cleared = auth_->UnlockLogin("tenant", "alice", "");
  ASSERT_THAT(cleared, ApiOk());
  EXPECT_EQ(*cleared, 1);
  EXPECT_THAT(auth_->Login(Login("correct-horse")), ApiOk());
}

TEST_F(AuthServiceTest, ForwardedForCountsOnlyFromATrustedProxy) {
  AuthOptions options;
  options.pbkdf2_iterations = 1000;
  auto proxies = TrustedProxies::Parse({"127.0.0.1"});
  ASSERT_TRUE(proxies);
  options.trusted_proxies = *proxies;
  AuthService behind_proxy(*store_, clock_, options);
  auto via = [](const std::string& peer, const std::string& forwarded,
                const std::string& password) {
    LoginRequest r = Login(password, peer);
    r.forwarded_for = {forwarded};
    return r;
  };
  // Through the trusted proxy, each client has its own budget.
  for (int i = 0; i < 5; ++i)
    (void)behind_proxy.Login(via("127.0.0.1", "203.0.113.1", "wrong"));
  EXPECT_THAT(
      behind_proxy.Login(via("127.0.0.1", "203.0.113.1", "correct-horse")),
      ApiFails(ApiCode::kTooManyRequests, ""));
  EXPECT_THAT(
      behind_proxy.Login(via("127.0.0.1", "203.0.113.2", "correct-horse")),
      ApiOk());
  // From any other peer the header is the client's own word: ignored, so
  // changing it does not escape a lock.
  for (int i = 0; i < 5; ++i)
    (void)behind_proxy.Login(
        via("198.51.100.7", "192.0.2." + std::to_string(i), "wrong"));
  EXPECT_THAT(
      behind_proxy.Login(via("198.51.100.7", "192.0.2.99", "correct-horse")),
      ApiFails(ApiCode::kTooManyRequests, ""));
  // With no proxy configured (the default), the peer is the client.
  for (int i = 0; i < 5; ++i)
    (void)auth_->Login(
        via("127.0.0.2", "192.0.2." + std::to_string(i), "wrong"));
  EXPECT_THAT(auth_->Login(via("127.0.0.2", "192.0.2.50", "correct-horse")),
              ApiFails(ApiCode::kTooManyRequests, ""));
}

TEST_F(AuthServiceTest, FailuresAreForgottenAfterADayWithoutOne) {
  for (int i = 0; i < 4; ++i) (void)auth_->Login(Login("wrong"));
  clock_.Advance(std::chrono::hours(24) + std::chrono::seconds(1));
  for (int i = 0; i < 4; ++i) (void)auth_->Login(Login("wrong"));
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

// SKs sealed at rest are opened once and remembered by their sealed form:
// later requests verify the same way, a revoked key still stops at once,
// and a sealed SK copied onto another access key's row still does not
// open (the memo is keyed by both).
TEST_F(AuthServiceTest, ASealedSecretKeyIsOpenedOnceAndStillChecked) {
  auth::SecretBox box(std::string(32, 'k'));
  AuthOptions options;
  options.pbkdf2_iterations = 1000;
  options.secrets = &box;
  AuthService sealed(*store_, clock_, options);
  auto cred = sealed.CreateCredential("tenant", "alice");
  ASSERT_THAT(cred, ApiOk());
  auto stored = store_->GetCredential(cred->access_key);
  ASSERT_TRUE(stored);
  ASSERT_TRUE(auth::SecretBox::IsSealed(stored->secret_key));
  const std::string now = auth::FormatSdkDate(clock_.NowEpochMillis());
  std::string authz;
  SignableRequest req = Signed(now, &authz, *cred);
  for (int i = 0; i < 3; ++i)
    EXPECT_THAT(sealed.AuthenticateSignature(req, authz), ApiOk()) << i;

  // The same sealed text on another access key's row: refused (500, the
  // server cannot open it), not served from what the first key opened.
  storage::Credential copy = *stored;
  copy.access_key = "COPIEDACCESSKEY00000";
  ASSERT_TRUE(store_->CreateCredential(copy));
  CreatedCredential forged{copy.access_key, cred->secret_key};
  SignableRequest other = Signed(now, &authz, forged);
  EXPECT_THAT(sealed.AuthenticateSignature(other, authz),
              ApiFails(ApiCode::kInternal, ""));

  ASSERT_THAT(sealed.RevokeCredential(cred->access_key), ApiOk());
  req = Signed(now, &authz, *cred);
  EXPECT_THAT(sealed.AuthenticateSignature(req, authz),
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
