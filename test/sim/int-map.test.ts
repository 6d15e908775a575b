import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { IntMap } from "../../src/sim/int-map.ts"

type Op = { readonly kind: "set" | "delete" | "get" | "reserve"; readonly key: number; readonly value: number }

describe("IntMap", () => {
  it("answers get/has/size/delete like Map over random operation sequences (collisions, tombstones, growth, reserve)", () => {
    // Keys from a small range so that sets, deletes and re-sets of the same key interleave.
    const key = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0xffffff00, max: 0xffffffff }))
    const op = fc.record({
      kind: fc.constantFrom("set" as const, "delete" as const, "get" as const, "reserve" as const),
      key,
      value: fc.integer(),
    })
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops: Op[]) => {
        const map = new IntMap<number>()
        const ref = new Map<number, number>()
        for (const o of ops) {
          if (o.kind === "set") {
            map.set(o.key, o.value)
            ref.set(o.key, o.value)
          } else if (o.kind === "delete") expect(map.delete(o.key)).toBe(ref.delete(o.key))
          // Room for more keys at once (a userspace node's replay): lookups must not change.
          else if (o.kind === "reserve") map.reserve(map.size + (o.value & 511))
          // Both orders: a lookup's memo (the last key looked up) must answer the other call too.
          if ((o.value & 1) === 0) {
            expect(map.get(o.key)).toBe(ref.get(o.key))
            expect(map.has(o.key)).toBe(ref.has(o.key))
          } else {
            expect(map.has(o.key)).toBe(ref.has(o.key))
            expect(map.get(o.key)).toBe(ref.get(o.key))
          }
          expect(map.size).toBe(ref.size)
        }
        for (const k of ref.keys()) expect(map.get(k)).toBe(ref.get(k))
      }),
    )
  })

  it("treats a uint32 address and its int32 view as one key", () => {
    const map = new IntMap<string>()
    map.set(0xc0a80001, "a")
    expect(map.get(0xc0a80001 | 0)).toBe("a")
    expect(map.has(0xc0a80001)).toBe(true)
  })
})
