#include "agent/spool.h"

#include <gtest/gtest.h>

#include "testing/temp_dir.h"

namespace sms::agent {
namespace {

core::Entry FileEntry(const std::string& path) {
  core::Entry e;
  e.path = path;
  e.type = core::FileType::kRegular;
  e.size = 1;
  return e;
}

TEST(SpoolTest, AFinishedRunIsReadyWithItsChunks) {
  testing::TempDir t;
  Spool spool(t.Join("spool"));
  ASSERT_TRUE(spool.Init());
  auto writer = spool.Begin("run-1", "task-1");
  ASSERT_TRUE(writer);
  const core::Entry e = FileEntry("a");
  const core::Verdict diff{
      core::VerdictStatus::kDifferent, core::Reason::kContent, {}};
  const core::Verdict same{core::VerdictStatus::kSame, core::Reason::kNone, {}};
  for (size_t i = 0; i < RunWriter::kChunkFiles + 5; ++i) {
    (*writer)->OnVerdict("/etc", "f" + std::to_string(i), diff, &e, &e);
    (*writer)->OnVerdict("/etc", "same", same, &e, &e);  // never uploaded
  }
  EXPECT_TRUE(spool.ReadyRuns().empty());  // not finished yet
  ASSERT_TRUE((*writer)->Finish("{\"result\":1}", "{\"cr\":1}"));
  EXPECT_EQ((*writer)->chunks(), 2u);
  EXPECT_EQ(spool.ReadyRuns(), std::vector<std::string>{"run-1"});
  const std::string dir = spool.RunDir("run-1");
  auto second = ReadWholeFile(dir + "/details-000001.json");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->rfind("{\"run_id\":\"run-1\",\"seq\":1,\"files\":[", 0),
            0u);
  EXPECT_EQ(std::count(second->begin(), second->end(), '{'), 1 + 5 * 3);
  EXPECT_EQ(*ReadWholeFile(dir + "/task_id"), "task-1");
  spool.Remove("run-1");
  EXPECT_TRUE(spool.ReadyRuns().empty());
}

// The server takes a reason of at most 256 bytes (its details upload is
// refused whole past it, and retried forever). An error naming a long
// path ("source: cannot read directory <4,000 bytes>") is cut, on a
// character boundary, with "..." saying so.
TEST(SpoolTest, ALongReasonIsCutToWhatTheServerTakes) {
  testing::TempDir t;
  Spool spool(t.Join("spool"));
  ASSERT_TRUE(spool.Init());
  auto writer = spool.Begin("run-1", "task-1");
  ASSERT_TRUE(writer);
  const core::Entry e = FileEntry("a");
  std::string detail = "source: cannot read directory ";
  for (int i = 0; i < 400; ++i) detail += "\xc3\xa9";  // é, 2 bytes each
  const core::Verdict error{core::VerdictStatus::kError, core::Reason::kText,
                            detail};
  (*writer)->OnVerdict("/", "a", error, &e, nullptr);
  ASSERT_TRUE((*writer)->Finish("{}", "{}"));
  auto chunk = ReadWholeFile(spool.RunDir("run-1") + "/details-000000.json");
  ASSERT_TRUE(chunk);
  const std::string key = "\"reason\":\"";
  const size_t begin = chunk->find(key);
  ASSERT_NE(begin, std::string::npos);
  const size_t end = chunk->find('"', begin + key.size());
  const std::string reason =
      chunk->substr(begin + key.size(), end - begin - key.size());
  EXPECT_LE(reason.size(), RunWriter::kMaxReasonBytes);
  EXPECT_GT(reason.size(), RunWriter::kMaxReasonBytes - 5);
  EXPECT_EQ(reason.rfind("source: cannot read directory \xc3\xa9", 0), 0u);
  EXPECT_EQ(reason.substr(reason.size() - 3), "...");
  // Whole characters only: the byte before "..." ends an é.
  EXPECT_EQ(static_cast<unsigned char>(reason[reason.size() - 4]), 0xa9);
}

TEST(SpoolTest, AnInterruptedRunBecomesAFailedRunWithoutDetails) {
  testing::TempDir t;
  Spool spool(t.Join("spool"));
  ASSERT_TRUE(spool.Init());
  auto writer = spool.Begin("run-2", "task-2");
  ASSERT_TRUE(writer);
  const core::Entry e = FileEntry("x");
  for (size_t i = 0; i < RunWriter::kChunkFiles; ++i) {
    (*writer)->OnVerdict("/", "x", {core::VerdictStatus::kTargetMiss}, &e,
                         nullptr);
  }
  writer->reset();  // the agent died here: one chunk written, no READY
  ASSERT_TRUE(spool.Recover("the agent stopped during the check", 1234));
  EXPECT_EQ(spool.ReadyRuns(), std::vector<std::string>{"run-2"});
  auto result = ReadWholeFile(spool.RunDir("run-2") + "/result.json");
  ASSERT_TRUE(result);
  EXPECT_NE(result->find("\"check_result\":\"failed\""), std::string::npos);
  EXPECT_NE(result->find("\"run_id\":\"run-2\""), std::string::npos);
  EXPECT_NE(result->find("the agent stopped during the check"),
            std::string::npos);
  EXPECT_FALSE(ReadWholeFile(spool.RunDir("run-2") + "/details-000000.json"));
}

TEST(SpoolTest, RejectedRunsLeaveTheQueue) {
  testing::TempDir t;
  Spool spool(t.Join("spool"));
  ASSERT_TRUE(spool.Init());
  for (const char* id : {"r1", "r2"}) {
    auto writer = spool.Begin(id, "task");
    ASSERT_TRUE(writer);
    ASSERT_TRUE((*writer)->Finish("{}", "{}"));
  }
  spool.Reject("r1");
  EXPECT_EQ(spool.ReadyRuns(), std::vector<std::string>{"r2"});
  EXPECT_TRUE(ReadWholeFile(t.Join("spool/rejected/r1/result.json")));
}

}  // namespace
}  // namespace sms::agent
