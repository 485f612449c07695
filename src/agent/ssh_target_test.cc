// SshTarget and the ssh URL helpers. The target side runs through a stand-in
// for ssh (a shell script that runs the remote command here, as sshd would
// on the other host) and the real sms-agent binary ($SMS_BIN_DIR), so the
// manifest stream, ssh's exit status and its stderr take the real paths.
// The end-to-end test over a real sshd is tests/e2e (tests/support/sshd.sh).
#include "agent/ssh_target.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "agent/verify_command.h"
#include "testing/temp_dir.h"

namespace sms::agent {
namespace {

using ::sms::testing::TempDir;
using ::sms::testing::WriteFile;

TEST(SshUrlTest, ParsesUserHostPortAndPath) {
  auto u = ParseSshUrl("ssh://backup@db-2.example:2222/srv/copy");
  ASSERT_TRUE(u.has_value()) << u.error().message;
  EXPECT_EQ(u->user, "backup");
  EXPECT_EQ(u->host, "db-2.example");
  EXPECT_EQ(u->port, 2222);
  EXPECT_EQ(u->path, "/srv/copy");

  auto v6 = ParseSshUrl("ssh://[fd00::2]/data");
  ASSERT_TRUE(v6.has_value()) << v6.error().message;
  EXPECT_EQ(v6->host, "fd00::2");
  EXPECT_EQ(v6->port, 0);
  EXPECT_EQ(v6->user, "");

  for (const char* bad : {"http://host/x", "ssh://", "ssh://host",
                          "ssh://[fd00::2/x", "ssh://host:99999/x",
                          "ssh://host:port/x", "ssh://-oProxyCommand=evil/x"}) {
    auto r = ParseSshUrl(bad);
    EXPECT_FALSE(r.has_value()) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument) << bad;
    }
  }
}

TEST(SshUrlTest, ShellQuoteSurvivesAShell) {
  EXPECT_EQ(ShellQuote("plain"), "'plain'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote(""), "''");
}

TEST(SshUrlTest, AMissingStaticAgentIsNamed) {
  auto r = FindStaticAgent("/nonexistent/sms-agent-static");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("/nonexistent/sms-agent-static"),
            std::string::npos)
      << r.error().message;
}

class SshTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("SMS_BIN_DIR");
    ASSERT_NE(bin, nullptr) << "run under ctest (SMS_BIN_DIR)";
    agent_ = std::string(bin) + "/sms-agent";
    struct stat st;
    ASSERT_EQ(stat(agent_.c_str(), &st), 0) << agent_ << ": build sms-agent";
    // ssh [options] host -- command: run the command here.
    fake_ssh_ = dir_.Join("fake-ssh");
    WriteFile(fake_ssh_,
              "#!/bin/sh\n"
              "while [ $# -gt 0 ] && [ \"$1\" != -- ]; do shift; done\n"
              "shift\n"
              "exec sh -c \"$*\"\n",
              -1);
    ASSERT_EQ(chmod(fake_ssh_.c_str(), 0755), 0);
    for (const std::string side : {"src", "dst"}) {
      WriteFile(dir_.Join(side + "/data/a.txt"), "alpha");
      WriteFile(dir_.Join(side + "/data/b.txt"),
                side == "src" ? "beta" : "BETA");
    }
    WriteFile(dir_.Join("src/data/only-here"), "x");
  }

  VerifyOptions Options() const {
    VerifyOptions o;
    o.source = dir_.Join("src");
    o.target = "ssh://target.test" + dir_.Join("dst");
    o.dirs = {"/data"};
    o.progress = false;
    o.ssh.ssh_program = fake_ssh_;
    o.ssh.remote_agent = agent_;
    return o;
  }

  TempDir dir_;
  std::string agent_;
  std::string fake_ssh_;
};

TEST_F(SshTargetTest, TheRemoteManifestIsComparedLikeALocalTarget) {
  core::RunReport r = Verify(Options(), nullptr);
  ASSERT_TRUE(r.completed) << r.error_msg;
  ASSERT_EQ(r.dirs.size(), 1u);
  EXPECT_EQ(r.dirs[0].total, 3u);
  EXPECT_EQ(r.dirs[0].different, 1u);
  EXPECT_EQ(r.dirs[0].target_miss, 1u);

  // The same trees compared locally give the same counters.
  VerifyOptions local = Options();
  local.target = dir_.Join("dst");
  core::RunReport l = Verify(local, nullptr);
  ASSERT_TRUE(l.completed) << l.error_msg;
  EXPECT_EQ(l.dirs[0].different, r.dirs[0].different);
  EXPECT_EQ(l.dirs[0].target_miss, r.dirs[0].target_miss);
  EXPECT_EQ(l.dirs[0].bytes_verified, r.dirs[0].bytes_verified);
}

TEST_F(SshTargetTest, AFailingSshIsReportedWithItsStatusAndStderr) {
  const std::string failing = dir_.Join("failing-ssh");
  WriteFile(failing,
            "#!/bin/sh\necho 'Permission denied (publickey).' >&2\nexit 255\n",
            -1);
  ASSERT_EQ(chmod(failing.c_str(), 0755), 0);
  VerifyOptions o = Options();
  o.ssh.ssh_program = failing;
  core::RunReport r = Verify(o, nullptr);
  EXPECT_FALSE(r.completed);
  EXPECT_NE(r.error_msg.find("255"), std::string::npos) << r.error_msg;
  EXPECT_NE(r.error_msg.find("Permission denied"), std::string::npos)
      << r.error_msg;
}

TEST_F(SshTargetTest, AMissingRemoteRootIsTheRemoteAgentsError) {
  VerifyOptions o = Options();
  o.target = "ssh://target.test" + dir_.Join("nowhere");
  core::RunReport r = Verify(o, nullptr);
  EXPECT_FALSE(r.completed);
  EXPECT_NE(r.error_msg.find(dir_.Join("nowhere")), std::string::npos)
      << r.error_msg;
}

TEST_F(SshTargetTest, AnSshProgramThatCannotStartIsNamed) {
  VerifyOptions o = Options();
  o.ssh.ssh_program = dir_.Join("no-such-ssh");
  core::RunReport r = Verify(o, nullptr);
  EXPECT_FALSE(r.completed);
  EXPECT_NE(r.error_msg.find("no-such-ssh"), std::string::npos) << r.error_msg;
}

}  // namespace
}  // namespace sms::agent
