#include "core/manifest.h"

#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>

namespace sms::core {
namespace {

constexpr char kMagic[8] = {'S', 'M', 'S', 'M', 'A', 'N', 'I', 'F'};
constexpr size_t kBufferSize = 256 << 10;
constexpr uint64_t kMaxString = 1 << 20;  // sanity bound on any string

class Writer {
 public:
  explicit Writer(int fd) : fd_(fd), state_(XXH64_createState()) {
    XXH64_reset(state_, 0);
    buf_.reserve(kBufferSize + 8192);
  }
  ~Writer() { XXH64_freeState(state_); }

  void U8(uint8_t v) { buf_.push_back(static_cast<char>(v)); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      buf_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    buf_.push_back(static_cast<char>(v));
  }
  void String(std::string_view s) {
    Varint(s.size());
    buf_.append(s);
  }
  void Raw(const void* p, size_t n) {
    buf_.append(static_cast<const char*>(p), n);
  }
  Status MaybeFlush() {
    return buf_.size() >= kBufferSize ? Flush(true) : Ok();
  }
  // Writes the buffer out; `hash` feeds it to the checksum first.
  Status Flush(bool hash) {
    if (hash) XXH64_update(state_, buf_.data(), buf_.size());
    size_t done = 0;
    while (done < buf_.size()) {
      ssize_t n = write(fd_, buf_.data() + done, buf_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(ErrnoError("writing manifest", errno));
      done += static_cast<size_t>(n);
    }
    buf_.clear();
    return Ok();
  }
  uint64_t Digest() { return XXH64_digest(state_); }

 private:
  const int fd_;
  XXH64_state_t* state_;
  std::string buf_;
};

size_t SharedPrefix(const std::string& a, const std::string& b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

}  // namespace

Status WriteManifest(EntryStream& stream, const ManifestParams& params,
                     int fd) {
  Writer w(fd);
  w.Raw(kMagic, sizeof(kMagic));
  w.U8(kManifestVersion);
  w.U8(static_cast<uint8_t>(params.mode));
  w.U8(static_cast<uint8_t>(params.hash));
  w.Varint(params.chunk_size);
  w.Varint(params.dirs.size());
  for (const auto& d : params.dirs) w.String(d);

  uint64_t entries = 0;
  std::string previous;
  Status failure = Ok();  // holds a value while the stream is healthy
  for (;;) {
    auto next = stream.Next();
    if (!next) {
      failure = Fail(next.error());
      w.U8('F');
      w.String(next.error().message);
      break;
    }
    const Item* item = *next;
    if (item == nullptr) break;
    switch (item->kind) {
      case ItemKind::kSectionStart:
        w.U8('S');
        w.String(item->section.dir_check);
        w.U8(static_cast<uint8_t>(item->section.state));
        w.String(item->section.error);
        previous.clear();
        break;
      case ItemKind::kSectionEnd:
        w.U8('X');
        break;
      case ItemKind::kEntry: {
        const Entry& e = item->entry;
        const size_t shared = SharedPrefix(previous, e.path);
        w.U8('E');
        w.Varint(shared);
        w.String(std::string_view(e.path).substr(shared));
        w.U8(static_cast<uint8_t>(e.type));
        w.U8(static_cast<uint8_t>(e.state));
        w.Varint(e.size);
        w.Varint(e.mode);
        w.Varint(e.uid);
        w.Varint(e.gid);
        w.Varint((static_cast<uint64_t>(e.mtime_ns) << 1) ^
                 static_cast<uint64_t>(e.mtime_ns >> 63));
        if (e.type == FileType::kCharDevice ||
            e.type == FileType::kBlockDevice) {
          w.Varint(e.rdev);
        }
        if (e.type == FileType::kSymlink) w.String(e.link_target);
        w.U8(e.digest.size);
        w.Raw(e.digest.bytes.data(), e.digest.size);
        if (e.digest.size > 0) {
          w.U8(static_cast<uint8_t>((e.cached ? 1 : 0) | (e.corrupt ? 2 : 0)));
        }
        if (e.state != EntryState::kOk) w.String(e.error);
        previous = e.path;
        ++entries;
        break;
      }
    }
    SMS_RETURN_IF_ERROR(w.MaybeFlush());
  }
  if (failure) {
    w.U8('T');
    w.Varint(entries);
  }
  SMS_RETURN_IF_ERROR(w.Flush(true));
  if (failure) {
    uint64_t digest = w.Digest();
    uint8_t le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<uint8_t>(digest >> (8 * i));
    w.Raw(le, 8);
    SMS_RETURN_IF_ERROR(w.Flush(false));
  }
  return failure;
}

struct ManifestReader::State {
  XXH64_state_t* xxh = XXH64_createState();
  State() { XXH64_reset(xxh, 0); }
  ~State() { XXH64_freeState(xxh); }
};

ManifestReader::ManifestReader(int fd, ManifestParams expected)
    : fd_(fd),
      expected_(std::move(expected)),
      buf_(kBufferSize),
      state_(std::make_unique<State>()) {}

ManifestReader::~ManifestReader() = default;

void ManifestReader::HashConsumed() {
  if (pos_ > hashed_) {
    XXH64_update(state_->xxh, buf_.data() + hashed_, pos_ - hashed_);
  }
  hashed_ = pos_;
}

Status ManifestReader::Fill() {
  HashConsumed();
  pos_ = end_ = hashed_ = 0;
  for (;;) {
    ssize_t n = read(fd_, buf_.data(), buf_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(ErrnoError("reading manifest", errno));
    if (n == 0) {
      return Fail(DataLoss(
          "manifest stream truncated (the remote side stopped before its "
          "trailer)"));
    }
    end_ = static_cast<size_t>(n);
    return Ok();
  }
}

Result<uint8_t> ManifestReader::Byte() {
  if (pos_ == end_) SMS_RETURN_IF_ERROR(Fill());
  return buf_[pos_++];
}

Result<uint64_t> ManifestReader::Varint() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    SMS_ASSIGN_OR_RETURN(uint8_t b, Byte());
    v |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) return v;
  }
  return Fail(DataLoss("manifest stream corrupted: bad varint"));
}

Status ManifestReader::Bytes(std::string& out, size_t n) {
  out.clear();
  while (n > 0) {
    if (pos_ == end_) SMS_RETURN_IF_ERROR(Fill());
    const size_t take = std::min(n, end_ - pos_);
    out.append(reinterpret_cast<const char*>(buf_.data() + pos_), take);
    pos_ += take;
    n -= take;
  }
  return Ok();
}

Result<std::string> ManifestReader::String() {
  SMS_ASSIGN_OR_RETURN(uint64_t n, Varint());
  if (n > kMaxString) {
    return Fail(DataLoss("manifest stream corrupted: string too long"));
  }
  std::string s;
  SMS_RETURN_IF_ERROR(Bytes(s, static_cast<size_t>(n)));
  return s;
}

Status ManifestReader::ReadHeader() {
  std::string magic;
  SMS_RETURN_IF_ERROR(Bytes(magic, sizeof(kMagic)));
  if (magic != std::string_view(kMagic, sizeof(kMagic))) {
    return Fail(
        DataLoss("not a manifest stream (is the remote agent an sms-agent?)"));
  }
  SMS_ASSIGN_OR_RETURN(uint8_t version, Byte());
  if (version != kManifestVersion) {
    return Fail(FailedPrecondition(
        "remote agent speaks manifest version " + std::to_string(version) +
        ", this agent version " + std::to_string(kManifestVersion)));
  }
  SMS_ASSIGN_OR_RETURN(uint8_t mode, Byte());
  SMS_ASSIGN_OR_RETURN(uint8_t hash, Byte());
  SMS_ASSIGN_OR_RETURN(uint64_t chunk, Varint());
  SMS_ASSIGN_OR_RETURN(uint64_t ndirs, Varint());
  std::vector<std::string> dirs;
  for (uint64_t i = 0; i < ndirs && i < 100000; ++i) {
    SMS_ASSIGN_OR_RETURN(std::string d, String());
    dirs.push_back(std::move(d));
  }
  if (mode != static_cast<uint8_t>(expected_.mode) ||
      hash != static_cast<uint8_t>(expected_.hash) ||
      chunk != expected_.chunk_size || dirs != expected_.dirs) {
    return Fail(FailedPrecondition(
        "remote manifest parameters differ from the request (mode, hash, "
        "chunk size or directories)"));
  }
  header_read_ = true;
  return Ok();
}

Status ManifestReader::ReadEntry() {
  Entry& e = item_.entry;
  SMS_ASSIGN_OR_RETURN(uint64_t shared, Varint());
  SMS_ASSIGN_OR_RETURN(std::string suffix, String());
  if (shared > previous_path_.size()) {
    return Fail(DataLoss("manifest stream corrupted: bad path prefix"));
  }
  e.path.assign(previous_path_, 0, static_cast<size_t>(shared));
  e.path += suffix;
  SMS_ASSIGN_OR_RETURN(uint8_t type, Byte());
  SMS_ASSIGN_OR_RETURN(uint8_t state, Byte());
  if (type < 1 || type > 8 || state > 2) {
    return Fail(DataLoss("manifest stream corrupted: bad entry type"));
  }
  e.type = static_cast<FileType>(type);
  e.state = static_cast<EntryState>(state);
  SMS_ASSIGN_OR_RETURN(e.size, Varint());
  SMS_ASSIGN_OR_RETURN(uint64_t mode, Varint());
  SMS_ASSIGN_OR_RETURN(uint64_t uid, Varint());
  SMS_ASSIGN_OR_RETURN(uint64_t gid, Varint());
  SMS_ASSIGN_OR_RETURN(uint64_t zz, Varint());
  e.mode = static_cast<uint32_t>(mode);
  e.uid = static_cast<uint32_t>(uid);
  e.gid = static_cast<uint32_t>(gid);
  e.mtime_ns = static_cast<int64_t>((zz >> 1) ^ (~(zz & 1) + 1));
  e.rdev = 0;
  if (e.type == FileType::kCharDevice || e.type == FileType::kBlockDevice) {
    SMS_ASSIGN_OR_RETURN(e.rdev, Varint());
  }
  e.link_target.clear();
  if (e.type == FileType::kSymlink) {
    SMS_ASSIGN_OR_RETURN(e.link_target, String());
  }
  SMS_ASSIGN_OR_RETURN(uint8_t dlen, Byte());
  if (dlen > 32) return Fail(DataLoss("manifest stream corrupted: digest"));
  std::string digest;
  SMS_RETURN_IF_ERROR(Bytes(digest, dlen));
  e.digest.size = dlen;
  std::memcpy(e.digest.bytes.data(), digest.data(), dlen);
  e.cached = false;
  e.corrupt = false;
  if (dlen > 0) {
    SMS_ASSIGN_OR_RETURN(uint8_t flags, Byte());
    if (flags > 3) return Fail(DataLoss("manifest stream corrupted: flags"));
    e.cached = (flags & 1) != 0;
    e.corrupt = (flags & 2) != 0;
  }
  e.error.clear();
  if (e.state != EntryState::kOk) {
    SMS_ASSIGN_OR_RETURN(e.error, String());
  }
  previous_path_ = e.path;
  ++entries_;
  return Ok();
}

Result<const Item*> ManifestReader::Next() {
  if (finished_) return nullptr;
  if (!header_read_) SMS_RETURN_IF_ERROR(ReadHeader());
  SMS_ASSIGN_OR_RETURN(uint8_t tag, Byte());
  switch (tag) {
    case 'S': {
      item_.kind = ItemKind::kSectionStart;
      SMS_ASSIGN_OR_RETURN(item_.section.dir_check, String());
      SMS_ASSIGN_OR_RETURN(uint8_t state, Byte());
      if (state > 2) return Fail(DataLoss("manifest stream corrupted"));
      item_.section.state = static_cast<RootState>(state);
      SMS_ASSIGN_OR_RETURN(item_.section.error, String());
      previous_path_.clear();
      return &item_;
    }
    case 'X':
      item_.kind = ItemKind::kSectionEnd;
      return &item_;
    case 'E':
      item_.kind = ItemKind::kEntry;
      SMS_RETURN_IF_ERROR(ReadEntry());
      return &item_;
    case 'F': {
      SMS_ASSIGN_OR_RETURN(std::string message, String());
      return Fail(Unavailable("remote side failed: " + message));
    }
    case 'T': {
      SMS_ASSIGN_OR_RETURN(uint64_t count, Varint());
      HashConsumed();
      const uint64_t want = XXH64_digest(state_->xxh);
      std::string raw;
      SMS_RETURN_IF_ERROR(Bytes(raw, 8));
      uint64_t got = 0;
      for (int i = 7; i >= 0; --i) {
        got = (got << 8) | static_cast<uint8_t>(raw[static_cast<size_t>(i)]);
      }
      if (got != want || count != entries_) {
        return Fail(DataLoss("manifest stream corrupted: checksum mismatch"));
      }
      finished_ = true;
      return nullptr;
    }
    default:
      return Fail(DataLoss("manifest stream corrupted: unknown record"));
  }
}

}  // namespace sms::core
