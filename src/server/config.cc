#include "server/config.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "core/strings.h"
#include "server/client_address.h"
#include "server/json_fields.h"
#include "server/retention.h"
#include "webhook/webhook.h"

namespace sms::server {

using core::Fail;
using core::Ok;

namespace {

// The checks of the issue-13 settings; `where` names the key or variable.
core::Status CheckWebhookAllow(const std::vector<std::string>& allow,
                               const std::string& where) {
  auto parsed = webhook::AllowList::Parse(allow);
  if (!parsed) {
    // Its messages begin "webhook_allow: "; `where` says that better.
    std::string why = parsed.error().message;
    if (why.rfind("webhook_allow: ", 0) == 0) why.erase(0, 15);
    return Fail(core::InvalidArgument(where + ": " + why));
  }
  return Ok();
}

// The read cache's bound (docs/server.md "The read cache"): fences every
// 10 ms .. 2 s (the listener takes a fence missing for 5 s as a lost
// connection), a lag of 50 ms .. 1 h that leaves room for a fence to come
// back (more than twice the interval, CheckCacheBound).
struct MillisRange {
  int64_t lo, hi;
};
constexpr MillisRange kFenceIntervalMs{10, 2000};
constexpr MillisRange kMaxLagMs{50, 3600000};
// Under the console's 60 s "connected" window.
constexpr MillisRange kHeartbeatWriteMs{0, 50000};

// `n` into `out` when within `range`, else an error naming `where` (the key
// or the variable), the value as given and the limits: checked before it is
// narrowed to an int, so a huge value is refused, not wrapped or clamped.
core::Status MillisInRange(int64_t n, MillisRange range,
                           const std::string& where, int* out) {
  if (n < range.lo || n > range.hi)
    return Fail(core::InvalidArgument(where + ": " + std::to_string(n) +
                                      ": expected " + std::to_string(range.lo) +
                                      ".." + std::to_string(range.hi) + " ms"));
  *out = static_cast<int>(n);
  return Ok();
}

// SMS_CACHE_*_MS: a whole number of milliseconds within `range`, or an
// error naming the variable (a typo must not silently keep the default).
core::Status EnvMillis(const ConfigSources& sources, const char* name,
                       MillisRange range, int* out) {
  const char* v = sources.env(name);
  if (v == nullptr) return Ok();
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(v, &end, 10);
  if (end == v || *end != '\0')
    return Fail(core::InvalidArgument(std::string(name) + ": \"" + v +
                                      "\": expected a whole number of ms"));
  if (errno == ERANGE)  // past int64: out of any range
    return Fail(core::InvalidArgument(std::string(name) + ": " + v +
                                      ": expected " + std::to_string(range.lo) +
                                      ".." + std::to_string(range.hi) + " ms"));
  return MillisInRange(n, range, name, out);
}

// Each value is checked where it is read (MillisInRange); together the lag
// must leave room for a fence to come back.
core::Status CheckCacheBound(const ServerConfig& c) {
  if (c.cache_max_lag_ms <= 2 * c.cache_fence_interval_ms)
    return Fail(core::InvalidArgument(
        "cache_max_lag_ms: " + std::to_string(c.cache_max_lag_ms) +
        " must be more than twice cache_fence_interval_ms (" +
        std::to_string(c.cache_fence_interval_ms) +
        "): a fence takes a round trip to come back"));
  return Ok();
}

core::Status CheckRetention(const std::string& value,
                            const std::string& where) {
  if (auto parsed = ParseRetention(value); !parsed)
    return Fail(core::InvalidArgument(where + ": " + parsed.error().message));
  return Ok();
}

}  // namespace

core::Result<ServerConfig> ReadConfigFile(const std::string& path,
                                          ServerConfig c) {
  std::ifstream in(path);
  if (!in) return Fail(core::ErrnoError("config file " + path, errno));
  std::stringstream ss;
  ss << in.rdbuf();
  auto obj = ParseJsonObject(ss.str());
  if (!obj)
    return Fail(core::InvalidArgument(path + ": " + obj.error().message));
  for (const auto& [key, value] : *obj) {
    const std::string k(key);
    auto bad = [&](const std::string& why) {
      return Fail(core::InvalidArgument(path + ": " + k + ": " + why));
    };
    auto str = [&](std::string* out) -> core::Status {
      if (!value.is_string()) return bad("expected a string");
      *out = std::string(value.get_string());
      return Ok();
    };
    auto integer = [&](int64_t* out) -> core::Status {
      if (!value.is_int64()) return bad("expected an integer");
      *out = value.get_int64();
      return Ok();
    };
    int64_t n = 0;
    if (k == "listen") {
      SMS_RETURN_IF_ERROR(str(&c.listen));
    } else if (k == "db") {
      SMS_RETURN_IF_ERROR(str(&c.db));
    } else if (k == "tls_cert") {
      SMS_RETURN_IF_ERROR(str(&c.tls_cert));
    } else if (k == "tls_key") {
      SMS_RETURN_IF_ERROR(str(&c.tls_key));
    } else if (k == "console_dir") {
      SMS_RETURN_IF_ERROR(str(&c.console_dir));
    } else if (k == "secret_key_file") {
      SMS_RETURN_IF_ERROR(str(&c.secret_key_file));
    } else if (k == "trusted_proxies") {
      if (!value.is_array()) return bad("expected an array of strings");
      c.trusted_proxies.clear();
      for (const auto& v : value.get_array()) {
        if (!v.is_string()) return bad("expected an array of strings");
        c.trusted_proxies.emplace_back(v.get_string());
      }
    } else if (k == "io_threads") {
      SMS_RETURN_IF_ERROR(integer(&n));
      c.io_threads = static_cast<int>(n);
    } else if (k == "token_ttl_hours") {
      SMS_RETURN_IF_ERROR(integer(&c.token_ttl_hours));
    } else if (k == "pbkdf2_iterations") {
      SMS_RETURN_IF_ERROR(integer(&n));
      c.pbkdf2_iterations = static_cast<int>(n);
    } else if (k == "db_pool_size") {
      SMS_RETURN_IF_ERROR(integer(&n));
      if (n < 1 || n > 1000)
        return Fail(core::InvalidArgument(path + ": db_pool_size: 1..1000"));
      c.db_pool_size = static_cast<int>(n);
    } else if (k == "cache_fence_interval_ms") {
      SMS_RETURN_IF_ERROR(integer(&n));
      SMS_RETURN_IF_ERROR(MillisInRange(n, kFenceIntervalMs, path + ": " + k,
                                        &c.cache_fence_interval_ms));
    } else if (k == "cache_max_lag_ms") {
      SMS_RETURN_IF_ERROR(integer(&n));
      SMS_RETURN_IF_ERROR(
          MillisInRange(n, kMaxLagMs, path + ": " + k, &c.cache_max_lag_ms));
    } else if (k == "heartbeat_write_ms") {
      SMS_RETURN_IF_ERROR(integer(&n));
      SMS_RETURN_IF_ERROR(MillisInRange(n, kHeartbeatWriteMs, path + ": " + k,
                                        &c.heartbeat_write_ms));
    } else if (k == "public_metrics") {
      if (!value.is_bool())
        return Fail(core::InvalidArgument(
            path + ": public_metrics: expected true or false"));
      c.public_metrics = value.get_bool();
    } else if (k == "webhook_allow") {
      // ["10.0.0.0/8", "*.corp.example"], or one comma-separated string.
      c.webhook_allow.clear();
      if (value.is_string()) {
        c.webhook_allow = core::SplitList(std::string(value.get_string()));
      } else if (value.is_array()) {
        for (const auto& item : value.get_array()) {
          if (!item.is_string()) return bad("expected strings");
          c.webhook_allow.emplace_back(item.get_string());
        }
      } else {
        return bad("expected an array of strings");
      }
      SMS_RETURN_IF_ERROR(CheckWebhookAllow(c.webhook_allow, path + ": " + k));
    } else if (k == "consistency_retention") {
      SMS_RETURN_IF_ERROR(str(&c.consistency_retention));
      SMS_RETURN_IF_ERROR(
          CheckRetention(c.consistency_retention, path + ": " + k));
    } else {
      return Fail(core::InvalidArgument(path + ": unknown key \"" + k + "\""));
    }
  }
  return c;
}

core::Result<ServerConfig> LoadServerConfig(const ConfigSources& sources) {
  ServerConfig c;
  // The file.
  if (!sources.file.empty()) {
    SMS_ASSIGN_OR_RETURN(c, ReadConfigFile(sources.file, c));
  }
  // The environment.
  auto env = [&](const char* name, std::string* out) {
    if (const char* v = sources.env(name)) *out = v;
  };
  env("SMS_LISTEN", &c.listen);
  env("SMS_DB", &c.db);
  env("SMS_CONSOLE_DIR", &c.console_dir);
  env("SMS_SECRET_KEY_FILE", &c.secret_key_file);
  if (const char* v = sources.env("SMS_PBKDF2_ITERATIONS"))
    c.pbkdf2_iterations = std::atoi(v);
  if (const char* v = sources.env("SMS_DB_POOL_SIZE"); v && std::atoi(v) > 0)
    c.db_pool_size = std::atoi(v);
  SMS_RETURN_IF_ERROR(EnvMillis(sources, "SMS_CACHE_FENCE_INTERVAL_MS",
                                kFenceIntervalMs, &c.cache_fence_interval_ms));
  SMS_RETURN_IF_ERROR(EnvMillis(sources, "SMS_CACHE_MAX_LAG_MS", kMaxLagMs,
                                &c.cache_max_lag_ms));
  SMS_RETURN_IF_ERROR(EnvMillis(sources, "SMS_HEARTBEAT_WRITE_MS",
                                kHeartbeatWriteMs, &c.heartbeat_write_ms));
  if (const char* v = sources.env("SMS_WEBHOOK_ALLOW")) {
    c.webhook_allow = core::SplitList(v);
    SMS_RETURN_IF_ERROR(
        CheckWebhookAllow(c.webhook_allow, "SMS_WEBHOOK_ALLOW"));
  }
  if (const char* v = sources.env("SMS_CONSISTENCY_RETENTION")) {
    c.consistency_retention = v;
    SMS_RETURN_IF_ERROR(
        CheckRetention(c.consistency_retention, "SMS_CONSISTENCY_RETENTION"));
  }
  if (const char* v = sources.env("SMS_TEST_WEBHOOK_FAST"))
    c.test_webhook_fast = std::string(v) == "1";
  if (const char* v = sources.env("SMS_TRUSTED_PROXIES")) {
    c.trusted_proxies.clear();
    std::string_view rest = v;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      std::string_view entry = rest.substr(0, comma);
      if (entry.find_first_not_of(' ') != std::string_view::npos)
        c.trusted_proxies.emplace_back(entry);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  // The flags.
  const ServerFlags& f = sources.flags;
  if (f.listen) c.listen = *f.listen;
  if (f.db) c.db = *f.db;
  if (f.tls_cert) c.tls_cert = *f.tls_cert;
  if (f.tls_key) c.tls_key = *f.tls_key;
  if (f.io_threads) c.io_threads = *f.io_threads;
  if (f.console_dir) c.console_dir = *f.console_dir;
  if (f.secret_key_file) c.secret_key_file = *f.secret_key_file;
  if (auto proxies = TrustedProxies::Parse(c.trusted_proxies); !proxies)
    return Fail(proxies.error());  // names the entry
  SMS_RETURN_IF_ERROR(CheckCacheBound(c));
  return c;
}

}  // namespace sms::server
