// SignatureLedger: the used-signature record of AuthService (a signed
// request that changes state is accepted once), with group commit.
//
// Every signed poll must be remembered before it is answered, and on every
// replica (the record is the database's used_signatures table: a signature
// accepted by one replica is refused by all). Written one by one, that is a
// write transaction per poll. Here a writer thread of the ledger takes every
// key queued while its previous write was under way and writes them in one
// transaction (one round trip on PostgreSQL), whatever their number, as
// storage/group_commit.h does for CommitRun. Each key is answered only after
// the batch holding it has committed, so the record is exact; a key
// repeated within a batch is a replay like any other.
//
// Two ways to wait: Use() blocks its caller until the answer; UseAsync()
// returns at once and calls its completion from the writer thread after the
// batch has committed, so a caller that answers requests on an event loop
// (the agent's command poll, Api::HandleAsync) holds no thread meanwhile.
// Both share the same batches.
// Thread-safety: safe for concurrent use. The destructor answers every key
// still queued (writing them) before it returns.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/store.h"

namespace sms::server {

class SignatureLedger final {
 public:
  // The answer to one key: OK when it was fresh and is now recorded;
  // kAlreadyExists when it was held and unexpired (a replay); the store's
  // error when its batch could not be written.
  using Done = std::function<void(storage::Status)>;

  explicit SignatureLedger(storage::Store& store);
  ~SignatureLedger();
  SignatureLedger(const SignatureLedger&) = delete;
  SignatureLedger& operator=(const SignatureLedger&) = delete;

  // Remembers `key` until `expires_at` (epoch ms), given the caller's clock
  // `now` (a held key that expired before `now` is taken anew); returns
  // once the batch holding it has been written.
  [[nodiscard]] storage::Status Use(const std::string& key, int64_t expires_at,
                                    int64_t now);
  // The same without waiting: `done` is called exactly once, from the
  // writer thread, after the batch holding `key` has committed (or failed:
  // every key of a failed batch gets the store's error). `done` must not
  // throw, and should be quick (hand work elsewhere): the next batch waits
  // for the completions of this one.
  void UseAsync(std::string key, int64_t expires_at, int64_t now, Done done);

  // Batches written so far and the keys they held (tests, benchmarks).
  // A batch is counted before its completions are called.
  struct Stats {
    uint64_t batches = 0;
    uint64_t keys = 0;
  };
  Stats stats() const;

 private:
  // One caller's key and where its answer goes.
  struct PendingUse {
    storage::UsedSignature key;
    int64_t now = 0;
    Done done;
  };
  // The keys of one RememberSignatures statement, at most.
  static constexpr size_t kMaxBatch = 4096;

  void WriterLoop();
  // Writes a batch in one transaction: each key's answer, in order.
  std::vector<storage::Status> Write(const std::vector<PendingUse>& batch);

  storage::Store& store_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  // Guarded by mu_: keys waiting for the next batch; set by the destructor;
  // what has been written.
  std::vector<PendingUse> queue_;
  bool stopping_ = false;
  Stats stats_;
  std::thread writer_;  // last: starts once the rest is built
};

}  // namespace sms::server
