/**
 * Scheduler selection order pinned on hand-worked examples of the kernel algorithms
 * (net/netfilter/ipvs/ip_vs_{rr,wrr,lc,wlc,sh,dh,mh}.c). Lists are given in `svc->destinations`
 * order (index 0 = first after the head). Maglev values come from an independent Python
 * transcription of ip_vs_mh.c + lib/siphash.c (itself checked against the kernel's siphash vectors),
 * since a 4093-entry permutation fill cannot be worked by hand.
 */
import { describe, expect, it } from "vitest"
import { DEST_F_AVAILABLE, DestColumns, DestCounts } from "../../../src/netfilter/ipvs/dest.ts"
import {
  MH_PRIMES,
  MH_TAB_INDEX_DEFAULT,
  Scheduler,
  SchedState,
  SvcFlag,
  dhHashKey,
  hash32,
  schedAddDest,
  schedDelDest,
  schedInit,
  schedUpdDest,
  schedule,
  shHashKey,
} from "../../../src/netfilter/ipvs/schedulers.ts"
import { ipv4 } from "../../../src/wire/ipv4.ts"
import { Ipvs } from "../../../src/netfilter/ipvs/ipvs.ts"

interface Fixture {
  d: DestColumns
  /** The node's connection counts (lc/wlc read them). */
  c: DestCounts
  list: number[]
  s: SchedState
  names: Map<number, string>
}

/** Dests named by letter, in list order, with the given weights. */
function fixture(kind: Scheduler, weights: readonly number[], addrs?: readonly string[], port = 80): Fixture {
  const d = new DestColumns(4)
  const names = new Map<number, string>()
  const list = weights.map((w, i) => {
    const id = d.allocate(0, ipv4(addrs?.[i] ?? `10.244.0.${i + 1}`), port)
    d.weight[id] = w
    d.lastWeight[id] = w
    d.flags[id] = DEST_F_AVAILABLE
    names.set(id, String.fromCharCode(65 + i))
    return id
  })
  const s = new SchedState(kind)
  schedInit(s, list, d)
  return { d, c: new DestCounts(), list, s, names }
}

function picks(
  f: Fixture,
  n: number,
  saddr = ipv4("10.0.0.1"),
  sport = 0,
  flags = 0,
  daddr = ipv4("10.96.0.1"),
): string {
  let out = ""
  for (let i = 0; i < n; i++) {
    const id = schedule(f.s, f.list, f.d, f.c, flags, saddr, sport, daddr)
    out += id < 0 ? "-" : f.names.get(id)
  }
  return out
}

describe("rr (ip_vs_rr_schedule)", () => {
  it("cycles in list order from the head", () => {
    expect(picks(fixture(Scheduler.RR, [1, 1, 1]), 7)).toBe("ABCABCA")
  })
  it("skips weight-0 (quiesced) dests and continues after the last pick", () => {
    expect(picks(fixture(Scheduler.RR, [1, 0, 1]), 5)).toBe("ACACA")
  })
  it("no dest with weight > 0: no destination", () => {
    expect(picks(fixture(Scheduler.RR, [0, 0]), 2)).toBe("--")
  })
  it("deleting the last pick moves the pointer to its predecessor (ip_vs_rr_del_dest)", () => {
    const f = fixture(Scheduler.RR, [1, 1, 1])
    expect(picks(f, 2)).toBe("AB")
    const b = f.list[1]
    f.list.splice(1, 1)
    schedDelDest(f.s, f.list, f.d, b, f.list[0])
    // pointer now at A, so C is next (a reset to the head would give A)
    expect(picks(f, 3)).toBe("CAC")
  })
  it("a dest added at the head is reached only after the walk wraps", () => {
    const f = fixture(Scheduler.RR, [1, 1])
    expect(picks(f, 1)).toBe("A")
    const z = f.d.allocate(0, ipv4("10.244.0.9"), 80)
    f.d.weight[z] = 1
    f.d.flags[z] = DEST_F_AVAILABLE
    f.names.set(z, "Z")
    f.list.unshift(z) // list_add_rcu: head insertion
    schedAddDest(f.s, f.list, f.d)
    expect(picks(f, 4)).toBe("BZAB")
  })
})

describe("wrr (ip_vs_wrr_schedule)", () => {
  it("weights 4,3,2: cw steps 4,3,2,1 give A A B A B C A B C", () => {
    // di = gcd = 1, mw = 4. cw=4: A. cw=3: A B. cw=2: A B C. cw=1: A B C. then cw wraps to 4.
    expect(picks(fixture(Scheduler.WRR, [4, 3, 2]), 18)).toBe("AABABCABC".repeat(2))
  })
  it("weights 2,2: gcd 2 makes mw = 1, so it degenerates to rr", () => {
    expect(picks(fixture(Scheduler.WRR, [2, 2]), 4)).toBe("ABAB")
  })
  it("weights 6,4,2 (gcd 2): mw = 6 - 1 = 5, cw 5,3,1", () => {
    // cw=5: A; cw=3: A B; cw=1: A B C  => A A B A B C
    expect(picks(fixture(Scheduler.WRR, [6, 4, 2]), 12)).toBe("AABABC".repeat(2))
  })
  it("a weight edit resets the position to the head (ip_vs_wrr_dest_changed)", () => {
    const f = fixture(Scheduler.WRR, [1, 1, 1])
    expect(picks(f, 2)).toBe("AB")
    f.d.weight[f.list[0]] = 0
    schedUpdDest(f.s, f.list, f.d)
    expect(picks(f, 4)).toBe("BCBC")
  })
  it("all weights 0: no destination", () => {
    expect(picks(fixture(Scheduler.WRR, [0, 0]), 1)).toBe("-")
  })
})

describe("lc / wlc (overhead = active*256 + inactive)", () => {
  it("lc picks the least overhead, the first on ties, never weight 0", () => {
    const f = fixture(Scheduler.LC, [1, 1, 0])
    const [a, b, c] = f.list
    f.c.setCounts(a, 1, 0) // 256
    f.c.setCounts(b, 0, 100) // 100 < 256 (with the comment's << 5, A's 32 would win)
    expect(picks(f, 1)).toBe("B")
    f.c.setCounts(b, 0, 256) // tie 256 = 256: first wins
    expect(picks(f, 1)).toBe("A")
    expect(f.c.overhead(c)).toBe(0)
  })
  it("wlc compares overhead*weight products: 256/1 vs 512/3 picks B", () => {
    const f = fixture(Scheduler.WLC, [1, 3])
    const [a, b] = f.list
    f.c.setCounts(a, 1, 0) // 256
    f.c.setCounts(b, 2, 0) // 512; 256*3 = 768 > 512*1 = 512 => B
    expect(picks(f, 1)).toBe("B")
    f.c.setCounts(b, 3, 0) // 768; 256*3 = 768 > 768 false => A stays
    expect(picks(f, 1)).toBe("A")
  })
  it("wlc seeds with the first dest of weight > 0 and never moves to weight 0", () => {
    const f = fixture(Scheduler.WLC, [0, 1, 0])
    f.c.setCounts(f.list[1], 100, 0)
    expect(picks(f, 1)).toBe("B")
  })
})

describe("sh (ip_vs_sh.c)", () => {
  it("hash_32 of the address (+ port with sh-port), 256 buckets", () => {
    // (addr * 0x61C88647 mod 2^32) >> 24, worked with 64-bit integers:
    expect(hash32(ipv4("10.0.0.1"), 8)).toBe(39)
    expect(shHashKey(ipv4("10.0.0.2"), 0, 0)).toBe(137)
    expect(shHashKey(ipv4("10.0.0.1"), 40000, 0)).toBe(203)
    expect(shHashKey(ipv4("10.0.0.6"), 0, 0)).toBe(16)
  })
  it("buckets are filled by weight in list order: weights 2,1 give A A B A A B ...", () => {
    const f = fixture(Scheduler.SH, [2, 1])
    expect(Array.from(f.s.table.slice(0, 6), (id) => f.names.get(id)).join("")).toBe("AABAAB")
    expect(picks(f, 2, ipv4("10.0.0.1"))).toBe("AA") // bucket 39: 39 % 3 = 0
    expect(picks(f, 1, ipv4("10.0.0.2"))).toBe("B") // bucket 137: 137 % 3 = 2
    expect(picks(f, 1, ipv4("10.0.0.1"), 40000, 0)).toBe("A") // port ignored without sh-port
    expect(picks(f, 1, ipv4("10.0.0.1"), 40000, SvcFlag.SCHED2)).toBe("B") // bucket 203 % 3 = 2
  })
  it("a weight-0 dest keeps one bucket; without sh-fallback it yields no destination", () => {
    const f = fixture(Scheduler.SH, [1, 1])
    f.d.weight[f.list[0]] = 0
    schedUpdDest(f.s, f.list, f.d)
    // table alternates A B; 10.0.0.6 hashes to bucket 16 (A, quiesced)
    expect(picks(f, 1, ipv4("10.0.0.6"))).toBe("-")
    // sh-fallback: offsets from the original hash: bucket (16+16)&255 = 32 (A), then 33 (B)
    expect(picks(f, 1, ipv4("10.0.0.6"), 0, SvcFlag.SCHED1)).toBe("B")
  })
})

describe("dh (ip_vs_dh.c)", () => {
  it("(addr * 2654435761) & 255 of the destination, one bucket per dest", () => {
    expect(dhHashKey(ipv4("10.0.0.1"))).toBe(177) // low byte 0x01 * 0xB1
    expect(dhHashKey(ipv4("10.0.0.2"))).toBe(98) // 2 * 177 mod 256
    const f = fixture(Scheduler.DH, [1, 1, 1])
    expect(picks(f, 1, 0, 0, 0, ipv4("10.0.0.1"))).toBe("A") // 177 % 3 = 0
    expect(picks(f, 1, 0, 0, 0, ipv4("10.0.0.2"))).toBe("C") // 98 % 3 = 2
  })
})

describe("mh (ip_vs_mh.c, Maglev)", () => {
  const addrs = ["10.244.1.3", "10.244.2.3", "10.244.3.3"]
  it("default table size is primes[12 - 8] = 4093", () => {
    expect(MH_PRIMES[MH_TAB_INDEX_DEFAULT - 8]).toBe(4093)
  })
  it("reproduces the kernel's table for weights 1,1,2 (fixed hsiphash keys)", () => {
    const f = fixture(Scheduler.MH, [1, 1, 2], addrs, 8080)
    expect(f.s.table.length).toBe(4093)
    expect(Array.from(f.s.table.slice(0, 16), (id) => f.list.indexOf(id))).toEqual([
      1, 1, 1, 2, 2, 2, 1, 0, 0, 1, 2, 1, 1, 2, 2, 2,
    ])
    const counts = [0, 0, 0]
    for (const id of f.s.table) counts[f.list.indexOf(id)]++
    expect(counts).toEqual([1024, 1023, 2046])
    // client lookups: hsiphash(port + addr, key1) % 4093
    expect(f.list.indexOf(schedule(f.s, f.list, f.d, f.c, 0, ipv4("10.0.0.1"), 0, 0))).toBe(2) // slot 3711
    expect(f.list.indexOf(schedule(f.s, f.list, f.d, f.c, SvcFlag.SCHED2, ipv4("10.0.0.1"), 40000, 0))).toBe(0) // 2940
    expect(f.list.indexOf(schedule(f.s, f.list, f.d, f.c, SvcFlag.SCHED2, ipv4("172.16.5.9"), 51234, 0))).toBe(1) // 2704
  })
  it("weight 0 keeps the table (last_weight); the client then gets no dest unless mh-fallback", () => {
    const f = fixture(Scheduler.MH, [1, 1, 2], addrs, 8080)
    const before = f.s.table.slice()
    const c = f.list[2]
    f.d.weight[c] = 0 // ipvsadm -e -w 0: last_weight stays 2
    schedUpdDest(f.s, f.list, f.d)
    expect(f.s.table).toEqual(before)
    expect(schedule(f.s, f.list, f.d, f.c, 0, ipv4("10.0.0.1"), 0, 0)).toBe(-1)
    const fb = schedule(f.s, f.list, f.d, f.c, SvcFlag.SCHED1, ipv4("10.0.0.1"), 0, 0)
    expect(fb === f.list[0] || fb === f.list[1]).toBe(true)
  })
})

describe("sh/dh/mh tables shared by what they are computed from (issue 10)", () => {
  /** Two namespaces' IPVS (nodes) given the same service and dests; the tables of their services. */
  function twoNodes(scheduler: Scheduler): { a: Ipvs; b: Ipvs } {
    const make = (): Ipvs => {
      const ipvs = new Ipvs()
      const svc = ipvs.addService({ protocol: 17, addr: ipv4("10.96.0.10"), port: 53, scheduler })
      ipvs.addDest(svc, ipv4("10.244.1.2"), 53, 1)
      ipvs.addDest(svc, ipv4("10.244.2.2"), 53, 2)
      return ipvs
    }
    return { a: make(), b: make() }
  }

  for (const scheduler of [Scheduler.SH, Scheduler.DH, Scheduler.MH])
    it(`${["", "", "", "", "sh", "dh", "mh"][scheduler]}: equal dest lists and weights hold one table; a change on one node gives it another, the other's stays`, () => {
      const { a, b } = twoNodes(scheduler)
      const tableA = a.services[0].sched.table
      expect(b.services[0].sched.table).toBe(tableA)
      const before = Array.from(tableA)
      a.editDest(0, ipv4("10.244.1.2"), 53, 3)
      if (scheduler !== Scheduler.DH) expect(a.services[0].sched.table).not.toBe(tableA)
      expect(Array.from(b.services[0].sched.table)).toEqual(before)
      // The changed node's table is the one a fresh build from the same list and weights gives.
      const fresh = new Ipvs()
      const svc = fresh.addService({ protocol: 17, addr: ipv4("10.96.0.10"), port: 53, scheduler })
      fresh.addDest(svc, ipv4("10.244.1.2"), 53, 3)
      fresh.addDest(svc, ipv4("10.244.2.2"), 53, 2)
      expect(Array.from(a.services[0].sched.table)).toEqual(Array.from(fresh.services[0].sched.table))
    })
})
