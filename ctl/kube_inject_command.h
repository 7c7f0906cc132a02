// `remoractl kube-inject`: the Remora sidecar added to Kubernetes manifests offline, by the same
// code as the control plane's injection webhook (inject/).
#pragma once

#include "ctl/command.h"

namespace remora::ctl {

Command KubeInjectCommand();

}  // namespace remora::ctl
