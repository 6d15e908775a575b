/**
 * Goal: dns.mode packets resolves every workload name with real queries from the client pod to
 * CoreDNS pods behind kube-dns, per new connection, through the pod's stub resolver (chosen by
 * image) reading kubelet's resolv.conf (ndots:5, search <ns>.svc.cluster.local svc.cluster.local
 * cluster.local). Query counts follow ../shared/reference/dns.md §2.5 with no node search domains:
 * `google.com` = 4 exchanges = 8 queries (4 A + 4 AAAA), `google.com.` = 2, a Service short name
 * in the client's namespace = 2 (answered by the first search suffix). An unknown name fails the
 * request with reason nxdomain.
 */
import { describe, expect, it } from "vitest"
import { runScenario } from "../../src/cluster/index.ts"
import { canonicalResults } from "../../src/stats/document.ts"
import type { ResultsDocument } from "../../src/stats/results.ts"
import { specFromText } from "./helpers.ts"

function scenario(image: string, to: string, extra = "", podSpec = ""): string {
  return `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: dns-packets }
seed: 1
duration: 30s
cluster:
  nodes: { count: 2 }
dns: { mode: packets }
externalHosts:
  - { name: google.com, ip: 198.51.100.7, httpPorts: [80] }
manifests:
  - inline:
      - apiVersion: apps/v1
        kind: Deployment
        metadata: { name: web }
        spec:
          replicas: 2
          selector: { matchLabels: { app: web } }
          template:
            metadata: { labels: { app: web } }
            spec: { containers: [ { name: web, image: nginx, ports: [ { containerPort: 80 } ] } ] }
      - apiVersion: v1
        kind: Service
        metadata: { name: web }
        spec: { selector: { app: web }, ports: [ { port: 80 } ] }
      - apiVersion: v1
        kind: Pod
        metadata: { name: client }
        spec: { containers: [ { name: c, image: ${image} } ]${podSpec} }
workloads:
  - { name: w, from: pod/client, to: "${to}", count: 5, arrival: { every: 100ms }, timeout: 30s${extra} }
`
}

function run(image: string, to: string, extra = ""): ResultsDocument {
  const spec = specFromText(scenario(image, to, extra, ""))
  return runScenario(spec, { seed: 1 })
}

describe("dns.mode packets", () => {
  it.each([
    ["nicolaka/netshoot", "http://google.com/", 8],
    ["nicolaka/netshoot", "http://google.com./", 2],
    ["nicolaka/netshoot", "http://web/", 2],
    ["alpine:3.20", "http://google.com/", 8],
    ["alpine:3.20", "http://google.com./", 2],
    ["alpine:3.20", "http://web/", 2],
    // Go's pure resolver reads ndots:5 too and sends A and AAAA from a socket each: same counts.
    ["gasbugs/http-go", "http://google.com/", 8],
    ["gasbugs/http-go", "http://web/", 2],
  ])("%s resolving %s sends %i queries per lookup, half A half AAAA", (image, to, perLookup) => {
    const doc = run(image, to)
    const w = doc.workloads.w
    expect(w.requests.completed).toBe(5)
    const dns = w.dns ?? expect.fail("no workload dns section")
    expect(dns.lookups).toEqual({ started: 5, answered: 5, failed: 0, failedByReason: {} })
    expect(dns.queries.sent).toBe(5 * perLookup)
    expect(dns.queries.byQtype).toEqual({ A: (5 * perLookup) / 2, AAAA: (5 * perLookup) / 2 })
    expect(dns.queries.timedOut).toBe(0)
    // Each lookup ended before its request started: the request's latency includes it.
    expect(w.latencyNs.min).toBeGreaterThan(dns.latencyNs.min)
    expect(doc.dns.lookups?.started).toBe(5)
    const servers = doc.dns.servers ?? expect.fail("no servers")
    expect(Object.keys(servers)).toHaveLength(2)
    expect(Object.values(servers).reduce((n, s) => n + s.received, 0)).toBe(5 * perLookup)
  })

  it("an unknown name fails each request with reason nxdomain after the whole search list", () => {
    const doc = run("nicolaka/netshoot", "http://nothing-here/")
    const w = doc.workloads.w
    expect(w.requests).toEqual({ sent: 5, completed: 0, failed: 5, failedByReason: { nxdomain: 5 } })
    const dns = w.dns ?? expect.fail("no dns")
    expect(dns.lookups.failedByReason).toEqual({ nxdomain: 5 })
    // 3 cluster suffixes + the bare name: 4 exchanges of A + AAAA.
    expect(dns.queries.sent).toBe(5 * 8)
    expect(dns.queries.byRcode).toEqual({ NXDOMAIN: 5 * 8 })
  })

  it("keepAlive resolves once per new connection, not per request", () => {
    const doc = run("nicolaka/netshoot", "http://web/", ", connection: keepAlive")
    expect(doc.workloads.w.requests.completed).toBe(5)
    expect(doc.workloads.w.dns?.lookups.started).toBe(1)
  })

  it("dnsConfig reaches the stub: use-vc sends the queries over TCP (no UDP conntrack entry), ndots:1 tries google.com as is first", () => {
    const podSpec = ', dnsConfig: { options: [ { name: use-vc }, { name: ndots, value: "1" } ] }'
    const udp = runScenario(specFromText(scenario("nicolaka/netshoot", "http://google.com/", "", "")), { seed: 1 })
    const tcp = runScenario(specFromText(scenario("nicolaka/netshoot", "http://google.com/", "", podSpec)), {
      seed: 1,
    })
    expect(tcp.workloads.w.requests.completed).toBe(5)
    // One dot >= ndots 1: the name as is answers at once (A + AAAA).
    expect(tcp.workloads.w.dns?.queries.sent).toBe(5 * 2)
    const udpStates = (doc: ResultsDocument) =>
      Object.keys(doc.conntrack.entriesByState).filter((s) => s.startsWith("udp/"))
    expect(udpStates(udp).length).toBeGreaterThan(0)
    expect(udpStates(tcp)).toEqual([])
  })

  it.each([
    // musl: a lost exchange is re-sent after 2.5 s and the lookup gives up at 5 s (EAI_AGAIN).
    ["alpine:3.20", 5_000_000_000, 5_000_000_000 + 1_000_000],
    // glibc: 5 s x 2 attempts for the first search step, the search stops on the timeout, then the
    // bare name gets its own 2 x 5 s: 20 s.
    ["nicolaka/netshoot", 20_000_000_000, 20_000_000_000 + 1_000_000],
  ])("%s: a nameserver that never answers fails the request with dns-timeout after %i ns", (image, minNs, maxNs) => {
    const podSpec =
      ", dnsPolicy: None, dnsConfig: { nameservers: [ 10.96.0.99 ], searches: [ default.svc.cluster.local ] }"
    const text = scenario(String(image), "http://web/", "", podSpec).replace(
      "count: 5, arrival: { every: 100ms }",
      "count: 1",
    )
    const doc = runScenario(specFromText(text), { seed: 1 })
    const w = doc.workloads.w
    expect(w.requests.failedByReason).toEqual({ "dns-timeout": 1 })
    const dns = w.dns ?? expect.fail("no dns")
    expect(dns.lookups.failedByReason).toEqual({ "dns-timeout": 1 })
    expect(dns.queries.timedOut).toBe(dns.queries.sent)
    // The run ends when the request fails: the lookup took from the workload's start to the end.
    const startNs = doc.steps.find((step) => step.description === "workload w starts")?.atNs ?? expect.fail("start")
    expect(doc.simulatedNs - startNs).toBeGreaterThanOrEqual(Number(minNs))
    expect(doc.simulatedNs - startNs).toBeLessThan(Number(maxNs))
  })

  it("a headless Service whose A answer does not fit 512 bytes: TC=1, then glibc asks again over TCP", () => {
    // 40 ready endpoints: even compressed (16 bytes per A record) the answer exceeds 512 bytes, so
    // CoreDNS's Scrub truncates (TC=1) and glibc retries both queries over TCP (res_send.c send_dg).
    const text = scenario("nicolaka/netshoot", "http://web/", ", connection: keepAlive")
      .replace("replicas: 2", "replicas: 40")
      .replace(
        "spec: { selector: { app: web }, ports: [ { port: 80 } ] }",
        "spec: { clusterIP: None, selector: { app: web }, ports: [ { port: 80 } ] }",
      )
    const doc = runScenario(specFromText(text), { seed: 1 })
    const w = doc.workloads.w
    expect(w.requests.completed).toBe(5)
    const dns = w.dns ?? expect.fail("no dns")
    expect(dns.lookups.answered).toBe(1)
    // A + AAAA over UDP (A truncated), then A + AAAA again over TCP.
    expect(dns.queries.sent).toBe(4)
    expect(dns.queries.byRcode).toEqual({ NOERROR: 4 })
  })

  it("the document is already canonical and the run is deterministic", () => {
    const a = run("nicolaka/netshoot", "http://google.com/")
    const b = run("nicolaka/netshoot", "http://google.com/")
    const strip = (doc: ResultsDocument) => JSON.stringify({ ...doc, wall: null })
    expect(strip(canonicalResults(a))).toBe(strip(a))
    expect(strip(b)).toBe(strip(a))
  })

  it("dns.mode static sends no query and leaves the dns section empty", () => {
    const spec = specFromText(
      scenario("nicolaka/netshoot", "http://web/").replace("dns: { mode: packets }", "dns: { mode: static }"),
    )
    const doc = runScenario(spec, { seed: 1 })
    expect(doc.dns).toEqual({})
    expect(doc.workloads.w.dns).toBeUndefined()
  })
})
