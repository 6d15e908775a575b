#!/usr/bin/env bash
# Measures what MODEL.md "nftables mode" lists for kubeProxy.nftables.expressionCost/lookupCost:
# the kernel CPU time per nft expression and per set/map lookup. In a fresh network namespace
# (unshare -n), an output base chain holds K rules that never end evaluation early, one shape per
# run; a python3 sender sends N UDP datagrams to 127.0.0.1 (every one walks the K rules at
# OUTPUT); the sender's system CPU time (GNU time %S: the output path runs in its syscalls) is
# compared with K = 0. Shapes (expressions per rule as `nft --debug=netlink` lowers them):
#   cmp  : ip daddr 10.9.x.y counter                        payload + cmp (breaks at cmp)   2
#   set  : ip daddr @s counter (empty ipv4_addr hash set)   payload + lookup (breaks)        2
#   vmap : ip daddr . meta l4proto . th dport vmap @m       payload, meta, payload, lookup   4
# Prints: SHAPE K N SYS_SECONDS NS_PER_RULE. Usage: sudo bench/calibration/nft-expression-cost.sh [K] [N]
# Measured 2026-12-03 (2-core VM, nft 1.0.6, load ~14): cmp 4.5 ns/rule (2.2 ns per expression),
# set 53 ns/rule (lookup ~51 ns), vmap 72 ns/rule (lookup ~65 ns after three ~2.2 ns loads).
set -euo pipefail
if [ "$(id -u)" != 0 ]; then echo "nft-expression-cost.sh: needs root (network namespaces)" >&2; exit 2; fi
for tool in nft python3 unshare; do
  command -v "$tool" >/dev/null || { echo "nft-expression-cost.sh: $tool not found" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "nft-expression-cost.sh: GNU time (/usr/bin/time) not found" >&2; exit 2; }
K=${1:-3000}; N=${2:-20000}
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
cat > "$dir/send.py" <<'EOF'
import socket, sys
n = int(sys.argv[1])
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("127.0.0.1", 9999)); r.setblocking(False)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    s.sendto(b"x", ("127.0.0.1", 9999))
    if i % 64 == 0:
        try:
            while True: r.recv(16)
        except BlockingIOError: pass
EOF
run() { # shape k -> system seconds
  local shape=$1 k=$2
  {
    echo "add table ip t"
    echo "add chain ip t out { type filter hook output priority 0 ; }"
    echo "add set ip t s { type ipv4_addr ; }"
    echo "add map ip t m { type ipv4_addr . inet_proto . inet_service : verdict ; }"
    echo "add element ip t m { 10.1.1.1 . tcp . 80 : drop }"
    for ((i = 1; i <= k; i++)); do
      case $shape in
        cmp) echo "add rule ip t out ip daddr 10.9.$((i / 250)).$((i % 250)) counter" ;;
        set) echo "add rule ip t out ip daddr @s counter" ;;
        vmap) echo "add rule ip t out ip daddr . meta l4proto . th dport vmap @m" ;;
      esac
    done
  } > "$dir/rules.nft"
  unshare -n sh -c "ip link set lo up && nft -f '$dir/rules.nft' && /usr/bin/time -f '%S' python3 '$dir/send.py' $N" 2>&1 | tail -1
}
base=$(run cmp 0)
for shape in cmp set vmap; do
  sys=$(run "$shape" "$K")
  python3 -c "import sys; b,s,k,n=map(float,sys.argv[1:]); print('$shape', int(k), int(n), s, round((s-b)*1e9/(k*n), 1))" "$base" "$sys" "$K" "$N"
done
