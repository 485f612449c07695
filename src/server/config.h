// ServerConfig: how sms-server is configured, and LoadServerConfig, the one
// place that applies the precedence of its sources:
//
//   defaults < config file (--config of serve and admin) < environment < flags
//
// The environment is read through a seam (ConfigSources::env), so the
// precedence is tested without touching the process's environment
// (config_test.cc). docs/server.md lists every key, variable and flag.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace sms::server {

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT
  std::string db = "sqlite:./var/sms.db";
  std::string tls_cert;  // PEM chain; with tls_key: HTTPS
  std::string tls_key;
  int io_threads = 0;  // 0: one per core
  int64_t token_ttl_hours = 24;
  bool public_metrics = true;  // /metrics without authentication
  int pbkdf2_iterations = 210000;
  // Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For
  // names the client for the login throttle (client_address.h); none by
  // default.
  std::vector<std::string> trusted_proxies;
  // PostgreSQL: the most connections this process opens (the handler
  // workers that may wait on storage); replicas x this <= max_connections.
  int db_pool_size = 16;
  // PostgreSQL: the read cache's staleness bound (docs/server.md "The read
  // cache"). Every cache_fence_interval_ms the listener sends itself a
  // fence; a held record is served only while the last fence heard is
  // younger than cache_max_lag_ms, so a committed write is seen by every
  // replica's reads that begin cache_max_lag_ms after it. The lag must
  // exceed the interval (else the cache never serves).
  int cache_fence_interval_ms = 100;
  int cache_max_lag_ms = 500;
  // An agent's poll is written to its source's last_seen_at at most this
  // often after its first (server/heartbeats.h; 0: at every flush, once a
  // second). Another replica shows a poll up to this late.
  int heartbeat_write_ms = 30000;
  // The web console's directory; "" finds it beside the binary
  // (DefaultConsoleDir), "none" turns the console off.
  std::string console_dir;
  // The key that seals SKs at rest (auth/secret_box.h); "": PATH.secret
  // beside a SQLite database (made at first use), none for PostgreSQL.
  std::string secret_key_file;
  // Issue 13 (server/hooks.h). The hosts, *.domains and networks webhooks
  // may target (empty: any; the SSRF control, docs/server.md "Webhooks").
  std::vector<std::string> webhook_allow;
  // The CONSISTENCY_RETENTION of every task that sets none ("runs=N,
  // days=D"; empty: keep every run's details).
  std::string consistency_retention;
  // Tests only (SMS_TEST_WEBHOOK_FAST=1; no config key): webhook retry
  // delays / 1000, a 3 s lease, retention every second.
  bool test_webhook_fast = false;
};

// Values given as command-line flags; unset ones leave the value below.
struct ServerFlags {
  std::optional<std::string> listen;
  std::optional<std::string> db;
  std::optional<std::string> tls_cert;
  std::optional<std::string> tls_key;
  std::optional<int> io_threads;
  std::optional<std::string> console_dir;
  std::optional<std::string> secret_key_file;
};

struct ConfigSources {
  // The JSON config file (--config); empty: none.
  std::string file;
  // Reads an environment variable (null: unset); std::getenv by default.
  std::function<const char*(const char*)> env = [](const char* name) {
    return static_cast<const char*>(std::getenv(name));
  };
  ServerFlags flags;
};

// The configuration from `sources`, each value from the highest source that
// sets it. The environment sets listen (SMS_LISTEN), db (SMS_DB),
// console_dir (SMS_CONSOLE_DIR), secret_key_file (SMS_SECRET_KEY_FILE),
// pbkdf2_iterations (SMS_PBKDF2_ITERATIONS), db_pool_size
// (SMS_DB_POOL_SIZE, when > 0), webhook_allow (SMS_WEBHOOK_ALLOW, comma-
// separated), consistency_retention (SMS_CONSISTENCY_RETENTION),
// test_webhook_fast (SMS_TEST_WEBHOOK_FAST=1) and trusted_proxies
// (SMS_TRUSTED_PROXIES, comma-separated). kNotFound for a missing
// file, kInvalidArgument naming the file and key, or the variable, for a
// bad one (unknown keys are rejected).
[[nodiscard]] core::Result<ServerConfig> LoadServerConfig(
    const ConfigSources& sources);

// ServerConfig::listen taken apart: "HOST:PORT" or "[V6]:PORT", the port
// 0..65535 (0: a free one). The error names the setting and its sources.
struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
[[nodiscard]] core::Result<ListenAddress> ParseListenAddress(
    const std::string& listen);

// Reads the JSON config file at `path` over `base` (the keys it sets
// replace base's values).
[[nodiscard]] core::Result<ServerConfig> ReadConfigFile(const std::string& path,
                                                        ServerConfig base);

}  // namespace sms::server
