/**
 * fast-check generators for the kernel differential test: small random sets of Services and
 * EndpointSlices (Kubernetes objects as k8s/types.ts defines them) and kube-proxy settings, all with
 * addresses from topology.ts, plus the probe targets a case sends traffic to.
 */
import fc from "fast-check"
import type { Endpoint, EndpointSlice, Service, ServicePort } from "../../src/k8s/types.ts"
import { LABEL_SERVICE_NAME } from "../../src/k8s/types.ts"
import { DEFAULT_IPTABLES_CONFIG } from "../../src/proxy/iptables/compile.ts"
import type { IptablesConfig } from "../../src/proxy/iptables/compile.ts"
import {
  CLUSTER_CIDR,
  ENDPOINT_PODS,
  ENDPOINT_POOL,
  EXTERNAL_HIGH_ALT_IPS,
  EXTERNAL_HIGH_IPS,
  EXTERNAL_LOW_ALT_IPS,
  EXTERNAL_LOW_IPS,
  NODE_IP,
  NODE_NAME,
  OTHER_NODE_NAME,
  POD_ALT_IPS,
  POD_CLIENT_IPS,
  TARGET_PORTS,
} from "./topology.ts"
import type { ClientKind } from "./topology.ts"
import type { Proto } from "./lab.ts"

export interface Case {
  readonly services: readonly Service[]
  readonly slices: readonly EndpointSlice[]
  readonly config: IptablesConfig
}

interface PortDraft {
  readonly protocol: "TCP" | "UDP"
  readonly port: number
  readonly targetPort: number
  readonly named: boolean
}

interface EndpointDraft {
  readonly ipIndex: number
  readonly condition: "ready" | "terminating-serving" | "terminating" | "not-ready"
  readonly node: "local" | "other" | "none"
}

interface ServiceDraft {
  readonly type: "ClusterIP" | "NodePort" | "LoadBalancer"
  readonly ports: readonly PortDraft[]
  readonly externalIP: boolean
  readonly etpLocal: boolean
  readonly itpLocal: boolean
  readonly affinity: boolean
  readonly sourceRanges: readonly string[]
  readonly endpoints: readonly EndpointDraft[]
  readonly twoSlices: boolean
}

const portArb: fc.Arbitrary<PortDraft> = fc.record({
  protocol: fc.constantFrom("TCP" as const, "UDP" as const),
  port: fc.constantFrom(80, 8080, 53),
  targetPort: fc.constantFrom(...TARGET_PORTS),
  named: fc.boolean(),
})

const endpointArb: fc.Arbitrary<EndpointDraft> = fc.record({
  ipIndex: fc.integer({ min: 0, max: ENDPOINT_POOL.length - 1 }),
  condition: fc.constantFrom(
    "ready" as const,
    "ready" as const,
    "ready" as const,
    "terminating-serving" as const,
    "terminating" as const,
    "not-ready" as const,
  ),
  node: fc.constantFrom("local" as const, "other" as const, "none" as const),
})

const serviceArb: fc.Arbitrary<ServiceDraft> = fc.record({
  type: fc.constantFrom("ClusterIP" as const, "NodePort" as const, "LoadBalancer" as const),
  ports: fc.uniqueArray(portArb, { minLength: 1, maxLength: 2, selector: (p) => `${p.protocol}/${p.port}` }),
  externalIP: fc.boolean(),
  etpLocal: fc.boolean(),
  itpLocal: fc.boolean(),
  // Affinity in one service of three: sessions make two waves, and the random splits it would hide are the stronger test.
  affinity: fc.constantFrom(false, false, true),
  sourceRanges: fc.subarray(["203.0.113.0/25", "10.0.0.0/8", "192.168.0.0/24"], { minLength: 0, maxLength: 2 }),
  endpoints: fc.uniqueArray(endpointArb, { minLength: 0, maxLength: 4, selector: (e) => e.ipIndex }),
  twoSlices: fc.boolean(),
})

export const caseArb: fc.Arbitrary<Case> = fc
  .record({
    drafts: fc.array(serviceArb, { minLength: 1, maxLength: 3 }),
    masqueradeAll: fc.boolean(),
    localhostNodePorts: fc.boolean(),
    randomFully: fc.boolean(),
  })
  .map(({ drafts, masqueradeAll, localhostNodePorts, randomFully }) => {
    const services: Service[] = []
    const slices: EndpointSlice[] = []
    drafts.forEach((d, i) => {
      const [service, serviceSlices] = buildService(d, i)
      services.push(service)
      slices.push(...serviceSlices)
    })
    const config: IptablesConfig = {
      ...DEFAULT_IPTABLES_CONFIG,
      clusterCIDR: CLUSTER_CIDR,
      nfacct: false,
      masqueradeAll,
      localhostNodePorts,
      randomFully,
    }
    return { services, slices, config }
  })

function buildService(d: ServiceDraft, i: number): [Service, EndpointSlice[]] {
  const namespace = `ns${i + 1}`
  const name = `svc${i + 1}`
  const single = d.ports.length === 1
  const ports: ServicePort[] = d.ports.map((p, j) => {
    const port: ServicePort = { protocol: p.protocol, port: p.port, targetPort: p.targetPort }
    if (!single || p.named) port.name = `p${p.port}${p.protocol === "UDP" ? "u" : ""}`
    if (d.type !== "ClusterIP") port.nodePort = 30000 + i * 10 + j
    return port
  })
  const externallyReachable = d.type !== "ClusterIP"
  const service: Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace },
    spec: {
      type: d.type,
      clusterIP: `172.30.0.${41 + i}`,
      ports,
      ...(d.externalIP ? { externalIPs: [`192.168.99.${10 + i}`] } : {}),
      ...(externallyReachable ? { externalTrafficPolicy: d.etpLocal ? ("Local" as const) : ("Cluster" as const) } : {}),
      internalTrafficPolicy: d.itpLocal ? "Local" : "Cluster",
      ...(d.affinity
        ? { sessionAffinity: "ClientIP" as const, sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } }
        : {}),
      ...(d.type === "LoadBalancer" && d.etpLocal ? { healthCheckNodePort: 32000 + i } : {}),
      ...(d.type === "LoadBalancer" && d.sourceRanges.length > 0
        ? { loadBalancerSourceRanges: [...d.sourceRanges] }
        : {}),
    },
    ...(d.type === "LoadBalancer" ? { status: { loadBalancer: { ingress: [{ ip: `198.51.100.${10 + i}` }] } } } : {}),
  }
  const endpoints: Endpoint[] = d.endpoints.map((e) => {
    const conditions =
      e.condition === "ready"
        ? {}
        : e.condition === "terminating-serving"
          ? { ready: false, serving: true, terminating: true }
          : e.condition === "terminating"
            ? { ready: false, serving: false, terminating: true }
            : { ready: false, serving: false, terminating: false }
    const endpoint: Endpoint = { addresses: [ENDPOINT_POOL[e.ipIndex] ?? "10.0.0.201"], conditions }
    if (e.node !== "none") endpoint.nodeName = e.node === "local" ? NODE_NAME : OTHER_NODE_NAME
    return endpoint
  })
  const slicePorts = ports.map((p) => ({
    ...(p.name !== undefined ? { name: p.name } : {}),
    port: Number(p.targetPort),
    protocol: p.protocol ?? "TCP",
  }))
  const groups = d.twoSlices && endpoints.length > 1 ? [endpoints.slice(0, 1), endpoints.slice(1)] : [endpoints]
  const slices: EndpointSlice[] =
    d.endpoints.length === 0 && i % 2 === 1
      ? [] // no EndpointSlice at all (as G1's ns6/svc6)
      : groups.map((group, k) => ({
          apiVersion: "discovery.k8s.io/v1",
          kind: "EndpointSlice",
          metadata: { name: `${name}-${k}`, namespace, labels: { [LABEL_SERVICE_NAME]: name } },
          addressType: "IPv4",
          endpoints: group,
          ports: slicePorts,
        }))
  return [service, slices]
}

/** One kind of traffic a case sends: a client namespace, a source address and a destination. */
export interface Target {
  readonly client: ClientKind
  readonly proto: Proto
  readonly src: string
  readonly dst: string
  readonly dport: number
  /** The service has ClientIP affinity: probes form a session (first alone, then the rest). */
  readonly sticky: boolean
  /** Other sources of the same class (same rules apply), for the simulator's support of a sticky first choice. */
  readonly altSources: readonly string[]
  /** What the target covers, e.g. "clusterIP from pod". */
  readonly label: string
}

/** The targets of a case: every service address reached from every client that can reach it. */
export function targetsOf(c: Case): Target[] {
  const out: Target[] = []
  const used = { pod: 0, low: 0, high: 0 }
  const nodeSticky = new Set<string>()
  for (const service of c.services) {
    const spec = service.spec
    const sticky = spec.sessionAffinity === "ClientIP"
    const endpointIPs = c.slices
      .filter((s) => s.metadata.namespace === service.metadata.namespace)
      .flatMap((s) => s.endpoints.map((e) => e.addresses[0] ?? ""))
    for (const port of spec.ports ?? []) {
      const proto: Proto = port.protocol === "UDP" ? "udp" : "tcp"
      const key = `${service.metadata.namespace}/${service.metadata.name}/${port.port}/${proto}`
      const pod = (): [string, string[]] => {
        const src = sticky ? (POD_CLIENT_IPS[used.pod++ % POD_CLIENT_IPS.length] ?? "10.0.0.2") : "10.0.0.2"
        return [src, [...POD_ALT_IPS]]
      }
      const ext = (high: boolean): [string, string[]] => {
        const pool = high ? EXTERNAL_HIGH_IPS : EXTERNAL_LOW_IPS
        const src = sticky
          ? (pool[(high ? used.high++ : used.low++) % pool.length] ?? "203.0.113.2")
          : (pool[0] ?? "203.0.113.2")
        return [src, [...(high ? EXTERNAL_HIGH_ALT_IPS : EXTERNAL_LOW_ALT_IPS)]]
      }
      const add = (
        client: ClientKind,
        [src, altSources]: [string, string[]],
        dst: string,
        dport: number,
        label: string,
      ): void => {
        out.push({ client, proto, src, dst, dport, sticky, altSources, label })
      }
      const addNode = (src: string, dst: string, dport: number, label: string): void => {
        if (proto !== "tcp") return // a DROP in OUTPUT fails a UDP send with EPERM: node-originated probes are TCP only
        const k = `${key}|${src}`
        if (sticky && nodeSticky.has(k)) return
        nodeSticky.add(k)
        out.push({ client: "node", proto, src, dst, dport, sticky, altSources: [], label })
      }
      const clusterIP = spec.clusterIP ?? ""
      add("pod", pod(), clusterIP, port.port, "clusterIP from pod")
      add("external", ext(false), clusterIP, port.port, "clusterIP from off-cluster")
      addNode(NODE_IP, clusterIP, port.port, "clusterIP from node")
      // Hairpin: an endpoint pod on the test node's bridge reaching its own Service (itself among the
      // endpoints: bridged back through its own port, masqueraded to cni0's address).
      const hairpinSrc = endpointIPs.find((ip) => ENDPOINT_PODS.some((e) => e.ip === ip && e.node === "test"))
      if (!sticky && hairpinSrc !== undefined)
        add("hairpin", [hairpinSrc, []], clusterIP, port.port, "clusterIP from an endpoint (hairpin)")
      if (port.nodePort !== undefined) {
        add("external", ext(false), NODE_IP, port.nodePort, "nodePort from off-cluster")
        add("pod", pod(), NODE_IP, port.nodePort, "nodePort from pod")
        addNode(NODE_IP, NODE_IP, port.nodePort, "nodePort from node")
        if (c.config.localhostNodePorts) addNode("127.0.0.1", "127.0.0.1", port.nodePort, "nodePort on localhost")
      }
      for (const eip of spec.externalIPs ?? []) {
        add("external", ext(false), eip, port.port, "externalIP from off-cluster")
        add("pod", pod(), eip, port.port, "externalIP from pod")
      }
      for (const ingress of service.status?.loadBalancer?.ingress ?? []) {
        if (ingress.ip === undefined) continue
        add("external", ext(false), ingress.ip, port.port, "LB IP from 203.0.113.0/25")
        add("external", ext(true), ingress.ip, port.port, "LB IP from 203.0.113.128/25")
        add("pod", pod(), ingress.ip, port.port, "LB IP from pod")
        addNode(NODE_IP, ingress.ip, port.port, "LB IP from node")
      }
    }
    if (spec.healthCheckNodePort !== undefined) {
      out.push({
        client: "external",
        proto: "tcp",
        src: EXTERNAL_LOW_IPS[0] ?? "",
        dst: NODE_IP,
        dport: spec.healthCheckNodePort,
        sticky: false,
        altSources: [],
        label: "health check nodePort",
      })
    }
  }
  // A ClusterIP port no service uses: no rule matches, the packet is routed into the VIP sink.
  const first = c.services[0]
  if (first !== undefined)
    out.push({
      client: "pod",
      proto: "tcp",
      src: "10.0.0.2",
      dst: first.spec.clusterIP ?? "",
      dport: 9,
      sticky: false,
      altSources: [],
      label: "clusterIP, unused port",
    })
  return out
}
