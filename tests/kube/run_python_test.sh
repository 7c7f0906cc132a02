#!/bin/bash
# Runs one of the fake API server's Python test files with Debian's interpreter (a pyenv python3
# may come first in PATH), from the test's runfiles.
set -euo pipefail
dir="${TEST_SRCDIR}/${TEST_WORKSPACE}/tests/kube"
export PYTHONDONTWRITEBYTECODE=1
export EXAMPLES_DIR="${TEST_SRCDIR}/${TEST_WORKSPACE}/examples/kubernetes"
cd "$dir"
exec /usr/bin/python3 "$dir/$1"
