// LogSink: the server's JSON log lines to a file descriptor (stderr), in
// batches. A line per request costs a write(2) each when unbuffered; here
// lines gather in memory and go out with one write when 64 KiB have
// gathered, or at the latest `flush_every` after the first of them, as
// nginx's `access_log ... buffer= flush=` does. Flush() (and the
// destructor) write what is left; a kill -9 loses at most `flush_every`
// of log lines, never a stored result.
// Thread-safety: Write() and Flush() may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace sms::server {

class LogSink final {
 public:
  explicit LogSink(int fd, std::chrono::milliseconds flush_every =
                               std::chrono::milliseconds(100));
  ~LogSink();
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  // Appends `line` and a newline; buffered.
  void Write(std::string_view line);
  // Appends `line` and writes everything out now (start-up, shutdown).
  void WriteNow(std::string_view line);
  void Flush();

 private:
  static constexpr size_t kBufferBytes = 64 << 10;
  void FlusherMain();
  // Writes buffer_ out; mu_ held.
  void FlushLocked();

  const int fd_;
  const std::chrono::milliseconds flush_every_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string buffer_;   // guarded by mu_
  bool stop_ = false;    // guarded by mu_
  std::thread flusher_;  // last: starts once the rest is built
};

}  // namespace sms::server
