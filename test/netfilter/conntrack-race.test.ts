/**
 * Goal: the UDP conntrack clash at confirm time (dns.md §4.1) behaves as each kernel generation's
 * net/netfilter/nf_conntrack_core.c does: two packets of one flow that both miss the hash (the first
 * not yet confirmed) build two entries; at the second confirm, __nf_conntrack_confirm finds the
 * first and calls nf_ct_resolve_clash, which merges, inserts the clash entry (clash-insert), or
 * drops the packet and counts insert_failed, per `raceFix`. The race needs its conditions: same
 * tuple, both unconfirmed, a protocol with allow_clash (UDP); sequential packets never clash.
 */
import { describe, expect, it } from "vitest"
import { Hook, Verdict } from "../../src/net/hooks.ts"
import { Rng } from "../../src/sim/rng.ts"
import { NS_PER_S } from "../../src/sim/time.ts"
import { DropReason } from "../../src/wire/drop-reason.ts"
import { formatIpv4, ipv4 } from "../../src/wire/ipv4.ts"
import type { Packet } from "../../src/wire/packet.ts"
import { Protocol, TcpFlag } from "../../src/wire/protocol.ts"
import type { RaceFix } from "../../src/netfilter/conntrack.ts"
import { Conntrack, RACE_FIXES } from "../../src/netfilter/conntrack.ts"
import { CtStatus } from "../../src/netfilter/constants.ts"
import type { NetfilterStack } from "../../src/netfilter/stack.ts"
import type { FakeHost } from "./helpers.ts"
import { CNI0, makeNode, receive, replyTo, routeOut, tcp, udp } from "./helpers.ts"

const HEAD = `*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
`
/**
 * One endpoint: both packets DNAT to 10.180.0.5:53 (races 1 and 2 of dns.md §4.1). The three
 * POSTROUTING rules (never matching) take 150 ns before confirm: a second packet arriving less than
 * that after the first reaches its own SNAT null binding before the first entry is in the hash.
 */
const ONE_ENDPOINT = `${HEAD}-A POSTROUTING -s 192.168.7.0/24 -j MASQUERADE
-A POSTROUTING -s 192.168.8.0/24 -j MASQUERADE
-A POSTROUTING -s 192.168.9.0/24 -j MASQUERADE
-A PREROUTING -d 172.30.0.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.180.0.5:53
-A PREROUTING -d 172.30.0.10/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 10.180.0.5:53
COMMIT
`
/** Two endpoints, alternating: the first packet to .5, the second to .6 (race 3). */
const TWO_ENDPOINTS = `${HEAD}-A PREROUTING -d 172.30.0.10/32 -p udp -m udp --dport 53 -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 10.180.0.5:53
-A PREROUTING -d 172.30.0.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.180.0.6:53
COMMIT
`

const CLIENT = "10.0.0.7"
const VIP = "172.30.0.10"

function endpointOf(p: Packet): string {
  return `${formatIpv4(p.dstAddr)}:${p.dstPort}`
}

function node(raceFix: RaceFix, rules: string, racePpm = 0): NetfilterStack {
  const { stack } = makeNode({ conntrack: { raceFix, racePpm, raceRng: Rng.stream(1, "test/race") } })
  stack.restore(rules)
  return stack
}

/** The rest of a forwarded packet's hooks after PREROUTING. */
function forwardAndPost(stack: NetfilterStack, p: Packet, nowNs: number): Verdict {
  const out = routeOut(p.dstAddr)
  const v = stack.runHook(Hook.FORWARD, p, CNI0, out, nowNs)
  if (v !== Verdict.ACCEPT) return v
  return stack.runHook(Hook.POSTROUTING, p, CNI0, out, nowNs)
}

/**
 * Two datagrams of one socket processed concurrently (two CPUs): both run PREROUTING (conntrack in,
 * DNAT) before the first confirms, then the first finishes, then the second.
 */
function concurrent(
  stack: NetfilterStack,
  proto: number = Protocol.UDP,
): { v1: Verdict; v2: Verdict; p1: Packet; p2: Packet } {
  const make = (): Packet =>
    proto === Protocol.UDP ? udp(CLIENT, 40000, VIP, 53) : tcp(CLIENT, 40000, VIP, 53, TcpFlag.SYN)
  const p1 = make()
  const p2 = make()
  expect(stack.runHook(Hook.PREROUTING, p1, CNI0, -1, 1000)).toBe(Verdict.ACCEPT)
  expect(stack.runHook(Hook.PREROUTING, p2, CNI0, -1, 1100)).toBe(Verdict.ACCEPT)
  const v1 = forwardAndPost(stack, p1, 1000)
  const v2 = forwardAndPost(stack, p2, 1100)
  return { v1, v2, p1, p2 }
}

describe("UDP clash at confirm (nf_ct_resolve_clash)", () => {
  it("race 1, same endpoint: dropped before 4.19 (winner has NAT), merged from 4.19 (nf_ct_match); insert_failed counted until clash-insert", () => {
    const expected: Record<RaceFix, { v2: Verdict; insertFailed: number; clashResolved: number }> = {
      none: { v2: Verdict.DROP, insertFailed: 1, clashResolved: 0 },
      "4.19": { v2: Verdict.ACCEPT, insertFailed: 1, clashResolved: 0 },
      "5.0": { v2: Verdict.ACCEPT, insertFailed: 1, clashResolved: 0 },
      "clash-insert": { v2: Verdict.ACCEPT, insertFailed: 0, clashResolved: 1 },
    }
    for (const fix of RACE_FIXES) {
      // Race 1: both packets set up their NAT (DNAT, then the SNAT null binding) before either
      // entry is in the hash: the second arrives 1 ns after the first (time-window model).
      const stack = node(fix, ONE_ENDPOINT, 1_000_000)
      const p1 = udp(CLIENT, 40000, VIP, 53)
      const p2 = udp(CLIENT, 40000, VIP, 53)
      const v1 = receive(stack, stack.host as FakeHost, p1, CNI0, 1000).verdict
      const v2 = receive(stack, stack.host as FakeHost, p2, CNI0, 1001).verdict
      expect(p2.srcPort).toBe(40000)
      expect(v1, fix).toBe(Verdict.ACCEPT)
      expect(v2, fix).toBe(expected[fix].v2)
      const stats = stack.conntrack.stats()
      expect(stats.insertFailed, fix).toBe(expected[fix].insertFailed)
      expect(stats.clashResolved, fix).toBe(expected[fix].clashResolved)
      // One entry survives either way; a merged packet now belongs to the winner.
      expect(stack.conntrack.list(2000), fix).toHaveLength(1)
      if (v2 === Verdict.ACCEPT) {
        expect(p2.ctId).toBe(p1.ctId)
        expect(endpointOf(p2)).toBe("10.180.0.5:53")
      } else {
        expect(stack.lastDropReason).toBe(DropReason.CONNTRACK_INSERT_FAILED)
        expect(p2.ctId).toBe(-1)
      }
      expect(stack.conntrack.count, fix).toBe(1)
    }
  })

  it("race 2, same endpoint, the winner confirmed before the loser's SNAT null binding: the loser's port is rewritten before 5.0 (dropped), kept from 5.0 (4e35c1cb9460, merged)", () => {
    const expected: Record<RaceFix, Verdict> = {
      none: Verdict.DROP,
      "4.19": Verdict.DROP,
      "5.0": Verdict.ACCEPT,
      "clash-insert": Verdict.ACCEPT,
    }
    for (const fix of RACE_FIXES) {
      const stack = node(fix, ONE_ENDPOINT)
      const p1 = udp(CLIENT, 40000, VIP, 53)
      const p2 = udp(CLIENT, 40000, VIP, 53)
      stack.runHook(Hook.PREROUTING, p1, CNI0, -1, 1000)
      stack.runHook(Hook.PREROUTING, p2, CNI0, -1, 1100)
      const out = routeOut(ipv4("10.180.0.5"))
      stack.runHook(Hook.FORWARD, p2, CNI0, out, 1100)
      expect(forwardAndPost(stack, p1, 1000)).toBe(Verdict.ACCEPT)
      const v2 = stack.runHook(Hook.POSTROUTING, p2, CNI0, out, 1100)
      expect(v2, fix).toBe(expected[fix])
      // Before 5.0 get_unique_tuple saw the reply tuple taken and moved the source port.
      if (fix === "none" || fix === "4.19") expect(p2.srcPort).not.toBe(40000)
      else expect(p2.srcPort).toBe(40000)
    }
    // The same in the time-window model: the second packet arrives after the first one's 150 ns of
    // POSTROUTING rules have begun, so the first entry is in the hash when the second's SNAT null
    // binding tests its reply tuple, but not yet when the second's conntrack lookup ran.
    for (const fix of RACE_FIXES) {
      const stack = node(fix, ONE_ENDPOINT, 1_000_000)
      const p1 = udp(CLIENT, 40000, VIP, 53)
      const p2 = udp(CLIENT, 40000, VIP, 53)
      const first = receive(stack, stack.host as FakeHost, p1, CNI0, 1000)
      expect(first.costNs).toBeGreaterThan(200)
      const v2 = receive(stack, stack.host as FakeHost, p2, CNI0, 1200).verdict
      expect(v2, fix).toBe(expected[fix])
      expect(p2.srcPort === 40000, fix).toBe(fix === "5.0" || fix === "clash-insert")
    }
  })

  it("race 3, different endpoints: dropped up to 5.0; clash-insert inserts the loser reply-only for 1 s and both replies are un-NATed", () => {
    for (const fix of RACE_FIXES) {
      const stack = node(fix, TWO_ENDPOINTS)
      const { v1, v2, p1, p2 } = concurrent(stack)
      expect(endpointOf(p1)).toBe("10.180.0.5:53")
      expect(endpointOf(p2)).toBe("10.180.0.6:53")
      expect(v1).toBe(Verdict.ACCEPT)
      const stats = stack.conntrack.stats()
      if (fix !== "clash-insert") {
        expect(v2, fix).toBe(Verdict.DROP)
        expect(stats.insertFailed, fix).toBe(1)
        continue
      }
      expect(v2).toBe(Verdict.ACCEPT)
      expect(stats.insertFailed).toBe(0)
      expect(stats.clashResolved).toBe(1)
      const loser = p2.ctId
      expect(loser).not.toBe(p1.ctId)
      expect(stack.conntrack.status[loser] & CtStatus.NAT_CLASH).toBe(CtStatus.NAT_CLASH)
      // Hidden from conntrack -L (the original direction is a fake insert).
      expect(stack.conntrack.list(2000)).toHaveLength(1)
      // Each endpoint's reply finds its own entry and leaves with the VIP as source.
      for (const [request, ep] of [
        [p1, "10.180.0.5"],
        [p2, "10.180.0.6"],
      ] as const) {
        const reply = replyTo(request)
        expect(formatIpv4(reply.srcAddr)).toBe(ep)
        expect(receive(stack, stack.host as FakeHost, reply, 0, 3000).verdict).toBe(Verdict.ACCEPT)
        expect(`${formatIpv4(reply.srcAddr)}:${reply.srcPort}`).toBe(`${VIP}:53`)
        expect(formatIpv4(reply.dstAddr)).toBe(CLIENT)
      }
      // A later packet of the flow (original direction) finds the winner only.
      const p3 = udp(CLIENT, 40000, VIP, 53)
      receive(stack, stack.host as FakeHost, p3, CNI0, 4000)
      expect(p3.ctId).toBe(p1.ctId)
      // Fixed 1 s timeout, not refreshed by the reply.
      expect(stack.conntrack.expiresNs[loser]).toBe(1100 + NS_PER_S)
      stack.conntrack.expireAll(1100 + NS_PER_S)
      expect(stack.conntrack.stats().confirmed).toBe(1)
    }
  })

  it("no race without its conditions: TCP never merges; sequential UDP packets find the entry; a clash with a winner without NAT merges even before 4.19", () => {
    for (const fix of RACE_FIXES) {
      // TCP has no allow_clash: the second SYN is dropped at every level.
      const stack = node(fix, ONE_ENDPOINT)
      const { v2 } = concurrent(stack, Protocol.TCP)
      expect(v2, fix).toBe(Verdict.DROP)
      expect(stack.conntrack.stats().insertFailed).toBe(1)
      // UDP, one after the other (racePpm 0: the simulator's default): no clash.
      const seq = node(fix, TWO_ENDPOINTS)
      const a = udp(CLIENT, 40000, VIP, 53)
      const b = udp(CLIENT, 40000, VIP, 53)
      expect(receive(seq, seq.host as FakeHost, a, CNI0, 1000).verdict).toBe(Verdict.ACCEPT)
      expect(receive(seq, seq.host as FakeHost, b, CNI0, 1000).verdict).toBe(Verdict.ACCEPT)
      expect(endpointOf(b)).toBe(endpointOf(a))
      expect(seq.conntrack.stats().insertFailed + seq.conntrack.stats().clashResolved).toBe(0)
      // 71d8c47fc653: no NAT set up on the winner (no nat hooks ran) -> merged at every level.
      const ct = new Conntrack({ raceFix: fix })
      const x = ct.allocate(ipv4(CLIENT), ipv4(VIP), 40000, 53, Protocol.UDP, 0)
      const y = ct.allocate(ipv4(CLIENT), ipv4(VIP), 40000, 53, Protocol.UDP, 0)
      ct.expiresNs[x] = ct.expiresNs[y] = NS_PER_S
      expect(ct.confirm(x, 0)).toBe(x)
      expect(ct.confirm(y, 0)).toBe(x)
    }
  })

  it("the race window in simulated time: with racePpm, a packet arriving before the first one's hooks have been charged misses its entry; after, it finds it", () => {
    for (const fix of ["none", "clash-insert"] as const) {
      const stack = node(fix, TWO_ENDPOINTS, 1_000_000)
      const a = udp(CLIENT, 40000, VIP, 53)
      const first = receive(stack, stack.host as FakeHost, a, CNI0, 1000)
      expect(first.verdict).toBe(Verdict.ACCEPT)
      expect(first.costNs).toBeGreaterThan(2)
      // Within the window: a second entry, its own DNAT choice, the clash at confirm.
      const b = udp(CLIENT, 40000, VIP, 53)
      const second = receive(stack, stack.host as FakeHost, b, CNI0, 1000 + Math.floor(first.costNs / 2))
      expect(endpointOf(b)).toBe("10.180.0.6:53")
      expect(second.verdict, fix).toBe(fix === "none" ? Verdict.DROP : Verdict.ACCEPT)
      // After the window: the first entry is found, no new entry, no clash.
      const c = udp(CLIENT, 40000, VIP, 53)
      const before = stack.conntrack.created
      expect(receive(stack, stack.host as FakeHost, c, CNI0, 1000 + first.costNs).verdict).toBe(Verdict.ACCEPT)
      expect(stack.conntrack.created).toBe(before)
      expect(endpointOf(c)).toBe("10.180.0.5:53")
    }
    // racePpm 0: packets of one flow are processed one after the other.
    const stack = node("none", TWO_ENDPOINTS, 0)
    const a = udp(CLIENT, 40000, VIP, 53)
    receive(stack, stack.host as FakeHost, a, CNI0, 1000)
    const b = udp(CLIENT, 40000, VIP, 53)
    expect(receive(stack, stack.host as FakeHost, b, CNI0, 1001).verdict).toBe(Verdict.ACCEPT)
    expect(stack.conntrack.stats().insertFailed).toBe(0)
  })
})

describe("the race appears only when its conditions hold (every combination)", () => {
  // dns.md §4.2: a clash needs two packets of one 5-tuple both unconfirmed (concurrent processing);
  // then the outcome depends on the protocol (allow_clash: UDP only), the DNAT choices and the fix
  // level. The concurrent() order confirms the first packet before the second's SNAT null binding,
  // so one endpoint is race 2 (4e35c1cb9460, 5.0), two endpoints race 3 (6a757c07e51f).
  type Layout = "one" | "two"
  const cases: [RaceFix, Layout, number, boolean, boolean][] = []
  for (const fix of RACE_FIXES)
    for (const layout of ["one", "two"] as const)
      for (const proto of layout === "one" ? [Protocol.UDP, Protocol.TCP] : [Protocol.UDP])
        for (const parallel of [false, true])
          for (const sameTuple of [false, true]) cases.push([fix, layout, proto, parallel, sameTuple])

  function expected(fix: RaceFix, layout: Layout, proto: number, parallel: boolean, sameTuple: boolean) {
    if (!(parallel && sameTuple)) return { dropped: false, insertFailed: 0, clashResolved: 0 }
    if (proto === Protocol.TCP) return { dropped: true, insertFailed: 1, clashResolved: 0 }
    if (fix === "clash-insert") return { dropped: false, insertFailed: 0, clashResolved: 1 }
    const mergeable = layout === "one" && fix === "5.0"
    return { dropped: !mergeable, insertFailed: 1, clashResolved: 0 }
  }

  it.each(cases)(
    "fix %s, %s endpoint(s), proto %i, concurrent %s, same tuple %s",
    (fix, layout, proto, parallel, same) => {
      const stack = node(fix, layout === "one" ? ONE_ENDPOINT : TWO_ENDPOINTS)
      const make = (port: number): Packet =>
        proto === Protocol.UDP ? udp(CLIENT, port, VIP, 53) : tcp(CLIENT, port, VIP, 53, TcpFlag.SYN)
      const p1 = make(40000)
      const p2 = make(same ? 40000 : 40001)
      let v2: Verdict
      if (parallel) {
        stack.runHook(Hook.PREROUTING, p1, CNI0, -1, 1000)
        stack.runHook(Hook.PREROUTING, p2, CNI0, -1, 1100)
        expect(forwardAndPost(stack, p1, 1000)).toBe(Verdict.ACCEPT)
        v2 = forwardAndPost(stack, p2, 1100)
      } else {
        expect(receive(stack, stack.host as FakeHost, p1, CNI0, 1000).verdict).toBe(Verdict.ACCEPT)
        v2 = receive(stack, stack.host as FakeHost, p2, CNI0, 1000).verdict
      }
      const want = expected(fix, layout, proto, parallel, same)
      const stats = stack.conntrack.stats()
      expect({
        dropped: v2 === Verdict.DROP,
        insertFailed: stats.insertFailed,
        clashResolved: stats.clashResolved,
      }).toEqual(want)
      if (want.dropped) expect(stack.lastDropReason).toBe(DropReason.CONNTRACK_INSERT_FAILED)
    },
  )
})
