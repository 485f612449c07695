#include "server/identity.h"

#include <optional>
#include <string>
#include <utility>

namespace sms::server {

std::string_view ActionName(Action a) {
  switch (a) {
    case Action::kTaskRead:
      return "sms:task:get";
    case Action::kTaskWrite:
      return "sms:task:update";
    case Action::kSourceRead:
      return "sms:server:get";
    case Action::kSourceRegister:
      return "sms:server:register";
    case Action::kAgentLoop:
      return "sms:server:command";
    case Action::kResultUpload:
      return "sms:task:uploadResult";
    case Action::kResultRead:
      return "sms:task:getResult";
    case Action::kDetailsRead:
      return "sms:task:getResultDetails";
  }
  return "sms:unknown";
}

bool RoleAllows(Role role, Action a) {
  switch (role) {
    case Role::kAdmin:
      return true;
    case Role::kOperator:
      return a == Action::kTaskRead || a == Action::kTaskWrite ||
             a == Action::kSourceRead || a == Action::kResultRead ||
             a == Action::kDetailsRead;
    case Role::kViewer:
      return a == Action::kTaskRead || a == Action::kSourceRead ||
             a == Action::kResultRead || a == Action::kDetailsRead;
    case Role::kAgent:
      return a == Action::kSourceRegister || a == Action::kAgentLoop ||
             a == Action::kResultUpload || a == Action::kDetailsRead;
  }
  return false;
}

ApiResult<Identity> IdentityOf(const storage::Domain& domain,
                               const storage::User& user, std::string method) {
  std::optional<Role> role = storage::ParseRole(user.role);
  if (!role) {
    return ApiFail(ApiCode::kForbidden,
                   "You do not have permission to perform any action with "
                   "role " +
                       user.role + ".");
  }
  return Identity{domain.id, domain.name, user.id,
                  user.name, *role,       std::move(method)};
}

ApiStatus Require(const Identity& who, Action a) {
  if (RoleAllows(who.role, a)) return {};
  return ApiFail(ApiCode::kForbidden,
                 "You do not have permission to perform action " +
                     std::string(ActionName(a)) + " with role " +
                     std::string(storage::ToText(who.role)) + ".");
}

}  // namespace sms::server
