#include "agent/ssh_target.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "agent/path_list.h"
#include "agent/spool.h"
#include "auth/crypto.h"
#include "cli/version.h"
#include "core/report.h"

extern char** environ;

namespace sms::agent {

using core::Fail;
using core::Result;
using core::Status;

Result<SshUrl> ParseSshUrl(const std::string& url) {
  constexpr std::string_view kScheme = "ssh://";
  if (url.rfind(kScheme, 0) != 0) {
    return Fail(core::InvalidArgument("'" + url + "' is not an ssh:// URL"));
  }
  std::string rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  if (slash == std::string::npos) {
    return Fail(core::InvalidArgument(
        "ssh URL '" + url + "' has no path (ssh://[user@]host[:port]/path)"));
  }
  SshUrl out;
  out.path = rest.substr(slash);
  std::string authority = rest.substr(0, slash);
  const size_t at = authority.rfind('@');
  if (at != std::string::npos) {
    out.user = authority.substr(0, at);
    authority = authority.substr(at + 1);
  }
  std::string port;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) {
      return Fail(core::InvalidArgument("ssh URL '" + url + "': bad [host]"));
    }
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      port = authority.substr(close + 2);
    }
  } else {
    const size_t colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty() || out.host[0] == '-') {
    return Fail(core::InvalidArgument("ssh URL '" + url + "': bad host"));
  }
  if (!port.empty()) {
    char* end = nullptr;
    long p = strtol(port.c_str(), &end, 10);
    if (*end != 0 || p < 1 || p > 65535) {
      return Fail(core::InvalidArgument("ssh URL '" + url +
                                        "': port must be 1..65535"));
    }
    out.port = static_cast<int>(p);
  }
  return out;
}

std::string ShellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

namespace {

// ssh [options] [-p port] -e none [user@]host -- remote
std::vector<std::string> SshArgs(const SshUrl& url, const SshOptions& ssh,
                                 const std::string& remote) {
  std::vector<std::string> args = {ssh.ssh_program};
  for (const auto& o : ssh.ssh_options) args.push_back(o);
  if (url.port != 0) {
    args.push_back("-p");
    args.push_back(std::to_string(url.port));
  }
  args.push_back("-e");
  args.push_back("none");
  args.push_back(url.user.empty() ? url.host : url.user + "@" + url.host);
  args.push_back("--");
  args.push_back(remote);
  return args;
}

struct SshOutput {
  int status = 0;  // as waitpid's
  std::string out;
  std::string err;
};

std::string LastLines(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  if (text.size() > 2000) text = "..." + text.substr(text.size() - 2000);
  return text;
}

// Runs one short remote command (the script of a push), writing `input` to
// its stdin; ssh is stopped after `timeout_s` seconds.
Result<SshOutput> RunSsh(const SshUrl& url, const SshOptions& ssh,
                         const std::string& script, const std::string& input,
                         int timeout_s) {
  // The script is POSIX sh, whatever the remote user's login shell is.
  std::vector<std::string> args =
      SshArgs(url, ssh, "sh -c " + ShellQuote(script));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Fail(core::ErrnoError("pipe", errno));
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return Fail(core::ErrnoError("pipe", errno));
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
    return Fail(core::ErrnoError("pipe", errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  pid_t pid = -1;
  const int rc =
      posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
    for (int fd : {in[1], out[0], err[0]}) close(fd);
    return Fail(core::ErrnoError("starting " + ssh.ssh_program, rc));
  }
  // One poll loop writes the input and drains both outputs, so neither side
  // waits on a full pipe.
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  if (input.empty()) {
    close(in[1]);
    in[1] = -1;
  }
  SshOutput result;
  size_t written = 0;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  bool timed_out = false;
  while (out[0] >= 0 || err[0] >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[3] = {
        {out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
    if (poll(fds, 3, static_cast<int>(left.count())) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      int& fd = i == 0 ? out[0] : err[0];
      if (fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      const ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(fd);
        fd = -1;
      } else {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      }
    }
    if (in[1] >= 0 && fds[2].revents != 0) {
      const ssize_t n =
          write(in[1], input.data() + written,
                std::min<size_t>(input.size() - written, 1 << 16));
      if (n > 0) written += static_cast<size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
          written == input.size()) {
        close(in[1]);  // done, or ssh went away (its status says why)
        in[1] = -1;
      }
    }
  }
  for (int fd : {in[1], out[0], err[0]}) {
    if (fd >= 0) close(fd);
  }
  if (timed_out) kill(pid, SIGTERM);
  while (waitpid(pid, &result.status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return Fail(core::Unavailable(
        "target " + url.host + ": no answer from ssh within " +
        std::to_string(timeout_s) + " s" +
        (result.err.empty() ? "" : ": " + LastLines(result.err))));
  }
  return result;
}

// "key:value" lines of a push script's output.
std::string Field(const std::string& out, const std::string& key) {
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find('\n', pos);
    if (end == std::string::npos) end = out.size();
    if (out.compare(pos, key.size() + 1, key + ":") == 0) {
      return out.substr(pos + key.size() + 1, end - pos - key.size() - 1);
    }
    pos = end + 1;
  }
  return "";
}

// "target HOST: REASON (DETAILS)": ssh's own words lead, when it said
// anything (they name the cause: "Connection refused", "Permission denied
// (publickey)", the remote agent's error); what we know follows.
std::string SshFailureMessage(const std::string& host, const std::string& err,
                              const std::string& details) {
  std::string reason = LastLines(err);
  for (size_t nl; (nl = reason.find('\n')) != std::string::npos;) {
    reason.replace(nl, 1, "; ");
  }
  if (reason.empty()) return "target " + host + ": " + details;
  if (details.empty()) return "target " + host + ": " + reason;
  return "target " + host + ": " + reason + " (" + details + ")";
}

core::Error SshFailed(const SshUrl& url, const std::string& step,
                      const SshOutput& r) {
  std::string details = step + " failed";
  if (WIFEXITED(r.status)) {
    details +=
        "; ssh exited with status " + std::to_string(WEXITSTATUS(r.status));
  }
  return core::Unavailable(SshFailureMessage(url.host, r.err, details));
}

// The remote temporary directory, as a shell word.
std::string RemoteTmp(const SshOptions& ssh) {
  return ssh.remote_tmp.empty() ? "\"${TMPDIR:-/tmp}\""
                                : ShellQuote(ssh.remote_tmp);
}

constexpr int kPushTimeoutSeconds = 120;
// What the remote shell writes on stderr once it removed a pushed agent.
constexpr const char* kPushRemovedLine = "sms-agent: pushed agent removed";
constexpr int kCleanupTimeoutSeconds = 20;

}  // namespace

Result<std::string> FindStaticAgent(const std::string& given) {
  auto usable = [](const std::string& p) {
    return access(p.c_str(), X_OK) == 0;
  };
  if (!given.empty()) {
    if (!usable(given)) {
      return Fail(core::InvalidArgument("--static-agent " + given + ": " +
                                        core::ErrnoText(errno)));
    }
    return given;
  }
  char exe[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    std::string dir(exe, static_cast<size_t>(n));
    dir = dir.substr(0, dir.rfind('/'));
    for (const std::string& candidate :
         {dir + "/sms-agent-static",
          dir + "/../libexec/sms-agent/sms-agent-static"}) {
      if (usable(candidate)) return candidate;
    }
  }
  return Fail(core::NotFound(
      "--push-agent needs the static agent: none next to this binary "
      "(build it with `make agent-static`) and no --static-agent PATH"));
}

Result<RemoteAgent> PrepareRemoteAgent(const SshUrl& url,
                                       const SshOptions& ssh) {
  const std::string tmp = RemoteTmp(ssh);
  const std::string prefix = kPushDirPrefix;
  // 1. Sweep what dropped connections left and ask the installed agent for
  // its version. (A directory's agent may still be running: on Linux a
  // removed executable keeps running, so the sweep never breaks a check.)
  const std::string probe = "find " + tmp + " -maxdepth 1 -type d -name '" +
                            prefix + "*' -mmin +" +
                            std::to_string(ssh.stale_push_minutes) +
                            " -exec rm -rf {} + 2>/dev/null\n"
                            "v=$(" +
                            ShellQuote(ssh.remote_agent) +
                            " --version 2>/dev/null) && "
                            "echo \"version:$v\"\n"
                            "exit 0\n";
  SMS_ASSIGN_OR_RETURN(SshOutput probed,
                       RunSsh(url, ssh, probe, "", kPushTimeoutSeconds));
  if (!WIFEXITED(probed.status) || WEXITSTATUS(probed.status) != 0) {
    return Fail(SshFailed(url, "probing for an agent", probed));
  }
  // "sms-agent 0.1.0 (commit ...)", or a bare "0.1.0" from older agents.
  const std::string installed =
      cli::ParseVersionLine(Field(probed.out, "version"));
  if (installed == kAgentVersion) {
    return RemoteAgent{ssh.remote_agent, "", installed,
                       ssh.remote_agent + " " + installed + " is installed"};
  }
  // 2. Copy the static agent into a fresh directory of mode 0700 and hash
  // it there with the first SHA-256 tool the target has.
  SMS_ASSIGN_OR_RETURN(std::string local, FindStaticAgent(ssh.static_agent));
  SMS_ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(local));
  const std::string want = auth::Sha256Hex(bytes);
  const std::string copy =
      "umask 077\n"
      "d=$(mktemp -d " +
      tmp + "/" + prefix +
      "XXXXXXXX) || exit 3\n"
      "chmod 700 \"$d\" && echo \"dir:$d\" && cat > \"$d/sms-agent\" && "
      "chmod 700 \"$d/sms-agent\" || { rm -rf \"$d\"; exit 3; }\n"
      "f=\"$d/sms-agent\"\n"
      // A copy cut short (this agent killed mid-way) removes itself.
      "[ $(( $(wc -c < \"$f\") )) -eq " +
      std::to_string(bytes.size()) +
      " ] || { echo \"truncated copy: $(wc -c < \"$f\") bytes\" >&2; "
      "rm -rf \"$d\"; exit 4; }\n"
      "if command -v sha256sum >/dev/null 2>&1; then s=$(sha256sum \"$f\")\n"
      "elif command -v shasum >/dev/null 2>&1; then s=$(shasum -a 256 \"$f\")\n"
      "elif command -v openssl >/dev/null 2>&1; then "
      "s=$(openssl dgst -sha256 -r \"$f\")\n"
      "else s=none; fi\n"
      "echo \"sha256:${s%% *}\"\n";
  SMS_ASSIGN_OR_RETURN(SshOutput copied,
                       RunSsh(url, ssh, copy, bytes, kPushTimeoutSeconds));
  const std::string dir = Field(copied.out, "dir");
  const std::string got = Field(copied.out, "sha256");
  auto discard = [&](core::Error why) -> Result<RemoteAgent> {
    if (dir.rfind('/') != std::string::npos) {
      (void)RemovePushedAgent(url, ssh, dir);
    }
    return Fail(std::move(why));
  };
  if (!WIFEXITED(copied.status) || WEXITSTATUS(copied.status) != 0 ||
      dir.empty()) {
    return discard(SshFailed(url, "copying the agent to " + tmp, copied));
  }
  if (got == "none") {
    return discard(
        core::FailedPrecondition("target " + url.host +
                                 ": no sha256sum, shasum or openssl to check "
                                 "the pushed agent with"));
  }
  if (got != want) {
    return discard(core::DataLoss("target " + url.host +
                                  ": the pushed agent's SHA-256 is '" + got +
                                  "', expected " + want + " (" + local + ")"));
  }
  std::string why = installed.empty()
                        ? "no " + ssh.remote_agent + " on the target"
                        : ssh.remote_agent + " on the target is version " +
                              installed + ", not " + kAgentVersion;
  return RemoteAgent{dir + "/sms-agent", dir, installed,
                     why + ": pushed " + local + " to " + dir};
}

Status RemovePushedAgent(const SshUrl& url, const SshOptions& ssh,
                         const std::string& dir) {
  // Only ever a directory this agent made.
  const size_t slash = dir.rfind('/');
  if (slash == std::string::npos ||
      dir.compare(slash + 1, strlen(kPushDirPrefix), kPushDirPrefix) != 0) {
    return Fail(
        core::InvalidArgument("not a pushed agent's directory: " + dir));
  }
  SMS_ASSIGN_OR_RETURN(SshOutput r,
                       RunSsh(url, ssh, "rm -rf " + ShellQuote(dir), "",
                              kCleanupTimeoutSeconds));
  if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) {
    return Fail(SshFailed(url, "removing the pushed agent " + dir, r));
  }
  return core::Ok();
}

Result<std::unique_ptr<SshTarget>> SshTarget::Start(
    const SshUrl& url, const SshOptions& ssh,
    const core::ManifestParams& params, const core::ScanOptions& scan) {
  RemoteAgent agent{ssh.remote_agent, "", "", ""};
  if (ssh.push_agent) {
    SMS_ASSIGN_OR_RETURN(agent, PrepareRemoteAgent(url, ssh));
  }
  // Whatever fails from here on removes a pushed agent again.
  struct PushGuard {
    const SshUrl& url;
    const SshOptions& ssh;
    std::string dir;
    ~PushGuard() {
      if (!dir.empty()) (void)RemovePushedAgent(url, ssh, dir);
    }
  } guard{url, ssh, agent.pushed_dir};
  // The remote command line, quoted for the remote user's shell.
  std::string remote = ShellQuote(agent.path) + " manifest";
  remote += " --mode ";
  remote += core::CompareModeName(params.mode);
  remote += " --hash ";
  remote += core::HashAlgorithmName(params.hash);
  remote += " --chunk-size " + std::to_string(params.chunk_size);
  if (scan.threads > 0) remote += " --threads " + std::to_string(scan.threads);
  if (scan.io_limit > 0) {
    remote += " --io-limit-bytes " + std::to_string(scan.io_limit);
  }
  for (const auto& e : scan.excludes) remote += " --exclude " + ShellQuote(e);
  // Huge directories are sorted on the target in its own temp directory;
  // both flags only when set, so an agent that predates them still works.
  if (scan.spill_threshold != core::kDefaultSpillThreshold) {
    remote += " --spill-threshold " + std::to_string(scan.spill_threshold);
  }
  if (!ssh.remote_tmp.empty()) {
    remote += " --spill-dir " + ShellQuote(ssh.remote_tmp);
  }
  if (!ssh.remote_cache_dir.empty() && !scan.only_paths) {
    remote += " --cache-dir " + ShellQuote(ssh.remote_cache_dir);
    remote += " --rehash-fraction " +
              std::to_string(scan.cache_policy.rehash_fraction);
    remote += " --cache-max-age " +
              std::to_string(scan.cache_policy.max_age_ns / 1'000'000'000);
  }
  if (scan.only_paths) remote += " --only-paths -";
  for (const auto& d : params.dirs) remote += " --dir " + ShellQuote(d);
  remote += " -- " + ShellQuote(url.path);

  if (!agent.pushed_dir.empty()) {
    // The remote shell removes the pushed agent itself when the manifest
    // ends, also when the connection drops (the agent then fails on its
    // next write); ~SshTarget() removes it again when this shell was killed.
    remote += "; rc=$?; rm -rf " + ShellQuote(agent.pushed_dir) + " && echo " +
              ShellQuote(kPushRemovedLine) + " >&2; exit $rc";
  }
  std::vector<std::string> args = SshArgs(url, ssh, remote);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out_pipe[2], err_pipe[2], in_pipe[2] = {-1, -1};
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    return Fail(core::ErrnoError("pipe", errno));
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return Fail(core::ErrnoError("pipe", errno));
  }
  if (scan.only_paths && pipe2(in_pipe, O_CLOEXEC) != 0) {
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
      close(fd);
    }
    return Fail(core::ErrnoError("pipe", errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (in_pipe[0] >= 0) {
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (in_pipe[0] >= 0) close(in_pipe[0]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    if (in_pipe[1] >= 0) close(in_pipe[1]);
    return Fail(core::ErrnoError("starting " + ssh.ssh_program, rc));
  }
  std::unique_ptr<SshTarget> t(new SshTarget());
  guard.dir.clear();  // the SshTarget owns the pushed agent now
  t->host_ = url.host;
  t->url_ = url;
  t->ssh_ = ssh;
  t->agent_ = agent;
  t->pid_ = pid;
  t->stdout_fd_ = out_pipe[0];
  t->stderr_fd_ = err_pipe[0];
  t->reader_ = std::make_unique<core::ManifestReader>(t->stdout_fd_, params);
  SshTarget* raw = t.get();
  if (in_pipe[1] >= 0) {
    // The list goes to the remote agent's stdin from its own thread, so a
    // long list never blocks the reading of the manifest.
    t->stdin_writer_ = std::thread(
        [fd = in_pipe[1], bytes = EncodePathSets(*scan.only_paths)] {
          // A write to an ssh that exited fails with EPIPE in this thread
          // instead of killing the process.
          sigset_t pipe_signal;
          sigemptyset(&pipe_signal);
          sigaddset(&pipe_signal, SIGPIPE);
          pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
          size_t done = 0;
          while (done < bytes.size()) {
            ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;  // ssh went away: its exit status says why
            done += static_cast<size_t>(n);
          }
          close(fd);
        });
  }
  t->stderr_reader_ = std::thread([raw] {
    char buf[4096];
    for (;;) {
      ssize_t n = read(raw->stderr_fd_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      raw->stderr_text_.append(buf, static_cast<size_t>(n));
      if (raw->stderr_text_.size() > (64 << 10)) {
        raw->stderr_text_.erase(0, raw->stderr_text_.size() - (32 << 10));
      }
    }
  });
  return t;
}

void SshTarget::Cancel() {
  const pid_t pid = pid_;
  if (pid > 0) kill(pid, SIGTERM);
}

SshTarget::~SshTarget() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status;
    waitpid(pid_, &status, 0);
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
  if (stdin_writer_.joinable()) stdin_writer_.join();
  if (stderr_reader_.joinable()) stderr_reader_.join();
  if (stderr_fd_ >= 0) close(stderr_fd_);
  RemovePushed();
}

void SshTarget::RemovePushed() {
  if (agent_.pushed_dir.empty()) return;
  // The remote shell said it removed the directory: no second session.
  if (stderr_text_.find(kPushRemovedLine) == std::string::npos) {
    (void)RemovePushedAgent(url_, ssh_, agent_.pushed_dir);
  }
  agent_.pushed_dir.clear();
}

Status SshTarget::Finish(const core::Error* stream_error) {
  if (stdout_fd_ >= 0) {
    close(stdout_fd_);
    stdout_fd_ = -1;
  }
  int status = 0;
  if (pid_ > 0) {
    // After a stream error ssh has usually exited already (the remote side
    // died): give it two seconds to report its own status, then stop it.
    bool exited = false;
    for (int i = 0; stream_error != nullptr && i < 200 && !exited; ++i) {
      exited = waitpid(pid_, &status, WNOHANG) == pid_;
      if (!exited) usleep(10000);
    }
    if (!exited) {
      if (stream_error != nullptr) kill(pid_, SIGTERM);
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    pid_ = -1;
  }
  if (stdin_writer_.joinable()) stdin_writer_.join();
  if (stderr_reader_.joinable()) stderr_reader_.join();
  RemovePushed();
  const bool exited_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (stream_error == nullptr && exited_ok) return core::Ok();
  // ssh's and the remote agent's words, less the lines reported elsewhere
  // (warnings, the pushed agent's removal).
  std::string err;
  size_t begin = 0;
  while (begin < stderr_text_.size()) {
    size_t end = stderr_text_.find('\n', begin);
    if (end == std::string::npos) end = stderr_text_.size();
    const std::string line = stderr_text_.substr(begin, end - begin);
    begin = end + 1;
    if (line.empty() || line == kPushRemovedLine ||
        line.find("warning: ") != std::string::npos) {
      continue;
    }
    err += line + "\n";
  }
  std::string details;
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    details = "ssh exited with status " + std::to_string(WEXITSTATUS(status));
  } else if (WIFSIGNALED(status) && stream_error == nullptr) {
    details = "ssh killed by signal " + std::to_string(WTERMSIG(status));
  }
  if (stream_error != nullptr) {
    details += (details.empty() ? "" : "; ") + stream_error->message;
  }
  return Fail(core::Unavailable(SshFailureMessage(host_, err, details)));
}

}  // namespace sms::agent
