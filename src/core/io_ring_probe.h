// Which kernels get io_uring: a ring is used only when the kernel's probe
// (io_uring_get_probe_ring, Linux 5.6 on) lists every operation the POSIX
// file system submits (IORING_OP_OPENAT, IORING_OP_READ, IORING_OP_CLOSE).
// Kernels 5.1-5.5 make a ring but have none of them and no probe: they, and
// any kernel without io_uring, get the plain system calls.
// Thread-safety: all functions are safe for concurrent use.
#pragma once

#include <cstdint>
#include <memory>

#include "core/file_system.h"

struct io_uring_probe;

namespace sms::core {

// Decides from a kernel's probe (null: the kernel has none) whether the
// ring may be used.
using RingProbeCheck = bool (*)(const io_uring_probe* probe);

// True when `probe` lists every operation the POSIX file system submits
// through its ring. PosixFileSystem() decides with this.
bool RingSupportsOurOps(const io_uring_probe* probe);

// A POSIX file system that decides with `check` instead, so a test can play
// an older kernel. The check runs once per thread, on the thread's first
// batch call (each thread has its own ring), whichever instance makes it:
// use a fresh thread.
std::unique_ptr<FileSystem> NewPosixFileSystem(RingProbeCheck check);

// io_uring submissions made so far by this process (every instance).
uint64_t RingSubmissions();

}  // namespace sms::core
