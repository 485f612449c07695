#include "agent/agent_config.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace sms::agent {
namespace {

bool KnownKey(const std::string& key) {
  for (const char* k : kAgentConfigKeys) {
    if (key == k) return true;
  }
  return false;
}

std::string Trim(std::string s) {
  const char* ws = " \t\r";
  s.erase(0, s.find_first_not_of(ws));
  const size_t end = s.find_last_not_of(ws);
  s.erase(end == std::string::npos ? 0 : end + 1);
  return s;
}

}  // namespace

core::Result<std::map<std::string, std::string>> ParseConfigText(
    const std::string& text, const std::string& origin) {
  std::map<std::string, std::string> out;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = Trim(text.substr(pos, end - pos));
    pos = end + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    const std::string where = origin + ":" + std::to_string(line_no);
    if (eq == std::string::npos) {
      return core::Fail(core::InvalidArgument(
          where + ": expected 'key = value', got '" + line + "'"));
    }
    std::string key = Trim(line.substr(0, eq));
    std::string value = Trim(line.substr(eq + 1));
    std::replace(key.begin(), key.end(), '_', '-');
    if (!KnownKey(key)) {
      return core::Fail(
          core::InvalidArgument(where + ": unknown key '" + key + "'"));
    }
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    out[key] = value;
  }
  return out;
}

std::map<std::string, std::string> ConfigFromEnvironment(char** env) {
  std::map<std::string, std::string> out;
  constexpr std::string_view kPrefix = "SMS_AGENT_";
  for (char** e = env; e != nullptr && *e != nullptr; ++e) {
    std::string_view var(*e);
    if (var.substr(0, kPrefix.size()) != kPrefix) continue;
    const size_t eq = var.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key(var.substr(kPrefix.size(), eq - kPrefix.size()));
    for (auto& c : key) c = c == '_' ? '-' : static_cast<char>(tolower(c));
    if (std::find_if(std::begin(kAgentEnvironmentOnly),
                     std::end(kAgentEnvironmentOnly), [&](const char* k) {
                       return key == k;
                     }) != std::end(kAgentEnvironmentOnly)) {
      continue;
    }
    // Unknown SMS_AGENT_* variables are kept so ApplyConfig names them.
    out[key] = std::string(var.substr(eq + 1));
  }
  return out;
}

// A hundred years: more is a typo, and its nanoseconds still fit an int64.
constexpr double kMaxDurationSeconds = 36500.0 * 86400;

core::Result<int64_t> ParseDurationSeconds(const std::string& text,
                                           const std::string& what) {
  char* end = nullptr;
  const double v = strtod(text.c_str(), &end);
  const std::string unit = end != nullptr ? end : "";
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  if (unit == "m") scale = 60;
  if (unit == "h") scale = 3600;
  if (unit == "d") scale = 86400;
  if (text.empty() || end == text.c_str() || scale == 0 || !(v >= 0) ||
      v * scale > kMaxDurationSeconds) {
    return core::Fail(core::InvalidArgument(
        what +
        " must be a duration from 0 to 36500d (a hundred years), such as "
        "30d, 12h, 90m or 3600 (seconds), got '" +
        text + "'"));
  }
  return static_cast<int64_t>(v * scale);
}

core::Result<double> ParseFraction(const std::string& text,
                                   const std::string& what) {
  char* end = nullptr;
  double v = strtod(text.c_str(), &end);
  const std::string rest = end != nullptr ? end : "";
  if (rest == "%") v /= 100;
  if (text.empty() || end == text.c_str() || (!rest.empty() && rest != "%") ||
      !(v >= 0 && v <= 1)) {
    return core::Fail(core::InvalidArgument(
        what +
        " must be a fraction in 0..1 or a percentage (0.01 or 1%), got '" +
        text + "'"));
  }
  return v;
}

core::Result<bool> ParseOnOff(const std::string& text,
                              const std::string& what) {
  std::string v;
  for (char ch : text) v += static_cast<char>(tolower(ch));
  if (v == "on" || v == "true" || v == "1" || v == "yes") return true;
  if (v == "off" || v == "false" || v == "0" || v == "no") return false;
  return core::Fail(
      core::InvalidArgument(what + " must be on or off, got '" + text + "'"));
}

core::Status ApplyConfig(const std::map<std::string, std::string>& values,
                         const std::string& origin, AgentConfig& c) {
  for (const auto& [key, value] : values) {
    if (key == "server") {
      c.server = value;
      while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
    } else if (key == "ak") {
      c.ak = value;
    } else if (key == "sk") {
      c.sk = value;
    } else if (key == "token") {
      c.token = value;
    } else if (key == "ca-file") {
      c.ca_file = value;
    } else if (key == "state-dir") {
      c.state_dir = value;
    } else if (key == "name") {
      c.name = value;
    } else if (key == "source-root") {
      c.source_root = value;
    } else if (key == "ssh-config") {
      c.ssh_config = value;
    } else if (key == "remote-agent") {
      c.remote_agent = value;
    } else if (key == "push-agent") {
      SMS_ASSIGN_OR_RETURN(c.push_agent,
                           ParseOnOff(value, origin + ": push-agent"));
    } else if (key == "static-agent") {
      c.static_agent = value;
    } else if (key == "remote-tmp") {
      c.remote_tmp = value;
    } else if (key == "spill-dir") {
      c.spill_dir = value;
    } else if (key == "cache") {
      SMS_ASSIGN_OR_RETURN(c.cache, ParseOnOff(value, origin + ": cache"));
    } else if (key == "remote-cache-dir") {
      c.remote_cache_dir = value;
    } else if (key == "rehash-fraction") {
      SMS_ASSIGN_OR_RETURN(c.rehash_fraction,
                           ParseFraction(value, origin + ": rehash-fraction"));
    } else if (key == "cache-max-age") {
      SMS_ASSIGN_OR_RETURN(
          c.cache_max_age_s,
          ParseDurationSeconds(value, origin + ": cache-max-age"));
    } else if (key == "poll-interval") {
      char* end = nullptr;
      const double v = strtod(value.c_str(), &end);
      if (value.empty() || *end != 0 || !(v >= 0.1 && v <= 3600)) {
        return core::Fail(core::InvalidArgument(
            origin +
            ": poll-interval must be a number of seconds in "
            "0.1..3600, got '" +
            value + "'"));
      }
      c.poll_interval = v;
    } else {
      return core::Fail(
          core::InvalidArgument(origin + ": unknown key '" + key + "'"));
    }
  }
  return core::Ok();
}

core::Status ValidateConfig(const AgentConfig& c) {
  if (c.server.empty()) {
    return core::Fail(core::InvalidArgument(
        "server is required (--server, SMS_AGENT_SERVER or 'server =' in "
        "the configuration file)"));
  }
  if (c.server.rfind("http://", 0) != 0 && c.server.rfind("https://", 0) != 0) {
    return core::Fail(core::InvalidArgument(
        "server must be an http:// or https:// URL, got '" + c.server + "'"));
  }
  const bool aksk = !c.ak.empty() || !c.sk.empty();
  if (aksk && (c.ak.empty() || c.sk.empty())) {
    return core::Fail(
        core::InvalidArgument("ak and sk must be given together"));
  }
  if (aksk == !c.token.empty()) {
    return core::Fail(core::InvalidArgument(
        "give either ak + sk or token as the agent's credentials"));
  }
  if (c.state_dir.empty()) {
    return core::Fail(core::InvalidArgument("state-dir must not be empty"));
  }
  return core::Ok();
}

}  // namespace sms::agent
