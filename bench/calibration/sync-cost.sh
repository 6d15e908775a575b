#!/usr/bin/env bash
# Measures what MODEL.md "Sync cost" lists: iptables-restore (legacy and nft backends) and nft -f
# times against kube-proxy-shaped tables, each in a fresh network namespace (unshare -n).
# Needs root, iptables-legacy-restore, iptables-nft-restore, nft and python3; prints one line per
# run: TOOL SERVICES TABLE_OBJECTS FIRST_US [SECOND_US].
#   legacy|nft N R a b : a = restore of R rules into empty tables, b = the same restore again (replace)
#   small-legacy|small-nft N R t : a 4-line --noflush restore into a table of R rules
#   nft-f N R a / nft-f-small N R t : kube-proxy-nftables-shaped `nft -f` transactions
# Usage: sudo bench/calibration/sync-cost.sh [SERVICES...]   (default 250 1000 2500 5000 10000)
set -euo pipefail
if [ "$(id -u)" != 0 ]; then echo "sync-cost.sh: needs root (network namespaces)" >&2; exit 2; fi
for tool in iptables-legacy-restore iptables-nft-restore nft python3 unshare; do
  command -v "$tool" >/dev/null || { echo "sync-cost.sh: $tool not found" >&2; exit 2; }
done
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(250 1000 2500 5000 10000)

cat > "$dir/gen.py" <<'EOF'
import sys
kind, n = sys.argv[1], int(sys.argv[2])
def ip(i, net): a, b = divmod(i, 250); return f"{net}.{a}.{b+1}"
if kind == "iptables":
    # per Service: KUBE-SERVICES rule, KUBE-SVC chain (1 jump), KUBE-SEP chain (MARK + DNAT)
    out, rules = ["*nat", ":KUBE-SERVICES - [0:0]", ":KUBE-MARK-MASQ - [0:0]"], []
    for i in range(n):
        c, e = ip(i, "172.30"), ip(i, "10.180")
        out += [f":KUBE-SVC-{i:016X} - [0:0]", f":KUBE-SEP-{i:016X} - [0:0]"]
        rules += [f'-A KUBE-SERVICES -m comment --comment "ns/svc{i}:http cluster IP" -m tcp -p tcp -d {c} --dport 80 -j KUBE-SVC-{i:016X}',
                  f'-A KUBE-SVC-{i:016X} -m comment --comment "ns/svc{i}:http -> {e}:80" -j KUBE-SEP-{i:016X}',
                  f'-A KUBE-SEP-{i:016X} -m comment --comment ns/svc{i}:http -s {e} -j KUBE-MARK-MASQ',
                  f'-A KUBE-SEP-{i:016X} -m comment --comment ns/svc{i}:http -m tcp -p tcp -j DNAT --to-destination {e}:80']
    print("\n".join(out + rules + ["-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000", "COMMIT"]))
elif kind == "iptables-small":
    print("\n".join(["*nat", ":KUBE-SVC-NEW - [0:0]", ":KUBE-SEP-NEW - [0:0]",
        '-A KUBE-SERVICES -m tcp -p tcp -d 172.31.0.1 --dport 80 -j KUBE-SVC-NEW',
        '-A KUBE-SVC-NEW -j KUBE-SEP-NEW', '-A KUBE-SEP-NEW -s 10.181.0.1 -j KUBE-MARK-MASQ',
        '-A KUBE-SEP-NEW -m tcp -p tcp -j DNAT --to-destination 10.181.0.1:80', "COMMIT"]))
else:
    # per Service: 2 chains, 4 rules, 1 verdict-map element (7 commands)
    small = kind == "nft-small"
    out = [] if small else ["add table ip kube-proxy",
        "add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }",
        "add chain ip kube-proxy services",
        "add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips"]
    for i in (range(1) if small else range(n)):
        c, e = (("172.31.0.1", "10.181.0.1") if small else (ip(i, "172.30"), ip(i, "10.180")))
        s, p = (f"service-NEW", f"endpoint-NEW") if small else (f"service-{i:08X}-ns/svc{i}/tcp/http", f"endpoint-{i:08X}-ns/svc{i}/tcp/http__{e}/80")
        out += [f"add chain ip kube-proxy {s}", f"add chain ip kube-proxy {p}",
                f"add rule ip kube-proxy {s} ip daddr {c} tcp dport 80 ip saddr != 10.0.0.0/8 meta mark set mark or 0x4000",
                f"add rule ip kube-proxy {s} numgen random mod 1 vmap {{ 0 : goto {p} }}",
                f"add rule ip kube-proxy {p} ip saddr {e} meta mark set mark or 0x4000",
                f"add rule ip kube-proxy {p} meta l4proto tcp dnat to {e}:80",
                f"add element ip kube-proxy service-ips {{ {c} . tcp . 80 : goto {s} }}"]
    print("\n".join(out))
EOF
python3 "$dir/gen.py" iptables-small 0 > "$dir/small.txt"
python3 "$dir/gen.py" nft-small 0 > "$dir/nsmall.txt"
us() { echo $(( ($2 - $1) / 1000 )); }
for n in "${sizes[@]}"; do
  python3 "$dir/gen.py" iptables "$n" > "$dir/r.txt"
  python3 "$dir/gen.py" nft "$n" > "$dir/n.txt"
  for be in legacy nft; do
    echo "$be $n $((n * 4 + 1)) $(unshare -n bash -c "s=\$(date +%s%N); iptables-$be-restore < $dir/r.txt; m=\$(date +%s%N); iptables-$be-restore < $dir/r.txt; e=\$(date +%s%N); echo \$(( (m-s)/1000 )) \$(( (e-m)/1000 ))")"
    echo "small-$be $n $((n * 4 + 1)) $(unshare -n bash -c "iptables-$be-restore < $dir/r.txt; s=\$(date +%s%N); iptables-$be-restore --noflush < $dir/small.txt; e=\$(date +%s%N); echo \$(( (e-s)/1000 ))")"
  done
  echo "nft-f $n $((n * 7 + 4)) $(unshare -n bash -c "s=\$(date +%s%N); nft -f $dir/n.txt; m=\$(date +%s%N); nft -f $dir/nsmall.txt; e=\$(date +%s%N); echo \$(( (m-s)/1000 )) \$(( (e-m)/1000 ))")"
done
