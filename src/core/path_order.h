// The one total order of paths both sides of a verification agree on.
//
// Walkers emit a directory's children sorted by raw bytes, depth first, so a
// directory comes before its contents and "a/x" comes before "a-b". That is
// exactly the byte order in which '/' ranks below every other byte (names
// contain neither '/' nor NUL). The marcher merges two streams with it.
#pragma once

#include <string_view>

namespace sms::core {

// ComparePaths() returns <0, 0 or >0 as `a` orders before, equal to or after
// `b` in walk order.
int ComparePaths(std::string_view a, std::string_view b);

// IsUnder() returns true when `path` lies inside directory `dir` (both
// relative, `dir` non-empty): "a/b" is under "a", "ab" is not.
bool IsUnder(std::string_view path, std::string_view dir);

// IsWalkPath() returns true when `path` is one a walk can produce: relative,
// its components non-empty and neither "." nor "..", no NUL. A path list
// (verify --only-paths, a re-check's details, the wire to an ssh target)
// holding another one names nothing under the root: "../etc/shadow" must
// not be read.
bool IsWalkPath(std::string_view path);

}  // namespace sms::core
