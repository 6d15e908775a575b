#!/bin/bash
# Class fields that start undefined and that V8 then generalizes, in a short cut of the star
# (bench/ns3/README.md, section fieldinit). With target ES2022 a field declared without a value,
# or a constructor parameter property, is first defined as undefined: V8 then tracks a typed-array
# or object field as any value (a map check at each use) and a number field as tagged.
#
#   bash bench/jit-count/fields.sh TREE MODE CONNECTION MS
#     prints "count file class field" for each field a constructor defined as undefined and then
#     set to an object (h{Any}) or a number (t{Any}) while the cut ran; a field first defined with
#     a value of its kind keeps its map (h{Class(...)}) or small-integer/double representation
#     and is not listed. Object literals aside. --no-sparkplug: Node 20's V8 aborts printing this trace from
#     baseline code.
set -euo pipefail
if [ $# -ne 4 ]; then sed -n 2,11p "$0"; exit 2; fi
TREE=$(cd "$1" && pwd); MODE=$2; CONNECTION=$3; MS=$4
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$TREE"
node --no-sparkplug --trace-generalization --import tsx "$HERE/fields-driver.ts" "$TREE" "$MODE" "$CONNECTION" "$MS" 2>&1 |
  grep 'uninitialized field' | grep -F "$TREE/" | grep ' \[new ~' | grep -E -- '->[ht]\{Any' |
  sed -E 's/^\[generalizing\]([^:]*):.*\[new ~([A-Za-z0-9_$]+)\+[0-9]+ at .*'"${TREE//\//\\/}"'\/([^:]*):[0-9]+\]$/\3 \2 \1/' |
  sort | uniq -c | sort -k2,3
