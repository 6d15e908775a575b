/**
 * Goal: NodeLocal DNSCache as node-cache (kubernetes/dns cmd/node-cache) runs it. Its iptables
 * rules are node-cache's (cache_app.go initIptables, inserted with EnsureRule(Prepend) by
 * setupNetworking); a pod's UDP query to the kube-dns VIP is answered by the node's cache without
 * a conntrack entry (raw NOTRACK); the cluster zone goes to kube-dns-upstream over TCP
 * (`force_tcp`); a graceful stop (TeardownNetworking) falls back to kube-proxy -> CoreDNS; a crash
 * leaves the rules and addresses and the VIP blackholes; bad settings are input errors.
 */
import { describe, expect, it } from "vitest"
import { CoreDnsServer } from "../../src/apps/coredns.ts"
import { World } from "../../src/cluster/world.ts"
import { NodeLocalDnsServer } from "../../src/apps/nodelocal-dns.ts"
import { nodeCacheRules, savedRuleLine } from "../../src/dns/nodelocal/rules.ts"
import type { UdpListener, UdpSocket } from "../../src/net/udp.ts"
import { NS_PER_S } from "../../src/sim/time.ts"
import { dnsQuery, DnsType, encodedLengthBytes, Rcode, type DnsMessage } from "../../src/wire/dns.ts"
import { formatIpv4, ipv4 } from "../../src/wire/ipv4.ts"
import type { Packet } from "../../src/wire/packet.ts"
import { decodeScenarioText } from "../../src/scenario/load.ts"
import { join } from "node:path"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { cli, ROOT, specFromText } from "../cluster/helpers.ts"

const yaml = (
  extra = "",
  dns = "dns: { nodeLocal: { enabled: true, address: 169.254.25.10 }, mode: static }",
) => `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: nodelocal }
seed: 1
duration: 30s
cluster:
  nodes: { count: 2 }
${dns}
externalHosts:
  - { name: api.example.test, ip: 198.51.100.7, httpPorts: [80] }
manifests:
  - inline:
      - apiVersion: apps/v1
        kind: Deployment
        metadata: { name: coredns, namespace: kube-system }
        spec:
          replicas: 2
          selector: { matchLabels: { k8s-app: kube-dns } }
          template:
            metadata: { labels: { k8s-app: kube-dns } }
            spec:
              containers:
                - name: coredns
                  image: registry.k8s.io/coredns/coredns:v1.11.3
                  ports:
                    - { containerPort: 53, name: dns, protocol: UDP }
                    - { containerPort: 53, name: dns-tcp, protocol: TCP }
      - apiVersion: v1
        kind: Service
        metadata: { name: web }
        spec: { clusterIP: 10.96.0.80, selector: { app: web }, ports: [ { port: 80, targetPort: 8080 } ] }
      - apiVersion: v1
        kind: Pod
        metadata: { name: client }
        spec: { nodeName: node-1, containers: [ { name: c, image: busybox } ] }
workloads:
  - { name: noop, from: pod/client, to: "http://web:80/", count: 1, start: 25s, timeout: 1s }
${extra}`

class Replies implements UdpListener {
  readonly got: { from: string; reply: DnsMessage }[] = []
  errors = 0
  onUdpMessage(_socket: UdpSocket, packet: Packet): void {
    this.got.push({ from: formatIpv4(packet.srcAddr), reply: packet.appData as DnsMessage })
  }
  onUdpError(): void {
    this.errors++
  }
}

function build(text: string) {
  const world = new World(specFromText(text), 1)
  const run = (untilS: number) => world.scheduler.run({ timeNsMax: untilS * NS_PER_S, eventCountMax: 50_000_000 })
  const client = () => world.pods.get("default/client") ?? expect.fail("client pod")
  const log = new Replies()
  let socket: UdpSocket | null = null
  const ask = (id: number, name: string, to = "10.96.0.10") => {
    socket ??= world.network.udpBind(client().ns, 0, 0, log) ?? expect.fail("no port")
    const q = dnsQuery(id, name, DnsType.A)
    socket.sendTo(ipv4(to), 53, encodedLengthBytes(q), q.id, q)
  }
  const coreDns = () => world.apps.servers.filter((s): s is CoreDnsServer => s instanceof CoreDnsServer)
  const received = () => coreDns().reduce((n, s) => n + s.counters.received, 0)
  const cache = (node = "node-1") => world.nodeLocalDns.get(node)?.servers.at(-1) ?? expect.fail("no node-local server")
  return { world, run, ask, log, coreDns, received, cache }
}

describe("node-cache's iptables rules", () => {
  it("are cache_app.go initIptables' twelve rules per listen IP, in its order", () => {
    // cmd/node-cache/app/cache_app.go initIptables (kubernetes/dns), arguments verbatim.
    const rules = nodeCacheRules(["169.254.25.10"])
    expect(rules.map((r) => `${r.table} ${r.chain} ${r.args.join(" ")}`)).toEqual([
      "raw PREROUTING -p tcp -d 169.254.25.10 --dport 53 -j NOTRACK",
      "raw PREROUTING -p udp -d 169.254.25.10 --dport 53 -j NOTRACK",
      "filter INPUT -p tcp -d 169.254.25.10 --dport 53 -j ACCEPT",
      "filter INPUT -p udp -d 169.254.25.10 --dport 53 -j ACCEPT",
      "raw OUTPUT -p tcp -s 169.254.25.10 --sport 53 -j NOTRACK",
      "raw OUTPUT -p udp -s 169.254.25.10 --sport 53 -j NOTRACK",
      "filter OUTPUT -p tcp -s 169.254.25.10 --sport 53 -j ACCEPT",
      "filter OUTPUT -p udp -s 169.254.25.10 --sport 53 -j ACCEPT",
      "raw OUTPUT -p tcp -d 169.254.25.10 --dport 53 -j NOTRACK",
      "raw OUTPUT -p udp -d 169.254.25.10 --dport 53 -j NOTRACK",
      "raw OUTPUT -p tcp -d 169.254.25.10 --dport 8080 -j NOTRACK",
      "raw OUTPUT -p tcp -s 169.254.25.10 --sport 8080 -j NOTRACK",
    ])
    expect(savedRuleLine(rules[1])).toBe("-A PREROUTING -d 169.254.25.10/32 -p udp -m udp --dport 53 -j NOTRACK")
  })

  it("appear in iptables-save as EnsureRule(Prepend) leaves them: each chain in reverse insertion order", () => {
    const { world, run } = build(yaml())
    // node-cache starts once kube-proxy's start-up sync is applied (its rules then sit above kube-proxy's jumps).
    run(1)
    const saved = world.nodes.get("node-1")?.proxy.rules(false) ?? ""
    const input = saved.split("\n").filter((line) => line.startsWith("-A INPUT"))
    expect(input.slice(0, 2)).toEqual([
      "-A INPUT -d 10.96.0.10/32 -p udp -m udp --dport 53 -j ACCEPT",
      "-A INPUT -d 10.96.0.10/32 -p tcp -m tcp --dport 53 -j ACCEPT",
    ])
    const raw = saved.slice(saved.indexOf("*raw"), saved.indexOf("COMMIT", saved.indexOf("*raw")))
    // -localip 169.254.25.10,10.96.0.10 (iptables mode): the VIP's rules were inserted last, so they come first.
    expect(raw).toBe(
      [
        "*raw",
        ":PREROUTING ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        "-A PREROUTING -d 10.96.0.10/32 -p udp -m udp --dport 53 -j NOTRACK",
        "-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 53 -j NOTRACK",
        "-A PREROUTING -d 169.254.25.10/32 -p udp -m udp --dport 53 -j NOTRACK",
        "-A PREROUTING -d 169.254.25.10/32 -p tcp -m tcp --dport 53 -j NOTRACK",
        "-A OUTPUT -s 10.96.0.10/32 -p tcp -m tcp --sport 8080 -j NOTRACK",
        "-A OUTPUT -d 10.96.0.10/32 -p tcp -m tcp --dport 8080 -j NOTRACK",
        "-A OUTPUT -d 10.96.0.10/32 -p udp -m udp --dport 53 -j NOTRACK",
        "-A OUTPUT -d 10.96.0.10/32 -p tcp -m tcp --dport 53 -j NOTRACK",
        "-A OUTPUT -s 10.96.0.10/32 -p udp -m udp --sport 53 -j NOTRACK",
        "-A OUTPUT -s 10.96.0.10/32 -p tcp -m tcp --sport 53 -j NOTRACK",
        "-A OUTPUT -s 169.254.25.10/32 -p tcp -m tcp --sport 8080 -j NOTRACK",
        "-A OUTPUT -d 169.254.25.10/32 -p tcp -m tcp --dport 8080 -j NOTRACK",
        "-A OUTPUT -d 169.254.25.10/32 -p udp -m udp --dport 53 -j NOTRACK",
        "-A OUTPUT -d 169.254.25.10/32 -p tcp -m tcp --dport 53 -j NOTRACK",
        "-A OUTPUT -s 169.254.25.10/32 -p udp -m udp --sport 53 -j NOTRACK",
        "-A OUTPUT -s 169.254.25.10/32 -p tcp -m tcp --sport 53 -j NOTRACK",
        "",
      ].join("\n"),
    )
    const ns = world.nodes.get("node-1")?.net.ns ?? expect.fail("node")
    expect(ns.interfaceByName("nodelocaldns")?.assignedAddresses.map(formatIpv4)).toEqual([
      "169.254.25.10",
      "10.96.0.10",
    ])
  })
})

describe("kube-netsim rules with NodeLocal DNSCache", () => {
  it("prints node-cache's raw and filter rules with the node's iptables-save", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nodelocal-"))
    const file = join(dir, "s.yaml")
    writeFileSync(file, yaml())
    const r = await cli(["rules", file, "--node", "node-2"])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(
      "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -d 10.96.0.10/32 -p udp -m udp --dport 53 -j NOTRACK\n",
    )
    expect(r.stdout).toContain("-A INPUT -d 10.96.0.10/32 -p udp -m udp --dport 53 -j ACCEPT\n")
    expect(r.stdout).toContain("-A OUTPUT -s 169.254.25.10/32 -p tcp -m tcp --sport 53 -j ACCEPT\n")
  })
})

describe("NodeLocal DNSCache in the data plane", () => {
  it("answers a pod's UDP query to the kube-dns VIP without conntrack; the cluster zone goes over TCP to kube-dns-upstream", () => {
    const t = build(yaml())
    t.run(5)
    const upstream = t.world.controlPlane.store.get("Service", "kube-system", "kube-dns-upstream")
    expect(upstream?.spec.selector).toEqual({ "k8s-app": "kube-dns" })
    const upstreamIp = upstream?.spec.clusterIP ?? expect.fail("no ClusterIP")
    expect(upstreamIp).not.toBe("10.96.0.10")
    t.ask(1, "web.default.svc.cluster.local")
    t.ask(2, "api.example.test")
    t.run(6)
    // Asked once the first answer is cached (success cap 30 s).
    t.ask(3, "web.default.svc.cluster.local")
    t.run(6.5)
    expect(t.log.got.map((g) => g.from)).toEqual(["10.96.0.10", "10.96.0.10", "10.96.0.10"])
    const byId = new Map(t.log.got.map((g) => [g.reply.id, g.reply]))
    expect(byId.get(1)?.answers.map((r) => (r.type === DnsType.A ? r.address : ""))).toEqual(["10.96.0.80"])
    expect(byId.get(2)?.answers.map((r) => (r.type === DnsType.A ? r.address : ""))).toEqual(["198.51.100.7"])
    const cache = t.cache()
    expect(cache.counters.received).toBe(3)
    // Query 3 is a cache hit; query 2 went to the node's resolver, not to CoreDNS.
    expect(cache.counters.cacheHits).toBe(1)
    expect(cache.counters.forwardedTcp).toBe(1)
    expect(t.received()).toBe(1)
    const node = t.world.nodes.get("node-1") ?? expect.fail("node")
    const entries = node.filter.conntrack.list(t.world.scheduler.nowNs)
    // NOTRACK: no UDP DNS entry; the upstream leg is one conntracked TCP connection to kube-dns-upstream.
    expect(entries.filter((e) => e.startsWith("udp") && e.includes("dport=53"))).toEqual([])
    const tcp = entries.filter((e) => e.startsWith("tcp") && e.includes("dport=53"))
    expect(tcp).toHaveLength(1)
    expect(tcp[0]).toContain(`dst=${upstreamIp}`)
    // forward's connManager closes the idle upstream connection within 10-20 s (expire 10 s).
    expect(cache.counters.upstreamConnections).toBe(1)
    t.run(16)
    expect(
      node.filter.conntrack
        .list(t.world.scheduler.nowNs)
        .filter((e) => e.startsWith("tcp") && e.includes("ESTABLISHED") && e.includes(`dst=${upstreamIp}`)),
    ).toHaveLength(1)
    t.run(26)
    expect(
      node.filter.conntrack
        .list(t.world.scheduler.nowNs)
        .filter((e) => e.startsWith("tcp") && e.includes("ESTABLISHED") && e.includes(`dst=${upstreamIp}`)),
    ).toEqual([])
    // The link-local address answers too.
    t.ask(4, "web.default.svc.cluster.local", "169.254.25.10")
    t.run(27)
    expect(t.log.got.at(-1)?.from).toBe("169.254.25.10")
  })

  it("answers DNS over TCP from a pod to the VIP (NOTRACK both ways, filter ACCEPT)", () => {
    const t = build(yaml())
    t.run(5)
    const pod = t.world.pods.get("default/client") ?? expect.fail("client")
    const got: DnsMessage[] = []
    let closedWith: unknown = null
    const q = dnsQuery(7, "web.default.svc.cluster.local", DnsType.A)
    t.world.network.tcp.connect(pod.ns, ipv4("10.96.0.10"), 53, {
      onConnected: (conn) => conn.send(encodedLengthBytes(q) + 2, q.id, q),
      onMessage: (_conn, _bytes, _tag, data) => got.push(data as DnsMessage),
      onPeerClosed: (conn) => conn.close(),
      onClosed: (_conn, error) => {
        closedWith = error
      },
    })
    t.run(6)
    expect(closedWith).toBeNull()
    expect(got.map((m) => [m.id, m.answers.map((r) => (r.type === DnsType.A ? r.address : ""))])).toEqual([
      [7, ["10.96.0.80"]],
    ])
    expect(t.cache().counters.received).toBe(1)
    const node = t.world.nodes.get("node-1") ?? expect.fail("node")
    expect(node.filter.conntrack.list(t.world.scheduler.nowNs).filter((e) => e.includes("dst=10.96.0.10"))).toEqual([])
  })

  it("an upstream that never answers: 2 s read timeouts, retried until forward's 5 s deadline, then SERVFAIL", () => {
    const t = build(yaml())
    t.run(5)
    // CoreDNS stops answering but keeps its sockets (overloaded, not dead): no RST, no reply.
    for (const server of t.coreDns()) server.running = false
    const sentS = t.world.scheduler.nowNs / NS_PER_S
    t.ask(1, "web.default.svc.cluster.local")
    t.run(sentS + 5.9)
    expect(t.log.got).toEqual([])
    t.run(sentS + 6.1)
    // Attempts at +0, +2 and +4 s (the last starts before the +5 s deadline) time out at +2, +4, +6 s.
    expect(t.log.got.map((g) => g.reply.rcode)).toEqual([Rcode.SERVFAIL])
    expect(t.cache().counters.upstreamTimeouts).toBe(3)
    expect(t.cache().counters.upstreamConnections).toBe(3)
  })

  it("a graceful stop removes rules and addresses: the VIP falls back to kube-proxy -> CoreDNS", () => {
    const t = build(yaml("timeline:\n  - { at: 5s, nodeLocalDns: { node: node-1, event: stop } }\n"))
    t.run(6)
    const node = t.world.nodes.get("node-1") ?? expect.fail("node")
    expect(node.proxy.rules(false)).not.toContain("NOTRACK")
    expect(node.net.ns.interfaceByName("nodelocaldns")?.assignedAddresses).toEqual([])
    t.ask(1, "web.default.svc.cluster.local")
    t.run(7)
    expect(t.log.got.map((g) => [g.from, g.reply.rcode])).toEqual([["10.96.0.10", Rcode.NOERROR]])
    expect(t.received()).toBe(1)
    expect(t.world.steps.map((s) => s.description)).toContain(
      "node-local-dns on node-1: stopped (SIGTERM): its iptables rules and nodelocaldns addresses removed",
    )
  })

  it("a crash leaves the rules: queries to the VIP are not answered until the pod starts again", () => {
    const t = build(
      yaml(
        "timeline:\n  - { at: 5s, nodeLocalDns: { node: node-1, event: crash } }\n  - { at: 8s, nodeLocalDns: { node: node-1, event: start } }\n",
      ),
    )
    t.run(6)
    const node = t.world.nodes.get("node-1") ?? expect.fail("node")
    expect(node.proxy.rules(false)).toContain("-A PREROUTING -d 10.96.0.10/32 -p udp -m udp --dport 53 -j NOTRACK")
    t.ask(1, "web.default.svc.cluster.local")
    t.run(7)
    expect(t.log.got).toEqual([])
    expect(t.received()).toBe(0)
    // Delivered locally to the VIP with no socket: ICMP port unreachable, which a connected socket
    // (as glibc's resolver uses) sees as ECONNREFUSED; the unconnected one above sees nothing.
    const connected = new Replies()
    const pod = t.world.pods.get("default/client") ?? expect.fail("client")
    const socket = t.world.network.udpBind(pod.ns, 0, 0, connected) ?? expect.fail("no port")
    socket.connect(ipv4("10.96.0.10"), 53)
    const q = dnsQuery(9, "web.default.svc.cluster.local", DnsType.A)
    socket.sendTo(ipv4("10.96.0.10"), 53, encodedLengthBytes(q), q.id, q)
    t.run(7.5)
    expect([connected.got.length, connected.errors]).toEqual([0, 1])
    t.run(9)
    // Restarted: EnsureRule finds its rules (no duplicates) and a new process answers.
    expect(
      node.proxy
        .rules(false)
        .split("\n")
        .filter((l) => l.includes("-d 10.96.0.10/32 -p udp -m udp --dport 53 -j NOTRACK")),
    ).toHaveLength(2)
    t.ask(2, "web.default.svc.cluster.local")
    t.run(10)
    expect(t.log.got.map((g) => [g.from, g.reply.id])).toEqual([["10.96.0.10", 2]])
    expect(t.world.nodeLocalDns.get("node-1")?.servers).toHaveLength(2)
  })
})

describe("NodeLocal DNSCache in nftables mode", () => {
  it("binds the VIP too: node-cache's iptables NOTRACK keeps the query away from kube-proxy's nftables DNAT", () => {
    const t = build(yaml().replace("cluster:\n", "kubeProxy: { mode: nftables }\ncluster:\n"))
    t.run(5)
    t.ask(1, "web.default.svc.cluster.local")
    t.run(6)
    expect(t.log.got.map((g) => g.from)).toEqual(["10.96.0.10"])
    expect(t.cache().counters.received).toBe(1)
    expect(t.cache().counters.forwardedTcp).toBe(1)
  })
})

describe("NodeLocal DNSCache in IPVS mode", () => {
  it("a spec switched to IPVS after loading (compare's modes) warns that pods asking the VIP bypass the cache", () => {
    const spec = specFromText(yaml("", "dns: { nodeLocal: { enabled: true, address: 169.254.25.10 } }"))
    const world = new World({ ...spec, kubeProxy: { ...spec.kubeProxy, mode: "ipvs" } }, 1)
    expect(world.warnings.map((w) => w.message)).toContain(
      "IPVS mode: NodeLocal DNSCache listens on 169.254.25.10 only, and pods ask the kube-dns VIP, which IPVS sends to CoreDNS: the cache is bypassed (set dns.clusterDNS to 169.254.25.10)",
    )
  })

  it("binds the link-local address only (kube-ipvs0 owns the VIP): the VIP still goes to CoreDNS through IPVS", () => {
    const t = build(
      yaml(
        "",
        "dns: { nodeLocal: { enabled: true, address: 169.254.25.10 }, clusterDNS: 169.254.25.10, mode: static }",
      ).replace("cluster:\n", "kubeProxy: { mode: ipvs }\ncluster:\n"),
    )
    t.run(5)
    const ns = t.world.nodes.get("node-1")?.net.ns ?? expect.fail("node")
    expect(ns.interfaceByName("nodelocaldns")?.assignedAddresses.map(formatIpv4)).toEqual(["169.254.25.10"])
    t.ask(1, "web.default.svc.cluster.local", "169.254.25.10")
    t.ask(2, "web.default.svc.cluster.local")
    t.run(6)
    expect(t.log.got.map((g) => g.from).sort()).toEqual(["10.96.0.10", "169.254.25.10"])
    expect(t.cache().counters.received).toBe(1)
    // NOTRACK on the link-local address: only the VIP query left a UDP entry (IPVS's conntrack).
    const node = t.world.nodes.get("node-1") ?? expect.fail("node")
    const udp53 = node.filter.conntrack
      .list(t.world.scheduler.nowNs)
      .filter((e) => e.startsWith("udp") && e.includes("dport=53"))
    expect(udp53.filter((e) => e.includes("dst=169.254.25.10"))).toEqual([])
    expect(udp53.filter((e) => e.includes("dst=10.96.0.10"))).toHaveLength(1)
  })
})

describe("dns.nodeLocal settings", () => {
  const issues = (text: string) => {
    const loaded = decodeScenarioText(join(ROOT, "scenarios", "s.yaml"), text)
    return loaded.ok
      ? []
      : loaded.issues
          .filter((i) => i.severity === "error")
          .map((i) => `${i.position?.line}:${i.position?.column}: ${i.path.join(".")}: ${i.message}`)
  }
  it("refuses an address inside the service CIDR, the pod CIDR or an external host's", () => {
    expect(issues(yaml("", "dns: { nodeLocal: { enabled: true, address: 10.96.0.10 } }"))).toEqual([
      "8:45: dns.nodeLocal.address: the NodeLocal DNSCache address 10.96.0.10 is inside cluster.serviceCIDR 10.96.0.0/12; use an unused link-local address such as 169.254.20.10",
    ])
    expect(issues(yaml("", "dns: { nodeLocal: { enabled: true, address: 10.244.3.3 } }"))[0]).toContain(
      "cluster.podCIDR",
    )
    expect(issues(yaml("", "dns: { nodeLocal: { enabled: true, address: 198.51.100.7 } }"))[0]).toContain(
      "external host api.example.test's address",
    )
  })
  it("in IPVS mode asks for dns.clusterDNS = the cache address (the guide's kubelet step); another address warns", () => {
    const ipvs = (dns: string) => yaml("", dns).replace("cluster:\n", "kubeProxy: { mode: ipvs }\ncluster:\n")
    expect(issues(ipvs("dns: { nodeLocal: { enabled: true, address: 169.254.25.10 } }"))).toEqual([
      "9:30: dns.nodeLocal.enabled: with kubeProxy.mode ipvs, NodeLocal DNSCache listens on 169.254.25.10 only (kube-ipvs0 holds the kube-dns VIP): set dns.clusterDNS: 169.254.25.10 (kubelet --cluster-dns, as the NodeLocal DNSCache guide requires in IPVS mode)",
    ])
    expect(
      issues(ipvs("dns: { nodeLocal: { enabled: true, address: 169.254.25.10 }, clusterDNS: 169.254.25.10 }")),
    ).toEqual([])
    const loaded = decodeScenarioText(
      "s.yaml",
      ipvs("dns: { nodeLocal: { enabled: true, address: 169.254.25.10 }, clusterDNS: 10.96.0.10 }"),
    )
    if (!loaded.ok) expect.fail("expected a warning only")
    expect(loaded.scenario.warnings.map((w) => w.message)).toContain(
      "with kubeProxy.mode ipvs, NodeLocal DNSCache listens on 169.254.25.10 only: pods asking 10.96.0.10 bypass it (IPVS sends them to CoreDNS)",
    )
  })

  it("refuses the cache without the system Services (no kube-dns to forward to)", () => {
    const text = yaml().replace("  nodes: { count: 2 }\n", "  nodes: { count: 2 }\n  systemServices: false\n")
    expect(issues(text)).toContain(
      "9:30: dns.nodeLocal.enabled: NodeLocal DNSCache forwards to kube-dns's pods: it needs cluster.systemServices (the kube-dns Service)",
    )
  })

  it("refuses a nodeLocalDns step when the cache is off or the node is unknown", () => {
    expect(issues(yaml("timeline:\n  - { at: 5s, nodeLocalDns: { event: stop } }\n", "")).join("\n")).toContain(
      "NodeLocal DNSCache is not enabled",
    )
    expect(issues(yaml("timeline:\n  - { at: 5s, nodeLocalDns: { node: nope, event: stop } }\n")).join("\n")).toContain(
      'no node "nope"',
    )
  })
})
