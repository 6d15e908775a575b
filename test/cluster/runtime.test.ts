/**
 * The whole simulator, scenario in and results out: determinism (same scenario and seed give the
 * same document; another seed another fingerprint), kube-proxy's random split not rejected by
 * chi-square, conservation of requests and packets, and the behaviours the seed scenarios pin
 * (scaling, session affinity, external endpoints, traffic policies) through their `expect:` lines.
 */
import fc from "fast-check"
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runScenario, World } from "../../src/cluster/index.ts"
import type { ResultsDocument } from "../../src/stats/results.ts"
import { formatIpv4 } from "../../src/wire/ipv4.ts"
import { Protocol } from "../../src/wire/protocol.ts"
import { extensive } from "../tier.ts"
import { cli, ROOT, scenarioSpec, specFromText } from "./helpers.ts"
import { RUNTIME_EXTENSIVE_ONLY } from "./quick-scenarios.ts"

function withoutWall(doc: ResultsDocument): string {
  return JSON.stringify({ ...doc, wall: null })
}

/** A small cluster with a Deployment behind a ClusterIP and one client pod, from parameters. */
function smallScenario(p: {
  nodes: number
  replicas: number
  cni: "bridge" | "aws-vpc"
  count: number
  scheme: "http" | "udp"
  keepAlive: boolean
}): string {
  const protocol = p.scheme === "udp" ? "UDP" : "TCP"
  return `
apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: small }
seed: 1
duration: 20s
cluster: { nodes: { count: ${p.nodes} }, cni: ${p.cni} }
manifests:
  - inline:
      - apiVersion: apps/v1
        kind: Deployment
        metadata: { name: web }
        spec:
          replicas: ${p.replicas}
          selector: { matchLabels: { app: web } }
          template:
            metadata: { labels: { app: web } }
            spec: { containers: [ { name: web, image: example/web, ports: [ { containerPort: 8080, protocol: ${protocol} } ] } ] }
      - apiVersion: v1
        kind: Service
        metadata: { name: web }
        spec: { selector: { app: web }, ports: [ { port: 80, targetPort: 8080, protocol: ${protocol} } ] }
      - apiVersion: v1
        kind: Pod
        metadata: { name: client }
        spec: { containers: [ { name: c, image: busybox } ] }
workloads:
  - name: load
    from: pod/client
    to: ${p.scheme}://web:80/
    arrival: { poisson: 500/s }
    count: ${p.count}
    connection: ${p.keepAlive ? "keepAlive" : "new"}
`
}

describe("runtime", () => {
  it("gives byte-identical results for the same scenario and seed, another fingerprint for another seed", () => {
    const spec = scenarioSpec("scenarios/quickstart.yaml")
    const a = runScenario(spec, { seed: 1 })
    const b = runScenario(spec, { seed: 1 })
    const c = runScenario(spec, { seed: 2 })
    expect(withoutWall(a)).toBe(withoutWall(b))
    expect(c.fingerprint).not.toBe(a.fingerprint)
    expect(a.workloads.wget.requests.completed).toBe(1000)
  })

  it("spreads new connections over the endpoints as iptables' statistic chain does (chi-square at 1%)", () => {
    const spec = specFromText(
      smallScenario({ nodes: 3, replicas: 4, cni: "bridge", count: 2000, scheme: "http", keepAlive: false }),
    )
    // One seed in the quick tier, three in the extensive tier.
    for (const seed of extensive ? [1, 2, 3] : [1]) {
      const doc = runScenario(spec, { seed })
      const d = doc.workloads.load.distribution
      expect(Object.keys(d.byEndpoint)).toHaveLength(4)
      expect(d.chiSquareP).toBeGreaterThan(0.01)
      expect(doc.workloads.load.requests.completed).toBe(2000)
    }
  })

  it("with keep-alive, requests follow their connection (one endpoint per connection, connections reused)", () => {
    const spec = specFromText(
      smallScenario({ nodes: 2, replicas: 4, cni: "aws-vpc", count: 300, scheme: "http", keepAlive: true }),
    )
    const world = new World(spec, 4)
    // Which server pod each client connection (source address:port) reached, seen where the
    // packets are delivered: after DNAT, so the endpoint kube-proxy's rules chose.
    const podOfNs = (nsId: number): string | undefined => {
      for (const [key, pod] of world.pods) if (pod.ns.id === nsId) return key
      return undefined
    }
    const endpointsByConnection = new Map<string, Set<string>>()
    let delivered = 0
    world.network.observer = {
      onSend: () => {},
      onTransmit: () => {},
      onDrop: () => {},
      onDeliver: (packet, nsId) => {
        if (packet.protocol !== Protocol.TCP || packet.dstPort !== 8080) return
        const pod = podOfNs(nsId)
        if (pod === undefined || !pod.includes("web-")) return
        delivered++
        const connection = `${formatIpv4(packet.srcAddr)}:${packet.srcPort}`
        const set = endpointsByConnection.get(connection) ?? new Set<string>()
        set.add(pod)
        endpointsByConnection.set(connection, set)
      },
    }
    world.scheduler.run({ timeNsMax: spec.durationNs, eventCountMax: spec.limits.eventCountMax })
    expect(world.collector.workloads[0].completed).toBe(300)
    expect(delivered).toBeGreaterThan(300)
    for (const [connection, pods] of endpointsByConnection) expect([...pods], connection).toHaveLength(1)
    // Reuse: far fewer connections than requests (Poisson 500/s against ~1 ms responses rarely overlap).
    expect(endpointsByConnection.size).toBeGreaterThan(0)
    expect(endpointsByConnection.size).toBeLessThan(30)
  })

  it("conserves requests and packets for random small clusters", () => {
    fc.assert(
      fc.property(
        fc.record({
          nodes: fc.integer({ min: 1, max: 3 }),
          replicas: fc.integer({ min: 1, max: 4 }),
          cni: fc.constantFrom("bridge" as const, "aws-vpc" as const),
          count: fc.integer({ min: 1, max: 60 }),
          scheme: fc.constantFrom("http" as const, "udp" as const),
          keepAlive: fc.boolean(),
        }),
        fc.integer({ min: 1, max: 1000 }),
        (p, seed) => {
          const world = new World(specFromText(smallScenario(p)), seed)
          world.scheduler.run({ timeNsMax: 20e9, eventCountMax: 5e6 })
          const w = world.collector.workloads[0]
          const inFlight = world.workloads[0].clients.reduce((n, c) => n + c.inFlight.size, 0)
          expect(w.sent).toBe(w.completed + w.failed + inFlight)
          expect(w.sent).toBe(p.count)
          const net = world.network.counters
          expect(net.sent).toBe(net.delivered + net.dropped + net.inFlight)
        },
      ),
      { numRuns: 12 },
    )
  })
})

describe("hostNetwork pods", () => {
  // Regression (fuzz-plausible): a hostNetwork pod got a veth with its node's address, an internal
  // error ("address in use" / "outside its CIDR"); a second one on the node with the same port too.
  it("serve from their node's network namespace and address; a port already taken there is not served twice", () => {
    const spec = specFromText(`
apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: host-network }
duration: 10s
cluster: { nodes: [{ name: node-1, ip: 10.0.0.11 }, { name: node-2, ip: 10.0.0.12 }] }
manifests:
  - inline:
      - { apiVersion: v1, kind: Pod, metadata: { name: h1, labels: { app: h } }, spec: { nodeName: node-1, hostNetwork: true, containers: [{ name: c, image: example/app, ports: [{ containerPort: 8080 }] }] } }
      - { apiVersion: v1, kind: Pod, metadata: { name: h2, labels: { app: h } }, spec: { nodeName: node-1, hostNetwork: true, containers: [{ name: c, image: example/app, ports: [{ containerPort: 8080 }] }] } }
      - { apiVersion: v1, kind: Service, metadata: { name: h }, spec: { selector: { app: h }, ports: [{ port: 80, targetPort: 8080 }] } }
      - { apiVersion: v1, kind: Pod, metadata: { name: client }, spec: { nodeName: node-2, containers: [{ name: c, image: busybox }] } }
workloads:
  - { name: via-service, from: pod/client, to: "http://h/", count: 40, arrival: { every: 10ms } }
  - { name: to-node, from: pod/client, to: "http://10.0.0.11:8080/", count: 10, arrival: { every: 10ms } }
timeline:
  - { at: 5s, delete: pod/h1 }
`)
    const doc = runScenario(spec, { seed: 1 })
    // Both endpoints are 10.0.0.11:8080, served by the pod that bound the port first.
    expect(doc.workloads["via-service"].requests.completed).toBe(40)
    expect(doc.workloads["via-service"].distribution.byEndpoint).toEqual({ h1: 40, h2: 0 })
    expect(doc.workloads["to-node"].requests.completed).toBe(10)
    expect(doc.workloads["to-node"].distribution.byEndpoint).toEqual({ h1: 10 })
  })
})

describe("scenarios", () => {
  const files = readdirSync(join(ROOT, "scenarios"))
    .filter((f) => f.endsWith(".yaml"))
    .sort()

  for (const file of files) {
    const why = extensive ? undefined : RUNTIME_EXTENSIVE_ONLY.get(file)
    it.skipIf(why !== undefined)(
      `${file} runs and meets its expectations${why ? ` (extensive tier: ${why})` : ""}`,
      async () => {
        const run = await cli(
          ["run", `scenarios/${file}`, "--quiet"].map((a) => (a.startsWith("scenarios/") ? join(ROOT, a) : a)),
        )
        expect(run.stderr).toBe("")
        expect(run.code).toBe(0)
      },
    )
  }

  it("the scale scenario shows the new pods joining after the kube-proxy lag, the first pod keeping the most", () => {
    const doc = runScenario(scenarioSpec("scenarios/seed-001-http-go-scale.yaml"), { seed: 1 })
    const counts = Object.values(doc.workloads.wget.distribution.byEndpoint)
    expect(counts).toHaveLength(5)
    const first = Math.max(...counts)
    for (const c of counts) if (c !== first) expect(c).toBeLessThan(first)
    expect(doc.steps.some((s) => s.description.startsWith("scale deployment/http-go"))).toBe(true)
  })
})
