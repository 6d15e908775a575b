/**
 * A namespace's main routing table with longest-prefix match (`ip route`), as the kernel's FIB
 * answers it: the most specific prefix wins; among equal prefixes the lowest metric, then the
 * first added. Local addresses are answered before this table (the kernel's `local` table).
 *
 * Lookup cost does not grow with the number of routes: one IntMap per prefix length in use, probed from
 * the longest length down (a node with 1,000 per-node pod CIDR routes does one or two probes).
 */
import { assert } from "../sim/assert.ts"
import type { Cidr, Ipv4 } from "../wire/ipv4.ts"
import { formatCidr, formatIpv4 } from "../wire/ipv4.ts"
import { IntMap } from "../sim/int-map.ts"

export class Route {
  constructor(
    readonly prefix: Cidr,
    /** Output interface index in the namespace. */
    readonly ifIndex: number,
    /** Gateway (`via`); 0 = directly connected (the destination is the next hop). */
    readonly via: Ipv4,
    /** Preferred source address (`src`); 0 = the output interface's address. */
    readonly src: Ipv4,
    readonly metric: number,
  ) {}
}

export class RoutingTable {
  readonly routes: Route[] = []
  /** Prefix lengths in use, longest first. */
  private lengths: number[] = []
  private masks: number[] = []
  /** byLength[prefixLength]: network address -> best route for that prefix. */
  private readonly byLength: (IntMap<Route> | null)[] = new Array<IntMap<Route> | null>(33).fill(null)
  // The last lookup's address and answer (a pod sends to one destination over and over); any
  // change of the table forgets it.
  private memoAddress = -1
  private memoRoute: Route | null = null

  add(route: Route): void {
    this.memoAddress = -1
    let map = this.byLength[route.prefix.prefixLength]
    if (map === null) {
      map = new IntMap()
      this.byLength[route.prefix.prefixLength] = map
      this.lengths.push(route.prefix.prefixLength)
      this.lengths.sort((x, y) => y - x)
      this.masks = this.lengths.map((n) => (n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0))
    }
    this.routes.push(route)
    const current = map.get(route.prefix.address)
    if (current === undefined || route.metric < current.metric) map.set(route.prefix.address, route)
  }

  /** Removes every route for `prefix` on `ifIndex` (any via). Returns how many were removed. Build-time only. */
  remove(prefix: Cidr, ifIndex: number): number {
    const kept = this.routes.filter(
      (r) =>
        !(
          r.prefix.address === prefix.address &&
          r.prefix.prefixLength === prefix.prefixLength &&
          r.ifIndex === ifIndex
        ),
    )
    const removed = this.routes.length - kept.length
    this.memoAddress = -1
    this.routes.length = 0
    this.lengths = []
    this.masks = []
    this.byLength.fill(null)
    for (const r of kept) this.add(r)
    return removed
  }

  /** Longest-prefix match; null when no route covers the address. */
  lookup(address: Ipv4): Route | null {
    if (address === this.memoAddress) return this.memoRoute
    const lengths = this.lengths
    let found: Route | null = null
    for (let i = 0; i < lengths.length; i++) {
      const route = (this.byLength[lengths[i]] as IntMap<Route>).get((address & this.masks[i]) >>> 0)
      if (route !== undefined) {
        found = route
        break
      }
    }
    this.memoAddress = address
    this.memoRoute = found
    return found
  }

  /** `ip route` style listing, for tests and traces. */
  format(interfaceName: (ifIndex: number) => string): string[] {
    return this.routes.map((r) => {
      assert(r.ifIndex >= 0, "route without device")
      const dst =
        r.prefix.prefixLength === 0
          ? "default"
          : r.prefix.prefixLength === 32
            ? formatIpv4(r.prefix.address)
            : formatCidr(r.prefix)
      const via = r.via !== 0 ? ` via ${formatIpv4(r.via)}` : ""
      const src = r.src !== 0 ? ` src ${formatIpv4(r.src)}` : ""
      return `${dst}${via} dev ${interfaceName(r.ifIndex)}${src}`
    })
  }
}
