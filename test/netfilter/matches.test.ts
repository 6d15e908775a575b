/**
 * Goal: statistic, recent, mark, multiport, REJECT behave as the kernel defines them.
 * Method: thresholds are compared with lround(2^31 p) (libxt_statistic.c); the per-packet rule
 * (xt_statistic.c) is checked against the raw rng stream; kube-proxy's 1/(n-i) chain is driven with
 * many new connections and a chi-square test at 1 %; recent lists run on simulated time.
 */
import { describe, expect, it } from "vitest"
import { Rng } from "../../src/sim/rng.ts"
import { NS_PER_S } from "../../src/sim/time.ts"
import { Hook, RejectWith, Verdict } from "../../src/net/hooks.ts"
import { formatIpv4, ipv4 } from "../../src/wire/ipv4.ts"
import { TcpFlag } from "../../src/wire/protocol.ts"
import { StatisticMatch, statisticThreshold } from "../../src/netfilter/ext/xt_statistic.ts"
import { extensive } from "../tier.ts"
import { makeNode, probability, receive, send, tcp, udp } from "./helpers.ts"

describe("statistic", () => {
  it("threshold = lround(0x80000000 * p) from the printed decimal (libxt_statistic.c)", () => {
    // 0.3333333333 * 2^31 = 715827882.595..., lround -> 715827883 (truncation would give ...882).
    expect(statisticThreshold("0.3333333333")).toBe(715827883)
    expect(statisticThreshold("0.2000000000")).toBe(429496730)
    expect(statisticThreshold("0.5000000000")).toBe(1073741824)
    expect(statisticThreshold("0.2500000000")).toBe(536870912)
    expect(statisticThreshold("0.1666666667")).toBe(357913941)
    expect(statisticThreshold("0.0010000000")).toBe(2147484)
    expect(statisticThreshold("0.0000099999")).toBe(21475)
    expect(statisticThreshold("1.0000000000")).toBe(2147483648)
    expect(statisticThreshold("0")).toBe(0)
    expect(() => statisticThreshold("1.5")).toThrow()
    expect(() => statisticThreshold("abc")).toThrow()
  })

  it("matches when (rng.uint32() & 0x7fffffff) < threshold, one draw per evaluation (xt_statistic.c)", () => {
    const { stack } = makeNode({}, 3)
    stack.restore(
      `*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m statistic --mode random --probability 0.3333333333 -j MARK --set-xmark 0x1/0xffffffff\nCOMMIT\n`,
    )
    const mirror = Rng.stream(3, "test/netfilter")
    for (let i = 0; i < 2000; i++) {
      const p = udp("10.0.0.2", 1000 + i, "10.0.0.3", 53)
      p.untracked = true
      stack.runHook(Hook.PREROUTING, p, 1, -1, 0)
      const expected = (mirror.uint32() & 0x7fffffff) < 715827883
      expect(p.mark === 1).toBe(expected)
    }
  })

  it("nth mode: every n-th packet starting at --packet (count starts at every-packet)", () => {
    const { stack } = makeNode()
    stack.restore(
      `*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m statistic --mode nth --every 3 --packet 1 -j NOTRACK\nCOMMIT\n`,
    )
    const hits: number[] = []
    for (let i = 0; i < 9; i++) {
      const p = udp("10.0.0.2", 1000, "10.0.0.3", 53)
      stack.runHook(Hook.PREROUTING, p, 1, -1, 0)
      if (p.untracked) hits.push(i)
    }
    // every=2 (3-1), count starts at 2-1=1: 2, 0 -> match at the 2nd packet, then every 3rd.
    expect(hits).toEqual([1, 4, 7])
    const m = stack.table(0).chain("PREROUTING")?.rules[0].matches[0]
    expect(m).toBeInstanceOf(StatisticMatch)
  })

  // The quick tier splits 3 and 8 endpoints (20,000 connections each); the extensive tier adds 2 and 5.
  for (const n of extensive ? [2, 3, 5, 8] : [3, 8]) {
    it(`kube-proxy's probability chain splits ${n} endpoints uniformly (chi-square, 1 %)`, () => {
      const { stack, host } = makeNode({}, 100 + n)
      const lines = ["*nat", ":PREROUTING ACCEPT [0:0]", ":KUBE-SVC-X - [0:0]"]
      for (let i = 0; i < n; i++) lines.push(`:KUBE-SEP-${i} - [0:0]`)
      lines.push("-A PREROUTING -d 172.30.0.10 -p tcp -m tcp --dport 80 -j KUBE-SVC-X")
      for (let i = 0; i < n; i++) {
        const stat = i < n - 1 ? `-m statistic --mode random --probability ${probability(n - i)} ` : ""
        lines.push(`-A KUBE-SVC-X ${stat}-j KUBE-SEP-${i}`)
      }
      for (let i = 0; i < n; i++)
        lines.push(`-A KUBE-SEP-${i} -p tcp -m tcp -j DNAT --to-destination 10.180.0.${i + 1}:8080`)
      lines.push("COMMIT", "")
      stack.restore(lines.join("\n"))
      const counts = new Array<number>(n).fill(0)
      const connections = 20000
      for (let c = 0; c < connections; c++) {
        const p = tcp(formatIpv4(ipv4("10.1.0.0") + (c >> 14)), 1024 + (c & 16383), "172.30.0.10", 80)
        expect(receive(stack, host, p, 1, c).verdict).toBe(Verdict.ACCEPT)
        counts[(p.dstAddr & 255) - 1]++
      }
      const expected = connections / n
      const chi2 = counts.reduce((s, k) => s + (k - expected) ** 2 / expected, 0)
      // chi-square critical values at 1 % for df = n-1.
      const critical: Record<number, number> = { 1: 6.635, 2: 9.21, 4: 13.277, 7: 18.475 }
      expect(chi2).toBeLessThan(critical[n - 1])
      expect(stack.conntrack.count).toBe(connections)
    })
  }
})

describe("recent", () => {
  const rules = `*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SVC - [0:0]
:KUBE-SEP-A - [0:0]
:KUBE-SEP-B - [0:0]
-A PREROUTING -d 172.30.0.10 -p tcp -m tcp --dport 80 -j KUBE-SVC
-A KUBE-SVC -m recent --name KUBE-SEP-A --rcheck --seconds 10 --reap -j KUBE-SEP-A
-A KUBE-SVC -m recent --name KUBE-SEP-B --rcheck --seconds 10 --reap -j KUBE-SEP-B
-A KUBE-SVC -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-A
-A KUBE-SVC -j KUBE-SEP-B
-A KUBE-SEP-A -m recent --name KUBE-SEP-A --set -p tcp -m tcp -j DNAT --to-destination 10.180.0.1:80
-A KUBE-SEP-B -m recent --name KUBE-SEP-B --set -p tcp -m tcp -j DNAT --to-destination 10.180.0.2:80
COMMIT
`
  it("session affinity sticks within --seconds and expires after, on simulated time", () => {
    const { stack, host } = makeNode({}, 11)
    stack.restore(rules)
    const first = tcp("10.0.0.2", 30000, "172.30.0.10", 80)
    receive(stack, host, first, 1, 0)
    const chosen = first.dstAddr
    for (let i = 1; i < 50; i++) {
      const p = tcp("10.0.0.2", 30000 + i, "172.30.0.10", 80)
      receive(stack, host, p, 1, i * 100_000_000) // every 0.1 s, within 10 s of the last --set
      expect(p.dstAddr).toBe(chosen)
    }
    // After 10 s without a new connection the entry no longer passes --rcheck --seconds 10.
    const seen = new Set<number>()
    for (let i = 0; i < 40; i++) {
      const tNs = 30 * NS_PER_S + i * 11 * NS_PER_S
      const p = tcp("10.0.0.2", 40000 + i, "172.30.0.10", 80)
      receive(stack, host, p, 1, tNs)
      seen.add(p.dstAddr)
    }
    expect(seen.size).toBe(2)
  })

  it("--reap removes the stale LRU head; lists hold ip_list_tot entries, oldest evicted", () => {
    const { stack, host } = makeNode({ recentListTotal: 3 }, 5)
    stack.restore(`*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -s 10.9.0.0/16 -m recent --name L --set
-A OUTPUT -m recent --name L --rcheck --seconds 10 --reap -j NOTRACK
COMMIT
`)
    for (let c = 1; c <= 5; c++) receive(stack, host, udp(`10.9.0.${c}`, 1000, "10.0.0.3", 53), 1, (c - 1) * NS_PER_S)
    const list = stack.recentTables.get("L")
    if (list === undefined) throw new Error("list missing")
    // ip_list_tot = 3: clients 1 and 2 were evicted (LRU head first).
    expect(list.list().map((e) => formatIpv4(e.address))).toEqual(["10.9.0.3", "10.9.0.4", "10.9.0.5"])
    expect(list.evictions).toBe(2)
    // An address not in the list never reaches the reap (xt_recent.c: e == NULL -> out).
    send(stack, udp("10.8.0.1", 2000, "10.0.0.3", 53), 13.5 * NS_PER_S)
    expect(list.size).toBe(3)
    // At 13.5 s, "seen within 10 s" means stamp >= 3.5 s; each --reap evaluation removes at most the
    // LRU head, and never the entry being checked.
    const sizes: number[] = []
    for (let i = 0; i < 3; i++) {
      const probe = udp("10.9.0.5", 2000 + i, "10.0.0.3", 53)
      send(stack, probe, 13.5 * NS_PER_S)
      expect(probe.untracked).toBe(true)
      sizes.push(list.size)
    }
    expect(sizes).toEqual([2, 1, 1])
    expect(list.list().map((e) => formatIpv4(e.address))).toEqual(["10.9.0.5"])
    // --rcheck hits for 10.9.0.5 only while its stamp is within --seconds.
    const { stack: s2, host: h2 } = makeNode({}, 5)
    s2.restore(
      `*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m recent --name M --rcheck --seconds 10 -j NOTRACK\n-A PREROUTING -m recent --name M --set\nCOMMIT\n`,
    )
    const at = (tNs: number): boolean => {
      const p = udp("10.7.0.1", 3000, "10.0.0.3", 53)
      receive(s2, h2, p, 1, tNs)
      return p.untracked
    }
    expect(at(0)).toBe(false)
    expect(at(10 * NS_PER_S)).toBe(true) // stamp 0 >= 10 s - 10 s
    expect(at(20 * NS_PER_S + 1)).toBe(false) // newest stamp 10 s < 20 s + 1 ns - 10 s
  })
})

describe("targets and simple matches", () => {
  it("REJECT carries --reject-with; default icmp-port-unreachable", () => {
    const { stack, host } = makeNode()
    stack.restore(`*filter
:FORWARD ACCEPT [0:0]
-A FORWARD -p tcp -m tcp --dport 81 -j REJECT --reject-with tcp-reset
-A FORWARD -p tcp -m multiport --dports 82,90:95 -j REJECT --reject-with icmp-host-unreachable
-A FORWARD -p tcp -m tcp --dport 83 -j REJECT
-A FORWARD -p tcp -m tcp --dport 84 -j DROP
COMMIT
`)
    const run = (port: number): [Verdict, number] => {
      const v = receive(stack, host, tcp("10.0.0.2", 1000 + port, "10.0.0.3", port), 1, 0).verdict
      return [v, stack.lastRejectWith]
    }
    expect(run(81)).toEqual([Verdict.REJECT, RejectWith.TCP_RESET])
    expect(run(82)).toEqual([Verdict.REJECT, RejectWith.ICMP_HOST_UNREACHABLE])
    expect(run(93)).toEqual([Verdict.REJECT, RejectWith.ICMP_HOST_UNREACHABLE])
    expect(run(83)).toEqual([Verdict.REJECT, RejectWith.ICMP_PORT_UNREACHABLE])
    expect(run(84)[0]).toBe(Verdict.DROP)
    expect(run(85)[0]).toBe(Verdict.ACCEPT)
    // A dropped first packet leaves no conntrack entry behind.
    expect(stack.conntrack.count).toBe(1)
  })

  it("MARK variants and -m mark with mask; kube-proxy's masquerade mark dance", () => {
    const { stack, host } = makeNode()
    stack.restore(`*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
-A PREROUTING -s 192.168.5.0/24 -j KUBE-MARK-MASQ
-A POSTROUTING -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -j MASQUERADE
COMMIT
`)
    const masq = tcp("192.168.5.7", 5000, "10.0.0.9", 80)
    masq.mark = 0x1
    receive(stack, host, masq, 0, 0)
    expect(formatIpv4(masq.srcAddr)).toBe("10.0.0.1")
    expect(masq.mark).toBe(0x1)
    const plain = tcp("192.168.6.7", 5000, "10.0.0.9", 80)
    receive(stack, host, plain, 0, 0)
    expect(formatIpv4(plain.srcAddr)).toBe("192.168.6.7")
    const { stack: s2 } = makeNode()
    s2.restore(
      `*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j MARK --set-mark 0xf0/0xff\n-A PREROUTING -j MARK --and-mark 0x30\nCOMMIT\n`,
    )
    const p = udp("1.2.3.4", 1, "10.0.0.9", 2)
    p.mark = 0x10f
    s2.runHook(Hook.PREROUTING, p, 0, -1, 0)
    expect(p.mark).toBe(0x30)
  })

  it("-i/-o with + wildcard and !, -p !, addrtype", () => {
    const { stack, host } = makeNode()
    stack.restore(`*filter
:FORWARD DROP [0:0]
-A FORWARD -i cni+ ! -o eth0 -j ACCEPT
-A FORWARD ! -p udp -i eth+ -j ACCEPT
COMMIT
`)
    expect(receive(stack, host, udp("10.0.0.2", 1, "10.0.0.3", 2), 1, 0).verdict).toBe(Verdict.ACCEPT)
    expect(receive(stack, host, udp("10.0.0.2", 1, "8.8.8.8", 2), 1, 0).verdict).toBe(Verdict.DROP)
    expect(receive(stack, host, tcp("8.8.8.8", 1, "10.0.0.3", 2), 0, 0).verdict).toBe(Verdict.ACCEPT)
    expect(receive(stack, host, udp("8.8.8.8", 1, "10.0.0.3", 2), 0, 0).verdict).toBe(Verdict.DROP)
    const forward = stack.table(3).chain("FORWARD")
    if (forward === undefined) throw new Error("no FORWARD")
    expect(stack.counters.get(forward, -1).packets).toBe(2)
    void TcpFlag
  })

  it("nfacct counts packets and bytes and always matches", () => {
    const { stack, host } = makeNode()
    stack.restore(`*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -m nfacct --nfacct-name seen -j ACCEPT\nCOMMIT\n`)
    for (let i = 0; i < 3; i++) receive(stack, host, udp("10.0.0.2", 1 + i, "10.0.0.3", 2), 1, 0)
    expect(stack.nfacctCounters.get("seen")).toMatchObject({ packets: 3, bytes: 180 })
  })
})
