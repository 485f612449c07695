#include "server/signature_ledger.h"

#include <algorithm>
#include <vector>

namespace sms::server {

storage::Status SignatureLedger::Use(const std::string& key, int64_t expires_at,
                                     int64_t now) {
  PendingUse use{.key = {key, expires_at}, .now = now};
  batches_.Commit(use, [this](const auto& batch) { Write(batch); });
  return std::move(use.result);
}

void SignatureLedger::Write(
    const storage::GroupCommit<PendingUse>::Batch& batch) {
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
  const auto s = batches_.stats();
  return Stats{.batches = s.batches, .keys = s.items};
}

}  // namespace sms::server
