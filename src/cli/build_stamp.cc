// The commit half of version.h, in the sms_build_stamp library with the
// commit cmake/version_info.cmake writes: only the programs that print it
// link it, so a new commit (or a tree turning dirty) relinks sms-agent and
// sms-server, not every library and test that uses the version.
#include <string>
#include <string_view>

#include "cli/version.h"

namespace sms::cli {

std::string_view Commit() { return internal::kCommit; }

std::string VersionLine(std::string_view program) {
  std::string line(program);
  line += ' ';
  line += Version();
  line += " (commit ";
  line += Commit();
  line += ')';
  return line;
}

}  // namespace sms::cli
