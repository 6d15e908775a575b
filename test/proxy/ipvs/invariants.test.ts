/**
 * Seeded random clusters through the IPVS compiler, checked against an independent restatement of
 * upstream's rules: real servers per virtual server (CategorizeEndpoints + syncEndpoint's Local
 * fallback), kube-ipvs0 = KUBE-IPVS-IPS = bound virtual-server addresses, the hairpin set, and a
 * well-formed restore payload. KUBE_NETSIM_IPVS_FUZZ_CASES sets the number of clusters.
 */
import { describe, expect, it } from "vitest"
import type { EndpointSlice, Service } from "../../../src/k8s/types.ts"
import { compileIpvs } from "../../../src/proxy/ipvs/compile.ts"
import { knobInt } from "../../tier.ts"
import { FAKE_IPVS_CONFIG, fakeNode } from "./helpers.ts"

/** Deterministic LCG (Numerical Recipes constants). */
function rng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

interface Ep {
  ip: string
  ready: boolean
  serving: boolean
  terminating: boolean
  node: string
}

function randomCluster(seed: number): { services: Service[]; slices: EndpointSlice[]; eps: Map<string, Ep[]> } {
  const r = rng(seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(r() * items.length)]
  const services: Service[] = []
  const slices: EndpointSlice[] = []
  const eps = new Map<string, Ep[]>()
  const n = 1 + Math.floor(r() * 6)
  for (let i = 0; i < n; i++) {
    const name = `svc${i}`
    const type = pick(["ClusterIP", "NodePort", "LoadBalancer"] as const)
    const external = type !== "ClusterIP" || r() < 0.3
    services.push({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace: "ns" },
      spec: {
        type,
        clusterIP: `172.30.0.${i + 1}`,
        ...(r() < 0.3 ? { externalIPs: [r() < 0.2 ? "192.168.0.2" : `203.0.113.${i + 1}`] } : {}),
        ...(external ? { externalTrafficPolicy: pick(["Cluster", "Local"] as const) } : {}),
        internalTrafficPolicy: pick(["Cluster", "Local"] as const),
        ...(r() < 0.3 ? { sessionAffinity: "ClientIP" as const } : {}),
        ...(type === "LoadBalancer" && r() < 0.5 ? { loadBalancerSourceRanges: ["10.0.0.0/8"] } : {}),
        ports: [
          {
            name: "p",
            port: 80,
            protocol: pick(["TCP", "UDP", "SCTP"] as const),
            ...(type === "ClusterIP" ? {} : { nodePort: 30000 + i }),
          },
        ],
      },
      ...(type === "LoadBalancer" ? { status: { loadBalancer: { ingress: [{ ip: `1.2.3.${i + 1}` }] } } } : {}),
    })
    const list: Ep[] = []
    const m = Math.floor(r() * 5)
    for (let k = 0; k < m; k++) {
      list.push({
        ip: `10.0.${i}.${k + 1}`,
        ready: r() < 0.6,
        serving: r() < 0.7,
        terminating: r() < 0.4,
        node: pick(["test-node", "other-a", "other-b"]),
      })
    }
    eps.set(name, list)
    const protocol = services[i].spec.ports?.[0]?.protocol ?? "TCP"
    slices.push({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: `${name}-1`, namespace: "ns", labels: { "kubernetes.io/service-name": name } },
      addressType: "IPv4",
      endpoints: list.map((e) => ({
        addresses: [e.ip],
        conditions: { ready: e.ready, serving: e.serving, terminating: e.terminating },
        nodeName: e.node,
      })),
      ports: [{ name: "p", port: 8080, protocol }],
    })
  }
  return { services, slices, eps }
}

describe("IPVS compiler invariants on random clusters", () => {
  const cases = knobInt("IPVS_FUZZ_CASES", 300, 5000)
  it(`${cases} seeded clusters`, () => {
    const node = fakeNode(["192.168.0.2"])
    for (let seed = 1; seed <= cases; seed++) {
      const { services, slices, eps } = randomCluster(seed)
      const result = compileIpvs(services, slices, node, FAKE_IPVS_CONFIG)
      const context = `seed ${seed}`
      for (const vs of result.virtualServers) {
        const svcName = vs.servicePortName.split("/")[1].split(":")[0]
        const service = services.find((s) => s.metadata.name === svcName)
        const list = [...(eps.get(svcName) ?? [])].sort((a, b) => (`${a.ip}:8080` < `${b.ip}:8080` ? -1 : 1))
        const spec = service?.spec
        const externallyAccessible =
          vs.kind !== "ClusterIP" || (spec?.type ?? "ClusterIP") !== "ClusterIP"
            ? true
            : (spec?.externalIPs ?? []).length > 0
        const itpLocal = spec?.internalTrafficPolicy === "Local"
        const etpLocal = spec?.externalTrafficPolicy === "Local"
        const usesCluster = !itpLocal || externallyAccessible
        let cluster = usesCluster ? list.filter((e) => e.ready) : []
        if (usesCluster && cluster.length === 0) cluster = list.filter((e) => e.serving && e.terminating)
        let local = list.filter((e) => e.node === "test-node" && e.ready)
        if (local.length === 0) local = list.filter((e) => e.node === "test-node" && e.serving && e.terminating)
        const onlyLocal = vs.kind === "ClusterIP" ? itpLocal : etpLocal
        const usesLocal = itpLocal || (externallyAccessible && etpLocal)
        const chosen = onlyLocal && usesLocal && local.length > 0 ? local : cluster
        expect(
          vs.realServers.map((rs) => `${rs.address}:${rs.port}/${rs.weight}`),
          `${context} ${vs.key}`,
        ).toEqual(chosen.map((e) => `${e.ip}:8080/1`))
        expect(vs.flags & 1, context).toBe(spec?.sessionAffinity === "ClientIP" ? 1 : 0)
      }
      const bound = new Set(result.virtualServers.filter((vs) => vs.bound).map((vs) => vs.address))
      expect([...bound].sort(), context).toEqual([...result.dummyAddresses].sort())
      // An external IP equal to the node IP is never bound.
      expect(bound.has("192.168.0.2"), context).toBe(false)
      const ipvsIps = result.ipsets.find((s) => s.info.name === "KUBE-IPVS-IPS")?.entries ?? []
      expect([...ipvsIps].sort(), context).toEqual([...result.dummyAddresses].sort())
      const loopBack = result.ipsets.find((s) => s.info.name === "KUBE-LOOP-BACK")?.entries ?? []
      const expectedLoopBack: string[] = []
      for (const service of services) {
        const protocol = (service.spec.ports?.[0]?.protocol ?? "TCP").toLowerCase()
        for (const e of eps.get(service.metadata.name) ?? [])
          if (e.node === "test-node") expectedLoopBack.push(`${e.ip},${protocol}:8080,${e.ip}`)
      }
      expect([...loopBack].sort(), context).toEqual(expectedLoopBack.sort())
      // Every -A line names a chain the payload declares in the same table.
      let declared = new Set<string>()
      for (const line of result.restoreInput.trimEnd().split("\n")) {
        if (line.startsWith("*")) declared = new Set()
        else if (line.startsWith(":")) declared.add(line.slice(1).split(" ")[0])
        else if (line.startsWith("-A ")) expect(declared.has(line.split(" ")[1]), `${context} ${line}`).toBe(true)
      }
    }
  })
})
