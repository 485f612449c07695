#include "server/signature_ledger.h"

#include <algorithm>
#include <iterator>
#include <memory>
#include <utility>

namespace sms::server {

SignatureLedger::SignatureLedger(storage::Store& store)
    : store_(store), writer_([this] { WriterLoop(); }) {}

SignatureLedger::~SignatureLedger() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  writer_.join();
}

storage::Status SignatureLedger::Use(const std::string& key, int64_t expires_at,
                                     int64_t now) {
  // Shared with the completion, which may still be unwinding on the writer
  // thread when this caller wakes.
  struct Answer {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    storage::Status result = core::Ok();
  };
  auto answer = std::make_shared<Answer>();
  UseAsync(key, expires_at, now, [answer](storage::Status s) {
    std::lock_guard lock(answer->mu);
    answer->result = std::move(s);
    answer->done = true;
    answer->cv.notify_one();
  });
  std::unique_lock lock(answer->mu);
  answer->cv.wait(lock, [&] { return answer->done; });
  return std::move(answer->result);
}

void SignatureLedger::UseAsync(std::string key, int64_t expires_at, int64_t now,
                               Done done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(PendingUse{.key = {std::move(key), expires_at},
                                  .now = now,
                                  .done = std::move(done)});
      // The writer waits only on an empty queue: one wake-up per batch.
      if (queue_.size() == 1) wake_.notify_one();
      return;
    }
  }
  done(core::Fail(core::Unavailable("the signature ledger is shutting down")));
}

void SignatureLedger::WriterLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and every key answered
    std::vector<PendingUse> batch;
    if (queue_.size() <= kMaxBatch) {
      batch.swap(queue_);
    } else {
      batch.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.begin() + kMaxBatch));
      queue_.erase(queue_.begin(), queue_.begin() + kMaxBatch);
    }
    lock.unlock();
    std::vector<storage::Status> results = Write(batch);
    lock.lock();
    ++stats_.batches;
    stats_.keys += batch.size();
    lock.unlock();
    for (size_t i = 0; i < batch.size(); ++i)
      batch[i].done(std::move(results[i]));
    lock.lock();
  }
}

std::vector<storage::Status> SignatureLedger::Write(
    const std::vector<PendingUse>& batch) {
  std::vector<storage::UsedSignature> keys;
  keys.reserve(batch.size());
  int64_t now = 0;  // the latest caller's clock
  for (const PendingUse& use : batch) {
    keys.push_back(use.key);
    now = std::max(now, use.now);
  }
  auto fresh = store_.RememberSignatures(keys, now);
  std::vector<storage::Status> out;
  out.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!fresh)
      out.push_back(core::Fail(fresh.error()));
    else if (!fresh->at(i))
      out.push_back(core::Fail(core::AlreadyExists("signature already used")));
    else
      out.push_back(core::Ok());
  }
  return out;
}

SignatureLedger::Stats SignatureLedger::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace sms::server
