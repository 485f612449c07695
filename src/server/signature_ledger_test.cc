#include "server/signature_ledger.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "storage/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace sms::server {
namespace {

class SignatureLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = storage::OpenSqliteStore(dir_.Join("sms.db"));
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

}  // namespace
}  // namespace sms::server
