/**
 * Goal: the conntrack table's shortcuts change no outcome. The reaper's per-block expiry bounds
 * (Conntrack.reapStep) remove exactly the entries, at exactly the steps, that the slot-by-slot
 * round-robin reaper removes; and the buckets' hash summaries (Conntrack.find) never hide an entry
 * that is in the table, through links, removals and rehashes.
 */
import { describe, expect, it } from "vitest"
import { Conntrack } from "../../src/netfilter/conntrack.ts"
import { Rng } from "../../src/sim/rng.ts"
import { Protocol } from "../../src/wire/protocol.ts"

const CLIENT = 0x0a000001
const SERVER = 0x0a000002

describe("conntrack fast paths", () => {
  it("reapStep removes what a slot-by-slot reaper removes, step by step", () => {
    const rng = Rng.stream(7, "test/conntrack-fastpath/reap")
    // 300 entries: four full blocks of 64 and a partial one; expiries spread over 0..1000 ns.
    const ct = new Conntrack({ reapSlotsPerPacket: 8 })
    const n = 300
    const expires: number[] = []
    for (let i = 0; i < n; i++) {
      const id = ct.allocate(CLIENT, SERVER, 1024 + i, 53, Protocol.UDP, 0)
      expect(id).toBe(i)
      expect(ct.confirm(id, 0)).toBe(id)
      // Raising an expiry by hand keeps the block bound a lower bound (it only ever lowers).
      const at = rng.intBelow(1000)
      ct.expiresNs[id] = at
      expires.push(at)
    }
    // Reference: the reaper as a plain loop over slots (cursor wraps at the high-water mark).
    const alive = new Array<boolean>(n).fill(true)
    let cursor = 0
    let expiredRef = 0
    let nowNs = 0
    for (let step = 0; step < 400; step++) {
      nowNs += rng.intBelow(6)
      const slots = 1 + rng.intBelow(90)
      ct.reapStep(nowNs, slots)
      for (let i = 0; i < slots; i++) {
        if (cursor >= n) cursor = 0
        const id = cursor++
        if (alive[id] && expires[id] <= nowNs) {
          alive[id] = false
          expiredRef++
        }
      }
      // One comparison per step, by hand (400 expect calls would cost more than the test).
      const ids = ct.ids()
      let same = ct.expired === expiredRef
      let j = 0
      for (let id = 0; id < n && same; id++) if (alive[id]) same = ids[j++] === id
      if (!same || j !== ids.length) expect({ step, ids, expired: ct.expired }).toEqual({ step, alive, expiredRef })
    }
    expect(expiredRef).toBeGreaterThan(100)
    expect(expiredRef).toBeLessThan(n)
  })

  it("find agrees with a scan of the live tuples through inserts, removals and rehashes", () => {
    const rng = Rng.stream(7, "test/conntrack-fastpath/find")
    const ct = new Conntrack({ max: 4096 })
    const live = new Map<number, number>() // sport -> id
    const wrong: string[] = []
    for (let step = 0; step < 3000; step++) {
      const sport = 1024 + rng.intBelow(1500)
      const id = live.get(sport)
      if (id === undefined) {
        const fresh = ct.allocate(CLIENT, SERVER, sport, 80, Protocol.TCP, 0)
        ct.expiresNs[fresh] = 1e15
        expect(ct.confirm(fresh, 0)).toBe(fresh)
        live.set(sport, fresh)
      } else if (rng.intBelow(3) === 0) {
        ct.remove(id)
        live.delete(sport)
      }
      // Probe a few tuples, present or not, in both directions.
      for (let k = 0; k < 4; k++) {
        const probe = 1024 + rng.intBelow(1500)
        const want = live.get(probe)
        const original = ct.find(CLIENT, SERVER, probe, 80, Protocol.TCP)
        const reply = ct.find(SERVER, CLIENT, 80, probe, Protocol.TCP)
        const other = ct.find(CLIENT, SERVER, probe, 80, Protocol.UDP)
        if (original !== (want === undefined ? -1 : want * 2)) wrong.push(`step ${step}: original ${probe}`)
        if (reply !== (want === undefined ? -1 : want * 2 + 1)) wrong.push(`step ${step}: reply ${probe}`)
        if (other !== -1) wrong.push(`step ${step}: udp ${probe}`)
      }
    }
    expect(wrong).toEqual([])
    expect(live.size).toBeGreaterThan(500)
  })
  it("keeps every entry and its columns through the fourfold growth of large tables", () => {
    // 20,000 entries take the columns and the lookup index past GROW_FOURFOLD_FROM (4096 slots):
    // each entry must still be found in both directions with every column as written.
    const ct = new Conntrack({ max: 1 << 20 })
    const n = 20_000
    const ids: number[] = []
    for (let i = 0; i < n; i++) {
      const src = CLIENT + (i >>> 8)
      const id = ct.allocate(src, SERVER, 1024 + (i & 0xff), 53, Protocol.UDP, i)
      expect(id).toBe(i)
      ct.tcpState[id] = (i * 7) & 0xff // a column nothing else writes for a UDP entry
      expect(ct.confirm(id, i)).toBe(id)
      ids.push(id)
    }
    const wrong: string[] = []
    for (let i = 0; i < n; i++) {
      const id = ids[i]
      const src = CLIENT + (i >>> 8)
      const sport = 1024 + (i & 0xff)
      if (ct.find(src, SERVER, sport, 53, Protocol.UDP) !== id * 2) wrong.push(`original ${i}`)
      if (ct.find(SERVER, src, 53, sport, Protocol.UDP) !== id * 2 + 1) wrong.push(`reply ${i}`)
      if (ct.find(src, SERVER, sport, 53, Protocol.TCP) !== -1) wrong.push(`tcp ${i}`)
      if (ct.srcOf(id * 2) !== src || ct.sportOf(id * 2) !== sport || ct.dportOf(id * 2 + 1) !== sport)
        wrong.push(`tuple ${i}`)
      if (ct.tcpState[id] !== ((i * 7) & 0xff) || ct.createdNs[id] !== i || ct.proto[id] !== Protocol.UDP)
        wrong.push(`columns ${i}`)
      if (ct.expiresNs[id] !== i) wrong.push(`expiry ${i}`) // allocate sets it to now
    }
    expect(wrong).toEqual([])
    expect(ct.ids()).toEqual(ids)
    expect(ct.stats().confirmed).toBe(n)
  })
  it("reads tuples back from the packed keys as the 32/16-bit columns held them", () => {
    // The tuples live only in the hash's Int32 keys (sport << 16 | dport in one word): addresses
    // with the top bit set and ports above 32767 must come back unsigned, and out-of-range ports are
    // cut to 16 bits as a Uint16 column stores them (nf_conntrack_tuple's __be16).
    const ct = new Conntrack()
    const high = 0xfffffffe
    const id = ct.allocate(high, 0x80000001, 65535, 40000, Protocol.UDP, 0)
    expect([ct.srcOf(id * 2), ct.dstOf(id * 2), ct.sportOf(id * 2), ct.dportOf(id * 2)]).toEqual([
      high,
      0x80000001,
      65535,
      40000,
    ])
    expect([ct.srcOf(id * 2 + 1), ct.dstOf(id * 2 + 1), ct.sportOf(id * 2 + 1), ct.dportOf(id * 2 + 1)]).toEqual([
      0x80000001,
      high,
      40000,
      65535,
    ])
    ct.setReply(id, 0xc0a80001, high, 65536 + 8080, 65535)
    expect([ct.srcOf(id * 2 + 1), ct.sportOf(id * 2 + 1), ct.dportOf(id * 2 + 1)]).toEqual([0xc0a80001, 8080, 65535])
    expect(ct.confirm(id, 0)).toBe(id)
    expect(ct.find(0xc0a80001, high, 8080, 65535, Protocol.UDP)).toBe(id * 2 + 1)
    expect(ct.find(high, 0x80000001, 65535, 40000, Protocol.UDP)).toBe(id * 2)
    // ICMP: the reply's type is the request's reply type (echo request 8 -> echo reply 0).
    const icmp = ct.allocate(CLIENT, SERVER, 4242, 8, Protocol.ICMP, 0)
    expect([ct.sportOf(icmp * 2 + 1), ct.dportOf(icmp * 2 + 1)]).toEqual([4242, 0])
    expect(ct.format(id, 0)).toContain("src=255.255.255.254 dst=128.0.0.1 sport=65535 dport=40000")
  })
})
