/**
 * Goal: ipsets as the kernel's set types define them (ip_set_hash_ipport.c, ip_set_hash_ipportip.c,
 * ip_set_hash_ipportnet.c, ip_set_hash_net.c, ip_set_bitmap_port.c; ports from the packet by
 * ip_set_getport.c get_port) and `-m set --match-set NAME FLAGS` (xt_set.c) with src/dst per
 * dimension, loaded by `ipset restore` and printed as `ipset list`. Method: hand-written sets in
 * kube-proxy's IPVS-mode shapes (pkg/proxy/ipvs/ipset.go), packets built to hit and miss each
 * dimension, and the rules upstream's IPVS proxier writes.
 */
import { describe, expect, it } from "vitest"
import { Verdict } from "../../src/net/hooks.ts"
import { IpSet, IpSetError, IpSetTable } from "../../src/netfilter/ipset.ts"
import { makeNode, receive, tcp, udp, icmpEcho, CNI0 } from "./helpers.ts"

const RESTORE = [
  "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536",
  "add KUBE-CLUSTER-IP 10.96.0.10,tcp:80",
  "add KUBE-CLUSTER-IP 10.96.0.10,udp:53",
  "create KUBE-LOOP-BACK hash:ip,port,ip family inet hashsize 1024 maxelem 65536",
  "add KUBE-LOOP-BACK 10.244.1.5,tcp:8080,10.244.1.5",
  "create KUBE-LOAD-BALANCER-SOURCE-CIDR hash:ip,port,net family inet hashsize 1024 maxelem 65536",
  "add KUBE-LOAD-BALANCER-SOURCE-CIDR 1.2.3.4,tcp:80,203.0.113.0/24",
  "add KUBE-LOAD-BALANCER-SOURCE-CIDR 1.2.3.4,tcp:80,198.51.100.7",
  "create KUBE-NODE-PORT-TCP bitmap:port range 0-65535",
  "add KUBE-NODE-PORT-TCP 30080",
  "create EXCLUDE hash:net family inet hashsize 1024 maxelem 65536",
  "add EXCLUDE 10.0.0.0/8",
  "add EXCLUDE 192.168.7.0/24",
  "",
].join("\n")

describe("ipset types", () => {
  const t = new IpSetTable()
  t.restore(RESTORE)
  const set = (name: string): IpSet => t.get(name) as IpSet

  it("hash:ip,port: address, protocol and port; the protocol is part of the element", () => {
    const s = set("KUBE-CLUSTER-IP")
    expect(s.test(tcp("10.244.0.2", 40000, "10.96.0.10", 80), 2, false, false, false)).toBe(true)
    expect(s.test(udp("10.244.0.2", 40000, "10.96.0.10", 80), 2, false, false, false)).toBe(false)
    expect(s.test(udp("10.244.0.2", 40000, "10.96.0.10", 53), 2, false, false, false)).toBe(true)
    expect(s.test(tcp("10.244.0.2", 40000, "10.96.0.10", 81), 2, false, false, false)).toBe(false)
    // src,dst: address from the source, port from the destination.
    expect(s.test(tcp("10.96.0.10", 1, "10.244.0.2", 80), 2, true, false, false)).toBe(true)
    // Fewer flags than the set's dimension never match (ip_set_test).
    expect(s.test(tcp("10.244.0.2", 40000, "10.96.0.10", 80), 1, false, false, false)).toBe(false)
    // ICMP: port = type << 8 | code (get_port), so echo-request (8/0) is 2048.
    expect(s.test(icmpEcho("10.244.0.2", "10.96.0.10", 7), 2, false, false, false)).toBe(false)
    const withIcmp = new IpSet("P", "hash:ip,port")
    withIcmp.add("10.96.0.10,icmp:2048")
    expect(withIcmp.test(icmpEcho("10.244.0.2", "10.96.0.10", 7), 2, false, false, false)).toBe(true)
  })

  it("hash:ip,port,ip and hash:ip,port,net (longest prefix first), hash:net", () => {
    const loop = set("KUBE-LOOP-BACK")
    expect(loop.test(tcp("10.244.1.5", 1234, "10.244.1.5", 8080), 3, false, false, true)).toBe(true)
    expect(loop.test(tcp("10.244.1.6", 1234, "10.244.1.5", 8080), 3, false, false, true)).toBe(false)
    const cidr = set("KUBE-LOAD-BALANCER-SOURCE-CIDR")
    expect(cidr.test(tcp("203.0.113.77", 5, "1.2.3.4", 80), 3, false, false, true)).toBe(true)
    expect(cidr.test(tcp("198.51.100.7", 5, "1.2.3.4", 80), 3, false, false, true)).toBe(true)
    expect(cidr.test(tcp("198.51.100.8", 5, "1.2.3.4", 80), 3, false, false, true)).toBe(false)
    expect(cidr.list()).toEqual(["1.2.3.4,tcp:80,203.0.113.0/24", "1.2.3.4,tcp:80,198.51.100.7"])
    const net = set("EXCLUDE")
    expect(net.test(tcp("10.9.9.9", 1, "8.8.8.8", 53), 1, true, false, false)).toBe(true)
    expect(net.test(tcp("192.168.7.200", 1, "8.8.8.8", 53), 1, true, false, false)).toBe(true)
    expect(net.test(tcp("192.168.8.1", 1, "8.8.8.8", 53), 1, true, false, false)).toBe(false)
  })

  it("a test after adds and deletes finds exactly the current elements (the packet-path index is rebuilt)", () => {
    // Tests interleaved with changes: a lookup structure kept for the packet path must never answer
    // from a state before the last add/del (sets change at every sync while packets test them).
    const s = new IpSet("C", "hash:ip,port")
    const probe = (port: number): boolean => s.test(udp("10.244.0.2", 4000, "10.96.0.10", port), 2, false, false, false)
    expect(probe(53)).toBe(false)
    for (let port = 1; port <= 40; port++) s.add(`10.96.0.10,udp:${port}`)
    for (let port = 1; port <= 41; port++) expect(probe(port)).toBe(port <= 40)
    for (let port = 1; port <= 40; port += 2) s.del(`10.96.0.10,udp:${port}`)
    for (let port = 1; port <= 40; port++) expect(probe(port)).toBe(port % 2 === 0)
    s.flush()
    expect(probe(2)).toBe(false)
    s.add("10.96.0.10,udp:2")
    expect(probe(2)).toBe(true)
    // hash:ip,port,ip: the third dimension added to a pair the index already holds is seen at once.
    const loop = new IpSet("L", "hash:ip,port,ip")
    loop.add("10.244.1.5,tcp:8080,10.244.1.5")
    const hairpin = (src: string): boolean => loop.test(tcp(src, 1234, "10.244.1.5", 8080), 3, false, false, true)
    expect(hairpin("10.244.1.6")).toBe(false)
    loop.add("10.244.1.5,tcp:8080,10.244.1.6")
    expect(hairpin("10.244.1.6")).toBe(true)
    loop.del("10.244.1.5,tcp:8080,10.244.1.5")
    expect(hairpin("10.244.1.5")).toBe(false)
    expect(hairpin("10.244.1.6")).toBe(true)
  })

  it("bitmap:port: the port in range, TCP or UDP only (ip_set_get_ip_port)", () => {
    const np = set("KUBE-NODE-PORT-TCP")
    expect(np.test(tcp("1.1.1.1", 5, "192.168.0.2", 30080), 1, false, false, false)).toBe(true)
    expect(np.test(udp("1.1.1.1", 5, "192.168.0.2", 30080), 1, false, false, false)).toBe(true)
    expect(np.test(tcp("1.1.1.1", 5, "192.168.0.2", 30081), 1, false, false, false)).toBe(false)
    // An ICMP echo request has port 8 << 8 | 0 = 2048 for get_port, but bitmap:port refuses ICMP.
    const icmp = new IpSet("I", "bitmap:port", { portFirst: 0, portLast: 65535 })
    icmp.add("2048")
    expect(icmp.test(icmpEcho("1.1.1.1", "192.168.0.2", 7), 1, false, false, false)).toBe(false)
    expect(icmp.test(udp("1.1.1.1", 5, "192.168.0.2", 2048), 1, false, false, false)).toBe(true)
    const narrow = new IpSet("N", "bitmap:port", { portFirst: 30000, portLast: 32767 })
    expect(() => narrow.add("80")).toThrow(/out of the range/)
  })

  it("restore is all or nothing, -exist tolerates repeats, list prints as ipset list", () => {
    expect(() => t.restore("add KUBE-CLUSTER-IP 10.96.0.11,tcp:80\nadd NOPE 1.2.3.4,tcp:1\n")).toThrow(
      /line 2: The set with the given name does not exist: NOPE/,
    )
    expect(set("KUBE-CLUSTER-IP").size).toBe(2)
    expect(() => t.restore("add KUBE-CLUSTER-IP 10.96.0.10,tcp:80\n")).toThrow(/already added/)
    t.restore("add KUBE-CLUSTER-IP 10.96.0.10,tcp:80 -exist\n")
    expect(t.list({ name: "KUBE-CLUSTER-IP", sorted: true })).toBe(
      [
        "Name: KUBE-CLUSTER-IP",
        "Type: hash:ip,port",
        "Header: family inet hashsize 1024 maxelem 65536",
        "References: 0",
        "Number of entries: 2",
        "Members:",
        "10.96.0.10,tcp:80",
        "10.96.0.10,udp:53",
        "",
      ].join("\n"),
    )
    expect(() => new IpSet("X", "hash:ip,port").add("10.0.0.1")).toThrow(IpSetError)
  })
})

describe("-m set --match-set", () => {
  it("matches in rules, refuses unknown sets, counts references and blocks destroy", () => {
    const { host, stack } = makeNode()
    stack.ipsetRestore(RESTORE)
    expect(() => stack.restore("*filter\n-A INPUT -m set --match-set NOPE dst -j DROP\nCOMMIT\n")).toThrow(
      /Set NOPE doesn't exist/,
    )
    stack.restore(
      [
        "*filter",
        ":INPUT ACCEPT [0:0]",
        "-A INPUT -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT",
        "-A INPUT -m set ! --match-set EXCLUDE src -j DROP",
        "COMMIT",
        "",
      ].join("\n"),
    )
    host.local.add(0x0a60000a) // 10.96.0.10 on the dummy interface, as kube-ipvs0 holds it
    expect(receive(stack, host, tcp("192.168.5.1", 999, "10.96.0.10", 80), CNI0, 1).verdict).toBe(Verdict.ACCEPT)
    // Not in KUBE-CLUSTER-IP and the source not in EXCLUDE: dropped by the inverted match.
    expect(receive(stack, host, tcp("192.168.5.1", 999, "10.96.0.10", 81), CNI0, 2).verdict).toBe(Verdict.DROP)
    expect(receive(stack, host, tcp("10.1.1.1", 999, "10.96.0.10", 81), CNI0, 3).verdict).toBe(Verdict.ACCEPT)
    // Sets updated after the rules were loaded are seen by them (rules hold the live set).
    stack.ipsetRestore("add KUBE-CLUSTER-IP 10.96.0.10,tcp:81\n")
    expect(receive(stack, host, tcp("192.168.5.1", 999, "10.96.0.10", 81), CNI0, 4).verdict).toBe(Verdict.ACCEPT)
    expect(stack.ipSetReferences("KUBE-CLUSTER-IP")).toBe(1)
    expect(stack.ipsetList({ name: "EXCLUDE" })).toContain("References: 1")
    expect(() => stack.ipsetRestore("destroy EXCLUDE\n")).toThrow(/in use by a kernel component/)
    stack.ipsetRestore("destroy KUBE-NODE-PORT-TCP\n")
    expect(stack.ipSet("KUBE-NODE-PORT-TCP")).toBeUndefined()
  })
})

describe("ipset contents are copy on write between namespaces", () => {
  it("shares the elements of equal restores, and a change on one namespace leaves the other's as they were", () => {
    const a = new IpSetTable()
    const b = new IpSetTable()
    a.restore(RESTORE)
    b.restore(RESTORE)
    const names = [
      "KUBE-CLUSTER-IP",
      "KUBE-LOOP-BACK",
      "KUBE-LOAD-BALANCER-SOURCE-CIDR",
      "KUBE-NODE-PORT-TCP",
      "EXCLUDE",
    ]
    // Same starting elements, same changes: one elements object per set, not one per namespace.
    for (const name of names) expect(a.get(name)?.contents).toBe(b.get(name)?.contents)
    const aIp = a.get("KUBE-CLUSTER-IP") as IpSet
    const bIp = b.get("KUBE-CLUSTER-IP") as IpSet
    // The same delta from the same state: shared again; the live IpSet objects stay (rules hold them).
    a.restore("add KUBE-CLUSTER-IP 10.96.0.11,tcp:443\ndel KUBE-CLUSTER-IP 10.96.0.10,udp:53\n")
    b.restore("add KUBE-CLUSTER-IP 10.96.0.11,tcp:443\ndel KUBE-CLUSTER-IP 10.96.0.10,udp:53\n")
    expect(a.get("KUBE-CLUSTER-IP")).toBe(aIp)
    expect(aIp.contents).toBe(bIp.contents)
    expect(aIp.list()).toEqual(["10.96.0.10,tcp:80", "10.96.0.11,tcp:443"])
    // A different change on b: b's set changes, a's does not (lookups and listing).
    b.restore("add KUBE-CLUSTER-IP 10.96.0.12,udp:53\n")
    expect(aIp.contents).not.toBe(bIp.contents)
    const probe = udp("10.244.0.2", 40000, "10.96.0.12", 53)
    expect(bIp.test(probe, 2, false, false, false)).toBe(true)
    expect(aIp.test(probe, 2, false, false, false)).toBe(false)
    expect(aIp.size).toBe(2)
    // A direct write copies a shared object first; a flush and re-add of the same elements in one
    // restore gives the same elements as before, in the new insertion order.
    const aPorts = a.get("KUBE-NODE-PORT-TCP") as IpSet
    const bPorts = b.get("KUBE-NODE-PORT-TCP") as IpSet
    aPorts.add("30081")
    expect(aPorts.contents).not.toBe(bPorts.contents)
    expect(bPorts.list()).toEqual(["30080"])
    b.restore("flush EXCLUDE\nadd EXCLUDE 192.168.7.0/24\nadd EXCLUDE 10.0.0.0/8\n")
    expect(b.get("EXCLUDE")?.list()).toEqual(["192.168.7.0/24", "10.0.0.0/8"])
    expect(a.get("EXCLUDE")?.list()).toEqual(["10.0.0.0/8", "192.168.7.0/24"])
    // A restore that fails part-way changes nothing.
    expect(() => b.restore("add EXCLUDE 172.16.0.0/12\nadd EXCLUDE 10.0.0.0/8\n")).toThrow(/already added/)
    expect(b.get("EXCLUDE")?.size).toBe(2)
  })
})
