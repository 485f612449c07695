#include "server/metrics.h"

#include <chrono>
#include <cstdio>
#include <string_view>

namespace sms::server {
namespace {

// `v` as a label value: backslash, double quote and newline escaped.
void AppendLabel(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

// `name{k1="v1",k2="v2",...} value\n`.
void AppendSample(
    std::string& out, std::string_view name,
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
    std::string_view value) {
  out += name;
  char sep = '{';
  for (const auto& [k, v] : labels) {
    out += sep;
    out += k;
    out += "=\"";
    AppendLabel(out, v);
    out += '"';
    sep = ',';
  }
  if (sep == ',') out += '}';
  out += ' ';
  out += value;
  out += '\n';
}

std::string_view KnownMethod(const std::string& method) {
  for (std::string_view m : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH",
                             "OPTIONS", "CONNECT", "TRACE"}) {
    if (method == m) return m;
  }
  return "other";
}

std::string Seconds(int64_t epoch_ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%lld.%03lld",
                static_cast<long long>(epoch_ms / 1000),
                static_cast<long long>(epoch_ms % 1000));
  return buf;
}

// The gauges read from the database, and how the read went.
void RenderDatabase(std::string& out, const DatabaseGauges& db) {
  out +=
      "# HELP sms_database_up 1 when the database answered this scrape's "
      "queries, 0 when it failed.\n"
      "# TYPE sms_database_up gauge\n";
  AppendSample(out, "sms_database_up", {}, db.up ? "1" : "0");
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6f", db.seconds);
  out +=
      "# HELP sms_database_scrape_duration_seconds How long this scrape's "
      "database queries took.\n"
      "# TYPE sms_database_scrape_duration_seconds gauge\n";
  AppendSample(out, "sms_database_scrape_duration_seconds", {}, buf);
  if (!db.up) return;
  const auto dropped = [](const auto& page) {
    return std::to_string(page.count - static_cast<int64_t>(page.items.size()));
  };
  out +=
      "# HELP sms_sources Registered sources, of every domain.\n"
      "# TYPE sms_sources gauge\n";
  AppendSample(out, "sms_sources", {}, std::to_string(db.sources.count));
  out +=
      "# HELP sms_tasks_with_runs Tasks with at least one committed run, of "
      "every domain.\n"
      "# TYPE sms_tasks_with_runs gauge\n";
  AppendSample(out, "sms_tasks_with_runs", {}, std::to_string(db.tasks.count));
  out +=
      "# HELP sms_metrics_series_dropped Sources or tasks left out of "
      "their per-source or per-task series by the cap (" +
      std::to_string(DatabaseGauges::kMaxSeries) +
      " each, the first in id order are kept).\n"
      "# TYPE sms_metrics_series_dropped gauge\n";
  AppendSample(out, "sms_metrics_series_dropped", {{"family", "source"}},
               dropped(db.sources));
  AppendSample(out, "sms_metrics_series_dropped", {{"family", "task"}},
               dropped(db.tasks));

  out +=
      "# HELP sms_source_last_poll_timestamp_seconds When the source's agent "
      "last polled for a command (0: never).\n"
      "# TYPE sms_source_last_poll_timestamp_seconds gauge\n";
  for (const storage::SourcePoll& s : db.sources.items) {
    AppendSample(out, "sms_source_last_poll_timestamp_seconds",
                 {{"domain_id", s.domain_id},
                  {"source_id", s.source_id},
                  {"source", s.name}},
                 Seconds(s.last_seen_at));
  }
  out +=
      "# HELP sms_source_tasks Tasks that check from the source.\n"
      "# TYPE sms_source_tasks gauge\n";
  for (const storage::SourcePoll& s : db.sources.items) {
    AppendSample(out, "sms_source_tasks",
                 {{"domain_id", s.domain_id},
                  {"source_id", s.source_id},
                  {"source", s.name}},
                 std::to_string(s.tasks));
  }
  out +=
      "# HELP sms_task_consecutive_runs How many of the task's newest "
      "runs in a row had the newest run's verdict (consistent, "
      "inconsistent or failed), counted over its last " +
      std::to_string(DatabaseGauges::kStreakWindow) +
      " runs.\n"
      "# TYPE sms_task_consecutive_runs gauge\n";
  for (const storage::TaskStreak& t : db.tasks.items) {
    AppendSample(out, "sms_task_consecutive_runs",
                 {{"domain_id", t.domain_id},
                  {"task_id", t.task_id},
                  {"task", t.name},
                  {"verdict", t.verdict}},
                 std::to_string(t.runs));
  }
}

}  // namespace

DatabaseGauges ReadDatabaseGauges(storage::Store& store) {
  DatabaseGauges g;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  };
  auto sources = store.ListSourcePolls(DatabaseGauges::kMaxSeries);
  if (!sources) {
    g.seconds = elapsed();
    return g;
  }
  auto tasks = store.ListTaskStreaks(DatabaseGauges::kMaxSeries,
                                     DatabaseGauges::kStreakWindow);
  g.seconds = elapsed();
  if (!tasks) return g;
  g.up = true;
  g.sources = std::move(*sources);
  g.tasks = std::move(*tasks);
  return g;
}

void Metrics::ObserveRequest(const std::string& method,
                             const std::string& route, int status,
                             double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{std::string(KnownMethod(method)), route, status}];
  Histogram& h = latency_[route];
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

std::string Metrics::Render(int64_t runs_committed, const DatabaseGauges& db) {
  std::string out;
  char buf[1024];
  RenderDatabase(out, db);
  std::lock_guard lock(mu_);
  out +=
      "# HELP sms_http_requests_total HTTP requests by method, route and "
      "status.\n"
      "# TYPE sms_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    const auto& [method, route, status] = key;
    AppendSample(out, "sms_http_requests_total",
                 {{"method", method},
                  {"route", route},
                  {"status", std::to_string(status)}},
                 std::to_string(n));
  }
  out += "# HELP sms_http_request_duration_seconds Request latency.\n";
  out += "# TYPE sms_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      std::snprintf(buf, sizeof(buf),
                    "sms_http_request_duration_seconds_bucket{route=\"%s\","
                    "le=\"%g\"} %llu\n",
                    route.c_str(), kBuckets[i],
                    static_cast<unsigned long long>(h.buckets[i]));
      out += buf;
    }
    std::snprintf(buf, sizeof(buf),
                  "sms_http_request_duration_seconds_bucket{route=\"%s\","
                  "le=\"+Inf\"} %llu\n",
                  route.c_str(), static_cast<unsigned long long>(h.count));
    out += buf;
    std::snprintf(buf, sizeof(buf),
                  "sms_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                  "sms_http_request_duration_seconds_count{route=\"%s\"} "
                  "%llu\n",
                  route.c_str(), h.sum, route.c_str(),
                  static_cast<unsigned long long>(h.count));
    out += buf;
  }
  std::snprintf(buf, sizeof(buf),
                "# HELP sms_runs_committed_total Verification runs committed.\n"
                "# TYPE sms_runs_committed_total counter\n"
                "sms_runs_committed_total %lld\n"
                "# HELP sms_storage_errors_total Storage errors.\n"
                "# TYPE sms_storage_errors_total counter\n"
                "sms_storage_errors_total %lld\n"
                "# HELP sms_http_open_connections Open client connections.\n"
                "# TYPE sms_http_open_connections gauge\n"
                "sms_http_open_connections %lld\n",
                static_cast<long long>(runs_committed),
                static_cast<long long>(storage_errors_.load()),
                static_cast<long long>(open_connections_.load()));
  out += buf;
  std::snprintf(
      buf, sizeof(buf),
      "# HELP sms_http_connections_refused_total Connections turned away "
      "(no_descriptor: accept failed with EMFILE/ENFILE; max_connections: "
      "answered 503) or closed while idle to make room (idle_closed).\n"
      "# TYPE sms_http_connections_refused_total counter\n"
      "sms_http_connections_refused_total{reason=\"no_descriptor\"} %lld\n"
      "sms_http_connections_refused_total{reason=\"max_connections\"} %lld\n"
      "sms_http_connections_refused_total{reason=\"idle_closed\"} %lld\n",
      static_cast<long long>(refused_[0].load()),
      static_cast<long long>(refused_[1].load()),
      static_cast<long long>(refused_[2].load()));
  out += buf;
  if (read_cache_) {
    const storage::CacheStats c = read_cache_();
    out +=
        "# HELP sms_read_cache_requests_total Reads of tokens, tasks and run "
        "lists, agents' polls for a command (idle_sources), sources' owners "
        "(source_owners, the agent loop's check), tasks' sources "
        "(task_sources, the uploads' check), and credentials, users "
        "and domains (identity, PostgreSQL replicas only), answered "
        "from the server's read cache (hit) or the database (miss).\n"
        "# TYPE sms_read_cache_requests_total counter\n";
    for (const auto& [table, t] :
         {std::pair{"tokens", c.tokens}, std::pair{"tasks", c.tasks},
          std::pair{"runs", c.runs}, std::pair{"idle_sources", c.idle_sources},
          std::pair{"identity", c.identity},
          std::pair{"source_owners", c.sources},
          std::pair{"task_sources", c.task_sources}}) {
      std::snprintf(buf, sizeof(buf),
                    "sms_read_cache_requests_total{table=\"%s\",result=\"hit\"}"
                    " %llu\n"
                    "sms_read_cache_requests_total{table=\"%s\",result="
                    "\"miss\"} %llu\n",
                    table, static_cast<unsigned long long>(t.hits), table,
                    static_cast<unsigned long long>(t.misses));
      out += buf;
    }
    if (read_cache_shared_) {
      out +=
          "# HELP sms_read_cache_listening Whether the read cache's listener "
          "(PostgreSQL LISTEN) is connected and listening.\n"
          "# TYPE sms_read_cache_listening gauge\n"
          "sms_read_cache_listening " +
          std::to_string(c.listening ? 1 : 0) +
          "\n# HELP sms_read_cache_changes_heard_total Writes (of any "
          "replica) heard by the listener; each empties the cache.\n"
          "# TYPE sms_read_cache_changes_heard_total counter\n"
          "sms_read_cache_changes_heard_total " +
          std::to_string(c.changes_heard) +
          "\n# HELP sms_read_cache_listener_losses_total Connections of the "
          "listener lost; each empties the cache until it listens again.\n"
          "# TYPE sms_read_cache_listener_losses_total counter\n"
          "sms_read_cache_listener_losses_total " +
          std::to_string(c.listener_losses) +
          "\n# HELP sms_read_cache_lagging_reads_total Reads sent to the "
          "database because the listener's last fence was too old.\n"
          "# TYPE sms_read_cache_lagging_reads_total counter\n"
          "sms_read_cache_lagging_reads_total " +
          std::to_string(c.lagging_reads) + "\n";
    }
  }
  return out;
}

}  // namespace sms::server
