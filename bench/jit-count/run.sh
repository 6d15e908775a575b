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
source "$HERE/callgrind.sh"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$TREE"
callgrind_counted "$OUT" "$WORK/marker" 40 -- "$HERE/driver.ts" "$TREE" "$MODE" "$CONNECTION" "$MS" "$WORK/marker"
