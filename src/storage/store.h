// Store: the one persistence interface of the control plane.
//
// Every tenant-owned record is read and written through a method that takes
// the caller's domain id, and the implementation puts that id in the WHERE
// clause: a record of another domain is NotFound, exactly like a missing one.
// Run ids are the tenant's own: a run is known by (domain_id, run_id), so
// two domains may each have a run of the same id and neither sees the other.
// Implementations: sqlite/ (the default) and postgres/ (replicas), sharing
// rows.h and commit_rules.h; both run the contract suite
// (store_contract_test.cc). docs/architecture.md maps the folder.
//
// Errors: kNotFound (no such record in this domain), kAlreadyExists (unique
// key taken, or an idempotent write repeated with different content),
// kFailedPrecondition (state conflict), kUnavailable (database busy or
// unreachable; nothing was written), kInternal (anything else).
// Thread-safety: implementations are safe for concurrent use.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "storage/states.h"

namespace sms::storage {

using core::Result;
using core::Status;

struct Domain {
  std::string id;
  std::string name;
  int64_t created_at = 0;
};

struct User {
  std::string id;
  std::string domain_id;
  std::string name;
  // The stored text (admin | operator | viewer | agent); the server parses
  // it into a Role where it authenticates (ParseRole).
  std::string role;
  std::string password_hash;
  int64_t created_at = 0;
};

struct Credential {
  std::string access_key;
  std::string domain_id;
  std::string user_id;
  std::string secret_key;
  int64_t created_at = 0;
  std::optional<int64_t> revoked_at;
};

struct Token {
  std::string token_hash;  // hex SHA-256 of the token; the token itself is
                           // never stored.
  std::string domain_id;
  std::string user_id;
  int64_t issued_at = 0;
  int64_t expires_at = 0;
  std::optional<int64_t> revoked_at;
};

struct TokenIdentity {
  Token token;
  User user;
  Domain domain;
};

// One budget of the password-login throttle (login_failures): a user of a
// domain from one client address, or (domain_id and user_name empty) every
// login from an address.
struct LoginFailureKey {
  std::string domain_id;
  std::string user_name;
  std::string address;
};

// The failures counted under one key: how many, and the last one's time
// (epoch ms); {0, 0} for none.
struct LoginFailures {
  int64_t count = 0;
  int64_t last_at = 0;
};

struct Source {
  std::string id;
  std::string domain_id;
  std::string owner_user_id;  // the agent identity that registered it
  std::string name;
  std::string hostname;
  std::string ip;
  std::string os_type;
  std::string os_version;
  std::string agent_version;
  int64_t created_at = 0;
  int64_t last_seen_at = 0;  // last command poll, epoch ms (0: never)
  bool has_results = false;  // read-only: a committed run exists
};

// One agent poll, for RecordHeartbeats.
struct Heartbeat {
  std::string domain_id;
  std::string source_id;
  int64_t at = 0;  // epoch ms
};

// A signed request's key ("AK:signature") and when it may be forgotten.
struct UsedSignature {
  std::string key;
  int64_t expires_at = 0;  // epoch ms
};

struct Task {
  std::string id;
  std::string domain_id;
  std::string name;
  std::string type;
  std::string os_type;
  std::string source_id;
  std::string target_name;
  std::string target_ip;
  std::string target_verify_uri;
  bool is_need_consistency_check = true;
  TaskState state = TaskState::kReady;
  std::string current_run_id;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  // Issue 13.1: when CONSISTENCY_SCHEDULE is next due (nullopt: no
  // schedule; while a replica fires a tick, the end of its lease), and how
  // many scheduled checks were skipped because one was still going.
  std::optional<int64_t> next_check_at;
  int64_t skipped_checks = 0;
  // Issue 13.3: the cut-over verdict as of the last committed run or change
  // of a readiness setting (sqlite/schedules.cc): "ready" | "not_ready"
  // ("" never evaluated), since when, the reasons one per line, and when a
  // ready verdict turns stale (nullopt: never).
  std::string readiness;
  int64_t readiness_since = 0;
  std::string readiness_reasons;
  std::optional<int64_t> readiness_stale_at;
};

// The order of a task list: newest first (the default), or by cut-over
// readiness: ready first (the longest ready first), then stale, then not
// ready, as of `TaskFilter::now`.
enum class TaskOrder { kNewest, kReadiness };

struct TaskFilter {
  std::optional<TaskState> state;
  std::optional<std::string> name;
  std::optional<std::string> id;
  std::optional<std::string> source_id;
  int limit = 100;
  int offset = 0;
  TaskOrder order = TaskOrder::kNewest;
  int64_t now = 0;  // kReadiness: when a ready verdict counts as stale
};

struct SourceFilter {
  std::optional<std::string> name;
  int limit = 100;
  int offset = 0;
};

template <typename T>
struct Page {
  int64_t count = 0;  // all matches, before limit/offset
  std::vector<T> items;
};

struct ConfigEntry {
  std::string key;
  std::string value;
};

struct Command {
  int64_t id = 0;
  std::string domain_id;
  std::string source_id;
  std::string task_id;
  std::string run_id;
  CommandName name = CommandName::kConsistencyCheck;
  std::string param_json;  // opaque to the store
  CommandState state = CommandState::kPending;
  std::string result;
  std::string result_detail;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct DirResult {
  std::string dir_check;
  int64_t num_total_files = 0;
  int64_t num_different_files = 0;
  int64_t num_target_miss_files = 0;
  int64_t num_target_more_files = 0;
  int64_t num_changed_files = 0;
  int64_t num_error_files = 0;
  int64_t num_metadata_different_files = 0;
  int64_t num_bytes_verified = 0;
  // Issue 12: content changed while size, mtime, ctime and inode did not
  // (a hash cache's re-read disagreed); files whose digest the source's
  // hash cache supplied; source bytes read to digest the others.
  int64_t num_corrupt_files = 0;
  int64_t num_cached_files = 0;
  int64_t num_bytes_read = 0;
  // The same two for the target side (its own hash cache).
  int64_t num_target_cached_files = 0;
  int64_t num_target_bytes_read = 0;
};

struct Run {
  std::string run_id;
  std::string domain_id;
  std::string task_id;
  int64_t started_time = 0;
  int64_t finished_time = 0;
  std::string check_result;  // success | failed
  std::string mode;
  std::string hash_algorithm;
  std::string error_msg;
  std::string content_hash;  // identifies the upload, for idempotency
  int64_t committed_at = 0;
  std::vector<DirResult> dirs;
  // "" for a check of the whole directories; "inconsistent" for a re-check
  // of the files a previous run found not equal.
  std::string scope;
  // The run whose differences a re-check of scope "inconsistent" checked
  // again, as the agent uploaded it ("" otherwise).
  std::string base_run_id;
};

// What CommitRun did.
enum class CommitOutcome { kCommitted, kAlreadyCommitted };

struct FileDetail {
  std::string dir_check;
  std::string path;
  std::string path_b64;  // empty unless the path is not valid UTF-8
  std::string status;
  std::string reason;
  std::string source_json;  // the source side as JSON text, empty if absent
  std::string target_json;  // the target side, likewise
};

struct DetailChunk {
  std::string run_id;
  std::string domain_id;
  std::string task_id;
  int64_t seq = 0;
  std::string content_hash;
  int64_t created_at = 0;
  std::vector<FileDetail> files;
};

enum class StageOutcome { kStaged, kAlreadyStaged };

struct DetailQuery {
  std::string run_id;
  std::optional<std::string> dir_check;
  std::optional<std::string> status;
  int limit = 100;
  // Keyset position: rows strictly after (after_seq, after_idx).
  int64_t after_seq = -1;
  int64_t after_idx = -1;
};

struct DetailRow {
  int64_t seq = 0;
  int64_t idx = 0;
  FileDetail file;
  // The started_time of the first run of the current streak that found
  // this file not equal (file_details.first_seen_run, issue 13.2).
  int64_t first_seen_time = 0;
};

struct DetailPage {
  int64_t total = 0;  // rows matching the filters, over all pages
  std::vector<DetailRow> rows;
};

// --- Changes between two runs (issue 13.2) ---
// A file is `new` when it is listed (not equal) in the `to` run and was not
// in the `from` run, `persisting` when listed in both, `resolved` when
// listed in `from` only and its directory was checked by `to`.
struct ChangeQuery {
  std::string from_run_id;
  std::string to_run_id;
  std::optional<std::string> dir_check;
  std::optional<std::string> change;  // new | resolved | persisting
  int limit = 100;
  // Keyset position: rows strictly after (dir_check, path, path_b64) in
  // that order; unset: from the first row.
  std::optional<std::string> after_dir;
  std::string after_path;
  std::string after_path_b64;
};

struct ChangeRow {
  std::string change;  // new | resolved | persisting
  // The `to` run's row (the `from` run's for resolved).
  FileDetail file;
  std::string from_status;  // the status in `from`; empty for new
  int64_t first_seen_time = 0;
};

// Webhooks (issue 13.4). `events` is the comma-separated list of events.
struct Webhook {
  std::string id;
  std::string domain_id;
  std::string url;
  std::string events;
  std::string secret;
  int64_t created_at = 0;
};

// One event to deliver to one webhook (a webhook_outbox row), with the
// webhook's url and secret when claimed.
struct Delivery {
  int64_t id = 0;
  std::string domain_id;
  std::string webhook_id;
  std::string event_id;  // the idempotency id, the same on every attempt
  std::string type;      // run.finished | run.inconsistent | run.failed
  std::string task_id;
  std::string run_id;
  std::string check_result;
  int64_t occurred_at = 0;
  std::string state;  // pending | delivered | failed
  int attempts = 0;
  int64_t next_attempt_at = 0;
  std::string url;
  std::string secret;
};

// The outcome of one attempt at a claimed delivery.
struct DeliveryAttempt {
  int64_t delivery_id = 0;
  std::string lease_owner;  // who claimed it
  int64_t at = 0;
  int status = 0;  // HTTP status; 0 when no response arrived
  int64_t latency_ms = 0;
  std::string error;
  std::string next_state;  // delivered | pending | failed
  int64_t next_attempt_at = 0;
};

// One row of a webhook's delivery log, newest first.
struct AttemptRow {
  int64_t delivery_id = 0;
  std::string event_id;
  std::string type;
  std::string run_id;
  std::string state;  // the delivery's state now
  int attempt = 0;
  int64_t at = 0;
  int status = 0;
  int64_t latency_ms = 0;
  std::string error;
};

// Retention (issue 13.5): the runs whose details are kept. A run's
// details are kept when it is among the newest `keep_runs` runs of its
// task (0: no such rule) or committed less than `keep_ms` ago (0: no such
// rule); the newest run's always are. Both 0: everything is kept.
struct RetentionPolicy {
  int keep_runs = 0;
  int64_t keep_ms = 0;
};

struct TaskRef {
  std::string domain_id;
  std::string task_id;
};

// What /metrics reads at each scrape (issue 16.5; sqlite/metrics_queries.cc),
// across every domain.
struct SourcePoll {
  std::string domain_id;
  std::string source_id;
  std::string name;
  int64_t last_seen_at = 0;  // last command poll, epoch ms (0: never)
  int64_t tasks = 0;         // tasks of the source
};

struct TaskStreak {
  std::string domain_id;
  std::string task_id;
  std::string name;
  // The verdict of the task's newest committed run: failed (check_result
  // is not success), inconsistent (a directory counted a file different,
  // missing, extra, changed, unreadable, corrupt or with other metadata),
  // else consistent.
  std::string verdict;
  // How many of the newest runs in a row have that verdict (at least 1).
  int64_t runs = 0;
};

// A scheduled check claimed by one replica (Store::ClaimDueChecks): the
// task, when its tick was due, and the lease the claim holds until the tick
// is finished.
struct DueCheck {
  std::string domain_id;
  std::string task_id;
  int64_t due_at = 0;
  int64_t lease_until = 0;
};

// Held while a request that only reads runs (Store::BeginReadScope).
class ReadScope {
 public:
  virtual ~ReadScope() = default;
};

class Store {
 public:
  virtual ~Store() = default;

  // Until the returned scope is destroyed, this thread's calls share one
  // connection and one read transaction: one snapshot, and one set of locks
  // instead of one per call. Only reads may run inside it (a write fails
  // with kInternal). Null when the store gains nothing from it.
  [[nodiscard]] virtual std::unique_ptr<ReadScope> BeginReadScope() {
    return nullptr;
  }

  // Health: succeeds when the database answers a trivial query.
  [[nodiscard]] virtual Status Ping() = 0;
  // Readiness (/readyz): succeeds when the database answers and can take a
  // write, kUnavailable naming why not. Writes nothing: SQLite checks the
  // room left on the database's file system, PostgreSQL that the server is
  // not read-only (a standby, default_transaction_read_only).
  [[nodiscard]] virtual Status CheckWritable() { return Ping(); }

  // --- Domains, users, credentials, tokens (identity) ---
  // Not tenant-scoped: these are how a tenant is found in the first place.
  [[nodiscard]] virtual Status CreateDomain(const Domain& d) = 0;
  [[nodiscard]] virtual Result<Domain> GetDomainByName(
      const std::string& name) = 0;
  [[nodiscard]] virtual Result<Domain> GetDomain(const std::string& id) = 0;

  [[nodiscard]] virtual Status CreateUser(const User& u) = 0;
  [[nodiscard]] virtual Result<User> GetUserByName(const std::string& domain_id,
                                                   const std::string& name) = 0;
  [[nodiscard]] virtual Result<User> GetUser(const std::string& domain_id,
                                             const std::string& id) = 0;

  [[nodiscard]] virtual Status CreateCredential(const Credential& c) = 0;
  // Returns the credential even when revoked; callers check revoked_at.
  [[nodiscard]] virtual Result<Credential> GetCredential(
      const std::string& access_key) = 0;
  [[nodiscard]] virtual Status RevokeCredential(const std::string& access_key,
                                                int64_t now) = 0;

  [[nodiscard]] virtual Status CreateToken(const Token& t) = 0;
  [[nodiscard]] virtual Result<Token> GetToken(
      const std::string& token_hash) = 0;
  // The token with its user and domain (the per-request authentication
  // path). NotFound if any of the three is missing. Backends should
  // override this with a single joined lookup; the default makes three.
  [[nodiscard]] virtual Result<TokenIdentity> ResolveToken(
      const std::string& token_hash) {
    SMS_ASSIGN_OR_RETURN(Token t, GetToken(token_hash));
    SMS_ASSIGN_OR_RETURN(User u, GetUser(t.domain_id, t.user_id));
    SMS_ASSIGN_OR_RETURN(Domain d, GetDomain(t.domain_id));
    return TokenIdentity{std::move(t), std::move(u), std::move(d)};
  }
  [[nodiscard]] virtual Status RevokeToken(const std::string& token_hash,
                                           int64_t now) = 0;

  // Remembers each signed request's `key` ("AK:signature") until its
  // `expires_at` (epoch ms), in one transaction (one round trip on
  // PostgreSQL): out[i] is true when keys[i] was not held, or held but
  // expired at `now` (it is held anew), false when it is held and unexpired
  // (a replay). Atomic across replicas: of two callers remembering one key,
  // one gets true; a key repeated within one call is fresh at most once.
  // Expired keys are dropped by PurgeSignatures, not here.
  [[nodiscard]] virtual Result<std::vector<bool>> RememberSignatures(
      const std::vector<UsedSignature>& keys, int64_t now) = 0;
  // RememberSignatures of one key: AlreadyExists for a replay.
  [[nodiscard]] Status RememberSignature(const std::string& key,
                                         int64_t expires_at, int64_t now) {
    SMS_ASSIGN_OR_RETURN(std::vector<bool> fresh,
                         RememberSignatures({{key, expires_at}}, now));
    if (!fresh.at(0))
      return core::Fail(core::AlreadyExists("signature already used"));
    return core::Ok();
  }
  // Drops up to `limit` keys expired at `now`; returns how many.
  [[nodiscard]] virtual Result<int64_t> PurgeSignatures(int64_t now,
                                                        int limit) = 0;

  // --- Failed password logins (AuthService's throttle) ---
  // Not tenant-scoped: a login is throttled before its tenant is known.
  // The failures under `key` if the last one is at or after `since`, else
  // {0, 0} (forgotten).
  [[nodiscard]] virtual Result<LoginFailures> GetLoginFailures(
      const LoginFailureKey& key, int64_t since) = 0;
  // Counts one more failure under `key` at `now` and returns the new count:
  // a record whose last failure is before `since` starts again at 1.
  // Forgotten records are dropped as it goes, a bounded batch per call.
  // Atomic across replicas (two concurrent failures count two).
  [[nodiscard]] virtual Result<LoginFailures> RecordLoginFailure(
      const LoginFailureKey& key, int64_t now, int64_t since) = 0;
  // Deletes the records matching `key`, where an empty field matches any
  // value, and returns how many; kInvalidArgument when all three are
  // empty. (A success clears {domain, user, address}; an admin clears a
  // user's every address with {domain, user, ""}.)
  [[nodiscard]] virtual Result<int64_t> ClearLoginFailures(
      const LoginFailureKey& key) = 0;

  // --- Sources ---
  // Registers a source; if (domain, name, hostname) exists already, updates
  // its ip/os/agent fields and returns the existing record (same id).
  [[nodiscard]] virtual Result<Source> UpsertSource(const Source& s) = 0;
  [[nodiscard]] virtual Result<Source> GetSource(const std::string& domain_id,
                                                 const std::string& id) = 0;
  [[nodiscard]] virtual Result<Page<Source>> ListSources(
      const std::string& domain_id, const SourceFilter& f) = 0;
  // The user id of the agent that registered the source
  // (Source::owner_user_id), kNotFound when there is none: the agent loop's
  // ownership check on every poll. Unlike GetSource it reads neither
  // last_seen_at (every heartbeat flush writes it) nor has_results, so a
  // read cache can hold it (caching_store.h).
  [[nodiscard]] virtual Result<std::string> GetSourceOwner(
      const std::string& domain_id, const std::string& id) = 0;
  // Records agents' polls: each source's last_seen_at becomes the later of
  // its stored value and the beat's `at`, in one transaction (one statement
  // on PostgreSQL). Beats of unknown sources are ignored.
  [[nodiscard]] virtual Status RecordHeartbeats(
      const std::vector<Heartbeat>& beats) = 0;

  // --- Tasks ---
  [[nodiscard]] virtual Status CreateTask(const Task& t) = 0;
  [[nodiscard]] virtual Result<Task> GetTask(const std::string& domain_id,
                                             const std::string& id) = 0;
  // The id of the task's source (Task::source_id), kNotFound when there is
  // no such task: the ownership check of an agent's uploads. No write of
  // the service changes a task's source, so a read cache holds it through
  // the writes that move the task's state (caching_store.h), which GetTask's
  // record follows (every committed run writes its verdict).
  [[nodiscard]] virtual Result<std::string> GetTaskSource(
      const std::string& domain_id, const std::string& id) = 0;
  [[nodiscard]] virtual Result<Page<Task>> ListTasks(
      const std::string& domain_id, const TaskFilter& f) = 0;
  // Deletes the task with its configuration, commands, runs and details.
  [[nodiscard]] virtual Status DeleteTask(const std::string& domain_id,
                                          const std::string& id) = 0;
  // Sets state and current run id, only if the task is in `expected_state`
  // (compare-and-set); kFailedPrecondition otherwise.
  [[nodiscard]] virtual Status UpdateTaskState(
      const std::string& domain_id, const std::string& id,
      TaskState expected_state, TaskState new_state,
      const std::string& current_run_id, int64_t now) = 0;

  [[nodiscard]] virtual Status PutTaskConfigs(
      const std::string& domain_id, const std::string& task_id,
      const std::vector<ConfigEntry>& entries) = 0;
  [[nodiscard]] virtual Result<std::vector<ConfigEntry>> GetTaskConfigs(
      const std::string& domain_id, const std::string& task_id) = 0;

  // --- Schedules (issue 13.1; sqlite/schedules.cc) ---
  // Sets when the task's schedule is next due (nullopt: no schedule).
  [[nodiscard]] virtual Status SetNextCheck(
      const std::string& domain_id, const std::string& task_id,
      std::optional<int64_t> next_check_at) = 0;
  // Claims up to `limit` tasks whose next check is due (next_check_at <=
  // `now`), across every domain, the longest due first: each one's
  // next_check_at becomes `lease_until` (so no other replica sees it due
  // until then) and its previous value is returned as due_at. Atomic across
  // replicas: one tick is claimed once.
  [[nodiscard]] virtual Result<std::vector<DueCheck>> ClaimDueChecks(
      int64_t now, int64_t lease_until, int limit) = 0;
  // Ends a claimed tick: next_check_at becomes `next` (nullopt: the
  // schedule is gone) and, when `skipped`, skipped_checks grows by one;
  // only while the task still holds the claim's lease (next_check_at ==
  // lease_until), else kFailedPrecondition and nothing is written (the
  // schedule was changed meanwhile, or the lease ran out and another
  // replica took the tick over).
  [[nodiscard]] virtual Status FinishDueCheck(const DueCheck& claimed,
                                              std::optional<int64_t> next,
                                              bool skipped) = 0;

  // --- Readiness (issue 13.3; sqlite/readiness.cc) ---
  // Evaluates the task's cut-over verdict from its newest runs, their
  // per-directory counters and its settings, and stores it on the task
  // (Task::readiness*). CommitRun does the same in the run's transaction
  // and also queues task.ready / task.not_ready when the verdict changes;
  // this call (after a readiness setting changed) raises no event.
  [[nodiscard]] virtual Status RefreshReadiness(const std::string& domain_id,
                                                const std::string& task_id) = 0;

  // --- Commands (the agent loop) ---
  // Queues `c` and moves its task from `expected_state` to `new_state` in one
  // transaction (kFailedPrecondition if the task is in another state).
  [[nodiscard]] virtual Result<Command> EnqueueCommand(const Command& c,
                                                       TaskState expected_state,
                                                       TaskState new_state) = 0;
  // Returns the oldest pending command of the source and marks it
  // delivered, or nullopt (also for an unknown source). Writes nothing when
  // none is pending (the heartbeat is RecordHeartbeats'); of concurrent
  // callers (replicas) one gets a given command.
  [[nodiscard]] virtual Result<std::optional<Command>> NextCommand(
      const std::string& domain_id, const std::string& source_id,
      int64_t now) = 0;
  // The most recent command of the task (any state), or NotFound.
  [[nodiscard]] virtual Result<Command> LatestTaskCommand(
      const std::string& domain_id, const std::string& task_id) = 0;
  // The most recent delivered command of the source with this name, or
  // NotFound.
  [[nodiscard]] virtual Result<Command> LatestDeliveredCommand(
      const std::string& domain_id, const std::string& source_id,
      CommandName name) = 0;
  // The delivered command of the source that carries this run id, or
  // NotFound (never delivered, already finished, or another source's): an
  // agent's report of a check names its run, and a second check of the
  // source may have been delivered since.
  [[nodiscard]] virtual Result<Command> DeliveredCommandOfRun(
      const std::string& domain_id, const std::string& source_id,
      const std::string& run_id) = 0;
  // Cancels the command only while it is still pending (not yet polled by
  // the agent); kFailedPrecondition otherwise.
  [[nodiscard]] virtual Status CancelPendingCommand(
      const std::string& domain_id, int64_t command_id, int64_t now) = 0;
  [[nodiscard]] virtual Status FinishCommand(const std::string& domain_id,
                                             int64_t command_id,
                                             CommandState state,
                                             const std::string& result,
                                             const std::string& result_detail,
                                             int64_t now) = 0;

  // --- Runs and details ---
  // Commits the run and makes its staged details visible, atomically. If the
  // domain committed the run id before: kAlreadyCommitted when content_hash
  // and the task match, else kAlreadyExists (another domain's run of the
  // same id is no conflict). If the task's current_run_id equals the
  // run id, the task goes back to READY in the same transaction.
  [[nodiscard]] virtual Result<CommitOutcome> CommitRun(const Run& run) = 0;
  // Runs of the task, newest first, at most `limit`.
  [[nodiscard]] virtual Result<std::vector<Run>> ListRuns(
      const std::string& domain_id, const std::string& task_id, int limit) = 0;
  // The runs of the task older than its run `before_run_id` (empty: from
  // the newest), newest first, at most `limit`: a keyset page, so a caller
  // walks every run holding one page (the export, issue 11.2). An unknown
  // `before_run_id` gives an empty page.
  [[nodiscard]] virtual Result<std::vector<Run>> ListRunsBefore(
      const std::string& domain_id, const std::string& task_id,
      const std::string& before_run_id, int limit) = 0;
  [[nodiscard]] virtual Result<Run> GetRun(const std::string& domain_id,
                                           const std::string& run_id) = 0;

  // Stages a chunk of details; idempotent per (run_id, seq): the same
  // content again is kAlreadyStaged, other content kAlreadyExists; a run
  // already committed is kFailedPrecondition.
  [[nodiscard]] virtual Result<StageOutcome> StageDetails(
      const DetailChunk& chunk) = 0;
  // Details of a committed run of this domain, in (seq, idx) order.
  [[nodiscard]] virtual Result<DetailPage> ListDetails(
      const std::string& domain_id, const DetailQuery& q) = 0;

  // --- Changes between runs (issue 13.2; sqlite/changes.cc) ---
  // A page of the changes from `from_run_id` to `to_run_id` (both
  // committed runs of this domain, else kNotFound), in (dir_check, path,
  // path_b64) order, computed by the database from the two runs' details
  // (no run is read whole).
  [[nodiscard]] virtual Result<std::vector<ChangeRow>> ListChanges(
      const std::string& domain_id, const ChangeQuery& q) = 0;
  // True when retention deleted the run's details (detail_purges).
  [[nodiscard]] virtual Result<bool> DetailsPurged(
      const std::string& domain_id, const std::string& run_id) = 0;

  // --- Webhooks (issue 13.4; sqlite/webhooks.cc) ---
  [[nodiscard]] virtual Status CreateWebhook(const Webhook& w) = 0;
  // The domain's webhooks, oldest first.
  [[nodiscard]] virtual Result<std::vector<Webhook>> ListWebhooks(
      const std::string& domain_id) = 0;
  [[nodiscard]] virtual Result<Webhook> GetWebhook(const std::string& domain_id,
                                                   const std::string& id) = 0;
  // Deletes the webhook with its pending deliveries and their log.
  [[nodiscard]] virtual Status DeleteWebhook(const std::string& domain_id,
                                             const std::string& id) = 0;
  // Claims up to `limit` pending deliveries due at `now` whose lease is
  // free or expired, for `owner` until `lease_until`, across every domain
  // (the delivery worker's query): two replicas never hold one delivery
  // at once. Oldest first.
  [[nodiscard]] virtual Result<std::vector<Delivery>> ClaimDeliveries(
      const std::string& owner, int64_t now, int64_t lease_until,
      int limit) = 0;
  // Records an attempt and moves the delivery to `a.next_state`, releasing
  // the lease; kFailedPrecondition (nothing written) when `a.lease_owner`
  // no longer holds it.
  [[nodiscard]] virtual Status RecordAttempt(const DeliveryAttempt& a) = 0;
  // The webhook's last `limit` attempts, newest first.
  [[nodiscard]] virtual Result<std::vector<AttemptRow>> ListAttempts(
      const std::string& domain_id, const std::string& webhook_id,
      int limit) = 0;
  // The deliveries of one run (any webhook of the domain), for tests and
  // operators.
  [[nodiscard]] virtual Result<std::vector<Delivery>> ListRunDeliveries(
      const std::string& domain_id, const std::string& run_id) = 0;

  // --- Retention (issue 13.5; sqlite/retention.cc) ---
  // Tasks with committed runs whose details are not purged yet, across
  // every domain (the retention worker's list), after `after` in
  // (domain_id, task_id) order, at most `limit`.
  [[nodiscard]] virtual Result<std::vector<TaskRef>> ListTasksWithDetails(
      const TaskRef& after, int limit) = 0;
  // Deletes at most `max_rows` file details of the task's runs that
  // `policy` does not keep, in one short transaction; a run whose last
  // rows go is recorded in detail_purges. Returns the rows deleted (0:
  // nothing left to delete).
  [[nodiscard]] virtual Result<int64_t> PurgeDetails(
      const std::string& domain_id, const std::string& task_id,
      const RetentionPolicy& policy, int64_t now, int max_rows) = 0;

  // --- A tenant's settings (issue 13.5; sqlite/retention.cc) ---
  // The domain's value of `key` (domain_settings), nullopt when not set.
  [[nodiscard]] virtual Result<std::optional<std::string>> GetDomainSetting(
      const std::string& domain_id, const std::string& key) = 0;
  // Sets the domain's `key` to `value`, replacing any value; an empty
  // `value` removes the setting.
  [[nodiscard]] virtual Status PutDomainSetting(const std::string& domain_id,
                                                const std::string& key,
                                                const std::string& value) = 0;

  // --- Metrics (issue 16.5; sqlite/metrics_queries.cc) ---
  // Read-only, one statement each, taking no write lock: a scrape never
  // waits for an upload nor makes one wait.
  // Sources of every domain in (domain_id, source_id) order, at most
  // `limit`; count: all sources.
  [[nodiscard]] virtual Result<Page<SourcePoll>> ListSourcePolls(int limit) = 0;
  // Tasks with committed runs, of every domain, in (domain_id, task_id)
  // order, at most `limit`, each with its newest run's verdict and streak,
  // counted over its newest `window` runs only (so `runs` <= window);
  // count: all tasks with runs.
  [[nodiscard]] virtual Result<Page<TaskStreak>> ListTaskStreaks(
      int limit, int window) = 0;
};

}  // namespace sms::storage
