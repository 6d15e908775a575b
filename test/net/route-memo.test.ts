import { describe, expect, it } from "vitest"
import { Route, RoutingTable, SharedRoutes } from "../../src/net/route.ts"
import { cidr } from "../../src/wire/ipv4.ts"

// RoutingTable.lookup memoizes answers per address (a direct-mapped memo that grows with misses):
// every answer must equal the longest-prefix match of the table as it is at that moment.
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
})
