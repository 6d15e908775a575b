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

export interface BalancerState {
  endpoints: string[]
  index: number
  affinityType: AffinityType | ""
  affinityMap: Map<string, AffinityState>
  ttlSeconds: number
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
      state = { endpoints: [], index: 0, affinityType, affinityMap: new Map(), ttlSeconds: ttl }
      this.services.set(svcPort, state)
    } else if (affinityType !== "") state.affinityType = affinityType
    return state
  }

  deleteService(svcPort: string): void {
    this.services.delete(svcPort)
  }

  serviceHasEndpoints(svcPort: string): boolean {
    const state = this.services.get(svcPort)
    return state !== undefined && state.endpoints.length > 0
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
    if (state.endpoints.length === 0) return NextEndpointError.MISSING_ENDPOINTS
    const affinity = affinityOn(state)
    if (affinity && !sessionAffinityReset) {
      const entry = state.affinityMap.get(clientIP)
      if (entry !== undefined && Math.trunc((nowNs - entry.lastUsedNs) / NS_PER_SECOND) < state.ttlSeconds) {
        entry.lastUsedNs = nowNs
        return entry.endpoint
      }
    }
    const endpoint = state.endpoints[state.index]
    state.index = (state.index + 1) % state.endpoints.length
    if (affinity) {
      let entry = state.affinityMap.get(clientIP)
      if (entry === undefined) {
        entry = { clientIP, endpoint, lastUsedNs: nowNs }
        state.affinityMap.set(clientIP, entry)
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
    if (state === undefined || state.endpoints.length === 0 || affinityOn(state))
      return this.nextEndpoint(svcPort, formatIpv4(clientAddr), sessionAffinityReset, nowNs)
    const endpoint = state.endpoints[state.index]
    state.index = (state.index + 1) % state.endpoints.length
    return endpoint
  }

  /** OnEndpointsAdd (service "ns/name"). */
  onEndpointsAdd(namespacedName: string, ports: PortsToEndpoints): void {
    for (const [portName, newEndpoints] of ports) {
      const svcPort = servicePortName(namespacedName, portName)
      const state = this.services.get(svcPort)
      if (state === undefined || newEndpoints.length > 0) {
        const s = this.newService(svcPort, "", 0)
        s.endpoints = this.shuffle(newEndpoints)
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
      const current = state === undefined ? [] : state.endpoints
      if (state === undefined || !sameSet(current, newEndpoints)) {
        this.removeStaleAffinity(svcPort, newEndpoints)
        const s = this.newService(svcPort, "", 0)
        s.endpoints = this.shuffle(newEndpoints)
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
    if (state === undefined) return
    for (const [ip, entry] of state.affinityMap)
      if (Math.trunc((nowNs - entry.lastUsedNs) / NS_PER_SECOND) >= state.ttlSeconds) state.affinityMap.delete(ip)
  }

  private resetService(svcPort: string): void {
    const state = this.services.get(svcPort)
    if (state === undefined) return
    state.endpoints = []
    state.index = 0
    state.affinityMap = new Map()
  }

  private removeStaleAffinity(svcPort: string, newEndpoints: readonly string[]): void {
    const state = this.services.get(svcPort)
    if (state === undefined) return
    const keep = new Set(newEndpoints)
    for (const existing of state.endpoints) {
      if (keep.has(existing)) continue
      for (const [ip, entry] of state.affinityMap) if (entry.endpoint === existing) state.affinityMap.delete(ip)
    }
  }

  /** util.ShuffleStrings: perm := rand.Perm(n); shuffled[perm[i]] = s[i]. */
  private shuffle(list: readonly string[]): string[] {
    const n = list.length
    // rand.Perm's construction (m[i] = m[j]; m[j] = i for j = Intn(i + 1)).
    const perm = new Array<number>(n)
    for (let i = 0; i < n; i++) {
      const j = this.rng.intBelow(i + 1)
      perm[i] = perm[j]
      perm[j] = i
    }
    const out = new Array<string>(n)
    for (let i = 0; i < n; i++) out[perm[i]] = list[i]
    return out
  }
}

function affinityOn(state: BalancerState): boolean {
  return state.affinityType !== "" && state.affinityType !== AffinityType.NONE
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
