// SqliteStore: the Store over SQLite (the default backend), declared for
// the files of this folder that define it, one per topic: identity.cc
// (domains, users, credentials, tokens, signatures), tasks.cc (sources,
// tasks, settings), commands.cc (the agent's command queue), runs.cc (runs,
// directories, details; group commit) and open.cc (the pool, read scopes,
// opening). driver.h is the connection layer under it, migrate.cc the
// schema. The public entry points are in sqlite_store.h.
//
// Thread-safety: safe for concurrent use; connections come from a pool,
// and this process's write transactions queue on write_mu_.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "schedule/readiness.h"
#include "storage/group_commit.h"
#include "storage/readiness_rules.h"
#include "storage/sqlite/driver.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/store.h"

namespace sms::storage::sqlite {

// Applies pending migrations (migrate.cc); appends the applied versions to
// `applied` when given.
Status ApplyMigrations(sqlite3* db, std::vector<int>* applied);

class SqliteStore final : public Store {
 public:
  // With two connections or more, the last is kept out of the pool as the
  // group-commit writer (CommitBatch): its page cache stays warm, where a
  // pooled connection's is dropped whenever another one has written.
  // `dir`: the database's directory; `options`: min_free_bytes and
  // free_bytes (CheckWritable).
  SqliteStore(std::vector<sqlite3*> conns, std::string dir,
              const SqliteOptions& options)
      : dir_(std::move(dir)),
        min_free_bytes_(options.min_free_bytes),
        free_bytes_(options.free_bytes),
        all_(conns) {
    writer_ = conns.back();
    if (conns.size() > 1) conns.pop_back();
    free_ = std::move(conns);
    for (sqlite3* db : all_) caches_[db] = std::make_unique<StmtCache>(db);
  }
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status Ping() override;
  Status CheckWritable() override;

  // --- identity ---
  Status CreateDomain(const Domain& d) override;
  Result<Domain> GetDomainByName(const std::string& name) override;
  Result<Domain> GetDomain(const std::string& id) override;

  Status CreateUser(const User& u) override;
  Result<User> GetUserByName(const std::string& domain_id,
                             const std::string& name) override;
  Result<User> GetUser(const std::string& domain_id,
                       const std::string& id) override;

  Status CreateCredential(const Credential& cr) override;
  Result<Credential> GetCredential(const std::string& access_key) override;
  Status RevokeCredential(const std::string& access_key, int64_t now) override;

  Status CreateToken(const Token& t) override;
  Result<Token> GetToken(const std::string& token_hash) override;
  Result<TokenIdentity> ResolveToken(const std::string& token_hash) override;
  Status RevokeToken(const std::string& token_hash, int64_t now) override;

  Result<std::vector<bool>> RememberSignatures(
      const std::vector<UsedSignature>& keys, int64_t now) override;
  Result<int64_t> PurgeSignatures(int64_t now, int limit) override;
  Result<LoginFailures> GetLoginFailures(const LoginFailureKey& key,
                                         int64_t since) override;
  Result<LoginFailures> RecordLoginFailure(const LoginFailureKey& key,
                                           int64_t now, int64_t since) override;
  Result<int64_t> ClearLoginFailures(const LoginFailureKey& key) override;

  // --- sources ---
  Result<Source> UpsertSource(const Source& s) override;
  Result<Source> GetSource(const std::string& domain_id,
                           const std::string& id) override;
  Result<std::string> GetSourceOwner(const std::string& domain_id,
                                     const std::string& id) override;
  Result<Page<Source>> ListSources(const std::string& domain_id,
                                   const SourceFilter& f) override;

  // --- tasks ---
  Status CreateTask(const Task& t) override;
  Result<Task> GetTask(const std::string& domain_id,
                       const std::string& id) override;
  Result<std::string> GetTaskSource(const std::string& domain_id,
                                    const std::string& id) override;
  Result<Page<Task>> ListTasks(const std::string& domain_id,
                               const TaskFilter& f) override;
  Status DeleteTask(const std::string& domain_id,
                    const std::string& id) override;
  Status UpdateTaskState(const std::string& domain_id, const std::string& id,
                         TaskState expected_state, TaskState new_state,
                         const std::string& current_run_id,
                         int64_t now) override;

  Status PutTaskConfigs(const std::string& domain_id,
                        const std::string& task_id,
                        const std::vector<ConfigEntry>& entries) override;
  Result<std::vector<ConfigEntry>> GetTaskConfigs(
      const std::string& domain_id, const std::string& task_id) override;

  // --- schedules (schedules.cc) ---
  Status SetNextCheck(const std::string& domain_id, const std::string& task_id,
                      std::optional<int64_t> next_check_at) override;
  Result<std::vector<DueCheck>> ClaimDueChecks(int64_t now, int64_t lease_until,
                                               int limit) override;
  Status FinishDueCheck(const DueCheck& claimed, std::optional<int64_t> next,
                        bool skipped) override;

  // --- readiness (readiness.cc) ---
  Status RefreshReadiness(const std::string& domain_id,
                          const std::string& task_id) override;

  // --- commands ---
  Result<Command> EnqueueCommand(const Command& cmd, TaskState expected_state,
                                 TaskState new_state) override;
  Status RecordHeartbeats(const std::vector<Heartbeat>& beats) override;
  Result<std::optional<Command>> NextCommand(const std::string& domain_id,
                                             const std::string& source_id,
                                             int64_t now) override;
  Result<Command> LatestTaskCommand(const std::string& domain_id,
                                    const std::string& task_id) override;
  Result<Command> LatestDeliveredCommand(const std::string& domain_id,
                                         const std::string& source_id,
                                         CommandName name) override;
  Result<Command> DeliveredCommandOfRun(const std::string& domain_id,
                                        const std::string& source_id,
                                        const std::string& run_id) override;
  Status CancelPendingCommand(const std::string& domain_id, int64_t command_id,
                              int64_t now) override;
  Status FinishCommand(const std::string& domain_id, int64_t command_id,
                       CommandState state, const std::string& result,
                       const std::string& result_detail, int64_t now) override;

  // --- runs ---
  // Group commit (storage/group_commit.h): concurrent CommitRun calls share
  // one transaction and so one fsync; each run has its own SAVEPOINT.
  Result<CommitOutcome> CommitRun(const Run& run) override;

  // The body of CommitRun, inside the caller's transaction.
  static Result<CommitOutcome> CommitRunOn(sqlite3* db, const Run& run);
  Result<std::vector<Run>> ListRuns(const std::string& domain_id,
                                    const std::string& task_id,
                                    int limit) override;
  Result<std::vector<Run>> ListRunsBefore(const std::string& domain_id,
                                          const std::string& task_id,
                                          const std::string& before_run_id,
                                          int limit) override;
  Result<Run> GetRun(const std::string& domain_id,
                     const std::string& run_id) override;

  Result<StageOutcome> StageDetails(const DetailChunk& chunk) override;

  Result<DetailPage> ListDetails(const std::string& domain_id,
                                 const DetailQuery& dq) override;

  // --- changes, webhooks, retention (changes.cc, webhooks.cc,
  // retention.cc) ---
  Result<std::vector<ChangeRow>> ListChanges(const std::string& domain_id,
                                             const ChangeQuery& q) override;
  Result<bool> DetailsPurged(const std::string& domain_id,
                             const std::string& run_id) override;
  Status CreateWebhook(const Webhook& w) override;
  Result<std::vector<Webhook>> ListWebhooks(
      const std::string& domain_id) override;
  Result<Webhook> GetWebhook(const std::string& domain_id,
                             const std::string& id) override;
  Status DeleteWebhook(const std::string& domain_id,
                       const std::string& id) override;
  Result<std::vector<Delivery>> ClaimDeliveries(const std::string& owner,
                                                int64_t now,
                                                int64_t lease_until,
                                                int limit) override;
  Status RecordAttempt(const DeliveryAttempt& a) override;
  Result<std::vector<AttemptRow>> ListAttempts(const std::string& domain_id,
                                               const std::string& webhook_id,
                                               int limit) override;
  Result<std::vector<Delivery>> ListRunDeliveries(
      const std::string& domain_id, const std::string& run_id) override;
  Result<std::vector<TaskRef>> ListTasksWithDetails(const TaskRef& after,
                                                    int limit) override;
  Result<int64_t> PurgeDetails(const std::string& domain_id,
                               const std::string& task_id,
                               const RetentionPolicy& policy, int64_t now,
                               int max_rows) override;
  Result<std::optional<std::string>> GetDomainSetting(
      const std::string& domain_id, const std::string& key) override;
  Status PutDomainSetting(const std::string& domain_id, const std::string& key,
                          const std::string& value) override;

  // --- metrics (metrics_queries.cc) ---
  Result<Page<SourcePoll>> ListSourcePolls(int limit) override;
  Result<Page<TaskStreak>> ListTaskStreaks(int limit, int window) override;

 private:
  // One group commit's transaction (runs.cc): a savepoint per run.
  void CommitBatch(const RunGroupCommit::Batch& batch);

  // A pooled connection, returned on destruction; the thread's pinned one
  // inside a read scope.
  struct Conn {
    explicit Conn(SqliteStore* s) : store(s) {
      if (t_pinned.store == s) {
        db = t_pinned.db;
        pinned = true;
        return;
      }
      std::unique_lock lock(s->mu_);
      s->cv_.wait(lock, [s] { return !s->free_.empty(); });
      db = s->free_.back();
      s->free_.pop_back();
      saved_cache = t_stmt_cache;
      t_stmt_cache = s->caches_.at(db).get();
    }
    ~Conn() {
      if (pinned) return;
      t_stmt_cache = saved_cache;
      {
        std::lock_guard lock(store->mu_);
        store->free_.push_back(db);
      }
      store->cv_.notify_one();
    }
    SqliteStore* store;
    sqlite3* db = nullptr;
    StmtCache* saved_cache = nullptr;
    bool pinned = false;
  };

  // The group-commit writer connection, for the batch leader.
  struct WriterConn {
    explicit WriterConn(SqliteStore* s)
        : db(s->writer_), saved_cache(t_stmt_cache) {
      if (s->all_.size() == 1) {
        // A single connection: take it from the pool like any call.
        conn.emplace(s);
        db = conn->db;
        return;
      }
      t_stmt_cache = s->caches_.at(db).get();
    }
    ~WriterConn() {
      if (!conn) t_stmt_cache = saved_cache;
    }
    sqlite3* db;
    StmtCache* saved_cache;
    std::optional<Conn> conn;
  };

  class SqliteReadScope final : public ReadScope {
   public:
    explicit SqliteReadScope(SqliteStore* s) : conn_(s) {
      // Deferred: the snapshot is taken by the first read.
      ok_ = ExecCached(conn_.db, "BEGIN", "begin").has_value();
      if (ok_) t_pinned = {s, conn_.db};
    }
    ~SqliteReadScope() override {
      if (!ok_) return;
      t_pinned = {};
      (void)ExecCached(conn_.db, "COMMIT", "commit");
    }

   private:
    Conn conn_;
    bool ok_ = false;
  };

 public:
  std::unique_ptr<ReadScope> BeginReadScope() override;

 private:
  Result<Domain> GetDomainWhere(const char* column, const std::string& v);

  Result<User> GetUserWhere(const std::string& domain_id, const char* column,
                            const std::string& v);

  static Result<Task> GetTaskOn(sqlite3* db, const std::string& domain_id,
                                const std::string& id);

  static Status SetTaskStateOn(sqlite3* db, const std::string& domain_id,
                               const std::string& id, TaskState expected_state,
                               TaskState new_state,
                               const std::string& current_run_id, int64_t now);

  // Each row of `q` (kRunColumns, dirs) as a Run with its directories
  // (storage/dirs_json.h).
  static Result<std::vector<Run>> ReadRuns(Stmt& q);

  // Writes the webhook deliveries of `events` (the run's RunEvents and a
  // verdict change's) for a run being committed (webhooks.cc).
  static Status EnqueueRunEventsOn(sqlite3* db, const Run& run,
                                   const std::vector<std::string>& events);

  // The task's cut-over verdict (readiness.cc; readiness_core.h decides):
  // its stored history (none when never stored or damaged).
  static Result<std::optional<schedule::ReadinessHistory>>
  ReadReadinessHistoryOn(sqlite3* db, const std::string& domain_id,
                         const std::string& task_id);
  // The runs being committed to one task (in order) folded into `stored`
  // (the task's history, as TaskForCommitOn read it with `before`) and the
  // verdict stored once; returns per run the task.ready / task.not_ready
  // event its change raises, or "".
  static Result<std::vector<std::string>> UpdateReadinessOn(
      sqlite3* db, const std::vector<const Run*>& runs, const Task& before,
      std::optional<schedule::ReadinessHistory> stored);
  class ReadinessOn;  // ReadinessSql on a connection (readiness.cc)
  // The task a run is committed to, with its readiness history, in one
  // read (REQUIRES: inside the write transaction).
  static Result<TaskForCommit> TaskForCommitOn(sqlite3* db,
                                               const std::string& domain_id,
                                               const std::string& id);

  // CheckWritable's: the database's directory, the room it needs, and the
  // seam that measures the room (null: statvfs).
  const std::string dir_;
  const uint64_t min_free_bytes_;
  const std::function<Result<uint64_t>(const std::string&)> free_bytes_;
  std::vector<sqlite3*> all_;
  sqlite3* writer_ = nullptr;  // the group-commit writer (see constructor)
  // One statement cache per connection; used only by the thread holding it.
  std::map<sqlite3*, std::unique_ptr<StmtCache>> caches_;
  std::mutex write_mu_;
  RunGroupCommit group_commit_{128};
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  std::vector<sqlite3*> free_;
};

}  // namespace sms::storage::sqlite
