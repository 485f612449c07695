// Verify() and RunVerify() (`sms-agent verify`) over real trees in a scratch
// directory: the counters, the verdicts handed to a sink, the list a run
// writes and reads back (--list, --only-paths), cancellation, and errors
// that name the root at fault.
#include "agent/verify_command.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "testing/temp_dir.h"

namespace sms::agent {
namespace {

using ::sms::testing::ReadFile;
using ::sms::testing::TempDir;
using ::sms::testing::WriteFile;

// Collects every verdict by relative path.
class Collect final : public core::VerdictSink {
 public:
  void OnVerdict(const std::string& dir_check, std::string_view path,
                 const core::Verdict& verdict, const core::Entry*,
                 const core::Entry*) override {
    seen[dir_check + "|" + std::string(path)] = verdict.status;
  }
  std::map<std::string, core::VerdictStatus> seen;
};

class VerifyCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const std::string side : {"src", "dst"}) {
      WriteFile(dir_.Join(side + "/data/same.txt"), "same");
      WriteFile(dir_.Join(side + "/data/sub/deep.bin"), std::string(5000, 'x'));
      WriteFile(dir_.Join(side + "/etc/hosts"), "127.0.0.1 localhost\n");
    }
  }

  VerifyOptions Options() const {
    VerifyOptions o;
    o.source = dir_.Join("src");
    o.target = dir_.Join("dst");
    o.dirs = {"/data", "/etc"};
    o.progress = false;
    return o;
  }

  TempDir dir_;
};

TEST_F(VerifyCommandTest, IdenticalTreesAreConsistent) {
  core::RunReport r = Verify(Options(), nullptr);
  ASSERT_TRUE(r.completed) << r.error_msg;
  EXPECT_TRUE(r.consistent());
  ASSERT_EQ(r.dirs.size(), 2u);
  EXPECT_EQ(r.dirs[0].dir_check, "/data");
  EXPECT_EQ(r.dirs[0].total, 2u);
  EXPECT_EQ(r.dirs[0].bytes_verified, 5004u);
  EXPECT_EQ(r.dirs[1].total, 1u);
  EXPECT_GE(r.finished_ms, r.started_ms);
  EXPECT_EQ(RunVerify(Options()), kExitConsistent);
}

TEST_F(VerifyCommandTest, EachKindOfDifferenceIsCountedAndReported) {
  WriteFile(dir_.Join("dst/data/same.txt"), "SAME");  // same size and mtime
  WriteFile(dir_.Join("src/data/only-source"), "a");
  WriteFile(dir_.Join("dst/etc/only-target"), "b");
  Collect sink;
  core::RunReport r = Verify(Options(), &sink);
  ASSERT_TRUE(r.completed) << r.error_msg;
  EXPECT_FALSE(r.consistent());
  EXPECT_EQ(r.dirs[0].different, 1u);
  EXPECT_EQ(r.dirs[0].target_miss, 1u);
  EXPECT_EQ(r.dirs[1].target_more, 1u);
  EXPECT_EQ(sink.seen["/data|same.txt"], core::VerdictStatus::kDifferent);
  EXPECT_EQ(sink.seen["/data|only-source"], core::VerdictStatus::kTargetMiss);
  EXPECT_EQ(sink.seen["/etc|only-target"], core::VerdictStatus::kTargetMore);

  // Quick mode compares size and mtime only: the same-size rewrite passes.
  VerifyOptions quick = Options();
  quick.scan.mode = core::CompareMode::kQuick;
  core::RunReport q = Verify(quick, nullptr);
  ASSERT_TRUE(q.completed);
  EXPECT_EQ(q.dirs[0].different, 0u);
  EXPECT_EQ(q.dirs[0].target_miss, 1u);
}

TEST_F(VerifyCommandTest, AListWrittenByOneRunScopesTheNext) {
  WriteFile(dir_.Join("dst/data/sub/deep.bin"), std::string(5000, 'y'));
  VerifyOptions first = Options();
  first.list_path = dir_.Join("diff.jsonl");
  first.list_format = core::ListFormat::kJsonl;
  EXPECT_EQ(RunVerify(first), kExitDifferent);
  const std::string list = ReadFile(first.list_path);
  EXPECT_NE(list.find("sub/deep.bin"), std::string::npos) << list;
  EXPECT_EQ(list.find("same.txt"), std::string::npos) << list;

  // Fixed on the target; only the listed path is read again.
  WriteFile(dir_.Join("dst/data/sub/deep.bin"), std::string(5000, 'x'));
  VerifyOptions again = Options();
  again.only_paths_file = first.list_path;
  again.scope = "inconsistent";
  core::RunReport r = Verify(again, nullptr);
  ASSERT_TRUE(r.completed) << r.error_msg;
  EXPECT_TRUE(r.consistent());
  EXPECT_EQ(r.scope, "inconsistent");
  EXPECT_EQ(r.dirs[0].total, 1u);
  EXPECT_EQ(r.dirs[1].total, 0u);
}

// `verify --list L --server --task T` writes the uploaded run's id on each
// JSON line; `verify --only-paths L` then names that run as the re-check's
// base (issue 12.5), unless --base-run-id names another.
TEST_F(VerifyCommandTest, AReCheckNamesTheRunItsListWasWrittenFor) {
  const std::string kRun = "7861c7ab-06c0-4b23-a350-00e5ed361fbb";
  const std::string kOther = "0b6f4a57-3c1e-4a53-9f0f-5b8a4f6a9c11";
  WriteFile(dir_.Join("dst/data/sub/deep.bin"), std::string(5000, 'y'));
  const std::string list = dir_.Join("diff.jsonl");
  {
    FILE* f = fopen(list.c_str(), "we");
    ASSERT_NE(f, nullptr);
    core::ListWriter writer(f, core::ListFormat::kJsonl, kRun);
    core::RunReport first = Verify(Options(), &writer);
    ASSERT_TRUE(first.completed) << first.error_msg;
    ASSERT_TRUE(writer.Flush());
    fclose(f);
  }
  EXPECT_EQ(ReadFile(list).rfind(
                "{\"run_id\":\"" + kRun + "\",\"dir_check\":\"/data\"", 0),
            0u)
      << ReadFile(list);

  VerifyOptions again = Options();
  again.only_paths_file = list;
  core::RunReport r = Verify(again, nullptr);
  ASSERT_TRUE(r.completed) << r.error_msg;
  EXPECT_EQ(r.scope, "inconsistent");
  EXPECT_EQ(r.base_run_id, kRun);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_NE(core::RunReportJson(r).find("\"base_run_id\":\"" + kRun + "\""),
            std::string::npos);

  // An explicit --base-run-id wins, and says so.
  again.base_run_id = kOther;
  r = Verify(again, nullptr);
  ASSERT_TRUE(r.completed) << r.error_msg;
  EXPECT_EQ(r.base_run_id, kOther);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("names run " + kRun), std::string::npos)
      << r.warnings[0];

  // A text list names no run: only --base-run-id does.
  WriteFile(dir_.Join("diff.txt"), "* data/sub/deep.bin\n");
  VerifyOptions text = Options();
  text.only_paths_file = dir_.Join("diff.txt");
  r = Verify(text, nullptr);
  ASSERT_TRUE(r.completed) << r.error_msg;
  EXPECT_EQ(r.scope, "inconsistent");
  EXPECT_EQ(r.base_run_id, "");
  text.base_run_id = kOther;
  EXPECT_EQ(Verify(text, nullptr).base_run_id, kOther);

  // Two runs in one list, or a run id that is none, are errors naming why.
  WriteFile(dir_.Join("mixed.jsonl"),
            ReadFile(list) + "{\"run_id\":\"" + kOther +
                "\",\"dir_check\":\"/etc\",\"path\":\"hosts\","
                "\"status\":\"different\"}\n");
  VerifyOptions mixed = Options();
  mixed.only_paths_file = dir_.Join("mixed.jsonl");
  r = Verify(mixed, nullptr);
  EXPECT_FALSE(r.completed);
  EXPECT_NE(r.error_msg.find("names 2 runs"), std::string::npos) << r.error_msg;
  mixed.base_run_id = kOther;
  EXPECT_TRUE(Verify(mixed, nullptr).completed);
  text.base_run_id = "7";
  r = Verify(text, nullptr);
  EXPECT_FALSE(r.completed);
  EXPECT_NE(r.error_msg.find("--base-run-id: '7' is not a run id"),
            std::string::npos)
      << r.error_msg;
}

TEST_F(VerifyCommandTest, ErrorsNameTheRootAtFault) {
  VerifyOptions missing = Options();
  missing.source = dir_.Join("nowhere");
  core::RunReport r = Verify(missing, nullptr);
  EXPECT_FALSE(r.completed);
  EXPECT_NE(r.error_msg.find("source " + dir_.Join("nowhere")),
            std::string::npos)
      << r.error_msg;
  EXPECT_EQ(RunVerify(missing), kExitError);

  VerifyOptions file_target = Options();
  file_target.target = "file://" + dir_.Join("src/etc/hosts");
  r = Verify(file_target, nullptr);
  EXPECT_FALSE(r.completed);
  EXPECT_NE(r.error_msg.find("not a directory"), std::string::npos)
      << r.error_msg;

  VerifyOptions relative = Options();
  relative.dirs = {"data"};
  EXPECT_FALSE(Verify(relative, nullptr).completed);

  // A directory missing on one side is that directory's error, not the
  // run's: the others are still verified.
  WriteFile(dir_.Join("src/opt/app.conf"), "x");
  VerifyOptions partial = Options();
  partial.dirs = {"/data", "/opt"};
  r = Verify(partial, nullptr);
  ASSERT_TRUE(r.completed) << r.error_msg;
  EXPECT_EQ(r.dirs[0].total, 2u);
  EXPECT_TRUE(r.dirs[0].consistent());
  EXPECT_TRUE(r.dirs[1].target_miss == 1 || !r.dirs[1].error.empty());
  EXPECT_NE(RunVerify(partial), kExitConsistent);
}

TEST_F(VerifyCommandTest, ACancelledRunSaysSo) {
  Canceller canceller;
  canceller.Cancel();
  core::RunReport r = Verify(Options(), nullptr, &canceller);
  EXPECT_FALSE(r.completed);
  EXPECT_EQ(r.error_msg, "verification cancelled");
  EXPECT_TRUE(canceller.cancelled());
}

}  // namespace
}  // namespace sms::agent
