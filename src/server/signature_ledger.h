// SignatureLedger: the used-signature record of AuthService (a signed
// request that changes state is accepted once), with group commit.
//
// Every signed poll must be remembered before it is answered, and on every
// replica (the record is the database's used_signatures table: a signature
// accepted by one replica is refused by all). Written one by one, that is a
// write transaction per poll. Here the requests that arrive while a write is
// under way wait together and go in the next one: one transaction (one
// round trip on PostgreSQL) per batch, whatever the number of requests in
// it. Each request is answered only after the batch holding its key has
// committed, so the record is exactly as before; a key repeated within a
// batch is a replay like any other.
// Thread-safety: safe for concurrent use; Use() blocks its caller until its
// batch is written.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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
  struct Batch {
    std::vector<storage::UsedSignature> keys;
    int64_t now = 0;  // the latest caller's clock
    bool done = false;
    storage::Result<std::vector<bool>> fresh;
  };

  storage::Store& store_;
  mutable std::mutex mu_;
  std::condition_variable written_;
  std::shared_ptr<Batch> open_;  // filling while one is written (mu_)
  bool writing_ = false;         // a batch is being written (mu_)
  Stats stats_;                  // mu_
};

}  // namespace sms::server
