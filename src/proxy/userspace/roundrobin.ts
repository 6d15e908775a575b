/**
 * The userspace proxier's load balancer, LoadBalancerRR (kubernetes v1.25
 * pkg/proxy/userspace/roundrobin.go): per service port a list of "ip:port" endpoints shuffled when
 * it changes, a round-robin index, and ClientIP session affinity with a sticky timeout.
 *
 * Faithful points (each pinned by test/proxy/userspace.test.ts):
 * - NextEndpoint: with ClientIP affinity and no reset, a client's affinity entry is reused while
 *   `int(time.Since(lastUsed).Seconds()) < ttlSeconds` (whole seconds, truncated), refreshing
 *   lastUsed; otherwise endpoints[index] is taken, index = (index + 1) % len, and the client's entry
 *   (re)written. No endpoints: ErrMissingEndpoints; unknown service port: ErrMissingServiceEntry.
 * - Endpoint updates (OnEndpointsAdd / OnEndpointsUpdate / OnEndpointsDelete): a changed set
 *   (compared sorted) removes the affinity entries of endpoints that left, is shuffled
 *   (util.ShuffleStrings: shuffled[perm[i]] = s[i]) and resets the index to 0; an unchanged set
 *   keeps order and index. OnEndpointsAdd with an empty list leaves an existing service alone.
 *   A port that disappears from the Endpoints resets the service (no endpoints, index 0, affinity
 *   map cleared) but keeps it.
 * - NewService with ttl 0 uses 10800 s (v1.DefaultClientIPServiceAffinitySeconds); an empty
 *   affinity type does not overwrite the existing one.
 * - CleanupStaleStickySessions drops entries idle for >= ttlSeconds (whole seconds).
 *
 * Time is simulated (integer ns); the shuffle draws from a seeded stream (Go's math/rand global
 * source in upstream), so runs are reproducible.
 */
import type { Rng } from "../../sim/rng.ts"
import type { Ipv4 } from "../../wire/ipv4.ts"
import { formatIpv4 } from "../../wire/ipv4.ts"

export const AffinityType = { NONE: "None", CLIENT_IP: "ClientIP" } as const
export type AffinityType = (typeof AffinityType)[keyof typeof AffinityType]

/** v1.DefaultClientIPServiceAffinitySeconds. */
export const DEFAULT_AFFINITY_SECONDS = 10800

export const NextEndpointError = {
  MISSING_SERVICE_ENTRY: "missing service entry",
  MISSING_ENDPOINTS: "missing endpoints",
} as const
export type NextEndpointError = (typeof NextEndpointError)[keyof typeof NextEndpointError]

interface AffinityState {
  clientIP: string
  endpoint: string
  lastUsedNs: number
}

const EMPTY: readonly string[] = []

/**
 * Endpoint lists up to this length keep their shuffle packed in one small integer: position k's
 * index into the shared list in bits 3k..3k+2 (24 bits at most: a V8 small integer).
 */
const PACKED_MAX = 8
const PACKED_BITS = 3
const PACKED_MASK = (1 << PACKED_BITS) - 1

/**
 * Every service port's balancer state on one node (roundrobin.go's balancerState per
 * ServicePortName), as columns indexed by the port name's index (`ServicePortNames`, shared by the
 * nodes of a cluster): the endpoint list, the packed shuffle, the round-robin index and the
 * affinity (type and ttl). A state object and a map entry per node and service port were some
 * 110 bytes; these are 20. The affinity maps are kept apart, for the ports that have an entry.
 *
 * The endpoints are the shared list of the Endpoints object (built once for every node:
 * EndpointsFeed) seen through this node's shuffle: position p holds `list[source(p)]`. For lists of
 * up to PACKED_MAX endpoints the shuffle is one integer (`packed`), else the list is this node's
 * shuffled copy (`packed` = -1).
 */
export class BalancerColumns {
  /** Per index: the list (see above), EMPTY for a state without endpoints, undefined: no state. */
  readonly lists: (readonly string[] | undefined)[] = []
  packed = new Int32Array(16)
  index = new Int32Array(16)
  /** ttlSeconds x 4 + the affinity type's code (affinityCode). */
  affinity = new Int32Array(16)
  /** Client IP -> its sticky endpoint, per index with an entry (absent: empty). */
  readonly affinityMaps = new Map<number, Map<string, AffinityState>>()

  has(k: number): boolean {
    return k >= 0 && this.lists[k] !== undefined
  }

  /** A new state at `k` (no endpoints, index 0, the given affinity). */
  create(k: number, affinity: number): void {
    if (k >= this.packed.length) this.grow(k)
    while (this.lists.length <= k) this.lists.push(undefined)
    this.lists[k] = EMPTY
    this.packed[k] = 0
    this.index[k] = 0
    this.affinity[k] = affinity
  }

  delete(k: number): void {
    this.lists[k] = undefined
    this.affinityMaps.delete(k)
  }

  length(k: number): number {
    return (this.lists[k] as readonly string[]).length
  }

  /** The endpoint at position p of this node's shuffle of state k. */
  at(k: number, p: number): string {
    const list = this.lists[k] as readonly string[]
    const packed = this.packed[k]
    if (packed < 0) return list[p]
    return list[(packed >>> (PACKED_BITS * p)) & PACKED_MASK]
  }

  /**
   * util.ShuffleStrings of `list` into state k (perm := rand.Perm(n); shuffled[perm[i]] = s[i]),
   * drawing from `rng` exactly as a shuffled copy did; the list itself is kept, not copied, up to
   * PACKED_MAX endpoints.
   */
  shuffle(k: number, list: readonly string[], rng: Rng): void {
    const n = list.length
    // rand.Perm's construction (m[i] = m[j]; m[j] = i for j = Intn(i + 1)).
    const perm = new Array<number>(n)
    for (let i = 0; i < n; i++) {
      const j = rng.intBelow(i + 1)
      perm[i] = perm[j]
      perm[j] = i
    }
    if (n <= PACKED_MAX) {
      let packed = 0
      for (let i = 0; i < n; i++) packed |= i << (PACKED_BITS * perm[i])
      this.lists[k] = n === 0 ? EMPTY : list
      this.packed[k] = packed
    } else {
      const out = new Array<string>(n)
      for (let i = 0; i < n; i++) out[perm[i]] = list[i]
      this.lists[k] = out
      this.packed[k] = -1
    }
  }

  /** No endpoints (the port left the Endpoints object, or it was deleted). */
  clear(k: number): void {
    this.lists[k] = EMPTY
    this.packed[k] = 0
  }

  private grow(k: number): void {
    let size = this.packed.length
    while (size <= k) size *= 2
    const packed = new Int32Array(size)
    packed.set(this.packed)
    this.packed = packed
    const index = new Int32Array(size)
    index.set(this.index)
    this.index = index
    const affinity = new Int32Array(size)
    affinity.set(this.affinity)
    this.affinity = affinity
  }
}

/**
 * One service port's balancer state (roundrobin.go balancerState): a view of its columns in the
 * node's BalancerColumns (it reads and writes them; made on demand, for printing and tests), or,
 * constructed alone, of columns of its own.
 */
export class BalancerState {
  private readonly cols: BalancerColumns
  private readonly k: number

  constructor(affinityType: AffinityType | "", ttlSeconds: number, cols?: BalancerColumns, k = 0) {
    if (cols === undefined) {
      cols = new BalancerColumns()
      cols.create(k, ttlSeconds * 4 + affinityCode(affinityType))
    }
    this.cols = cols
    this.k = k
  }

  get index(): number {
    return this.cols.index[this.k]
  }
  set index(value: number) {
    this.cols.index[this.k] = value
  }

  /** Client IP -> its sticky endpoint; null while empty. */
  get affinityMap(): Map<string, AffinityState> | null {
    return this.cols.affinityMaps.get(this.k) ?? null
  }

  get affinityType(): AffinityType | "" {
    return AFFINITY_TYPES[this.cols.affinity[this.k] & 3]
  }
  set affinityType(type: AffinityType | "") {
    const a = this.cols.affinity[this.k]
    this.cols.affinity[this.k] = a - (a & 3) + affinityCode(type)
  }
  get ttlSeconds(): number {
    return Math.floor(this.cols.affinity[this.k] / 4)
  }
  /** ClientIP affinity is on (affinityOn). */
  get clientIpAffinity(): boolean {
    return (this.cols.affinity[this.k] & 3) === AFFINITY_CLIENT_IP
  }

  get length(): number {
    return this.cols.length(this.k)
  }

  /** The endpoint at position p of this node's shuffle. */
  at(p: number): string {
    return this.cols.at(this.k, p)
  }

  /** The endpoints in this node's order (a new array: for printing and tests). */
  get endpoints(): string[] {
    const out: string[] = []
    const n = this.length
    for (let p = 0; p < n; p++) out.push(this.at(p))
    return out
  }

  /** util.ShuffleStrings of `list` (BalancerColumns.shuffle). */
  shuffle(list: readonly string[], rng: Rng): void {
    this.cols.shuffle(this.k, list, rng)
  }

  clear(): void {
    this.cols.clear(this.k)
  }
}

/**
 * ServicePortName string -> index, assigned at first use and kept, shared by the load balancers
 * of the nodes of one cluster (`of`), so that their columns line up and the names are held once.
 */
export class ServicePortNames {
  private static readonly shared = new WeakMap<object, ServicePortNames>()
  private readonly indexes = new Map<string, number>()

  static of(cluster: object): ServicePortNames {
    let names = ServicePortNames.shared.get(cluster)
    if (names === undefined) {
      names = new ServicePortNames()
      ServicePortNames.shared.set(cluster, names)
    }
    return names
  }

  /** The name's index, assigned now if it has none. */
  index(name: string): number {
    let k = this.indexes.get(name)
    if (k === undefined) {
      k = this.indexes.size
      this.indexes.set(name, k)
    }
    return k
  }

  /** Names indexed (one per service port name of the cluster, whatever the node count). */
  get size(): number {
    return this.indexes.size
  }

  /** The name's index, or -1 (none assigned yet: no balancer holds a state for it). */
  peek(name: string): number {
    return this.indexes.get(name) ?? -1
  }
}

/** A load balancer's states by ServicePortName (views: BalancerState). */
export class BalancerStates {
  constructor(
    private readonly names: ServicePortNames,
    private readonly cols: BalancerColumns,
  ) {}

  get(svcPort: string): BalancerState | undefined {
    const k = this.names.peek(svcPort)
    return this.cols.has(k) ? new BalancerState("", 0, this.cols, k) : undefined
  }

  has(svcPort: string): boolean {
    return this.cols.has(this.names.peek(svcPort))
  }
}

/** BalancerState's affinity codes: "" (not set), None, ClientIP. */
const AFFINITY_TYPES: readonly (AffinityType | "")[] = ["", AffinityType.NONE, AffinityType.CLIENT_IP, ""]
const AFFINITY_CLIENT_IP = 2

function affinityCode(type: AffinityType | ""): number {
  return type === AffinityType.NONE ? 1 : type === AffinityType.CLIENT_IP ? AFFINITY_CLIENT_IP : 0
}

/** util.BuildPortsToEndpointsMap of one Endpoints object: port name -> ["ip:port", ...]. */
export type PortsToEndpoints = ReadonlyMap<string, readonly string[]>

const NS_PER_SECOND = 1_000_000_000

export class LoadBalancerRR {
  /** The states, as columns indexed by the service port name's index (`names`). */
  private readonly cols = new BalancerColumns()
  /** ServicePortName string ("ns/name" or "ns/name:port") -> state (views of `cols`). */
  readonly services: BalancerStates

  constructor(
    private readonly rng: Rng,
    private readonly names: ServicePortNames = new ServicePortNames(),
  ) {
    this.services = new BalancerStates(names, this.cols)
  }

  /** NewService: the state's index (made with the affinity, or its affinity type updated). */
  private newServiceIndex(svcPort: string, affinityType: AffinityType | "", ttlSeconds: number): number {
    return this.newServiceAt(this.names.index(svcPort), affinityType, ttlSeconds)
  }

  /** NewService of the service port whose name has index `k` (ServicePortNames). */
  private newServiceAt(k: number, affinityType: AffinityType | "", ttlSeconds: number): number {
    const ttl = ttlSeconds === 0 ? DEFAULT_AFFINITY_SECONDS : ttlSeconds
    const cols = this.cols
    if (!cols.has(k)) cols.create(k, ttl * 4 + affinityCode(affinityType))
    else if (affinityType !== "") {
      const a = cols.affinity[k]
      cols.affinity[k] = a - (a & 3) + affinityCode(affinityType)
    }
    return k
  }

  newService(svcPort: string, affinityType: AffinityType | "", ttlSeconds: number): BalancerState {
    return new BalancerState("", 0, this.cols, this.newServiceIndex(svcPort, affinityType, ttlSeconds))
  }

  /**
   * NewService without the state's view, by the port name's index `k` (ServicePortNames: the
   * proxier's commit knows it from the portal rule set, and skips 10,000 name lookups).
   */
  addServiceAt(k: number, affinityType: AffinityType | "", ttlSeconds: number): void {
    this.newServiceAt(k, affinityType, ttlSeconds)
  }

  /** Whether any service port holds a sticky-session entry (none: cleanupStaleStickySessions has nothing to do). */
  get hasAffinityEntries(): boolean {
    return this.cols.affinityMaps.size > 0
  }

  deleteService(svcPort: string): void {
    const k = this.names.peek(svcPort)
    if (this.cols.has(k)) this.cols.delete(k)
  }

  serviceHasEndpoints(svcPort: string): boolean {
    const k = this.names.peek(svcPort)
    return this.cols.has(k) && this.cols.length(k) > 0
  }

  /** NextEndpoint: the endpoint for a new connection from clientIP, or an error. */
  nextEndpoint(
    svcPort: string,
    clientIP: string,
    sessionAffinityReset: boolean,
    nowNs: number,
  ): string | NextEndpointError {
    const k = this.names.peek(svcPort)
    const cols = this.cols
    if (!cols.has(k)) return NextEndpointError.MISSING_SERVICE_ENTRY
    const length = cols.length(k)
    if (length === 0) return NextEndpointError.MISSING_ENDPOINTS
    const affinity = (cols.affinity[k] & 3) === AFFINITY_CLIENT_IP
    const ttlSeconds = Math.floor(cols.affinity[k] / 4)
    if (affinity && !sessionAffinityReset) {
      const entry = cols.affinityMaps.get(k)?.get(clientIP)
      if (entry !== undefined && Math.trunc((nowNs - entry.lastUsedNs) / NS_PER_SECOND) < ttlSeconds) {
        entry.lastUsedNs = nowNs
        return entry.endpoint
      }
    }
    const index = cols.index[k]
    const endpoint = cols.at(k, index)
    cols.index[k] = (index + 1) % length
    if (affinity) {
      let map = cols.affinityMaps.get(k)
      if (map === undefined) {
        map = new Map()
        cols.affinityMaps.set(k, map)
      }
      let entry = map.get(clientIP)
      if (entry === undefined) {
        entry = { clientIP, endpoint, lastUsedNs: nowNs }
        map.set(clientIP, entry)
      }
      entry.lastUsedNs = nowNs
      entry.endpoint = endpoint
    }
    return endpoint
  }

  /**
   * NextEndpoint for a client given by its address (the proxy sockets' callers). Upstream formats
   * the client's IP for every new connection (ServicePortName + clientIP); it only keys the
   * affinity map, so the string is made only when the service has ClientIP affinity.
   */
  nextEndpointFor(
    svcPort: string,
    clientAddr: Ipv4,
    sessionAffinityReset: boolean,
    nowNs: number,
  ): string | NextEndpointError {
    const k = this.names.peek(svcPort)
    const cols = this.cols
    if (!cols.has(k) || cols.length(k) === 0 || (cols.affinity[k] & 3) === AFFINITY_CLIENT_IP)
      return this.nextEndpoint(svcPort, formatIpv4(clientAddr), sessionAffinityReset, nowNs)
    const index = cols.index[k]
    const endpoint = cols.at(k, index)
    cols.index[k] = (index + 1) % cols.length(k)
    return endpoint
  }

  /** OnEndpointsAdd (service "ns/name"). */
  onEndpointsAdd(namespacedName: string, ports: PortsToEndpoints): void {
    const cols = this.cols
    for (const [portName, newEndpoints] of ports) {
      const svcPort = servicePortName(namespacedName, portName)
      if (!cols.has(this.names.peek(svcPort)) || newEndpoints.length > 0) {
        const k = this.newServiceIndex(svcPort, "", 0)
        cols.shuffle(k, newEndpoints, this.rng)
        cols.index[k] = 0
      }
    }
  }

  /** OnEndpointsUpdate (service "ns/name"). */
  onEndpointsUpdate(namespacedName: string, oldPorts: PortsToEndpoints, ports: PortsToEndpoints): void {
    const cols = this.cols
    const registered = new Set<string>()
    for (const [portName, newEndpoints] of ports) {
      const svcPort = servicePortName(namespacedName, portName)
      const state = this.services.get(svcPort)
      if (state === undefined || !sameSet(state.endpoints, newEndpoints)) {
        this.removeStaleAffinity(svcPort, newEndpoints)
        const k = this.newServiceIndex(svcPort, "", 0)
        cols.shuffle(k, newEndpoints, this.rng)
        cols.index[k] = 0
      }
      registered.add(svcPort)
    }
    for (const portName of oldPorts.keys()) {
      const svcPort = servicePortName(namespacedName, portName)
      if (!registered.has(svcPort)) this.resetService(svcPort)
    }
  }

  /** OnEndpointsDelete (service "ns/name"). */
  onEndpointsDelete(namespacedName: string, ports: PortsToEndpoints): void {
    for (const portName of ports.keys()) this.resetService(servicePortName(namespacedName, portName))
  }

  cleanupStaleStickySessions(svcPort: string, nowNs: number): void {
    const k = this.names.peek(svcPort)
    if (!this.cols.has(k)) return
    const map = this.cols.affinityMaps.get(k)
    if (map === undefined) return
    const ttlSeconds = Math.floor(this.cols.affinity[k] / 4)
    for (const [ip, entry] of map)
      if (Math.trunc((nowNs - entry.lastUsedNs) / NS_PER_SECOND) >= ttlSeconds) map.delete(ip)
  }

  private resetService(svcPort: string): void {
    const k = this.names.peek(svcPort)
    if (!this.cols.has(k)) return
    this.cols.clear(k)
    this.cols.index[k] = 0
    this.cols.affinityMaps.delete(k)
  }

  private removeStaleAffinity(svcPort: string, newEndpoints: readonly string[]): void {
    const state = this.services.get(svcPort)
    const map = state?.affinityMap
    if (state === undefined || map === null || map === undefined) return
    const keep = new Set(newEndpoints)
    for (const existing of state.endpoints) {
      if (keep.has(existing)) continue
      for (const [ip, entry] of map) if (entry.endpoint === existing) map.delete(ip)
    }
  }
}

/** proxy.ServicePortName.String() without protocol, as the userspace proxier keys its services. */
export function servicePortName(namespacedName: string, portName: string): string {
  return portName === "" ? namespacedName : `${namespacedName}:${portName}`
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  const x = [...a].sort()
  const y = [...b].sort()
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false
  return true
}
