#include "storage/states.h"

namespace sms::storage {
namespace {

template <typename E, size_t N>
std::optional<E> ParseOf(const E (&values)[N], std::string_view text) {
  for (E v : values)
    if (ToText(v) == text) return v;
  return std::nullopt;
}

}  // namespace

std::string_view ToText(TaskState s) {
  switch (s) {
    case TaskState::kReady:
      return "READY";
    case TaskState::kRunning:
      return "RUNNING";
    case TaskState::kAborting:
      return "ABORTING";
    case TaskState::kAbort:
      return "ABORT";
  }
  return "READY";
}

std::string_view ToText(CommandState s) {
  switch (s) {
    case CommandState::kPending:
      return "pending";
    case CommandState::kDelivered:
      return "delivered";
    case CommandState::kDone:
      return "done";
    case CommandState::kCancelled:
      return "cancelled";
  }
  return "pending";
}

std::string_view ToText(CommandName n) {
  switch (n) {
    case CommandName::kConsistencyCheck:
      return "CONSISTENCY_CHECK";
    case CommandName::kStop:
      return "STOP";
  }
  return "CONSISTENCY_CHECK";
}

std::string_view ToText(Role r) {
  switch (r) {
    case Role::kAdmin:
      return "admin";
    case Role::kOperator:
      return "operator";
    case Role::kViewer:
      return "viewer";
    case Role::kAgent:
      return "agent";
  }
  return "viewer";
}

std::optional<TaskState> ParseTaskState(std::string_view text) {
  return ParseOf(kTaskStates, text);
}
std::optional<CommandState> ParseCommandState(std::string_view text) {
  return ParseOf(kCommandStates, text);
}
std::optional<CommandName> ParseCommandName(std::string_view text) {
  return ParseOf(kCommandNames, text);
}
std::optional<Role> ParseRole(std::string_view text) {
  return ParseOf(kRoles, text);
}

std::optional<TaskState> NextTaskState(TaskState from, TaskEvent event) {
  for (const TaskTransition& t : kTaskTransitions)
    if (t.from == from && t.event == event) return t.to;
  return std::nullopt;
}

std::optional<CommandState> NextCommandState(CommandState from,
                                             CommandEvent event) {
  for (const CommandTransition& t : kCommandTransitions)
    if (t.from == from && t.event == event) return t.to;
  return std::nullopt;
}

}  // namespace sms::storage
