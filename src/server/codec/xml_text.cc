#include "server/codec/xml_text.h"

#include <cstdint>

namespace sms::server {

std::string XmlSafeText(std::string_view in) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
        out += kReplacement;
      else
        out += static_cast<char>(c);
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0, min = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    }
    bool well_formed = len > 0 && i + len <= in.size();
    for (size_t k = 1; well_formed && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(in[i + k]);
      well_formed = (cc & 0xC0) == 0x80;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!well_formed || cp < min) {  // a stray byte, or an overlong form
      out += kReplacement;
      ++i;
      continue;
    }
    const bool allowed = cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) &&
                         cp != 0xFFFE && cp != 0xFFFF;
    if (allowed)
      out.append(in.substr(i, len));
    else
      out += kReplacement;
    i += len;
  }
  return out;
}

}  // namespace sms::server
