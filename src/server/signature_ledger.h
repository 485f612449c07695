// SignatureLedger: the used-signature record of AuthService (a signed
// request that changes state is accepted once), with group commit.
//
// Every signed poll must be remembered before it is answered, and on every
// replica (the record is the database's used_signatures table: a signature
// accepted by one replica is refused by all). Written one by one, that is a
// write transaction per poll. Here the keys go through a group commit
// (storage/group_commit.h, as CommitRun's runs do): its writer thread takes
// every key queued while the previous write was under way and writes them
// in one transaction (one round trip on PostgreSQL), whatever their number.
// Each key is answered only after the batch holding it has committed, so
// the record is exact; a key repeated within a batch is a replay like any
// other.
//
// Two ways to wait: Use() blocks its caller until the answer; UseAsync()
// returns at once and calls its completion from the thread that wrote the
// batch once it has committed, so a caller that answers requests on an event
// loop (the agent's command poll, Api::HandleAsync) holds no thread meanwhile.
// Both share the same batches.
// Thread-safety: safe for concurrent use. The destructor answers every key
// still queued (writing them) before it returns; a key given after that
// gets kUnavailable, unwritten.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "storage/group_commit.h"
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
  // thread that wrote the batch holding `key` (the group commit's writer
  // thread, or a caller of Use() that wrote it), after it committed (or failed:
  // every key of a failed batch gets the store's error; or at once, on the
  // calling thread, with kUnavailable while the ledger is being destroyed).
  // `done` must not throw, and should be quick (hand work elsewhere): the next
  // batch waits for the completions of this one.
  void UseAsync(std::string key, int64_t expires_at, int64_t now, Done done);

  // Batches written so far and the keys they held (tests, benchmarks).
  // A batch is counted before its completions are called.
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
    // Set by the batch; as submitted: the answer of a key given once the
    // ledger has stopped.
    storage::Status result =
        core::Fail(core::Unavailable("the signature ledger is shutting down"));
    Done done;  // UseAsync's
  };
  // The keys of one RememberSignatures statement, at most.
  static constexpr size_t kMaxBatch = 4096;

  // Writes a batch in one transaction and sets each key's answer.
  void Write(const std::vector<PendingUse*>& batch);

  storage::Store& store_;
  storage::GroupCommit<PendingUse> commits_;  // last: its writer uses store_
};

}  // namespace sms::server
