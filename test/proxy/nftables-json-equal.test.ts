/**
 * jsonEqual (src/proxy/nftables/proxier.ts): the nftables proxier's change tracking compares a
 * node's hosted Service ports by JSON equality without building the JSON (issue 10). It must give
 * `JSON.stringify(a) === JSON.stringify(b)` for every pair, service ports and odd values alike.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { jsonEqual } from "../../src/proxy/nftables/proxier.ts"

const json = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

const endpoint = (ip: string, isLocal: boolean, hints: string[] = []) => ({
  ip,
  port: 80,
  endpoint: `${ip}:80`,
  isLocal,
  ready: true,
  serving: true,
  terminating: false,
  zoneHints: hints,
  nodeHints: [],
})
const port = (endpoints: unknown[], extra: Record<string, unknown> = {}) => ({
  namespace: "default",
  serviceName: "web",
  namespacedName: "default/web",
  portName: "",
  name: "default/web",
  protocol: "tcp",
  clusterIP: "10.96.0.10",
  port: 80,
  nodePort: 0,
  externalIPs: [],
  loadBalancerVIPs: [],
  loadBalancerSourceRanges: [],
  healthCheckNodePort: 0,
  stickyMaxAgeSeconds: 0,
  internalPolicyLocal: false,
  externalPolicyLocal: false,
  externallyAccessible: false,
  usesClusterEndpoints: true,
  usesLocalEndpoints: false,
  endpoints,
  ...extra,
})

describe("jsonEqual: JSON equality without the JSON", () => {
  it("agrees with JSON.stringify on service ports and on values JSON treats specially", () => {
    const cases: [unknown, unknown][] = [
      [port([endpoint("10.0.0.1", true)]), port([endpoint("10.0.0.1", true)])],
      [port([endpoint("10.0.0.1", true)]), port([endpoint("10.0.0.1", false)])],
      [port([endpoint("10.0.0.1", true)]), port([endpoint("10.0.0.1", true), endpoint("10.0.0.2", false)])],
      [port([endpoint("10.0.0.1", true, ["a"])]), port([endpoint("10.0.0.1", true, ["b"])])],
      [port([], { nodePort: 30000 }), port([], { nodePort: 30001 })],
      [
        { a: 1, b: 2 },
        { b: 2, a: 1 },
      ],
      [{ a: 1, b: undefined }, { a: 1 }],
      [{ a: 1, f: () => 1 }, { a: 1 }],
      [[undefined], [null]],
      [
        [1, undefined],
        [1, 2],
      ],
      [Number.NaN, null],
      [Number.NaN, Number.POSITIVE_INFINITY],
      [0, -0],
      [{ a: Number.NaN }, { a: null }],
      [new Map([[1, 2]]), {}],
      [{ toJSON: () => "x" }, "x"],
      [[], {}],
      ["1", 1],
      [true, "true"],
      [{ a: [1, 2] }, { a: [1, 2, 3] }],
      // Arrays of different lengths print alike only through a toJSON (own or inherited).
      [Object.assign([1], { toJSON: () => "x" }), Object.assign([1, 2], { toJSON: () => "x" })],
      [{ a: Object.assign([1], { toJSON: () => 0 }) }, { a: Object.assign([], { toJSON: () => 0 }) }],
      [
        [undefined, undefined],
        [null, null, null],
      ],
    ]
    for (const [a, b] of cases) expect([a, b, jsonEqual(a, b)]).toEqual([a, b, json(a, b)])
  })

  it("agrees with JSON.stringify on generated values", () => {
    const leaf = fc.oneof(
      fc.constantFrom(0, -0, 1, Number.NaN, Number.POSITIVE_INFINITY, null, undefined, true, false, "", "a", "}{"),
      fc.integer({ min: -2, max: 2 }),
    )
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        leaf,
        fc.array(tie("v"), { maxLength: 3 }),
        fc.dictionary(fc.constantFrom("a", "b", "c"), tie("v"), { maxKeys: 3 }),
      ),
    })).v
    fc.assert(
      fc.property(value, value, (a, b) => {
        expect(jsonEqual(a, b)).toBe(json(a, b))
        expect(jsonEqual(a, structuredClone(a))).toBe(true)
      }),
      { seed: 1, numRuns: 500 },
    )
  })
})
