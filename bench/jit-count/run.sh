#!/bin/bash
# Instructions executed by the star's JIT-compiled code, per JS function, under callgrind
# (the ipvspath/memohit instrument; bench/ns3/README.md, sections ipvspath and memohit).
# Deterministic to about 0.2 % where wall-time A/Bs on this VM resolve only 5 %: functions a change
# does not touch count the same in both builds, so compare per function.
#
#   bash bench/jit-count/run.sh TREE MODE CONNECTION MS OUT
#     TREE: a checkout of kube-netsim (node_modules present or linked); MODE: iptables|ipvs|
#     nftables|userspace; CONNECTION: keepAlive|new; MS: simulated ms of the star's workload per
#     cut (300 = 30,000 echoes); OUT: callgrind output file (OUT.log, OUT.functions written beside).
#   Needs valgrind (apt-get install valgrind). Takes a few minutes per run.
set -euo pipefail
if [ $# -ne 5 ]; then sed -n 2,12p "$0"; exit 2; fi
TREE=$(cd "$1" && pwd); MODE=$2; CONNECTION=$3; MS=$4; OUT=$5
HERE=$(cd "$(dirname "$0")" && pwd)
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
MARKER=$WORK/marker
cd "$TREE"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT" \
  node --single-threaded --perf-basic-prof --import tsx "$HERE/driver.ts" "$TREE" "$MODE" "$CONNECTION" "$MS" "$MARKER" \
  > "$OUT.log" 2>&1 &
VP=$!
while [ ! -f "$MARKER" ]; do
  kill -0 $VP 2>/dev/null || { tail -5 "$OUT.log" >&2; exit 1; }
  sleep 1
done
callgrind_control -i on $VP >/dev/null 2>&1
touch "$MARKER.on"
wait $VP
grep -v '^==' "$OUT.log" | tail -1
node "$HERE/by-function.mjs" "$OUT" 40 | tee "$OUT.functions"
