// InodeCache: the digests of files with several hard links, so that each
// inode of a tree is read once per side, and the claims that keep two
// workers from reading two links of one inode at the same time.
//
// Memory is bounded: an entry is dropped once its inode's other links have
// all been looked up (the link count said how many), and past `max_entries`
// the oldest entries are dropped first. A dropped inode met again is read
// again: slower, never wrong. (Unbounded, a tree of 300,000 files whose
// every inode had a second link outside the tree, as backup snapshots have,
// took 96 MB instead of 22 MB: ~250 bytes a file, 2.5 GB at 10 million.)
// Thread-safety: safe for concurrent use.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <utility>

#include "core/entry.h"
#include "core/file_system.h"

namespace sms::core {

class InodeCache {
 public:
  // ~160 bytes an entry (measured): ~5 MiB a side at most.
  static constexpr size_t kDefaultMaxEntries = 1 << 15;

  explicit InodeCache(size_t max_entries = kDefaultMaxEntries);

  // The digest of the inode `st` describes, when it was inserted with the
  // same size, mtime and ctime: stores it in `out` and `hashed_at_ns`.
  // Counts a link seen: the entry goes once all of them were.
  bool Lookup(const StatInfo& st, Digest& out, int64_t& hashed_at_ns);
  // Remembers the digest of an inode read through one of its st.nlink links.
  void Insert(const StatInfo& st, const Digest& digest, int64_t hashed_at_ns);

  // The first read of a listed inode (any link count: the listing does not
  // say): false when it was digested already or another reader holds the
  // claim, so two links read by two workers at once are read once. A claim
  // is released (Release) once its digest is inserted or its read gave up;
  // a reader that was refused waits (WaitUnclaimed) before its Lookup.
  bool Claim(uint64_t dev, uint64_t ino);
  void Release(std::span<const std::pair<uint64_t, uint64_t>> keys);
  void WaitUnclaimed(uint64_t dev, uint64_t ino);

  // Entries held now.
  size_t size();

 private:
  using Key = std::pair<uint64_t, uint64_t>;  // device, inode
  struct Value {
    uint64_t size;
    int64_t mtime_ns;
    int64_t ctime_ns;
    Digest digest;
    int64_t hashed_at_ns;
    uint64_t links_left;  // links not looked up yet
  };
  const size_t max_entries_;
  std::mutex mu_;
  std::condition_variable released_;
  std::map<Key, Value> map_;  // Guarded by mu_.
  std::deque<Key> order_;     // insertion order, stale keys too; mu_
  std::set<Key> claimed_;     // being read now; Guarded by mu_.
};

}  // namespace sms::core
