#!/usr/bin/env bash
# Builds and runs the ns-3 counterparts of bench/scheduler.ts (hold.cc) and bench/star-udp-echo.ts
# (star-udp-echo.cc) against an installed ns-3 (Debian bookworm: apt-get install ns3 libns3-dev
# g++ pkg-config). Installs nothing. Prints JSON lines on stdout (progress on stderr).
#
# Usage: run.sh [all|build]. `build` compiles the two programs and prints the build directory on
# stdout (bench/compare-ns3.ts uses it to run ns-3's star next to ours); `all` (the default) also
# runs them: the hold model, then the star for every topology x connection x queue disc.
#
# Environment: REPS (timed hold runs per scheduler, default 5), STAR_RUNS (star processes per
# setting, default 5), STAR_TOPOLOGIES (default "nodes star"; set but empty: no star runs),
# STAR_CONNECTIONS (default "reuse new"), STAR_QDISCS (default "none"; "none default" adds ns-3's
# default queue disc), BUILD_DIR (where the binaries go, default a temporary directory).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPS="${REPS:-5}"
STAR_RUNS="${STAR_RUNS:-5}"
STAR_TOPOLOGIES="${STAR_TOPOLOGIES-nodes star}"
STAR_CONNECTIONS="${STAR_CONNECTIONS:-reuse new}"
STAR_QDISCS="${STAR_QDISCS:-none}"
MODE="${1:-all}"
[[ "$MODE" == all || "$MODE" == build ]] || { echo "run.sh: unknown mode $MODE (all or build)" >&2; exit 2; }
CXX="${CXX:-g++}"

command -v pkg-config >/dev/null || { echo "run.sh: pkg-config not found (apt-get install pkg-config)" >&2; exit 2; }
command -v "$CXX" >/dev/null || { echo "run.sh: $CXX not found (apt-get install g++)" >&2; exit 2; }
modules="ns3-core ns3-network ns3-internet ns3-point-to-point ns3-applications ns3-traffic-control"
available="$(pkg-config --list-all | awk '{print $1}' | grep '^ns3-' || true)"
for m in $modules; do
  grep -qx "$m" <<<"$available" || { echo "run.sh: pkg-config module $m missing (apt-get install libns3-dev)" >&2; exit 2; }
done
version="$(pkg-config --modversion ns3-core)"

# The Debian 3.37-2 .pc files have two defects: Cflags contain "-I/usr;" (a CMake list separator
# leaked into the file; pkg-config prints it as -I/usr\;) and Libs name /usr/lib/.../libgsl.so and
# libgslcblas.so, which only libgsl-dev ships. Drop the stray ";" and any absolute library path
# that does not exist: libns3-core.so already records libgsl.so.27 as DT_NEEDED.
flags() {
  local out=() tok
  for tok in $(pkg-config --cflags --libs "$@"); do
    tok="${tok//\\;/}"; tok="${tok//;/}"
    [[ "$tok" == /*.so && ! -e "$tok" ]] && continue
    out+=("$tok")
  done
  echo "${out[@]}"
}

BUILD_DIR="${BUILD_DIR:-$(mktemp -d)}"
mkdir -p "$BUILD_DIR"
hold_cmd=("$CXX" -O3 -std=c++17 -o "$BUILD_DIR/hold" "$here/hold.cc" $(flags ns3-core))
star_cmd=("$CXX" -O3 -std=c++17 -o "$BUILD_DIR/star-udp-echo" "$here/star-udp-echo.cc" $(flags $modules))
echo "+ ${hold_cmd[*]}" >&2
"${hold_cmd[@]}"
echo "+ ${star_cmd[*]}" >&2
"${star_cmd[@]}"
if [[ "$MODE" == build ]]; then
  echo "$BUILD_DIR"
  exit 0
fi

json_escape() { sed 's/\\/\\\\/g; s/"/\\"/g' <<<"$1"; }
echo "{\"benchmark\":\"ns3-env\",\"ns3\":\"$version\",\"cxx\":\"$(json_escape "$("$CXX" --version | head -1)")\",\"cpu\":\"$(json_escape "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')")\",\"nproc\":$(nproc),\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}"

echo "hold model: $REPS timed runs per scheduler (+1 warm-up)" >&2
"$BUILD_DIR/hold" --reps="$REPS"

median() { sort -n | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.0f\n", (v[NR/2]+v[NR/2+1])/2}'; }
field() { grep -o "\"$1\":[0-9.]*" | cut -d: -f2; }

for topology in $STAR_TOPOLOGIES; do
  for connection in $STAR_CONNECTIONS; do
    for qdisc in $STAR_QDISCS; do
      echo "star UDP echo (topology $topology, connection $connection, qdisc $qdisc): $STAR_RUNS runs" >&2
      lines=""
      for ((i = 0; i < STAR_RUNS; i++)); do
        line="$("$BUILD_DIR/star-udp-echo" --topology="$topology" --connection="$connection" --qdisc="$qdisc")"
        echo "$line"
        lines+="$line"$'\n'
      done
      rate="$(printf '%s' "$lines" | field echoesPerWallSecond | median)"
      rateSetup="$(printf '%s' "$lines" | field echoesPerWallSecondWithSetup | median)"
      cpuRate="$(printf '%s' "$lines" | field echoesPerCpuSecond | median)"
      events="$(printf '%s' "$lines" | field eventsPerSecond | median)"
      echo "{\"benchmark\":\"ns3-star-udp-echo-summary\",\"ns3\":\"$version\",\"topology\":\"$topology\",\"connection\":\"$connection\",\"qdisc\":\"$qdisc\",\"runs\":$STAR_RUNS,\"echoesPerWallSecondMedian\":$rate,\"echoesPerWallSecondWithSetupMedian\":$rateSetup,\"echoesPerCpuSecondMedian\":$cpuRate,\"eventsPerSecondMedian\":$events}"
    done
  done
done
