// `remoractl cert`: an offline PKI for static (non-Kubernetes) deployments and demos: create a
// root CA and issue workload certificates from it, as files.
#pragma once

#include "ctl/command.h"

namespace remora::ctl {

Command CertCommand();

}  // namespace remora::ctl
