/**
 * Goal: CoreDNS as a server in a pod (src/apps/coredns.ts) answers DNS queries carried by packets
 * from another pod of a small simulated cluster: A for a ClusterIP Service, SRV for a named port,
 * NXDOMAIN with the zone's SOA (kubernetes plugin, dns.md §1.2), external names through `forward`
 * (A for a scenario external host, NXDOMAIN else, cached by `cache 30`, REFUSED beyond
 * max_concurrent); reply payload = the reply's encoded length; over TCP the same answer with the
 * 2-byte length prefix; TC over UDP beyond 512 bytes (request.Scrub / Msg.Truncate); queries queue
 * for CPU once all workers are busy.
 */
import { describe, expect, it } from "vitest"
import { Apps } from "../../src/apps/apps.ts"
import {
  COREDNS_QUERIES_PER_SECOND_PER_CPU,
  CoreDnsServer,
  coreDnsParams,
  DNS_TCP_LENGTH_PREFIX_BYTES,
  scrubReply,
  type CoreDnsParams,
} from "../../src/apps/coredns.ts"
import type { RequestObserver, ServerIdentity } from "../../src/apps/observer.ts"
import { ApiStore } from "../../src/k8s/store.ts"
import type { NetError } from "../../src/net/errors.ts"
import type { TcpConnection, TcpConnectionListener } from "../../src/net/tcp.ts"
import { Rng } from "../../src/sim/rng.ts"
import {
  DnsFlag,
  dnsQuery,
  DnsType,
  encodedLengthBytes,
  Rcode,
  type DnsMessage,
  type DnsRecord,
} from "../../src/wire/dns.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import { UdpLog, run, world } from "../net/helpers.ts"

const NO_OBSERVER: RequestObserver = {
  onRequestSent: () => {},
  onRequestCompleted: () => {},
  onRequestFailed: () => {},
  onServerRequest: () => {},
}

function store(): ApiStore {
  const s = new ApiStore()
  for (const ns of ["default", "kube-system"])
    s.put("Namespace", { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } })
  s.put("Service", {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "default" },
    spec: { clusterIP: "10.96.0.50", clusterIPs: ["10.96.0.50"], ports: [{ name: "http", port: 80, protocol: "TCP" }] },
  })
  s.put("Service", {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "many", namespace: "default" },
    spec: { clusterIP: "None", clusterIPs: ["None"], ports: [{ name: "http", port: 80, protocol: "TCP" }] },
  })
  s.put("Service", {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "ext", namespace: "default" },
    spec: { type: "ExternalName", externalName: "example.com" },
  })
  s.put("EndpointSlice", {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: "web-1", namespace: "default", labels: { "kubernetes.io/service-name": "web" } },
    addressType: "IPv4",
    endpoints: [{ addresses: ["10.244.1.7"], conditions: { ready: true } }],
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  })
  // 40 ready endpoints: 40 A records of 16 bytes + header and question > 512 bytes.
  s.put("EndpointSlice", {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: "many-1", namespace: "default", labels: { "kubernetes.io/service-name": "many" } },
    addressType: "IPv4",
    endpoints: Array.from({ length: 40 }, (_, i) => ({
      addresses: [`10.244.2.${i + 1}`],
      conditions: { ready: true },
    })),
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  })
  return s
}

function cluster(overrides: Partial<CoreDnsParams> = {}) {
  const w = world("bridge")
  const n1 = w.cluster.addNode("n1", "a")
  const n2 = w.cluster.addNode("n2", "a")
  const dnsPod = w.cluster.addPod(n1, "coredns")
  const client = w.cluster.addPod(n2, "client")
  const apps = new Apps(w.scheduler, w.net, NO_OBSERVER)
  const identity: ServerIdentity = { index: 0, name: "coredns", address: dnsPod.ip, node: "n1" }
  const params = coreDnsParams("cluster.local", 2, 10_000_000, overrides)
  const server = new CoreDnsServer(apps, dnsPod.ns, identity, Rng.stream(1, "coredns"), params, {
    store: store(),
    upstreamNames: new Map([["example.com", ipv4("203.0.113.10")]]),
  })
  apps.addServer(server)
  const log = new UdpLog(w.scheduler)
  const socket = w.net.udpBind(client.ns, 0, 0, log) ?? expect.fail("no port")
  const ask = (query: DnsMessage, tag = query.id) => socket.sendTo(dnsPod.ip, 53, encodedLengthBytes(query), tag, query)
  const send = (bytes: number, tag: number, data: object) => socket.sendTo(dnsPod.ip, 53, bytes, tag, data)
  const replies = () => log.messages.map((m) => ({ ...m, reply: m.data as DnsMessage }))
  return { w, server, ask, send, replies, dnsPod, client }
}

function addresses(records: readonly DnsRecord[]): string[] {
  return records.flatMap((r) => (r.type === DnsType.A ? [r.address] : []))
}

describe("CoreDNS server", () => {
  it("answers A, SRV and NXDOMAIN for packet queries from another pod; payload = encoded length", () => {
    const c = cluster()
    c.ask(dnsQuery(1, "web.default.svc.cluster.local", DnsType.A))
    c.ask(dnsQuery(2, "_http._tcp.web.default.svc.cluster.local", DnsType.SRV))
    c.ask(dnsQuery(3, "nope.default.svc.cluster.local", DnsType.A))
    run(c.w)
    const r = c.replies()
    expect(r.map((m) => m.tag)).toEqual([1, 2, 3])
    for (const m of r) {
      expect(m.from).toBe(c.dnsPod.ip)
      expect(m.port).toBe(53)
      expect(m.bytes).toBe(encodedLengthBytes(m.reply))
    }
    const [a, srv, nx] = r.map((m) => m.reply)
    expect(a.rcode).toBe(Rcode.NOERROR)
    expect(a.flags & DnsFlag.AA).toBe(DnsFlag.AA)
    expect(a.answers).toEqual([
      { name: "web.default.svc.cluster.local", ttl: 30, type: DnsType.A, address: "10.96.0.50" },
    ])
    expect(srv.answers).toEqual([
      {
        name: "_http._tcp.web.default.svc.cluster.local",
        ttl: 30,
        type: DnsType.SRV,
        priority: 0,
        weight: 100,
        port: 80,
        target: "web.default.svc.cluster.local",
      },
    ])
    expect(nx.rcode).toBe(Rcode.NXDOMAIN)
    expect(nx.answers).toEqual([])
    expect(nx.authorities.map((s) => s.type)).toEqual([DnsType.SOA])
    expect(c.server.counters).toMatchObject({ received: 3, answered: 3, forwarded: 0, dropped: 0 })
  })

  it("forwards names outside the cluster: external host A, NXDOMAIN otherwise; cached by cache 30", () => {
    const c = cluster()
    c.ask(dnsQuery(1, "example.com", DnsType.A))
    c.ask(dnsQuery(2, "unknown.invalid", DnsType.A))
    run(c.w)
    const t0 = c.w.scheduler.nowNs
    c.ask(dnsQuery(3, "example.com", DnsType.A))
    run(c.w)
    const r = c.replies()
    expect(r.map((m) => m.tag)).toEqual([1, 2, 3])
    expect(addresses(r[0].reply.answers)).toEqual(["203.0.113.10"])
    expect(r[0].reply.answers[0].ttl).toBe(30) // capped by `cache 30`
    expect(r[0].reply.flags & DnsFlag.RA).toBe(DnsFlag.RA)
    expect(r[1].reply.rcode).toBe(Rcode.NXDOMAIN)
    expect(r[1].reply.authorities.map((s) => s.type)).toEqual([DnsType.SOA])
    // The upstream round trip (10 ms) is paid once; the cached answer comes back well under it.
    expect(r[0].atNs).toBeGreaterThan(10_000_000)
    expect(r[2].atNs - t0).toBeLessThan(10_000_000)
    expect(addresses(r[2].reply.answers)).toEqual(["203.0.113.10"])
    expect(c.server.counters).toMatchObject({ received: 3, answered: 3, forwarded: 2, cacheHits: 1 })
  })

  it("cluster names are not cached (kubeadm >= 1.32 disables success and denial for cluster.local)", () => {
    const c = cluster()
    c.ask(dnsQuery(1, "web.default.svc.cluster.local", DnsType.A))
    run(c.w)
    c.ask(dnsQuery(2, "web.default.svc.cluster.local", DnsType.A))
    run(c.w)
    expect(c.server.counters.cacheHits).toBe(0)
    expect(c.replies().map((m) => m.reply.answers[0].ttl)).toEqual([30, 30])
  })

  it("ExternalName: the CNAME, then the target's A resolved through forward", () => {
    const c = cluster()
    c.ask(dnsQuery(1, "ext.default.svc.cluster.local", DnsType.A))
    run(c.w)
    const [r] = c.replies()
    expect(r.reply.rcode).toBe(Rcode.NOERROR)
    expect(r.reply.answers.map((a) => a.type)).toEqual([DnsType.CNAME, DnsType.A])
    expect(addresses(r.reply.answers)).toEqual(["203.0.113.10"])
    expect(r.atNs).toBeGreaterThan(10_000_000)
    expect(c.server.counters.forwarded).toBe(1)
  })

  it("max_concurrent: queries beyond the limit in flight upstream get REFUSED", () => {
    const c = cluster({ maxConcurrent: 1 })
    c.ask(dnsQuery(1, "a.example.org", DnsType.A))
    c.ask(dnsQuery(2, "b.example.org", DnsType.A))
    run(c.w)
    const byTag = new Map(c.replies().map((m) => [m.tag, m.reply.rcode]))
    expect(byTag.get(1)).toBe(Rcode.NXDOMAIN)
    expect(byTag.get(2)).toBe(Rcode.REFUSED)
    expect(c.server.counters).toMatchObject({ forwarded: 1, refused: 1 })
  })

  it("UDP: a reply over 512 bytes without EDNS is truncated (TC=1); with EDNS 1232 it fits", () => {
    const c = cluster()
    c.ask(dnsQuery(1, "many.default.svc.cluster.local", DnsType.A))
    c.ask(dnsQuery(2, "many.default.svc.cluster.local", DnsType.A, 1232))
    run(c.w)
    const [small, large] = c.replies()
    expect(small.reply.flags & DnsFlag.TC).toBe(DnsFlag.TC)
    expect(small.bytes).toBeLessThanOrEqual(512)
    expect(small.reply.answers.length).toBeGreaterThan(0)
    expect(small.reply.answers.length).toBeLessThan(40)
    expect(large.reply.flags & DnsFlag.TC).toBe(0)
    expect(large.reply.answers.length).toBe(40)
    expect(c.server.counters.truncated).toBe(1)
  })

  it("TCP: the same question gets every record, with the 2-byte length prefix", () => {
    const c = cluster()
    const got: { bytes: number; data: DnsMessage }[] = []
    const listener: TcpConnectionListener = {
      onConnected: (conn: TcpConnection) => {
        const q = dnsQuery(7, "many.default.svc.cluster.local", DnsType.A)
        conn.send(encodedLengthBytes(q) + DNS_TCP_LENGTH_PREFIX_BYTES, 7, q)
      },
      onMessage: (conn: TcpConnection, bytes: number, _tag: number, data: object | null) => {
        got.push({ bytes, data: data as DnsMessage })
        conn.close()
      },
      onPeerClosed: (conn: TcpConnection) => conn.close(),
      onClosed: (_conn: TcpConnection, _error: NetError) => {},
    }
    c.w.net.tcp.connect(c.client.ns, c.dnsPod.ip, 53, listener)
    run(c.w)
    expect(got).toHaveLength(1)
    expect(got[0].data.flags & DnsFlag.TC).toBe(0)
    expect(got[0].data.answers).toHaveLength(40)
    expect(got[0].bytes).toBe(encodedLengthBytes(got[0].data) + 2)
  })

  it("capacity: once every worker is busy queries wait in FIFO order, one query time apart", () => {
    const c = cluster({ cpus: 1 })
    const queryNs = c.server.queryTimeNs
    expect(queryNs).toBe(Math.round(1e9 / COREDNS_QUERIES_PER_SECOND_PER_CPU))
    for (let i = 1; i <= 5; i++) c.ask(dnsQuery(i, "web.default.svc.cluster.local", DnsType.A))
    run(c.w)
    const times = c.replies().map((m) => m.atNs)
    expect(c.replies().map((m) => m.tag)).toEqual([1, 2, 3, 4, 5])
    // Queries arrive a serialization time apart (< queryNs), so from the second on they queue.
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBe(queryNs)
    expect(c.server.counters.queuePeak).toBeGreaterThanOrEqual(3)
    // Two CPUs: two queries at a time.
    const d = cluster({ cpus: 2 })
    for (let i = 1; i <= 4; i++) d.ask(dnsQuery(i, "web.default.svc.cluster.local", DnsType.A))
    run(d.w)
    const t = d.replies().map((m) => m.atNs)
    expect(t[2] - t[0]).toBe(d.server.queryTimeNs)
    expect(t[3] - t[1]).toBe(d.server.queryTimeNs)
  })

  it("a fractional CPU keeps one worker and stretches the query time", () => {
    const c = cluster({ cpus: 0.5 })
    expect(c.server.queryTimeNs).toBe(Math.round(2e9 / COREDNS_QUERIES_PER_SECOND_PER_CPU))
  })

  it("a datagram without a DNS message is dropped and counted; a stopped server answers nothing", () => {
    const c = cluster()
    c.send(40, 9, { not: "dns" })
    run(c.w)
    expect(c.server.counters.dropped).toBe(1)
    c.server.stop()
    c.ask(dnsQuery(1, "web.default.svc.cluster.local", DnsType.A))
    run(c.w)
    expect(c.replies()).toEqual([])
  })
})

describe("scrubReply (request.Scrub + Msg.Truncate)", () => {
  const answers: DnsRecord[] = Array.from({ length: 40 }, (_, i) => ({
    name: "many.default.svc.cluster.local",
    ttl: 30,
    type: DnsType.A,
    address: `10.244.2.${i + 1}`,
  }))
  const query = dnsQuery(1, "many.default.svc.cluster.local", DnsType.A)
  const reply: DnsMessage = { ...query, flags: DnsFlag.QR | DnsFlag.AA | DnsFlag.RD, answers }

  it("fits uncompressed: unchanged, uncompressed length", () => {
    const few = { ...reply, answers: answers.slice(0, 3) }
    expect(scrubReply(few, 512, "udp")).toEqual({ reply: few, lengthBytes: encodedLengthBytes(few) })
  })

  it("fits compressed: unchanged records, compressed length (names become 2-byte pointers)", () => {
    const s = scrubReply(reply, 4096, "udp")
    expect(s.reply).toBe(reply)
    // Uncompressed 12 + 36 + 40 x 46 = 1888 bytes fits 4096 but exceeds 1480 over UDP: compressed.
    expect(s.lengthBytes).toBe(12 + 36 + 40 * (2 + 10 + 4))
  })

  it("does not fit 512: the longest prefix of answers that fits, TC set", () => {
    const s = scrubReply(reply, 512, "udp")
    // header 12 + question 36, then 16 bytes per compressed A record: floor((512 - 48) / 16) = 29.
    expect(s.reply.answers).toHaveLength(29)
    expect(s.lengthBytes).toBe(12 + 36 + 29 * 16)
    expect(s.reply.flags & DnsFlag.TC).toBe(DnsFlag.TC)
  })
})
