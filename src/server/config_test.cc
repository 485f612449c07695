#include "server/config.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "testing/matchers.h"
#include "testing/temp_dir.h"

namespace sms::server {
namespace {

using core::ErrorCode;
using ::sms::testing::HasCode;
using ::sms::testing::IsOk;

// An environment of its own for each test.
struct FakeEnv {
  std::map<std::string, std::string> vars;
  std::function<const char*(const char*)> Reader() {
    return [this](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

std::string WriteConfig(const ::sms::testing::TempDir& dir,
                        const std::string& json) {
  std::string path = dir.Join("sms.json");
  ::sms::testing::WriteFile(path, json);
  return path;
}

TEST(ConfigTest, DefaultsWithoutAnySource) {
  FakeEnv env;
  auto c = LoadServerConfig({.env = env.Reader()});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->listen, "127.0.0.1:8080");
  EXPECT_EQ(c->db, "sqlite:./var/sms.db");
  EXPECT_EQ(c->db_pool_size, 16);
  EXPECT_EQ(c->pbkdf2_iterations, 210000);
  EXPECT_TRUE(c->public_metrics);
}

TEST(ConfigTest, TrustedProxiesFromTheFileOrTheEnvironmentAreChecked) {
  FakeEnv none;
  EXPECT_TRUE(
      LoadServerConfig({.env = none.Reader()})->trusted_proxies.empty());
  ::sms::testing::TempDir dir;
  const std::string file =
      WriteConfig(dir, R"({"trusted_proxies":["127.0.0.1","10.0.0.0/8"]})");
  auto c = LoadServerConfig({.file = file, .env = none.Reader()});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->trusted_proxies,
            (std::vector<std::string>{"127.0.0.1", "10.0.0.0/8"}));
  FakeEnv env;
  env.vars = {{"SMS_TRUSTED_PROXIES", "::1, 192.168.0.0/16"}};
  c = LoadServerConfig({.file = file, .env = env.Reader()});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->trusted_proxies,
            (std::vector<std::string>{"::1", " 192.168.0.0/16"}));
  env.vars = {{"SMS_TRUSTED_PROXIES", "127.0.0.1,nginx.local"}};
  c = LoadServerConfig({.env = env.Reader()});
  ASSERT_THAT(c, HasCode(ErrorCode::kInvalidArgument));
  EXPECT_NE(c.error().message.find("\"nginx.local\""), std::string::npos)
      << c.error().message;
  const std::string bad = WriteConfig(dir, R"({"trusted_proxies":"10.0.0.1"})");
  c = LoadServerConfig({.file = bad, .env = none.Reader()});
  ASSERT_THAT(c, HasCode(ErrorCode::kInvalidArgument));
  EXPECT_NE(c.error().message.find("trusted_proxies: expected an array"),
            std::string::npos)
      << c.error().message;
}

TEST(ConfigTest, FileBelowEnvironmentBelowFlags) {
  ::sms::testing::TempDir dir;
  const std::string file = WriteConfig(
      dir, R"({"listen":"0.0.0.0:1","db":"sqlite:/f.db","tls_cert":"f.pem",
              "io_threads":3,"db_pool_size":5,"pbkdf2_iterations":1000,
              "public_metrics":false,"token_ttl_hours":2})");
  FakeEnv env;
  env.vars = {{"SMS_LISTEN", "0.0.0.0:2"},
              {"SMS_DB", "sqlite:/env.db"},
              {"SMS_DB_POOL_SIZE", "7"}};
  ConfigSources sources{.file = file, .env = env.Reader()};
  sources.flags.db = "sqlite:/flag.db";
  auto c = LoadServerConfig(sources);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->listen, "0.0.0.0:2");      // env over file
  EXPECT_EQ(c->db, "sqlite:/flag.db");    // flag over env
  EXPECT_EQ(c->db_pool_size, 7);          // env over file
  EXPECT_EQ(c->pbkdf2_iterations, 1000);  // file (no env)
  EXPECT_EQ(c->tls_cert, "f.pem");        // file only
  EXPECT_EQ(c->io_threads, 3);
  EXPECT_EQ(c->token_ttl_hours, 2);
  EXPECT_FALSE(c->public_metrics);
}

// "0" or an empty SMS_DB_POOL_SIZE keeps the file's or the default size
// (a unit's `SMS_DB_POOL_SIZE=`); anything else is checked.
TEST(ConfigTest, AZeroOrEmptyPoolSizeInTheEnvironmentKeepsTheDefault) {
  FakeEnv env;
  for (const char* keep : {"0", ""}) {
    env.vars = {{"SMS_DB_POOL_SIZE", keep}};
    auto c = LoadServerConfig({.env = env.Reader()});
    ASSERT_THAT(c, IsOk());
    EXPECT_EQ(c->db_pool_size, 16);
  }
}

// Each whole-number setting a user can set: a bad value (negative, zero
// where zero means nothing, huge, not a number) stops the server with the
// key or variable and the limits, where it used to be taken as it came
// (SMS_DB_POOL_SIZE=-1 or abc: silently 16; 99999: 99999 connections;
// SMS_PBKDF2_ITERATIONS=abc: 0 iterations, passwords no login verifies;
// io_threads 100000: the server died making threads).
TEST(ConfigTest, EveryNumberIsCheckedAgainstItsLimits) {
  ::sms::testing::TempDir dir;
  FakeEnv none;
  auto env_message = [&](const char* name, const char* value) {
    FakeEnv env;
    env.vars = {{name, value}};
    auto c = LoadServerConfig({.env = env.Reader()});
    return c ? std::string("accepted") : c.error().message;
  };
  EXPECT_EQ(env_message("SMS_DB_POOL_SIZE", "-1"),
            "SMS_DB_POOL_SIZE: -1: expected 1..1000");
  EXPECT_EQ(env_message("SMS_DB_POOL_SIZE", "abc"),
            "SMS_DB_POOL_SIZE: \"abc\": expected a whole number 1..1000");
  EXPECT_EQ(env_message("SMS_DB_POOL_SIZE", "1001"),
            "SMS_DB_POOL_SIZE: 1001: expected 1..1000");
  EXPECT_EQ(env_message("SMS_DB_POOL_SIZE", "99999999999999999999"),
            "SMS_DB_POOL_SIZE: 99999999999999999999: expected 1..1000");
  EXPECT_EQ(env_message("SMS_PBKDF2_ITERATIONS", "abc"),
            "SMS_PBKDF2_ITERATIONS: \"abc\": expected a whole number "
            "1000..10000000");
  EXPECT_EQ(env_message("SMS_PBKDF2_ITERATIONS", "0"),
            "SMS_PBKDF2_ITERATIONS: 0: expected 1000..10000000");
  EXPECT_EQ(env_message("SMS_PBKDF2_ITERATIONS", "1000"), "accepted");
  auto file_message = [&](const std::string& json) {
    const std::string file = WriteConfig(dir, json);
    auto c = LoadServerConfig({.file = file, .env = none.Reader()});
    return c ? std::string("accepted")
             : c.error().message.substr(file.size() + 2);
  };
  EXPECT_EQ(file_message(R"({"db_pool_size":0})"),
            "db_pool_size: 0: expected 1..1000");
  EXPECT_EQ(file_message(R"({"pbkdf2_iterations":-5})"),
            "pbkdf2_iterations: -5: expected 1000..10000000");
  EXPECT_EQ(file_message(R"({"token_ttl_hours":0})"),
            "token_ttl_hours: 0: expected 1..8760 h");
  EXPECT_EQ(file_message(R"({"token_ttl_hours":9223372036854775807})"),
            "token_ttl_hours: 9223372036854775807: expected 1..8760 h");
  EXPECT_EQ(file_message(R"({"io_threads":-1})"),
            "io_threads: -1: expected 0..256");
  EXPECT_EQ(file_message(R"({"io_threads":100000})"),
            "io_threads: 100000: expected 0..256");
  EXPECT_EQ(file_message(R"({"io_threads":0,"token_ttl_hours":8760})"),
            "accepted");
  ConfigSources flags{.env = none.Reader()};
  flags.flags.io_threads = 257;
  auto c = LoadServerConfig(flags);
  ASSERT_THAT(c, HasCode(ErrorCode::kInvalidArgument));
  EXPECT_EQ(c.error().message, "--io-threads: 257: expected 0..256");
}

// The listen address is checked when the configuration is read, before
// the database is opened: "127.0.0.1:abc" used to listen on a free port.
TEST(ConfigTest, TheListenAddressIsCheckedWithItsSources) {
  FakeEnv env;
  for (const char* bad : {"nonsense", "127.0.0.1:abc", "127.0.0.1:65536",
                          "127.0.0.1:-1", "127.0.0.1:", ":8080"}) {
    env.vars = {{"SMS_LISTEN", bad}};
    auto c = LoadServerConfig({.env = env.Reader()});
    ASSERT_THAT(c, HasCode(ErrorCode::kInvalidArgument)) << bad;
    EXPECT_NE(c.error().message.find("listen (--listen, SMS_LISTEN or "
                                     "\"listen\"): \"" +
                                     std::string(bad) + "\""),
              std::string::npos)
        << c.error().message;
  }
  auto v6 = ParseListenAddress("[::1]:0");
  ASSERT_THAT(v6, IsOk());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  auto v4 = ParseListenAddress("0.0.0.0:8443");
  ASSERT_THAT(v4, IsOk());
  EXPECT_EQ(v4->host, "0.0.0.0");
  EXPECT_EQ(v4->port, 8443);
}

TEST(ConfigTest, BadFilesNameTheFileAndTheKey) {
  ::sms::testing::TempDir dir;
  FakeEnv env;
  auto unknown = LoadServerConfig(
      {.file = WriteConfig(dir, R"({"lisen":"x"})"), .env = env.Reader()});
  ASSERT_THAT(unknown, HasCode(ErrorCode::kInvalidArgument));
  EXPECT_NE(unknown.error().message.find("unknown key \"lisen\""),
            std::string::npos);
  auto type = LoadServerConfig(
      {.file = WriteConfig(dir, R"({"io_threads":"4"})"), .env = env.Reader()});
  ASSERT_THAT(type, HasCode(ErrorCode::kInvalidArgument));
  EXPECT_NE(type.error().message.find("io_threads: expected an integer"),
            std::string::npos);
  auto range = LoadServerConfig(
      {.file = WriteConfig(dir, R"({"db_pool_size":0})"), .env = env.Reader()});
  EXPECT_THAT(range, HasCode(ErrorCode::kInvalidArgument));
  EXPECT_THAT(
      LoadServerConfig({.file = dir.Join("missing.json"), .env = env.Reader()}),
      HasCode(ErrorCode::kNotFound));
}

// Issue 13's settings (server/hooks.h), once read from the environment in
// hooks.cc: now in the config file too, with the same precedence.
TEST(ConfigTest, WebhookAllowAndRetentionFromTheFileAndTheEnvironment) {
  ::sms::testing::TempDir dir;
  const std::string file =
      WriteConfig(dir, R"({"webhook_allow":["10.0.0.0/8","*.corp.example"],
              "consistency_retention":"runs=10"})");
  FakeEnv env;
  auto from_file = LoadServerConfig({.file = file, .env = env.Reader()});
  ASSERT_THAT(from_file, IsOk());
  EXPECT_EQ(from_file->webhook_allow,
            (std::vector<std::string>{"10.0.0.0/8", "*.corp.example"}));
  EXPECT_EQ(from_file->consistency_retention, "runs=10");
  EXPECT_FALSE(from_file->test_webhook_fast);

  env.vars = {{"SMS_WEBHOOK_ALLOW", "hooks.example, 192.168.0.0/16"},
              {"SMS_CONSISTENCY_RETENTION", "runs=3,days=7"},
              {"SMS_TEST_WEBHOOK_FAST", "1"}};
  auto from_env = LoadServerConfig({.file = file, .env = env.Reader()});
  ASSERT_THAT(from_env, IsOk());
  EXPECT_EQ(from_env->webhook_allow,
            (std::vector<std::string>{"hooks.example", "192.168.0.0/16"}));
  EXPECT_EQ(from_env->consistency_retention, "runs=3,days=7");
  EXPECT_TRUE(from_env->test_webhook_fast);

  // A comma-separated string in the file, as in the variable.
  auto one_string = LoadServerConfig(
      {.file = WriteConfig(dir, R"({"webhook_allow":"a.example, b.example"})"),
       .env = FakeEnv().Reader()});
  ASSERT_THAT(one_string, IsOk());
  EXPECT_EQ(one_string->webhook_allow.size(), 2u);
}

TEST(ConfigTest, BadWebhookAllowOrRetentionNamesTheKeyOrVariable) {
  ::sms::testing::TempDir dir;
  FakeEnv env;
  auto bad_net = LoadServerConfig(
      {.file = WriteConfig(dir, R"({"webhook_allow":["10.0.0.0/99"]})"),
       .env = env.Reader()});
  ASSERT_THAT(bad_net, HasCode(ErrorCode::kInvalidArgument));
  EXPECT_NE(bad_net.error().message.find("sms.json: webhook_allow: "),
            std::string::npos)
      << bad_net.error().message;
  auto bad_type =
      LoadServerConfig({.file = WriteConfig(dir, R"({"webhook_allow":[1]})"),
                        .env = env.Reader()});
  EXPECT_THAT(bad_type, HasCode(ErrorCode::kInvalidArgument));
  auto bad_keep = LoadServerConfig(
      {.file = WriteConfig(dir, R"({"consistency_retention":"weeks=2"})"),
       .env = env.Reader()});
  ASSERT_THAT(bad_keep, HasCode(ErrorCode::kInvalidArgument));
  EXPECT_NE(bad_keep.error().message.find("consistency_retention: "),
            std::string::npos);

  env.vars = {{"SMS_WEBHOOK_ALLOW", "http://not-a-host/"}};
  auto bad_env = LoadServerConfig({.env = env.Reader()});
  ASSERT_THAT(bad_env, HasCode(ErrorCode::kInvalidArgument));
  EXPECT_EQ(bad_env.error().message.rfind("SMS_WEBHOOK_ALLOW: ", 0), 0u)
      << bad_env.error().message;
  env.vars = {{"SMS_CONSISTENCY_RETENTION", "runs=0"}};
  auto bad_env_keep = LoadServerConfig({.env = env.Reader()});
  ASSERT_THAT(bad_env_keep, HasCode(ErrorCode::kInvalidArgument));
  EXPECT_EQ(
      bad_env_keep.error().message.rfind("SMS_CONSISTENCY_RETENTION: ", 0), 0u)
      << bad_env_keep.error().message;
}

TEST(ConfigTest, TheHeartbeatWriteIntervalIsConfigurableAndChecked) {
  ::sms::testing::TempDir dir;
  FakeEnv env;
  auto c = LoadServerConfig({.env = env.Reader()});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->heartbeat_write_ms, 30000);  // the documented default
  const std::string file = WriteConfig(dir, R"({"heartbeat_write_ms":0})");
  c = LoadServerConfig({.file = file, .env = env.Reader()});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->heartbeat_write_ms, 0);
  env.vars = {{"SMS_HEARTBEAT_WRITE_MS", "1000"}};
  c = LoadServerConfig({.file = file, .env = env.Reader()});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->heartbeat_write_ms, 1000);  // env over file
  env.vars = {{"SMS_HEARTBEAT_WRITE_MS", "60000"}};
  c = LoadServerConfig({.env = env.Reader()});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message,
            "SMS_HEARTBEAT_WRITE_MS: 60000: expected 0..50000 ms");
}

TEST(ConfigTest, TheReadCacheBoundIsConfigurableAndChecked) {
  ::sms::testing::TempDir dir;
  FakeEnv env;
  auto c = LoadServerConfig({.env = env.Reader()});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->cache_fence_interval_ms, 100);  // the documented defaults
  EXPECT_EQ(c->cache_max_lag_ms, 500);

  const std::string file = WriteConfig(
      dir, R"({"cache_fence_interval_ms":50,"cache_max_lag_ms":2000})");
  env.vars = {{"SMS_CACHE_MAX_LAG_MS", "250"}};
  c = LoadServerConfig({.file = file, .env = env.Reader()});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->cache_fence_interval_ms, 50);  // file
  EXPECT_EQ(c->cache_max_lag_ms, 250);        // env over file

  auto message = [&](const std::string& json, FakeEnv& e) {
    auto r =
        LoadServerConfig({.file = WriteConfig(dir, json), .env = e.Reader()});
    EXPECT_THAT(r, HasCode(ErrorCode::kInvalidArgument)) << json;
    return r ? std::string() : r.error().message;
  };
  FakeEnv none;
  EXPECT_NE(message(R"({"cache_fence_interval_ms":5})", none)
                .find("cache_fence_interval_ms: 5: expected 10..2000 ms"),
            std::string::npos);
  EXPECT_NE(message(R"({"cache_max_lag_ms":10})", none)
                .find("cache_max_lag_ms: 10: expected 50..3600000 ms"),
            std::string::npos);
  // A lag a fence cannot beat would leave the cache never serving.
  EXPECT_NE(message(R"({"cache_fence_interval_ms":300})", none)
                .find("must be more than twice cache_fence_interval_ms "
                      "(SMS_CACHE_FENCE_INTERVAL_MS: 300)"),
            std::string::npos);
  // Set through the environment, the message names the variables too.
  FakeEnv lag;
  lag.vars = {{"SMS_CACHE_MAX_LAG_MS", "100"}};
  auto bound = LoadServerConfig({.env = lag.Reader()});
  ASSERT_FALSE(bound);
  EXPECT_EQ(bound.error().message,
            "cache_max_lag_ms (SMS_CACHE_MAX_LAG_MS): 100 must be more than "
            "twice cache_fence_interval_ms (SMS_CACHE_FENCE_INTERVAL_MS: "
            "100): a fence takes a round trip to come back");
  EXPECT_NE(message(R"({"cache_max_lag_ms":"1s"})", none)
                .find("cache_max_lag_ms: expected an integer"),
            std::string::npos);
  FakeEnv typo;
  typo.vars = {{"SMS_CACHE_FENCE_INTERVAL_MS", "100ms"}};
  EXPECT_NE(message("{}", typo)
                .find("SMS_CACHE_FENCE_INTERVAL_MS: \"100ms\": "
                      "expected a whole number 10..2000 ms"),
            std::string::npos);
}

// A value past int (or past int64) is refused naming the key or variable,
// the value as given and the limits: not wrapped or clamped into range.
TEST(ConfigTest, AHugeReadCacheBoundIsRefusedNotClamped) {
  ::sms::testing::TempDir dir;
  FakeEnv none;
  auto file_message = [&](const std::string& json) {
    auto r = LoadServerConfig(
        {.file = WriteConfig(dir, json), .env = none.Reader()});
    EXPECT_THAT(r, HasCode(ErrorCode::kInvalidArgument)) << json;
    return r ? std::string() : r.error().message;
  };
  const std::string file = dir.Join("sms.json");
  EXPECT_EQ(file_message(R"({"cache_max_lag_ms":4294967346})"),
            file + ": cache_max_lag_ms: 4294967346: expected 50..3600000 ms");
  EXPECT_EQ(file_message(R"({"cache_max_lag_ms":-4294967246})"),
            file + ": cache_max_lag_ms: -4294967246: expected 50..3600000 ms");
  EXPECT_EQ(
      file_message(R"({"cache_fence_interval_ms":2147483648})"),
      file + ": cache_fence_interval_ms: 2147483648: expected 10..2000 ms");

  auto env_message = [&](const char* name, const char* value) {
    FakeEnv env;
    env.vars = {{name, value}};
    auto r = LoadServerConfig({.env = env.Reader()});
    EXPECT_THAT(r, HasCode(ErrorCode::kInvalidArgument)) << value;
    return r ? std::string() : r.error().message;
  };
  // 2^32 + 500 would wrap to 500, the default, in an int.
  EXPECT_EQ(env_message("SMS_CACHE_MAX_LAG_MS", "4294967796"),
            "SMS_CACHE_MAX_LAG_MS: 4294967796: expected 50..3600000 ms");
  EXPECT_EQ(env_message("SMS_CACHE_MAX_LAG_MS", "99999999999999999999"),
            "SMS_CACHE_MAX_LAG_MS: 99999999999999999999: "
            "expected 50..3600000 ms");
  EXPECT_EQ(env_message("SMS_CACHE_FENCE_INTERVAL_MS", "4294967396"),
            "SMS_CACHE_FENCE_INTERVAL_MS: 4294967396: expected 10..2000 ms");
  EXPECT_EQ(env_message("SMS_CACHE_FENCE_INTERVAL_MS", "5"),
            "SMS_CACHE_FENCE_INTERVAL_MS: 5: expected 10..2000 ms");
  // The limits themselves are accepted.
  FakeEnv edge;
  edge.vars = {{"SMS_CACHE_FENCE_INTERVAL_MS", "2000"},
               {"SMS_CACHE_MAX_LAG_MS", "3600000"}};
  auto c = LoadServerConfig({.env = edge.Reader()});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->cache_fence_interval_ms, 2000);
  EXPECT_EQ(c->cache_max_lag_ms, 3600000);
}

}  // namespace
}  // namespace sms::server
