#!/bin/bash
# Instructions executed by the Scheduler of one tree replaying a saved star recording
# (bench/sched-replay.ts save=FILE), per JS function, under callgrind: the jit-count instrument
# (bench/jit-count/run.sh) applied to the scheduler alone. Two replays run uninstrumented (loading,
# JIT warm-up), then ROUNDS - 2 replays are counted. Deterministic to well under 1 %.
#
#   bash bench/sched-replay-count.sh TREE RECORDING ROUNDS OUT
#     TREE: a checkout of kube-netsim; RECORDING: a file written by sched-replay.ts save=FILE;
#     ROUNDS: replays in all (>= 3); OUT: callgrind output file (OUT.log, OUT.functions beside).
set -euo pipefail
if [ $# -ne 4 ]; then sed -n 2,9p "$0"; exit 2; fi
TREE=$(cd "$1" && pwd); RECORDING=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); ROUNDS=$3; OUT=$4
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/jit-count/callgrind.sh"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$HERE/.."
callgrind_counted "$OUT" "$WORK/marker" 30 "SCHED_REPLAY_MARKER=$WORK/marker" -- \
  "$HERE/sched-replay.ts" "load=$RECORDING" - - "$ROUNDS" "$TREE"
