// SshTarget: the target side of a verification on another host. Starts
// `ssh [options] [user@]host <remote-agent> manifest ...` and reads the
// target's manifest stream from its stdout while the local side is walked,
// so both sides hash at the same time and no file content crosses the
// network.
// Thread-safety: one thread uses an SshTarget.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/version.h"
#include "core/manifest.h"
#include "core/scanner.h"

namespace sms::agent {

// This agent's version (project(VERSION), cli/version.h): `sms-agent
// --version` prints it, and an agent pushed to an ssh target replaces one
// that prints anything else.
inline constexpr const char* kAgentVersion = cli::kVersion;

struct SshUrl {
  std::string user;  // empty: ssh's default
  std::string host;
  int port = 0;      // 0: ssh's default
  std::string path;  // absolute path on the remote host
};

// Parses ssh://[user@]host[:port]/path ([v6] hosts in brackets).
[[nodiscard]] core::Result<SshUrl> ParseSshUrl(const std::string& url);

// Quotes `s` for a POSIX shell ('...' with embedded quotes escaped).
std::string ShellQuote(std::string_view s);

struct SshOptions {
  std::string ssh_program = "ssh";
  std::vector<std::string> ssh_options;  // passed before the host
  std::string remote_agent = "sms-agent";
  // The remote side's hash cache directory ('~/' is the remote $HOME);
  // "" for none.
  std::string remote_cache_dir;
  // verify --push-agent: when `remote_agent` on the target is missing or
  // prints another --version, copy `static_agent` into a new private
  // directory (mode 0700) under `remote_tmp`, check its SHA-256 there, run
  // it and remove the directory afterwards. Directories of earlier pushes
  // older than `stale_push_minutes` (a dropped connection) go at the next
  // push.
  bool push_agent = false;
  std::string static_agent;  // "" = sms-agent-static next to this binary
  // Also where the target sorts huge directories (ScanOptions::spill_dir).
  std::string remote_tmp;  // "" = the remote $TMPDIR, else /tmp
  int stale_push_minutes = 60;
};

// The prefix of the directories pushed agents live in (under remote_tmp).
inline constexpr const char* kPushDirPrefix = "sms-agent-push.";

// Where the static agent to push is: `given` when set, else
// sms-agent-static next to the running executable (the build tree's bin/)
// or in ../libexec/sms-agent/ (the Debian package).
[[nodiscard]] core::Result<std::string> FindStaticAgent(
    const std::string& given);

// The agent an ssh target runs: what --push-agent chose.
struct RemoteAgent {
  std::string path;        // the command to run on the target
  std::string pushed_dir;  // the pushed agent's directory; "" when installed
  std::string installed_version;  // of the target's own agent; "" if none
  std::string note;               // why it was (not) pushed, for the log
};

// Decides which agent the target runs and pushes one when needed (see
// SshOptions::push_agent); sweeps stale push directories first.
[[nodiscard]] core::Result<RemoteAgent> PrepareRemoteAgent(
    const SshUrl& url, const SshOptions& ssh);

// Removes a pushed agent's directory (best effort, bounded by a timeout).
core::Status RemovePushedAgent(const SshUrl& url, const SshOptions& ssh,
                               const std::string& dir);

class SshTarget final {
 public:
  // Starts ssh (after PrepareRemoteAgent() when ssh.push_agent is set; the
  // pushed agent is removed when the SshTarget is destroyed, and the remote
  // shell removes it itself when the connection drops). The stream's header
  // is checked against `params` on the first read.
  [[nodiscard]] static core::Result<std::unique_ptr<SshTarget>> Start(
      const SshUrl& url, const SshOptions& ssh,
      const core::ManifestParams& params, const core::ScanOptions& scan);
  ~SshTarget();
  SshTarget(const SshTarget&) = delete;
  SshTarget& operator=(const SshTarget&) = delete;

  core::EntryStream& stream() { return *reader_; }
  // Stops ssh (from any thread); the stream then fails.
  void Cancel();
  // Waits for ssh to exit. Returns an error naming ssh's exit status and
  // its last stderr lines when it failed. `stream_error` (the reader's
  // error, if any) is folded into the message.
  [[nodiscard]] core::Status Finish(const core::Error* stream_error);
  // What the remote side wrote on stderr (after Finish()): its warnings.
  const std::string& stderr_text() const { return stderr_text_; }
  // Which agent ran on the target.
  const RemoteAgent& remote_agent() const { return agent_; }

 private:
  SshTarget() = default;

  void RemovePushed();

  std::string host_;
  SshUrl url_;
  SshOptions ssh_;
  RemoteAgent agent_;
  std::atomic<pid_t> pid_{-1};
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  std::unique_ptr<core::ManifestReader> reader_;
  std::thread stderr_reader_;
  std::thread stdin_writer_;  // feeds an --only-paths list
  std::string stderr_text_;   // written by stderr_reader_ until it ends
};

}  // namespace sms::agent
