#include "core/name_sorter.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace sms::core {
namespace {

// A name in the temp file: varint length, the bytes, u8 type, varint inode.
constexpr size_t kMaxVarint = 10;
// Encoded names are written in pieces of this size.
constexpr size_t kWriteBytes = 1 << 20;
// The read buffers of all runs together, and each one's bounds.
constexpr size_t kMergeBytes = 8 << 20;
constexpr size_t kMinRunBuffer = 16 << 10;
constexpr size_t kMaxRunBuffer = 1 << 20;

bool NameLess(const DirEntryName& a, const DirEntryName& b) {
  return a.name < b.name;
}

// The first 8 bytes of `name` as a big-endian integer, zero-padded: names
// hold no NUL, so a name that is a prefix of another gets the smaller key,
// as in byte order.
uint64_t HeadKey(const std::string& name) {
  unsigned char head[8] = {};
  std::memcpy(head, name.data(), std::min<size_t>(8, name.size()));
  uint64_t key = 0;
  for (unsigned char byte : head) key = (key << 8) | byte;
  return key;
}

// Sorts names[0, n) in byte order, as std::sort with NameLess would (names
// in a directory are unique, so the order is the same). It sorts small keys
// (the first 8 bytes as one integer, and the index), compares whole names
// only when two heads tie, and then moves each name once: std::sort of the
// names themselves spent a warm re-check of 1 M tiny files ~4 % of its CPU
// in memcmp and string swaps (docs/benchmarks.md).
void SortNames(std::vector<DirEntryName>& names, size_t n) {
  struct Key {
    uint64_t head;
    size_t index;
  };
  std::vector<Key> keys(n);
  for (size_t i = 0; i < n; ++i) {
    keys[i] = {HeadKey(names[i].name), i};
  }
  std::sort(keys.begin(), keys.end(), [&names](const Key& a, const Key& b) {
    if (a.head != b.head) return a.head < b.head;
    return names[a.index].name < names[b.index].name;
  });
  std::vector<DirEntryName> sorted;
  sorted.reserve(names.size());
  for (const Key& k : keys) sorted.push_back(std::move(names[k.index]));
  for (size_t i = n; i < names.size(); ++i) {
    sorted.push_back(std::move(names[i]));
  }
  names.swap(sorted);
}

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Decodes a varint from [p, end); false when it does not end there.
bool GetVarint(const char*& p, const char* end, uint64_t& v) {
  v = 0;
  for (int shift = 0; p < end && shift < 64; shift += 7) {
    const auto byte = static_cast<uint8_t>(*p++);
    v |= uint64_t{byte & 0x7fu} << shift;
    if (byte < 0x80) return true;
  }
  return false;
}

}  // namespace

NameSorter::NameSorter(FileSystem& fs, size_t threshold, std::string spill_dir)
    : fs_(&fs),
      threshold_(std::max<size_t>(1, threshold)),
      spill_dir_(std::move(spill_dir)) {}

Error NameSorter::SpillError(const Error& e) const {
  std::string what = "more than " + std::to_string(threshold_) +
                     " entries to sort (" + std::to_string(count_) +
                     " listed so far): ";
  // CreateTempFile's errors name the directory already.
  if (e.message.find(spill_dir_) == std::string::npos) {
    what += "temp file in " + spill_dir_ + ": ";
  }
  return IoError(what + e.message);
}

Status NameSorter::Add(std::vector<DirEntryName>& names) {
  count_ += names.size();
  if (names_.empty() && runs_.empty()) {
    names_.swap(names);
  } else {
    names_.insert(names_.end(), std::make_move_iterator(names.begin()),
                  std::make_move_iterator(names.end()));
  }
  names.clear();
  while (names_.size() > threshold_) {
    SMS_RETURN_IF_ERROR(Spill(threshold_));
    names_.erase(names_.begin(),
                 names_.begin() + static_cast<ptrdiff_t>(threshold_));
  }
  return Ok();
}

Status NameSorter::Spill(size_t n) {
  if (!file_.valid()) {
    auto fd = fs_->CreateTempFile(spill_dir_);
    if (!fd) return Fail(SpillError(fd.error()));
    file_ = Handle(fs_, *fd);
    out_.reserve(kWriteBytes + 512);
  }
  SortNames(names_, n);
  Run run;
  run.pos = file_size_ + out_.size();
  for (size_t i = 0; i < n; ++i) {
    const DirEntryName& d = names_[i];
    PutVarint(out_, d.name.size());
    out_ += d.name;
    out_.push_back(static_cast<char>(d.type_hint));
    PutVarint(out_, d.ino);
    if (out_.size() >= kWriteBytes) SMS_RETURN_IF_ERROR(Flush());
  }
  run.end = file_size_ + out_.size();
  runs_.push_back(std::move(run));
  return Ok();
}

Status NameSorter::Flush() {
  if (out_.empty()) return Ok();
  if (auto ok = fs_->WriteAll(file_.get(), out_.data(), out_.size()); !ok) {
    return Fail(SpillError(ok.error()));
  }
  file_size_ += out_.size();
  out_.clear();
  return Ok();
}

Status NameSorter::Finish() {
  if (runs_.empty()) {
    SortNames(names_, names_.size());
    return Ok();
  }
  if (!names_.empty()) SMS_RETURN_IF_ERROR(Spill(names_.size()));
  SMS_RETURN_IF_ERROR(Flush());
  std::vector<DirEntryName>().swap(names_);
  std::string().swap(out_);
  const size_t buffer =
      std::clamp(kMergeBytes / runs_.size(), kMinRunBuffer, kMaxRunBuffer);
  for (uint32_t i = 0; i < runs_.size(); ++i) {
    runs_[i].buf.resize(buffer);
    SMS_ASSIGN_OR_RETURN(bool more, Advance(runs_[i]));
    if (more) heap_.push_back(i);
  }
  auto greater = [this](uint32_t a, uint32_t b) { return HeapLess(b, a); };
  std::make_heap(heap_.begin(), heap_.end(), greater);
  return Ok();
}

bool NameSorter::HeapLess(uint32_t a, uint32_t b) const {
  return NameLess(runs_[a].current, runs_[b].current);
}

Result<bool> NameSorter::Next(DirEntryName& out) {
  if (runs_.empty()) {
    if (next_ == names_.size()) return false;
    out = std::move(names_[next_++]);
    return true;
  }
  if (heap_.empty()) return false;
  auto greater = [this](uint32_t a, uint32_t b) { return HeapLess(b, a); };
  std::pop_heap(heap_.begin(), heap_.end(), greater);
  Run& run = runs_[heap_.back()];
  out = std::move(run.current);
  SMS_ASSIGN_OR_RETURN(bool more, Advance(run));
  if (more) {
    std::push_heap(heap_.begin(), heap_.end(), greater);
  } else {
    heap_.pop_back();
    std::vector<char>().swap(run.buf);
  }
  return true;
}

Status NameSorter::Need(Run& run, size_t k) {
  const size_t have = run.buf_len - run.buf_pos;
  if (have >= k || run.pos == run.end) return Ok();
  // Keep what is left at the front and fill the rest.
  std::memmove(run.buf.data(), run.buf.data() + run.buf_pos, have);
  run.buf_pos = 0;
  run.buf_len = have;
  if (run.buf.size() < k) run.buf.resize(k);
  while (run.buf_len < k && run.pos < run.end) {
    const size_t want = static_cast<size_t>(
        std::min<uint64_t>(run.buf.size() - run.buf_len, run.end - run.pos));
    auto n =
        fs_->ReadAt(file_.get(), run.buf.data() + run.buf_len, want, run.pos);
    if (!n) return Fail(SpillError(n.error()));
    if (*n == 0) {
      return Fail(SpillError(DataLoss("the temp file ends early")));
    }
    run.buf_len += *n;
    run.pos += *n;
  }
  return Ok();
}

Result<bool> NameSorter::Advance(Run& run) {
  if (run.buf_pos == run.buf_len && run.pos == run.end) return false;
  SMS_RETURN_IF_ERROR(Need(run, kMaxVarint));
  const char* p = run.buf.data() + run.buf_pos;
  const char* end = run.buf.data() + run.buf_len;
  uint64_t size = 0;
  if (!GetVarint(p, end, size) || size > (uint64_t{1} << 20)) {
    return Fail(SpillError(DataLoss("the temp file is corrupted")));
  }
  const auto header = static_cast<size_t>(p - (run.buf.data() + run.buf_pos));
  SMS_RETURN_IF_ERROR(
      Need(run, header + static_cast<size_t>(size) + 1 + kMaxVarint));
  p = run.buf.data() + run.buf_pos + header;
  end = run.buf.data() + run.buf_len;
  if (static_cast<uint64_t>(end - p) < size + 1) {
    return Fail(SpillError(DataLoss("the temp file is corrupted")));
  }
  run.current.name.assign(p, static_cast<size_t>(size));
  p += size;
  run.current.type_hint = static_cast<FileType>(*p++);
  if (!GetVarint(p, end, run.current.ino)) {
    return Fail(SpillError(DataLoss("the temp file is corrupted")));
  }
  run.buf_pos = static_cast<size_t>(p - run.buf.data());
  return true;
}

}  // namespace sms::core
