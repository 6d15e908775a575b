/**
 * Goal: `kubeProxy.mode: ipvs` runs every shipped scenario end to end, its expectations hold except
 * where IPVS's real behaviour differs (documented below), graceful termination of real servers
 * works over simulated time, and the kubeProxy.ipvs settings reach the kernel model and the printed
 * state. Method: the shipped scenarios with the mode switched (loader spec, same seed), the World
 * driven to chosen instants, `rules` output and the results document.
 *
 * Documented differences from iptables mode in the shipped scenarios:
 * - seed-002-my-nginx: two workloads from one pod alternate requests every 20 ms to the same
 *   Service; rr keeps one position per virtual server per node (ip_vs_rr.c), so strict alternation
 *   sends every request of one workload to one endpoint and every request of the other to the
 *   other endpoint (iptables' `statistic --mode random` spreads each workload). Its
 *   `endpointsAtLeast: 2` per workload therefore fails under IPVS; both endpoints are still used.
 * - etp-local-vs-cluster, seed-003-service-types: a NodePort with externalTrafficPolicy Local on a
 *   node without local endpoints times out in both modes, but for different reasons: iptables mode
 *   drops the packet (KUBE-EXT chain without endpoints), IPVS mode falls back to the cluster
 *   endpoints (kubernetes PR #97081) without masquerade, so the pod's reply carries the pod address
 *   and the client drops it (no socket): drops "no-socket" instead of "netfilter-drop".
 */
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { IpvsBackend } from "../../src/cluster/backend-ipvs.ts"
import { renderRules, runScenario } from "../../src/cluster/index.ts"
import type { ScenarioSpec } from "../../src/cluster/spec.ts"
import { World } from "../../src/cluster/world.ts"
import { checkExpectations } from "../../src/scenario/expect.ts"
import { stringifyResults } from "../../src/stats/document.ts"
import { loadScenario } from "../../src/scenario/load.ts"
import { IpvsTcpState } from "../../src/netfilter/ipvs/ipvs.ts"
import { NS_PER_S } from "../../src/sim/time.ts"
import { ROOT, specFromText } from "./helpers.ts"
import { extensive } from "../tier.ts"

function inIpvsMode(spec: ScenarioSpec): ScenarioSpec {
  return { ...spec, kubeProxy: { ...spec.kubeProxy, mode: "ipvs" } }
}

/** Expectation failures IPVS mode is known to produce (see the file comment), by scenario file. */
const DOCUMENTED: Record<string, readonly string[]> = {
  "seed-002-my-nginx.yaml": ["curl-short-name: expected endpointsAtLeast: 2, got 1"],
}

describe("shipped scenarios in IPVS mode", () => {
  // The quick tier leaves out the scenarios that take seconds (capacity-10m-replicas has no traffic;
  // sync-at-scale and scale-down-lag run long timelines); the extensive tier runs them all.
  // compare-scenarios.test.ts leaves its IPVS runs to this file in the quick tier: keep them here.
  const skip = extensive
    ? []
    : ["capacity-10m-replicas.yaml", "scale-down-lag.yaml", "sync-at-scale.yaml", "coredns-saturation.yaml"]
  const files = readdirSync(join(ROOT, "scenarios"))
    .filter((f) => f.endsWith(".yaml") && !skip.includes(f))
    .sort()

  it.each(files)("%s meets its expectations (or only the documented IPVS differences)", (file) => {
    const loaded = loadScenario(join(ROOT, "scenarios", file))
    if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join("\n"))
    const spec = inIpvsMode(loaded.scenario.spec)
    const doc = runScenario(spec, { seed: spec.seed })
    const failures = checkExpectations(loaded.scenario.expectations, doc, "ipvs").map((f) => f.message)
    expect(failures).toEqual(DOCUMENTED[file] ?? [])
    expect(doc.ipvs).toBeDefined()
    if (file === "seed-004-nodelocal-dns.yaml") {
      // IPVS layout of NodeLocal DNSCache (dns.md §3.1): node-cache binds 169.254.25.10 only and
      // kubelet's clusterDNS names it, so every pod query reaches the client node's cache (NOTRACK,
      // no IPVS connection to the kube-dns VIP); only the cache's misses reach CoreDNS, over TCP
      // through IPVS to kube-dns-upstream.
      const servers = doc.dns.servers ?? {}
      const caches = Object.entries(servers).filter(([name]) => name.startsWith("node-local-dns/"))
      expect(caches.reduce((n, [, c]) => n + c.received, 0)).toBe(doc.dns.queries?.sent)
      const forwards = caches.reduce((n, [, c]) => n + c.forwarded, 0)
      const coredns = Object.entries(servers).filter(([name]) => name.startsWith("coredns-"))
      expect(coredns.reduce((n, [, c]) => n + c.received, 0)).toBe(forwards)
      const vs = doc.ipvs?.virtualServers ?? {}
      const kubeDnsVip = Object.entries(vs).filter(([key]) => key.startsWith("10.96.0.10:"))
      expect(kubeDnsVip.reduce((n, [, v]) => n + v.conns, 0)).toBe(0)
      expect(Object.entries(vs).filter(([key, v]) => key.endsWith(":53/TCP") && v.conns > 0)).toHaveLength(1)
    }
    if (file === "seed-002-my-nginx.yaml") {
      // Each workload on one endpoint, the two workloads on different ones.
      const used = (name: string) =>
        Object.entries(doc.workloads[name].distribution.byEndpoint)
          .filter(([, n]) => n > 0)
          .map(([pod]) => pod)
      expect(used("curl-short-name")).toHaveLength(1)
      expect(used("curl-fqdn")).toHaveLength(1)
      expect(used("curl-short-name")).not.toEqual(used("curl-fqdn"))
    }
  })

  it("quickstart: rr splits 1,000 connections from one node 334/333/333, counted by the ipvs section", () => {
    const loaded = loadScenario(join(ROOT, "scenarios/quickstart.yaml"))
    if (!loaded.ok) throw new Error("quickstart")
    // The web Service's connections only: with dns.mode packets the lookups' UDP flows to kube-dns
    // would be IPVS connections too.
    const spec = inIpvsMode(loaded.scenario.spec)
    const doc = runScenario({ ...spec, dns: { ...spec.dns, mode: "static" } }, { seed: 1 })
    expect(Object.values(doc.workloads.wget.distribution.byEndpoint).sort()).toEqual([333, 333, 334])
    const ipvs = doc.ipvs
    if (ipvs === undefined) throw new Error("no ipvs section")
    expect(ipvs.connectionsCreated).toBe(1000)
    const vs = Object.values(ipvs.virtualServers)
    expect(vs).toHaveLength(1)
    expect(vs[0].conns).toBe(1000)
    expect(Object.values(vs[0].realServers).sort()).toEqual([333, 333, 334])
    // Every connection's IPVS entry outlives its request (TIME_WAIT 120 s): the peak is all of them.
    expect(ipvs.peakConnections).toBe(1000)
  })

  it("is deterministic: the same scenario and seed give the same document", () => {
    const loaded = loadScenario(join(ROOT, "scenarios/seed-001-http-go-scale.yaml"))
    if (!loaded.ok) throw new Error("scale")
    const spec = inIpvsMode(loaded.scenario.spec)
    const a = stringifyResults(runScenario(spec, { seed: 7 }))
    const b = stringifyResults(runScenario(spec, { seed: 7 }))
    expect(a).toBe(b)
  })

  it("the iptables-mode document has no ipvs section", () => {
    const loaded = loadScenario(join(ROOT, "scenarios/quickstart.yaml"))
    if (!loaded.ok) throw new Error("quickstart")
    expect(runScenario(loaded.scenario.spec, { seed: 1 }).ipvs).toBeUndefined()
  })
})

const GRACEFUL = `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: ipvs-graceful }
seed: 3
duration: 400s
cluster: { nodes: { count: 2 }, systemServices: false }
kubeProxy: { mode: ipvs, minSyncPeriod: 1s }
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
            spec: { containers: [ { name: web, image: example/web, ports: [ { containerPort: 8080 } ] } ] }
      - { apiVersion: v1, kind: Pod, metadata: { name: client }, spec: { containers: [ { name: c, image: busybox } ] } }
      - { apiVersion: v1, kind: Service, metadata: { name: web }, spec: { selector: { app: web }, ports: [ { port: 80, targetPort: 8080 } ] } }
workloads:
  - { name: probe, from: pod/client, to: http://web/, arrival: { every: 100ms }, duration: 8s }
timeline:
  - { at: 20s, scale: deployment/web, replicas: 1 }
`

describe("graceful termination (graceful_termination.go)", () => {
  it("a removed real server stays at weight 0 while its connections drain, then the minute sweep deletes it", () => {
    const spec = specFromText(GRACEFUL)
    const world = new World(spec, spec.seed)
    const runTo = (atNs: number) => runWorld(world, atNs)
    const backend = (name: string) => world.nodes.get(name)?.proxy.backend as IpvsBackend
    runTo(25 * NS_PER_S)
    const client = [...world.nodes.keys()].find((n) => backend(n).ipvs.connsCreated > 0) as string
    const b = backend(client)
    // The removed endpoint's connections are in TIME_WAIT (IPVS: 120 s), so it was quiesced.
    expect(b.gracefulDeletes).toHaveLength(1)
    const printed = renderRulesOf(world, client)
    expect(printed).toMatch(/-> \S+:8080\s+Masq\s+0\s+0\s+\d+/)
    // Its TIME_WAIT connections still count (InActConn): the 60 s and 120 s ticks keep it.
    runTo(130 * NS_PER_S)
    expect(b.gracefulDeletes).toHaveLength(1)
    // The last connections were made before 20 s (8 s of traffic); TIME_WAIT expires 120 s after the
    // last packet, and the next one-minute tick after that deletes it (here: 180 s from start).
    expect(b.ipvs.verify()).toEqual([])
    runTo(200 * NS_PER_S)
    expect(b.gracefulDeletes).toHaveLength(0)
    // The kernel model's own invariants (counters, hashes, timers, dest references) hold.
    expect(b.ipvs.verify()).toEqual([])
    expect(renderRulesOf(world, client)).not.toMatch(/Masq\s+0\s/)
  })
})

/** Runs the world's events up to `atNs` (past the stops a finished workload asks for). */
function runWorld(world: World, atNs: number): void {
  while (world.scheduler.peekTimeNs() <= atNs)
    world.scheduler.run({ timeNsMax: atNs, eventCountMax: Number.MAX_SAFE_INTEGER })
}

function renderRulesOf(world: World, node: string): string {
  return (world.nodes.get(node)?.proxy.backend as IpvsBackend).rules(false)
}

const SETTINGS = (ipvs: string) => `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: ipvs-settings }
duration: 5s
cluster: { nodes: { count: 1 }, systemServices: false }
# Settings and sync costs, not DNS: no kube-dns Service or CoreDNS pods.
dns: { mode: static }
kubeProxy: { mode: ipvs${ipvs} }
manifests:
  - inline:
      - { apiVersion: v1, kind: Service, metadata: { name: web }, spec: { clusterIP: 10.96.0.50, selector: { app: web }, ports: [ { port: 80 } ] } }
`

describe("kubeProxy.ipvs settings", () => {
  it("defaults: rr, kernel timeouts, no strictARP", () => {
    const spec = specFromText(SETTINGS(""))
    expect(spec.kubeProxy.ipvs).toMatchObject({
      scheduler: "rr",
      strictARP: false,
      tcpTimeoutS: 0,
      tcpFinTimeoutS: 0,
      udpTimeoutS: 0,
      excludeCIDRs: [],
    })
    const world = new World(spec, 1)
    const b = [...world.nodes.values()][0].proxy.backend as IpvsBackend
    // ip_vs_proto_tcp.c tcp_timeouts: ESTABLISHED 900 s, FIN_WAIT 120 s; udp 300 s.
    expect(b.ipvs.timeouts.tcpNs[IpvsTcpState.ESTABLISHED]).toBe(900 * NS_PER_S)
    expect(b.ipvs.timeouts.udpNs).toBe(300 * NS_PER_S)
    expect(b.ipvs.conntrack).toBe(true)
    expect(b.ipvs.expireNodestConn).toBe(true)
    expect(b.ipvs.expireQuiescentTemplate).toBe(true)
  })

  it("scheduler, timeouts (ipvsadm --set, whole seconds), strictARP reach the kernel and the printed state", () => {
    const spec = specFromText(
      SETTINGS(", ipvs: { scheduler: wrr, tcpTimeout: 1h, tcpFinTimeout: 30500ms, udpTimeout: 0s, strictARP: true }"),
    )
    const world = new World(spec, 1)
    runWorld(world, NS_PER_S)
    const b = [...world.nodes.values()][0].proxy.backend as IpvsBackend
    expect(b.ipvs.timeouts.tcpNs[IpvsTcpState.ESTABLISHED]).toBe(3600 * NS_PER_S)
    expect(b.ipvs.timeouts.tcpNs[IpvsTcpState.FIN_WAIT]).toBe(30 * NS_PER_S)
    expect(b.ipvs.timeouts.udpNs).toBe(300 * NS_PER_S) // 0 keeps the kernel's
    const printed = b.rules(true)
    expect(printed).toContain("TCP  10.96.0.50:80 wrr")
    expect(printed).toContain("net.ipv4.conf.all.arp_ignore = 1")
    expect(printed).toContain("net.ipv4.conf.all.arp_announce = 2")
    expect(printed).toContain("# ipvsadm --set 3600 30 300")
    expect(printed).toContain("inet 10.96.0.50/32 scope global kube-ipvs0")
  })

  it("excludeCIDRs: a deleted Service's virtual server there survives cleanLegacyService", () => {
    const listed = (exclude: string) => {
      const spec = specFromText(`${SETTINGS(exclude)}timeline:\n  - { at: 2s, delete: service/web }\n`)
      const world = new World(spec, 1)
      runWorld(world, 4 * NS_PER_S)
      return ([...world.nodes.values()][0].proxy.backend as IpvsBackend).rules(true).includes("TCP  10.96.0.50:80 rr")
    }
    expect(listed("")).toBe(false)
    expect(listed(", ipvs: { excludeCIDRs: [10.96.0.0/24] }")).toBe(true)
  })

  it("refuses a scheduler the simulator does not model, with the field path", () => {
    expect(() => specFromText(SETTINGS(", ipvs: { scheduler: sed }"))).toThrow(/kubeProxy\.ipvs\.scheduler/)
  })

  it("`rules` prints the kube-ipvs0 addresses, ipvsadm (list and --stats), ipset list and iptables-save", () => {
    const spec = specFromText(SETTINGS(""))
    const out = renderRules(spec, { node: "node-1", sorted: false })
    const sections = out.split("\n").filter((l) => l.startsWith("# "))
    expect(sections.slice(0, 5)).toEqual([
      "# ip -4 addr show kube-ipvs0",
      "# ipvsadm -Ln",
      "# ipvsadm -Ln --stats",
      "# ipset list",
      "# iptables-save",
    ])
    expect(out).toMatch(/^-A KUBE-SERVICES .*--match-set KUBE-CLUSTER-IP dst,dst/m)
  })
})

describe("IPVS sync cost (netlink operations per changed Service)", () => {
  it("each sync costs perOperation x its operations: a new ClusterIP Service without endpoints is 4", () => {
    // Virtual server add (IPVS_CMD_NEW_SERVICE), its address on kube-ipvs0 (RTM_NEWADDR), its
    // KUBE-CLUSTER-IP and KUBE-IPVS-IPS entries (ipset add); the iptables part and listing back
    // cost 0 here, so syncs that change nothing (e.g. for EndpointSlice writes) take 0.
    const spec = specFromText(`${SETTINGS(
      ", syncPeriod: 1h, ipvs: { syncCost: { fixed: 0s, perOperation: 1ms, perObject: 0s } }, syncCost: { iptables: { fixed: 0s, perRule: 0s, perLine: 0s } }",
    )}timeline:
  - at: 2s
    apply:
      inline:
        - { apiVersion: v1, kind: Service, metadata: { name: two }, spec: { clusterIP: 10.96.0.51, selector: { app: two }, ports: [ { port: 80 } ] } }
        - { apiVersion: v1, kind: Service, metadata: { name: three }, spec: { clusterIP: 10.96.0.52, selector: { app: three }, ports: [ { port: 80 } ] } }
`)
    const world = new World(spec, 1)
    runWorld(world, 4 * NS_PER_S)
    const syncs = [...world.nodes.values()][0].proxy.syncs
    const durations = syncs.map((s) => s.durationNs).filter((ns) => ns > 0)
    // Start-up: one Service (4 operations); the timeline's two Services together (8).
    expect(durations).toEqual([4_000_000, 8_000_000])
    expect(syncs.some((s) => s.durationNs === 0)).toBe(true)
  })
})

describe("a failed iptables-restore in IPVS mode (injected)", () => {
  it("keeps the servers and addresses the sync programmed before the restore, skips the cleanup, and the retry completes it", () => {
    const spec = specFromText(`${SETTINGS(", syncPeriod: 5s")}timeline:
  - { at: 2s, failRestore: { node: node-1, count: 1 } }
  - { at: 2s, delete: service/web }
  - at: 2s
    apply:
      inline:
        - { apiVersion: v1, kind: Service, metadata: { name: two }, spec: { clusterIP: 10.96.0.51, selector: { app: two }, ports: [ { port: 80 } ] } }
`)
    const world = new World(spec, 1)
    const proxy = [...world.nodes.values()][0].proxy
    const b = proxy.backend as IpvsBackend
    // The sync that starts at 2 s (both changes) fails at its end, 12 ms later.
    runWorld(world, 2.05 * NS_PER_S)
    expect(proxy.failedSyncs).toHaveLength(1)
    // syncProxyRules programmed the new virtual server and its address before the restore failed,
    // and returned before unbinding stale addresses and cleanLegacyService.
    let printed = b.rules(true)
    expect(printed).toContain("TCP  10.96.0.51:80 rr")
    expect(printed).toContain("TCP  10.96.0.50:80 rr")
    expect(printed).toContain("inet 10.96.0.50/32")
    // The next sync (the runner's retry) completes the cleanup.
    runWorld(world, 9 * NS_PER_S)
    printed = b.rules(true)
    expect(printed).toContain("TCP  10.96.0.51:80 rr")
    expect(printed).not.toContain("TCP  10.96.0.50:80 rr")
    expect(printed).not.toContain("inet 10.96.0.50/32")
  })
})
