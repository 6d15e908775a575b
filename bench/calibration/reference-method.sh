#!/usr/bin/env bash
# Re-runs ../shared/reference/kernel-calibration.md's methods with the native probe (probe.c):
#   section 1: ICMP echo RTT (64-byte echoes, one at a time, GAP_US apart as `ping -i 0.002`)
#              with K non-matching `-A INPUT -s 10.200.X.Y/32 -p tcp --dport 80 -j DROP` rules
#              in the receiving namespace;
#   section 2: UDP echo RTT of new flows (a new socket per echo) and of one flow, with K
#              non-matching `-A PREROUTING -d 10.201.X.Y/32 -p udp --dport 9000 -j DNAT` rules.
# Prints one line per (section, K, round): min, p10, p50, mean, p90 in us, and the load average.
# Usage: sudo bench/calibration/reference-method.sh [ROUNDS=2] [COUNT=400] [GAP_US=2000] [K...]
set -euo pipefail
if [ "$(id -u)" != 0 ]; then echo "reference-method.sh: needs root (network namespaces)" >&2; exit 2; fi
rounds=${1:-2}; count=${2:-400}; gap=${3:-2000}; shift $(( $# < 3 ? $# : 3 ))
ks=("$@"); [ ${#ks[@]} -gt 0 ] || ks=(0 1000 5000 10000)
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d); a=kvref$$a; b=kvref$$b
cleanup() { kill "${server:-0}" 2>/dev/null || true; ip netns del $a 2>/dev/null || true; ip netns del $b 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
gcc -O2 -o "$dir/probe" "$here/../../src/calibrate/probe.c"
ip netns add $a; ip netns add $b
ip -n $a link add eth0 type veth peer name eth0 netns $b
ip -n $a addr add 10.252.0.1/30 dev eth0; ip -n $a link set eth0 up; ip -n $a link set lo up
ip -n $b addr add 10.252.0.2/30 dev eth0; ip -n $b link set eth0 up; ip -n $b link set lo up
ip netns exec $b "$dir/probe" echo 10.252.0.2 9000 > /dev/null & server=$!
sleep 0.3
stats() { sort -n | awk -v what="$1" -v load="$(cut -d' ' -f1 /proc/loadavg)" '
  $1 >= 0 { v[n++] = $1; s += $1 }
  END { printf "%-28s min %7.1f p10 %7.1f p50 %7.1f mean %7.1f p90 %7.1f us  (%d, load %s)\n", what,
        v[0]/1000, v[int(n*0.1)]/1000, v[int(n*0.5)]/1000, s/n/1000, v[int(n*0.9)]/1000, n, load }'; }
rules() { # $1 = filter|nat, $2 = K
  python3 - "$1" "$2" <<'PY'
import sys
kind, k = sys.argv[1], int(sys.argv[2])
def ip(net, i): a, b = divmod(i, 250); return f"{net}.{a}.{b+1}"
if kind == "filter":
    print("*filter\n:INPUT ACCEPT [0:0]")
    for i in range(k): print(f"-A INPUT -s {ip('10.200', i)}/32 -p tcp --dport 80 -j DROP")
    print("COMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT")
else:
    print("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]")
    for i in range(k): print(f"-A PREROUTING -d {ip('10.201', i)}/32 -p udp --dport 9000 -j DNAT --to-destination 10.202.0.1:9000")
    print("COMMIT")
PY
}
for r in $(seq 1 "$rounds"); do
  for k in "${ks[@]}"; do
    rules filter "$k" | ip netns exec $b iptables-restore; sleep 1
    ip netns exec $a "$dir/probe" icmp 10.252.0.2 "$count" "$gap" | stats "filter K=$k icmp r$r"
  done
  for k in "${ks[@]}"; do
    rules nat "$k" | ip netns exec $b iptables-restore; sleep 1
    ip netns exec $b conntrack -F >/dev/null 2>&1 || true
    ip netns exec $a "$dir/probe" ping 10.252.0.2 9000 "$count" new 20 "$gap" | stats "nat K=$k new r$r"
    ip netns exec $a "$dir/probe" ping 10.252.0.2 9000 "$count" same 20 "$gap" | stats "nat K=$k same r$r"
    ip netns exec $a "$dir/probe" ping 10.252.0.2 9000 "$count" new 20 0 | stats "nat K=$k new gap0 r$r"
  done
done
