// PostgresStore: the Store over PostgreSQL (for replicas), declared for
// the files of this folder that define it, one per topic: identity.cc
// (domains, users, credentials, tokens, signatures), tasks.cc (sources,
// tasks, settings), commands.cc (the agent's command queue), runs.cc (runs,
// directories, details) and open.cc (the pool, opening, connection
// strings). driver.h is the libpq layer under it, migrate.cc the schema.
// The public entry points are in postgres_store.h.
//
// Thread-safety: safe for concurrent use; connections come from a pool.
// Replicas share the database: every check-then-write locks what it checks
// (the task row) or is one statement.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "schedule/readiness.h"
#include "storage/group_commit.h"
#include "storage/postgres/driver.h"
#include "storage/postgres/postgres_store.h"
#include "storage/readiness_rules.h"
#include "storage/store.h"

namespace sms::storage::postgres {

// Creates options.schema if set (connecting without the search_path).
Status EnsureSchema(const std::string& conninfo,
                    const PostgresOptions& options);

// Applies pending migrations (migrate.cc) under the migration lock;
// appends the applied versions to `applied` when given.
Status ApplyMigrations(Connection& c, std::vector<int>* applied);

class PostgresStore final : public Store {
 public:
  PostgresStore(std::string conninfo, PostgresOptions options)
      : conninfo_(std::move(conninfo)), options_(std::move(options)) {}
  ~PostgresStore() override = default;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  // Seeds the pool with a connection opened by the caller.
  void Adopt(std::unique_ptr<Connection> c);

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
  // The per-request authentication path: one round trip.
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
  Result<CommitOutcome> CommitRun(const Run& run) override;
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
  // A pooled connection, returned to the pool (or dropped, if broken) on
  // destruction.
  class Lease final {
   public:
    Lease(PostgresStore* store, std::unique_ptr<Connection> c)
        : store_(store), c_(std::move(c)) {}
    Lease(Lease&& o) noexcept : store_(o.store_), c_(std::move(o.c_)) {}
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease() {
      if (c_) store_->Release(std::move(c_));
    }
    Connection* operator->() { return c_.get(); }
    Connection& operator*() { return *c_; }

   private:
    PostgresStore* store_;
    std::unique_ptr<Connection> c_;
  };

  // Takes a healthy connection from the pool, opening one if the pool is
  // not full. kUnavailable when the database is unreachable or every
  // connection stays busy for acquire_timeout_ms.
  Result<Lease> Acquire();

  void Release(std::unique_ptr<Connection> c);

  // Rows of (kRunColumns, dirs): one Run per row, with its directories
  // (storage/dirs_json.h).
  static Result<std::vector<Run>> RunsFromRows(const Rows& r);

  Result<Domain> GetDomainBy(const char* sql, const std::string& v);

  Result<User> GetUserBy(const char* sql, const std::string& domain_id,
                         const std::string& v);

  // The task of this domain; with `lock`, also locks its row until the end
  // of the transaction (REQUIRES: inside Txn::Begin()).
  // A run being committed and the webhook events it raises (its
  // RunEvents and a verdict change's).
  struct RunWithEvents {
    const Run* run;
    std::vector<std::string> events;
  };
  // Writes the webhook deliveries of runs being committed (webhooks.cc):
  // one read of their tenants' webhooks, a row per subscribed event.
  static Status EnqueueRunEventsOn(Connection& c,
                                   const std::vector<RunWithEvents>& runs);

  // The task's cut-over verdict (readiness.cc; readiness_core.h decides):
  // its stored history (none when never stored or damaged); the runs being
  // committed to one task (in order) folded into it and the verdict stored
  // once; returns per run the task.ready / task.not_ready event its change
  // raises, or "". REQUIRES: inside a transaction holding the task's row
  // lock; `stored` and `before` as TaskForCommitOn read them.
  static Result<std::optional<schedule::ReadinessHistory>>
  ReadReadinessHistoryOn(Connection& c, const std::string& domain_id,
                         const std::string& task_id);
  static Result<std::vector<std::string>> UpdateReadinessOn(
      Connection& c, const std::vector<const Run*>& runs, const Task& before,
      std::optional<schedule::ReadinessHistory> stored);
  // The same for the tasks of a group commit: their settings read in one
  // statement and their verdicts written in one; per task, per run, the
  // events.
  struct TaskRuns {
    const Task* before;
    std::vector<const Run*> runs;
    std::optional<schedule::ReadinessHistory> history;
  };
  static Result<std::vector<std::vector<std::string>>> UpdateReadinessOfTasksOn(
      Connection& c, std::vector<TaskRuns>& tasks);
  class ReadinessOn;  // ReadinessSql on a connection (readiness.cc)

  // The task a run is committed to, locked (FOR UPDATE) until the end of
  // the transaction, with its readiness history, in one read.
  static Result<TaskForCommit> TaskForCommitOn(Connection& c,
                                               const std::string& domain_id,
                                               const std::string& id);

  // One group commit's transaction (runs.cc): the batch folded, or (when a
  // statement of that fails) a savepoint per run; the folded batch's
  // statements, each run's result in `ordered`'s order (sorted by task);
  // and the body of CommitRun alone.
  void CommitBatch(const RunGroupCommit::Batch& batch);
  static Result<std::vector<Result<CommitOutcome>>> CommitFoldedOn(
      Connection& c, const RunGroupCommit::Batch& ordered);
  static Result<CommitOutcome> CommitRunOn(Connection& c, const Run& run);
  // Runs and all their directories in one INSERT (runs.cc).
  static Status InsertRunsOn(Connection& c,
                             const std::vector<const Run*>& runs);
  // When `run` ends `task`'s current check: moves the task to its next
  // state and marks the check's command done; returns the new state, or
  // nothing when the run does not end it (runs.cc).
  static Result<std::optional<TaskState>> EndCheckOn(Connection& c,
                                                     const Task& task,
                                                     const Run& run);

  static Result<Task> GetTaskOn(Connection& c, const std::string& domain_id,
                                const std::string& id, bool lock);

  static Status SetTaskStateOn(Connection& c, const std::string& domain_id,
                               const std::string& id, TaskState expected_state,
                               TaskState new_state,
                               const std::string& current_run_id, int64_t now);

  // Constant after construction.
  const std::string conninfo_;
  const PostgresOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  std::vector<std::unique_ptr<Connection>> free_;
  int open_ = 0;  // connections in free_ plus those leased or connecting

  RunGroupCommit group_commit_{64};  // 64: see CommitRun (runs.cc)
};

}  // namespace sms::storage::postgres
