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
 * One service port's balancer state on a node (roundrobin.go balancerState). The endpoints are
 * the shared list of the Endpoints object (built once for every node: EndpointsFeed) seen through
 * this node's shuffle: position k holds `list[source(k)]`. For lists of up to PACKED_MAX endpoints
 * the shuffle is one integer (`packed`), else an array of the shuffled endpoints. The affinity map
 * is made at its first entry (null: empty). At thousands of Services on hundreds of nodes a copy
 * of each list and an empty map per node and port were a quarter of a node's load balancer.
 */
export class BalancerState {
  /**
   * The shared endpoint list (never written) when `packed` >= 0; above PACKED_MAX endpoints this
   * node's shuffled copy (`packed` = -1).
   */
  private list: readonly string[] = EMPTY
  /** The shuffle, packed (list.length <= PACKED_MAX), or -1: `list` is already shuffled. */
  private packed = 0
  index = 0
  /** Client IP -> its sticky endpoint; null while empty. */
  affinityMap: Map<string, AffinityState> | null = null
  /** ttlSeconds x 4 + the affinity type's code (affinityCode): one field for both. */
  private affinity: number

  constructor(affinityType: AffinityType | "", ttlSeconds: number) {
    this.affinity = ttlSeconds * 4 + affinityCode(affinityType)
  }

  get affinityType(): AffinityType | "" {
    return AFFINITY_TYPES[this.affinity & 3]
  }
  set affinityType(type: AffinityType | "") {
    this.affinity = this.affinity - (this.affinity & 3) + affinityCode(type)
  }
  get ttlSeconds(): number {
    return Math.floor(this.affinity / 4)
  }
  /** ClientIP affinity is on (affinityOn). */
  get clientIpAffinity(): boolean {
    return (this.affinity & 3) === AFFINITY_CLIENT_IP
  }

  get length(): number {
    return this.list.length
  }

  /** The endpoint at position k of this node's shuffle. */
  at(k: number): string {
    const packed = this.packed
    if (packed < 0) return this.list[k]
    return this.list[(packed >>> (PACKED_BITS * k)) & PACKED_MASK]
  }

  /** The endpoints in this node's order (a new array: for printing and tests). */
  get endpoints(): string[] {
    const out: string[] = []
    for (let k = 0; k < this.list.length; k++) out.push(this.at(k))
    return out
  }

  /**
   * util.ShuffleStrings of `list` (perm := rand.Perm(n); shuffled[perm[i]] = s[i]), drawing from
   * `rng` exactly as a shuffled copy did; the list itself is kept, not copied.
   */
  shuffle(list: readonly string[], rng: Rng): void {
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
      this.list = n === 0 ? EMPTY : list
      this.packed = packed
    } else {
      const out = new Array<string>(n)
      for (let i = 0; i < n; i++) out[perm[i]] = list[i]
      this.list = out
      this.packed = -1
    }
  }

  /** No endpoints (the port left the Endpoints object, or it was deleted). */
  clear(): void {
    this.list = EMPTY
    this.packed = 0
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
  /** ServicePortName string ("ns/name" or "ns/name:port") -> state. Insertion-ordered. */
  readonly services = new Map<string, BalancerState>()

  constructor(private readonly rng: Rng) {}

  newService(svcPort: string, affinityType: AffinityType | "", ttlSeconds: number): BalancerState {
    const ttl = ttlSeconds === 0 ? DEFAULT_AFFINITY_SECONDS : ttlSeconds
    let state = this.services.get(svcPort)
    if (state === undefined) {
      state = new BalancerState(affinityType, ttl)
      this.services.set(svcPort, state)
    } else if (affinityType !== "") state.affinityType = affinityType
    return state
  }

  deleteService(svcPort: string): void {
    this.services.delete(svcPort)
  }

  serviceHasEndpoints(svcPort: string): boolean {
    const state = this.services.get(svcPort)
    return state !== undefined && state.length > 0
  }

  /** NextEndpoint: the endpoint for a new connection from clientIP, or an error. */
  nextEndpoint(
    svcPort: string,
    clientIP: string,
    sessionAffinityReset: boolean,
    nowNs: number,
  ): string | NextEndpointError {
    const state = this.services.get(svcPort)
    if (state === undefined) return NextEndpointError.MISSING_SERVICE_ENTRY
    if (state.length === 0) return NextEndpointError.MISSING_ENDPOINTS
    const affinity = affinityOn(state)
    if (affinity && !sessionAffinityReset) {
      const entry = state.affinityMap?.get(clientIP)
      if (entry !== undefined && Math.trunc((nowNs - entry.lastUsedNs) / NS_PER_SECOND) < state.ttlSeconds) {
        entry.lastUsedNs = nowNs
        return entry.endpoint
      }
    }
    const endpoint = state.at(state.index)
    state.index = (state.index + 1) % state.length
    if (affinity) {
      const map = (state.affinityMap ??= new Map())
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
    const state = this.services.get(svcPort)
    if (state === undefined || state.length === 0 || affinityOn(state))
      return this.nextEndpoint(svcPort, formatIpv4(clientAddr), sessionAffinityReset, nowNs)
    const endpoint = state.at(state.index)
    state.index = (state.index + 1) % state.length
    return endpoint
  }

  /** OnEndpointsAdd (service "ns/name"). */
  onEndpointsAdd(namespacedName: string, ports: PortsToEndpoints): void {
    for (const [portName, newEndpoints] of ports) {
      const svcPort = servicePortName(namespacedName, portName)
      const state = this.services.get(svcPort)
      if (state === undefined || newEndpoints.length > 0) {
        const s = this.newService(svcPort, "", 0)
        s.shuffle(newEndpoints, this.rng)
        s.index = 0
      }
    }
  }

  /** OnEndpointsUpdate (service "ns/name"). */
  onEndpointsUpdate(namespacedName: string, oldPorts: PortsToEndpoints, ports: PortsToEndpoints): void {
    const registered = new Set<string>()
    for (const [portName, newEndpoints] of ports) {
      const svcPort = servicePortName(namespacedName, portName)
      const state = this.services.get(svcPort)
      if (state === undefined || !sameSet(state.endpoints, newEndpoints)) {
        this.removeStaleAffinity(svcPort, newEndpoints)
        const s = this.newService(svcPort, "", 0)
        s.shuffle(newEndpoints, this.rng)
        s.index = 0
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
    const state = this.services.get(svcPort)
    const map = state?.affinityMap
    if (state === undefined || map === null || map === undefined) return
    for (const [ip, entry] of map)
      if (Math.trunc((nowNs - entry.lastUsedNs) / NS_PER_SECOND) >= state.ttlSeconds) map.delete(ip)
  }

  private resetService(svcPort: string): void {
    const state = this.services.get(svcPort)
    if (state === undefined) return
    state.clear()
    state.index = 0
    state.affinityMap = null
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

function affinityOn(state: BalancerState): boolean {
  return state.clientIpAffinity
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
