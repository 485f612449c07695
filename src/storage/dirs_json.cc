#include "storage/dirs_json.h"

#include <array>
#include <charconv>
#include <cstdint>

#include "core/error.h"
#include "core/json_writer.h"

namespace sms::storage {
namespace {

// The counters of kDirColumns after dir_check, in order.
constexpr int kCounters = 13;

// Pointers to the counters of `d` (a DirResult, const or not), in order.
template <typename D>
auto Counters(D& d) -> std::array<decltype(&d.num_total_files), kCounters> {
  return {&d.num_total_files,
          &d.num_different_files,
          &d.num_target_miss_files,
          &d.num_target_more_files,
          &d.num_changed_files,
          &d.num_error_files,
          &d.num_metadata_different_files,
          &d.num_bytes_verified,
          &d.num_corrupt_files,
          &d.num_cached_files,
          &d.num_bytes_read,
          &d.num_target_cached_files,
          &d.num_target_bytes_read};
}

// A cursor over the text; each step says what it expected where.
class Reader {
 public:
  explicit Reader(std::string_view text) : s_(text) {}

  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' ||
                              s_[i_] == '\r' || s_[i_] == '\t'))
      ++i_;
  }
  // Skips whitespace, then takes `c` if it is next.
  bool Take(char c) {
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool AtEnd() {
    SkipSpace();
    return i_ == s_.size();
  }
  core::Status Expect(char c) {
    if (Take(c)) return core::Status();
    return Bad(std::string("'") + c + "' expected");
  }
  core::Status Int(int64_t* out) {
    SkipSpace();
    auto [end, ec] =
        std::from_chars(s_.data() + i_, s_.data() + s_.size(), *out);
    if (ec != std::errc()) return Bad("an integer expected");
    i_ = static_cast<size_t>(end - s_.data());
    return core::Status();
  }
  core::Status String(std::string* out) {
    SMS_RETURN_IF_ERROR(Expect('"'));
    while (true) {
      if (i_ >= s_.size()) return Bad("unterminated string");
      const char c = s_[i_++];
      if (c == '"') return core::Status();
      if (c != '\\') {
        *out += c;
        continue;
      }
      if (i_ >= s_.size()) return Bad("unterminated escape");
      switch (s_[i_++]) {
        case '"':
          *out += '"';
          break;
        case '\\':
          *out += '\\';
          break;
        case '/':
          *out += '/';
          break;
        case 'b':
          *out += '\b';
          break;
        case 'f':
          *out += '\f';
          break;
        case 'n':
          *out += '\n';
          break;
        case 'r':
          *out += '\r';
          break;
        case 't':
          *out += '\t';
          break;
        case 'u': {
          uint32_t cp = 0;
          SMS_RETURN_IF_ERROR(Hex4(&cp));
          if (cp >= 0xD800 && cp <= 0xDBFF && i_ + 1 < s_.size() &&
              s_[i_] == '\\' && s_[i_ + 1] == 'u') {
            i_ += 2;
            uint32_t low = 0;
            SMS_RETURN_IF_ERROR(Hex4(&low));
            if (low < 0xDC00 || low > 0xDFFF) return Bad("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(out, cp);
          break;
        }
        default:
          return Bad("unknown escape");
      }
    }
  }
  tl::unexpected<core::Error> Bad(const std::string& what) const {
    return core::Fail(core::DataLoss("stored directories (runs.dirs): " + what +
                                     " at offset " + std::to_string(i_)));
  }

 private:
  core::Status Hex4(uint32_t* out) {
    if (i_ + 4 > s_.size()) return Bad("short \\u escape");
    auto [end, ec] =
        std::from_chars(s_.data() + i_, s_.data() + i_ + 4, *out, 16);
    if (ec != std::errc() || end != s_.data() + i_ + 4)
      return Bad("bad \\u escape");
    i_ += 4;
    return core::Status();
  }
  static void AppendUtf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xC0 | (cp >> 6));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *out += static_cast<char>(0xE0 | (cp >> 12));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *out += static_cast<char>(0xF0 | (cp >> 18));
      *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

std::string EncodeDirs(const std::vector<DirResult>& dirs) {
  std::string out;
  out.reserve(dirs.size() * 64 + 2);
  out += '[';
  char digits[24];
  for (size_t k = 0; k < dirs.size(); ++k) {
    const DirResult& d = dirs[k];
    if (k > 0) out += ',';
    out += '[';
    core::AppendJsonString(out, d.dir_check);
    for (const int64_t* v : Counters(d)) {
      out += ',';
      out.append(digits, std::to_chars(digits, digits + sizeof digits, *v).ptr);
    }
    out += ']';
  }
  out += ']';
  return out;
}

core::Result<std::vector<DirResult>> DecodeDirs(std::string_view text) {
  Reader in(text);
  std::vector<DirResult> dirs;
  SMS_RETURN_IF_ERROR(in.Expect('['));
  if (!in.Take(']')) {
    do {
      DirResult& d = dirs.emplace_back();
      SMS_RETURN_IF_ERROR(in.Expect('['));
      SMS_RETURN_IF_ERROR(in.String(&d.dir_check));
      for (int64_t* v : Counters(d)) {
        SMS_RETURN_IF_ERROR(in.Expect(','));
        SMS_RETURN_IF_ERROR(in.Int(v));
      }
      SMS_RETURN_IF_ERROR(in.Expect(']'));
    } while (in.Take(','));
    SMS_RETURN_IF_ERROR(in.Expect(']'));
  }
  if (!in.AtEnd()) return in.Bad("text after the array");
  return dirs;
}

}  // namespace sms::storage
