/**
 * DNS resolution benchmark (issue 9): 100 glibc client pods on 10 nodes resolve Service names
 * through NodeLocal DNSCache (node-cache on every node, listening on the kube-dns VIP) and, on a
 * cache miss, CoreDNS. Each pod sends a UDP datagram every `--every` (default 10ms) for 1 simulated
 * second to one of 10 Services by its short name (`svc-N`), round robin over the Services by
 * workload; `connection: new` makes every datagram a new socket, so every datagram first runs a
 * getaddrinfo (glibc A + AAAA, ndots 5: the first search suffix answers). The scenario is built in
 * memory (no file) and run end to end with runScenario, world build included.
 *
 * Figure: resolutionsPerWallSecond = answered lookups / wall seconds of one whole run (median of
 * `--runs`, default 3, after one warm-up run that also checks determinism); per CPU second too.
 *
 * Usage: npx tsx bench/dns-qps.ts [--every 10ms] [--runs 3]   (the last line printed is JSON)
 */
import { loadavg } from "node:os"
import { runScenario } from "../src/cluster/index.ts"
import { decodeScenarioText } from "../src/scenario/load.ts"
import { argValue, median } from "./star.ts"

const SERVICES = 10
const CLIENTS = 100

function scenarioText(every: string): string {
  const objects: string[] = []
  const workloads: string[] = []
  for (let i = 0; i < SERVICES; i++) {
    objects.push(
      `      - apiVersion: apps/v1
        kind: Deployment
        metadata: { name: svc-${i} }
        spec:
          replicas: 1
          selector: { matchLabels: { app: svc-${i} } }
          template:
            metadata: { labels: { app: svc-${i} } }
            spec: { containers: [ { name: echo, image: kube-netsim/udp-echo, ports: [ { containerPort: 5000, protocol: UDP } ] } ] }
      - apiVersion: v1
        kind: Service
        metadata: { name: svc-${i} }
        spec: { selector: { app: svc-${i} }, ports: [ { port: 5000, protocol: UDP } ] }`,
    )
    workloads.push(
      `  - { name: resolve-${i}, from: deployment/client, to: "udp://svc-${i}:5000", arrival: { every: ${every} }, start: 0s, duration: 1s, connection: new, requestBytes: 100, responseBytes: 100, timeout: 2s }`,
    )
  }
  return `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: dns-qps }
seed: 1
duration: 5s
cluster:
  nodes: { count: 10 }
  controllerManager: { kubeApiBurst: 300 }
dns: { mode: packets, nodeLocal: { enabled: true } }
manifests:
  - inline:
${objects.join("\n")}
      - apiVersion: apps/v1
        kind: Deployment
        metadata: { name: client }
        spec:
          replicas: ${CLIENTS}
          selector: { matchLabels: { app: client } }
          template:
            metadata: { labels: { app: client } }
            spec: { containers: [ { name: c, image: nicolaka/netshoot } ] }
workloads:
${workloads.join("\n")}
`
}

const argv = process.argv.slice(2)
const every = argValue(argv, "every", "10ms")
const runs = Number(argValue(argv, "runs", "3"))
const loaded = decodeScenarioText("bench/dns-qps.ts (in memory)", scenarioText(every))
if (!loaded.ok) throw new Error(loaded.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n"))
const spec = loaded.scenario.spec

interface Run {
  readonly answered: number
  readonly started: number
  readonly failed: number
  readonly queries: number
  readonly wallSeconds: number
  readonly cpuSeconds: number
  readonly events: number
  readonly fingerprint: string
  readonly lookupP50Ns: number
  readonly coreDnsReceived: number
}

function once(): Run {
  const cpuStart = process.cpuUsage()
  const wallStart = process.hrtime.bigint()
  const doc = runScenario(spec, { seed: spec.seed })
  const wallSeconds = Number(process.hrtime.bigint() - wallStart) / 1e9
  const cpu = process.cpuUsage(cpuStart)
  const dns = doc.dns
  let coreDnsReceived = 0
  for (const [name, server] of Object.entries(dns.servers ?? {}))
    if (name.startsWith("coredns")) coreDnsReceived += server.received
  return {
    answered: dns.lookups?.answered ?? 0,
    started: dns.lookups?.started ?? 0,
    failed: dns.lookups?.failed ?? 0,
    queries: dns.queries?.sent ?? 0,
    wallSeconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    events: doc.wall.events,
    fingerprint: doc.fingerprint,
    lookupP50Ns: dns.latencyNs?.p50 ?? 0,
    coreDnsReceived,
  }
}

const warm = once()
const samples: Run[] = []
for (let i = 0; i < runs; i++) {
  const r = once()
  if (r.fingerprint !== warm.fingerprint) throw new Error("dns-qps is not deterministic")
  samples.push(r)
}
if (warm.answered === 0 || warm.failed > 0)
  throw new Error(`dns-qps: ${warm.answered} lookups answered, ${warm.failed} failed`)
const wall = median(samples.map((s) => s.wallSeconds))
const cpu = median(samples.map((s) => s.cpuSeconds))
console.log(
  `dns-qps: ${CLIENTS} glibc pods x ${SERVICES} Services, a lookup every ${every} per pod and Service for 1 s, NodeLocal DNSCache on 10 nodes`,
)
console.log(
  `  ${warm.answered} lookups answered (${warm.queries} queries, ${warm.coreDnsReceived} reached CoreDNS), wall ${wall.toFixed(3)} s (median of ${runs})`,
)
console.log(
  JSON.stringify({
    benchmark: "dns-qps",
    node: process.version,
    lookups: warm.answered,
    queries: warm.queries,
    coreDnsReceived: warm.coreDnsReceived,
    resolutionsPerWallSecond: Math.round(warm.answered / wall),
    resolutionsPerCpuSecond: Math.round(warm.answered / cpu),
    runSecondsMedian: Number(wall.toFixed(4)),
    events: warm.events,
    lookupP50Ns: warm.lookupP50Ns,
    loadavg: loadavg().map((l) => Number(l.toFixed(2))),
    fingerprint: warm.fingerprint,
  }),
)
