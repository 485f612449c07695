// The hash cache of one side of a verification: the digests of its previous
// check, so that a repeated check reads only the files that changed.
//
// A digest is reused only when the file is provably unchanged (git's and
// Mercurial's rule): the same path, device, inode, size, mtime and ctime
// (nanoseconds), the same hash algorithm and chunk size, and the digest was
// taken more than the racy window after the file's mtime and ctime (a file
// rewritten within one timestamp granule of its hashing keeps its
// timestamps, so its digest is never trusted). On file systems whose inode
// numbers are not stable (FUSE, NFS, SMB: FsTraits) device and inode are not
// compared and the window grows by kNetworkClockSlack, since their
// timestamps come from the server's clock. A random fraction of reusable
// digests, and every digest older than the maximum age, is read again; a
// re-read that disagrees while the metadata did not change is `corrupt`.
//
// File format (one file per side, tree and directory list), streamed in walk
// order and never loaded whole:
//   header  "SMSHCACH" u8 version, u8 hash, varint chunk_size, string root,
//           varint n_dirs, n_dirs x string
//   records 'S' string dir_check
//           'E' varint shared_prefix, string path_suffix, varint dev, ino,
//               size, zigzag mtime_ns, ctime_ns, hashed_at_ns,
//               u8 digest_len + digest
//   trailer 'T' varint entries, 8 bytes XXH64 (little-endian) of every byte
//           before them (seed 0).
// A file whose header, structure or checksum does not match is not used at
// all (the reader verifies the whole file before the first record is used).
// Writes go to a temporary file in the same directory, fsync'ed and renamed
// over the previous one, so a crash or a full disk leaves the previous cache
// or none, never a wrong digest.
// Thread-safety: a reader or writer is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/entry.h"
#include "core/file_system.h"
#include "core/hasher.h"
#include "core/result.h"

namespace sms::core {

inline constexpr uint8_t kHashCacheVersion = 1;
// Allowance for the lag of the kernel's coarse clock behind the wall clock.
inline constexpr int64_t kTimestampSlackNs = 50'000'000;
// Allowance for the clock of a network file system's server.
inline constexpr int64_t kNetworkClockSlackNs = 60'000'000'000;
inline constexpr int64_t kDefaultCacheMaxAgeNs = 30LL * 86400 * 1'000'000'000;
inline constexpr double kDefaultRehashFraction = 0.01;

// What a cache file is for; the reader ignores a file made for anything else.
struct CacheParams {
  HashAlgorithm hash = HashAlgorithm::kXxh128;
  uint64_t chunk_size = kDefaultChunkSize;
  std::string root;               // the side's CanonicalRoot()
  std::vector<std::string> dirs;  // normalised dir_checks
};

// A cached digest and the metadata of the file it was taken from: what a
// hash worker needs of a record (the path is the entry's own, so the walk
// hands this on without a copy of the path).
struct CachedDigest {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  int64_t hashed_at_ns = 0;
  Digest digest;
};

// One cached digest and its path.
struct CacheRecord : CachedDigest {
  std::string path;  // relative to the section's root
};

// How a check uses the cache.
struct CachePolicy {
  // Fraction of reusable digests read again anyway (0..1).
  double rehash_fraction = kDefaultRehashFraction;
  // Digests older than this are read again; <= 0: no limit.
  int64_t max_age_ns = kDefaultCacheMaxAgeNs;
  // Timestamp granularity measured on the cache's file system
  // (MeasureTimestampGranularity); the window is never below it.
  int64_t granularity_ns = 0;
  int64_t now_ns = 0;  // wall time at the start of the check
  uint64_t seed = 0;   // picks the random re-reads of this check
};

enum class CacheUse : uint8_t {
  kMiss,    // metadata differ, racy or no record: read the file
  kReuse,   // the cached digest stands for the content
  kVerify,  // unchanged, but picked for a re-read (random or too old)
};

// Decides what to do with `record` for a file whose lstat is `st`, on a file
// system with `traits`. Pure.
CacheUse DecideCacheUse(const CacheRecord& record, const StatInfo& st,
                        const FsTraits& traits, const CachePolicy& policy);
// The same for the record of `path` (the random re-reads are picked by path).
CacheUse DecideCacheUse(std::string_view path, const CachedDigest& record,
                        const StatInfo& st, const FsTraits& traits,
                        const CachePolicy& policy);
// True when the metadata of `record` still describe `st` (the key test of
// DecideCacheUse without the racy, age and random rules): a re-read that
// disagrees with such a record is corrupt.
bool CacheKeyMatches(const CachedDigest& record, const StatInfo& st,
                     const FsTraits& traits);
// The racy window for a file with these timestamps: the granularity the
// timestamps themselves show (a multiple of 1 s with no fraction: FAT-like
// 2 s), the file system's and the measured one, plus slack.
int64_t RacyWindowNs(int64_t mtime_ns, int64_t ctime_ns, const FsTraits& traits,
                     const CachePolicy& policy);

// Measures the timestamp granularity of the file system holding directory
// `dir`: sets a temporary file's mtime to a value with nanoseconds and reads
// back what was stored (1 ns on ext4 with large inodes, 1 s with 128-byte
// inodes, 2 s on FAT, 100 ns on NTFS).
[[nodiscard]] Result<int64_t> MeasureTimestampGranularity(
    const std::string& dir);

// The name of a tree in its cache: its canonical path (symlinks resolved),
// so that ./src and /home/me/src share one cache; `root` itself when it
// cannot be resolved.
std::string CanonicalRoot(const std::string& root);

// The cache file of `role` ("source", "target") for `root` and `dirs` in
// directory `dir`: DIR/ROLE-<16 hex digits of XXH64(root, dirs)>.smscache.
std::string CacheFilePath(const std::string& dir, std::string_view role,
                          const std::string& root,
                          const std::vector<std::string>& dirs);

// Streams a cache file in walk order. Open() verifies the whole file
// (header against `expected`, structure, checksum) before it hands out any
// record: an error names the file and what is wrong with it.
class CacheReader final {
 public:
  [[nodiscard]] static Result<std::unique_ptr<CacheReader>> Open(
      const std::string& path, const CacheParams& expected);
  ~CacheReader();
  CacheReader(const CacheReader&) = delete;
  CacheReader& operator=(const CacheReader&) = delete;

  // Moves to section `dir_check` (sections are asked for in file order).
  void StartSection(const std::string& dir_check);
  // The record of `path` in the current section, or nullptr. Paths are asked
  // for in walk order (core/path_order.h); records before `path` are
  // skipped. The pointer stays valid until the next call.
  const CacheRecord* Find(std::string_view path);

 private:
  CacheReader(int fd, uint64_t size);
  // Reads the next record: an entry into `record_`, or a section start.
  void Advance();

  class Source;
  std::unique_ptr<Source> in_;
  bool in_section_ = false;  // record_ holds a record of the current section
  bool exhausted_ = true;    // no more records in the current section
  bool at_end_ = false;      // the trailer was reached
  bool has_pending_section_ = false;  // a section start was read
  std::string pending_section_;       // ... with this dir_check
  CacheRecord record_;  // its path is the previous record's while decoding
};

// Writes a new cache file next to `path` and renames it over `path` on
// Commit(); dropping an uncommitted writer removes the temporary file.
class CacheWriter final {
 public:
  [[nodiscard]] static Result<std::unique_ptr<CacheWriter>> Create(
      const std::string& path, const CacheParams& params);
  ~CacheWriter();
  CacheWriter(const CacheWriter&) = delete;
  CacheWriter& operator=(const CacheWriter&) = delete;

  [[nodiscard]] Status StartSection(const std::string& dir_check);
  // Records a regular file's digest (entries in walk order).
  [[nodiscard]] Status Add(const Entry& entry);
  // Writes the trailer, fsyncs, renames over the final path and fsyncs the
  // directory.
  [[nodiscard]] Status Commit();

 private:
  CacheWriter(std::string path, std::string temp, int fd);
  Status Flush(bool hash);

  const std::string path_;
  const std::string temp_;
  int fd_;
  std::string buf_;
  std::string previous_;
  uint64_t entries_ = 0;
  bool committed_ = false;
  struct Checksum;
  std::unique_ptr<Checksum> checksum_;
};

}  // namespace sms::core
