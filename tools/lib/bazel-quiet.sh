# Runs Bazel with its whole output in a log file and one status line on the terminal instead:
# "building Remora (normal build): 123/456 actions, 2m10s". Sourced by tools/test and tools/demo.
#
#   bazel_quiet LOG "what it is doing" bazel-command [args...]
#
# Returns Bazel's exit code. On a terminal the status line is rewritten in place; elsewhere (CI, a
# pipe) it is printed at most once a minute, so logs stay short.

remora_log_dir() {
  local dir="${REMORA_LOG_DIR:-$(pwd)/.logs}"
  mkdir -p "$dir"
  echo "$dir"
}

bazel_quiet() {
  local log=$1 what=$2
  shift 2
  local start=$SECONDS tty=0
  [[ -t 1 ]] && tty=1
  # --curses=no --color=no: a log file a person can read; progress lines are what the status
  # line is made of.
  bazel "$@" --curses=no --color=no --show_progress_rate_limit=2 >"$log" 2>&1 &
  local pid=$!
  local last_print=0 line progress
  while kill -0 "$pid" 2>/dev/null; do
    progress=$(grep -oE '\[[0-9,]+ / [0-9,]+\]' "$log" 2>/dev/null | tail -1 | tr -d '[],' |
      awk '{print $1 "/" $3 " actions"}')
    line="$what: ${progress:-starting}, $(((SECONDS - start) / 60))m$(((SECONDS - start) % 60))s"
    if ((tty)); then
      printf '\r\033[K%s' "$line"
    elif ((SECONDS - last_print >= 60)); then
      echo "$line"
      last_print=$SECONDS
    fi
    sleep 1
  done
  local rc=0
  wait "$pid" || rc=$?
  ((tty)) && printf '\r\033[K'
  local took="$(((SECONDS - start) / 60))m$(((SECONDS - start) % 60))s"
  if ((rc == 0)); then
    echo "$what: done in $took (log: $log)"
  else
    echo "$what: FAILED after $took (exit $rc); full log: $log" >&2
  fi
  return "$rc"
}

# The lines of a `bazel test` log a person wants: the per-test results Bazel prints (failures,
# flaky and timed-out tests with the path of their log) and the final count.
bazel_test_summary() {
  local log=$1
  grep -E '^//[^ ]+ +(PASSED|FAILED|FLAKY|TIMEOUT|NO STATUS|INCOMPLETE|FAILED TO BUILD)|^  +/.*test\.log$|^Executed [0-9]+ out of|^ERROR: ' \
    "$log" || true
}
