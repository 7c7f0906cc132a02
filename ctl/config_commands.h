// remoractl commands that talk to remora-control: apply, delete, get, proxy-status,
// proxy-config, token, ca.
#pragma once

#include "ctl/command.h"

namespace remora::ctl {

Command ApplyCommand();
Command DeleteCommand();
Command GetCommand();
Command ProxyStatusCommand();
Command ProxyConfigCommand();
Command TokenCommand();
Command CaCommand();
Command WaitCommand();

}  // namespace remora::ctl
