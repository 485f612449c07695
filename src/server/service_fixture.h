// Test support for the service unit tests (task, source, command, result,
// export): a real SQLite store in a scratch directory, a fake clock, one
// domain "d1" with a source registered by the agent user "agent-1", and
// matchers for ApiResult that print the API error when they fail. No HTTP,
// no JSON.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "server/api_error.h"
#include "server/identity.h"
#include "storage/sqlite/sqlite_store.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"

namespace sms::server {

// Matches an ApiResult or ApiStatus that holds a value.
MATCHER(ApiOk, "is OK") {
  if (arg.has_value()) return true;
  *result_listener << "failed with " << SmsCode(arg.error().code) << ": "
                   << arg.error().message;
  return false;
}

// Matches an ApiResult or ApiStatus that failed with `code` and a message
// containing `text`.
MATCHER_P2(ApiFails, code, text,
           std::string("fails with ") + std::string(SmsCode(code)) +
               " and a message containing \"" + std::string(text) + "\"") {
  if (arg.has_value()) {
    *result_listener << "is OK";
    return false;
  }
  *result_listener << "failed with " << SmsCode(arg.error().code) << ": "
                   << arg.error().message;
  return arg.error().code == code &&
         arg.error().message.find(text) != std::string::npos;
}

class ServiceTest : public ::testing::Test {
 protected:
  static constexpr char kSourceId[] = "5b6f1c9e-0d1a-4c2b-9f3e-7a8b9c0d1e2f";
  static constexpr char kAgentUser[] = "agent-1";

  void SetUp() override {
    auto s = storage::OpenSqliteStore(dir_.Join("sms.db"));
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    store_ = std::move(*s);
    ASSERT_TRUE(store_->CreateDomain({"d1", "acme", 1}));
    storage::Source src;
    src.id = kSourceId;
    src.domain_id = "d1";
    src.owner_user_id = kAgentUser;
    src.name = "web01";
    src.hostname = "web01";
    src.os_type = "LINUX";
    ASSERT_TRUE(store_->UpsertSource(src));
  }

  // A caller of `role` in `domain`; the agent is the source's owner.
  static Identity As(storage::Role role, const std::string& domain = "d1") {
    const std::string user =
        role == storage::Role::kAgent ? kAgentUser : "user-1";
    return Identity{domain, "acme", user, user, role, "token"};
  }

  ::sms::testing::TempDir dir_;
  ::sms::testing::FakeClock clock_;
  std::unique_ptr<storage::Store> store_;
};

}  // namespace sms::server
