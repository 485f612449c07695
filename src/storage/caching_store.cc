#include "storage/caching_store.h"

#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <utility>

namespace sms::storage {

namespace {

// The read scope this thread is in, for the store that began it.
struct ScopeState {
  const void* store = nullptr;
  uint64_t generation = 0;           // read before any of the scope's reads
  std::unique_ptr<ReadScope> inner;  // begun at the scope's first miss
  bool inner_begun = false;
};
thread_local ScopeState* t_scope = nullptr;

std::string Key(const std::string& a, const std::string& b) {
  std::string k;
  k.reserve(a.size() + b.size() + 1);
  k.append(a).push_back('\0');
  k.append(b);
  return k;
}

class CachingStoreImpl final : public CachingStore {
 public:
  CachingStoreImpl(std::unique_ptr<Store> inner, const CacheLimits& limits)
      : inner_(std::move(inner)), limits_(limits) {}

  std::unique_ptr<ReadScope> BeginReadScope() override {
    if (InScope()) return nullptr;  // already in one
    return std::make_unique<Scope>(this);
  }

  CacheStats Stats() const override {
    CacheStats s;
    s.tokens = tokens_stats_.Read();
    s.tasks = tasks_stats_.Read();
    s.runs = runs_stats_.Read();
    return s;
  }

  Status Ping() override { return inner_->Ping(); }

  // --- identity: only the joined token lookup is held ---
  Status CreateDomain(const Domain& d) override {
    SMS_RETURN_IF_ERROR(Writable());
    return inner_->CreateDomain(d);
  }
  Result<Domain> GetDomainByName(const std::string& name) override {
    return Inner()->GetDomainByName(name);
  }
  Result<Domain> GetDomain(const std::string& id) override {
    return Inner()->GetDomain(id);
  }
  Status CreateUser(const User& u) override {
    SMS_RETURN_IF_ERROR(Writable());
    return inner_->CreateUser(u);
  }
  Result<User> GetUserByName(const std::string& domain_id,
                             const std::string& name) override {
    return Inner()->GetUserByName(domain_id, name);
  }
  Result<User> GetUser(const std::string& domain_id,
                       const std::string& id) override {
    return Inner()->GetUser(domain_id, id);
  }
  Status CreateCredential(const Credential& c) override {
    SMS_RETURN_IF_ERROR(Writable());
    return inner_->CreateCredential(c);
  }
  // Not held: `sms-server admin revoke-credential` writes from another
  // process, and must take effect at once.
  Result<Credential> GetCredential(const std::string& access_key) override {
    return Inner()->GetCredential(access_key);
  }
  Status RevokeCredential(const std::string& access_key, int64_t now) override {
    SMS_RETURN_IF_ERROR(Writable());
    return inner_->RevokeCredential(access_key, now);
  }
  Status CreateToken(const Token& t) override {
    SMS_RETURN_IF_ERROR(Writable());
    return inner_->CreateToken(t);
  }
  Result<Token> GetToken(const std::string& token_hash) override {
    return Inner()->GetToken(token_hash);
  }
  Result<TokenIdentity> ResolveToken(const std::string& token_hash) override {
    {
      std::shared_lock lock(mu_);
      if (auto it = tokens_.find(token_hash); it != tokens_.end()) {
        tokens_stats_.Hit();
        return it->second;
      }
    }
    tokens_stats_.Miss();
    const uint64_t gen = FillGeneration();
    auto r = Inner()->ResolveToken(token_hash);
    if (r) Put(gen, tokens_, limits_.tokens, token_hash, *r);
    return r;
  }
  Status RevokeToken(const std::string& token_hash, int64_t now) override {
    SMS_RETURN_IF_ERROR(Writable());
    return Cleared(inner_->RevokeToken(token_hash, now));
  }

  // --- sources: not held ---
  Result<Source> UpsertSource(const Source& s) override {
    SMS_RETURN_IF_ERROR(Writable());
    return inner_->UpsertSource(s);
  }
  Result<Source> GetSource(const std::string& domain_id,
                           const std::string& id) override {
    return Inner()->GetSource(domain_id, id);
  }
  Result<Page<Source>> ListSources(const std::string& domain_id,
                                   const SourceFilter& f) override {
    return Inner()->ListSources(domain_id, f);
  }
  Status TouchSource(const std::string& domain_id, const std::string& id,
                     int64_t now) override {
    SMS_RETURN_IF_ERROR(Writable());
    return inner_->TouchSource(domain_id, id, now);
  }

  // --- tasks ---
  Status CreateTask(const Task& t) override {
    SMS_RETURN_IF_ERROR(Writable());
    return inner_->CreateTask(t);
  }
  Result<Task> GetTask(const std::string& domain_id,
                       const std::string& id) override {
    std::string key = Key(domain_id, id);
    {
      std::shared_lock lock(mu_);
      if (auto it = tasks_.find(key); it != tasks_.end()) {
        tasks_stats_.Hit();
        return it->second;
      }
    }
    tasks_stats_.Miss();
    const uint64_t gen = FillGeneration();
    auto r = Inner()->GetTask(domain_id, id);
    if (r) Put(gen, tasks_, limits_.tasks, std::move(key), *r);
    return r;
  }
  Result<Page<Task>> ListTasks(const std::string& domain_id,
                               const TaskFilter& f) override {
    return Inner()->ListTasks(domain_id, f);
  }
  Status DeleteTask(const std::string& domain_id,
                    const std::string& id) override {
    SMS_RETURN_IF_ERROR(Writable());
    return Cleared(inner_->DeleteTask(domain_id, id));
  }
  Status UpdateTaskState(const std::string& domain_id, const std::string& id,
                         const std::string& expected_state,
                         const std::string& new_state,
                         const std::string& current_run_id,
                         int64_t now) override {
    SMS_RETURN_IF_ERROR(Writable());
    return Cleared(inner_->UpdateTaskState(domain_id, id, expected_state,
                                           new_state, current_run_id, now));
  }
  Status PutTaskConfigs(const std::string& domain_id,
                        const std::string& task_id,
                        const std::vector<ConfigEntry>& entries) override {
    SMS_RETURN_IF_ERROR(Writable());
    return Cleared(inner_->PutTaskConfigs(domain_id, task_id, entries));
  }
  Result<std::vector<ConfigEntry>> GetTaskConfigs(
      const std::string& domain_id, const std::string& task_id) override {
    return Inner()->GetTaskConfigs(domain_id, task_id);
  }

  // --- commands ---
  Result<Command> EnqueueCommand(const Command& c,
                                 const std::string& expected_state,
                                 const std::string& new_state) override {
    SMS_RETURN_IF_ERROR(Writable());
    return Cleared(inner_->EnqueueCommand(c, expected_state, new_state));
  }
  Result<std::optional<Command>> NextCommand(const std::string& domain_id,
                                             const std::string& source_id,
                                             int64_t now) override {
    SMS_RETURN_IF_ERROR(Writable());
    auto r = inner_->NextCommand(domain_id, source_id, now);
    // Nothing delivered: only the source's heartbeat was written.
    if (r && !r->has_value()) return r;
    return Cleared(std::move(r));
  }
  Result<Command> LatestTaskCommand(const std::string& domain_id,
                                    const std::string& task_id) override {
    return Inner()->LatestTaskCommand(domain_id, task_id);
  }
  Result<Command> LatestDeliveredCommand(const std::string& domain_id,
                                         const std::string& source_id,
                                         const std::string& name) override {
    return Inner()->LatestDeliveredCommand(domain_id, source_id, name);
  }
  Status CancelPendingCommand(const std::string& domain_id, int64_t command_id,
                              int64_t now) override {
    SMS_RETURN_IF_ERROR(Writable());
    return Cleared(inner_->CancelPendingCommand(domain_id, command_id, now));
  }
  Status FinishCommand(const std::string& domain_id, int64_t command_id,
                       const std::string& state, const std::string& result,
                       const std::string& result_detail, int64_t now) override {
    SMS_RETURN_IF_ERROR(Writable());
    return Cleared(inner_->FinishCommand(domain_id, command_id, state, result,
                                         result_detail, now));
  }

  // --- runs and details ---
  Result<CommitOutcome> CommitRun(const Run& run) override {
    SMS_RETURN_IF_ERROR(Writable());
    return Cleared(inner_->CommitRun(run));
  }
  Result<std::vector<Run>> ListRuns(const std::string& domain_id,
                                    const std::string& task_id,
                                    int limit) override {
    std::string key = Key(Key(domain_id, task_id), std::to_string(limit));
    {
      std::shared_lock lock(mu_);
      if (auto it = runs_.find(key); it != runs_.end()) {
        runs_stats_.Hit();
        return it->second;
      }
    }
    runs_stats_.Miss();
    const uint64_t gen = FillGeneration();
    auto r = Inner()->ListRuns(domain_id, task_id, limit);
    if (!r) return r;
    size_t dirs = 0;
    for (const Run& run : *r) dirs += run.dirs.size();
    std::unique_lock lock(mu_);
    if (generation_.load(std::memory_order_relaxed) != gen ||
        dirs > limits_.run_dirs)
      return r;
    if (runs_.size() >= limits_.run_lists ||
        run_dirs_held_ + dirs > limits_.run_dirs) {
      runs_.clear();
      run_dirs_held_ = 0;
    }
    if (runs_.emplace(std::move(key), *r).second) run_dirs_held_ += dirs;
    return r;
  }
  Result<Run> GetRun(const std::string& domain_id,
                     const std::string& run_id) override {
    return Inner()->GetRun(domain_id, run_id);
  }
  Result<StageOutcome> StageDetails(const DetailChunk& chunk) override {
    SMS_RETURN_IF_ERROR(Writable());
    return inner_->StageDetails(chunk);
  }
  Result<DetailPage> ListDetails(const std::string& domain_id,
                                 const DetailQuery& q) override {
    return Inner()->ListDetails(domain_id, q);
  }

 private:
  // The generation is read at the scope's start, before the inner store
  // takes its snapshot (at the scope's first miss).
  class Scope final : public ReadScope {
   public:
    explicit Scope(CachingStoreImpl* s) : saved_(t_scope) {
      state_.store = s;
      state_.generation = s->generation_.load(std::memory_order_acquire);
      t_scope = &state_;
    }
    ~Scope() override {
      state_.inner.reset();  // ends the inner read transaction
      t_scope = saved_;
    }

   private:
    ScopeState state_;
    ScopeState* saved_;
  };

  bool InScope() const { return t_scope != nullptr && t_scope->store == this; }

  // The inner store for a read; in a scope, begins the inner one first.
  Store* Inner() {
    if (InScope() && !t_scope->inner_begun) {
      t_scope->inner = inner_->BeginReadScope();
      t_scope->inner_begun = true;
    }
    return inner_.get();
  }

  // The generation a miss may fill the cache at: read before the inner
  // store's snapshot.
  uint64_t FillGeneration() const {
    return InScope() ? t_scope->generation
                     : generation_.load(std::memory_order_acquire);
  }

  // Writes are refused inside a read scope, as the inner store does (which
  // may not have begun its own scope yet).
  Status Writable() const {
    if (InScope())
      return core::Fail(core::Internal("a write inside a read-only scope"));
    return core::Ok();
  }

  template <typename Map, typename Value>
  void Put(uint64_t gen, Map& map, size_t limit, std::string key,
           const Value& v) {
    std::unique_lock lock(mu_);
    if (generation_.load(std::memory_order_relaxed) != gen) return;
    if (map.size() >= limit) map.clear();
    map.emplace(std::move(key), v);
  }

  // Clears the cache after a write that may have changed a held record,
  // whether it succeeded or not (a failed commit may still have landed).
  template <typename R>
  R Cleared(R r) {
    std::unique_lock lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
    tokens_.clear();
    tasks_.clear();
    runs_.clear();
    run_dirs_held_ = 0;
    return r;
  }

  // Hit and miss counts of one table (relaxed: statistics).
  class Counter {
   public:
    void Hit() { hits_.fetch_add(1, std::memory_order_relaxed); }
    void Miss() { misses_.fetch_add(1, std::memory_order_relaxed); }
    CacheStats::Table Read() const {
      return {hits_.load(std::memory_order_relaxed),
              misses_.load(std::memory_order_relaxed)};
    }

   private:
    std::atomic<uint64_t> hits_{0};
    std::atomic<uint64_t> misses_{0};
  };

  const std::unique_ptr<Store> inner_;
  const CacheLimits limits_;
  Counter tokens_stats_;
  Counter tasks_stats_;
  Counter runs_stats_;
  std::atomic<uint64_t> generation_{0};  // written under mu_
  std::shared_mutex mu_;
  // State below is protected by mu_.
  std::unordered_map<std::string, TokenIdentity> tokens_;
  std::unordered_map<std::string, Task> tasks_;
  std::unordered_map<std::string, std::vector<Run>> runs_;
  size_t run_dirs_held_ = 0;
};

}  // namespace

std::unique_ptr<CachingStore> NewCachingStore(std::unique_ptr<Store> inner,
                                              const CacheLimits& limits) {
  return std::make_unique<CachingStoreImpl>(std::move(inner), limits);
}

}  // namespace sms::storage
