#include "agent/ssh_target.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "agent/path_list.h"
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

Result<std::unique_ptr<SshTarget>> SshTarget::Start(
    const SshUrl& url, const SshOptions& ssh,
    const core::ManifestParams& params, const core::ScanOptions& scan) {
  // The remote command line, quoted for the remote user's shell.
  std::string remote = ShellQuote(ssh.remote_agent) + " manifest";
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
  t->host_ = url.host;
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
  std::string err = stderr_text_;
  while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) {
    err.pop_back();
  }
  const bool exited_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (stream_error == nullptr && exited_ok) return core::Ok();
  std::string message = "target " + host_ + ": ";
  if (stream_error != nullptr) message += stream_error->message;
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    message += (stream_error ? "; " : "") +
               std::string("ssh exited with status ") +
               std::to_string(WEXITSTATUS(status));
  } else if (WIFSIGNALED(status) && stream_error == nullptr) {
    message += "ssh killed by signal " + std::to_string(WTERMSIG(status));
  }
  if (!err.empty()) message += ": " + err;
  return Fail(core::Unavailable(std::move(message)));
}

}  // namespace sms::agent
