/**
 * The walk memo (src/netfilter/walk-memo.ts) against the plain walk (ipt_do_table, stack.ts
 * traverse): two stacks with the same rules and sets, one memoising and one walking every packet,
 * see the same packet stream; verdicts, reject kinds, simulated costs, rules evaluated and every
 * rule and policy counter (`iptables-save -c`) must be the same, through an ipset change, a rule
 * restore and chains the memo must not take (statistic, an interface match, MARK).
 */
import { describe, expect, it } from "vitest"
import { Hook, Verdict } from "../../src/net/hooks.ts"
import { CtState, TableId } from "../../src/netfilter/constants.ts"
import { Packet } from "../../src/wire/packet.ts"
import { IcmpType, Protocol } from "../../src/wire/protocol.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import type { WalkMemo } from "../../src/netfilter/walk-memo.ts"
import { CNI0, ETH0, makeNode, routeOut } from "./helpers.ts"

const SETS = [
  "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536",
  "add KUBE-CLUSTER-IP 10.96.0.10,udp:53",
  "add KUBE-CLUSTER-IP 10.96.0.1,tcp:443",
  "create KUBE-LOAD-BALANCER hash:ip,port family inet hashsize 1024 maxelem 65536",
  "create KUBE-HEALTH-CHECK-NODE-PORT bitmap:port range 0-65535",
  "add KUBE-HEALTH-CHECK-NODE-PORT 30100",
  "create KUBE-IPVS-IPS hash:ip family inet hashsize 1024 maxelem 65536",
  "add KUBE-IPVS-IPS 10.96.0.10",
  "add KUBE-IPVS-IPS 10.96.0.1",
  "add KUBE-IPVS-IPS 10.96.0.99",
  "",
].join("\n")

/** IPVS mode's filter table (proxy/ipvs/compile.ts writes these chains) plus chains of every kind. */
const RULES = `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NODE-PORT - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-IPVS-FILTER - [0:0]
:KUBE-IPVS-OUT-FILTER - [0:0]
:GOTO-TARGET - [0:0]
-A INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER
-A INPUT -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL
-A INPUT -m comment --comment "kubernetes health check rules" -j KUBE-NODE-PORT
-A INPUT -p tcp --dport 22 -s 192.168.0.0/16 -j ACCEPT
-A INPUT -p tcp --dport 23 -j REJECT --reject-with tcp-reset
-A FORWARD -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -p udp --sport 1000:1999 -j GOTO-TARGET
-A FORWARD -d 10.244.0.0/16 -j ACCEPT
-A OUTPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-OUT-FILTER
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-NODE-PORT -m comment --comment "Kubernetes health check node port" -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT
-A KUBE-IPVS-FILTER -m set --match-set KUBE-LOAD-BALANCER dst,dst -j RETURN
-A KUBE-IPVS-FILTER -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN
-A KUBE-IPVS-FILTER -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j RETURN
-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT
-A KUBE-IPVS-OUT-FILTER -m set ! --match-set KUBE-IPVS-IPS src -p icmp -j DROP
-A GOTO-TARGET -p udp --dport 7 -j REJECT --reject-with icmp-host-unreachable
-A GOTO-TARGET -j RETURN
COMMIT
`

/** A later restore: FORWARD reaches impure rules (statistic, an interface match, MARK). */
const IMPURE = `*filter
:FORWARD DROP [0:0]
:KUBE-FORWARD - [0:0]
-A FORWARD -m statistic --mode random --probability 0.5 -j KUBE-FORWARD
-A FORWARD -i cni0 -j ACCEPT
-A FORWARD -j MARK --or-mark 0x8
-A FORWARD -m mark --mark 0x8/0x8 -p udp -j ACCEPT
-A KUBE-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
`

/** A small deterministic generator (xorshift32) so both stacks see the same stream. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s
  }
}

const DSTS = ["10.96.0.10", "10.96.0.1", "10.96.0.99", "10.244.1.5", "192.168.0.2", "10.0.0.1", "8.8.8.8"].map(ipv4)
const SRCS = ["10.244.1.5", "10.244.2.7", "192.168.3.4", "127.0.0.1", "10.96.0.10"].map(ipv4)
const PORTS = [53, 443, 22, 23, 7, 30100, 1500, 40000]
const CTSTATES = [CtState.NEW, CtState.ESTABLISHED, CtState.RELATED, CtState.INVALID, CtState.NEW | CtState.DNAT]
const HOOKS = [Hook.INPUT, Hook.FORWARD, Hook.OUTPUT]

function packetOf(next: () => number): { packet: Packet; hook: Hook } {
  const p = new Packet()
  const r = next()
  p.protocol = [Protocol.UDP, Protocol.TCP, Protocol.ICMP][r % 3]
  p.srcAddr = SRCS[(r >>> 2) % SRCS.length]
  p.dstAddr = DSTS[(r >>> 5) % DSTS.length]
  p.srcPort = PORTS[(r >>> 8) % PORTS.length]
  p.dstPort = PORTS[(r >>> 11) % PORTS.length]
  if (p.protocol === Protocol.ICMP) {
    p.icmpType = (r >>> 14) % 2 === 0 ? IcmpType.ECHO_REQUEST : IcmpType.DEST_UNREACHABLE
    p.srcPort = 0
    p.dstPort = 0
  }
  p.ctState = CTSTATES[(r >>> 16) % CTSTATES.length]
  p.mark = (r >>> 19) % 3 === 0 ? 0x4000 : 0
  p.totalBytes = 40 + ((r >>> 21) % 5) * 100
  return { packet: p, hook: HOOKS[(r >>> 24) % HOOKS.length] }
}

function copy(p: Packet): Packet {
  const q = new Packet()
  q.protocol = p.protocol
  q.srcAddr = p.srcAddr
  q.dstAddr = p.dstAddr
  q.srcPort = p.srcPort
  q.dstPort = p.dstPort
  q.icmpType = p.icmpType
  q.icmpCode = p.icmpCode
  q.ctState = p.ctState
  q.mark = p.mark
  q.totalBytes = p.totalBytes
  return q
}

/** Packets whose walks the set change below alters (RETURN instead of REJECT, and back). */
const PROBES: { packet: Packet; hook: Hook }[] = [
  ["10.96.0.99", 53],
  ["10.96.0.1", 53],
  ["10.96.0.1", 443],
].map(([dst, port]) => {
  const packet = new Packet()
  packet.protocol = Protocol.UDP
  packet.srcAddr = ipv4("10.244.1.5")
  packet.dstAddr = ipv4(dst as string)
  packet.srcPort = 40000
  packet.dstPort = port as number
  packet.ctState = CtState.NEW
  packet.totalBytes = 100
  return { packet, hook: Hook.INPUT }
})

/** Two nodes with the same sets and rules: one memoising its walks, one walking every packet. */
function memoAndPlain(): { memo: ReturnType<typeof makeNode>; plain: ReturnType<typeof makeNode> } {
  const memo = makeNode({}, 1)
  const plain = makeNode({}, 1)
  plain.stack.walkMemo = null
  for (const n of [memo, plain]) {
    n.stack.ipsetRestore(SETS)
    n.stack.restore(RULES)
  }
  return { memo, plain }
}

describe("walk memo", () => {
  it("is made at the namespace's first walk, not with its stack (80 KB a node no packet crosses does without)", () => {
    const node = makeNode({}, 1)
    node.stack.ipsetRestore(SETS)
    node.stack.restore(RULES)
    expect(node.stack.walkMemoMade).toBe(false)
    const { packet, hook } = PROBES[0]
    node.stack.runHook(hook, copy(packet), ETH0, -1, 0)
    expect(node.stack.walkMemoMade).toBe(true)
    // Disabled (the tests' reference): never made, even by a walk.
    const plain = makeNode({}, 1)
    plain.stack.walkMemo = null
    plain.stack.ipsetRestore(SETS)
    plain.stack.restore(RULES)
    plain.stack.runHook(hook, copy(packet), ETH0, -1, 0)
    expect(plain.stack.walkMemoMade).toBe(false)
    expect(plain.stack.walkMemo).toBeNull()
  })

  it("holds hits' counts back per slot and adds them in before any read: the same counters at every read", () => {
    // WalkMemo.pend (RuleCounters.PendingCounts): counters read at random points (iptables-save
    // -c, RuleCounters.get) must equal the plain walk's, through slot overwrites (many packet
    // classes in 256 slots), an ipset change (hashed slots freed), a restore of another table
    // (layout change: counts moved by carry), a filter restore with --counters (new values set)
    // and one with --noflush (kept). It fails if a held-back count is lost, doubled or late.
    const { memo, plain } = memoAndPlain()
    const next = rng(777)
    const filter = memo.stack.table(TableId.FILTER)
    let reads = 0
    const read = (): void => {
      reads++
      expect(memo.stack.save({ counters: true })).toBe(plain.stack.save({ counters: true }))
      const chains = [...memo.stack.table(TableId.FILTER).byName.values()]
      const chain = chains[next() % chains.length]
      const plainChain = plain.stack.table(TableId.FILTER).byName.get(chain.name)
      const i = (next() % (chain.rules.length + 1)) - 1
      if (plainChain !== undefined)
        expect(memo.stack.counters.get(chain, i)).toEqual(plain.stack.counters.get(plainChain, i))
    }
    const send = (count: number): void => {
      for (let i = 0; i < count; i++) {
        const { packet, hook } = packetOf(next)
        const inIf = hook === Hook.OUTPUT ? -1 : (i & 1) === 0 ? ETH0 : CNI0
        const outIf = hook === Hook.INPUT ? -1 : routeOut(packet.dstAddr)
        for (const n of [memo, plain]) n.stack.runHook(hook, copy(packet), inIf, outIf, i * 1000)
        if (next() % 50 === 0) read()
      }
      read()
    }
    send(3000)
    const hits = (memo.stack.walkMemo as WalkMemo).hits
    expect(hits).toBeGreaterThan(500)
    for (const n of [memo, plain])
      n.stack.ipsetRestore("add KUBE-LOAD-BALANCER 10.96.0.99,udp:53\ndel KUBE-IPVS-IPS 10.96.0.1\n")
    send(2000)
    for (const n of [memo, plain]) n.stack.restore("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n", { noflush: true })
    send(2000)
    // The filter table again with counters given (--counters): the held-back counts of the old
    // table's chains must not leak into the new values.
    const saved = plain.stack.save({ counters: true })
    const filterText = saved.slice(saved.indexOf("*filter"))
    for (const n of [memo, plain]) n.stack.restore(filterText, { counters: true })
    send(2000)
    for (const n of [memo, plain]) n.stack.restore(RULES, { noflush: true })
    send(2000)
    expect(memo.stack.table(TableId.FILTER)).not.toBe(filter)
    expect((memo.stack.walkMemo as WalkMemo).hits).toBeGreaterThan(hits + 1000)
    expect(reads).toBeGreaterThan(100)
  })

  it("gives every packet the plain walk's verdict, counters and cost, across set and rule changes", () => {
    const { memo, plain } = memoAndPlain()
    const next = rng(12345)
    let rejects = 0
    const run = (count: number): void => {
      const seenMemo: number[] = []
      const seenPlain: number[] = []
      const np = PROBES.length
      for (let i = 0; i < count + 2 * np; i++) {
        // Each phase starts and ends with the same probes (the memo holds them across a change).
        const { packet, hook } = i < np ? PROBES[i] : i < np + count ? packetOf(next) : PROBES[i - np - count]
        const inIf = hook === Hook.OUTPUT ? -1 : (i & 1) === 0 ? ETH0 : CNI0
        const outIf = hook === Hook.INPUT ? -1 : routeOut(packet.dstAddr)
        for (const [n, seen] of [
          [memo, seenMemo],
          [plain, seenPlain],
        ] as const) {
          const p = copy(packet)
          const v = n.stack.runHook(hook, p, inIf, outIf, i * 1000)
          const s = n.stack
          seen.push(v, s.lastCostNs, p.mark, v === Verdict.ACCEPT ? -1 : s.lastDropReason)
          seen.push(v === Verdict.REJECT ? s.lastRejectWith : -1)
        }
        if (seenMemo[seenMemo.length - 5] === Verdict.REJECT) rejects++
      }
      expect(seenMemo).toEqual(seenPlain)
      expect(memo.stack.rulesEvaluated).toBe(plain.stack.rulesEvaluated)
      expect(memo.stack.save({ counters: true })).toBe(plain.stack.save({ counters: true }))
    }
    run(2000)
    const hits = (memo.stack.walkMemo as WalkMemo).hits
    expect(hits).toBeGreaterThan(200)
    // A set change: the memo forgets what it learnt about the sets' contents.
    for (const n of [memo, plain])
      n.stack.ipsetRestore("add KUBE-LOAD-BALANCER 10.96.0.99,udp:53\ndel KUBE-IPVS-IPS 10.96.0.1\n")
    run(2000)
    // Restores that move, zero or keep counter arrays (RuleCounters.carry) while memoised walks
    // count into arrays they hold: another table restored (the filter table and its arrays stay),
    // then the filter table again with --noflush and no counters (its chains' counts zeroed).
    for (const n of [memo, plain]) n.stack.restore("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n", { noflush: true })
    run(1000)
    for (const n of [memo, plain]) n.stack.restore(RULES, { noflush: true })
    run(1000)
    // A restore with impure rules in FORWARD: walked, not memoised, and still the same.
    for (const n of [memo, plain]) n.stack.restore(IMPURE, { noflush: true })
    run(2000)
    expect(rejects).toBeGreaterThan(0)
  })

  it("stops memoising a walk whose packet classes do not repeat, with the same results", () => {
    const { memo, plain } = memoAndPlain()
    // FORWARD's plan keys on the source port (`--sport 1000:1999`): a new port per packet never hits.
    const out: number[][] = [[], []]
    for (let i = 0; i < 6000; i++)
      [memo, plain].forEach((n, j) => {
        const p = new Packet()
        p.protocol = Protocol.UDP
        p.srcAddr = ipv4("10.244.2.7")
        p.dstAddr = ipv4("10.244.1.5")
        // The last packets repeat one class: a kept plan would answer them from the memo.
        p.srcPort = i < 5990 ? 1000 + i : 1500
        p.dstPort = 53
        p.ctState = CtState.ESTABLISHED
        p.totalBytes = 100
        out[j].push(n.stack.runHook(Hook.FORWARD, p, ETH0, CNI0, i), n.stack.lastCostNs)
      })
    expect(out[0]).toEqual(out[1])
    expect(memo.stack.save({ counters: true })).toBe(plain.stack.save({ counters: true }))
    // Dropped at the first review (4,096 walks): even the repeated class is walked, not replayed.
    expect((memo.stack.walkMemo as WalkMemo).hits).toBe(0)
  })

  it("keys a conntrack state's walks on the fields that state's walks read", () => {
    // kube-proxy's FORWARD: a reply (ESTABLISHED) is accepted by KUBE-FORWARD; only NEW packets
    // reach KUBE-SERVICES' port rule, so only their key holds the destination port.
    const rules = `*filter
:FORWARD DROP [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-SERVICES - [0:0]
-A FORWARD -m conntrack --ctstate NEW -j KUBE-SERVICES
-A FORWARD -j KUBE-FORWARD
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m mark --mark 0x00004000/0x00004000 -j ACCEPT
-A KUBE-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-SERVICES -d 10.96.0.10/32 -p udp --dport 53 -j REJECT
COMMIT
`
    const memo = makeNode({}, 1)
    const plain = makeNode({}, 1)
    plain.stack.walkMemo = null
    for (const n of [memo, plain]) n.stack.restore(rules)
    const out: number[][] = [[], []]
    const states = [CtState.ESTABLISHED, CtState.ESTABLISHED | CtState.DNAT, CtState.NEW, CtState.INVALID]
    for (let i = 0; i < 4000; i++)
      [memo, plain].forEach((n, j) => {
        const p = new Packet()
        p.protocol = Protocol.UDP
        p.srcAddr = ipv4("10.244.2.7")
        p.dstAddr = ipv4(i % 8 === 2 ? "10.96.0.10" : "10.244.1.5")
        p.srcPort = 53
        // A new destination port per packet (a reply to a new flow's source port) or port 53.
        p.dstPort = i % 16 === 2 ? 53 : 1024 + i
        p.ctState = states[i % 4]
        p.mark = i % 5 === 0 ? 0x4000 : 0
        p.totalBytes = 100
        out[j].push(n.stack.runHook(Hook.FORWARD, p, ETH0, CNI0, i), n.stack.lastCostNs, n.stack.lastDropReason)
      })
    expect(out[0]).toEqual(out[1])
    expect(out[0].filter((v, k) => k % 3 === 0 && v === Verdict.REJECT).length).toBeGreaterThan(0)
    expect(memo.stack.rulesEvaluated).toBe(plain.stack.rulesEvaluated)
    expect(memo.stack.save({ counters: true })).toBe(plain.stack.save({ counters: true }))
    // ESTABLISHED and INVALID walks (half the packets) do not read the port: they repeat and hit.
    expect((memo.stack.walkMemo as WalkMemo).hits).toBeGreaterThan(1500)
  })

  it("keeps one outcome for a walk that reads no packet field, replaced with its table", () => {
    // IPVS mode's filter OUTPUT in the star: a jump to an empty KUBE-IPVS-OUT-FILTER (no match),
    // then the policy. INPUT: unconditional rules down to a DROP.
    const rules = (policy: string, drop: string): string => `*filter
:INPUT ACCEPT [0:0]
:OUTPUT ${policy} [0:0]
:KUBE-IPVS-OUT-FILTER - [0:0]
:KUBE-EMPTY - [0:0]
-A INPUT -j KUBE-EMPTY
-A INPUT -j ${drop}
-A OUTPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-OUT-FILTER
COMMIT
`
    const memo = makeNode({}, 1)
    const plain = makeNode({}, 1)
    plain.stack.walkMemo = null
    const out: number[][] = [[], []]
    const send = (count: number): void => {
      for (let i = 0; i < count; i++)
        [memo, plain].forEach((n, j) => {
          const p = new Packet()
          p.protocol = i % 3 === 0 ? Protocol.TCP : Protocol.UDP
          p.srcAddr = ipv4(i % 2 === 0 ? "10.244.2.7" : "10.244.1.5")
          p.dstAddr = ipv4("10.96.0.10")
          p.srcPort = 1024 + i
          p.dstPort = 53
          p.ctState = i % 4 === 0 ? CtState.NEW : CtState.ESTABLISHED
          p.totalBytes = 60 + (i % 7) * 10
          const hook = i % 2 === 0 ? Hook.OUTPUT : Hook.INPUT
          const v = n.stack.runHook(hook, p, hook === Hook.INPUT ? ETH0 : -1, hook === Hook.OUTPUT ? ETH0 : -1, i)
          out[j].push(v, n.stack.lastCostNs, v === Verdict.ACCEPT ? -1 : n.stack.lastDropReason)
        })
      expect(out[0]).toEqual(out[1])
      expect(memo.stack.rulesEvaluated).toBe(plain.stack.rulesEvaluated)
      expect(memo.stack.save({ counters: true })).toBe(plain.stack.save({ counters: true }))
    }
    for (const n of [memo, plain]) n.stack.restore(rules("ACCEPT", "DROP"))
    send(200)
    // Every walk but the first of each hook replayed, although each packet has its own port.
    expect((memo.stack.walkMemo as WalkMemo).hits).toBe(198)
    // Another table restored (counter layout kept or moved), then the filter table replaced: the
    // new table's outcome (OUTPUT's DROP policy, INPUT's REJECT) is walked once and kept.
    for (const n of [memo, plain]) n.stack.restore("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n", { noflush: true })
    send(100)
    for (const n of [memo, plain]) n.stack.restore(rules("DROP", "REJECT"), { noflush: true })
    send(200)
    expect(out[0].filter((v, k) => k % 3 === 0 && v === Verdict.DROP).length).toBeGreaterThan(150)
    expect(out[0].filter((v, k) => k % 3 === 0 && v === Verdict.REJECT).length).toBeGreaterThan(50)
  })
})

describe("walk memo slots", () => {
  it("keeps each (table, hook) plan's entries apart, and forgets only a replaced table's", () => {
    // Filter and mangle FORWARD, and mangle INPUT, read the same field (the destination) with
    // different outcomes: the same key words for different plans, in 256 shared slots (about 200
    // of entries, so entries of different plans meet in a slot). A filter restore then replaces
    // one plan's table while the mangle plans keep theirs.
    const filter = (last: string): string => `*filter
:FORWARD ACCEPT [0:0]
-A FORWARD -d 10.244.1.0/24 -j DROP
-A FORWARD -d 10.244.2.0/24 -j REJECT --reject-with icmp-port-unreachable
-A FORWARD -d 10.244.3.0/24 -j ACCEPT
-A FORWARD -d 10.244.4.0/25 -j RETURN
-A FORWARD -d 10.244.5.0/24 -j ${last}
COMMIT
`
    const mangle = `*mangle
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:KUBE-M - [0:0]
-A FORWARD -d 10.244.1.0/25 -j ACCEPT
-A FORWARD -d 10.244.2.0/24 -j KUBE-M
-A FORWARD -d 10.244.3.0/24 -j DROP
-A FORWARD -d 10.244.5.0/24 -j ACCEPT
-A INPUT -d 10.244.4.0/24 -j ACCEPT
-A INPUT -d 10.244.1.0/24 -j KUBE-M
-A INPUT -d 10.244.5.0/25 -j ACCEPT
-A KUBE-M -d 10.244.2.0/25 -j RETURN
-A KUBE-M -j ACCEPT
COMMIT
`
    const memo = makeNode({}, 1)
    const plain = makeNode({}, 1)
    plain.stack.walkMemo = null
    for (const n of [memo, plain]) n.stack.restore(filter("DROP") + mangle)
    const send = (rounds: number, count: number): void => {
      const seen: number[][] = [[], []]
      for (let r = 0; r < rounds; r++)
        for (let i = 0; i < count; i++)
          [memo, plain].forEach((n, j) => {
            const p = new Packet()
            p.protocol = Protocol.UDP
            p.srcAddr = ipv4("10.0.0.9")
            p.dstAddr = ipv4(`10.244.${1 + (i % 5)}.${Math.floor(i / 5) % 256}`)
            p.srcPort = 40000 + r
            p.dstPort = 53
            p.ctState = CtState.ESTABLISHED
            p.totalBytes = 60 + (i % 3) * 40
            const hook = i % 3 === 0 ? Hook.INPUT : Hook.FORWARD
            const outIf = hook === Hook.INPUT ? -1 : routeOut(p.dstAddr)
            const v = n.stack.runHook(hook, p, ETH0, outIf, r * 1000 + i)
            const s = n.stack
            seen[j].push(v, s.lastCostNs, v === Verdict.ACCEPT ? -1 : s.lastDropReason)
            seen[j].push(v === Verdict.REJECT ? s.lastRejectWith : -1)
          })
      expect(seen[0]).toEqual(seen[1])
      expect(memo.stack.rulesEvaluated).toBe(plain.stack.rulesEvaluated)
      expect(memo.stack.save({ counters: true })).toBe(plain.stack.save({ counters: true }))
    }
    send(5, 120)
    const hits = (memo.stack.walkMemo as WalkMemo).hits
    expect(hits).toBeGreaterThan(200)
    for (const n of [memo, plain]) n.stack.restore(filter("REJECT --reject-with tcp-reset"), { noflush: true })
    send(5, 120)
    expect((memo.stack.walkMemo as WalkMemo).hits).toBeGreaterThan(hits + 200)
  })
})
