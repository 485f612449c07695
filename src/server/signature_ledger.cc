#include "server/signature_ledger.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace sms::server {

SignatureLedger::SignatureLedger(storage::Store& store)
    : store_(store),
      commits_(kMaxBatch, [this](const std::vector<PendingUse*>& batch) {
        Write(batch);
      }) {}

SignatureLedger::~SignatureLedger() { commits_.Stop(); }

storage::Status SignatureLedger::Use(const std::string& key, int64_t expires_at,
                                     int64_t now) {
  PendingUse use{.key = {key, expires_at}, .now = now};
  commits_.Commit(use);
  return std::move(use.result);
}

void SignatureLedger::UseAsync(std::string key, int64_t expires_at, int64_t now,
                               Done done) {
  commits_.CommitAsync(
      PendingUse{.key = {std::move(key), expires_at},
                 .now = now,
                 .done = std::move(done)},
      [](PendingUse& use) { use.done(std::move(use.result)); });
}

void SignatureLedger::Write(const std::vector<PendingUse*>& batch) {
  std::vector<storage::UsedSignature> keys;
  keys.reserve(batch.size());
  int64_t now = 0;  // the latest caller's clock
  for (const PendingUse* use : batch) {
    keys.push_back(use->key);
    now = std::max(now, use->now);
  }
  auto fresh = store_.RememberSignatures(keys, now);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!fresh)
      batch[i]->result = core::Fail(fresh.error());
    else if (!fresh->at(i))
      batch[i]->result =
          core::Fail(core::AlreadyExists("signature already used"));
    else
      batch[i]->result = core::Ok();
  }
}

SignatureLedger::Stats SignatureLedger::stats() const {
  const storage::GroupCommit<PendingUse>::Stats s = commits_.stats();
  return Stats{.batches = s.batches, .keys = s.items};
}

}  // namespace sms::server
