// XmlSafeText (issue 11.5): what an XLSX cell may hold.
#include "server/codec/xml_text.h"

#include <gtest/gtest.h>

#include <string>

namespace sms::server {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(XmlSafeTextTest, KeepsValidTextAndReplacesWhatXmlForbids) {
  struct Case {
    std::string in, out;
  };
  const Case cases[] = {
      {"/data/plain.txt", "/data/plain.txt"},
      {"tab\there\r\nok", "tab\there\r\nok"},
      {"\xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80",
       "\xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80"},
      {std::string("a\x01"
                   "b\x1f"
                   "c",
                   5),
       "a" + kFffd + "b" + kFffd + "c"},
      {std::string("nul\0end", 7), "nul" + kFffd + "end"},
      {"x\xEF\xBF\xBEy", "x" + kFffd + "y"},      // U+FFFE
      {"x\xEF\xBF\xBFy", "x" + kFffd + "y"},      // U+FFFF
      {"x\xED\xA0\x80y", "x" + kFffd + "y"},      // lone U+D800
      {"x\xED\xBF\xBFy", "x" + kFffd + "y"},      // lone U+DFFF
      {"x\xC0\xAFy", "x" + kFffd + kFffd + "y"},  // overlong '/'
      {"x\xFFy", "x" + kFffd + "y"},              // stray byte
      {"cut\xE4\xB8", "cut" + kFffd + kFffd},     // truncated
      {"\xEF\xBF\xBD", "\xEF\xBF\xBD"},           // U+FFFD itself
  };
  for (const Case& c : cases) EXPECT_EQ(XmlSafeText(c.in), c.out) << c.in;
}

}  // namespace
}  // namespace sms::server
