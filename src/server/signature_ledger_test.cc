#include "server/signature_ledger.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace sms::server {
namespace {

// The answers of UseAsync, gathered for a test to wait on.
class Answers {
 public:
  SignatureLedger::Done For(int i) {
    return [this, i](storage::Status s) {
      std::lock_guard lock(mu_);
      got_[i] = std::move(s);
      ++count_;
      cv_.notify_all();
    };
  }
  explicit Answers(int n) : got_(n, core::Ok()) {}
  // Waits (up to 20 s) for `n` answers.
  bool WaitFor(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20),
                        [&] { return count_ >= n; });
  }
  storage::Status At(int i) {
    std::lock_guard lock(mu_);
    return got_[i];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<storage::Status> got_;
  int count_ = 0;
};

class SignatureLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::SqliteOptions o;
    o.busy_timeout_ms = 300;  // the failure test holds the write lock
    auto s = storage::OpenSqliteStore(dir_.Join("sms.db"), o);
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    store_ = std::move(*s);
  }
  ::sms::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
};

TEST_F(SignatureLedgerTest, AKeyIsAcceptedOnceUntilItExpires) {
  SignatureLedger ledger(*store_);
  ASSERT_TRUE(ledger.Use("AK:a", 100, 10));
  auto again = ledger.Use("AK:a", 100, 20);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, core::ErrorCode::kAlreadyExists);
  EXPECT_TRUE(ledger.Use("AK:b", 100, 20));
  EXPECT_TRUE(ledger.Use("AK:a", 300, 100));  // expired at 100
  // Through the store directly (another replica's ledger): held.
  EXPECT_EQ(store_->RememberSignature("AK:b", 100, 30).error().code,
            core::ErrorCode::kAlreadyExists);
}

// 16 threads use 200 keys, each key by two threads: every key is accepted
// exactly once, and the writes are shared (fewer batches than keys, once
// the threads overlap).
TEST_F(SignatureLedgerTest, ConcurrentCallersShareWritesAndEachKeyLandsOnce) {
  SignatureLedger ledger(*store_);
  constexpr int kThreads = 16;
  constexpr int kKeys = 200;
  std::vector<std::atomic<int>> accepted(kKeys);
  std::atomic<int> refused{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // thread t and thread t ^ 1 use the same keys
      for (int k = (t / 2) % 8; k < kKeys; k += 8) {
        auto s = ledger.Use("AK:" + std::to_string(k), 1000, 1);
        if (s)
          ++accepted[k];
        else if (s.error().code == core::ErrorCode::kAlreadyExists)
          ++refused;
        else
          ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int k = 0; k < kKeys; ++k) EXPECT_EQ(accepted[k].load(), 1) << k;
  EXPECT_EQ(refused.load(), kKeys);
  EXPECT_EQ(failed.load(), 0);
  const SignatureLedger::Stats st = ledger.stats();
  EXPECT_EQ(st.keys, 2u * kKeys);
  EXPECT_LE(st.batches, st.keys);
  std::printf("%llu keys in %llu batches\n",
              static_cast<unsigned long long>(st.keys),
              static_cast<unsigned long long>(st.batches));
}

// UseAsync answers from the writer thread once the key is committed: the
// completion already finds the key in the store (another replica would
// refuse it), and a second use of the key is refused as a replay.
TEST_F(SignatureLedgerTest, AsyncUseAnswersAfterTheBatchHasCommitted) {
  SignatureLedger ledger(*store_);
  Answers answers(2);
  std::atomic<bool> held_when_answered{false};
  std::atomic<uint64_t> batches_when_answered{0};
  ledger.UseAsync("AK:async", 1000, 1, [&](storage::Status s) {
    auto again = store_->RememberSignature("AK:async", 1000, 2);
    held_when_answered =
        !again && again.error().code == core::ErrorCode::kAlreadyExists;
    batches_when_answered = ledger.stats().batches;
    answers.For(0)(std::move(s));
  });
  ASSERT_TRUE(answers.WaitFor(1));
  EXPECT_TRUE(answers.At(0));
  EXPECT_TRUE(held_when_answered.load());
  EXPECT_EQ(batches_when_answered.load(), 1u);

  ledger.UseAsync("AK:async", 1000, 3, answers.For(1));
  ASSERT_TRUE(answers.WaitFor(2));
  auto replay = answers.At(1);
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().code, core::ErrorCode::kAlreadyExists);
  // The blocking Use shares the same record.
  auto blocked = ledger.Use("AK:async", 1000, 4);
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().code, core::ErrorCode::kAlreadyExists);
}

// A batch that cannot be written answers every key it held with the
// store's error (none is taken as recorded, none as a replay), and those
// keys are still fresh afterwards.
TEST_F(SignatureLedgerTest, AStoreFailureReachesEveryKeyOfTheBatch) {
  // Another connection holds the write lock past the busy timeout.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.Join("sms.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr),
            SQLITE_OK);
  constexpr int kKeys = 6;
  {
    SignatureLedger ledger(*store_);
    Answers answers(kKeys);
    for (int i = 0; i < kKeys; ++i)
      ledger.UseAsync("AK:f" + std::to_string(i), 1000, 1, answers.For(i));
    ASSERT_TRUE(answers.WaitFor(kKeys));
    for (int i = 0; i < kKeys; ++i) {
      auto s = answers.At(i);
      ASSERT_FALSE(s) << i;
      EXPECT_NE(s.error().code, core::ErrorCode::kAlreadyExists) << i;
    }
    // Queued together: fewer batches than keys (the first batch may have
    // started before the others were queued).
    EXPECT_LE(ledger.stats().batches, 2u);
    EXPECT_EQ(ledger.stats().keys, static_cast<uint64_t>(kKeys));
  }
  ASSERT_EQ(sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  SignatureLedger ledger(*store_);
  for (int i = 0; i < kKeys; ++i)
    EXPECT_TRUE(ledger.Use("AK:f" + std::to_string(i), 1000, 2)) << i;
}

// Keys still queued when the ledger goes are written and answered first.
TEST_F(SignatureLedgerTest, TheDestructorAnswersEveryQueuedKey) {
  constexpr int kKeys = 200;
  Answers answers(kKeys);
  {
    SignatureLedger ledger(*store_);
    for (int i = 0; i < kKeys; ++i)
      ledger.UseAsync("AK:d" + std::to_string(i), 1000, 1, answers.For(i));
  }
  ASSERT_TRUE(answers.WaitFor(kKeys));
  for (int i = 0; i < kKeys; ++i) EXPECT_TRUE(answers.At(i)) << i;
  EXPECT_EQ(store_->RememberSignature("AK:d0", 1000, 2).error().code,
            core::ErrorCode::kAlreadyExists);
}

}  // namespace
}  // namespace sms::server
