// Scanner: the local side of a verification. A walker thread lists
// directories depth first in walk order; a bounded pool of hash workers
// stats and hashes the entries; the consumer reads them back in order.
//
// Memory is bounded by the widest directory (the walker keeps each open
// level's sorted names) plus a fixed window of in-flight batches, never by the
// size of the tree. Each regular file is fstat'ed before and after it is
// read: when size, mtime or ctime moved, or fewer bytes than its size could
// be read, the entry is kChanged, never a false digest. Files with several
// hard links are hashed once per inode. Unreadable entries are kError with
// the errno text; the walk goes on.
//
// With a hash cache (ScanOptions::cache_path, core/hash_cache.h) the walker
// merges the previous check's cache file, streamed in walk order, with the
// walk; a worker lstat's a file that has a cached record and reuses its
// digest when the cache's rules allow, without opening the file. The new
// cache is written as the consumer reads the entries and replaces the old one
// only when the whole stream was read.
// Thread-safety: Next() from one consumer thread; Cancel() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/entry_stream.h"
#include "core/exclude.h"
#include "core/file_system.h"
#include "core/hash_cache.h"
#include "core/hasher.h"
#include "core/name_sorter.h"
#include "core/rate_limiter.h"

namespace sms::core {

class FileReader;  // scanner.cc
class InodeCache;  // scanner.cc

struct ScanOptions {
  // kHash reads and digests regular files; kQuick only stats.
  CompareMode mode = CompareMode::kHash;
  HashAlgorithm hash = HashAlgorithm::kXxh128;
  uint64_t chunk_size = kDefaultChunkSize;
  // Hash workers; 0 means one per core.
  int threads = 0;
  // Read cap in bytes per second; 0 means none.
  uint64_t io_limit = 0;
  // Exclude globs (core/exclude.h).
  std::vector<std::string> excludes;
  // The side's hash cache file (hash mode only; "" for none): read when it
  // exists and is valid, then replaced by this check's.
  std::string cache_path;
  CachePolicy cache_policy;
  // When set, only these paths are checked: per dir_check, the paths
  // relative to it, sorted in walk order (core/path_order.h). Each is stat'ed
  // where it is; nothing else is walked, and a path absent on this side
  // yields no entry. The hash cache is neither read nor written.
  std::shared_ptr<const std::map<std::string, std::vector<std::string>>>
      only_paths;
  // A directory of more entries than this is sorted in runs of this many
  // names spilled to a temp file in `spill_dir` and merged, so memory stays
  // bounded however large a directory is (core/name_sorter.h); the entries
  // and their order are the same. A temp file that cannot be written or
  // read back ends the stream with an error naming the directory and
  // `spill_dir`.
  size_t spill_threshold = kDefaultSpillThreshold;
  // "" for $TMPDIR, else /tmp.
  std::string spill_dir;
};

// Live counters, readable from any thread (progress display).
struct ScanProgress {
  std::atomic<uint64_t> entries{0};
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<uint64_t> cached_files{0};  // digests reused from the cache
};

class Scanner final : public EntryStream {
 public:
  // Verifies `dirs` (absolute dir_checks, "/" for the whole root, sorted and
  // without nesting) under `root`. Threads start at once.
  Scanner(FileSystem& fs, Clock& clock, std::string root,
          std::vector<std::string> dirs, ScanOptions options);
  ~Scanner() override;
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  Result<const Item*> Next() override;

  // Stops the walk and the workers promptly; Next() then fails Cancelled.
  void Cancel();
  const ScanProgress& progress() const { return progress_; }
  // Warnings about the hash cache (not used because corrupted or foreign,
  // could not be written), for the caller to show; call after the stream
  // ended.
  std::vector<std::string> TakeWarnings();

 private:
  struct DirRef;
  struct Work {
    std::shared_ptr<DirRef> dir;  // directory holding the entry
    uint32_t name_offset = 0;     // the entry's name within item.entry.path
    // The hash cache's record of the entry, if any (held here, not on the
    // heap: an allocation per file cost a re-check ~3 % of its CPU).
    std::optional<CachedDigest> cached;
    uint64_t ino = 0;  // the listing's inode number (d_ino), 0 if unknown
  };
  struct Batch {
    std::vector<Item> items;
    std::vector<Work> work;  // parallel to items; dir == nullptr: resolved
    std::atomic<size_t> next_claim{0};
    std::atomic<size_t> completed{0};
    bool done = false;  // Guarded by mu_.
  };

  std::shared_ptr<DirRef> NewDirRef(Handle handle, uint64_t dev,
                                    const FsTraits& traits);
  void WalkMain();
  void WalkSection(const std::string& dir_check);
  // The walk of one section restricted to `paths` (ScanOptions::only_paths).
  void WalkListed(int root_fd, const std::string& dir_rel,
                  const std::vector<std::string>& paths);
  void OpenCache();
  // Writes what the consumer hands out to the new cache.
  void RecordInCache(const Item& item);
  void Warn(std::string message);
  void WorkerMain();
  // Resolves items [begin, end) of `batch`: regular files in groups.
  void ResolveRange(Batch& batch, size_t begin, size_t end, FileReader& reader);
  void ResolveEntry(Item& item, const Work& work, FileReader& reader);
  // Reuses the cached digest of regular file `e` when the cache's rules
  // allow (lstat only); says what it decided.
  CacheUse TryCache(Entry& e, const Work& w);
  // After a re-read of a file whose record matched: flags `e` corrupt when
  // the content moved but the metadata did not.
  static void CheckReread(Entry& e, const CachedDigest& r,
                          const FsTraits& traits);
  // Appends an item to the batch being filled; flushes it when full.
  void Emit(Item item, Work work);
  void FlushBatch();
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }
  // The walk cannot go on (a spill file failed): the stream ends with
  // `error` after the entries emitted before it.
  void Abort(Error error);
  bool aborted() const { return walk_error_.has_value(); }

  // Constant after construction.
  FileSystem& fs_;
  Clock& clock_;
  const std::string root_;
  const std::vector<std::string> dirs_;
  const ScanOptions options_;
  const ExcludeMatcher excludes_;
  const size_t worker_count_;
  const std::string spill_dir_;  // options_.spill_dir, or its default

  RateLimiter limiter_;
  ScanProgress progress_;
  std::atomic<bool> stop_{false};
  // DirRefs alive (open directories); before every holder of one.
  std::atomic<size_t> live_dirs_{0};
  std::unique_ptr<Batch> filling_;  // Walker thread only.
  // What filling_ holds (walker thread only): distinct directories in a row
  // and path bytes, to cut batches (scanner.cc).
  size_t filling_dirs_ = 0;
  const DirRef* filling_last_dir_ = nullptr;
  size_t filling_path_bytes_ = 0;

  std::mutex mu_;
  std::condition_variable work_cv_;             // workers: new work or stop
  std::condition_variable ready_cv_;            // consumer: front batch done
  std::condition_variable space_cv_;            // walker: room for a batch
  std::deque<std::unique_ptr<Batch>> ordered_;  // Guarded by mu_.
  std::deque<Batch*> claimable_;                // Guarded by mu_.
  bool walk_finished_ = false;                  // Guarded by mu_.
  // Why the walk stopped early; written by the walker before it sets
  // walk_finished_, read by the consumer after.
  std::optional<Error> walk_error_;

  // Consumer thread only.
  std::unique_ptr<Batch> current_;
  size_t current_index_ = 0;

  std::unique_ptr<InodeCache> inodes_;
  CachePolicy cache_policy_;                // set by the walker before use
  std::unique_ptr<CacheReader> cache_in_;   // Walker thread only.
  std::unique_ptr<CacheWriter> cache_out_;  // Consumer thread only.
  std::mutex warnings_mu_;
  std::vector<std::string> warnings_;  // Guarded by warnings_mu_.
  std::vector<std::thread> workers_;
  std::thread walker_;
};

}  // namespace sms::core
