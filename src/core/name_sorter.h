// NameSorter: the names of one directory in byte order, in bounded memory.
//
// Up to `threshold` names are sorted in memory, as any directory is. Past it
// the names are cut into runs of `threshold`, each sorted and written to one
// temp file without a name (FileSystem::CreateTempFile in `spill_dir`), and
// the runs are merged as the names are read back: memory is one run while
// the listing is read, then a read buffer per run (8 MiB over all runs). The
// order is the same either way: the byte order of the names (what
// core/path_order.h orders a directory's children by). The temp file goes
// when the sorter does.
//
// Errors of the temp file (a spill directory that is full, missing or not
// writable) say how many names were being sorted and where.
// Thread-safety: one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/file_system.h"
#include "core/result.h"

namespace sms::core {

// A directory of more entries than this is sorted in runs spilled to a temp
// file: ~100 bytes of memory a name, so about 10 MB of names at most.
inline constexpr size_t kDefaultSpillThreshold = 100'000;

class NameSorter final {
 public:
  // `threshold` >= 1.
  NameSorter(FileSystem& fs, size_t threshold, std::string spill_dir);
  ~NameSorter() = default;
  NameSorter(NameSorter&&) noexcept = default;
  NameSorter& operator=(NameSorter&&) noexcept = default;
  NameSorter(const NameSorter&) = delete;
  NameSorter& operator=(const NameSorter&) = delete;

  // Takes the names of `names` (left empty). Once more than `threshold`
  // names are held, writes runs of `threshold` to the temp file.
  [[nodiscard]] Status Add(std::vector<DirEntryName>& names);
  // Ends the input: Next() then returns the names in byte order.
  [[nodiscard]] Status Finish();
  // Moves the next name into `out`; false after the last one.
  [[nodiscard]] Result<bool> Next(DirEntryName& out);

  uint64_t count() const { return count_; }     // names added
  size_t runs() const { return runs_.size(); }  // 0: sorted in memory

 private:
  // One sorted run in the temp file, and its read cursor.
  struct Run {
    uint64_t pos = 0;  // the next byte of the file to read into `buf`
    uint64_t end = 0;  // where the run ends in the file
    std::vector<char> buf;
    size_t buf_pos = 0;  // the next byte of `buf` to decode
    size_t buf_len = 0;
    DirEntryName current;  // the run's smallest name not yet returned
  };

  // Sorts names_[0, n) and writes them as a run.
  Status Spill(size_t n);
  Status Flush();
  // Decodes the next name of `run` into run.current; false at its end.
  Result<bool> Advance(Run& run);
  // Makes at least `k` bytes of `run` available in its buffer, or all that
  // are left of the run.
  Status Need(Run& run, size_t k);
  Error SpillError(const Error& e) const;
  bool HeapLess(uint32_t a, uint32_t b) const;

  FileSystem* fs_;
  size_t threshold_;
  std::string spill_dir_;
  uint64_t count_ = 0;
  std::vector<DirEntryName> names_;  // in memory; sorted after Finish()
  size_t next_ = 0;                  // Next() in memory
  Handle file_;                      // the temp file, once spilled
  uint64_t file_size_ = 0;
  std::string out_;  // encoded names not yet written
  std::vector<Run> runs_;
  std::vector<uint32_t> heap_;  // runs with names left, smallest on top
};

}  // namespace sms::core
