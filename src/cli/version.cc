#include "cli/version.h"

#include <cctype>
#include <string>

namespace sms::cli {
namespace {

// A version: digits and dots, starting and ending with a digit.
bool IsVersion(std::string_view word) {
  if (word.empty() || !isdigit(static_cast<unsigned char>(word.front())) ||
      !isdigit(static_cast<unsigned char>(word.back()))) {
    return false;
  }
  for (char c : word) {
    if (c != '.' && !isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string_view Version() { return kVersion; }

std::string ParseVersionLine(std::string_view text) {
  // The first line, its first or second word.
  text = text.substr(0, text.find('\n'));
  size_t pos = 0;
  for (int word = 0; word < 2; ++word) {
    while (pos < text.size() && isspace(static_cast<unsigned char>(text[pos])))
      ++pos;
    const size_t end = text.find_first_of(" \t\r", pos);
    const std::string_view w =
        text.substr(pos, end == std::string_view::npos ? end : end - pos);
    if (IsVersion(w)) return std::string(w);
    if (end == std::string_view::npos) break;
    pos = end;
  }
  return "";
}

}  // namespace sms::cli
