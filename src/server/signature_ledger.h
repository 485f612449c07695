// SignatureLedger: the used-signature record of AuthService (a signed
// request that changes state is accepted once), with group commit.
//
// Every signed poll must be remembered before it is answered, and on every
// replica (the record is the database's used_signatures table: a signature
// accepted by one replica is refused by all). Written one by one, that is a
// write transaction per poll. Here the requests that arrive while a write is
// under way wait together and go in the next one: one transaction (one
// round trip on PostgreSQL) per batch, whatever the number of requests in
// it (storage/group_commit.h, the mechanism CommitRun's batches use too).
// Each request is answered only after the batch holding its key has
// committed, so the record is exactly as before; a key repeated within a
// batch is a replay like any other.
// Thread-safety: safe for concurrent use; Use() blocks its caller until its
// batch is written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "storage/group_commit.h"
#include "storage/store.h"

namespace sms::server {

class SignatureLedger final {
 public:
  explicit SignatureLedger(storage::Store& store) : store_(store) {}
  SignatureLedger(const SignatureLedger&) = delete;
  SignatureLedger& operator=(const SignatureLedger&) = delete;

  // Remembers `key` until `expires_at` (epoch ms): kAlreadyExists when it is
  // held and unexpired at `now` (a replay), the store's error when the batch
  // could not be written.
  [[nodiscard]] storage::Status Use(const std::string& key, int64_t expires_at,
                                    int64_t now);

  // Batches written so far and the keys they held (tests, benchmarks).
  struct Stats {
    uint64_t batches = 0;
    uint64_t keys = 0;
  };
  Stats stats() const;

 private:
  // One caller's key and its answer.
  struct PendingUse {
    storage::UsedSignature key;
    int64_t now = 0;
    storage::Status result = core::Fail(core::Internal("not written"));
  };
  // The keys of one RememberSignatures statement, at most.
  static constexpr size_t kMaxBatch = 4096;

  // Writes a batch in one transaction and answers each of its keys.
  void Write(const storage::GroupCommit<PendingUse>::Batch& batch);

  storage::Store& store_;
  storage::GroupCommit<PendingUse> batches_{kMaxBatch};
};

}  // namespace sms::server
