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

#include "core/manifest.h"
#include "core/scanner.h"

namespace sms::agent {

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
};

class SshTarget final {
 public:
  // Starts ssh. The stream's header is checked against `params` on the first
  // read.
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

 private:
  SshTarget() = default;

  std::string host_;
  std::atomic<pid_t> pid_{-1};
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  std::unique_ptr<core::ManifestReader> reader_;
  std::thread stderr_reader_;
  std::thread stdin_writer_;  // feeds an --only-paths list
  std::string stderr_text_;   // written by stderr_reader_ until it ends
};

}  // namespace sms::agent
