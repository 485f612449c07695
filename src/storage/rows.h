// Rows: each table's column list and the mapping between a row and its
// struct, written once for both SQL dialects (sqlite/, postgres/).
//
// A reader takes any row type with Text(col), Int(col), Bool(col) and
// OptInt(col) (sqlite::Stmt, postgres::Row) and the column its fields start
// at, so a joined row can hold several structs side by side. A writer calls
// `add(value)` for each column of the list, in order, so an INSERT binds
// exactly the columns it names. Text becomes a typed value here and only
// here (see states.h).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "storage/dirs_json.h"
#include "storage/states.h"
#include "storage/store.h"

namespace sms::storage::rows {

// The pieces joined: a statement built from the column lists below, once,
// into a function-local static (`static const std::string kSql = Sql(...)`).
inline std::string Sql(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out += p;
  return out;
}

inline constexpr char kDomainColumns[] = "id, name, created_at";
inline constexpr char kUserColumns[] =
    "id, domain_id, name, role, password_hash, created_at";
inline constexpr char kCredentialColumns[] =
    "access_key, domain_id, user_id, secret_key, created_at, revoked_at";
inline constexpr char kTokenColumns[] =
    "token_hash, domain_id, user_id, issued_at, expires_at, revoked_at";
inline constexpr char kTaskColumns[] =
    "id, domain_id, name, type, os_type, source_id, target_name, target_ip,"
    " target_verify_uri, is_need_consistency_check, state, current_run_id,"
    " created_at, updated_at, next_check_at, skipped_checks, readiness,"
    " readiness_since, readiness_reasons, readiness_stale_at";
// How many columns kTaskColumns names: the index of a column selected after
// them.
inline constexpr int kTaskColumnCount = [] {
  int n = 1;
  for (char ch : std::string_view(kTaskColumns)) n += ch == ',';
  return n;
}();
static_assert(kTaskColumnCount == 20);
// The stored columns of a source (what an INSERT names).
inline constexpr char kSourceStoredColumns[] =
    "id, domain_id, owner_user_id, name, hostname, ip, os_type, os_version,"
    " agent_version, created_at, last_seen_at";
// What a SELECT of a source reads: the stored columns, then whether a
// committed run of one of its tasks exists (Source::has_results).
inline constexpr char kSourceColumns[] =
    "id, domain_id, owner_user_id, name, hostname, ip, os_type, os_version,"
    " agent_version, created_at, last_seen_at,"
    " EXISTS (SELECT 1 FROM runs r JOIN tasks t ON t.id = r.task_id"
    " WHERE t.source_id = sources.id AND r.domain_id = sources.domain_id)";
// Without id: the database assigns it.
inline constexpr char kCommandInsertColumns[] =
    "domain_id, source_id, task_id, run_id, name, param_json, state, result,"
    " result_detail, created_at, updated_at";
inline constexpr char kCommandColumns[] =
    "id, domain_id, source_id, task_id, run_id, name, param_json, state,"
    " result, result_detail, created_at, updated_at";
inline constexpr char kRunColumns[] =
    "run_id, domain_id, task_id, started_time, finished_time, check_result,"
    " mode, hash_algorithm, error_msg, content_hash, committed_at, scope,"
    " base_run_id";
// The number of kRunColumns (a run's directories follow them in a joined
// row).
inline constexpr int kRunColumnCount = 13;
// A directory's fields, in the order a run's row stores them (runs.dirs,
// storage/dirs_json.h) and the view run_dirs names them after its
// (domain_id, run_id, idx) key.
inline constexpr char kDirColumns[] =
    "dir_check, num_total_files, num_different_files, num_target_miss_files,"
    " num_target_more_files, num_changed_files, num_error_files,"
    " num_metadata_different_files, num_bytes_verified, num_corrupt_files,"
    " num_cached_files, num_bytes_read, num_target_cached_files,"
    " num_target_bytes_read";
// The ORDER BY of a task list in TaskOrder::kReadiness, the stale time
// bound as parameter `now` (ready first, then stale, then not ready; the
// longest in each first).
inline std::string TaskReadinessOrder(std::string_view now) {
  return Sql({" ORDER BY CASE WHEN readiness = 'ready' AND",
              " (readiness_stale_at IS NULL OR readiness_stale_at > ", now,
              ") THEN 0 WHEN readiness = 'ready' THEN 1 ELSE 2 END,",
              " readiness_since, created_at DESC, id"});
}
// file_details after its (run_id, seq, idx) key.
inline constexpr char kDetailColumns[] =
    "dir_check, path, path_b64, status, reason, source_json, target_json";

// Column text to a typed value. This server writes only known text; a row
// edited by hand with other text reads as the state that is safe to act on
// again (a task READY, a command done: never delivered again).
inline TaskState TaskStateColumn(std::string_view text) {
  return ParseTaskState(text).value_or(TaskState::kReady);
}
inline CommandState CommandStateColumn(std::string_view text) {
  return ParseCommandState(text).value_or(CommandState::kDone);
}
inline CommandName CommandNameColumn(std::string_view text) {
  return ParseCommandName(text).value_or(CommandName::kConsistencyCheck);
}
// A typed value as column text.
template <typename E>
std::string Text(E value) {
  return std::string(ToText(value));
}

template <typename R>
Domain ReadDomain(const R& r, int c = 0) {
  return Domain{
      .id = r.Text(c), .name = r.Text(c + 1), .created_at = r.Int(c + 2)};
}

template <typename R>
User ReadUser(const R& r, int c = 0) {
  return User{.id = r.Text(c),
              .domain_id = r.Text(c + 1),
              .name = r.Text(c + 2),
              .role = r.Text(c + 3),
              .password_hash = r.Text(c + 4),
              .created_at = r.Int(c + 5)};
}

template <typename R>
Credential ReadCredential(const R& r, int c = 0) {
  return Credential{.access_key = r.Text(c),
                    .domain_id = r.Text(c + 1),
                    .user_id = r.Text(c + 2),
                    .secret_key = r.Text(c + 3),
                    .created_at = r.Int(c + 4),
                    .revoked_at = r.OptInt(c + 5)};
}

template <typename R>
Token ReadToken(const R& r, int c = 0) {
  return Token{.token_hash = r.Text(c),
               .domain_id = r.Text(c + 1),
               .user_id = r.Text(c + 2),
               .issued_at = r.Int(c + 3),
               .expires_at = r.Int(c + 4),
               .revoked_at = r.OptInt(c + 5)};
}

// The token, its user and its domain: the select list of ResolveToken,
// read by ReadTokenIdentity.
inline constexpr char kTokenIdentityColumns[] =
    "t.token_hash, t.domain_id, t.user_id, t.issued_at, t.expires_at,"
    " t.revoked_at, u.name, u.role, u.password_hash, u.created_at, d.name,"
    " d.created_at";

template <typename R>
TokenIdentity ReadTokenIdentity(const R& r) {
  TokenIdentity out;
  out.token = ReadToken(r, 0);
  out.user = User{.id = out.token.user_id,
                  .domain_id = out.token.domain_id,
                  .name = r.Text(6),
                  .role = r.Text(7),
                  .password_hash = r.Text(8),
                  .created_at = r.Int(9)};
  out.domain = Domain{
      .id = out.token.domain_id, .name = r.Text(10), .created_at = r.Int(11)};
  return out;
}

template <typename R>
Task ReadTask(const R& r, int c = 0) {
  Task t;
  t.id = r.Text(c);
  t.domain_id = r.Text(c + 1);
  t.name = r.Text(c + 2);
  t.type = r.Text(c + 3);
  t.os_type = r.Text(c + 4);
  t.source_id = r.Text(c + 5);
  t.target_name = r.Text(c + 6);
  t.target_ip = r.Text(c + 7);
  t.target_verify_uri = r.Text(c + 8);
  t.is_need_consistency_check = r.Bool(c + 9);
  t.state = TaskStateColumn(r.Text(c + 10));
  t.current_run_id = r.Text(c + 11);
  t.created_at = r.Int(c + 12);
  t.updated_at = r.Int(c + 13);
  t.next_check_at = r.OptInt(c + 14);
  t.skipped_checks = r.Int(c + 15);
  t.readiness = r.Text(c + 16);
  t.readiness_since = r.Int(c + 17);
  t.readiness_reasons = r.Text(c + 18);
  t.readiness_stale_at = r.OptInt(c + 19);
  return t;
}

template <typename F>
void TaskValues(const Task& t, F&& add) {
  add(t.id), add(t.domain_id), add(t.name), add(t.type), add(t.os_type);
  add(t.source_id), add(t.target_name), add(t.target_ip);
  add(t.target_verify_uri), add(t.is_need_consistency_check);
  add(Text(t.state)), add(t.current_run_id), add(t.created_at),
      add(t.updated_at);
  add(t.next_check_at), add(t.skipped_checks), add(t.readiness);
  add(t.readiness_since), add(t.readiness_reasons), add(t.readiness_stale_at);
}

template <typename R>
Source ReadSource(const R& r, int c = 0) {
  Source s;
  s.id = r.Text(c);
  s.domain_id = r.Text(c + 1);
  s.owner_user_id = r.Text(c + 2);
  s.name = r.Text(c + 3);
  s.hostname = r.Text(c + 4);
  s.ip = r.Text(c + 5);
  s.os_type = r.Text(c + 6);
  s.os_version = r.Text(c + 7);
  s.agent_version = r.Text(c + 8);
  s.created_at = r.Int(c + 9);
  s.last_seen_at = r.Int(c + 10);
  s.has_results = r.Bool(c + 11);
  return s;
}

// The columns of kSourceStoredColumns.
template <typename F>
void SourceValues(const Source& s, F&& add) {
  add(s.id), add(s.domain_id), add(s.owner_user_id), add(s.name);
  add(s.hostname), add(s.ip), add(s.os_type), add(s.os_version);
  add(s.agent_version), add(s.created_at), add(s.last_seen_at);
}

template <typename R>
Command ReadCommand(const R& r, int c = 0) {
  Command m;
  m.id = r.Int(c);
  m.domain_id = r.Text(c + 1);
  m.source_id = r.Text(c + 2);
  m.task_id = r.Text(c + 3);
  m.run_id = r.Text(c + 4);
  m.name = CommandNameColumn(r.Text(c + 5));
  m.param_json = r.Text(c + 6);
  m.state = CommandStateColumn(r.Text(c + 7));
  m.result = r.Text(c + 8);
  m.result_detail = r.Text(c + 9);
  m.created_at = r.Int(c + 10);
  m.updated_at = r.Int(c + 11);
  return m;
}

// The columns of kCommandInsertColumns.
template <typename F>
void CommandValues(const Command& m, F&& add) {
  add(m.domain_id), add(m.source_id), add(m.task_id), add(m.run_id);
  add(Text(m.name)), add(m.param_json), add(Text(m.state)), add(m.result);
  add(m.result_detail), add(m.created_at), add(m.updated_at);
}

template <typename R>
Run ReadRun(const R& r, int c = 0) {
  Run run;
  run.run_id = r.Text(c);
  run.domain_id = r.Text(c + 1);
  run.task_id = r.Text(c + 2);
  run.started_time = r.Int(c + 3);
  run.finished_time = r.Int(c + 4);
  run.check_result = r.Text(c + 5);
  run.mode = r.Text(c + 6);
  run.hash_algorithm = r.Text(c + 7);
  run.error_msg = r.Text(c + 8);
  run.content_hash = r.Text(c + 9);
  run.committed_at = r.Int(c + 10);
  run.scope = r.Text(c + 11);
  run.base_run_id = r.Text(c + 12);
  return run;
}

template <typename F>
void RunValues(const Run& run, F&& add) {
  add(run.run_id), add(run.domain_id), add(run.task_id);
  add(run.started_time), add(run.finished_time), add(run.check_result);
  add(run.mode), add(run.hash_algorithm), add(run.error_msg);
  add(run.content_hash), add(run.committed_at), add(run.scope);
  add(run.base_run_id);
}

// A run with its directories: kRunColumns, then the dirs column (a JSON
// text, storage/dirs_json.h), from column c on. kDataLoss naming the run
// when the stored directories do not decode (a row edited by hand).
template <typename R>
core::Result<Run> ReadRunWithDirs(const R& r, int c = 0) {
  Run run = ReadRun(r, c);
  auto dirs = DecodeDirs(r.Text(c + kRunColumnCount));
  if (!dirs)
    return core::Fail(
        core::DataLoss("run " + run.run_id + ": " + dirs.error().message));
  run.dirs = std::move(*dirs);
  return run;
}

template <typename R>
FileDetail ReadDetail(const R& r, int c = 0) {
  return FileDetail{.dir_check = r.Text(c),
                    .path = r.Text(c + 1),
                    .path_b64 = r.Text(c + 2),
                    .status = r.Text(c + 3),
                    .reason = r.Text(c + 4),
                    .source_json = r.Text(c + 5),
                    .target_json = r.Text(c + 6)};
}

// The columns of kDetailColumns.
template <typename F>
void DetailValues(const FileDetail& f, F&& add) {
  add(f.dir_check), add(f.path), add(f.path_b64), add(f.status);
  add(f.reason), add(f.source_json), add(f.target_json);
}

}  // namespace sms::storage::rows
