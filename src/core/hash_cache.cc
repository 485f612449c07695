#include "core/hash_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/path_order.h"

namespace sms::core {
namespace {

constexpr char kMagic[8] = {'S', 'M', 'S', 'H', 'C', 'A', 'C', 'H'};
constexpr size_t kBufferSize = 256 << 10;
constexpr uint64_t kMaxString = 1 << 20;

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t zz) {
  return static_cast<int64_t>((zz >> 1) ^ (~(zz & 1) + 1));
}

// Writes `v` at `p` (at most kMaxVarint bytes); returns the end.
constexpr size_t kMaxVarint = 10;
char* EncodeVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

void PutVarint(std::string& out, uint64_t v) {
  char bytes[kMaxVarint];
  out.append(bytes, EncodeVarint(bytes, v));
}

void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

Status WriteAll(int fd, const char* data, size_t size,
                const std::string& what) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(ErrnoError(what, errno));
    done += static_cast<size_t>(n);
  }
  return Ok();
}

}  // namespace

// ---- decisions ------------------------------------------------------------

bool CacheKeyMatches(const CachedDigest& r, const StatInfo& st,
                     const FsTraits& traits) {
  if (st.type != FileType::kRegular || r.digest.empty()) return false;
  if (r.size != st.size || r.mtime_ns != st.mtime_ns ||
      r.ctime_ns != st.ctime_ns) {
    return false;
  }
  return !traits.stable_inodes || (r.dev == st.dev && r.ino == st.ino);
}

int64_t RacyWindowNs(int64_t mtime_ns, int64_t ctime_ns, const FsTraits& traits,
                     const CachePolicy& policy) {
  int64_t g = std::max(traits.granularity_ns, policy.granularity_ns);
  // Timestamps that are all whole seconds come from a file system that
  // stores no fraction (ext4 with 128-byte inodes, FAT's even seconds):
  // assume the coarser 2 s. Otherwise the common trailing decimal zeros
  // bound the granularity from below (1 µs: both end in 000).
  constexpr int64_t kSecond = 1'000'000'000;
  if (mtime_ns % kSecond == 0 && ctime_ns % kSecond == 0) {
    g = std::max<int64_t>(g, 2 * kSecond);
  } else {
    int64_t p = 1;
    while (p < kSecond / 10 && mtime_ns % (p * 10) == 0 &&
           ctime_ns % (p * 10) == 0) {
      p *= 10;
    }
    g = std::max(g, p);
  }
  int64_t window = g + kTimestampSlackNs;
  if (!traits.stable_inodes) window += kNetworkClockSlackNs;
  return window;
}

CacheUse DecideCacheUse(const CacheRecord& r, const StatInfo& st,
                        const FsTraits& traits, const CachePolicy& policy) {
  return DecideCacheUse(r.path, r, st, traits, policy);
}

CacheUse DecideCacheUse(std::string_view path, const CachedDigest& r,
                        const StatInfo& st, const FsTraits& traits,
                        const CachePolicy& policy) {
  if (!CacheKeyMatches(r, st, traits)) return CacheUse::kMiss;
  // Racy: the file may have been written again within the granule of its
  // timestamps after it was read.
  const int64_t newest = std::max(r.mtime_ns, r.ctime_ns);
  if (newest >
      r.hashed_at_ns - RacyWindowNs(r.mtime_ns, r.ctime_ns, traits, policy)) {
    return CacheUse::kMiss;
  }
  if (policy.max_age_ns > 0 &&
      policy.now_ns - r.hashed_at_ns > policy.max_age_ns)
    return CacheUse::kVerify;
  if (policy.rehash_fraction >= 1) return CacheUse::kVerify;
  if (policy.rehash_fraction > 0) {
    // A stateless pick, the same from any worker thread: the hash of the
    // path under this check's seed (one-shot: the same value as the
    // streaming form, without a state allocated per file).
    const uint64_t h = XXH64(path.data(), path.size(), policy.seed);
    const double bound = policy.rehash_fraction * 18446744073709551616.0;
    if (static_cast<double>(h) < bound) return CacheUse::kVerify;
  }
  return CacheUse::kReuse;
}

Result<int64_t> MeasureTimestampGranularity(const std::string& dir) {
  std::string temp = dir + "/.sms-granularity.XXXXXX";
  const int fd = mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) {
    return Fail(ErrnoError("measuring timestamps in " + dir, errno));
  }
  // An odd second and every decimal digit of the nanoseconds: what comes
  // back shows what the file system keeps.
  constexpr int64_t kSec = 1700000001;
  constexpr int64_t kNsec = 123456789;
  struct timespec times[2] = {{kSec, kNsec}, {kSec, kNsec}};
  struct stat st;
  const bool ok = futimens(fd, times) == 0 && fstat(fd, &st) == 0;
  const int err = errno;
  close(fd);
  unlink(temp.c_str());
  if (!ok) return Fail(ErrnoError("measuring timestamps in " + dir, err));
  const int64_t sec = st.st_mtim.tv_sec;
  const int64_t nsec = st.st_mtim.tv_nsec;
  if (nsec == 0) return sec == kSec ? 1'000'000'000 : 2'000'000'000;
  for (int64_t g = 1; g < 1'000'000'000; g *= 10) {
    if (nsec == kNsec / g * g) return g;
  }
  return 1'000'000'000;
}

std::string CanonicalRoot(const std::string& root) {
  std::error_code ec;
  auto canonical = std::filesystem::canonical(root.empty() ? "/" : root, ec);
  return ec ? root : canonical.string();
}

std::string CacheFilePath(const std::string& dir, std::string_view role,
                          const std::string& root,
                          const std::vector<std::string>& dirs) {
  XXH64_state_t* s = XXH64_createState();
  XXH64_reset(s, 0);
  XXH64_update(s, root.data(), root.size());
  for (const auto& d : dirs) {
    XXH64_update(s, "\0", 1);
    XXH64_update(s, d.data(), d.size());
  }
  const uint64_t h = XXH64_digest(s);
  XXH64_freeState(s);
  char hex[17];
  snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(h));
  return dir + "/" + std::string(role) + "-" + hex + ".smscache";
}

// ---- reader ---------------------------------------------------------------

// Buffered reads of the cache file from an offset; the first failure sticks.
class CacheReader::Source {
 public:
  Source(int fd, uint64_t limit) : fd_(fd), limit_(limit), buf_(kBufferSize) {}
  ~Source() { close(fd_); }

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void Fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
  }

  uint8_t Byte() {
    if (pos_ == end_ && !Fill()) return 0;
    return buf_[pos_++];
  }
  uint64_t Varint() {
    // Fast path: the whole varint is in the buffer.
    if (end_ - pos_ >= kMaxVarint) {
      uint64_t v = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        const uint8_t b = buf_[pos_++];
        v |= uint64_t{b & 0x7fu} << shift;
        if ((b & 0x80) == 0) return v;
      }
      Fail("bad varint");
      return 0;
    }
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && ok(); shift += 7) {
      const uint8_t b = Byte();
      v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return v;
    }
    Fail("bad varint");
    return 0;
  }
  void Bytes(std::string& out, size_t n) {
    out.clear();
    AppendBytes(out, n);
  }
  // Appends the next `n` bytes to `out`.
  void AppendBytes(std::string& out, size_t n) {
    while (n > 0 && ok()) {
      if (pos_ == end_ && !Fill()) return;
      const size_t take = std::min(n, end_ - pos_);
      out.append(reinterpret_cast<const char*>(buf_.data() + pos_), take);
      pos_ += take;
      n -= take;
    }
  }
  // Copies the next `n` bytes to `out`.
  void Copy(uint8_t* out, size_t n) {
    while (n > 0 && ok()) {
      if (pos_ == end_ && !Fill()) return;
      const size_t take = std::min(n, end_ - pos_);
      std::memcpy(out, buf_.data() + pos_, take);
      pos_ += take;
      out += take;
      n -= take;
    }
  }
  void String(std::string& out) {
    const uint64_t n = Varint();
    if (n > kMaxString) return Fail("string too long");
    Bytes(out, static_cast<size_t>(n));
  }

 private:
  bool Fill() {
    if (!ok()) return false;
    if (offset_ >= limit_) {
      Fail("ends early");
      return false;
    }
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(buf_.size(), limit_ - offset_));
    for (;;) {
      ssize_t n = pread(fd_, buf_.data(), want, static_cast<off_t>(offset_));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        Fail(n < 0 ? ErrnoText(errno) : "ends early");
        return false;
      }
      offset_ += static_cast<uint64_t>(n);
      pos_ = 0;
      end_ = static_cast<size_t>(n);
      return true;
    }
  }

  const int fd_;
  const uint64_t limit_;  // the checksum's 8 bytes are not records
  std::vector<uint8_t> buf_;
  uint64_t offset_ = 0;
  size_t pos_ = 0;
  size_t end_ = 0;
  std::string error_;
};

CacheReader::CacheReader(int fd, uint64_t size)
    : in_(std::make_unique<Source>(fd, size - 8)) {}

CacheReader::~CacheReader() = default;

Result<std::unique_ptr<CacheReader>> CacheReader::Open(
    const std::string& path, const CacheParams& expected) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Error e = ErrnoError("hash cache " + path, errno);
    if (errno == ENOENT) e.code = ErrorCode::kNotFound;
    return Fail(std::move(e));
  }
  auto bad = [&](const std::string& why) {
    close(fd);
    return Fail(DataLoss("hash cache " + path + " " + why +
                         ": not used (every file is read)"));
  };
  struct stat st;
  if (fstat(fd, &st) != 0) return bad("cannot be read");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < sizeof(kMagic) + 8) return bad("is truncated");
  // The whole file is checked before any record is trusted.
  {
    XXH64_state_t* x = XXH64_createState();
    XXH64_reset(x, 0);
    std::vector<uint8_t> buf(kBufferSize);
    uint64_t off = 0;
    bool read_ok = true;
    while (off < size - 8) {
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(buf.size(), size - 8 - off));
      ssize_t n = pread(fd, buf.data(), want, static_cast<off_t>(off));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        read_ok = false;
        break;
      }
      XXH64_update(x, buf.data(), static_cast<size_t>(n));
      off += static_cast<uint64_t>(n);
    }
    const uint64_t want = XXH64_digest(x);
    XXH64_freeState(x);
    uint8_t le[8];
    if (!read_ok || pread(fd, le, 8, static_cast<off_t>(size - 8)) != 8) {
      return bad("cannot be read");
    }
    uint64_t got = 0;
    for (int i = 7; i >= 0; --i) got = (got << 8) | le[i];
    std::string magic(8, '\0');
    if (pread(fd, magic.data(), 8, 0) != 8 ||
        magic != std::string_view(kMagic, sizeof(kMagic))) {
      return bad("is not a hash cache of sms-agent");
    }
    if (got != want) return bad("is truncated or corrupted (checksum)");
  }
  std::unique_ptr<CacheReader> r(new CacheReader(fd, size));
  Source& in = *r->in_;
  std::string magic;
  in.Bytes(magic, sizeof(kMagic));
  const uint8_t version = in.Byte();
  const uint8_t hash = in.Byte();
  const uint64_t chunk = in.Varint();
  std::string root;
  in.String(root);
  const uint64_t ndirs = in.Varint();
  std::vector<std::string> dirs;
  for (uint64_t i = 0; i < ndirs && i < 100000 && in.ok(); ++i) {
    std::string d;
    in.String(d);
    dirs.push_back(std::move(d));
  }
  auto fail = [&](const std::string& why) {
    return Fail(DataLoss("hash cache " + path + " " + why +
                         ": not used (every file is read)"));
  };
  if (!in.ok()) return fail("is corrupted (" + in.error() + ")");
  if (version != kHashCacheVersion) {
    return fail("has version " + std::to_string(version) + ", this agent " +
                std::to_string(kHashCacheVersion));
  }
  if (hash != static_cast<uint8_t>(expected.hash)) {
    auto algo = static_cast<HashAlgorithm>(hash);
    return fail("was written for " +
                std::string(hash == 1 || hash == 2 ? HashAlgorithmName(algo)
                                                   : "another algorithm") +
                ", this check uses " +
                std::string(HashAlgorithmName(expected.hash)));
  }
  if (chunk != expected.chunk_size) {
    return fail("was written for another chunk size");
  }
  if (root != expected.root || dirs != expected.dirs) {
    return fail("belongs to another tree (" + root + ")");
  }
  r->exhausted_ = true;
  r->Advance();
  return r;
}

void CacheReader::Advance() {
  in_section_ = false;
  if (!in_->ok() || at_end_) return;
  const uint8_t tag = in_->Byte();
  if (!in_->ok()) return;
  switch (tag) {
    case 'S':
      in_->String(pending_section_);
      has_pending_section_ = true;
      record_.path.clear();  // the section's first path shares nothing
      return;
    case 'T':
      at_end_ = true;
      return;
    case 'E': {
      // Decoded in place: record_.path still holds the previous path, of
      // which the record keeps `shared` bytes; nothing is allocated once
      // the path's capacity has grown to the longest path.
      const uint64_t shared = in_->Varint();
      const uint64_t suffix_size = in_->Varint();
      if (shared > record_.path.size()) {
        in_->Fail("bad path prefix");
        return;
      }
      if (suffix_size > kMaxString) {
        in_->Fail("string too long");
        return;
      }
      record_.path.resize(static_cast<size_t>(shared));
      in_->AppendBytes(record_.path, static_cast<size_t>(suffix_size));
      record_.dev = in_->Varint();
      record_.ino = in_->Varint();
      record_.size = in_->Varint();
      record_.mtime_ns = UnZigZag(in_->Varint());
      record_.ctime_ns = UnZigZag(in_->Varint());
      record_.hashed_at_ns = UnZigZag(in_->Varint());
      const uint8_t dlen = in_->Byte();
      if (dlen > 32) {
        in_->Fail("bad digest");
        return;
      }
      record_.digest.size = dlen;
      in_->Copy(record_.digest.bytes.data(), dlen);
      in_section_ = in_->ok();
      return;
    }
    default:
      in_->Fail("unknown record");
      return;
  }
}

void CacheReader::StartSection(const std::string& dir_check) {
  exhausted_ = true;
  // Skip what is left of earlier sections, then sections not asked for.
  while (in_->ok() && !at_end_) {
    if (has_pending_section_) {
      has_pending_section_ = false;
      if (pending_section_ == dir_check) {
        exhausted_ = false;
        Advance();
        return;
      }
    }
    Advance();
  }
}

const CacheRecord* CacheReader::Find(std::string_view path) {
  while (!exhausted_ && in_section_) {
    const int c = ComparePaths(record_.path, path);
    if (c == 0) return &record_;
    if (c > 0) return nullptr;
    Advance();
  }
  return nullptr;
}

// ---- writer ---------------------------------------------------------------

struct CacheWriter::Checksum {
  XXH64_state_t* state = XXH64_createState();
  Checksum() { XXH64_reset(state, 0); }
  ~Checksum() { XXH64_freeState(state); }
};

CacheWriter::CacheWriter(std::string path, std::string temp, int fd)
    : path_(std::move(path)),
      temp_(std::move(temp)),
      fd_(fd),
      checksum_(std::make_unique<Checksum>()) {
  buf_.reserve(kBufferSize + 8192);
}

CacheWriter::~CacheWriter() {
  if (fd_ >= 0) close(fd_);
  if (!committed_) unlink(temp_.c_str());
}

Result<std::unique_ptr<CacheWriter>> CacheWriter::Create(
    const std::string& path, const CacheParams& params) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Fail(Internal("hash cache directory " + dir + ": " + ec.message()));
  }
  std::string temp = path + ".tmp.XXXXXX";
  const int fd = mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return Fail(ErrnoError("hash cache " + temp, errno));
  fchmod(fd, 0600);
  std::unique_ptr<CacheWriter> w(new CacheWriter(path, temp, fd));
  w->buf_.append(kMagic, sizeof(kMagic));
  w->buf_.push_back(static_cast<char>(kHashCacheVersion));
  w->buf_.push_back(static_cast<char>(params.hash));
  PutVarint(w->buf_, params.chunk_size);
  PutString(w->buf_, params.root);
  PutVarint(w->buf_, params.dirs.size());
  for (const auto& d : params.dirs) PutString(w->buf_, d);
  return w;
}

Status CacheWriter::Flush(bool hash) {
  if (hash) XXH64_update(checksum_->state, buf_.data(), buf_.size());
  SMS_RETURN_IF_ERROR(
      WriteAll(fd_, buf_.data(), buf_.size(), "writing hash cache " + temp_));
  buf_.clear();
  return Ok();
}

Status CacheWriter::StartSection(const std::string& dir_check) {
  buf_.push_back('S');
  PutString(buf_, dir_check);
  previous_.clear();
  return buf_.size() >= kBufferSize ? Flush(true) : Ok();
}

Status CacheWriter::Add(const Entry& e) {
  const size_t n = std::min(previous_.size(), e.path.size());
  const size_t shared = static_cast<size_t>(
      std::mismatch(previous_.begin(), previous_.begin() + n, e.path.begin())
          .first -
      previous_.begin());
  const std::string_view suffix = std::string_view(e.path).substr(shared);
  // One record is three appends: the head, the new part of the path and
  // the rest (a byte-wise push_back per field cost a re-check of 1 M tiny
  // files ~6 % of its CPU, docs/benchmarks.md).
  char head[1 + 2 * kMaxVarint];
  char* p = head;
  *p++ = 'E';
  p = EncodeVarint(p, shared);
  p = EncodeVarint(p, suffix.size());
  buf_.append(head, p);
  buf_.append(suffix);
  char tail[6 * kMaxVarint + 1 + sizeof(e.digest.bytes)];
  p = tail;
  p = EncodeVarint(p, e.dev);
  p = EncodeVarint(p, e.ino);
  p = EncodeVarint(p, e.size);
  p = EncodeVarint(p, ZigZag(e.mtime_ns));
  p = EncodeVarint(p, ZigZag(e.ctime_ns));
  p = EncodeVarint(p, ZigZag(e.hashed_at_ns));
  *p++ = static_cast<char>(e.digest.size);
  p = std::copy_n(reinterpret_cast<const char*>(e.digest.bytes.data()),
                  e.digest.size, p);
  buf_.append(tail, p);
  previous_.assign(e.path);
  ++entries_;
  return buf_.size() >= kBufferSize ? Flush(true) : Ok();
}

Status CacheWriter::Commit() {
  buf_.push_back('T');
  PutVarint(buf_, entries_);
  SMS_RETURN_IF_ERROR(Flush(true));
  const uint64_t digest = XXH64_digest(checksum_->state);
  char le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<char>(digest >> (8 * i));
  SMS_RETURN_IF_ERROR(WriteAll(fd_, le, 8, "writing hash cache " + temp_));
  if (fsync(fd_) != 0) return Fail(ErrnoError("fsync " + temp_, errno));
  close(fd_);
  fd_ = -1;
  if (rename(temp_.c_str(), path_.c_str()) != 0) {
    return Fail(ErrnoError("rename " + temp_, errno));
  }
  committed_ = true;
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return Ok();
}

}  // namespace sms::core
