/**
 * Nodes share one service-port list and compile only their own variants (IptablesProxier with a
 * shared compile: shared-service-ports.ts `nodePorts`, IptablesFragments `selectNode`): every
 * node's restore input, change set and per-port views must be those of compiling the node's own
 * whole list (buildServicePorts, as syncProxyRules builds it per node) with the change set of the
 * whole lists. Exercised over Services whose rules read local endpoints (ITP/ETP Local) and
 * Services whose rules do not, through endpoint moves, an endpoint that changes node with the same
 * IP (only `isLocal` changes), a duplicate endpoint whose local copy has other conditions, and a
 * Service removal.
 */
import { describe, expect, it } from "vitest"
import type { EndpointSlice, Service } from "../../src/k8s/types.ts"
import { compileIptablesServicePorts, natChainsAfterRestore } from "../../src/proxy/iptables/compile.ts"
import { IptablesProxier, sharedIptablesCompile } from "../../src/proxy/iptables/proxier.ts"
import { sameJsonData } from "../../src/proxy/shared-service-ports.ts"
import { buildServicePorts } from "../../src/proxy/service-port.ts"
import type { ProxyNode, ServicePortInfo } from "../../src/proxy/service-port.ts"
import { FAKE_CONFIG, testService as service } from "./helpers.ts"

const S = 1_000_000_000
const NODES: ProxyNode[] = ["n1", "n2", "n3"].map((name, i) => ({ name, ips: [`192.168.0.${i + 2}`], labels: {} }))

interface Ep {
  readonly ip: string
  readonly node: string
  readonly ready?: boolean
}

function slice(serviceName: string, sliceName: string, eps: readonly Ep[]): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: sliceName, namespace: "ns", labels: { "kubernetes.io/service-name": serviceName } },
    addressType: "IPv4",
    ports: [{ name: "p", port: 8080, protocol: "TCP" }],
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      nodeName: e.node,
      conditions: { ready: e.ready ?? true, serving: true, terminating: false },
    })),
  } as EndpointSlice
}

const SERVICES: Service[] = [
  service("cluster", {}, 0),
  service("itp-local", { internalTrafficPolicy: "Local" }, 1),
  service(
    "etp-local",
    {
      type: "NodePort",
      externalTrafficPolicy: "Local",
      ports: [{ name: "p", port: 80, protocol: "TCP", nodePort: 30080 }],
    },
    2,
  ),
  service(
    "lb-local",
    {
      type: "LoadBalancer",
      externalTrafficPolicy: "Local",
      healthCheckNodePort: 30999,
      ports: [{ name: "p", port: 80, protocol: "TCP", nodePort: 30081 }],
    },
    3,
  ),
  service("nodeport", { type: "NodePort", ports: [{ name: "p", port: 80, protocol: "TCP", nodePort: 30082 }] }, 4),
]

/** Successive cluster states: [services, slices]. */
function states(): [Service[], EndpointSlice[]][] {
  const base = (eps: Record<string, Ep[]>): EndpointSlice[] =>
    Object.entries(eps).map(([svc, list]) => slice(svc, `${svc}-1`, list))
  const all = SERVICES.map((s) => s.metadata.name)
  const spread = (offset: number): Record<string, Ep[]> =>
    Object.fromEntries(
      all.map((svc, i) => [
        svc,
        [
          { ip: `10.0.${i}.1`, node: NODES[(i + offset) % 3].name },
          { ip: `10.0.${i}.2`, node: NODES[(i + offset + 1) % 3].name },
        ],
      ]),
    )
  const s0 = base(spread(0))
  // An endpoint becomes unready.
  const s1 = base({
    ...spread(0),
    "itp-local": [
      { ip: "10.0.1.1", node: "n2", ready: false },
      { ip: "10.0.1.2", node: "n3" },
    ],
  })
  // Every endpoint moves node, same IPs: only isLocal changes.
  const s2 = base(spread(1))
  // A duplicate endpoint: the copy on n1 (local there) is not ready, the other copy is.
  const s3 = [
    ...base(spread(1)),
    slice("cluster", "cluster-2", [{ ip: "10.0.0.1", node: "n1", ready: false }]),
    slice("nodeport", "nodeport-2", [{ ip: "10.0.4.9", node: "n1" }]),
  ]
  // A Service goes away, its slice stays.
  const s4 = s3
  return [
    [SERVICES, s0],
    [SERVICES, s1],
    [SERVICES, s2],
    [SERVICES, s3],
    [SERVICES.filter((s) => s.metadata.name !== "itp-local"), s4],
    [SERVICES, s0],
  ]
}

/** The change set of two whole lists, per Service (what changedServices computes). */
function changedOf(before: readonly ServicePortInfo[], after: readonly ServicePortInfo[]): Set<string> {
  const byService = (list: readonly ServicePortInfo[]): Map<string, string> => {
    const out = new Map<string, string[]>()
    for (const p of list) out.set(p.namespacedName, [...(out.get(p.namespacedName) ?? []), JSON.stringify(p)])
    return new Map([...out].map(([k, v]) => [k, v.sort().join("\n")]))
  }
  const a = byService(before)
  const b = byService(after)
  const changed = new Set<string>()
  for (const k of new Set([...a.keys(), ...b.keys()])) if (a.get(k) !== b.get(k)) changed.add(k)
  return changed
}

describe("iptables nodes share the service-port list and compile only their own variants", () => {
  it("gives every node the restore input, change set and views of compiling its own whole list", () => {
    const shared = sharedIptablesCompile()
    const proxiers = NODES.map((node) => new IptablesProxier(node, FAKE_CONFIG, { shared }))
    const reference = NODES.map(() => ({ list: null as readonly ServicePortInfo[] | null, chains: new Set<string>() }))
    let partialWithChanges = 0
    states().forEach(([services, slices], step) => {
      NODES.forEach((node, n) => {
        const got = proxiers[n].sync(step * S, services, slices)
        const ref = reference[n]
        const list = buildServicePorts(services, slices, node)
        const changed = ref.list === null ? null : changedOf(ref.list, list)
        const want = compileIptablesServicePorts(list, node, FAKE_CONFIG, {
          changedServices: changed,
          existingNatChains: ref.chains,
        })
        ref.list = list
        ref.chains = natChainsAfterRestore(ref.chains, want.restoreInput)
        expect(got.fullSync, `step ${step} ${node.name}`).toBe(want.fullSync)
        expect(got.restoreInput, `step ${step} ${node.name}`).toBe(want.restoreInput)
        expect(JSON.stringify(got.services), `step ${step} ${node.name}`).toBe(JSON.stringify(want.services))
        if (changed !== null && changed.size > 0) partialWithChanges++
      })
    })
    expect(partialWithChanges).toBeGreaterThan(6)
    // Only variants whose rules read local endpoints (or differ otherwise) were compiled per node.
    expect(shared.fragments.nodeSelectionsPatched).toBeGreaterThan(0)
  })
})

describe("sameJsonData", () => {
  it("answers as comparing JSON.stringify of the two values", () => {
    const values: unknown[] = [
      { a: 1, b: [1, 2], c: { d: "x" } },
      { a: 1, b: [1, 2], c: { d: "x" } },
      { b: [1, 2], a: 1, c: { d: "x" } },
      { a: 1, b: [1, 2, 3], c: { d: "x" } },
      { a: 1, b: [1, "2"], c: { d: "x" } },
      { a: 1, b: [1, 2], c: { d: "y" } },
      { a: 1, b: [1, 2], c: null },
      { a: true, b: [], c: {} },
      { a: true, b: {}, c: [] },
      [1, 2],
      "1",
      1,
      null,
    ]
    for (const a of values)
      for (const b of values) expect(sameJsonData(a, b)).toBe(JSON.stringify(a) === JSON.stringify(b))
  })
})
