/**
 * The userspace proxy's client cache (PairMap) must behave as the Map keyed by
 * `address * 65536 + port` it replaced: same lookups, and the same insertion order when Close walks
 * it (setting an existing key keeps its place; deleting and re-adding moves it to the end).
 */
import { describe, expect, it } from "vitest"
import { PairMap } from "../../src/proxy/userspace/pair-map.ts"
import { Rng } from "../../src/sim/rng.ts"

describe("PairMap", () => {
  it("matches Map<address*65536+port> over random sets, deletes and growth", () => {
    const rng = Rng.stream(7, "pair-map-test")
    const pm = new PairMap<number>(2)
    const ref = new Map<number, number>()
    // Few distinct pairs (collisions, re-adds) with addresses on both sides of 2^31.
    const addrs = [0x0af40001, 0x0af40002, 0xc0a80001, 0xfffffffe]
    for (let step = 0; step < 5000; step++) {
      const addr = addrs[rng.uint32() % addrs.length]
      const port = rng.uint32() % 64
      const key = addr * 65536 + port
      const op = rng.uint32() % 3
      if (op === 0) {
        // add is set for a pair known to be absent (the proxy's insert after a missed get).
        if (pm.get(addr, port) === undefined) pm.add(addr, port, step)
        else pm.set(addr, port, step)
        ref.set(key, step)
      } else if (op === 1) expect(pm.delete(addr, port)).toBe(ref.delete(key))
      else expect(pm.get(addr, port)).toBe(ref.get(key))
      expect(pm.size).toBe(ref.size)
    }
    expect(pm.values()).toEqual([...ref.values()])
  })
})
