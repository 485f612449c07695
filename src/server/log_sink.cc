#include "server/log_sink.h"

#include <unistd.h>

#include <cerrno>

namespace sms::server {

LogSink::LogSink(int fd, std::chrono::milliseconds flush_every)
    : fd_(fd), flush_every_(flush_every), flusher_([this] { FlusherMain(); }) {
  buffer_.reserve(kBufferBytes + 4096);
}

LogSink::~LogSink() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  flusher_.join();
  std::lock_guard lock(mu_);
  FlushLocked();
}

void LogSink::Write(std::string_view line) {
  std::lock_guard lock(mu_);
  const bool was_empty = buffer_.empty();
  buffer_.append(line);
  buffer_.push_back('\n');
  if (buffer_.size() >= kBufferBytes) {
    FlushLocked();
  } else if (was_empty) {
    cv_.notify_one();  // starts the flush_every_ countdown
  }
}

void LogSink::WriteNow(std::string_view line) {
  std::lock_guard lock(mu_);
  buffer_.append(line);
  buffer_.push_back('\n');
  FlushLocked();
}

void LogSink::Flush() {
  std::lock_guard lock(mu_);
  FlushLocked();
}

void LogSink::FlusherMain() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait(lock, [&] { return stop_ || !buffer_.empty(); });
    if (stop_) break;
    // Lines are waiting: give others flush_every_ to join them.
    cv_.wait_for(lock, flush_every_, [&] { return stop_; });
    FlushLocked();
  }
}

void LogSink::FlushLocked() {
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // a closed log (EPIPE, EBADF): the lines are dropped
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
}

}  // namespace sms::server
