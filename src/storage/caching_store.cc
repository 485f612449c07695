#include "storage/caching_store.h"

#include <array>
#include <atomic>
#include <chrono>
#include <limits>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <utility>

namespace sms::storage {

namespace {

// The groups of tables that are cleared together, each with its own
// generation count (CachingStoreImpl::ClearLocked).
enum Group : unsigned {
  kTokenGroup = 0,       // tokens (with their user and domain)
  kTaskGroup = 1,        // tasks and run lists
  kIdentityGroup = 2,    // credentials, users and domains
  kSourceGroup = 3,      // sources' owners
  kIdleGroup = 4,        // idle sources (a cached negative: no command)
  kTaskSourceGroup = 5,  // tasks' sources (what a task keeps from creation)
  kGroups = 6,
};

// The read scope this thread is in, for the store that began it.
struct ScopeState {
  const void* store = nullptr;
  // Read before any of the scope's reads, one per group.
  std::array<uint64_t, kGroups> generation{};
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

// What a held value costs against its table's second budget: run lists
// are also bounded by the directories they hold.
size_t Cost(const TokenIdentity&) { return 0; }
size_t Cost(const Task&) { return 0; }
size_t Cost(const Credential&) { return 0; }
size_t Cost(const User&) { return 0; }
size_t Cost(const Domain&) { return 0; }
size_t Cost(const std::string&) { return 0; }
size_t Cost(bool) { return 0; }
size_t Cost(const std::vector<Run>& runs) {
  size_t dirs = 0;
  for (const Run& r : runs) dirs += r.dirs.size();
  return dirs;
}

class CachingStoreImpl final : public CachingStore {
 public:
  // `shared`: null for a database this process alone writes.
  CachingStoreImpl(std::unique_ptr<Store> inner, const CacheLimits& limits,
                   const SharedCacheOptions* shared)
      : inner_(std::move(inner)),
        tokens_(kTokenGroup, limits.tokens),
        tasks_(kTaskGroup, limits.tasks),
        runs_(kTaskGroup, limits.run_lists, limits.run_dirs),
        credentials_(kIdentityGroup, limits.credentials),
        users_(kIdentityGroup, limits.users),
        domains_(kIdentityGroup, limits.domains),
        source_owners_(kSourceGroup, limits.sources),
        idle_(kIdleGroup, limits.idle_sources),
        task_sources_(kTaskSourceGroup, limits.task_sources),
        clock_(shared == nullptr          ? nullptr
               : shared->clock != nullptr ? shared->clock
                                          : &core::SystemClock()),
        max_lag_(std::chrono::milliseconds(
            shared != nullptr ? shared->max_lag_ms : 0)),
        listening_(shared == nullptr) {}

  std::unique_ptr<ReadScope> BeginReadScope() override {
    if (InScope()) return nullptr;  // already in one
    return std::make_unique<Scope>(this);
  }

  CacheStats Stats() const override {
    CacheStats s{tokens_.stats.Read(), tasks_.stats.Read(), runs_.stats.Read(),
                 idle_.stats.Read()};
    s.sources = source_owners_.stats.Read();
    s.task_sources = task_sources_.stats.Read();
    for (const CacheStats::Table t :
         {credentials_.stats.Read(), users_.stats.Read(),
          domains_.stats.Read()}) {
      s.identity.hits += t.hits;
      s.identity.misses += t.misses;
    }
    s.changes_heard = changes_heard_.load(std::memory_order_relaxed);
    s.listener_losses = losses_.load(std::memory_order_relaxed);
    s.lagging_reads = lagging_.load(std::memory_order_relaxed);
    std::shared_lock lock(mu_);
    s.listening = listening_;
    return s;
  }

  bool LikelyServed() const override {
    return Fresh() &&
           miss_streak_.load(std::memory_order_relaxed) < kLikelyMissStreak;
  }

  // --- CacheFeed (the listener's thread) ---
  void Listening() override {
    std::unique_lock lock(mu_);
    listening_ = true;
    ClearLocked(kAll);
  }
  void Changed() override {
    changes_heard_.fetch_add(1, std::memory_order_relaxed);
    std::unique_lock lock(mu_);
    ClearLocked(kAll);
  }
  void ChangedTable(std::string_view table) override {
    changes_heard_.fetch_add(1, std::memory_order_relaxed);
    std::unique_lock lock(mu_);
    // A new command makes idle sources stale, and nothing else held; a
    // task's or a run's write, the held tasks and run lists only (a token
    // with its user and domain does not change with them); a credential's,
    // the held credentials, users and domains only; a source's deletion or
    // new owner (not its heartbeat: migrations/postgres/0018), the held
    // owners only; any other write (tokens, users, domains, or a table not
    // known here), every held record but the idle sources.
    // A task's deletion, or a new id, tenant or source by hand (not the
    // writes of its state: migrations/postgres/0022), the held tasks'
    // sources only ("tasks" comes with it for the deletion).
    // A new command names its source ("commands DOMAIN SOURCE", 0018):
    // only that one is forgotten.
    if (auto source = CommandSource(table))
      ForgetIdleLocked(Key(source->first, source->second));
    else if (table == "commands" || table.starts_with("commands "))
      ClearLocked(kIdle);
    else if (table == "tasks" || table == "runs")
      ClearLocked(kTaskRecords);
    else if (table == "credentials")
      ClearLocked(kIdentity);
    else if (table == "sources")
      ClearLocked(kSources);
    else if (table == "task_sources")
      ClearLocked(kTaskSources);
    else
      ClearLocked(kEverything);
  }
  void Heard(core::Clock::TimePoint sent) override {
    const int64_t ns = sent.time_since_epoch().count();
    int64_t prev = heard_ns_.load(std::memory_order_relaxed);
    while (prev < ns && !heard_ns_.compare_exchange_weak(
                            prev, ns, std::memory_order_release)) {
    }
  }
  void Lost() override {
    losses_.fetch_add(1, std::memory_order_relaxed);
    std::unique_lock lock(mu_);
    listening_ = clock_ == nullptr;  // a local cache has no listener
    heard_ns_.store(kNeverHeard, std::memory_order_release);
    ClearLocked(kAll);
  }

  Status Ping() override { return inner_->Ping(); }
  Status CheckWritable() override { return inner_->CheckWritable(); }

  // Reads go through Inner() (which joins a read scope); held ones through
  // Read(). Writes go through Pass() when they cannot change a held record,
  // Clear(groups, ...) when they can: kTaskRecords for a task, its runs or
  // its commands (which move the task's state; held tokens stay, so uploads
  // and polls keep their token's entry), kIdentity for a credential (a
  // revocation), kEverything for the rest.

  // --- identity: the joined token lookup is held; a shared cache also
  // holds credentials, users and domains by id (the AK/SK path: every
  // signed request reads all three). A local cache does not: on SQLite,
  // `sms-server admin` (revoke-credential, create-user...) writes them from
  // another process, unheard, and must take effect at the next request.
  // On PostgreSQL that process's writes are heard like a replica's
  // (migrations/postgres/0014 and 0017 triggers). ---
  Status CreateDomain(const Domain& d) override {
    return Pass(&Store::CreateDomain, d);
  }
  Result<Domain> GetDomainByName(const std::string& name) override {
    return Inner()->GetDomainByName(name);
  }
  Result<Domain> GetDomain(const std::string& id) override {
    if (!HoldsIdentity()) return Inner()->GetDomain(id);
    return Read(domains_, id, [&] { return Inner()->GetDomain(id); });
  }
  Status CreateUser(const User& u) override {
    return Pass(&Store::CreateUser, u);
  }
  Result<User> GetUserByName(const std::string& domain_id,
                             const std::string& name) override {
    return Inner()->GetUserByName(domain_id, name);
  }
  Result<User> GetUser(const std::string& domain_id,
                       const std::string& id) override {
    if (!HoldsIdentity()) return Inner()->GetUser(domain_id, id);
    return Read(users_, Key(domain_id, id),
                [&] { return Inner()->GetUser(domain_id, id); });
  }
  Status CreateCredential(const Credential& c) override {
    return Pass(&Store::CreateCredential, c);
  }
  Result<Credential> GetCredential(const std::string& access_key) override {
    if (!HoldsIdentity()) return Inner()->GetCredential(access_key);
    return Read(credentials_, access_key,
                [&] { return Inner()->GetCredential(access_key); });
  }
  Status RevokeCredential(const std::string& access_key, int64_t now) override {
    return Clear(kIdentity, &Store::RevokeCredential, access_key, now);
  }
  Status CreateToken(const Token& t) override {
    return Pass(&Store::CreateToken, t);
  }
  Result<Token> GetToken(const std::string& token_hash) override {
    return Inner()->GetToken(token_hash);
  }
  Result<TokenIdentity> ResolveToken(const std::string& token_hash) override {
    return Read(tokens_, token_hash,
                [&] { return Inner()->ResolveToken(token_hash); });
  }
  Status RevokeToken(const std::string& token_hash, int64_t now) override {
    return Clear(kEverything, &Store::RevokeToken, token_hash, now);
  }

  Result<std::vector<bool>> RememberSignatures(
      const std::vector<UsedSignature>& keys, int64_t now) override {
    return Pass(&Store::RememberSignatures, keys, now);
  }
  Result<int64_t> PurgeSignatures(int64_t now, int limit) override {
    return Pass(&Store::PurgeSignatures, now, limit);
  }

  // --- failed logins: not held (admin unlock-login writes from another
  // process) ---
  Result<LoginFailures> GetLoginFailures(const LoginFailureKey& key,
                                         int64_t since) override {
    return Inner()->GetLoginFailures(key, since);
  }
  Result<LoginFailures> RecordLoginFailure(const LoginFailureKey& key,
                                           int64_t now,
                                           int64_t since) override {
    return Pass(&Store::RecordLoginFailure, key, now, since);
  }
  Result<int64_t> ClearLoginFailures(const LoginFailureKey& key) override {
    return Pass(&Store::ClearLoginFailures, key);
  }

  // --- sources: only their owners are held (the agent loop's check on
  // every poll). A source's registration cannot change a held owner (an
  // existing source keeps its owner, and a miss is never held), nor can a
  // heartbeat; neither clears them. No write of this store deletes a
  // source or gives it another owner: on PostgreSQL a deletion or a new
  // owner by hand is reported (table "sources", migrations/postgres/0018)
  // like any write. The whole record is not held: its last_seen_at moves
  // with every heartbeat flush. ---
  Result<Source> UpsertSource(const Source& s) override {
    return Pass(&Store::UpsertSource, s);
  }
  Status RecordHeartbeats(const std::vector<Heartbeat>& beats) override {
    return Pass(&Store::RecordHeartbeats, beats);
  }
  Result<Source> GetSource(const std::string& domain_id,
                           const std::string& id) override {
    return Inner()->GetSource(domain_id, id);
  }
  Result<std::string> GetSourceOwner(const std::string& domain_id,
                                     const std::string& id) override {
    return Read(source_owners_, Key(domain_id, id),
                [&] { return Inner()->GetSourceOwner(domain_id, id); });
  }
  Result<Page<Source>> ListSources(const std::string& domain_id,
                                   const SourceFilter& f) override {
    return Inner()->ListSources(domain_id, f);
  }

  // --- tasks ---
  Status CreateTask(const Task& t) override {
    return Pass(&Store::CreateTask, t);
  }
  Result<Task> GetTask(const std::string& domain_id,
                       const std::string& id) override {
    return Read(tasks_, Key(domain_id, id),
                [&] { return Inner()->GetTask(domain_id, id); });
  }
  // Held in a group of its own: the writes of a task's state (a run's
  // commit writes its verdict, several a second under uploads) cannot
  // change its source and leave it held; only the task's deletion does.
  Result<std::string> GetTaskSource(const std::string& domain_id,
                                    const std::string& id) override {
    return Read(task_sources_, Key(domain_id, id),
                [&] { return Inner()->GetTaskSource(domain_id, id); });
  }
  Result<Page<Task>> ListTasks(const std::string& domain_id,
                               const TaskFilter& f) override {
    return Inner()->ListTasks(domain_id, f);
  }
  Status DeleteTask(const std::string& domain_id,
                    const std::string& id) override {
    return Clear(kTaskRecords | kTaskSources, &Store::DeleteTask, domain_id,
                 id);
  }
  Status UpdateTaskState(const std::string& domain_id, const std::string& id,
                         TaskState expected_state, TaskState new_state,
                         const std::string& current_run_id,
                         int64_t now) override {
    return Clear(kTaskRecords, &Store::UpdateTaskState, domain_id, id,
                 expected_state, new_state, current_run_id, now);
  }
  Status PutTaskConfigs(const std::string& domain_id,
                        const std::string& task_id,
                        const std::vector<ConfigEntry>& entries) override {
    return Clear(kTaskRecords, &Store::PutTaskConfigs, domain_id, task_id,
                 entries);
  }
  Result<std::vector<ConfigEntry>> GetTaskConfigs(
      const std::string& domain_id, const std::string& task_id) override {
    return Inner()->GetTaskConfigs(domain_id, task_id);
  }

  // --- schedules: each changes a held task's next_check_at ---
  Status SetNextCheck(const std::string& domain_id, const std::string& task_id,
                      std::optional<int64_t> next_check_at) override {
    return Clear(kTaskRecords, &Store::SetNextCheck, domain_id, task_id,
                 next_check_at);
  }
  Result<std::vector<DueCheck>> ClaimDueChecks(int64_t now, int64_t lease_until,
                                               int limit) override {
    // Polled every few seconds: a claim of nothing keeps the cache.
    auto r = Pass(&Store::ClaimDueChecks, now, lease_until, limit);
    if (!r || !r->empty()) ClearNow(kTaskRecords);
    return r;
  }
  Status FinishDueCheck(const DueCheck& claimed, std::optional<int64_t> next,
                        bool skipped) override {
    return Clear(kTaskRecords, &Store::FinishDueCheck, claimed, next, skipped);
  }
  Status RefreshReadiness(const std::string& domain_id,
                          const std::string& task_id) override {
    return Clear(kTaskRecords, &Store::RefreshReadiness, domain_id, task_id);
  }

  // --- commands ---
  Result<Command> EnqueueCommand(const Command& c, TaskState expected_state,
                                 TaskState new_state) override {
    auto r = Clear(kTaskRecords, &Store::EnqueueCommand, c, expected_state,
                   new_state);
    // After the commit (failed or not: it may have landed), before the
    // caller is answered: a poll from now on reads the database.
    std::unique_lock lock(mu_);
    ForgetIdleLocked(Key(c.domain_id, c.source_id));
    return r;
  }
  // "None" held per source (idle sources, caching_store.h).
  Result<std::optional<Command>> NextCommand(const std::string& domain_id,
                                             const std::string& source_id,
                                             int64_t now) override {
    if (InScope())
      return core::Fail(core::Internal("a write inside a read-only scope"));
    std::string key = Key(domain_id, source_id);
    const bool fresh = Fresh();
    if (fresh) {
      std::shared_lock lock(mu_);
      if (idle_.entries.contains(key)) {
        idle_.stats.Hit();
        return std::optional<Command>();
      }
    } else {
      lagging_.fetch_add(1, std::memory_order_relaxed);
    }
    idle_.stats.Miss();
    const uint64_t gen =
        generation_[kIdleGroup].load(std::memory_order_acquire);
    auto r = Pass(&Store::NextCommand, domain_id, source_id, now);
    // Something delivered, or an error: the command's state changed.
    if (!r || r->has_value()) {
      ClearNow(kTaskRecords);
      return r;
    }
    // Nothing delivered (nothing was written): held, unless a command was
    // enqueued (or heard of) since before the read.
    if (fresh) Hold(idle_, gen, std::move(key), true);
    return r;
  }
  Result<Command> LatestTaskCommand(const std::string& domain_id,
                                    const std::string& task_id) override {
    return Inner()->LatestTaskCommand(domain_id, task_id);
  }
  Result<Command> LatestDeliveredCommand(const std::string& domain_id,
                                         const std::string& source_id,
                                         CommandName name) override {
    return Inner()->LatestDeliveredCommand(domain_id, source_id, name);
  }
  Result<Command> DeliveredCommandOfRun(const std::string& domain_id,
                                        const std::string& source_id,
                                        const std::string& run_id) override {
    return Inner()->DeliveredCommandOfRun(domain_id, source_id, run_id);
  }
  Status CancelPendingCommand(const std::string& domain_id, int64_t command_id,
                              int64_t now) override {
    return Clear(kTaskRecords, &Store::CancelPendingCommand, domain_id,
                 command_id, now);
  }
  Status FinishCommand(const std::string& domain_id, int64_t command_id,
                       CommandState state, const std::string& result,
                       const std::string& result_detail, int64_t now) override {
    return Clear(kTaskRecords, &Store::FinishCommand, domain_id, command_id,
                 state, result, result_detail, now);
  }

  // --- runs and details ---
  Result<CommitOutcome> CommitRun(const Run& run) override {
    return Clear(kTaskRecords, &Store::CommitRun, run);
  }
  Result<std::vector<Run>> ListRuns(const std::string& domain_id,
                                    const std::string& task_id,
                                    int limit) override {
    return Read(runs_, Key(Key(domain_id, task_id), std::to_string(limit)),
                [&] { return Inner()->ListRuns(domain_id, task_id, limit); });
  }
  Result<std::vector<Run>> ListRunsBefore(const std::string& domain_id,
                                          const std::string& task_id,
                                          const std::string& before_run_id,
                                          int limit) override {
    return Inner()->ListRunsBefore(domain_id, task_id, before_run_id, limit);
  }
  Result<Run> GetRun(const std::string& domain_id,
                     const std::string& run_id) override {
    return Inner()->GetRun(domain_id, run_id);
  }
  Result<StageOutcome> StageDetails(const DetailChunk& chunk) override {
    return Pass(&Store::StageDetails, chunk);
  }
  Result<DetailPage> ListDetails(const std::string& domain_id,
                                 const DetailQuery& q) override {
    return Inner()->ListDetails(domain_id, q);
  }

  // --- changes, webhooks, retention: nothing here is cached, and none of
  // it changes a cached table (retention keeps runs and their directories).
  Result<std::vector<ChangeRow>> ListChanges(const std::string& domain_id,
                                             const ChangeQuery& q) override {
    return Inner()->ListChanges(domain_id, q);
  }
  Result<bool> DetailsPurged(const std::string& domain_id,
                             const std::string& run_id) override {
    return Inner()->DetailsPurged(domain_id, run_id);
  }
  Status CreateWebhook(const Webhook& w) override {
    return Inner()->CreateWebhook(w);
  }
  Result<std::vector<Webhook>> ListWebhooks(
      const std::string& domain_id) override {
    return Inner()->ListWebhooks(domain_id);
  }
  Result<Webhook> GetWebhook(const std::string& domain_id,
                             const std::string& id) override {
    return Inner()->GetWebhook(domain_id, id);
  }
  Status DeleteWebhook(const std::string& domain_id,
                       const std::string& id) override {
    return Inner()->DeleteWebhook(domain_id, id);
  }
  Result<std::vector<Delivery>> ClaimDeliveries(const std::string& owner,
                                                int64_t now,
                                                int64_t lease_until,
                                                int limit) override {
    return Inner()->ClaimDeliveries(owner, now, lease_until, limit);
  }
  Status RecordAttempt(const DeliveryAttempt& a) override {
    return Inner()->RecordAttempt(a);
  }
  Result<std::vector<AttemptRow>> ListAttempts(const std::string& domain_id,
                                               const std::string& webhook_id,
                                               int limit) override {
    return Inner()->ListAttempts(domain_id, webhook_id, limit);
  }
  Result<std::vector<Delivery>> ListRunDeliveries(
      const std::string& domain_id, const std::string& run_id) override {
    return Inner()->ListRunDeliveries(domain_id, run_id);
  }
  Result<std::vector<TaskRef>> ListTasksWithDetails(const TaskRef& after,
                                                    int limit) override {
    return Inner()->ListTasksWithDetails(after, limit);
  }
  Result<int64_t> PurgeDetails(const std::string& domain_id,
                               const std::string& task_id,
                               const RetentionPolicy& policy, int64_t now,
                               int max_rows) override {
    return Inner()->PurgeDetails(domain_id, task_id, policy, now, max_rows);
  }
  // A tenant's settings: not cached (the retention worker reads them once
  // per tenant and pass).
  Result<std::optional<std::string>> GetDomainSetting(
      const std::string& domain_id, const std::string& key) override {
    return Inner()->GetDomainSetting(domain_id, key);
  }
  Status PutDomainSetting(const std::string& domain_id, const std::string& key,
                          const std::string& value) override {
    return Inner()->PutDomainSetting(domain_id, key, value);
  }
  Result<Page<SourcePoll>> ListSourcePolls(int limit) override {
    return Inner()->ListSourcePolls(limit);
  }
  Result<Page<TaskStreak>> ListTaskStreaks(int limit, int window) override {
    return Inner()->ListTaskStreaks(limit, window);
  }

 private:
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

  // One table of held values: at most `max_entries`, and at most
  // `max_cost` in all (Cost()); emptied when a new value would exceed
  // either. `entries` and `cost` are protected by mu_.
  // `group`: whose generation a fill checks.
  template <typename V>
  struct Table {
    Table(Group of, size_t entries_limit,
          size_t cost_limit = std::numeric_limits<size_t>::max())
        : group(of), max_entries(entries_limit), max_cost(cost_limit) {}
    std::unordered_map<std::string, V> entries;
    size_t cost = 0;
    const Group group;
    const size_t max_entries;
    const size_t max_cost;
    Counter stats;
  };

  // The generations are read at the scope's start, before the inner store
  // takes its snapshot (at the scope's first miss).
  class Scope final : public ReadScope {
   public:
    explicit Scope(CachingStoreImpl* s) : saved_(t_scope) {
      state_.store = s;
      for (unsigned g = 0; g < kGroups; ++g)
        state_.generation[g] =
            s->generation_[g].load(std::memory_order_acquire);
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

  // The held value of `key` in `table`, else `fetch()`, held if found and
  // no write clearing its table happened since before its snapshot: the
  // table's group generation is read before the inner store's read (or at
  // the scope's start).
  // A shared cache neither serves nor fills while its listener lags (the
  // last fence heard was sent more than max_lag ago, or none since
  // Listening()).
  template <typename V, typename Fetch>
  Result<V> Read(Table<V>& table, std::string key, Fetch fetch) {
    const bool fresh = Fresh();
    if (fresh) {
      std::shared_lock lock(mu_);
      if (auto it = table.entries.find(key); it != table.entries.end()) {
        table.stats.Hit();
        // Written only when it changes: hits stay read-only on it.
        if (miss_streak_.load(std::memory_order_relaxed) != 0)
          miss_streak_.store(0, std::memory_order_relaxed);
        return it->second;
      }
    } else {
      lagging_.fetch_add(1, std::memory_order_relaxed);
    }
    table.stats.Miss();
    if (miss_streak_.load(std::memory_order_relaxed) < kLikelyMissStreak)
      miss_streak_.fetch_add(1, std::memory_order_relaxed);
    const uint64_t gen =
        InScope() ? t_scope->generation[table.group]
                  : generation_[table.group].load(std::memory_order_acquire);
    Result<V> r = fetch();
    if (r && fresh) Hold(table, gen, std::move(key), *r);
    return r;
  }

  // Holds `value` read under generation `gen` of its table's group, unless
  // that group was cleared since (or the listener is not listening), within
  // the table's limits.
  template <typename V>
  void Hold(Table<V>& table, uint64_t gen, std::string key, const V& value) {
    const size_t cost = Cost(value);
    std::unique_lock lock(mu_);
    if (generation_[table.group].load(std::memory_order_relaxed) != gen ||
        !listening_ || cost > table.max_cost)
      return;
    if (table.entries.size() >= table.max_entries ||
        table.cost + cost > table.max_cost)
      ClearTable(table);
    if (table.entries.emplace(std::move(key), value).second) table.cost += cost;
  }

  // A write that cannot change a held record. Writes are refused inside a
  // read scope, as the inner store does (which may not have begun its own
  // scope yet).
  template <typename R, typename... P, typename... A>
  R Pass(R (Store::*write)(P...), A&&... args) {
    if (InScope())
      return core::Fail(core::Internal("a write inside a read-only scope"));
    return (inner_.get()->*write)(std::forward<A>(args)...);
  }

  // A write that may change a record held in `groups` (kTaskRecords,
  // kIdentity, kEverything...): those groups are cleared after it, whether
  // it succeeded or not (a failed commit may still have landed).
  template <typename R, typename... P, typename... A>
  R Clear(unsigned groups, R (Store::*write)(P...), A&&... args) {
    R r = Pass(write, std::forward<A>(args)...);
    ClearNow(groups);
    return r;
  }

  // True when held records may be served: always for a local cache; for a
  // shared one while the last fence heard is younger than max_lag.
  bool Fresh() const {
    if (clock_ == nullptr) return true;
    const int64_t heard = heard_ns_.load(std::memory_order_acquire);
    if (heard == kNeverHeard) return false;
    return clock_->Now() -
               core::Clock::TimePoint(core::Clock::Duration(heard)) <=
           max_lag_;
  }

  // One idle source is forgotten, and a read of any that began before is
  // not held (under mu_ held exclusively).
  void ForgetIdleLocked(const std::string& key) {
    generation_[kIdleGroup].fetch_add(1, std::memory_order_release);
    idle_.entries.erase(key);
  }

  // The (domain, source) a new command's notification names ("commands
  // DOMAIN SOURCE", migrations/postgres/0018), or nullopt for another
  // payload or one that does not split in two at a single space.
  static std::optional<std::pair<std::string, std::string>> CommandSource(
      std::string_view payload) {
    constexpr std::string_view kPrefix = "commands ";
    if (!payload.starts_with(kPrefix)) return std::nullopt;
    payload.remove_prefix(kPrefix.size());
    const size_t space = payload.find(' ');
    if (space == std::string_view::npos || space == 0 ||
        space + 1 == payload.size() ||
        payload.find(' ', space + 1) != std::string_view::npos)
      return std::nullopt;
    return std::pair{std::string(payload.substr(0, space)),
                     std::string(payload.substr(space + 1))};
  }

  // Only a shared cache holds credentials, users and domains (see above).
  bool HoldsIdentity() const { return clock_ != nullptr; }

  // Which groups of tables ClearLocked empties.
  static constexpr unsigned kTokens = 1u << kTokenGroup;
  static constexpr unsigned kTaskRecords = 1u << kTaskGroup;
  static constexpr unsigned kIdentity = 1u << kIdentityGroup;
  static constexpr unsigned kSources = 1u << kSourceGroup;
  static constexpr unsigned kIdle = 1u << kIdleGroup;
  static constexpr unsigned kTaskSources = 1u << kTaskSourceGroup;
  // Every held record: what a token's revocation, or a report of a table
  // not known here, clears. Idle sources stay: only a command (or the
  // listener) makes them stale.
  static constexpr unsigned kEverything =
      kTokens | kTaskRecords | kIdentity | kSources | kTaskSources;
  // And the idle sources: the listener's start, loss, or a report without
  // a table.
  static constexpr unsigned kAll = kEverything | kIdle;

  void ClearNow(unsigned groups) {
    std::unique_lock lock(mu_);
    ClearLocked(groups);
  }
  // One generation per group: a read of a table that began before its
  // group was cleared is not held; the clearing of another group (a run's
  // commit, several a second under uploads) does not stop it.
  void ClearLocked(unsigned groups) {
    for (unsigned g = 0; g < kGroups; ++g)
      if (groups & (1u << g))
        generation_[g].fetch_add(1, std::memory_order_release);
    if (groups & kTokens) ClearTable(tokens_);
    if (groups & kTaskRecords) {
      ClearTable(tasks_);
      ClearTable(runs_);
    }
    if (groups & kIdentity) {
      ClearTable(credentials_);
      ClearTable(users_);
      ClearTable(domains_);
    }
    if (groups & kSources) ClearTable(source_owners_);
    if (groups & kIdle) ClearTable(idle_);
    if (groups & kTaskSources) ClearTable(task_sources_);
  }
  template <typename V>
  static void ClearTable(Table<V>& table) {
    table.entries.clear();
    table.cost = 0;
  }

  static constexpr int64_t kNeverHeard = std::numeric_limits<int64_t>::min();
  static constexpr uint32_t kLikelyMissStreak = 4;

  const std::unique_ptr<Store> inner_;
  std::array<std::atomic<uint64_t>, kGroups> generation_{};  // under mu_
  mutable std::shared_mutex mu_;
  Table<TokenIdentity> tokens_;
  Table<Task> tasks_;
  Table<std::vector<Run>> runs_;
  Table<Credential> credentials_;
  Table<User> users_;
  Table<Domain> domains_;
  Table<std::string> source_owners_;  // the owner's user id
  // Idle sources (the value is unused): only a command (or the listener's
  // start or loss) makes them stale.
  Table<bool> idle_;
  // Each task's source id: only the task's deletion (or the listener's
  // start or loss, or an unknown table) makes it stale.
  Table<std::string> task_sources_;
  // A shared cache's listener state (clock_ null: a local cache).
  core::Clock* const clock_;
  const core::Clock::Duration max_lag_;
  bool listening_;                              // protected by mu_
  std::atomic<int64_t> heard_ns_{kNeverHeard};  // the last fence's send time
  std::atomic<uint64_t> changes_heard_{0};
  std::atomic<uint64_t> losses_{0};
  std::atomic<uint64_t> lagging_{0};
  std::atomic<uint32_t> miss_streak_{0};  // reads missed in a row (capped)
};

}  // namespace

std::unique_ptr<CachingStore> NewCachingStore(std::unique_ptr<Store> inner,
                                              const CacheLimits& limits) {
  return std::make_unique<CachingStoreImpl>(std::move(inner), limits, nullptr);
}

std::unique_ptr<CachingStore> NewSharedCachingStore(
    std::unique_ptr<Store> inner, const SharedCacheOptions& options,
    const CacheLimits& limits) {
  return std::make_unique<CachingStoreImpl>(std::move(inner), limits, &options);
}

}  // namespace sms::storage
