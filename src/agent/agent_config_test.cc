#include "agent/agent_config.h"

#include <gtest/gtest.h>

namespace sms::agent {
namespace {

TEST(AgentConfigTest, FileThenEnvironmentThenFlags) {
  AgentConfig c;
  auto file = ParseConfigText(
      "# the agent\nserver = https://sms.example.com/\nak = FILEAK\n"
      "sk = \"file secret\"\npoll_interval = 2.5\nname = web01\n",
      "/etc/sms-agent/agent.conf");
  ASSERT_TRUE(file) << file.error().ToString();
  ASSERT_TRUE(ApplyConfig(*file, "file", c));
  char env1[] = "SMS_AGENT_AK=ENVAK";
  char env2[] = "PATH=/bin";
  char* env[] = {env1, env2, nullptr};
  ASSERT_TRUE(ApplyConfig(ConfigFromEnvironment(env), "environment", c));
  ASSERT_TRUE(ApplyConfig({{"name", "flagname"}}, "command line", c));
  EXPECT_EQ(c.server, "https://sms.example.com");
  EXPECT_EQ(c.ak, "ENVAK");
  EXPECT_EQ(c.sk, "file secret");
  EXPECT_EQ(c.poll_interval, 2.5);
  EXPECT_EQ(c.name, "flagname");
  EXPECT_TRUE(ValidateConfig(c));
}

TEST(AgentConfigTest, UnknownKeysAreRejectedWithTheirPlace) {
  auto r = ParseConfigText("server = http://x\nsevrer = http://y\n", "a.conf");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "a.conf:2: unknown key 'sevrer'");
  auto bad_line = ParseConfigText("just words\n", "b.conf");
  ASSERT_FALSE(bad_line);
  EXPECT_NE(bad_line.error().message.find("b.conf:1"), std::string::npos);

  char env1[] = "SMS_AGENT_SERVR=http://x";
  char* env[] = {env1, nullptr};
  AgentConfig c;
  auto applied = ApplyConfig(ConfigFromEnvironment(env), "environment", c);
  ASSERT_FALSE(applied);
  EXPECT_NE(applied.error().message.find("unknown key 'servr'"),
            std::string::npos);
}

// SMS_AGENT_IO_URING=0 switches io_uring off where files are read; it is no
// configuration key and must not stop `run` or `verify --server`.
TEST(AgentConfigTest, EnvironmentOnlyVariablesAreNotConfigKeys) {
  char env1[] = "SMS_AGENT_IO_URING=0";
  char env2[] = "SMS_AGENT_PUSH_AGENT=on";
  char* env[] = {env1, env2, nullptr};
  AgentConfig c;
  auto values = ConfigFromEnvironment(env);
  EXPECT_EQ(values.count("io-uring"), 0u);
  ASSERT_TRUE(ApplyConfig(values, "environment", c));
  EXPECT_TRUE(c.push_agent);
}

TEST(AgentConfigTest, PushAgentSettings) {
  auto r = ParseConfigText(
      "push_agent = off\nstatic-agent = /opt/a\nremote-tmp = /var/tmp\n"
      "spill-dir = /srv/sort\n",
      "a.conf");
  ASSERT_TRUE(r);
  AgentConfig c;
  c.push_agent = true;
  ASSERT_TRUE(ApplyConfig(*r, "a.conf", c));
  EXPECT_FALSE(c.push_agent);
  EXPECT_EQ(c.static_agent, "/opt/a");
  EXPECT_EQ(c.remote_tmp, "/var/tmp");
  EXPECT_EQ(c.spill_dir, "/srv/sort");
  auto bad = ApplyConfig({{"push-agent", "maybe"}}, "a.conf", c);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("a.conf: push-agent must be on or off"),
            std::string::npos);
}

TEST(AgentConfigTest, ValidationNamesWhatIsWrong) {
  AgentConfig c;
  EXPECT_NE(ValidateConfig(c).error().message.find("server is required"),
            std::string::npos);
  c.server = "ftp://x";
  EXPECT_NE(ValidateConfig(c).error().message.find("http:// or https://"),
            std::string::npos);
  c.server = "http://x";
  EXPECT_FALSE(ValidateConfig(c));  // no credentials
  c.ak = "A";
  EXPECT_NE(ValidateConfig(c).error().message.find("together"),
            std::string::npos);
  c.sk = "S";
  c.token = "T";
  EXPECT_FALSE(ValidateConfig(c));  // both kinds
  c.token.clear();
  EXPECT_TRUE(ValidateConfig(c));
  AgentConfig d;
  EXPECT_FALSE(ApplyConfig({{"poll-interval", "0"}}, "flags", d));
  EXPECT_FALSE(ApplyConfig({{"poll-interval", "fast"}}, "flags", d));
}

// The hash cache's settings: a bad value names the key and the limits.
TEST(AgentConfigTest, CacheSettingsNameTheirLimits) {
  AgentConfig d;
  ASSERT_TRUE(ApplyConfig({{"cache-max-age", "36500d"}}, "f", d));
  EXPECT_EQ(d.cache_max_age_s, int64_t{36500} * 86400);
  ASSERT_TRUE(ApplyConfig({{"cache-max-age", "0"}}, "f", d));
  EXPECT_EQ(d.cache_max_age_s, 0);
  for (const char* bad : {"-1", "36501d", "99999999999d", "1w", "abc", ""}) {
    auto r = ApplyConfig({{"cache-max-age", bad}}, "f", d);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message,
              std::string("f: cache-max-age must be a duration from 0 to "
                          "36500d (a hundred years), such as 30d, 12h, 90m "
                          "or 3600 (seconds), got '") +
                  bad + "'");
  }
  for (const char* bad : {"-0.1", "1.5", "150%", "nan", "x"}) {
    auto r = ApplyConfig({{"rehash-fraction", bad}}, "f", d);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("f: rehash-fraction must be a fraction "
                                     "in 0..1 or a percentage"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace sms::agent
