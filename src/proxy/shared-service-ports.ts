/**
 * kube-proxy's service-port view (service-port.ts `buildServicePorts`) computed once for the whole
 * cluster instead of once per node and sync.
 *
 * Every node's kube-proxy builds the same list of service ports from the same Services and
 * EndpointSlices; the one node-dependent bit is `EndpointInfo.isLocal` (endpoint.nodeName is the
 * node's name), and through it which of two duplicate endpoints wins (a local one replaces a remote
 * one, endpointslicecache.go). So each Service has one *remote* variant of its ports (isLocal false
 * everywhere: the view of every node that hosts none of its endpoints) and one *local* variant per
 * node that hosts one of its endpoints; a Service's endpoints run on at most as many nodes as it has
 * endpoints, so the number of variants grows with Services + endpoints, not Services x nodes.
 *
 * Variants are immutable and interned by content: a node's ports compare equal to its previous
 * sync's exactly when they are the same objects or have the same JSON (compared structurally, no
 * strings built: sameJsonData), as the proxier's change tracking compares them
 * (iptables/proxier.ts), whatever happened in between.
 *
 * A snapshot (the sorted port list of one (Services, EndpointSlices) state) is rebuilt when a node
 * syncs after a write; per Service, only Services whose object or slices changed are recomputed.
 */
import type { EndpointSlice, Service } from "../k8s/types.ts"
import { LABEL_SERVICE_NAME } from "../k8s/types.ts"
import {
  buildEndpointVariants,
  compareServicePorts,
  programmedByKubeProxy,
  servicePortsOf,
  watchedByKubeProxy,
} from "./service-port.ts"
import type { ServicePortInfo } from "./service-port.ts"

interface ServiceEntry {
  /** "namespace/name". */
  readonly key: string
  readonly service: Service
  /** The Service's EndpointSlices kube-proxy reads, in store (namespace/name) order. */
  readonly slices: readonly EndpointSlice[]
  /** Ports as seen from a node hosting none of the endpoints. */
  readonly remote: readonly ServicePortInfo[]
  /** Ports as seen from each node that hosts one of the endpoints. */
  readonly local: ReadonlyMap<string, readonly ServicePortInfo[]>
}

interface Snapshot {
  readonly services: readonly Service[]
  readonly slices: readonly EndpointSlice[]
  /** Remote variants of every programmed service port, in buildServicePorts order. */
  readonly ports: readonly ServicePortInfo[]
  /** Position of each remote port in `ports`. */
  readonly position: ReadonlyMap<ServicePortInfo, number>
  /** The entries of the Services each node hosts an endpoint of. */
  readonly byNode: ReadonlyMap<string, readonly ServiceEntry[]>
  /** Per node, the node's port list (built on first request). */
  readonly forNode: Map<string, readonly ServicePortInfo[]>
  /** Every programmed Service's entry, by "namespace/name". */
  readonly entries: ReadonlyMap<string, ServiceEntry>
}

/**
 * A node's service ports as the shared list plus only what differs for the node (`nodePorts`):
 * the node's list is `base` with `variants[k]` at `positions[k]`. Immutable.
 */
export interface NodeServicePorts {
  /** The remote variants of every programmed service port, in buildServicePorts order (shared). */
  readonly base: readonly ServicePortInfo[]
  /** The Services the node hosts an endpoint of, in Service-list order. */
  readonly hosted: readonly HostedService[]
  /** Positions in `base` of the hosted Services' ports (parallel to `variants`). */
  readonly positions: readonly number[]
  /** The node's (local) variant at each of `positions`. */
  readonly variants: readonly ServicePortInfo[]
  /** A programmed Service's remote ports in this state (undefined: not programmed). */
  remoteOf(namespacedName: string): readonly ServicePortInfo[] | undefined
  /** The whole list, as `servicePorts` returns it (built on each call). */
  list(): readonly ServicePortInfo[]
}

/** One Service whose endpoints the node hosts: its ports from a node hosting none, and from this node. */
export interface HostedService {
  readonly namespacedName: string
  readonly remote: readonly ServicePortInfo[]
  readonly local: readonly ServicePortInfo[]
}

/** The ports of a node before its first sync: nothing. */
export const NO_NODE_SERVICE_PORTS: NodeServicePorts = {
  base: [],
  hosted: [],
  positions: [],
  variants: [],
  remoteOf: () => undefined,
  list: () => [],
}

const EMPTY_SLICES: readonly EndpointSlice[] = []

export class SharedServicePorts {
  private entries = new Map<string, ServiceEntry>()
  private snapshot: Snapshot | null = null
  /** Snapshots built (one per distinct (Services, EndpointSlices) state a sync saw). */
  snapshotsBuilt = 0
  /** Per-Service port computations (a Service's variants, when it or its slices changed). */
  serviceBuilds = 0
  /** Node port lists assembled (one per node per snapshot it synced against). */
  nodeViews = 0

  /** What buildServicePorts(services, slices, {name: nodeName}) returns, shared where equal. */
  servicePorts(
    services: readonly Service[],
    slices: readonly EndpointSlice[],
    nodeName: string,
  ): readonly ServicePortInfo[] {
    const snapshot = this.snapshotFor(services, slices)
    let ports = snapshot.forNode.get(nodeName)
    if (ports === undefined) {
      this.nodeViews++
      const hosted = snapshot.byNode.get(nodeName)
      if (hosted === undefined) ports = snapshot.ports
      else {
        const copy = snapshot.ports.slice()
        for (const entry of hosted) {
          const local = entry.local.get(nodeName) as readonly ServicePortInfo[]
          for (let i = 0; i < entry.remote.length; i++)
            copy[snapshot.position.get(entry.remote[i]) as number] = local[i]
        }
        ports = copy
      }
      snapshot.forNode.set(nodeName, ports)
    }
    return ports
  }

  /**
   * What `servicePorts` returns for the node, without the per-node copy: the shared list and the
   * node's own variants (the Services it hosts an endpoint of). Work and memory per node grow with
   * the Services it hosts endpoints of, not with the Services of the cluster.
   */
  nodePorts(services: readonly Service[], slices: readonly EndpointSlice[], nodeName: string): NodeServicePorts {
    const snapshot = this.snapshotFor(services, slices)
    const entries = snapshot.entries
    const remoteOf = (namespacedName: string): readonly ServicePortInfo[] | undefined =>
      entries.get(namespacedName)?.remote
    const base = snapshot.ports
    const hostedEntries = snapshot.byNode.get(nodeName)
    if (hostedEntries === undefined) {
      return { base, hosted: [], positions: [], variants: [], remoteOf, list: () => base }
    }
    const hosted: HostedService[] = []
    const positions: number[] = []
    const variants: ServicePortInfo[] = []
    for (const entry of hostedEntries) {
      const local = entry.local.get(nodeName) as readonly ServicePortInfo[]
      hosted.push({ namespacedName: entry.key, remote: entry.remote, local })
      for (let i = 0; i < entry.remote.length; i++) {
        positions.push(snapshot.position.get(entry.remote[i]) as number)
        variants.push(local[i])
      }
    }
    return {
      base,
      hosted,
      positions,
      variants,
      remoteOf,
      list: () => {
        const copy = base.slice()
        for (let k = 0; k < positions.length; k++) copy[positions[k]] = variants[k]
        return copy
      },
    }
  }

  /** Whether two service ports are equal (same object, or the same JSON: sameJsonData). */
  samePort(a: ServicePortInfo, b: ServicePortInfo): boolean {
    return a === b || sameJsonData(a, b)
  }

  private snapshotFor(services: readonly Service[], slices: readonly EndpointSlice[]): Snapshot {
    const last = this.snapshot
    if (last !== null && sameItems(last.services, services) && sameItems(last.slices, slices)) return last
    this.snapshotsBuilt++
    // EndpointSlices kube-proxy reads, grouped by their Service, in store order.
    const slicesByService = new Map<string, EndpointSlice[]>()
    for (const slice of slices) {
      if (slice.addressType !== "IPv4" || !watchedByKubeProxy(slice.metadata.labels)) continue
      const serviceName = slice.metadata.labels?.[LABEL_SERVICE_NAME]
      if (serviceName === undefined || serviceName === "") continue
      const key = `${slice.metadata.namespace ?? "default"}/${serviceName}`
      const list = slicesByService.get(key)
      if (list === undefined) slicesByService.set(key, [slice])
      else list.push(slice)
    }
    const entries = new Map<string, ServiceEntry>()
    const ports: ServicePortInfo[] = []
    const byNode = new Map<string, ServiceEntry[]>()
    for (const service of services) {
      if (!programmedByKubeProxy(service)) continue
      const key = `${service.metadata.namespace ?? "default"}/${service.metadata.name}`
      const ownSlices = slicesByService.get(key) ?? EMPTY_SLICES
      let entry = this.entries.get(key)
      if (entry === undefined || entry.service !== service || !sameItems(entry.slices, ownSlices))
        entry = this.buildEntry(service, ownSlices, entry)
      entries.set(key, entry)
      for (const port of entry.remote) ports.push(port)
      for (const nodeName of entry.local.keys()) {
        const list = byNode.get(nodeName)
        if (list === undefined) byNode.set(nodeName, [entry])
        else list.push(entry)
      }
    }
    ports.sort(compareServicePorts)
    const position = new Map<ServicePortInfo, number>()
    for (let i = 0; i < ports.length; i++) position.set(ports[i], i)
    this.entries = entries
    const snapshot: Snapshot = { services, slices, ports, position, byNode, forNode: new Map(), entries }
    this.snapshot = snapshot
    return snapshot
  }

  private buildEntry(
    service: Service,
    slices: readonly EndpointSlice[],
    previous: ServiceEntry | undefined,
  ): ServiceEntry {
    this.serviceBuilds++
    const variants = buildEndpointVariants(slices)
    const remote = this.reuse(servicePortsOf(service, variants.remote), previous?.remote)
    const nodes = new Set<string>()
    for (const slice of slices)
      for (const endpoint of slice.endpoints) if (endpoint.nodeName !== undefined) nodes.add(endpoint.nodeName)
    const local = new Map<string, readonly ServicePortInfo[]>()
    for (const nodeName of [...nodes].sort()) {
      // What servicePortsOf(service, buildEndpointsMap(slices, nodeName)) returns: the remote
      // ports with the node's own endpoints in place. A node's variant holds the remote variant's
      // endpoint objects elsewhere: the variants of a Service then cost its local endpoints each,
      // not a copy of its whole endpoint list per hosting node.
      const mine = variants.local.get(nodeName)
      const ports = remote.map((port): ServicePortInfo => {
        const own = mine?.get(`${port.namespacedName}|${port.portName}|${port.protocol}`)
        if (own === undefined) return { ...port }
        return { ...port, endpoints: port.endpoints.map((endpoint) => own.get(endpoint.endpoint) ?? endpoint) }
      })
      const before = previous === undefined ? undefined : (previous.local.get(nodeName) ?? previous.remote)
      local.set(nodeName, this.reuse(ports, before))
    }
    return {
      key: `${service.metadata.namespace ?? "default"}/${service.metadata.name}`,
      service,
      slices,
      remote,
      local,
    }
  }

  /** `ports`, with each port replaced by the previous variant's when equal (keeps identities stable). */
  private reuse(ports: ServicePortInfo[], before: readonly ServicePortInfo[] | undefined): readonly ServicePortInfo[] {
    if (before === undefined) return ports
    for (let i = 0; i < ports.length; i++) {
      const old = before[i]
      if (old !== undefined && sameJsonData(old, ports[i])) ports[i] = old
    }
    return ports
  }
}

/**
 * Whether `JSON.stringify(a) === JSON.stringify(b)` for plain data (strings, numbers, booleans,
 * null, arrays, objects without undefined values, as service ports are), without building the
 * strings: same types, arrays of the same length with equal items, the same keys in the same order
 * with equal values. (A JSON string kept per port object cost gigabytes at 150,000 endpoints: each
 * port's variants, one per node hosting an endpoint, each the size of its endpoint list.)
 */
export function sameJsonData(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!sameJsonData(a[i], b[i])) return false
    return true
  }
  const x = a as Record<string, unknown>
  const y = b as Record<string, unknown>
  const keysA = Object.keys(x)
  const keysB = Object.keys(y)
  if (keysA.length !== keysB.length) return false
  for (let i = 0; i < keysA.length; i++) {
    const key = keysA[i]
    if (key !== keysB[i] || !sameJsonData(x[key], y[key])) return false
  }
  return true
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
