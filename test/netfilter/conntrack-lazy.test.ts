/**
 * Goal: a conntrack table allocates its storage on its first entry (issue 10: most nodes of a large
 * cluster never track a connection), and until then answers every reader exactly as an empty
 * allocated table: lookups miss, stats/list/ids are empty, expiry and reaping do nothing; after its
 * first entry it behaves as a table that was allocated at construction.
 */
import { describe, expect, it } from "vitest"
import { Conntrack } from "../../src/netfilter/conntrack.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import { Protocol } from "../../src/wire/protocol.ts"
import { CtState } from "../../src/netfilter/constants.ts"
import { udp } from "./helpers.ts"

const A = ipv4("10.0.0.1")
const B = ipv4("10.0.0.2")

describe("conntrack storage on first use", () => {
  it("a never-used table allocates nothing and reads as empty", () => {
    const before = Conntrack.tablesAllocated
    const ct = new Conntrack({ max: 1000 })
    expect(ct.allocated).toBe(false)
    expect(ct.find(A, B, 1000, 53, Protocol.UDP)).toBe(-1)
    expect(ct.lookup(A, B, 1000, 53, Protocol.UDP, 5)).toBe(-1)
    ct.reapStep(10)
    ct.expireAll(1e12)
    expect(ct.deleteWhere({ protocol: Protocol.UDP })).toBe(0)
    expect(ct.flush()).toBe(0)
    expect(ct.list(0)).toEqual([])
    expect(ct.ids()).toEqual([])
    const stats = ct.stats(0)
    expect(stats).toEqual(new Conntrack({ max: 1000 }).stats(0))
    expect(stats.entries).toBe(0)
    expect(stats.peak).toBe(0)
    expect(ct.allocated).toBe(false)
    expect(Conntrack.tablesAllocated).toBe(before)
  })

  it("the first entry allocates the table once; it then tracks as usual", () => {
    const before = Conntrack.tablesAllocated
    const ct = new Conntrack({ max: 1000 })
    const p = udp("10.0.0.1", 1000, "10.0.0.2", 53)
    expect(ct.packetIn(p, 0)).toBe(-1)
    expect(ct.allocated).toBe(true)
    expect(Conntrack.tablesAllocated).toBe(before + 1)
    expect(p.ctState & CtState.NEW).not.toBe(0)
    ct.confirm(p.ctId, 0)
    expect(ct.lookup(A, B, 1000, 53, Protocol.UDP, 1)).toBe(p.ctId * 2)
    expect(ct.lookup(B, A, 53, 1000, Protocol.UDP, 1)).toBe(p.ctId * 2 + 1)
    expect(ct.stats(1).entries).toBe(1)
    expect(ct.list(1)).toHaveLength(1)
    // A second entry, and one after the table empties, allocate nothing more.
    const q = udp("10.0.0.1", 1001, "10.0.0.2", 53)
    ct.packetIn(q, 2)
    ct.confirm(q.ctId, 2)
    expect(ct.flush()).toBe(2)
    ct.packetIn(udp("10.0.0.1", 1002, "10.0.0.2", 53), 3)
    expect(Conntrack.tablesAllocated).toBe(before + 1)
  })

  it("a table grown lazily ends in the state an eager one would (same ids, same listing)", () => {
    // Many flows through a small max: growth, rehash, early drop and table-full all happen after
    // the lazy allocation, and must give what they gave with the storage allocated up front.
    const run = (warm: boolean): string[] => {
      const ct = new Conntrack({ max: 300 })
      if (warm) {
        // Allocate first (an entry, then freed), as the constructor did before.
        const w = udp("10.9.9.9", 9, "10.9.9.8", 9)
        ct.packetIn(w, 0)
        ct.release(w.ctId)
      }
      const out: string[] = []
      for (let i = 0; i < 400; i++) {
        const p = udp("10.0.0.1", 1000 + i, "10.0.0.2", 53)
        const drop = ct.packetIn(p, i)
        out.push(`${drop} ${p.ctId}`)
        if (p.ctId >= 0) ct.confirm(p.ctId, i)
      }
      out.push(...ct.list(400))
      return out
    }
    expect(run(false)).toEqual(run(true))
  })
})
