// Which runs retention purges (issue 13.5), decided once for both backends.
// A run keeps its file-level details when it is among the newest
// `keep_runs` of its task or was committed less than `keep_ms` before `now`
// (restic's --keep-last / --keep-within: a run kept by either rule is
// kept); the newest run always keeps them, so "what changed since the last
// run" and how long a difference persisted still have a base.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "storage/store.h"

namespace sms::storage {

struct RunAge {
  std::string run_id;
  int64_t committed_at = 0;
  bool purged = false;
};

// `runs` newest first; returns the run ids to purge, oldest first.
inline std::vector<std::string> RunsToPurge(const std::vector<RunAge>& runs,
                                            const RetentionPolicy& policy,
                                            int64_t now) {
  std::vector<std::string> out;
  if (policy.keep_runs <= 0 && policy.keep_ms <= 0) return out;
  for (size_t i = runs.size(); i-- > 1;) {  // never the newest (i == 0)
    const RunAge& r = runs[i];
    if (r.purged) continue;
    const bool by_count =
        policy.keep_runs > 0 && static_cast<int64_t>(i) < policy.keep_runs;
    const bool by_age =
        policy.keep_ms > 0 && r.committed_at > now - policy.keep_ms;
    if (!by_count && !by_age) out.push_back(r.run_id);
  }
  return out;
}

}  // namespace sms::storage
