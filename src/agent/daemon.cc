#include "agent/daemon.h"

#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "agent/recheck.h"
#include "auth/crypto.h"
#include "core/dir_list.h"
#include "core/json_writer.h"
#include "core/report.h"

namespace sms::agent {
namespace {

double Seconds(core::Clock& clock) {
  return std::chrono::duration<double>(clock.Now().time_since_epoch()).count();
}

std::string Hostname() {
  char buf[256] = {0};
  gethostname(buf, sizeof(buf) - 1);
  return buf;
}

}  // namespace

void LogEvent(const char* level, const std::string& message) {
  std::string line = "{\"ts\":\"";
  line += core::IsoTimeMillis(core::SystemClock().NowEpochMillis());
  line += "\",\"level\":\"";
  line += level;
  line += "\",\"msg\":";
  core::AppendJsonString(line, core::EscapeInvalidUtf8(message));
  line += "}\n";
  fputs(line.c_str(), stderr);
  fflush(stderr);
}

Daemon::Daemon(AgentConfig config, ServerClient& client, core::Clock& clock)
    : config_(std::move(config)),
      client_(client),
      clock_(clock),
      spool_(config_.state_dir + "/spool"),
      uploader_(client_, spool_) {}

Daemon::~Daemon() {
  Stop();
  if (check_thread_.joinable()) check_thread_.join();
}

void Daemon::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = true;
  if (canceller_) canceller_->Cancel();
  cv_.notify_all();
}

double Daemon::Backoff(int attempt, double retry_after) {
  const double cap = 60;
  const double ceiling = std::min(cap, 1.0 * (1 << std::min(attempt, 10)));
  std::uniform_real_distribution<double> dist(0, ceiling);
  return std::max(dist(rng_), retry_after);
}

void Daemon::Wait(double seconds) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::duration<double>(seconds),
               [&] { return stopping_ || check_finished_; });
}

core::Result<std::string> Daemon::Register() {
  const std::string id_file = config_.state_dir + "/source_id";
  SourceInfo info;
  info.hostname = Hostname();
  info.name = config_.name.empty() ? info.hostname : config_.name;
  info.agent_version = kAgentVersion;
  struct utsname u;
  if (uname(&u) == 0)
    info.os_version = std::string(u.sysname) + " " + u.release;
  for (int attempt = 0;; ++attempt) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return core::Fail(core::Cancelled("stopped"));
    }
    auto id = client_.RegisterSource(info);
    if (id) {
      auto previous = ReadWholeFile(id_file);
      if (!previous || *previous != *id) {
        SMS_RETURN_IF_ERROR(WriteFileDurably(id_file, *id));
      }
      LogEvent("info", "registered source " + info.name + " as " + *id);
      return *id;
    }
    if (id.error().code != core::ErrorCode::kUnavailable) return id;
    const double delay = Backoff(attempt, client_.retry_after());
    LogEvent("warn",
             fmt::format("registration failed ({}); retrying in {:.1f} s",
                         id.error().message, delay));
    Wait(delay);
  }
}

int Daemon::Run() {
  std::error_code ec;
  std::filesystem::create_directories(config_.state_dir, ec);
  if (auto ok = spool_.Init(); !ok) {
    LogEvent("error", ok.error().message);
    return kExitError;
  }
  if (auto ok = spool_.Recover("the agent stopped during the check",
                               clock_.NowEpochMillis());
      !ok) {
    LogEvent("error", ok.error().message);
    return kExitError;
  }
  auto id = Register();
  if (!id) {
    if (id.error().code == core::ErrorCode::kCancelled) return 0;
    LogEvent("error", "cannot register the source: " + id.error().message);
    return kExitError;
  }
  source_id_ = *id;

  int poll_failures = 0;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
      ReapFinishedCheck();
    }
    StartQueuedCheck();
    UploadPending();
    SendStopResult();
    double delay;
    auto command = client_.PollCommand(source_id_);
    if (command) {
      poll_failures = 0;
      HandleCommand(*command);
      std::uniform_real_distribution<double> jitter(0.8, 1.2);
      delay = config_.poll_interval * jitter(rng_);
    } else if (command.error().code == core::ErrorCode::kNotFound) {
      LogEvent("warn",
               "the server does not know this source any more; "
               "registering again");
      auto again = Register();
      if (again) source_id_ = *again;
      delay = config_.poll_interval;
    } else {
      delay = Backoff(++poll_failures, client_.retry_after());
      LogEvent("warn", fmt::format("poll failed ({}); retrying in {:.1f} s",
                                   command.error().message, delay));
    }
    Wait(delay);
  }
  // Stopped: let a running check end (it was cancelled) and spool it.
  if (check_thread_.joinable()) check_thread_.join();
  UploadPending();
  return 0;
}

void Daemon::ReapFinishedCheck() {
  if (!check_finished_) return;
  check_finished_ = false;
  // RunCheck() set check_finished_ as its last step: the join is immediate.
  if (check_thread_.joinable()) check_thread_.join();
  running_task_.clear();
  canceller_.reset();
  upload_not_before_ = 0;  // upload the new run at once
}

void Daemon::StartQueuedCheck() {
  if (queued_checks_.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (canceller_ || stopping_) return;
  }
  Command next = std::move(queued_checks_.front());
  queued_checks_.pop_front();
  HandleCommand(next);
}

void Daemon::HandleCommand(const Command& command) {
  if (command.name == "STOP") {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (canceller_ &&
          (command.task_id.empty() || command.task_id == running_task_)) {
        LogEvent("info", "STOP: cancelling the check of task " + running_task_);
        canceller_->Cancel();
      }
    }
    // A stopped task's queued check never starts (the server moves the task
    // on with this acknowledgement).
    std::erase_if(queued_checks_, [&](const Command& c) {
      const bool drop = command.task_id.empty() || c.task_id == command.task_id;
      if (drop)
        LogEvent("info", "STOP: dropping the queued check of task " +
                             c.task_id + ", run " + c.run_id);
      return drop;
    });
    // Acknowledge at once: the cancelled run follows as a failed run.
    pending_stop_result_ = fmt::format(
        "{{\"command_name\":\"STOP\",\"result\":\"success\","
        "\"result_detail\":{{\"task_id\":\"{}\"}}}}",
        command.task_id);
    SendStopResult();
    return;
  }
  if (command.name != "CONSISTENCY_CHECK") return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The check may have ended (and its run been uploaded, so the server
    // sent the next command) since the loop last looked.
    ReapFinishedCheck();
    if (canceller_) {
      // One check at a time: this one starts when the running one ends.
      LogEvent("info", "CONSISTENCY_CHECK of task " + command.task_id +
                           ", run " + command.run_id +
                           ": queued behind the check of task " +
                           running_task_);
      queued_checks_.push_back(command);
      return;
    }
  }
  // The paths of a re-check are fetched here, on the thread that owns the
  // server client, before the check starts.
  std::shared_ptr<const PathSets> only;
  std::string fetch_error;
  Command check = command;  // with the base run a re-check fetched
  if (command.scope == "inconsistent") {
    auto dirs = core::NormalizeDirs(command.dirs);
    auto fetched =
        dirs ? FetchInconsistentPaths(client_, command.task_id,
                                      command.base_run_id, *dirs)
             : core::Result<InconsistentPaths>(core::Fail(dirs.error()));
    if (fetched) {
      LogEvent("info", fmt::format("re-checking the {} inconsistent file(s) "
                                   "of run {}",
                                   fetched->files, fetched->base_run_id));
      only = std::make_shared<const PathSets>(std::move(fetched->paths));
      check.base_run_id = fetched->base_run_id;
    } else {
      fetch_error = "cannot fetch the differences of the previous run: " +
                    fetched.error().message;
    }
  } else if (!command.scope.empty()) {
    fetch_error = "unknown scope '" + command.scope +
                  "' (this agent knows \"inconsistent\")";
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;
  canceller_ = std::make_shared<Canceller>();
  running_task_ = command.task_id;
  LogEvent("info",
           "CONSISTENCY_CHECK of task " + command.task_id + ", run " +
               command.run_id +
               (command.scope.empty() ? "" : ", scope " + command.scope));
  check_thread_ = std::thread(
      [this, check, only, fetch_error] { RunCheck(check, only, fetch_error); });
}

void Daemon::RunCheck(Command command, std::shared_ptr<const PathSets> only,
                      std::string fetch_error) {
  std::shared_ptr<Canceller> canceller;
  {
    std::lock_guard<std::mutex> lock(mu_);
    canceller = canceller_;
  }
  if (command.run_id.empty()) command.run_id = auth::NewUuid();
  VerifyOptions o;
  o.source = config_.source_root;
  o.dirs = command.dirs;
  o.progress = false;
  o.scan.mode = command.mode == "quick" ? core::CompareMode::kQuick
                                        : core::CompareMode::kHash;
  o.scan.hash = core::ParseHashAlgorithm(command.hash_algorithm)
                    .value_or(core::HashAlgorithm::kXxh128);
  o.scan.excludes = command.exclude;
  o.scan.io_limit =
      static_cast<uint64_t>(std::max(0.0, command.io_limit) * 1e6);
  o.target = command.verify_uri;
  o.ssh.remote_agent = config_.remote_agent;
  o.ssh.push_agent = command.push_agent.value_or(config_.push_agent);
  o.ssh.static_agent = config_.static_agent;
  o.ssh.remote_tmp = config_.remote_tmp;
  o.scan.spill_dir = config_.spill_dir;
  if (!config_.ssh_config.empty()) {
    o.ssh.ssh_options = {"-F", config_.ssh_config};
  }
  // A hash cache per task and side: the source's and a mounted target's
  // under the state directory, an ssh target's on that host.
  // (The task id names a directory: only a plain id is used so.)
  const bool plain_id =
      !command.task_id.empty() && command.task_id.size() <= 64 &&
      command.task_id.find_first_not_of("0123456789abcdefABCDEF-") ==
          std::string::npos;
  if (command.cache.value_or(config_.cache) && plain_id) {
    o.cache_dir = config_.state_dir + "/cache/" + command.task_id;
    o.ssh.remote_cache_dir = config_.remote_cache_dir + "/" + command.task_id;
  }
  o.scan.cache_policy.rehash_fraction = config_.rehash_fraction;
  o.scan.cache_policy.max_age_ns = config_.cache_max_age_s * 1'000'000'000;
  o.only_paths = std::move(only);
  o.scope = command.scope;

  core::RunReport report;
  std::unique_ptr<RunWriter> writer;
  auto begun = spool_.Begin(command.run_id, command.task_id);
  if (!begun) {
    LogEvent("error", "cannot spool run " + command.run_id + ": " +
                          begun.error().message);
  } else {
    writer = std::move(*begun);
    if (o.target.empty() || !fetch_error.empty()) {
      report.started_ms = report.finished_ms = clock_.NowEpochMillis();
      report.scope = command.scope;
      report.error_msg = fetch_error.empty()
                             ? "the task has no target_server.verify_uri"
                             : fetch_error;
    } else {
      report = Verify(o, writer.get(), canceller.get());
    }
    for (const auto& w : report.warnings) LogEvent("warn", w);
    report.run_id = command.run_id;
    if (command.scope == "inconsistent")
      report.base_run_id = command.base_run_id;
    const std::string command_result =
        CheckCommandResultJson(command.task_id, report);
    if (auto ok = writer->Finish(core::RunReportJson(report), command_result);
        !ok) {
      LogEvent("error", "cannot spool run " + command.run_id + ": " +
                            ok.error().message);
    } else {
      LogEvent(
          "info",
          fmt::format("run {} of task {} finished: {}{}", command.run_id,
                      command.task_id, report.completed ? "success" : "failed",
                      report.completed ? "" : " (" + report.error_msg + ")"));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  check_finished_ = true;
  cv_.notify_all();
}

void Daemon::SendStopResult() {
  if (pending_stop_result_.empty()) return;
  auto posted = client_.PostJson(
      "/v3/sources/" + source_id_ + "/command_result", pending_stop_result_);
  // Retried from the loop only while the server is unreachable.
  if (posted || posted.error().code != core::ErrorCode::kUnavailable) {
    pending_stop_result_.clear();
  }
}

void Daemon::UploadPending() {
  if (Seconds(clock_) < upload_not_before_) return;
  for (const auto& run_id : spool_.ReadyRuns()) {
    auto uploaded = uploader_.UploadRun(run_id, source_id_);
    if (uploaded) {
      upload_failures_ = 0;
      spool_.Remove(run_id);
      LogEvent("info", "uploaded run " + run_id);
      continue;
    }
    if (uploaded.error().code == core::ErrorCode::kUnavailable) {
      const double delay = Backoff(++upload_failures_, client_.retry_after());
      upload_not_before_ = Seconds(clock_) + delay;
      LogEvent("warn", fmt::format("upload of run {} failed ({}); retrying in "
                                   "{:.1f} s",
                                   run_id, uploaded.error().message, delay));
      return;
    }
    LogEvent("error", "the server refused run " + run_id + " (" +
                          uploaded.error().message +
                          "); reported as failed and kept in the spool's "
                          "rejected/ directory");
    uploader_.RejectRun(run_id, uploaded.error(), clock_.NowEpochMillis());
  }
}

}  // namespace sms::agent
