/**
 * A namespace's main routing table with longest-prefix match (`ip route`), as the kernel's FIB
 * answers it: the most specific prefix wins; among equal prefixes the lowest metric, then the
 * first added. Local addresses are answered before this table (the kernel's `local` table).
 *
 * Lookup cost does not grow with the number of routes: one IntMap per prefix length in use, probed from
 * the longest length down (a node with 1,000 per-node pod CIDR routes does one or two probes).
 *
 * The routes every node of a cluster has to the other nodes' pod CIDRs (`<podCIDR> via <nodeIP> dev
 * eth0`, host-gw) are the same objects on every node: they live once in a SharedRoutes that each
 * node's table consults after its own routes of that prefix length, instead of nodes x nodes copies
 * (25 million routes at 5,000 nodes). Same answers and the same `ip route` listing as per-node copies.
 *
 * A host route may be reserved before it is in force (cni.ts: a lazy aws-vpc pod's `<podIP> dev
 * eniX`, whose device is built on first use): it is listed where it was added, and the first lookup
 * that reaches it (its /32 missed among the routes in force) calls `onPending`, which builds the
 * device and puts the route in force; the answer is the route, as if it had been in force all along.
 */
import { assert } from "../sim/assert.ts"
import type { Cidr, Ipv4 } from "../wire/ipv4.ts"
import { formatCidr, formatIpv4 } from "../wire/ipv4.ts"
import { IntMap } from "../sim/int-map.ts"

export class Route {
  // Read per packet: `declare`d and assigned in the constructor rather than parameter properties,
  // which are first defined as undefined, so V8 tracks them as any value (see sim/empty.ts).
  declare readonly prefix: Cidr
  /** Output interface index in the namespace. */
  declare readonly ifIndex: number
  /** Gateway (`via`); 0 = directly connected (the destination is the next hop). */
  declare readonly via: Ipv4
  /** Preferred source address (`src`); 0 = the output interface's address. */
  declare readonly src: Ipv4
  declare readonly metric: number
  constructor(prefix: Cidr, ifIndex: number, via: Ipv4, src: Ipv4, metric: number) {
    this.prefix = prefix
    this.ifIndex = ifIndex
    this.via = via
    this.src = src
    this.metric = metric
  }
}

/**
 * Routes of one prefix length that several tables hold alike (cni.ts: every node's routes to the
 * other nodes' pod CIDRs, all via eth0). Immutable per route; a table sees every route here except
 * those its own routes of the same prefix shadow (a node's own pod CIDR is its cni0 connected route).
 */
export class SharedRoutes {
  /** In the order added (the order `ip route` lists them). */
  readonly routes: Route[] = []
  readonly byAddress = new IntMap<Route>()
  /** Bumped by every add, so tables' lookup memos (see RoutingTable.lookup) notice the change. */
  version = 0
  // Read per lookup: `declare`d and assigned in the constructor (see Route).
  declare readonly prefixLength: number
  constructor(prefixLength: number) {
    this.prefixLength = prefixLength
  }

  add(route: Route): void {
    assert(route.prefix.prefixLength === this.prefixLength, "shared route of another prefix length")
    assert(!this.byAddress.has(route.prefix.address), "shared route prefix added twice")
    this.routes.push(route)
    this.byAddress.set(route.prefix.address, route)
    this.version++
  }
}

export class RoutingTable {
  /** The table's own routes (shared ones are listed among them at `sharedAt`). */
  readonly routes: Route[] = []
  private shared: SharedRoutes | null = null
  /** Prefix length of `shared` (-1: none), compared per probed length in lookup. */
  private sharedLength = -1
  /** Index in `routes` where the shared routes are listed (they were "added" at that point). */
  private sharedAt = 0
  /** Prefix lengths in use, longest first. */
  private lengths: number[] = []
  private masks: number[] = []
  /** byLength[prefixLength]: network address -> best route for that prefix. */
  private readonly byLength: (IntMap<Route> | null)[] = new Array<IntMap<Route> | null>(33).fill(null)
  // The last lookup's address and answer (a pod sends to one destination over and over); any
  // change of the table, or of the shared routes it sees (their version), forgets it.
  private memoAddress = -1
  private memoRoute: Route | null = null
  private memoSharedVersion = -1
  /** Reserved host routes not in force yet, by address (listed in `routes`); null: none ever. */
  private pending: IntMap<Route> | null = null
  /** 32 while `pending` holds routes (compared per missed length in probe, as `sharedLength`), else -1. */
  private pendingLength = -1
  /** Called when a lookup reaches a pending route; it must `activate` it (cni.ts builds the pod). */
  onPending: ((route: Route) => void) | null = null

  private mapOf(prefixLength: number): IntMap<Route> {
    let map = this.byLength[prefixLength]
    if (map === null) {
      map = new IntMap()
      this.byLength[prefixLength] = map
      this.lengths.push(prefixLength)
      this.lengths.sort((x, y) => y - x)
      this.masks = this.lengths.map((n) => (n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0))
    }
    return map
  }

  add(route: Route): void {
    this.memoAddress = -1
    // A later route for a pending host route's prefix would answer before it: not supported.
    assert(
      this.pending === null || !this.pending.has(route.prefix.address) || route.prefix.prefixLength !== 32,
      "route shadows a pending host route",
    )
    const map = this.mapOf(route.prefix.prefixLength)
    this.routes.push(route)
    this.index(map, route)
  }

  private index(map: IntMap<Route>, route: Route): void {
    const current = map.get(route.prefix.address)
    // A shared route counts as added when the table attached the shared set: it wins over a later
    // own route of the same prefix unless that one has a lower metric (as a per-table copy would).
    if (current === undefined && this.shared !== null && route.prefix.prefixLength === this.sharedLength) {
      const shared = this.shared.byAddress.get(route.prefix.address)
      if (shared !== undefined && shared.metric <= route.metric) return
    }
    if (current === undefined || route.metric < current.metric) map.set(route.prefix.address, route)
  }

  /**
   * A host (/32) route listed now but in force from the first lookup that reaches it (`onPending`
   * then puts it in force with `activate`); no route of its prefix may exist or be added meanwhile.
   */
  reserve(route: Route): void {
    assert(route.prefix.prefixLength === 32, "only host routes are reserved")
    assert(this.onPending !== null, "reserved route without a pending hook")
    const address = route.prefix.address
    assert(this.byLength[32]?.has(address) !== true, "reserved route's prefix already routed")
    this.memoAddress = -1
    this.mapOf(32)
    this.routes.push(route)
    this.pending ??= new IntMap()
    assert(!this.pending.has(address), "host route reserved twice")
    this.pending.set(address, route)
    this.pendingLength = 32
  }

  /** Puts the pending host route for `address` in force (its device now exists); returns it. */
  activate(address: Ipv4): Route {
    const pending = this.pending
    const route = pending?.get(address)
    assert(pending !== null && route !== undefined, "no pending route for the address")
    pending.delete(address)
    if (pending.size === 0) this.pendingLength = -1
    this.memoAddress = -1
    this.index(this.mapOf(32), route)
    return route
  }

  /** Whether `route` is reserved and not in force yet (listings take its device name elsewhere). */
  isPending(route: Route): boolean {
    return this.pending !== null && this.pending.get(route.prefix.address) === route
  }

  /**
   * The table also holds `shared`'s routes, as if added now (after its current routes, which win
   * over shared routes of the same prefix, as a node's cni0 route over its own pod CIDR's entry).
   */
  attachShared(shared: SharedRoutes): void {
    assert(this.shared === null, "routing table already has shared routes")
    this.memoAddress = -1
    this.shared = shared
    this.sharedLength = shared.prefixLength
    this.sharedAt = this.routes.length
    this.mapOf(shared.prefixLength)
  }

  /** Shared routes this table sees (those its own routes of the same prefix do not shadow). */
  private visibleShared(): Route[] {
    if (this.shared === null) return []
    const own = this.byLength[this.sharedLength] as IntMap<Route>
    const out: Route[] = []
    for (const r of this.shared.routes) {
      // An own route of the prefix from before the attach means the shared one is this table's own
      // entry (a node's own pod CIDR, on cni0), which per-table copies never held: not listed.
      const mine = own.get(r.prefix.address)
      if (mine === undefined || this.routes.indexOf(mine) >= this.sharedAt) out.push(r)
    }
    return out
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
    let sharedAt = 0
    for (let i = 0; i < this.sharedAt; i++) if (kept.includes(this.routes[i])) sharedAt++
    const pending = this.pending
    this.pending = null
    this.pendingLength = -1
    this.routes.length = 0
    this.lengths = []
    this.masks = []
    this.byLength.fill(null)
    const shared = this.shared
    this.shared = null
    this.sharedLength = -1
    this.sharedAt = 0
    for (let i = 0; i < kept.length; i++) {
      if (shared !== null && i === sharedAt) this.attachShared(shared)
      const route = kept[i]
      if (pending !== null && route.prefix.prefixLength === 32 && pending.get(route.prefix.address) === route)
        this.reserve(route)
      else this.add(route)
    }
    if (shared !== null && this.shared === null) this.attachShared(shared)
    return removed
  }

  /** Longest-prefix match; null when no route covers the address. */
  lookup(address: Ipv4): Route | null {
    const sharedVersion = this.shared === null ? -1 : this.shared.version
    if (address === this.memoAddress && sharedVersion === this.memoSharedVersion) return this.memoRoute
    const found = this.probe(address)
    this.memoAddress = address
    this.memoRoute = found
    this.memoSharedVersion = sharedVersion
    return found
  }

  private probe(address: Ipv4): Route | null {
    const lengths = this.lengths
    for (let i = 0; i < lengths.length; i++) {
      const network = (address & this.masks[i]) >>> 0
      const route = (this.byLength[lengths[i]] as IntMap<Route>).get(network)
      if (route !== undefined) return route
      if (lengths[i] === this.sharedLength) {
        const shared = (this.shared as SharedRoutes).byAddress.get(network)
        if (shared !== undefined) return shared
      }
      if (lengths[i] === this.pendingLength) {
        const pending = (this.pending as IntMap<Route>).get(network)
        if (pending !== undefined) return this.reached(pending)
      }
    }
    return null
  }

  /** A lookup reached a pending host route: its owner builds the device and puts it in force. */
  private reached(route: Route): Route {
    ;(this.onPending as (route: Route) => void)(route)
    assert(!this.isPending(route), "pending route not put in force")
    return route
  }

  /** `ip route` style listing, for tests and traces. */
  format(interfaceName: (ifIndex: number) => string): string[] {
    const all = [...this.routes.slice(0, this.sharedAt), ...this.visibleShared(), ...this.routes.slice(this.sharedAt)]
    return all.map((r) => {
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
