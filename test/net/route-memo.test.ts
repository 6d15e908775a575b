import { describe, expect, it } from "vitest"
import { Route, RoutingTable, SharedRoutes } from "../../src/net/route.ts"
import { cidr } from "../../src/wire/ipv4.ts"

// RoutingTable.lookup memoizes its last answer (forgotten on any change of the table or of the
// shared routes it sees): every answer must equal the longest-prefix match of the table as it is
// at that moment, also when destinations alternate (a node's table) and a reserved route is reached.
describe("RoutingTable lookup memo", () => {
  const route = (text: string, ifIndex: number, metric = 0): Route => new Route(cidr(text), ifIndex, 0, 0, metric)

  it("answers as an unmemoized probe while routes are added and shared routes grow", () => {
    const table = new RoutingTable()
    const shared = new SharedRoutes(24)
    table.add(route("10.0.0.0/16", 1))
    table.attachShared(shared)
    // Many distinct addresses (the memo grows several times), looked up twice each.
    const addresses: number[] = []
    for (let n = 0; n < 40; n++) for (let h = 1; h <= 20; h++) addresses.push((0x0a000000 | (n << 8) | h) >>> 0)
    const expectAll = (answer: (address: number) => number): void => {
      for (let pass = 0; pass < 2; pass++)
        for (const a of addresses) expect(table.lookup(a)?.ifIndex ?? -1, `address ${a.toString(16)}`).toBe(answer(a))
    }
    expectAll(() => 1)
    // A shared /24 appears: the memoized /16 answers for its addresses must be forgotten.
    shared.add(route("10.0.5.0/24", 2))
    expectAll((a) => (((a >>> 8) & 0xff) === 5 ? 2 : 1))
    // An own /24 (more specific than the /16) and a /32.
    table.add(route("10.0.7.0/24", 3))
    table.add(route("10.0.9.3/32", 4))
    expectAll((a) => (a === 0x0a000903 ? 4 : ((a >>> 8) & 0xff) === 7 ? 3 : ((a >>> 8) & 0xff) === 5 ? 2 : 1))
    // Removing the /16 leaves the other addresses without a route (null answers are memoized too).
    expect(table.remove(cidr("10.0.0.0/16"), 1)).toBe(1)
    expectAll((a) => (a === 0x0a000903 ? 4 : ((a >>> 8) & 0xff) === 7 ? 3 : ((a >>> 8) & 0xff) === 5 ? 2 : -1))
  })

  it("answers as a probe would with destinations alternating and a reserved route", () => {
    const table = new RoutingTable()
    const reached: number[] = []
    table.onPending = (r) => {
      reached.push(r.prefix.address)
      table.activate(r.prefix.address)
    }
    table.add(route("10.244.0.0/16", 1))
    table.add(route("0.0.0.0/0", 2))
    // A node's destinations (its pods, endpoints, other nodes), looked up in turn.
    const hot: number[] = []
    for (let n = 0; n < 10; n++) hot.push((0x0af40002 | (n << 8)) >>> 0, (0x0a000002 + n) >>> 0)
    for (let round = 0; round < 20; round++)
      for (const a of hot) expect(table.lookup(a)?.ifIndex).toBe(a >>> 16 === 0x0af4 ? 1 : 2)
    // A host route reserved now is reached once (the remembered /16 answer for it is forgotten),
    // then answers as a route in force.
    const pod = (0x0af40502 >>> 0) as number
    table.reserve(route("10.244.5.2/32", 3))
    for (let round = 0; round < 3; round++)
      for (const a of hot) expect(table.lookup(a)?.ifIndex).toBe(a === pod ? 3 : a >>> 16 === 0x0af4 ? 1 : 2)
    expect(reached).toEqual([pod])
    // Removed, the /16 answers for it again.
    expect(table.remove(cidr("10.244.5.2/32"), 3)).toBe(1)
    for (const a of hot) expect(table.lookup(a)?.ifIndex).toBe(a >>> 16 === 0x0af4 ? 1 : 2)
  })
})
