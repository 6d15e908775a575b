/**
 * LoadBalancer Services, externalIPs and kube-proxy's health check servers in the running world:
 * ingress IPs reachable from outside with a pool (cloud load balancer at the edge, or MetalLB
 * layer 2), <pending> without one while the NodePort works, externalTrafficPolicy Local behind a
 * health-checking load balancer (only nodes with local endpoints, client address kept), externalIPs
 * routed to a node, and the health check's 200/503 and JSON body per node
 * (pkg/proxy/healthcheck/service_health.go).
 */
import fc from "fast-check"
import { createHash } from "node:crypto"
import { describe, expect, it } from "vitest"
import { healthCheckBody, healthCheckResponse } from "../../src/apps/health.ts"
import { runScenario, World } from "../../src/cluster/index.ts"
import { DEFAULT_HEALTH_CHECK, electL2Speaker } from "../../src/lb/loadbalancer.ts"
import { NS_PER_S } from "../../src/sim/time.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import { specFromText } from "./helpers.ts"

interface Options {
  readonly pool?: string
  readonly mode?: "cloud" | "l2"
  readonly etp?: "Cluster" | "Local"
  readonly workloads?: string
  readonly timeline?: string
  readonly duration?: string
  readonly interval?: string
}

/** Three nodes, web-1 on node-1 and web-2 on node-2, a LoadBalancer Service, an external client. */
function scenario(o: Options): string {
  const lb =
    o.pool === undefined
      ? ""
      : `loadBalancer: { pool: [${o.pool}], ${o.mode === undefined ? "" : `mode: ${o.mode},`} healthCheck: { interval: ${o.interval ?? "1s"} } }`
  return `
apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: lb }
seed: 1
duration: ${o.duration ?? "10s"}
cluster:
  nodes:
    - { name: node-1, ip: 10.0.0.11 }
    - { name: node-2, ip: 10.0.0.12 }
    - { name: node-3, ip: 10.0.0.13 }
${lb}
externalHosts:
  - { name: client, ip: 203.0.113.10 }
  - { name: lan, ip: 10.0.0.100 }
manifests:
  - inline:
      - apiVersion: v1
        kind: Pod
        metadata: { name: web-1, labels: { app: web } }
        spec: { nodeName: node-1, containers: [{ name: web, image: nginx, ports: [{ containerPort: 80 }] }] }
      - apiVersion: v1
        kind: Pod
        metadata: { name: web-2, labels: { app: web } }
        spec: { nodeName: node-2, containers: [{ name: web, image: nginx, ports: [{ containerPort: 80 }] }] }
      - apiVersion: v1
        kind: Service
        metadata: { name: web }
        spec:
          type: LoadBalancer
          externalTrafficPolicy: ${o.etp ?? "Cluster"}
          selector: { app: web }
          ports: [{ port: 80, targetPort: 80, nodePort: 31000 }]
          healthCheckNodePort: 32000
      - apiVersion: v1
        kind: Service
        metadata: { name: ext }
        spec:
          selector: { app: web }
          externalIPs: [198.51.100.99]
          ports: [{ port: 8080, targetPort: 80 }]
workloads:
${o.workloads ?? `  - { name: lb, from: external/client, to: "http://198.51.100.10/", arrival: { every: 20ms }, count: 100, timeout: 1s }`}
${o.timeline ?? ""}
`
}

function run(o: Options) {
  const spec = specFromText(scenario(o).replace(o.etp === "Local" ? "" : "          healthCheckNodePort: 32000\n", ""))
  return runScenario(spec, { seed: 1 })
}

function worldAt(o: Options, atNs: number): World {
  const spec = specFromText(scenario(o).replace(o.etp === "Local" ? "" : "          healthCheckNodePort: 32000\n", ""))
  const world = new World(spec, 1)
  world.scheduler.run({ timeNsMax: atNs, eventCountMax: 10_000_000 })
  return world
}

describe("health check server (service_health.go)", () => {
  it("writes upstream's dedented JSON body, 200 with local endpoints and 503 without", () => {
    expect(healthCheckBody("default", "web", 1, true)).toBe(
      '{\n\t"service": {\n\t\t"namespace": "default",\n\t\t"name": "web"\n\t},\n\t"localEndpoints": 1,\n\t"serviceProxyHealthy": true\n}',
    )
    const ok = healthCheckResponse("default", "web", 1)
    const down = healthCheckResponse("default", "web", 0)
    expect(ok.status).toBe(200)
    expect(down.status).toBe(503)
    // Status line + Content-Length, Content-Type, Date, X-Content-Type-Options + blank line + body.
    expect(ok.bytes).toBe(
      "HTTP/1.1 200 OK\r\n".length + "Content-Length: 114\r\n".length + 32 + 37 + 33 + 2 + ok.body.length,
    )
    expect(ok.body.length).toBe(114)
    expect(down.bytes - ok.bytes).toBe("Service Unavailable".length - "OK".length)
  })

  it("answers 200 exactly when the count is positive and the proxier healthy", () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.boolean(), (count, healthy) => {
        const r = healthCheckResponse("ns", "svc", count, healthy)
        expect(r.status).toBe(count > 0 && healthy ? 200 : 503)
        expect(JSON.parse(r.body)).toEqual({
          service: { namespace: "ns", name: "svc" },
          localEndpoints: count,
          serviceProxyHealthy: healthy,
        })
      }),
    )
  })

  it("serves per node the local ready endpoint count of the last kube-proxy sync", () => {
    const world = worldAt({ pool: "198.51.100.10/32", etp: "Local" }, 3 * NS_PER_S)
    const counts = Object.fromEntries(
      [...world.loadBalancers.healthServers].map(([node, servers]) => [
        node,
        servers.get("default/web")?.localEndpoints,
      ]),
    )
    expect(counts).toEqual({ "node-1": 1, "node-2": 1, "node-3": 0 })
    expect(world.loadBalancers.healthServers.get("node-1")?.get("default/web")?.port).toBe(32000)
  })

  it("answers HTTP on healthCheckNodePort: 200 on a node with an endpoint, 503 on one without", () => {
    const doc = run({
      pool: "198.51.100.10/32",
      etp: "Local",
      // From 1 s: the health check server opens at the end of kube-proxy's first sync, which
      // takes simulated time (a request at 0 s is refused).
      workloads: `  - { name: hc-node1, from: external/client, to: "http://10.0.0.11:32000/", arrival: { every: 100ms }, count: 5, timeout: 1s, start: 1s }
  - { name: hc-node3, from: external/client, to: "http://10.0.0.13:32000/", arrival: { every: 100ms }, count: 5, timeout: 1s, start: 1s }`,
    })
    // curl prints the JSON whatever the status: both complete, from kube-proxy on the node asked.
    expect(doc.workloads["hc-node1"].requests.completed).toBe(5)
    expect(doc.workloads["hc-node3"].requests.completed).toBe(5)
    expect(doc.workloads["hc-node1"].byNode).toEqual({ "node-1": 5 })
    expect(doc.workloads["hc-node3"].byNode).toEqual({ "node-3": 5 })
  })

  it("is closed when the Service leaves externalTrafficPolicy Local (no listener: refused)", () => {
    const doc = run({
      pool: "198.51.100.10/32",
      etp: "Cluster",
      workloads: `  - { name: hc, from: external/client, to: "http://10.0.0.11:32000/", arrival: { every: 100ms }, count: 3, timeout: 1s }`,
    })
    expect(doc.workloads.hc.requests.completed).toBe(0)
  })
})

describe("LoadBalancer with a pool (cloud load balancer at the edge)", () => {
  it("reaches the LB IP from an external host; Cluster spreads over every node's NodePort, SNATed", () => {
    const doc = run({ pool: "198.51.100.10-198.51.100.20", etp: "Cluster" })
    const w = doc.workloads.lb
    expect(w.requests.completed).toBe(100)
    expect(w.byNode).toEqual({ "node-1": expect.any(Number), "node-2": expect.any(Number) })
    // The client address never reaches a pod: node IPs (or the bridge address for a local pod).
    expect(Object.keys(w.clientAddressesSeen ?? {})).not.toContain("203.0.113.10")
    // node-3 has no pod, yet it received connections from the load balancer and forwarded them.
    expect(w.clientAddressesSeen?.["10.0.0.13"]).toBeGreaterThan(0)
  })

  it("with Local only uses nodes whose health check passes, and keeps the client address", () => {
    const doc = run({ pool: "198.51.100.10-198.51.100.20", etp: "Local" })
    const w = doc.workloads.lb
    expect(w.requests).toMatchObject({ sent: 100, completed: 100, failed: 0 })
    expect(w.clientAddressesSeen).toEqual({ "203.0.113.10": 100 })
    expect(Object.keys(w.byNode ?? {}).sort()).toEqual(["node-1", "node-2"])
    const starts = doc.steps.find((s) => s.description === "workload lb starts")
    const healthy = doc.steps.filter((s) => s.description.includes("healthy (health check :32000)"))
    // Which node's check passes first depends on the drawn link latencies: compare as a set.
    expect(healthy.map((s) => s.description).sort()).toEqual([
      "load balancer default/web: node-1 healthy (health check :32000)",
      "load balancer default/web: node-2 healthy (health check :32000)",
    ])
    expect(starts?.atNs).toBeGreaterThanOrEqual(healthy[1].atNs)
  })

  it("stops sending to a node after unhealthyThreshold failed checks once its endpoint is gone", () => {
    const world = worldAt(
      {
        pool: "198.51.100.10/32",
        etp: "Local",
        duration: "20s",
        workloads: `  - { name: lb, from: external/client, to: "http://198.51.100.10/", arrival: { every: 20ms }, timeout: 1s }`,
        timeline: "timeline:\n  - { at: 5s, delete: pod/web-2 }",
      },
      20 * NS_PER_S,
    )
    expect(world.loadBalancers.healthStates()).toEqual({
      "default/web": { "node-1": true, "node-2": false, "node-3": false },
    })
    const unhealthy = world.steps.find(
      (s) => s.description === "load balancer default/web: node-2 unhealthy (health check :32000)",
    )
    expect(unhealthy).toBeDefined()
    // Deleted at 5 s, endpoint removed after graceful termination starts; three 1 s checks fail.
    const atS = (unhealthy?.atNs ?? 0) / NS_PER_S
    expect(atS).toBeGreaterThan(5 + 2)
    expect(atS).toBeLessThan(5 + 5)
    const rules = world.loadBalancers.edgeRules()
    expect(rules).toContain("--to-destination 10.0.0.11:31000")
    expect(rules).not.toContain("10.0.0.12:31000")
  })

  it("defaults to the GCE provider's health check (8 s, 1 s, 1, 3)", () => {
    expect(DEFAULT_HEALTH_CHECK).toEqual({
      intervalNs: 8 * NS_PER_S,
      timeoutNs: NS_PER_S,
      healthyThreshold: 1,
      unhealthyThreshold: 3,
    })
  })

  it("SNATs clients on the node subnet at the edge (their replies would bypass it otherwise)", () => {
    const doc = run({
      pool: "198.51.100.10/32",
      etp: "Local",
      workloads: `  - { name: lan, from: external/lan, to: "http://198.51.100.10/", arrival: { every: 50ms }, count: 20, timeout: 1s }`,
    })
    expect(doc.workloads.lan.requests.completed).toBe(20)
    expect(doc.workloads.lan.clientAddressesSeen).toEqual({ "10.0.0.1": 20 })
  })
})

describe("LoadBalancer without a pool", () => {
  it("keeps EXTERNAL-IP pending and the NodePort works", () => {
    const world = worldAt({ etp: "Cluster" }, 2 * NS_PER_S)
    const service = world.controlPlane.store.get("Service", "default", "web")
    expect(service?.status?.loadBalancer?.ingress ?? []).toEqual([])
    const doc = run({
      workloads: `  - { name: nodeport, from: external/client, to: "http://10.0.0.13:31000/", arrival: { every: 50ms }, count: 20, timeout: 1s }
  - { name: lbip, from: external/client, to: "http://198.51.100.10/", arrival: { every: 50ms }, count: 5, timeout: 500ms }`,
    })
    expect(doc.workloads.nodeport.requests.completed).toBe(20)
    expect(doc.workloads.lbip.requests.completed).toBe(0)
  })
})

describe("MetalLB layer 2", () => {
  it("elects the node with the lowest sha256(node#ip), whatever the candidates' order", () => {
    const names = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/), { minLength: 1, maxLength: 8 })
    fc.assert(
      fc.property(names, fc.ipV4(), (list, ip) => {
        const nodes = list.map((name) => ({ name }))
        const winner = electL2Speaker(nodes, ip)
        const reversed = electL2Speaker([...nodes].reverse(), ip)
        expect(reversed).toBe(winner)
        const hash = (n: string) => createHash("sha256").update(`${n}#${ip}`).digest("hex")
        for (const n of list) expect(hash(winner?.name ?? "") <= hash(n)).toBe(true)
      }),
    )
    expect(electL2Speaker([], "1.2.3.4")).toBeNull()
  })

  it("announces from one node; with Local only from a node with an endpoint, client address kept", () => {
    const doc = run({
      pool: "10.0.0.240/28",
      mode: "l2",
      etp: "Local",
      workloads: `  - { name: lb, from: external/client, to: "http://10.0.0.240/", arrival: { every: 20ms }, count: 50, timeout: 1s }`,
    })
    const w = doc.workloads.lb
    expect(w.requests.completed).toBe(50)
    expect(w.clientAddressesSeen).toEqual({ "203.0.113.10": 50 })
    // One speaker takes all traffic, and it is a node running a pod.
    expect(Object.keys(w.byNode ?? {})).toHaveLength(1)
    const announced = doc.steps.find((s) => s.description.startsWith("10.0.0.240 announced by"))
    const node = announced?.description.split(" ").pop() ?? ""
    expect(["node-1", "node-2"]).toContain(node)
    expect(electL2Speaker([{ name: "node-1" }, { name: "node-2" }], "10.0.0.240")?.name).toBe(node)
    expect(Object.keys(w.byNode ?? {})).toEqual([node])
  })

  it("re-announces from the other node when the speaker's endpoint goes away, withdraws with none", () => {
    const first = electL2Speaker([{ name: "node-1" }, { name: "node-2" }], "10.0.0.240")?.name
    const other = first === "node-1" ? "node-2" : "node-1"
    const firstPod = first === "node-1" ? "web-1" : "web-2"
    const otherPod = first === "node-1" ? "web-2" : "web-1"
    const world = worldAt(
      {
        pool: "10.0.0.240/28",
        mode: "l2",
        etp: "Local",
        duration: "16s",
        workloads: `  - { name: lb, from: external/client, to: "http://10.0.0.240/", arrival: { every: 50ms }, timeout: 1s }`,
        timeline: `timeline:\n  - { at: 5s, delete: pod/${firstPod} }\n  - { at: 10s, delete: pod/${otherPod} }`,
      },
      4 * NS_PER_S,
    )
    expect(world.loadBalancers.announcer(ipv4("10.0.0.240"))).toBe(first)
    world.scheduler.run({ timeNsMax: 9 * NS_PER_S, eventCountMax: 10_000_000 })
    expect(world.loadBalancers.announcer(ipv4("10.0.0.240"))).toBe(other)
    world.scheduler.run({ timeNsMax: 16 * NS_PER_S, eventCountMax: 10_000_000 })
    expect(world.loadBalancers.announcer(ipv4("10.0.0.240"))).toBeNull()
    const log = world.steps.map((s) => s.description).filter((d) => d.startsWith("10.0.0.240"))
    expect(log).toEqual([
      `10.0.0.240 announced by ${first}`,
      `10.0.0.240 announced by ${other}`,
      "10.0.0.240 withdrawn",
    ])
  })
})

describe("externalIPs", () => {
  it("are routed to a node (the first by name) and reach the Service from outside", () => {
    const doc = run({
      workloads: `  - { name: ext, from: external/client, to: "http://198.51.100.99:8080/", arrival: { every: 20ms }, count: 50, timeout: 1s }`,
    })
    const w = doc.workloads.ext
    expect(w.requests.completed).toBe(50)
    expect(doc.steps.some((s) => s.description === "198.51.100.99 announced by node-1")).toBe(true)
    // Cluster policy: node-1 forwards to both pods, masqueraded.
    expect(Object.keys(w.byNode ?? {}).sort()).toEqual(["node-1", "node-2"])
    expect(Object.keys(w.clientAddressesSeen ?? {})).not.toContain("203.0.113.10")
  })
})
