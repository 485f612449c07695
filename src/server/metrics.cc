#include "server/metrics.h"

#include <cstdio>

namespace sms::server {

void Metrics::ObserveRequest(const std::string& route, int status,
                             double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{route, status}];
  Histogram& h = latency_[route];
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

std::string Metrics::Render(int64_t runs_committed) {
  std::string out;
  char buf[1024];
  std::lock_guard lock(mu_);
  out += "# HELP sms_http_requests_total HTTP requests by route and status.\n";
  out += "# TYPE sms_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    std::snprintf(buf, sizeof(buf),
                  "sms_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                  key.first.c_str(), key.second,
                  static_cast<unsigned long long>(n));
    out += buf;
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
        "lists answered from the server's read cache (hit) or the database "
        "(miss).\n"
        "# TYPE sms_read_cache_requests_total counter\n";
    for (const auto& [table, t] :
         {std::pair{"tokens", c.tokens}, std::pair{"tasks", c.tasks},
          std::pair{"runs", c.runs}}) {
      std::snprintf(buf, sizeof(buf),
                    "sms_read_cache_requests_total{table=\"%s\",result=\"hit\"}"
                    " %llu\n"
                    "sms_read_cache_requests_total{table=\"%s\",result="
                    "\"miss\"} %llu\n",
                    table, static_cast<unsigned long long>(t.hits), table,
                    static_cast<unsigned long long>(t.misses));
      out += buf;
    }
  }
  return out;
}

}  // namespace sms::server
