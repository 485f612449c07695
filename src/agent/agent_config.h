// AgentConfig: the settings of `sms-agent run`, from three layers: a
// configuration file (`key = value` lines, '#' comments), the environment
// (SMS_AGENT_<KEY>, upper-case, '-' as '_'), and flags. Flags win over the
// environment, which wins over the file. Unknown keys are rejected, naming
// the file and line, so a typo never silently keeps a default.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/result.h"

namespace sms::agent {

struct AgentConfig {
  std::string server;   // base URL, "https://sms.example.com"
  std::string ak;       // access key (AK/SK signing) ...
  std::string sk;       // ... and its secret
  std::string token;    // or an X-Auth-Token
  std::string ca_file;  // extra CA bundle for TLS verification
  std::string state_dir = "/var/lib/sms-agent";  // source id and spool
  std::string name;               // the source's name (default: hostname)
  double poll_interval = 5;       // seconds between command polls (heartbeat)
  std::string source_root = "/";  // where CONSISTENCY_DIR paths live
  std::string ssh_config;         // ssh -F file for ssh:// targets
  std::string remote_agent = "sms-agent";  // sms-agent on ssh:// targets
  bool push_agent = false;   // SshOptions::push_agent, unless the task says
  std::string static_agent;  // SshOptions::static_agent
  std::string remote_tmp;    // SshOptions::remote_tmp
  // Where the local sides sort huge directories (ScanOptions::spill_dir);
  // "" = $TMPDIR, else /tmp.
  std::string spill_dir;
  // The hash cache of each task and side (core/hash_cache.h): on by default
  // under STATE_DIR/cache/<task>/; a command's `cache` param overrides.
  bool cache = true;
  // Where an ssh:// target keeps its own caches ('~/' is its $HOME).
  std::string remote_cache_dir = "~/.cache/sms-agent";
  double rehash_fraction = 0.01;
  int64_t cache_max_age_s = 30 * 86400;  // 0: no limit
};

// SMS_AGENT_* variables that are not configuration keys: read where they
// act (SMS_AGENT_IO_URING: core/posix_file_system.cc), skipped by
// ConfigFromEnvironment().
inline constexpr const char* kAgentEnvironmentOnly[] = {"io-uring"};

// The keys the file, the environment and the flags accept.
inline constexpr const char* kAgentConfigKeys[] = {"server",
                                                   "ak",
                                                   "sk",
                                                   "token",
                                                   "ca-file",
                                                   "state-dir",
                                                   "name",
                                                   "poll-interval",
                                                   "source-root",
                                                   "ssh-config",
                                                   "remote-agent",
                                                   "push-agent",
                                                   "static-agent",
                                                   "remote-tmp",
                                                   "cache",
                                                   "remote-cache-dir",
                                                   "rehash-fraction",
                                                   "cache-max-age",
                                                   "spill-dir"};

// "30d", "12h", "90m", "45s" or plain seconds; "0" is 0. Errors name `what`.
[[nodiscard]] core::Result<int64_t> ParseDurationSeconds(
    const std::string& text, const std::string& what);
// A fraction in 0..1 ("0.01") or a percentage ("1%").
[[nodiscard]] core::Result<double> ParseFraction(const std::string& text,
                                                 const std::string& what);
// "on", "off", "true", "false", "1", "0", "yes", "no".
[[nodiscard]] core::Result<bool> ParseOnOff(const std::string& text,
                                            const std::string& what);

// Reads `key = value` lines; `origin` names the file in errors.
[[nodiscard]] core::Result<std::map<std::string, std::string>> ParseConfigText(
    const std::string& text, const std::string& origin);

// SMS_AGENT_<KEY> variables of `environ`-style `env` entries.
std::map<std::string, std::string> ConfigFromEnvironment(char** env);

// Applies `values` (key -> value) over `config`; errors name the key and
// `origin`.
[[nodiscard]] core::Status ApplyConfig(
    const std::map<std::string, std::string>& values, const std::string& origin,
    AgentConfig& config);

// Checks the combination: a server, exactly one of AK/SK or token, a sane
// poll interval.
[[nodiscard]] core::Status ValidateConfig(const AgentConfig& config);

}  // namespace sms::agent
