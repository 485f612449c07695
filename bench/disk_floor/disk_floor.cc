// sms-disk-floor: the disk floor of a check of many small files (issue 17).
//
// Reads what `sms-agent verify` reads, and nothing else: every directory's
// listing, every entry's inode and (unless --stat-only) every regular file's
// bytes, with as much parallelism as asked for, so that the time of a check
// with the page cache dropped can be set beside what the virtual disk and the
// kernel allow at all. No digest, no comparison, no report.
//
// usage: sms-disk-floor [--threads N] [--stat-only] [--ops plain|agent]
//                       [--walk agent|parallel] [--inode-order] DIR...
//   --threads N    threads doing the file system calls (default 64): up to N
//                  blocking reads in flight
//   --ops plain    open + read + close each file with blocking system calls
//                  (default)
//   --ops agent    the kernel operations of the agent's small-file path and
//                  nothing else (the warm floor): per group of up to 32 files
//                  of a directory, the opens (O_NOATIME, as the agent), then
//                  one read of up to 32 KiB each, go through the thread's
//                  io_uring as one submission each; each file is then
//                  fstat'ed (the agent's "changed while read" check), read on
//                  with read(2) past 32 KiB, and the closes go through the
//                  ring as one submission. The ring is the agent's own
//                  (src/core/io_ring.h): same setup, same calls.
//   --ring-statx   with --ops agent: the fstat goes through the ring as a
//                  statx(fd, "", AT_EMPTY_PATH) linked after the file's read,
//                  in the same submission (an experiment, docs/benchmarks.md)
//   --stat-only    lstat each entry (what a re-check with the hash cache
//                  does) instead of open + read + close
//   --walk agent   one walker thread per DIR lists directories depth first,
//                  names in byte order, as the agent does, and hands each
//                  directory's files in that order to the threads (default)
//   --walk parallel  directories are listed by the N threads too, in any
//                  order: the most I/O in flight the trees allow
//   --inode-order  a directory's files are handed out in inode-number order
//                  rather than name order
// Prints one line: directories, files, bytes, seconds. Exit 0, or 1 on an
// error (which it names).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/io_ring.h"

namespace {

struct Options {
  int threads = 64;
  bool stat_only = false;
  bool agent_ops = false;
  bool ring_statx = false;
  bool parallel_walk = false;
  bool inode_order = false;
  std::vector<std::string> roots;
};

// An open directory shared by the work listed from it.
struct Dir {
  explicit Dir(int fd) : fd(fd) {}
  ~Dir() { close(fd); }
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  int fd;
};

struct Name {
  std::string name;
  unsigned char type;
  uint64_t ino;
};

// A task: the files of one directory (a chunk of them), or, in a parallel
// walk, a directory to list.
struct Task {
  std::shared_ptr<Dir> dir;
  std::vector<Name> files;
  bool list = false;  // list `dir` (parallel walk)
};

std::atomic<uint64_t> g_dirs{0}, g_files{0}, g_bytes{0}, g_errors{0};

void Error(const std::string& what) {
  if (g_errors.fetch_add(1) < 10) {
    std::fprintf(stderr, "sms-disk-floor: %s: %s\n", what.c_str(),
                 std::strerror(errno));
  }
}

class Queue {
 public:
  explicit Queue(size_t cap) : cap_(cap) {}
  // Blocks while full, unless `force` (a parallel walk must never wait on
  // itself).
  void Push(Task t, bool force = false) {
    std::unique_lock<std::mutex> lock(mu_);
    space_.wait(lock, [&] { return force || q_.size() < cap_; });
    q_.push_back(std::move(t));
    ++pending_;
    ready_.notify_one();
  }
  bool Pop(Task& t) {
    std::unique_lock<std::mutex> lock(mu_);
    ready_.wait(lock,
                [&] { return !q_.empty() || (closed_ && pending_ == 0); });
    if (q_.empty()) return false;
    t = std::move(q_.front());
    q_.pop_front();
    space_.notify_one();
    return true;
  }
  // One popped task is finished (its children were pushed before).
  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--pending_ == 0 && closed_) ready_.notify_all();
  }
  // No more tasks come from outside the workers.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    ready_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<Task> q_;
  size_t cap_;
  size_t pending_ = 0;
  bool closed_ = false;
};

// Lists `fd` whole with getdents64 (64 KiB a call, as the agent).
bool ListDir(int fd, std::vector<Name>& out) {
  alignas(8) static thread_local char buf[64 << 10];
  for (;;) {
    const long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n < 0) return false;
    if (n == 0) return true;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(buf + off);
      off += d->d_reclen;
      if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0)
        continue;
      out.push_back({d->d_name, d->d_type, d->d_ino});
    }
  }
}

constexpr size_t kChunk = 32;  // the agent's group of small files

// Lists directory `dir` (at `path`, for messages) and queues its files in
// chunks; returns the names of its subdirectories in name order.
std::vector<std::string> Expand(const std::shared_ptr<Dir>& dir,
                                const std::string& path, Queue& q,
                                const Options& o, bool force) {
  std::vector<Name> names;
  if (!ListDir(dir->fd, names)) Error("getdents64 " + path);
  ++g_dirs;
  std::sort(names.begin(), names.end(),
            [](const Name& a, const Name& b) { return a.name < b.name; });
  std::vector<Name> files;
  std::vector<std::string> subdirs;
  auto flush = [&] {
    if (files.empty()) return;
    if (o.inode_order) {
      std::sort(files.begin(), files.end(),
                [](const Name& a, const Name& b) { return a.ino < b.ino; });
    }
    for (size_t i = 0; i < files.size(); i += kChunk) {
      Task t;
      t.dir = dir;
      t.files.assign(files.begin() + i,
                     files.begin() + std::min(files.size(), i + kChunk));
      q.Push(std::move(t), force);
    }
    files.clear();
  };
  for (auto& n : names) {
    if (n.type != DT_DIR) {
      files.push_back(std::move(n));
      continue;
    }
    // The agent hands the files before a subdirectory to its workers, then
    // descends.
    flush();
    subdirs.push_back(std::move(n.name));
  }
  flush();
  return subdirs;
}

// Opens subdirectory `name` of `dir` and fstats it, as the agent's walker
// does; null on an error (counted).
std::shared_ptr<Dir> OpenSub(const Dir& dir, const std::string& name,
                             const std::string& path) {
  const int fd = openat(dir.fd, name.c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    Error("open " + path);
    return nullptr;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) Error("fstat " + path);
  return std::make_shared<Dir>(fd);
}

// The agent's walk of one tree: depth first, names in byte order, a
// directory opened when the walk reaches it.
void WalkAgentOrder(const std::shared_ptr<Dir>& dir, const std::string& path,
                    Queue& q, const Options& o) {
  for (const auto& name : Expand(dir, path, q, o, false)) {
    const std::string sub_path = path + "/" + name;
    if (auto sub = OpenSub(*dir, name, sub_path)) {
      WalkAgentOrder(sub, sub_path, q, o);
    }
  }
}

void ReadFiles(const Task& t, const Options& o, std::vector<char>& buf) {
  for (const Name& n : t.files) {
    if (o.stat_only || n.type != DT_REG) {
      struct stat st;
      if (fstatat(t.dir->fd, n.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        Error("lstat " + n.name);
      }
      ++g_files;
      continue;
    }
    const int fd = openat(t.dir->fd, n.name.c_str(),
                          O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      Error("open " + n.name);
      continue;
    }
    for (;;) {
      const ssize_t got = read(fd, buf.data(), buf.size());
      if (got < 0) Error("read " + n.name);
      if (got <= 0) break;
      g_bytes += static_cast<uint64_t>(got);
    }
    close(fd);
    ++g_files;
  }
}

using sms::core::IoRing;
using sms::core::kReadOpenFlags;

constexpr size_t kSlot = 32 << 10;  // the agent's group read per file
static_assert(2 * kChunk <= IoRing::kEntries, "a read and a statx per file");

[[noreturn]] void RingFailed() {
  std::fprintf(stderr, "sms-disk-floor: io_uring unavailable or failed\n");
  std::exit(1);
}

// The thread's ring, made as the agent makes its own.
IoRing& ThreadRing() {
  thread_local IoRing ring(&sms::core::RingSupportsOurOps);
  if (!ring.ok()) RingFailed();
  return ring;
}

// --ops agent: the files of one task (one directory, at most kChunk) as the
// agent's FileReader::HashGroup does them, minus the digest.
void ReadFilesAgentOps(const Task& t, const Options& o, std::vector<char>& buf,
                       char* slots) {
  IoRing& ring = ThreadRing();
  const int dir = t.dir->fd;
  const size_t n = t.files.size();
  int fds[kChunk];
  size_t n_reg = 0;
  size_t reg[kChunk];
  for (size_t i = 0; i < n; ++i) {
    if (t.files[i].type != DT_REG) {
      // The agent lstat's what is not a regular file.
      struct stat st;
      if (fstatat(dir, t.files[i].name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        Error("lstat " + t.files[i].name);
      ++g_files;
      continue;
    }
    reg[n_reg++] = i;
  }
  for (size_t j = 0; j < n_reg; ++j) {
    ring.PrepOpenAt(j, dir, t.files[reg[j]].name.c_str(),
                    kReadOpenFlags | O_NOATIME);
  }
  if (!ring.Run(static_cast<unsigned>(n_reg),
                [&](uint64_t j, int res) { fds[j] = res; })) {
    RingFailed();
  }
  int open_fds[kChunk];
  size_t n_open = 0;
  for (size_t j = 0; j < n_reg; ++j) {
    if (fds[j] == -EPERM) {  // not the owner: without O_NOATIME, as the agent
      fds[j] = openat(dir, t.files[reg[j]].name.c_str(), kReadOpenFlags);
      if (fds[j] < 0) fds[j] = -errno;
    }
    if (fds[j] < 0) {
      errno = -fds[j];
      Error("open " + t.files[reg[j]].name);
      continue;
    }
    open_fds[n_open++] = fds[j];
  }
  int got[kChunk];
  struct statx stx[kChunk];
  unsigned ops = 0;
  for (size_t k = 0; k < n_open; ++k) {
    if (o.ring_statx) {
      ring.PrepReadThenStatx(2 * k, 2 * k + 1, open_fds[k], slots + k * kSlot,
                             kSlot, &stx[k]);
      ops += 2;
    } else {
      ring.PrepRead(2 * k, open_fds[k], slots + k * kSlot, kSlot);
      ++ops;
    }
  }
  const bool ran = ring.Run(ops, [&](uint64_t tag, int res) {
    if (tag % 2 == 0) {
      got[tag / 2] = res;
    } else if (res < 0) {
      errno = -res;
      Error("statx");
    }
  });
  if (!ran) RingFailed();
  for (size_t k = 0; k < n_open; ++k) {
    if (got[k] < 0) {
      errno = -got[k];
      Error("read");
      continue;
    }
    uint64_t bytes = static_cast<uint64_t>(got[k]);
    if (!o.ring_statx) {
      struct stat st;
      if (fstat(open_fds[k], &st) != 0) Error("fstat");
    }
    if (static_cast<size_t>(got[k]) == kSlot) {
      // Larger than a slot: the agent reads on with read(2).
      for (;;) {
        const ssize_t r = read(open_fds[k], buf.data(), buf.size());
        if (r < 0) Error("read");
        if (r <= 0) break;
        bytes += static_cast<uint64_t>(r);
      }
    }
    g_bytes += bytes;
    ++g_files;
  }
  for (size_t k = 0; k < n_open; ++k) ring.PrepClose(k, open_fds[k]);
  if (!ring.Run(static_cast<unsigned>(n_open), [](uint64_t, int) {}))
    RingFailed();
}

void Worker(Queue& q, const Options& o) {
  std::vector<char> buf(256 << 10);
  std::unique_ptr<char[]> slots;
  if (o.agent_ops) slots = std::make_unique<char[]>(kChunk * kSlot);
  Task t;
  while (q.Pop(t)) {
    if (t.list) {
      // A parallel walk: this thread lists the directory and queues its
      // subdirectories as tasks of their own.
      for (const auto& name : Expand(t.dir, "", q, o, true)) {
        Task d;
        d.dir = OpenSub(*t.dir, name, name);
        if (d.dir == nullptr) continue;
        d.list = true;
        q.Push(std::move(d), true);
      }
    } else if (o.agent_ops && !o.stat_only) {
      ReadFilesAgentOps(t, o, buf, slots.get());
    } else {
      ReadFiles(t, o, buf);
    }
    t = Task{};
    q.Done();
  }
}

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "sms-disk-floor: %s\nusage: sms-disk-floor [--threads N] "
               "[--stat-only] [--ops plain|agent] [--ring-statx] [--walk "
               "agent|parallel] [--inode-order] DIR...\n",
               why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      o.threads = std::atoi(argv[++i]);
      if (o.threads < 1 || o.threads > 4096) Usage("--threads: 1..4096");
    } else if (a == "--stat-only") {
      o.stat_only = true;
    } else if (a == "--ops" && i + 1 < argc) {
      const std::string ops = argv[++i];
      if (ops != "plain" && ops != "agent") Usage("--ops: plain or agent");
      o.agent_ops = ops == "agent";
    } else if (a == "--ring-statx") {
      o.ring_statx = true;
    } else if (a == "--walk" && i + 1 < argc) {
      const std::string w = argv[++i];
      if (w != "agent" && w != "parallel") Usage("--walk: agent or parallel");
      o.parallel_walk = w == "parallel";
    } else if (a == "--inode-order") {
      o.inode_order = true;
    } else if (!a.empty() && a[0] == '-') {
      Usage(("unknown option " + a).c_str());
    } else {
      o.roots.push_back(a);
    }
  }
  if (o.roots.empty()) Usage("no DIR");
  if (o.ring_statx && !o.agent_ops) Usage("--ring-statx needs --ops agent");
  const auto start = std::chrono::steady_clock::now();
  // Queued work: a few batches per thread, as the agent's bounded window.
  Queue q(static_cast<size_t>(o.threads) * 4 + 64);
  std::vector<std::thread> workers;
  for (int i = 0; i < o.threads; ++i) {
    workers.emplace_back([&] { Worker(q, o); });
  }
  std::vector<std::thread> walkers;
  for (const auto& root : o.roots) {
    const int fd = open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      Error("open " + root);
      continue;
    }
    auto dir = std::make_shared<Dir>(fd);
    if (o.parallel_walk) {
      Task t;
      t.dir = dir;
      t.list = true;
      q.Push(std::move(t), true);
    } else {
      walkers.emplace_back(
          [&q, &o, dir, root] { WalkAgentOrder(dir, root, q, o); });
    }
  }
  for (auto& w : walkers) w.join();
  q.Close();
  for (auto& w : workers) w.join();
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf(
      "directories %llu files %llu bytes %llu seconds %.2f threads %d walk "
      "%s%s%s%s\n",
      static_cast<unsigned long long>(g_dirs.load()),
      static_cast<unsigned long long>(g_files.load()),
      static_cast<unsigned long long>(g_bytes.load()), s, o.threads,
      o.parallel_walk ? "parallel" : "agent", o.stat_only ? " stat-only" : "",
      o.agent_ops ? (o.ring_statx ? " ops agent+ring-statx" : " ops agent")
                  : "",
      o.inode_order ? " inode-order" : "");
  return g_errors.load() == 0 ? 0 : 1;
}
