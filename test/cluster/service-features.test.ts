/**
 * Service features through the whole simulator (controllers -> kube-proxy rules -> packets):
 * named target ports resolving to different numbers on different pods, multi-port Services,
 * internalTrafficPolicy Local, and a Service without endpoints (REJECT: refused at once).
 */
import { describe, expect, it } from "vitest"
import { runScenario } from "../../src/cluster/index.ts"
import { specFromText } from "./helpers.ts"

const HEAD = `
apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: features }
duration: 20s
cluster:
  nodes: [ { name: node-1 }, { name: node-2 } ]
`

function deployment(name: string, node: string, ports: string): string {
  return `
      - apiVersion: apps/v1
        kind: Deployment
        metadata: { name: ${name} }
        spec:
          replicas: 1
          selector: { matchLabels: { app: ${name} } }
          template:
            metadata: { labels: { app: ${name}, tier: web } }
            spec:
              nodeSelector: { kubernetes.io/hostname: ${node} }
              containers: [ { name: c, image: example/web, ports: [ ${ports} ] } ]`
}

const CLIENT = `
      - apiVersion: v1
        kind: Pod
        metadata: { name: client }
        spec: { nodeName: node-1, containers: [ { name: c, image: busybox } ] }`

describe("Service features at run time", () => {
  it("resolves a named targetPort per pod and serves every port of a multi-port Service", () => {
    const spec = specFromText(`${HEAD}
manifests:
  - inline:${deployment("a", "node-1", "{ name: http, containerPort: 8080 }, { name: admin, containerPort: 9000 }")}${deployment("b", "node-2", "{ name: http, containerPort: 9090 }, { name: admin, containerPort: 9001 }")}${CLIENT}
      - apiVersion: v1
        kind: Service
        metadata: { name: web }
        spec:
          selector: { tier: web }
          ports: [ { name: http, port: 80, targetPort: http }, { name: admin, port: 81, targetPort: admin } ]
workloads:
  - { name: http, from: pod/client, to: "http://web:80/", count: 200, arrival: { every: 5ms } }
  - { name: admin, from: pod/client, to: "http://web:81/", count: 200, arrival: { every: 5ms } }
`)
    const doc = runScenario(spec, { seed: 3 })
    for (const name of ["http", "admin"]) {
      const w = doc.workloads[name]
      expect(w.requests.completed).toBe(200)
      const used = Object.entries(w.distribution.byEndpoint)
        .filter(([, n]) => n > 0)
        .map(([pod]) => pod.split("-")[0])
      expect(used.sort()).toEqual(["a", "b"])
    }
  })

  it("internalTrafficPolicy Local keeps ClusterIP traffic on the client's node and drops it where no endpoint is local", () => {
    const manifests = (itp: string): string => `
manifests:
  - inline:${deployment("a", "node-2", "{ containerPort: 8080 }")}${CLIENT}
      - apiVersion: v1
        kind: Service
        metadata: { name: web }
        spec: { selector: { tier: web }, internalTrafficPolicy: ${itp}, ports: [ { port: 80, targetPort: 8080 } ] }
workloads:
  - { name: w, from: pod/client, to: "http://web/", count: 20, arrival: { every: 10ms }, timeout: 1s }
`
    const cluster = runScenario(specFromText(HEAD + manifests("Cluster")), { seed: 1 })
    expect(cluster.workloads.w.requests.completed).toBe(20)
    // The only endpoint runs on node-2; the client on node-1 gets DROP from filter KUBE-SERVICES.
    const local = runScenario(specFromText(HEAD + manifests("Local")), { seed: 1 })
    expect(local.workloads.w.requests.completed).toBe(0)
    expect(local.workloads.w.requests.failedByReason).toEqual({ timeout: 20 })
    expect(local.drops["netfilter-drop"]).toBeGreaterThanOrEqual(20)
  })

  it("a Service without endpoints is rejected: connection refused at once, not a timeout", () => {
    const spec = specFromText(`${HEAD}
manifests:
  - inline:${CLIENT}
      - apiVersion: v1
        kind: Service
        metadata: { name: nobody }
        spec: { selector: { app: nobody }, ports: [ { port: 80 } ] }
workloads:
  - { name: w, from: pod/client, to: "http://nobody/", count: 10, arrival: { every: 10ms } }
`)
    const doc = runScenario(spec, { seed: 1 })
    expect(doc.workloads.w.requests.failedByReason).toEqual({ refused: 10 })
    // ICMP port unreachable from the node: one round trip pod <-> node (2 x 20 us + costs).
    expect(doc.workloads.w.latencyNs.count).toBe(0)
    expect(doc.drops["netfilter-reject"]).toBe(10)
  })
})
