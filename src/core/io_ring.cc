#include "core/io_ring.h"

#include <liburing.h>

#include <atomic>
#include <cerrno>

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace sms::core {
namespace {

#if defined(__SANITIZE_THREAD__)
// liburing maps and unmaps its rings with raw system calls ThreadSanitizer
// does not see, so a ring mapped where a finished thread's ring was looks to
// it like memory shared by the two threads. The unmap happens before the new
// map: say so.
int ring_reuse_token;
void RingMapped() { __tsan_acquire(&ring_reuse_token); }
void RingUnmapped() { __tsan_release(&ring_reuse_token); }
#else
void RingMapped() {}
void RingUnmapped() {}
#endif

std::atomic<uint64_t> g_ring_submissions{0};

}  // namespace

bool RingSupportsOurOps(const io_uring_probe* probe) {
  if (probe == nullptr) return false;
  for (int op : {IORING_OP_OPENAT, IORING_OP_READ, IORING_OP_CLOSE}) {
    if (!io_uring_opcode_supported(probe, op)) return false;
  }
  return true;
}

uint64_t RingSubmissions() {
  return g_ring_submissions.load(std::memory_order_relaxed);
}

IoRing::IoRing(RingProbeCheck check) {
  if (check == nullptr) return;
  auto ring = std::make_unique<io_uring>();
  // The ring is this thread's alone, and its completions are only wanted
  // when the thread waits for them: the kernel then runs the completion
  // work in the thread's io_uring_enter instead of interrupting it
  // (DEFER_TASKRUN, Linux 6.1; COOP_TASKRUN, 5.19), which saves system
  // time on every batch (docs/benchmarks.md). Older kernels refuse the
  // flags: the next set, down to none.
  bool made = false;
  for (unsigned flags :
       {unsigned{IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN},
        unsigned{IORING_SETUP_COOP_TASKRUN}, 0u}) {
    made = io_uring_queue_init(kEntries, ring.get(), flags) == 0;
    if (made) break;
  }
  if (!made) return;
  RingMapped();
  ring_ = std::move(ring);
  // Kernels 5.1-5.5 make a ring but know none of the operations we
  // submit; a probe tells (5.6 on). Without one, plain calls.
  io_uring_probe* probe = io_uring_get_probe_ring(ring_.get());
  const bool supported = check(probe);
  if (probe != nullptr) io_uring_free_probe(probe);
  if (!supported) Retire();
}

IoRing::~IoRing() {
  if (ok()) Retire();
}

void IoRing::Retire() {
  io_uring_queue_exit(ring_.get());
  RingUnmapped();
  ring_.reset();
}

namespace {

io_uring_sqe* Sqe(io_uring* ring, uint64_t tag) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  io_uring_sqe_set_data64(sqe, tag);
  return sqe;
}

}  // namespace

void IoRing::PrepOpenAt(uint64_t tag, int dir, const char* name, int flags) {
  io_uring_prep_openat(Sqe(ring_.get(), tag), dir, name, flags, 0);
}

void IoRing::PrepRead(uint64_t tag, int fd, void* buf, unsigned size) {
  // Offset -1: from the file position, which advances, as read(2).
  io_uring_prep_read(Sqe(ring_.get(), tag), fd, buf, size, -1);
}

void IoRing::PrepClose(uint64_t tag, int fd) {
  io_uring_prep_close(Sqe(ring_.get(), tag), fd);
}

void IoRing::PrepReadThenStatx(uint64_t read_tag, uint64_t statx_tag, int fd,
                               void* buf, unsigned size, struct statx* out) {
  io_uring_sqe* read = Sqe(ring_.get(), read_tag);
  io_uring_prep_read(read, fd, buf, size, -1);
  // A hard link: a short read (every file under its buffer) must not cancel
  // the statx.
  read->flags |= IOSQE_IO_HARDLINK;
  io_uring_prep_statx(
      Sqe(ring_.get(), statx_tag), fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
      STATX_TYPE | STATX_SIZE | STATX_MTIME | STATX_CTIME | STATX_NLINK |
          STATX_INO | STATX_MODE | STATX_UID | STATX_GID,
      out);
}

bool IoRing::RunWith(unsigned count, Completion call, void* done) {
  io_uring* ring = ring_.get();
  g_ring_submissions.fetch_add(1, std::memory_order_relaxed);
  int rc = io_uring_submit_and_wait(ring, count);
  while (rc == -EINTR) rc = io_uring_submit_and_wait(ring, count);
  unsigned seen = 0;
  while (rc >= 0 && seen < count) {
    io_uring_cqe* cqe = nullptr;
    unsigned head = 0;
    unsigned n = 0;
    io_uring_for_each_cqe(ring, head, cqe) {
      call(done, io_uring_cqe_get_data64(cqe), cqe->res);
      ++n;
    }
    io_uring_cq_advance(ring, n);
    seen += n;
    if (seen < count) {
      rc = io_uring_wait_cqe(ring, &cqe);
      if (rc == -EINTR) rc = 0;
    }
  }
  if (seen == count) return true;
  Retire();
  return false;
}

}  // namespace sms::core
