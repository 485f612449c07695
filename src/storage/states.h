// States: the typed values of a task, a command and a user's role, their
// text (only at the SQL and JSON boundaries: ToText/Parse*), and the one
// transition table of a task's state and of a command's (states_test.cc
// walks both exhaustively).
//
// A task:    READY --check queued--> RUNNING --run committed--> READY
//            RUNNING --stop of a delivered check--> ABORTING --STOP
//            acknowledged--> ABORT; a pending check stopped or skipped goes
//            straight to ABORT or READY; a failed check back to READY.
// A command: pending --polled--> delivered --result / run committed--> done;
//            pending --cancelled--> cancelled; pending --run committed-->
//            done.
#pragma once

#include <optional>
#include <string_view>

namespace sms::storage {

enum class TaskState { kReady, kRunning, kAborting, kAbort };
enum class CommandState { kPending, kDelivered, kDone, kCancelled };
enum class CommandName { kConsistencyCheck, kStop };
enum class Role { kAdmin, kOperator, kViewer, kAgent };

// Every value of each enum, in declaration order (for tests and for lists
// of allowed values in error messages).
inline constexpr TaskState kTaskStates[] = {
    TaskState::kReady, TaskState::kRunning, TaskState::kAborting,
    TaskState::kAbort};
inline constexpr CommandState kCommandStates[] = {
    CommandState::kPending, CommandState::kDelivered, CommandState::kDone,
    CommandState::kCancelled};
inline constexpr CommandName kCommandNames[] = {CommandName::kConsistencyCheck,
                                                CommandName::kStop};
inline constexpr Role kRoles[] = {Role::kAdmin, Role::kOperator, Role::kViewer,
                                  Role::kAgent};

// The wire and column text: READY | RUNNING | ABORTING | ABORT;
// pending | delivered | done | cancelled; CONSISTENCY_CHECK | STOP;
// admin | operator | viewer | agent.
std::string_view ToText(TaskState s);
std::string_view ToText(CommandState s);
std::string_view ToText(CommandName n);
std::string_view ToText(Role r);

// The value whose text is `text` exactly, or nullopt.
std::optional<TaskState> ParseTaskState(std::string_view text);
std::optional<CommandState> ParseCommandState(std::string_view text);
std::optional<CommandName> ParseCommandName(std::string_view text);
std::optional<Role> ParseRole(std::string_view text);

// What moves a task from one state to another.
enum class TaskEvent {
  kCheckQueued,         // action consistency_check
  kQueuedCheckStopped,  // action stop while the check is still pending
  kQueuedCheckSkipped,  // action skip while the check is still pending
  kStopQueued,          // action stop once the agent has the check
  kStopAcknowledged,    // the agent's result for STOP
  kCheckFailed,         // the agent's failed result for the check
  kRunCommitted,        // the check's results uploaded and committed
};
inline constexpr TaskEvent kTaskEvents[] = {
    TaskEvent::kCheckQueued,        TaskEvent::kQueuedCheckStopped,
    TaskEvent::kQueuedCheckSkipped, TaskEvent::kStopQueued,
    TaskEvent::kStopAcknowledged,   TaskEvent::kCheckFailed,
    TaskEvent::kRunCommitted};

struct TaskTransition {
  TaskState from;
  TaskEvent event;
  TaskState to;
};

// The task's state machine: every change of a task's state the server
// makes is one row.
inline constexpr TaskTransition kTaskTransitions[] = {
    {TaskState::kReady, TaskEvent::kCheckQueued, TaskState::kRunning},
    {TaskState::kAbort, TaskEvent::kCheckQueued, TaskState::kRunning},
    {TaskState::kRunning, TaskEvent::kQueuedCheckStopped, TaskState::kAbort},
    {TaskState::kRunning, TaskEvent::kQueuedCheckSkipped, TaskState::kReady},
    {TaskState::kRunning, TaskEvent::kStopQueued, TaskState::kAborting},
    {TaskState::kAborting, TaskEvent::kStopAcknowledged, TaskState::kAbort},
    {TaskState::kRunning, TaskEvent::kCheckFailed, TaskState::kReady},
    {TaskState::kRunning, TaskEvent::kRunCommitted, TaskState::kReady},
    {TaskState::kAborting, TaskEvent::kRunCommitted, TaskState::kReady},
};

// The state `event` moves a task in `from` to, or nullopt when the event
// does not apply in that state.
std::optional<TaskState> NextTaskState(TaskState from, TaskEvent event);

// What moves a command.
enum class CommandEvent {
  kPolled,        // the agent's poll delivers it
  kCancelled,     // the check is stopped or skipped before delivery
  kResultPosted,  // the agent posts its result
  kRunCommitted,  // the run it belongs to is committed
};
inline constexpr CommandEvent kCommandEvents[] = {
    CommandEvent::kPolled, CommandEvent::kCancelled,
    CommandEvent::kResultPosted, CommandEvent::kRunCommitted};

struct CommandTransition {
  CommandState from;
  CommandEvent event;
  CommandState to;
};

inline constexpr CommandTransition kCommandTransitions[] = {
    {CommandState::kPending, CommandEvent::kPolled, CommandState::kDelivered},
    {CommandState::kPending, CommandEvent::kCancelled,
     CommandState::kCancelled},
    {CommandState::kDelivered, CommandEvent::kResultPosted,
     CommandState::kDone},
    {CommandState::kPending, CommandEvent::kRunCommitted, CommandState::kDone},
    {CommandState::kDelivered, CommandEvent::kRunCommitted,
     CommandState::kDone},
};

std::optional<CommandState> NextCommandState(CommandState from,
                                             CommandEvent event);

}  // namespace sms::storage
