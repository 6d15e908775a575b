/**
 * A waiting workload's readiness check (World.workloadReadyNow) keeps its last "not ready" answer
 * while nothing the check reads changed (the API store's resourceVersion, the nodes' successful
 * syncs, the load balancers' state version). These runs compare it with the check evaluated at
 * every poll (`verifyWorkloadWaits`, which also throws at the first poll where the kept answer
 * would have been wrong): the workloads start at the same instants and the event traces are
 * identical. Each scenario waits on a different input: endpoints that appear late (store writes),
 * source pods that start (pod writes alone),
 * slow syncs (userspace mode, syncs ending), a load balancer's health checks (probe results), and
 * CoreDNS in dns.mode packets.
 */
import { describe, expect, it } from "vitest"
import { World } from "../../src/cluster/index.ts"
import type { ScenarioSpec } from "../../src/cluster/spec.ts"
import { scenarioSpec, specFromText } from "./helpers.ts"

interface Run {
  readonly fingerprint: string
  readonly starts: readonly { atNs: number; description: string }[]
  readonly steps: number
}

function run(spec: ScenarioSpec, verifyWorkloadWaits: boolean): Run {
  const world = new World(spec, spec.seed, { verifyWorkloadWaits })
  world.scheduler.run({ timeNsMax: spec.durationNs, eventCountMax: Number.MAX_SAFE_INTEGER })
  return {
    fingerprint: world.scheduler.fingerprint(),
    starts: world.steps.filter((s) => s.description.startsWith("workload ")),
    steps: world.steps.length,
  }
}

/** Same starts, steps and trace with the kept answers as with every check evaluated. */
function expectSameAsEvaluated(spec: ScenarioSpec): Run {
  const evaluated = run(spec, true)
  const kept = run(spec, false)
  expect(kept).toEqual(evaluated)
  return kept
}

const DEPLOYMENT = `
      - apiVersion: apps/v1
        kind: Deployment
        metadata: { name: web }
        spec:
          replicas: 2
          selector: { matchLabels: { app: web } }
          template:
            metadata: { labels: { app: web } }
            spec:
              containers:
                - name: web
                  image: example/web
                  ports: [ { containerPort: 8080 } ]
                  readinessProbe: { initialDelaySeconds: 3, periodSeconds: 1 }`

const SERVICE = `{ apiVersion: v1, kind: Service, metadata: { name: web }, spec: { selector: { app: web }, ports: [ { port: 80, targetPort: 8080 } ] } }`

/**
 * Two nodes; the Deployment and its Service at t=0, pods ready after 3 s (a readiness probe),
 * scaled to 3 at 3 s: the workloads wait for the endpoint writes and the syncs after them.
 */
function slowReady(mode: string): ScenarioSpec {
  return specFromText(`
apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: wait }
seed: 5
duration: 400s
cluster: { nodes: { count: 2 } }
kubeProxy: { mode: ${mode} }
manifests:
  - inline:${DEPLOYMENT}
      - ${SERVICE}
workloads:
  - { name: early, from: node/node-1, to: "http://web:80/", arrival: { every: 50ms }, count: 20, timeout: 1s }
  - { name: pod, from: deployment/web, to: "http://web:80/", arrival: { every: 50ms }, count: 5, timeout: 1s, start: 1s }
timeline:
  - { at: 3s, scale: deployment/web, replicas: 3 }
`)
}

describe("a waiting workload's kept readiness answer", () => {
  it("sees the endpoints turn ready and the syncs after them, at the same polls (iptables mode)", () => {
    const r = expectSameAsEvaluated(slowReady("iptables"))
    // Both wait for every selected pod to be a ready endpoint (3 s at least) and programmed.
    expect(r.starts).toHaveLength(2)
    for (const s of r.starts) expect(s.atNs).toBeGreaterThan(3e9)
  })

  it("sees every node's slow first sync end (userspace mode) and the endpoints turn ready", () => {
    const r = expectSameAsEvaluated(slowReady("userspace"))
    expect(r.starts).toHaveLength(2)
    for (const s of r.starts) expect(s.atNs).toBeGreaterThan(3e9)
  })

  it("sees its source pods start (pod writes only: no Service selects them)", () => {
    const spec = specFromText(`
apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: source-wait }
seed: 3
duration: 20s
cluster: { nodes: { count: 2 } }
externalHosts:
  - { name: web, ip: 198.51.100.7, httpPorts: [80] }
manifests:
  - inline:
      - apiVersion: apps/v1
        kind: Deployment
        metadata: { name: client }
        spec:
          replicas: 2
          selector: { matchLabels: { app: client } }
          template:
            metadata: { labels: { app: client } }
            spec: { containers: [ { name: client, image: busybox, command: [sleep, "3600"] } ] }
workloads:
  - { name: out, from: deployment/client, to: "http://web:80/", arrival: { every: 50ms }, count: 10, timeout: 1s }
  - { name: late, from: deployment/client, to: "http://web:80/", arrival: { every: 50ms }, count: 10, timeout: 1s, start: 4s }
timeline:
  - { at: 4s, scale: deployment/client, replicas: 3 }
`)
    const r = expectSameAsEvaluated(spec)
    expect(r.starts.map((s) => s.description)).toEqual(["workload out starts", "workload late starts"])
    // Once both client pods run (the kubelet's pod start-up, 1 s).
    expect(r.starts[0].atNs).toBeGreaterThanOrEqual(1e9)
    // Once the third runs: its Running write is the only change (no Service, no sync, no probe).
    expect(r.starts[1].atNs).toBeGreaterThanOrEqual(5e9)
    expect(r.starts[1].atNs).toBeLessThan(6e9)
  })

  it("sees a load balancer's health checks turn healthy (externalTrafficPolicy Local)", () => {
    const spec = specFromText(`
apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: lb-wait }
seed: 1
duration: 20s
cluster:
  nodes:
    - { name: node-1, ip: 10.0.0.11 }
    - { name: node-2, ip: 10.0.0.12 }
loadBalancer: { pool: [198.51.100.10/32], healthCheck: { interval: 2s } }
externalHosts:
  - { name: client, ip: 203.0.113.10 }
manifests:
  - inline:
      - apiVersion: v1
        kind: Pod
        metadata: { name: web-1, labels: { app: web } }
        spec: { nodeName: node-1, containers: [{ name: web, image: nginx, ports: [{ containerPort: 80 }] }] }
      - apiVersion: v1
        kind: Service
        metadata: { name: web }
        spec:
          type: LoadBalancer
          externalTrafficPolicy: Local
          selector: { app: web }
          ports: [{ port: 80, targetPort: 80, nodePort: 31000 }]
          healthCheckNodePort: 32000
workloads:
  - { name: lb, from: external/client, to: "http://198.51.100.10/", arrival: { every: 50ms }, count: 20, timeout: 1s }
`)
    const r = expectSameAsEvaluated(spec)
    expect(r.starts).toHaveLength(1)
    // Healthy after the health checks' threshold of probes, seconds after the first sync.
    expect(r.starts[0].atNs).toBeGreaterThan(1e9)
  })

  it("sees CoreDNS become ready (dns.mode packets) and NodeLocal DNSCache", () => {
    expectSameAsEvaluated(scenarioSpec("scenarios/seed-004-nodelocal-dns.yaml"))
  })

  it("gives the shipped rolling update and quickstart the same trace", () => {
    expectSameAsEvaluated(scenarioSpec("scenarios/rolling-update.yaml"))
    expectSameAsEvaluated(scenarioSpec("scenarios/quickstart.yaml"))
  })
})
