// The version and the git commit a binary was built from, as `--version`
// prints them ("sms-agent 0.1.0 (commit 942dac5e1f3a)"), and the parser of
// that line that the agent uses on the version an ssh:// target's agent
// reports.
//
// The version is a constant (kVersion, written by CMake at configure time
// from project(VERSION)); the commit is written at build time by
// cmake/version_info.cmake into the small sms_build_stamp library, which
// defines Commit() and VersionLine(): link it only into the programs that
// print them, so a new commit relinks those alone.
// Thread-safety: every function is safe to call from any thread.
#pragma once

#include <string>
#include <string_view>

#include "cli/version_number.h"  // generated: kVersion

namespace sms::cli {

// The release: project(VERSION) of the top-level CMakeLists.txt (kVersion).
std::string_view Version();

// The commit: 12 hex digits, "-dirty" appended when tracked files differed
// from it; "unknown" when the build was not made from a git checkout.
// In sms_build_stamp.
std::string_view Commit();

// What `PROGRAM --version` prints (no newline):
// "PROGRAM VERSION (commit COMMIT)". In sms_build_stamp.
std::string VersionLine(std::string_view program);

// The version in a `--version` answer: "0.1.0" from
// "sms-agent 0.1.0 (commit 942dac5e1f3a)", and from a bare "0.1.0" (what
// agents printed before the commit was added). "" when `text` holds none.
std::string ParseVersionLine(std::string_view text);

namespace internal {
extern const char kCommit[];  // generated, in sms_build_stamp
}  // namespace internal

}  // namespace sms::cli
