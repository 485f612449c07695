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
#include "core/io_ring.h"

namespace sms::core {

// The probe check (RingProbeCheck, RingSupportsOurOps) and the submission
// count (RingSubmissions) are in core/io_ring.h.

// A POSIX file system that decides with `check` instead of
// RingSupportsOurOps, so a test can play an older kernel. The check runs
// once per thread, on the thread's first batch call (each thread has its
// own ring), whichever instance makes it: use a fresh thread.
std::unique_ptr<FileSystem> NewPosixFileSystem(RingProbeCheck check);

}  // namespace sms::core
