# Sourced by bench/jit-count/run.sh and bench/sched-replay-count.sh: runs a node command under
# callgrind with instrumentation off, switches it on when the command writes the marker file
# (its warm-up done), tells the command by touching MARKER.on, then prints the command's last
# line and the instructions per JS function (by-function.mjs).
#
#   callgrind_counted OUT MARKER TOP ENV_ASSIGNMENT... -- NODE_ARGS...
callgrind_counted() {
  local out=$1 marker=$2 top=$3
  shift 3
  local env=()
  while [ "$1" != "--" ]; do env+=("$1"); shift; done
  shift
  command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
  env "${env[@]}" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
    node --single-threaded --perf-basic-prof --import tsx "$@" > "$out.log" 2>&1 &
  local vp=$!
  while [ ! -f "$marker" ]; do
    kill -0 $vp 2>/dev/null || { tail -5 "$out.log" >&2; exit 1; }
    sleep 1
  done
  callgrind_control -i on $vp >/dev/null 2>&1
  touch "$marker.on"
  wait $vp
  grep -v '^==' "$out.log" | tail -1
  node "$(dirname "${BASH_SOURCE[0]}")/by-function.mjs" "$out" "$top" | tee "$out.functions"
}
