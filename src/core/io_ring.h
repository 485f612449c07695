// IoRing: one thread's io_uring, as the agent sets it up and drives it.
//
// The POSIX file system (core/posix_file_system.cc) submits its batches of
// small-file opens, reads and closes through it, and so does the kernel-only
// floor (bench/disk_floor, `sms-disk-floor --ops agent`): the floor makes
// exactly the agent's calls because it calls the same code. Operations are
// queued with a tag (at most kEntries between two Run calls) and Run submits
// them with one io_uring_enter(2) and hands each completion back by its tag.
// liburing stays inside io_ring.cc.
// Thread-safety: an IoRing is its thread's alone (the ring is made
// SINGLE_ISSUER where the kernel allows); RingSubmissions() is safe anywhere.
#pragma once

#include <fcntl.h>

#include <cstdint>
#include <memory>
#include <type_traits>

struct io_uring;
struct io_uring_probe;
struct statx;

namespace sms::core {

// Decides from a kernel's probe (null: the kernel has none) whether the
// ring may be used.
using RingProbeCheck = bool (*)(const io_uring_probe* probe);

// True when `probe` lists every operation the agent submits through its
// ring (open, read, close).
bool RingSupportsOurOps(const io_uring_probe* probe);

// How the agent opens a regular file to read it, plus O_NOATIME where the
// caller owns the file (the open is retried without it on EPERM).
inline constexpr int kReadOpenFlags =
    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

// io_uring submissions made so far by this process (every ring).
uint64_t RingSubmissions();

class IoRing {
 public:
  static constexpr unsigned kEntries = 64;

  // Makes the ring with the fastest setup flags the kernel accepts
  // (SINGLE_ISSUER | DEFER_TASKRUN, Linux 6.1; else COOP_TASKRUN, 5.19;
  // else none), then keeps it only if `check` accepts the kernel's probe.
  // ok() tells whether there is a ring. A null `check` makes none (no
  // io_uring system call at all: SMS_AGENT_IO_URING=0).
  explicit IoRing(RingProbeCheck check);
  ~IoRing();
  IoRing(const IoRing&) = delete;
  IoRing& operator=(const IoRing&) = delete;

  bool ok() const { return ring_ != nullptr; }

  // Queue one operation each. REQUIRES: ok(), fewer than kEntries queued.
  // openat(dir, name, flags): the completion is the descriptor or -errno.
  void PrepOpenAt(uint64_t tag, int dir, const char* name, int flags);
  // read(fd, buf, size) from the file's position, which advances.
  void PrepRead(uint64_t tag, int fd, void* buf, unsigned size);
  void PrepClose(uint64_t tag, int fd);
  // A read as PrepRead hard-linked to a statx of the same descriptor (an
  // experiment of the floor's --ring-statx; the agent does not use it).
  void PrepReadThenStatx(uint64_t read_tag, uint64_t statx_tag, int fd,
                         void* buf, unsigned size, struct statx* out);

  // Submits what was queued, waits for `count` completions and calls
  // done(tag, res) for each, in the order they come. Returns false when the
  // ring failed before every completion was seen: the ring is then retired
  // (ok() turns false) and the caller does the rest with plain system calls.
  template <class F>
  bool Run(unsigned count, F&& done) {
    return RunWith(
        count,
        [](void* f, uint64_t tag, int res) {
          (*static_cast<std::remove_reference_t<F>*>(f))(tag, res);
        },
        const_cast<void*>(static_cast<const void*>(&done)));
  }

 private:
  using Completion = void (*)(void* done, uint64_t tag, int res);
  bool RunWith(unsigned count, Completion call, void* done);
  void Retire();

  std::unique_ptr<io_uring> ring_;  // null: no ring
};

}  // namespace sms::core
