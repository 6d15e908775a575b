import { describe, expect, it } from "vitest"
import { Route, RoutingTable } from "../../src/net/route.ts"
import { cidr } from "../../src/wire/ipv4.ts"

// Reserved host routes (cni.ts: a lazy aws-vpc pod's `<podIP> dev eniX`): listed where they were
// added, in force from the first lookup that reaches them, as if they had been in force all along.
describe("RoutingTable reserved host routes", () => {
  const route = (text: string, ifIndex: number): Route => new Route(cidr(text), ifIndex, 0, 0, 0)
  const names = (i: number): string => `if${i}`

  it("lists a reserved route in place and puts it in force when a lookup reaches it", () => {
    const table = new RoutingTable()
    const reached: string[] = []
    table.onPending = (r) => {
      reached.push(`${r.prefix.address}`)
      table.activate(r.prefix.address)
    }
    table.add(route("10.0.0.0/16", 2))
    table.reserve(route("10.0.0.10/32", 3))
    table.add(route("0.0.0.0/0", 2))
    table.reserve(route("10.0.0.11/32", 4))
    const listed = ["10.0.0.0/16 dev if2", "10.0.0.10 dev if3", "default dev if2", "10.0.0.11 dev if4"]
    expect(table.format(names)).toEqual(listed)
    // A neighbouring address takes the /16, building nothing.
    expect(table.lookup(cidr("10.0.0.12/32").address)?.ifIndex).toBe(2)
    expect(reached).toEqual([])
    // The reserved /32 answers, once built: the hook runs on the first lookup only.
    const a11 = cidr("10.0.0.11/32").address
    expect(table.lookup(a11)?.ifIndex).toBe(4)
    expect(table.lookup(a11)?.ifIndex).toBe(4)
    expect(reached).toEqual([`${a11}`])
    expect(table.isPending(table.routes[3])).toBe(false)
    expect(table.isPending(table.routes[1])).toBe(true)
    // Same listing after activation; removing the active route keeps the other one reserved.
    expect(table.format(names)).toEqual(listed)
    expect(table.remove(cidr("10.0.0.11/32"), 4)).toBe(1)
    expect(table.lookup(a11)?.ifIndex).toBe(2)
    expect(table.isPending(table.routes[1])).toBe(true)
    expect(table.lookup(cidr("10.0.0.10/32").address)?.ifIndex).toBe(3)
    expect(reached.length).toBe(2)
  })

  it("refuses a route that would shadow a reserved one", () => {
    const table = new RoutingTable()
    table.onPending = (r) => table.activate(r.prefix.address)
    table.reserve(route("10.0.0.10/32", 3))
    expect(() => table.add(route("10.0.0.10/32", 5))).toThrow()
    expect(() => table.reserve(route("10.0.0.10/32", 5))).toThrow()
  })
})
