// Strings: the ways our inputs are split, trimmed and case-folded.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sms::core {

// Every part of `s` between separators, empty ones included:
// Split("a,,b", ',') is {"a", "", "b"}; Split("", ',') is {""}. The views
// point into `s`.
std::vector<std::string_view> Split(std::string_view s, char sep);

// A comma-separated list as users write one (CONSISTENCY_DIR, an agent's
// "dirs"): items trimmed of blanks and tabs, empty items dropped:
// SplitList(" /a, ,/b ") is {"/a", "/b"}.
std::vector<std::string> SplitList(std::string_view s);

// `s` with ASCII letters lower-cased (header names, media types); other
// bytes unchanged.
std::string AsciiLower(std::string_view s);
// `s` with ASCII letters upper-cased (cron month and day names).
std::string AsciiUpper(std::string_view s);

// `s` without leading and trailing ASCII white space (blank, tab, CR, LF,
// VT, FF); the view points into `s`.
std::string_view TrimSpace(std::string_view s);

}  // namespace sms::core
