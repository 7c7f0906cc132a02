// `remoractl authz`: evaluate policies offline, with the engine the proxy runs.
//   check: one request (REQUEST.json) against policy files; prints the decision and why.
//   test:  a file of cases with expected decisions, for policies under CI.
#pragma once

#include "ctl/command.h"

namespace remora::ctl {

// Exit status of `authz check` when the request is denied (0 allowed, 2 bad input).
inline constexpr int kExitDenied = 3;

Command AuthzCommand();

}  // namespace remora::ctl
