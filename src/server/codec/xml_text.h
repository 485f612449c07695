// XmlSafeText: text as XML 1.0 allows it in a document, for the cells of
// an XLSX export (issue 11.5). Excel refuses a workbook holding a character
// XML forbids; file and directory names may hold any of them.
// Thread-safety: a pure function.
#pragma once

#include <string>
#include <string_view>

namespace sms::server {

// `text` with each character XML forbids (C0 controls other than TAB, LF
// and CR; U+FFFE; U+FFFF) and each byte that is not part of valid UTF-8
// (a lone surrogate encoded as UTF-8, an overlong form, a stray byte)
// replaced by U+FFFD, the Unicode replacement character; the rest kept.
std::string XmlSafeText(std::string_view text);

}  // namespace sms::server
