#include "server/retention.h"

#include <charconv>
#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "server/json_fields.h"

namespace sms::server {
namespace {

core::Result<int64_t> WholeNumber(std::string_view part, std::string_view v,
                                  int64_t max, const char* unit) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < 1 || n > max)
    return core::Fail(core::InvalidArgument(
        std::string(part) + ": expected a whole number of " + unit +
        " from 1 to " + std::to_string(max)));
  return n;
}

}  // namespace

core::Result<storage::RetentionPolicy> ParseRetention(std::string_view text) {
  storage::RetentionPolicy p;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = text.substr(start, end - start);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    start = end + 1;
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    const std::string_view key = part.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? "" : part.substr(eq + 1);
    if (key == "runs") {
      SMS_ASSIGN_OR_RETURN(int64_t n, WholeNumber(part, value, 100000, "runs"));
      p.keep_runs = static_cast<int>(n);
    } else if (key == "days") {
      SMS_ASSIGN_OR_RETURN(int64_t n, WholeNumber(part, value, 36500, "days"));
      p.keep_ms = n * 24 * 3600 * 1000;
    } else {
      return core::Fail(core::InvalidArgument(
          std::string(part) +
          ": expected runs=N and/or days=D, e.g. \"runs=10,days=30\""));
    }
  }
  return p;
}

RetentionWorker::RetentionWorker(storage::Store& store, core::Clock& clock,
                                 RetentionOptions options,
                                 std::function<void(const std::string&)> log)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      log_(std::move(log)),
      worker_(std::chrono::milliseconds(options_.interval_ms)) {}

RetentionWorker::~RetentionWorker() { Stop(); }

std::optional<storage::RetentionPolicy> RetentionWorker::TenantPolicy(
    const std::string& domain_id) {
  auto text = store_.GetDomainSetting(domain_id, kRetentionSetting);
  if (!text) {
    log_(ToJson(json::object{{"level", "warn"},
                             {"msg",
                              "retention: reading the tenant's"
                              " default failed"},
                             {"domain_id", domain_id},
                             {"error", text.error().ToString()}}));
    return std::nullopt;
  }
  if (!text->has_value()) return options_.default_policy;
  auto p = ParseRetention(**text);  // checked when set, unless set by hand
  if (!p) {
    log_(ToJson(json::object{{"level", "warn"},
                             {"msg",
                              "retention: the tenant's default is"
                              " not valid"},
                             {"domain_id", domain_id},
                             {"error", p.error().ToString()}}));
    return std::nullopt;
  }
  return *p;
}

int64_t RetentionWorker::RunOnce() {
  int64_t deleted = 0;
  storage::TaskRef after;
  std::string tenant;  // the domain whose default tenant_policy is
  std::optional<storage::RetentionPolicy> tenant_policy;
  while (true) {
    auto tasks = store_.ListTasksWithDetails(after, 100);
    if (!tasks) {
      log_(ToJson(json::object{{"level", "warn"},
                               {"msg", "retention: listing tasks failed"},
                               {"error", tasks.error().ToString()}}));
      return deleted;
    }
    if (tasks->empty()) return deleted;
    after = tasks->back();
    for (const storage::TaskRef& t : *tasks) {
      // Tasks come in domain order: each tenant's default is read once.
      if (t.domain_id != tenant) {
        tenant = t.domain_id;
        tenant_policy = TenantPolicy(tenant);
      }
      std::optional<storage::RetentionPolicy> policy = tenant_policy;
      auto configs = store_.GetTaskConfigs(t.domain_id, t.task_id);
      if (configs) {
        for (const auto& e : *configs) {
          if (e.key != kRetentionSetting) continue;
          if (auto p = ParseRetention(e.value)) policy = *p;
        }
      }
      // A tenant's default that could not be read purges nothing: the
      // server's default may keep less than the tenant asked for.
      if (!policy) continue;
      while (true) {
        auto n =
            store_.PurgeDetails(t.domain_id, t.task_id, *policy,
                                clock_.NowEpochMillis(), options_.batch_rows);
        if (!n) {
          log_(ToJson(json::object{{"level", "warn"},
                                   {"msg", "retention: purge failed"},
                                   {"task_id", t.task_id},
                                   {"error", n.error().ToString()}}));
          break;
        }
        deleted += *n;
        if (*n == 0) break;
        if (worker_.Sleep(std::chrono::milliseconds(options_.pause_ms)))
          return deleted;
      }
    }
  }
}

void RetentionWorker::Start() {
  worker_.Start([this] {
    const int64_t n = RunOnce();
    if (n > 0) {
      log_(ToJson(json::object{{"level", "info"},
                               {"msg", "retention: details deleted"},
                               {"rows", n}}));
    }
    return false;  // one pass deletes all there is to delete
  });
}

void RetentionWorker::Stop() { worker_.Stop(); }

}  // namespace sms::server
