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

// A whole-number setting's limits, and its unit in messages (" ms", "").
struct IntRange {
  int64_t lo, hi;
  const char* unit;
};
// The read cache's bound (docs/server.md "The read cache"): fences every
// 10 ms .. 2 s (the listener takes a fence missing for 5 s as a lost
// connection), a lag of 50 ms .. 1 h that leaves room for a fence to come
// back (more than twice the interval, CheckCacheBound).
constexpr IntRange kFenceIntervalMs{10, 2000, " ms"};
constexpr IntRange kMaxLagMs{50, 3600000, " ms"};
// Under the console's 60 s "connected" window.
constexpr IntRange kHeartbeatWriteMs{0, 50000, " ms"};
// PostgreSQL connections of one process (and its handler workers).
constexpr IntRange kPoolSize{1, 1000, ""};
// Fewer than 1,000 iterations leave a stolen database's passwords cheap to
// guess; auth::VerifyPassword refuses more than 10,000,000.
constexpr IntRange kPbkdf2Iterations{1000, 10000000, ""};
constexpr IntRange kTokenTtlHours{1, 8760, " h"};  // an hour .. a year
// 0: one per core. Each is a thread with its own event loop.
constexpr IntRange kIoThreads{0, 256, ""};

// `n` into `out` when within `range`, else an error naming `where` (the key
// or the variable), the value as given and the limits: checked before it is
// narrowed to an int, so a huge value is refused, not wrapped or clamped.
template <typename Int>
core::Status IntInRange(int64_t n, IntRange range, const std::string& where,
                        Int* out) {
  if (n < range.lo || n > range.hi)
    return Fail(core::InvalidArgument(where + ": " + std::to_string(n) +
                                      ": expected " + std::to_string(range.lo) +
                                      ".." + std::to_string(range.hi) +
                                      range.unit));
  *out = static_cast<Int>(n);
  return Ok();
}

// A whole number from the variable `name` within `range`, or an error
// naming the variable (a typo must not silently keep the default).
core::Status EnvInt(const ConfigSources& sources, const char* name,
                    IntRange range, int* out) {
  const char* v = sources.env(name);
  if (v == nullptr) return Ok();
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(v, &end, 10);
  if (end == v || *end != '\0')
    return Fail(core::InvalidArgument(std::string(name) + ": \"" + v +
                                      "\": expected a whole number " +
                                      std::to_string(range.lo) + ".." +
                                      std::to_string(range.hi) + range.unit));
  if (errno == ERANGE)  // past int64: out of any range
    return Fail(core::InvalidArgument(std::string(name) + ": " + v +
                                      ": expected " + std::to_string(range.lo) +
                                      ".." + std::to_string(range.hi) +
                                      range.unit));
  return IntInRange(n, range, name, out);
}

// Each value is checked where it is read (IntInRange); together the lag
// must leave room for a fence to come back.
core::Status CheckCacheBound(const ServerConfig& c) {
  if (c.cache_max_lag_ms <= 2 * c.cache_fence_interval_ms)
    return Fail(core::InvalidArgument(
        "cache_max_lag_ms (SMS_CACHE_MAX_LAG_MS): " +
        std::to_string(c.cache_max_lag_ms) +
        " must be more than twice cache_fence_interval_ms "
        "(SMS_CACHE_FENCE_INTERVAL_MS: " +
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

core::Result<ListenAddress> ParseListenAddress(const std::string& listen) {
  auto bad = [&](const std::string& why) {
    return Fail(
        core::InvalidArgument("listen (--listen, SMS_LISTEN or "
                              "\"listen\"): \"" +
                              listen + "\": " + why));
  };
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return bad("expected HOST:PORT");
  ListenAddress out;
  out.host = listen.substr(0, colon);
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']')
    out.host = out.host.substr(1, out.host.size() - 2);
  if (out.host.empty()) return bad("expected HOST:PORT (HOST is missing)");
  const std::string port = listen.substr(colon + 1);
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || errno == ERANGE || n < 0 || n > 65535)
    return bad("the port must be a number 0..65535 (0: a free one)");
  out.port = static_cast<uint16_t>(n);
  return out;
}

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
      SMS_RETURN_IF_ERROR(
          IntInRange(n, kIoThreads, path + ": " + k, &c.io_threads));
    } else if (k == "token_ttl_hours") {
      SMS_RETURN_IF_ERROR(integer(&n));
      SMS_RETURN_IF_ERROR(
          IntInRange(n, kTokenTtlHours, path + ": " + k, &c.token_ttl_hours));
    } else if (k == "pbkdf2_iterations") {
      SMS_RETURN_IF_ERROR(integer(&n));
      SMS_RETURN_IF_ERROR(IntInRange(n, kPbkdf2Iterations, path + ": " + k,
                                     &c.pbkdf2_iterations));
    } else if (k == "db_pool_size") {
      SMS_RETURN_IF_ERROR(integer(&n));
      SMS_RETURN_IF_ERROR(
          IntInRange(n, kPoolSize, path + ": " + k, &c.db_pool_size));
    } else if (k == "cache_fence_interval_ms") {
      SMS_RETURN_IF_ERROR(integer(&n));
      SMS_RETURN_IF_ERROR(IntInRange(n, kFenceIntervalMs, path + ": " + k,
                                     &c.cache_fence_interval_ms));
    } else if (k == "cache_max_lag_ms") {
      SMS_RETURN_IF_ERROR(integer(&n));
      SMS_RETURN_IF_ERROR(
          IntInRange(n, kMaxLagMs, path + ": " + k, &c.cache_max_lag_ms));
    } else if (k == "heartbeat_write_ms") {
      SMS_RETURN_IF_ERROR(integer(&n));
      SMS_RETURN_IF_ERROR(IntInRange(n, kHeartbeatWriteMs, path + ": " + k,
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
  SMS_RETURN_IF_ERROR(EnvInt(sources, "SMS_PBKDF2_ITERATIONS",
                             kPbkdf2Iterations, &c.pbkdf2_iterations));
  // "0" (or empty) keeps the file's or the default pool size.
  if (const char* v = sources.env("SMS_DB_POOL_SIZE");
      v != nullptr && std::string_view(v) != "0" && *v != '\0') {
    SMS_RETURN_IF_ERROR(
        EnvInt(sources, "SMS_DB_POOL_SIZE", kPoolSize, &c.db_pool_size));
  }
  SMS_RETURN_IF_ERROR(EnvInt(sources, "SMS_CACHE_FENCE_INTERVAL_MS",
                             kFenceIntervalMs, &c.cache_fence_interval_ms));
  SMS_RETURN_IF_ERROR(
      EnvInt(sources, "SMS_CACHE_MAX_LAG_MS", kMaxLagMs, &c.cache_max_lag_ms));
  SMS_RETURN_IF_ERROR(EnvInt(sources, "SMS_HEARTBEAT_WRITE_MS",
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
  if (f.io_threads) {
    SMS_RETURN_IF_ERROR(
        IntInRange(*f.io_threads, kIoThreads, "--io-threads", &c.io_threads));
  }
  if (f.console_dir) c.console_dir = *f.console_dir;
  if (f.secret_key_file) c.secret_key_file = *f.secret_key_file;
  if (auto proxies = TrustedProxies::Parse(c.trusted_proxies); !proxies)
    return Fail(proxies.error());  // names the entry
  SMS_RETURN_IF_ERROR(CheckCacheBound(c));
  if (auto listen = ParseListenAddress(c.listen); !listen)
    return Fail(listen.error());
  return c;
}

}  // namespace sms::server
