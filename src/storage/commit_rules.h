// CommitRules: the decisions of CommitRun, StageDetails and EnqueueCommand,
// written once for both backends. Each backend reads what a rule needs
// inside its own transaction, asks the rule, and writes what it says; the
// rules hold no SQL and touch no database, so they are tested on their own
// (commit_rules_test.cc) and the contract suite checks the backends obey.
#pragma once

#include <optional>
#include <string>

#include "storage/store.h"

namespace sms::storage {

// What a domain has stored already under a run id (a committed run, or a
// staged detail chunk): the owner and the upload's content hash. Run ids
// are per domain: a backend looks only at the run's own domain's rows.
struct StoredUpload {
  std::string domain_id;
  std::string task_id;
  std::string content_hash;
};

// A run id that is committed already: kAlreadyCommitted when the same
// upload (same owner, same content) is repeated, kAlreadyExists otherwise.
[[nodiscard]] Result<CommitOutcome> RepeatedCommit(const Run& run,
                                                   const StoredUpload& stored);

// A run id staged with details by another task of the same domain is not
// this run's: kAlreadyExists when `staged_by_another` is true.
[[nodiscard]] Status CheckRunIdOwner(bool staged_by_another);

// When committing `run` ends the task's current check, the state the task
// goes to (TaskEvent::kRunCommitted: READY); the run's pending and
// delivered commands become done in the same transaction. Nullopt when the
// run is not the task's current one or the task is not running it.
[[nodiscard]] std::optional<TaskState> TaskStateAfterCommit(const Task& task,
                                                            const Run& run);

// Staging details for a run that is committed already: kFailedPrecondition.
[[nodiscard]] Status CheckRunNotCommitted(bool committed);

// A chunk (run_id, seq) that is staged already: kAlreadyStaged for the same
// upload again, kAlreadyExists for other content.
[[nodiscard]] Result<StageOutcome> RepeatedStage(const DetailChunk& chunk,
                                                 const StoredUpload& stored);

// The current run id the task gets when `command` is queued: the check's
// own run id, or (for STOP) the run it stops.
[[nodiscard]] std::string RunIdAfterEnqueue(const Command& command,
                                            const Task& task);

}  // namespace sms::storage
