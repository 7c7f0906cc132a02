// `remoractl install` and `remoractl uninstall` (issue 18): the control plane, its RBAC and its
// injection webhook put in a cluster (or printed) in one command, from the manifests of
// examples/kubernetes/ embedded in remoractl; and removed again with what the control plane
// created there, leaving the workloads running.
#pragma once

#include "ctl/command.h"

namespace remora::ctl {

Command InstallCommand();
Command UninstallCommand();

}  // namespace remora::ctl
