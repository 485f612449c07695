#include "core/scanner.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <span>
#include <utility>

#include "core/inode_cache.h"
#include "core/path_order.h"

namespace sms::core {
namespace {

constexpr size_t kBatchItems = 256;  // items per batch
constexpr size_t kMaxBatches = 64;   // in-flight window
constexpr size_t kClaimItems = 32;   // items a worker claims at once
constexpr size_t kBufferSize = 256 << 10;
// Deep trees: the walker holds at most this many levels' directories open
// (deeper ones are reopened by ".." on the way back up), ...
constexpr size_t kStackDirs = 64;
// ... and directory handles in all (walk and queued work) stay near this:
// a batch is cut at kBatchDirs distinct directories and the walker waits for
// the consumer past kMaxLiveDirs. With the hash workers' batched opens (32
// each), a local check stays far below the usual limit of 1024 descriptors.
constexpr size_t kBatchDirs = 16;
constexpr size_t kMaxLiveDirs = 192;
// A batch is also cut at this many path bytes: deep paths are long.
constexpr size_t kBatchPathBytes = 256 << 10;

void Fill(Entry& e, const StatInfo& st) {
  e.type = st.type;
  e.size = st.type == FileType::kDirectory ? 0 : st.size;
  e.mode = st.mode;
  e.uid = st.uid;
  e.gid = st.gid;
  e.mtime_ns = st.mtime_ns;
  e.ctime_ns = st.ctime_ns;
  e.dev = st.dev;
  e.ino = st.ino;
  e.rdev =
      (st.type == FileType::kCharDevice || st.type == FileType::kBlockDevice)
          ? st.rdev
          : 0;
}

void SetError(Entry& e, std::string what, const Error& error) {
  e.state = EntryState::kError;
  e.error = std::move(what);
  if (!e.error.empty()) e.error += ": ";
  // Errors from *At() calls name the operation, not the path: the path is
  // the entry's own, reported beside the message.
  e.error += error.message;
}

std::string JoinRoot(const std::string& root, const std::string& dir_check) {
  if (dir_check == "/") return root.empty() ? "/" : root;
  return root + dir_check;
}

// The metadata of `e` still match `r` (CacheKeyMatches for an entry).
bool EntryMatchesRecord(const Entry& e, const CachedDigest& r,
                        const FsTraits& traits) {
  StatInfo st;
  st.type = e.type;
  st.size = e.size;
  st.mtime_ns = e.mtime_ns;
  st.ctime_ns = e.ctime_ns;
  st.dev = e.dev;
  st.ino = e.ino;
  return CacheKeyMatches(r, st, traits);
}

int64_t NowNs(Clock& clock) { return clock.NowEpochMillis() * 1'000'000; }

std::string DefaultSpillDir(const std::string& dir) {
  if (!dir.empty()) return dir;
  const char* tmp = getenv("TMPDIR");
  return tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp";
}

// The directory at `prefix` ("" or "a/b/") under `root_path`, for messages.
std::string DirPath(const std::string& root_path, const std::string& prefix) {
  if (prefix.empty()) return root_path;
  std::string out = root_path;
  if (out.empty() || out.back() != '/') out += '/';
  out.append(prefix, 0, prefix.size() - 1);
  return out;
}

}  // namespace

// A directory handle shared by the entries listed from it, and what the
// hash cache must know of its file system.
// Counted in live_dirs_ while it exists.
struct Scanner::DirRef {
  explicit DirRef(std::atomic<size_t>& live) : live(live) { ++live; }
  ~DirRef() { --live; }
  DirRef(const DirRef&) = delete;
  DirRef& operator=(const DirRef&) = delete;

  std::atomic<size_t>& live;
  Handle handle;
  uint64_t dev = 0;
  FsTraits traits;
};

std::shared_ptr<Scanner::DirRef> Scanner::NewDirRef(Handle handle, uint64_t dev,
                                                    const FsTraits& traits) {
  auto ref = std::make_shared<DirRef>(live_dirs_);
  ref->handle = std::move(handle);
  ref->dev = dev;
  ref->traits = traits;
  return ref;
}

// Per-worker reading state: one buffer and one hasher, reused for every file,
// and the slots of a group of small files read together (HashGroup).
class FileReader {
 public:
  // A regular file of a group: its name inside the group's directory and the
  // entry to fill.
  struct Job {
    const char* name;
    Entry* entry;
    uint64_t dev = 0;  // of the directory, and the listing's inode number
    uint64_t ino = 0;  // (0: unknown)
  };
  // A file last changed this long before its read started cannot have
  // changed while it was read (HashGroup): the kernel stamps a change with
  // its coarse clock (a few ms behind), and a margin covers clock slew.
  static constexpr int64_t kQuietNs = 2'000'000'000;
  static constexpr size_t kGroupFiles = 32;
  static constexpr size_t kSlotSize = 32
                                      << 10;  // group reads: files up to this

  FileReader(FileSystem& fs, Clock& clock, RateLimiter& limiter,
             ScanProgress& progress, InodeCache& inodes,
             HashAlgorithm algorithm, uint64_t chunk_size)
      : fs_(fs),
        clock_(clock),
        inodes_(inodes),
        limiter_(limiter),
        progress_(progress),
        hasher_(algorithm, chunk_size),
        buffer_(Allocate(kBufferSize)),
        slots_(Allocate(kGroupFiles * kSlotSize)) {}
  ~FileReader() {
    std::free(buffer_);
    std::free(slots_);
  }
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  // Opens, reads and digests regular file `name` in `dir` into `e`. When it
  // is no longer a regular file, `e` describes what is there instead.
  void Hash(int dir, const char* name, Entry& e) {
    e.hashed_at_ns = NowNs(clock_);
    auto fd = fs_.OpenFileAt(dir, name);
    if (!fd) return OpenFailed(dir, name, fd.error(), e);
    Handle handle(&fs_, *fd);
    Opened file;
    if (Describe(*fd, e, file)) HashOpened(*fd, file, e);
  }

  // Hash() for up to kGroupFiles regular files of one directory, with their
  // opens, small reads and closes submitted in batches (FileSystem::
  // OpenFilesAt/ReadMany/CloseMany). Same results as Hash() on each.
  //
  // One fstat a file instead of Hash()'s two: each file is read (up to a
  // slot) right after it is opened, then fstat'ed. When that fstat says the
  // file was read whole and its ctime (which every write, truncate or chmod
  // moves) is older than kQuietNs before the reads started, nothing changed
  // it while it was read: its digest stands. Any other file (changed
  // recently, larger than a slot, not regular, a second link of an inode
  // already read, a failed read) is done again by Hash(), whose fstat
  // before and after the read catch a change. On this VM a system call is
  // the dominant cost of a small file (docs/benchmarks.md).
  void HashGroup(int dir, std::span<const Job> jobs) {
    const size_t n = jobs.size();
    const char* names[kGroupFiles];
    Result<int> fds[kGroupFiles];
    const int64_t now = NowNs(clock_);
    bool again[kGroupFiles] = {};
    size_t n_jobs = 0;
    size_t job_of[kGroupFiles];
    std::pair<uint64_t, uint64_t> claims[kGroupFiles];
    size_t n_claims = 0;
    for (size_t i = 0; i < n; ++i) {
      jobs[i].entry->hashed_at_ns = now;
      // A second link of an inode read already or being read by another
      // worker: Hash() reuses its digest.
      if (jobs[i].ino != 0) {
        if (!inodes_.Claim(jobs[i].dev, jobs[i].ino)) {
          again[i] = true;
          continue;
        }
        claims[n_claims++] = {jobs[i].dev, jobs[i].ino};
      }
      names[n_jobs] = jobs[i].name;
      job_of[n_jobs++] = i;
    }
    fs_.OpenFilesAt(dir, {names, n_jobs}, {fds, n_jobs});

    int open_fds[kGroupFiles];
    size_t n_open = 0;
    ReadRequest reads[kGroupFiles];
    size_t read_job[kGroupFiles];
    size_t n_reads = 0;
    for (size_t j = 0; j < n_jobs; ++j) {
      const size_t i = job_of[j];
      if (!fds[j]) {
        OpenFailed(dir, names[j], fds[j].error(), *jobs[i].entry);
        continue;
      }
      open_fds[n_open++] = *fds[j];
      reads[n_reads] =
          ReadRequest{*fds[j], slots_ + n_reads * kSlotSize, kSlotSize, 0};
      read_job[n_reads++] = i;
    }
    fs_.ReadMany({reads, n_reads});
    uint64_t read_bytes = 0;
    for (size_t r = 0; r < n_reads; ++r) {
      const size_t i = read_job[r];
      Entry& e = *jobs[i].entry;
      ReadRequest& req = reads[r];
      if (!req.result) {
        again[i] = true;
        continue;
      }
      read_bytes += *req.result;
      if (*req.result == kSlotSize) {
        // Larger than a slot: an fstat now vouches for the head (by the
        // ctime rule) and is the "before" of the rest, read on as Hash()
        // would.
        auto mid = fs_.Stat(req.handle);
        if (!mid || mid->type != FileType::kRegular ||
            mid->ctime_ns >= now - kQuietNs) {
          again[i] = true;
          continue;
        }
        Fill(e, *mid);
        Opened file{*mid, mid->nlink > 1};
        HashOnFrom(req.handle, file, static_cast<uint8_t*>(req.buffer),
                   kSlotSize, e);
        continue;
      }
      auto after = fs_.Stat(req.handle);
      if (!after || after->type != FileType::kRegular ||
          after->size != *req.result || after->ctime_ns >= now - kQuietNs) {
        again[i] = true;
        continue;
      }
      Fill(e, *after);
      DigestWhole(static_cast<uint8_t*>(req.buffer), *req.result, after->size,
                  e);
      if (after->nlink > 1) inodes_.Insert(*after, e.digest, e.hashed_at_ns);
    }
    if (read_bytes > 0) limiter_.Acquire(read_bytes);
    fs_.CloseMany({open_fds, n_open});
    inodes_.Release({claims, n_claims});
    for (size_t i = 0; i < n; ++i) {
      if (!again[i]) continue;
      if (jobs[i].ino != 0) inodes_.WaitUnclaimed(jobs[i].dev, jobs[i].ino);
      Hash(dir, jobs[i].name, *jobs[i].entry);
    }
  }

 private:
  // What Describe() learnt of an open file.
  struct Opened {
    StatInfo before;
    bool linked = false;
  };

  static uint8_t* Allocate(size_t bytes) {
    auto* p = static_cast<uint8_t*>(std::aligned_alloc(4096, bytes));
    if (p == nullptr) abort();
    return p;
  }

  // The file could not be opened: it may have turned into a symlink or a
  // special file since it was listed.
  void OpenFailed(int dir, const char* name, const Error& error, Entry& e) {
    auto st = fs_.StatAt(dir, name);
    if (st) Fill(e, *st);
    if (st && st->type == FileType::kSymlink) {
      auto target = fs_.ReadLinkAt(dir, name);
      if (target) {
        e.link_target = std::move(*target);
      } else {
        SetError(e, "", target.error());
      }
      return;
    }
    SetError(e, "", error);
  }

  // Reads and digests an open, described file with the per-worker buffer.
  void HashOpened(int fd, const Opened& file, Entry& e) {
    if (file.before.size > kBufferSize) return HashLarge(fd, file, e);
    uint64_t total = 0;
    if (!ReadRest(fd, buffer_, file.before.size, total, e)) return;
    DigestWhole(buffer_, total, file.before.size, e);
    Finish(fd, file, total, e);
  }

  // fstat before reading: fills `e`; false when there is nothing to read
  // (not a regular file, a hard link already digested, or an error).
  bool Describe(int fd, Entry& e, Opened& file) {
    auto before = fs_.Stat(fd);
    if (!before) {
      SetError(e, "", before.error());
      return false;
    }
    Fill(e, *before);
    if (before->type != FileType::kRegular) return false;
    file.before = *before;
    file.linked = before->nlink > 1;
    return !(file.linked && inodes_.Lookup(*before, e.digest, e.hashed_at_ns));
  }

  // Reads into `buf` until `size` bytes or end of file; `total` counts what
  // is already there.
  bool ReadRest(int fd, uint8_t* buf, uint64_t size, uint64_t& total,
                Entry& e) {
    while (total < size) {
      limiter_.Acquire(size - total);
      auto n = fs_.Read(fd, buf + total, size - total);
      if (!n) {
        SetError(e, "", n.error());
        return false;
      }
      if (*n == 0) break;
      total += *n;
    }
    return true;
  }

  void DigestWhole(const uint8_t* buf, uint64_t total, uint64_t size,
                   Entry& e) {
    if (total == size) e.digest = hasher_.HashWhole({buf, total});
    progress_.bytes_read.fetch_add(total, std::memory_order_relaxed);
  }

  void HashLarge(int fd, const Opened& file, Entry& e) {
    HashOnFrom(fd, file, nullptr, 0, e);
  }

  // Digests `head` (the first `n` bytes, already read) and the rest of the
  // file from the handle's position.
  void HashOnFrom(int fd, const Opened& file, const uint8_t* head, uint64_t n,
                  Entry& e) {
    const uint64_t size = file.before.size;
    uint64_t total = n;
    fs_.AdviseSequential(fd);
    hasher_.Reset();
    if (n > 0) {
      hasher_.Update({head, n});
      progress_.bytes_read.fetch_add(n, std::memory_order_relaxed);
    }
    while (total < size) {
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(kBufferSize, size - total));
      limiter_.Acquire(want);
      auto n = fs_.Read(fd, buffer_, want);
      if (!n) {
        SetError(e, "", n.error());
        return;
      }
      if (*n == 0) break;
      hasher_.Update({buffer_, *n});
      total += *n;
      progress_.bytes_read.fetch_add(*n, std::memory_order_relaxed);
    }
    if (total == size) e.digest = hasher_.Finish();
    Finish(fd, file, total, e);
  }

  // fstat after reading: a file that changed meanwhile is `changed`, never
  // a false difference.
  void Finish(int fd, const Opened& file, uint64_t total, Entry& e) {
    auto after = fs_.Stat(fd);
    if (!after) {
      SetError(e, "", after.error());
      return;
    }
    const StatInfo& before = file.before;
    if (total != before.size || after->size != before.size ||
        after->mtime_ns != before.mtime_ns ||
        after->ctime_ns != before.ctime_ns) {
      e.state = EntryState::kChanged;
      e.digest = Digest{};
      e.error = "changed while being read";
      Fill(e, *after);
    } else if (file.linked) {
      inodes_.Insert(before, e.digest, e.hashed_at_ns);
    }
  }

  FileSystem& fs_;
  Clock& clock_;
  InodeCache& inodes_;
  RateLimiter& limiter_;
  ScanProgress& progress_;
  ContentHasher hasher_;
  uint8_t* buffer_;
  uint8_t* slots_;
};

Scanner::Scanner(FileSystem& fs, Clock& clock, std::string root,
                 std::vector<std::string> dirs, ScanOptions options)
    : fs_(fs),
      clock_(clock),
      root_(std::move(root)),
      dirs_(std::move(dirs)),
      options_(std::move(options)),
      excludes_(options_.excludes),
      worker_count_(options_.threads > 0
                        ? static_cast<size_t>(options_.threads)
                        : std::max(1u, std::thread::hardware_concurrency())),
      spill_dir_(DefaultSpillDir(options_.spill_dir)),
      limiter_(clock, options_.io_limit),
      inodes_(std::make_unique<InodeCache>()) {
  if (options_.mode == CompareMode::kHash && !options_.cache_path.empty() &&
      !options_.only_paths) {
    cache_policy_ = options_.cache_policy;
    cache_policy_.now_ns = NowNs(clock_);
    if (cache_policy_.seed == 0) cache_policy_.seed = std::random_device{}();
    auto writer = CacheWriter::Create(
        options_.cache_path,
        {options_.hash, options_.chunk_size, CanonicalRoot(root_), dirs_});
    if (writer) {
      cache_out_ = std::move(*writer);
      const std::string dir =
          std::filesystem::path(options_.cache_path).parent_path().string();
      auto g = MeasureTimestampGranularity(dir);
      // Unmeasurable: assume the coarsest common granularity.
      cache_policy_.granularity_ns = std::max(cache_policy_.granularity_ns,
                                              g ? *g : int64_t{2'000'000'000});
    } else {
      Warn(writer.error().message + " (the hash cache is not updated)");
    }
  }
  for (size_t i = 0; i < worker_count_; ++i) {
    workers_.emplace_back([this] { WorkerMain(); });
  }
  walker_ = std::thread([this] { WalkMain(); });
}

Scanner::~Scanner() {
  Cancel();
  if (walker_.joinable()) walker_.join();
  for (auto& t : workers_) t.join();
}

void Scanner::Cancel() {
  stop_.store(true);
  std::lock_guard<std::mutex> lock(mu_);
  work_cv_.notify_all();
  ready_cv_.notify_all();
  space_cv_.notify_all();
}

void Scanner::Warn(std::string message) {
  std::lock_guard<std::mutex> lock(warnings_mu_);
  warnings_.push_back(std::move(message));
}

std::vector<std::string> Scanner::TakeWarnings() {
  std::lock_guard<std::mutex> lock(warnings_mu_);
  return std::move(warnings_);
}

void Scanner::OpenCache() {
  if (options_.mode != CompareMode::kHash || options_.cache_path.empty() ||
      options_.only_paths) {
    return;
  }
  auto reader = CacheReader::Open(
      options_.cache_path,
      {options_.hash, options_.chunk_size, CanonicalRoot(root_), dirs_});
  if (reader) {
    cache_in_ = std::move(*reader);
  } else if (reader.error().code != ErrorCode::kNotFound) {
    Warn(reader.error().message);
  }
}

void Scanner::Abort(Error error) { walk_error_ = std::move(error); }

void Scanner::WalkMain() {
  OpenCache();
  for (const auto& dir : dirs_) {
    if (stopping() || aborted()) break;
    WalkSection(dir);
  }
  FlushBatch();
  std::lock_guard<std::mutex> lock(mu_);
  walk_finished_ = true;
  work_cv_.notify_all();
  ready_cv_.notify_all();
}

void Scanner::WalkSection(const std::string& dir_check) {
  // The path of the section relative to the verified root, for excludes.
  const std::string dir_rel = dir_check == "/" ? "" : dir_check.substr(1);
  const std::string root_path = JoinRoot(root_, dir_check);
  const bool use_cache = cache_in_ != nullptr;
  if (use_cache) cache_in_->StartSection(dir_check);

  // One open level of the walk. Only the deepest kStackDirs levels hold
  // their directory open: a shallower one is released and, when the walk
  // climbs back to it, reopened as ".." of the level below (checked by
  // device and inode), so a tree of any depth needs a bounded number of
  // descriptors.
  struct Frame {
    explicit Frame(NameSorter sorted) : names(std::move(sorted)) {}
    std::shared_ptr<DirRef> dir;  // null while released
    size_t prefix_len = 0;        // the level's prefix is prefix[0, len)
    NameSorter names;             // what is left of the level, in order
    uint64_t dev = 0;  // of the directory, to recognise it when reopened
    uint64_t ino = 0;
    FsTraits traits;
  };
  std::vector<Frame> stack;
  // The prefix of the deepest level, "" or "a/b/": each level's is a prefix
  // of it, so memory is linear in depth.
  std::string prefix;
  size_t first_open = 0;  // stack[first_open..] hold their directory
  // `dev`/`ino` identify the directory, when known: a directory on another
  // file system than its parent's has its traits asked for.
  // A directory that cannot be listed is an error entry (push fails); a
  // listing that cannot be sorted (its spill file failed) ends the walk.
  auto fail_walk = [&](const Error& e) {
    Abort(
        IoError("directory " + DirPath(root_path, prefix) + ": " + e.message));
  };
  std::vector<DirEntryName> slice;
  auto push = [&](Handle handle, uint64_t dev, uint64_t ino) -> Status {
    NameSorter names(fs_, options_.spill_threshold, spill_dir_);
    for (;;) {
      auto n = fs_.ListSome(handle.get(), slice);
      if (!n) return Fail(n.error());
      if (*n == 0) break;
      if (auto ok = names.Add(slice); !ok) {
        fail_walk(ok.error());
        return Fail(ok.error());
      }
    }
    if (auto ok = names.Finish(); !ok) {
      fail_walk(ok.error());
      return Fail(ok.error());
    }
    Frame f(std::move(names));
    f.prefix_len = prefix.size();
    f.dev = dev;
    f.ino = ino;
    if (use_cache) {
      f.traits = !stack.empty() && stack.back().dev == dev
                     ? stack.back().traits
                     : fs_.Traits(handle.get());
    }
    f.dir = NewDirRef(std::move(handle), dev, f.traits);
    stack.push_back(std::move(f));
    if (stack.size() - first_open > kStackDirs) {
      stack[first_open++].dir.reset();
    }
    return Ok();
  };
  // Reopens released level stack.back() from `below`, the level under it
  // that the walk just left; false when it is no longer the same directory.
  // Reopens released level stack.back(): as ".." of `below` (the level the
  // walk just left, null if it was not open), else by its path from the
  // section's root. Fails when it is no longer the same directory.
  auto reopen = [&](const DirRef* below) -> Status {
    Frame& f = stack.back();
    auto same = [&](const Handle& h) {
      auto st = fs_.Stat(h.get());
      return st && st->dev == f.dev && st->ino == f.ino;
    };
    Handle handle;
    if (below != nullptr) {
      if (auto fd = fs_.OpenDirAt(below->handle.get(), "..")) {
        handle = Handle(&fs_, *fd);
        if (!same(handle)) handle.Reset();
      }
    }
    if (!handle.valid()) {
      auto fd = fs_.OpenRoot(root_path);
      if (!fd) return Fail(fd.error());
      handle = Handle(&fs_, *fd);
      for (size_t level = 1; level < stack.size(); ++level) {
        const size_t begin = stack[level - 1].prefix_len;
        const std::string name =
            prefix.substr(begin, stack[level].prefix_len - begin - 1);
        auto child = fs_.OpenDirAt(handle.get(), name.c_str());
        if (!child) return Fail(child.error());
        handle = Handle(&fs_, *child);
      }
      if (!same(handle)) {
        return Fail(Unavailable(
            "it was moved or replaced during the walk (reopened after "
            "more than " +
            std::to_string(kStackDirs) + " nested directories)"));
      }
    }
    f.dir = NewDirRef(std::move(handle), f.dev, f.traits);
    first_open = stack.size() - 1;
    return Ok();
  };

  Item start;
  start.kind = ItemKind::kSectionStart;
  start.section.dir_check = dir_check;
  auto root_fd = fs_.OpenRoot(root_path);
  const std::vector<std::string>* listed = nullptr;
  if (options_.only_paths) {
    static const std::vector<std::string> kNone;
    auto it = options_.only_paths->find(dir_check);
    listed = it == options_.only_paths->end() ? &kNone : &it->second;
  }
  if (!root_fd) {
    start.section.state = root_fd.error().code == ErrorCode::kNotFound
                              ? RootState::kMissing
                              : RootState::kError;
    start.section.error = root_fd.error().message;
  } else if (listed != nullptr) {
    Emit(std::move(start), {});
    WalkListed(*root_fd, dir_rel, *listed);
    Item end;
    end.kind = ItemKind::kSectionEnd;
    Emit(std::move(end), {});
    return;
  } else {
    auto st = fs_.Stat(*root_fd);
    auto pushed =
        push(Handle(&fs_, *root_fd), st ? st->dev : 0, st ? st->ino : 0);
    if (!pushed) {
      start.section.state = RootState::kError;
      start.section.error = root_path + ": " + pushed.error().message;
    }
  }
  Emit(std::move(start), {});

  std::string excl_path;
  DirEntryName de;
  while (!stack.empty() && !stopping() && !aborted()) {
    Frame& f = stack.back();
    auto listed_next = f.names.Next(de);
    if (!listed_next) {
      fail_walk(listed_next.error());
      break;
    }
    if (!*listed_next) {
      std::shared_ptr<DirRef> left = std::move(f.dir);
      stack.pop_back();
      if (stack.empty()) break;
      prefix.resize(stack.back().prefix_len);
      if (stack.back().dir != nullptr) continue;
      if (auto ok = reopen(left.get()); !ok) {
        // What is left of the directory cannot be read: each entry says so.
        Frame& lost = stack.back();
        const std::string dir_path =
            prefix.empty() ? "." : prefix.substr(0, prefix.size() - 1);
        while (!stopping()) {
          auto got = lost.names.Next(de);
          if (!got) fail_walk(got.error());
          if (!got || !*got) break;
          Item item;
          item.entry.path = prefix + de.name;
          item.entry.type = de.type_hint;
          SetError(item.entry, "reopening directory " + dir_path, ok.error());
          progress_.entries.fetch_add(1, std::memory_order_relaxed);
          Emit(std::move(item), {});
        }
        first_open = stack.size();  // still released: ends next round
      }
      continue;
    }
    Item item;
    item.kind = ItemKind::kEntry;
    Entry& e = item.entry;
    e.path.reserve(prefix.size() + de.name.size());
    e.path = prefix;
    e.path += de.name;
    if (!excludes_.empty()) {
      excl_path = dir_rel;
      if (!excl_path.empty()) excl_path += '/';
      excl_path += e.path;
      if (excludes_.Matches(excl_path, de.name.c_str())) continue;
    }
    e.type = de.type_hint;
    const int dir_fd = f.dir->handle.get();
    if (e.type == FileType::kUnknown) {
      auto st = fs_.StatAt(dir_fd, de.name.c_str());
      if (st) e.type = st->type;
    }
    progress_.entries.fetch_add(1, std::memory_order_relaxed);
    if (e.type != FileType::kDirectory) {
      const auto offset = static_cast<uint32_t>(prefix.size());
      Work work{f.dir, offset, std::nullopt, de.ino};
      if (use_cache && e.type == FileType::kRegular) {
        if (const CacheRecord* r = cache_in_->Find(e.path)) {
          work.cached = *r;  // slices off the path: e.path equals it
        }
      }
      Emit(std::move(item), std::move(work));
      continue;
    }
    // A directory: open it here, describe it, and descend into it.
    auto fd = fs_.OpenDirAt(dir_fd, de.name.c_str());
    if (!fd) {
      // Its metadata still describe it in the report (never zeros).
      if (auto st = fs_.StatAt(dir_fd, de.name.c_str())) Fill(e, *st);
      SetError(e, "", fd.error());
      Emit(std::move(item), {});
      continue;
    }
    Handle child(&fs_, *fd);
    auto st = fs_.Stat(child.get());
    if (st) Fill(e, *st);
    // A mount point (another device than its parent's) of a kernel pseudo
    // file system is compared as a directory but not entered: its files
    // are views of the running kernel, not data, and some block a read
    // forever (/proc/kmsg). Costs one fstatfs a mount point.
    if (st && st->dev != f.dev) {
      if (const FsTraits traits = fs_.Traits(child.get());
          !traits.pseudo.empty()) {
        Warn("not entering " + DirPath(root_path, e.path + "/") + ": a " +
             std::string(traits.pseudo) +
             " file system is mounted there (kernel pseudo files, not data)");
        Emit(std::move(item), {});
        continue;
      }
    }
    const size_t parent_len = prefix.size();
    prefix = e.path;
    prefix += '/';
    auto pushed = push(std::move(child), st ? st->dev : 0, st ? st->ino : 0);
    if (!pushed) {
      SetError(e, "", pushed.error());
      prefix.resize(parent_len);
    }
    Emit(std::move(item), {});
    // NB: `f` may dangle after push(); the loop re-reads stack.back().
  }
  // An aborted walk's stream ends with the error, never with a section
  // whose entries are missing.
  if (aborted()) return;
  Item end;
  end.kind = ItemKind::kSectionEnd;
  Emit(std::move(end), {});
}

void Scanner::WalkListed(int root_fd, const std::string& dir_rel,
                         const std::vector<std::string>& paths) {
  Handle root(&fs_, root_fd);
  const auto root_st = fs_.Stat(root.get());
  std::set<std::string> warned_mounts;
  // The directory holding the previous path, reused while paths share it.
  std::shared_ptr<DirRef> parent;
  std::string parent_path;
  bool parent_absent = false;
  bool resolved = false;  // parent_* describe parent_path
  std::string parent_error;
  for (const std::string& path : paths) {
    if (stopping()) return;
    // A path no walk produces ("../x", "a//b") names nothing under the
    // root: absent on this side, never opened.
    if (!IsWalkPath(path)) continue;
    const size_t slash = path.rfind('/');
    const std::string dir =
        slash == std::string::npos ? "" : path.substr(0, slash);
    const std::string name =
        path.substr(slash == std::string::npos ? 0 : slash + 1);
    if (!excludes_.empty()) {
      const std::string excl_path =
          dir_rel.empty() ? path : dir_rel + "/" + path;
      if (excludes_.Matches(excl_path, name.c_str())) continue;
    }
    if (!resolved || dir != parent_path) {
      resolved = true;
      // Opens `dir` component by component from the root, never following
      // a symlink: a component that is missing or not a directory means the
      // path does not exist on this side.
      parent.reset();
      parent_path = dir;
      parent_absent = false;
      parent_error.clear();
      // "." for the root itself: the items hold their own handle of it.
      Handle current;
      if (dir.empty()) {
        auto fd = fs_.OpenDirAt(root.get(), ".");
        if (fd) {
          current = Handle(&fs_, *fd);
        } else {
          parent_error = fd.error().message;
        }
      }
      int at = root.get();
      uint64_t dev = root_st ? root_st->dev : 0;
      size_t begin = 0;
      while (begin < dir.size()) {
        size_t end = dir.find('/', begin);
        if (end == std::string::npos) end = dir.size();
        const std::string component = dir.substr(begin, end - begin);
        auto fd = fs_.OpenDirAt(at, component.c_str());
        if (!fd) {
          auto st = fs_.StatAt(at, component.c_str());
          if ((!st && st.error().code == ErrorCode::kNotFound) ||
              (st && st->type != FileType::kDirectory)) {
            parent_absent = true;
          } else {
            parent_error = fd.error().message;
          }
          break;
        }
        current = Handle(&fs_, *fd);
        at = current.get();
        // Under a kernel pseudo file system (a list written by hand naming
        // proc/kmsg): not checked, as the walk never enters one. One fstat
        // a component, and an fstatfs where the device changes.
        if (auto st = fs_.Stat(at); st && st->dev != dev) {
          dev = st->dev;
          if (const FsTraits traits = fs_.Traits(at); !traits.pseudo.empty()) {
            const std::string mount = DirPath(JoinRoot(root_, "/" + dir_rel),
                                              dir.substr(0, end) + "/");
            if (warned_mounts.insert(mount).second) {
              Warn("not checking the listed paths under " + mount + ": a " +
                   std::string(traits.pseudo) +
                   " file system is mounted there (kernel pseudo files, not "
                   "data)");
            }
            parent_absent = true;
            break;
          }
        }
        begin = end + 1;
      }
      if (!parent_absent && parent_error.empty()) {
        parent = NewDirRef(std::move(current), 0, {});
      }
    }
    if (parent_absent) continue;
    Item item;
    item.kind = ItemKind::kEntry;
    Entry& e = item.entry;
    e.path = path;
    if (!parent_error.empty()) {
      e.state = EntryState::kError;
      e.error = parent_error;
      Emit(std::move(item), {});
      continue;
    }
    const int dir_fd = parent->handle.get();
    auto st = fs_.StatAt(dir_fd, name.c_str());
    if (!st) {
      if (st.error().code == ErrorCode::kNotFound) continue;
      SetError(e, "", st.error());
      Emit(std::move(item), {});
      continue;
    }
    progress_.entries.fetch_add(1, std::memory_order_relaxed);
    Fill(e, *st);
    if (e.type == FileType::kDirectory) {
      // Listed as an error before ("! dir/"): an lstat alone would call it
      // a directory on both sides, and the re-check consistent.
      if (auto fd = fs_.OpenDirAt(dir_fd, name.c_str()); fd) {
        fs_.Close(*fd);
      } else {
        SetError(e, "", fd.error());
      }
      Emit(std::move(item), {});
      continue;
    }
    Emit(std::move(item),
         {parent,
          static_cast<uint32_t>(slash == std::string::npos ? 0 : slash + 1),
          std::nullopt});
  }
}

void Scanner::Emit(Item item, Work work) {
  if (!filling_) {
    filling_ = std::make_unique<Batch>();
    filling_->items.reserve(kBatchItems);
    filling_->work.reserve(kBatchItems);
  }
  filling_path_bytes_ += item.entry.path.size();
  if (work.dir != nullptr && work.dir.get() != filling_last_dir_) {
    filling_last_dir_ = work.dir.get();
    ++filling_dirs_;
  }
  filling_->items.push_back(std::move(item));
  filling_->work.push_back(std::move(work));
  if (filling_->items.size() >= kBatchItems || filling_dirs_ >= kBatchDirs ||
      filling_path_bytes_ >= kBatchPathBytes) {
    FlushBatch();
  }
}

void Scanner::FlushBatch() {
  if (!filling_ || filling_->items.empty()) return;
  filling_dirs_ = 0;
  filling_last_dir_ = nullptr;
  filling_path_bytes_ = 0;
  std::unique_lock<std::mutex> lock(mu_);
  // Past kMaxLiveDirs open directories, wait for the queue to drain (each
  // batch the consumer takes frees its handles).
  space_cv_.wait(lock, [&] {
    return stopping() ||
           (ordered_.size() < kMaxBatches &&
            (live_dirs_.load() <= kMaxLiveDirs || ordered_.empty()));
  });
  if (stopping()) {
    filling_.reset();
    return;
  }
  claimable_.push_back(filling_.get());
  ordered_.push_back(std::move(filling_));
  work_cv_.notify_one();
}

void Scanner::WorkerMain() {
  FileReader reader(fs_, clock_, limiter_, progress_, *inodes_, options_.hash,
                    options_.chunk_size);
  for (;;) {
    Batch* batch = nullptr;
    size_t n = 0;  // the batch's size: read before the batch can be freed
    size_t begin = 0;
    size_t end = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] {
        return stopping() || !claimable_.empty() || walk_finished_;
      });
      if (stopping()) return;
      if (claimable_.empty()) return;  // walk finished, nothing left
      batch = claimable_.front();
      n = batch->items.size();
      begin = batch->next_claim.load(std::memory_order_relaxed);
      // Whole claims, the batch's last one included: a claim is a group of
      // the small files' batched opens, reads and closes (three
      // io_uring_enter), so splitting a batch's tail among the workers
      // (32, 16, 8, 4, 2, 1, 1) made groups of 19 files on average and
      // cost more system calls than the balance won (docs/benchmarks.md).
      end = std::min(n, begin + kClaimItems);
      batch->next_claim.store(end, std::memory_order_relaxed);
      if (end == n) {
        claimable_.pop_front();
      } else {
        work_cv_.notify_one();  // more to claim in this batch
      }
    }
    ResolveRange(*batch, begin, end, reader);
    // Once the last item of the batch is counted the consumer may free it:
    // only the worker that completes it touches it after this line.
    const size_t count = end - begin;
    if (batch->completed.fetch_add(count) + count == n) {
      std::lock_guard<std::mutex> lock(mu_);
      batch->done = true;
      ready_cv_.notify_one();
    }
  }
}

void Scanner::ResolveRange(Batch& batch, size_t begin, size_t end,
                           FileReader& reader) {
  const bool hash = options_.mode == CompareMode::kHash;
  FileReader::Job group[FileReader::kGroupFiles];
  // The cache record each grouped file is re-read against (kVerify), or null.
  const CachedDigest* verify[FileReader::kGroupFiles];
  size_t grouped = 0;
  const DirRef* group_dir = nullptr;
  auto flush = [&] {
    if (grouped > 0) {
      reader.HashGroup(group_dir->handle.get(), {group, grouped});
      for (size_t g = 0; g < grouped; ++g) {
        if (verify[g] != nullptr) {
          CheckReread(*group[g].entry, *verify[g], group_dir->traits);
        }
      }
    }
    grouped = 0;
  };
  for (size_t i = begin; i < end && !stopping(); ++i) {
    const Work& w = batch.work[i];
    if (w.dir == nullptr) continue;
    Entry& e = batch.items[i].entry;
    if (!hash || e.type != FileType::kRegular) {
      ResolveEntry(batch.items[i], w, reader);
      continue;
    }
    const CachedDigest* check = nullptr;
    if (w.cached) {
      const CacheUse use = TryCache(e, w);
      if (use == CacheUse::kReuse) continue;
      if (use == CacheUse::kVerify) check = &*w.cached;
    }
    // Regular files of one directory are hashed together.
    if (w.dir.get() != group_dir || grouped == FileReader::kGroupFiles) flush();
    group_dir = w.dir.get();
    verify[grouped] = check;
    group[grouped++] = {e.path.c_str() + w.name_offset, &e, w.dir->dev, w.ino};
  }
  flush();
}

CacheUse Scanner::TryCache(Entry& e, const Work& w) {
  auto st = fs_.StatAt(w.dir->handle.get(), e.path.c_str() + w.name_offset);
  // Whatever went wrong, reading the file reports it.
  if (!st) return CacheUse::kMiss;
  const CachedDigest& r = *w.cached;
  const CacheUse use =
      DecideCacheUse(e.path, r, *st, w.dir->traits, cache_policy_);
  if (use == CacheUse::kReuse) {
    Fill(e, *st);
    e.digest = r.digest;
    e.hashed_at_ns = r.hashed_at_ns;
    e.cached = true;
    progress_.cached_files.fetch_add(1, std::memory_order_relaxed);
  }
  return use;
}

void Scanner::CheckReread(Entry& e, const CachedDigest& r,
                          const FsTraits& traits) {
  if (e.state != EntryState::kOk || e.digest.empty()) return;
  // Other content under the same size, mtime, ctime and inode: written
  // around the file system (or decayed), never by a normal write.
  if (EntryMatchesRecord(e, r, traits) && !(e.digest == r.digest)) {
    e.corrupt = true;
  }
}

void Scanner::ResolveEntry(Item& item, const Work& work, FileReader& reader) {
  Entry& e = item.entry;
  const char* name = e.path.c_str() + work.name_offset;
  const int dir = work.dir->handle.get();
  const bool hash = options_.mode == CompareMode::kHash;
  if (hash && e.type == FileType::kRegular) {
    reader.Hash(dir, name, e);
    return;
  }
  auto st = fs_.StatAt(dir, name);
  if (!st) {
    SetError(e, "", st.error());
    return;
  }
  Fill(e, *st);
  if (e.type == FileType::kSymlink) {
    auto target = fs_.ReadLinkAt(dir, name);
    if (target) {
      e.link_target = std::move(*target);
    } else {
      SetError(e, "", target.error());
    }
  } else if (hash && e.type == FileType::kRegular) {
    reader.Hash(dir, name, e);
  }
}

void Scanner::RecordInCache(const Item& item) {
  Status ok = Ok();
  if (item.kind == ItemKind::kSectionStart) {
    ok = cache_out_->StartSection(item.section.dir_check);
  } else if (item.kind == ItemKind::kEntry) {
    const Entry& e = item.entry;
    // A corrupt file is left out: the next check reads it again.
    if (e.type == FileType::kRegular && e.state == EntryState::kOk &&
        !e.digest.empty() && !e.corrupt) {
      ok = cache_out_->Add(e);
    }
  }
  if (!ok) {
    Warn(ok.error().message + " (the hash cache is not updated)");
    cache_out_.reset();
  }
}

Result<const Item*> Scanner::Next() {
  const Item* item = nullptr;
  if (current_ && current_index_ < current_->items.size()) {
    item = &current_->items[current_index_++];
  } else {
    current_.reset();
    std::unique_lock<std::mutex> lock(mu_);
    ready_cv_.wait(lock, [&] {
      return stopping() || (!ordered_.empty() && ordered_.front()->done) ||
             (walk_finished_ && ordered_.empty());
    });
    if (stopping()) return Fail(Cancelled("verification cancelled"));
    if (ordered_.empty()) {
      lock.unlock();
      if (walk_error_) {
        cache_out_.reset();  // the previous cache stays
        return Fail(*walk_error_);
      }
      // The whole stream was read: the new cache replaces the old one.
      if (cache_out_) {
        if (auto ok = cache_out_->Commit(); !ok) {
          Warn(ok.error().message + " (the hash cache is not updated)");
        }
        cache_out_.reset();
      }
      return nullptr;
    }
    current_ = std::move(ordered_.front());
    ordered_.pop_front();
    space_cv_.notify_one();
    lock.unlock();
    current_index_ = 1;
    item = &current_->items[0];
  }
  if (cache_out_) RecordInCache(*item);
  return item;
}

}  // namespace sms::core
