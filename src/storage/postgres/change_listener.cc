// ChangeListener (postgres_store.h): one connection of its own, LISTENing
// for the notifications of migrations/postgres/0014_cache_notify.sql and
// 0016_command_notify.sql, and sending itself fences, reported to a
// CacheFeed.
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>

#include "storage/caching_store.h"
#include "storage/postgres/driver.h"

namespace sms::storage {
namespace postgres {
namespace {

using Clock = core::Clock;
using std::chrono::milliseconds;

class ChangeListenerImpl final : public ChangeListener {
 public:
  ChangeListenerImpl(std::string conninfo, const PostgresOptions& options,
                     CacheFeed& feed, Clock& clock,
                     const ChangeListenerOptions& listener)
      : conninfo_(std::move(conninfo)),
        options_(options),
        feed_(feed),
        clock_(clock),
        listener_(listener),
        wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ChangeListenerImpl() override {
    stop_.store(true);
    if (wake_ >= 0) {
      const uint64_t one = 1;
      (void)!write(wake_, &one, sizeof(one));
    }
    thread_.join();
    if (wake_ >= 0) close(wake_);
  }

 private:
  // Connects, listens until the connection is lost, reports the loss, and
  // again, until stopped.
  void Run() {
    while (!stop_.load()) {
      auto c = Connect(conninfo_, options_);
      if (c) {
        const bool listened = Listen(**c);
        c->reset();
        if (listened) feed_.Lost();
      }
      if (!stop_.load()) Wait(milliseconds(listener_.retry_ms));
    }
  }

  // Sleeps for `d` or until stopped.
  void Wait(Clock::Duration d) {
    pollfd pfd{wake_, POLLIN, 0};
    (void)poll(&pfd, 1, static_cast<int>(ToMillis(d)));
  }
  static int64_t ToMillis(Clock::Duration d) {
    return std::max<int64_t>(0, std::chrono::ceil<milliseconds>(d).count());
  }

  // One session: false when LISTEN never took effect, true when it did and
  // the connection was then lost (or the listener stopped).
  bool Listen(Connection& c) {
    PGconn* pg = c.raw();
    // The fences go on a channel of this backend alone (its pid is unique
    // in the cluster while it lives), so no other replica hears them.
    const std::string fence_channel =
        "sms_cache_fence_" + std::to_string(PQbackendPID(pg));
    const std::string setup =
        "SET application_name = 'sms-server cache listener " +
        std::to_string(getpid()) +
        "'; SET synchronous_commit = off; LISTEN sms_cache; LISTEN " +
        fence_channel;
    // A fence is a transaction of its own: its commit need not wait for
    // the WAL flush (its order in the notification queue is all that
    // counts), hence synchronous_commit off for this session.
    if (!c.Script(setup.c_str(), "listen")) return false;
    feed_.Listening();

    bool waiting = false;     // a fence is out, not back yet
    uint64_t seq = 0;         // the last fence's number
    Clock::TimePoint sent{};  // and when it was sent
    bool in_flight = false;   // its NOTIFY's result not read yet
    Clock::TimePoint next = clock_.Now();
    const milliseconds interval(listener_.fence_interval_ms);
    const milliseconds timeout(listener_.fence_timeout_ms);
    while (!stop_.load()) {
      Clock::TimePoint now = clock_.Now();
      if (!waiting && !in_flight && now >= next) {
        // The time is taken before the NOTIFY leaves: every write committed
        // before it is ahead of the fence in the queue.
        waiting = true;
        ++seq;
        sent = clock_.Now();
        const std::string sql =
            "NOTIFY " + fence_channel + ", '" + std::to_string(seq) + "'";
        if (PQsendQuery(pg, sql.c_str()) != 1) return true;
        in_flight = true;
        next = sent + interval;
        now = clock_.Now();
      }
      // A fence not back in time: the link is taken for lost, and opened
      // anew (the cache is emptied meanwhile).
      if (waiting && now - sent > timeout) return true;
      const Clock::Duration wait =
          waiting ? std::min<Clock::Duration>(interval, sent + timeout - now)
                  : next - now;
      pollfd pfds[2] = {{PQsocket(pg), POLLIN, 0}, {wake_, POLLIN, 0}};
      if (poll(pfds, 2, static_cast<int>(ToMillis(wait))) < 0 && errno != EINTR)
        return true;
      if (PQconsumeInput(pg) != 1) return true;
      // The NOTIFY's own result.
      while (in_flight && PQisBusy(pg) == 0) {
        ResultPtr r(PQgetResult(pg));
        if (!r) {
          in_flight = false;
          break;
        }
        if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return true;
      }
      // In the order the database delivered them: the writes committed
      // before a fence come before it.
      while (PGnotify* n = PQnotifies(pg)) {
        const bool fence = fence_channel == n->relname;
        const std::string payload = n->extra;
        PQfreemem(n);
        if (!fence) {
          feed_.ChangedTable(payload);  // the table written (0014, 0016)
        } else if (waiting && payload == std::to_string(seq)) {
          feed_.Heard(sent);
          waiting = false;
        }
      }
      if (PQstatus(pg) != CONNECTION_OK) return true;
    }
    return true;
  }

  const std::string conninfo_;
  const PostgresOptions options_;
  CacheFeed& feed_;
  Clock& clock_;
  const ChangeListenerOptions listener_;
  const int wake_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace
}  // namespace postgres

std::unique_ptr<ChangeListener> StartChangeListener(
    const std::string& conninfo, const PostgresOptions& options,
    CacheFeed& feed, core::Clock& clock,
    const ChangeListenerOptions& listener) {
  return std::make_unique<postgres::ChangeListenerImpl>(conninfo, options, feed,
                                                        clock, listener);
}

}  // namespace sms::storage
