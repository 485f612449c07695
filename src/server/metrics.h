// Metrics: request counters and latency histograms kept in memory, and
// gauges read from the database at each scrape (DatabaseGauges: the last
// poll of every source, the verdict streak of every task), rendered in the
// Prometheus text exposition format for GET /metrics. docs/operations.md
// (Monitoring) lists every series.
// Thread-safety: safe for concurrent use (one mutex; the critical sections
// are a few map operations; the database is read before it is taken).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>

#include "storage/caching_store.h"
#include "storage/store.h"

namespace sms::server {

// What a scrape reads from the database. Bounded: at most kMaxSeries
// sources and kMaxSeries tasks (in id order, so the same ones at every
// scrape), each streak counted over the task's last kStreakWindow runs.
struct DatabaseGauges {
  static constexpr int kMaxSeries = 10000;
  static constexpr int kStreakWindow = 20;
  bool up = false;     // both queries answered
  double seconds = 0;  // how long they took
  storage::Page<storage::SourcePoll> sources;
  storage::Page<storage::TaskStreak> tasks;
};

// Reads the gauges from `store` with two read-only statements
// (Store::ListSourcePolls, ListTaskStreaks). A failure is not an error
// here: `up` is false and no series are read, so /metrics still answers
// and says the database is down.
[[nodiscard]] DatabaseGauges ReadDatabaseGauges(storage::Store& store);

class Metrics final {
 public:
  static constexpr std::array<double, 12> kBuckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0};

  // Records one `method` request of `route` (the pattern, e.g.
  // "/v3/tasks/{task_id}"; "" when no route matched) answered with `status`
  // after `seconds`. A method that is not one of HTTP's nine standard ones
  // is counted as "other", so clients cannot grow the series.
  void ObserveRequest(const std::string& method, const std::string& route,
                      int status, double seconds);
  void AddStorageError() { storage_errors_.fetch_add(1); }
  void SetOpenConnections(int64_t n) { open_connections_.store(n); }
  void AddOpenConnections(int64_t d) { open_connections_.fetch_add(d); }
  // Connections the transport turned away or closed to make room
  // (http_server.h): accept() found no free descriptor, max_connections
  // were open with none idle (503), an idle one was closed for a new one.
  enum class Refusal { kNoDescriptor, kMaxConnections, kIdleClosed };
  void AddConnectionRefused(Refusal r) {
    refused_[static_cast<size_t>(r)].fetch_add(1);
  }
  // Where the read cache's counts come from (caching_store.h); unset: the
  // store has no cache and no cache lines are rendered. `shared`: the cache
  // of a PostgreSQL replica, whose listener's figures are rendered too.
  void SetReadCacheSource(std::function<storage::CacheStats()> source,
                          bool shared = false) {
    read_cache_ = std::move(source);
    read_cache_shared_ = shared;
  }

  // The exposition text; `runs_committed` comes from the result service,
  // `db` from ReadDatabaseGauges.
  std::string Render(int64_t runs_committed, const DatabaseGauges& db);

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };
  std::mutex mu_;
  // Guarded by mu_.
  // (method, route, status) -> requests.
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  std::atomic<int64_t> storage_errors_{0};
  std::atomic<int64_t> open_connections_{0};
  std::array<std::atomic<int64_t>, 3> refused_{};
  std::function<storage::CacheStats()> read_cache_;  // set before serving
  bool read_cache_shared_ = false;
};

}  // namespace sms::server
