/**
 * CoreDNS `kubernetes` plugin answers (../shared/reference/dns.md §1.2-1.3). Cases transcribed
 * from coredns/coredns @4b26cced plugin/kubernetes/handler_test.go (commonDnsTestCases /
 * dnsTestCases: same names, TTL 5, SOA "ns.dns.cluster.local. hostmaster.cluster.local.
 * 1499347823 7200 1800 86400 5", SRV weights 100 / 50 / 16) over an equivalent API store.
 */
import { describe, expect, it } from "vitest"
import {
  COREDNS_KUBERNETES_DEFAULTS,
  KubernetesPlugin,
  kubeadmKubernetesPlugin,
  type KubernetesPluginConfig,
} from "../../src/dns/coredns/kubernetes.ts"
import { ApiStore } from "../../src/k8s/store.ts"
import type { Endpoint, EndpointSlice, Service } from "../../src/k8s/types.ts"
import { DnsFlag, dnsQuery, DnsType, Rcode, type DnsMessage } from "../../src/wire/dns.ts"

const SERIAL = 1499347823

function service(name: string, spec: Service["spec"], namespace = "testns"): Service {
  return { apiVersion: "v1", kind: "Service", metadata: { name, namespace }, spec }
}

function slice(
  name: string,
  serviceName: string,
  addressType: "IPv4" | "IPv6",
  endpoints: Endpoint[],
  ports: EndpointSlice["ports"],
): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name, namespace: "testns", labels: { "kubernetes.io/service-name": serviceName } },
    addressType,
    endpoints,
    ...(ports === undefined ? {} : { ports }),
  }
}

const HTTP = [{ name: "http", port: 80, protocol: "TCP" as const }]

function fixtureStore(): ApiStore {
  const store = new ApiStore()
  for (const ns of ["testns", "default"])
    store.put("Namespace", { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } })
  store.put("Service", service("svc1", { clusterIP: "10.0.0.1", clusterIPs: ["10.0.0.1"], ports: HTTP }))
  store.put("Service", service("svcempty", { clusterIP: "10.0.0.2", clusterIPs: ["10.0.0.2"], ports: HTTP }))
  store.put(
    "Service",
    service("svc-dual-stack", { clusterIP: "10.0.0.3", clusterIPs: ["10.0.0.3", "10::3"], ports: HTTP }),
  )
  store.put("Service", service("hdls1", { clusterIP: "None", clusterIPs: ["None"], ports: HTTP }))
  store.put("Service", service("hdlsprtls", { clusterIP: "None", clusterIPs: ["None"] }))
  store.put("Service", service("hdlsempty", { clusterIP: "None", clusterIPs: ["None"], ports: HTTP }))
  store.put("Service", service("external", { type: "ExternalName", externalName: "ext.interwebs.test", ports: HTTP }))
  store.put("Service", service("extip", { type: "ExternalName", externalName: "1.2.3.4" }))
  store.put("Service", service("svc1", { clusterIP: "10.0.0.1", clusterIPs: ["10.0.0.1"], ports: HTTP }))
  const ready = { ready: true }
  store.put(
    "EndpointSlice",
    slice(
      "hdls1-v4",
      "hdls1",
      "IPv4",
      [
        { addresses: ["172.0.0.2"], conditions: ready },
        { addresses: ["172.0.0.3"] }, // ready nil counts as ready (endpointsliceReady)
        { addresses: ["172.0.0.4"], hostname: "dup-name", conditions: ready },
        { addresses: ["172.0.0.5"], hostname: "dup-name", conditions: ready },
        { addresses: ["172.0.0.9"], conditions: { ready: false } },
      ],
      HTTP,
    ),
  )
  store.put(
    "EndpointSlice",
    slice(
      "hdls1-v6",
      "hdls1",
      "IPv6",
      [
        { addresses: ["5678:abcd::1"], conditions: ready },
        { addresses: ["5678:abcd::2"], conditions: ready },
      ],
      HTTP,
    ),
  )
  store.put("EndpointSlice", slice("hdlsprtls", "hdlsprtls", "IPv4", [{ addresses: ["172.0.0.20"] }], undefined))
  store.put(
    "EndpointSlice",
    slice("hdlsempty", "hdlsempty", "IPv4", [{ addresses: ["172.0.0.30"], conditions: { ready: false } }], HTTP),
  )
  store.put("Pod", {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web-1", namespace: "testns" },
    spec: { containers: [] },
    status: { podIP: "10.244.1.5" },
  })
  return store
}

function plugin(config: Partial<KubernetesPluginConfig> = {}): KubernetesPlugin {
  const p = new KubernetesPlugin(fixtureStore(), {
    ...COREDNS_KUBERNETES_DEFAULTS,
    zones: ["cluster.local", "in-addr.arpa", "ip6.arpa"],
    ...config,
  })
  p.serial = SERIAL
  return p
}

function ask(p: KubernetesPlugin, name: string, type: number): DnsMessage {
  const result = p.serve(dnsQuery(1, name, type))
  if (result.kind !== "reply") throw new Error(`expected a reply, got ${result.kind}`)
  return result.reply
}

/** Answer section as "name ttl TYPE data" lines, like the Go test's test.A/test.SRV strings. */
function rrs(records: DnsMessage["answers"]): string[] {
  return records.map((r) => {
    switch (r.type) {
      case DnsType.A:
        return `${r.name} ${r.ttl} A ${r.address}`
      case DnsType.AAAA:
        return `${r.name} ${r.ttl} AAAA ${r.address}`
      case DnsType.CNAME:
        return `${r.name} ${r.ttl} CNAME ${r.target}`
      case DnsType.PTR:
        return `${r.name} ${r.ttl} PTR ${r.target}`
      case DnsType.SRV:
        return `${r.name} ${r.ttl} SRV ${r.priority} ${r.weight} ${r.port} ${r.target}`
      case DnsType.SOA:
        return `${r.name} ${r.ttl} SOA ${r.mname} ${r.rname} ${r.serial} ${r.refresh} ${r.retry} ${r.expire} ${r.minimum}`
      case DnsType.TXT:
        return `${r.name} ${r.ttl} TXT ${r.text.join(" ")}`
    }
  })
}

const SOA5 = `cluster.local 5 SOA ns.dns.cluster.local hostmaster.cluster.local ${SERIAL} 7200 1800 86400 5`

function expectNegative(reply: DnsMessage, rcode: number): void {
  expect(reply.rcode).toBe(rcode)
  expect(reply.answers).toEqual([])
  expect(rrs(reply.authorities)).toEqual([SOA5])
  expect(reply.flags & DnsFlag.AA).toBe(DnsFlag.AA)
}

describe("CoreDNS kubernetes plugin (handler_test.go cases)", () => {
  const p = plugin()

  it("A of a ClusterIP service: the VIP, TTL 5, aa=1; also with zero endpoints (svcempty)", () => {
    const r = ask(p, "svc1.testns.svc.cluster.local", DnsType.A)
    expect(r.rcode).toBe(Rcode.NOERROR)
    expect(r.flags & (DnsFlag.QR | DnsFlag.AA)).toBe(DnsFlag.QR | DnsFlag.AA)
    expect(rrs(r.answers)).toEqual(["svc1.testns.svc.cluster.local 5 A 10.0.0.1"])
    expect(rrs(ask(p, "svcempty.testns.svc.cluster.local", DnsType.A).answers)).toEqual([
      "svcempty.testns.svc.cluster.local 5 A 10.0.0.2",
    ])
  })

  it("AAAA of an IPv4 service: NODATA with the SOA (serial, 7200 1800 86400, MINIMUM = ttl)", () => {
    expectNegative(ask(p, "svc1.testns.svc.cluster.local", DnsType.AAAA), Rcode.NOERROR)
  })

  it("unknown service, unknown namespace: NXDOMAIN with SOA", () => {
    expectNegative(ask(p, "svc0.testns.svc.cluster.local", DnsType.AAAA), Rcode.NXDOMAIN)
    expectNegative(ask(p, "svc0.testns.svc.cluster.local", DnsType.A), Rcode.NXDOMAIN)
    expectNegative(ask(p, "svc0.svc-nons.svc.cluster.local", DnsType.A), Rcode.NXDOMAIN)
  })

  it("SRV of a ClusterIP service, with and without _port._proto: 0 100 80 target + A in additional", () => {
    for (const name of ["svc1.testns.svc.cluster.local", "_http._tcp.svc1.testns.svc.cluster.local"]) {
      const r = ask(p, name, DnsType.SRV)
      expect(rrs(r.answers)).toEqual([`${name} 5 SRV 0 100 80 svc1.testns.svc.cluster.local`])
      expect(rrs(r.additionals)).toEqual(["svc1.testns.svc.cluster.local 5 A 10.0.0.1"])
    }
    // No port with that name/protocol: NXDOMAIN (matchPortAndProtocol leaves errNoItems).
    expectNegative(ask(p, "_https._tcp.svc1.testns.svc.cluster.local", DnsType.SRV), Rcode.NXDOMAIN)
    expectNegative(ask(p, "_http._udp.svc1.testns.svc.cluster.local", DnsType.SRV), Rcode.NXDOMAIN)
  })

  it("headless: one A per ready IPv4 endpoint (not-ready excluded), AAAA per IPv6 endpoint", () => {
    expect(rrs(ask(p, "hdls1.testns.svc.cluster.local", DnsType.A).answers)).toEqual([
      "hdls1.testns.svc.cluster.local 5 A 172.0.0.2",
      "hdls1.testns.svc.cluster.local 5 A 172.0.0.3",
      "hdls1.testns.svc.cluster.local 5 A 172.0.0.4",
      "hdls1.testns.svc.cluster.local 5 A 172.0.0.5",
    ])
    expect(rrs(ask(p, "hdls1.testns.svc.cluster.local", DnsType.AAAA).answers)).toEqual([
      "hdls1.testns.svc.cluster.local 5 AAAA 5678:abcd::1",
      "hdls1.testns.svc.cluster.local 5 AAAA 5678:abcd::2",
    ])
    expect(rrs(ask(p, "hdlsprtls.testns.svc.cluster.local", DnsType.A).answers)).toEqual([
      "hdlsprtls.testns.svc.cluster.local 5 A 172.0.0.20",
    ])
  })

  it("headless with no ready endpoint: NXDOMAIN (dns.md §1.2)", () => {
    expectNegative(ask(p, "hdlsempty.testns.svc.cluster.local", DnsType.A), Rcode.NXDOMAIN)
  })

  it("headless SRV: endpoint x port, weight floor(100/6) = 16, targets by hostname or dashed IP, dedup", () => {
    const r = ask(p, "_http._tcp.hdls1.testns.svc.cluster.local", DnsType.SRV)
    const q = "_http._tcp.hdls1.testns.svc.cluster.local 5 SRV 0 16 80"
    expect(rrs(r.answers)).toEqual([
      `${q} 172-0-0-2.hdls1.testns.svc.cluster.local`,
      `${q} 172-0-0-3.hdls1.testns.svc.cluster.local`,
      `${q} dup-name.hdls1.testns.svc.cluster.local`,
      `${q} 5678-abcd--1.hdls1.testns.svc.cluster.local`,
      `${q} 5678-abcd--2.hdls1.testns.svc.cluster.local`,
    ])
    expect(rrs(r.additionals)).toEqual([
      "172-0-0-2.hdls1.testns.svc.cluster.local 5 A 172.0.0.2",
      "172-0-0-3.hdls1.testns.svc.cluster.local 5 A 172.0.0.3",
      "dup-name.hdls1.testns.svc.cluster.local 5 A 172.0.0.4",
      "dup-name.hdls1.testns.svc.cluster.local 5 A 172.0.0.5",
      "5678-abcd--1.hdls1.testns.svc.cluster.local 5 AAAA 5678:abcd::1",
      "5678-abcd--2.hdls1.testns.svc.cluster.local 5 AAAA 5678:abcd::2",
    ])
  })

  it("endpoint names: dashed IPv4/IPv6, hostname, endpoint without ports", () => {
    expect(rrs(ask(p, "172-0-0-2.hdls1.testns.svc.cluster.local", DnsType.A).answers)).toEqual([
      "172-0-0-2.hdls1.testns.svc.cluster.local 5 A 172.0.0.2",
    ])
    expect(rrs(ask(p, "5678-abcd--1.hdls1.testns.svc.cluster.local", DnsType.AAAA).answers)).toEqual([
      "5678-abcd--1.hdls1.testns.svc.cluster.local 5 AAAA 5678:abcd::1",
    ])
    expect(rrs(ask(p, "172-0-0-20.hdlsprtls.testns.svc.cluster.local", DnsType.A).answers)).toEqual([
      "172-0-0-20.hdlsprtls.testns.svc.cluster.local 5 A 172.0.0.20",
    ])
    expect(ask(p, "dup-name.hdls1.testns.svc.cluster.local", DnsType.A).answers).toHaveLength(2)
    expectNegative(ask(p, "172-0-0-9.hdls1.testns.svc.cluster.local", DnsType.A), Rcode.NXDOMAIN)
  })

  it("dual stack: A and AAAA of the two ClusterIPs; SRV weight 50 with both addresses in additional", () => {
    expect(rrs(ask(p, "svc-dual-stack.testns.svc.cluster.local", DnsType.AAAA).answers)).toEqual([
      "svc-dual-stack.testns.svc.cluster.local 5 AAAA 10::3",
    ])
    const r = ask(p, "svc-dual-stack.testns.svc.cluster.local", DnsType.SRV)
    expect(rrs(r.answers)).toEqual([
      "svc-dual-stack.testns.svc.cluster.local 5 SRV 0 50 80 svc-dual-stack.testns.svc.cluster.local",
    ])
    expect(rrs(r.additionals)).toEqual([
      "svc-dual-stack.testns.svc.cluster.local 5 A 10.0.0.3",
      "svc-dual-stack.testns.svc.cluster.local 5 AAAA 10::3",
    ])
  })

  it("apex, svc.<zone>, pod.<zone>, <ns>.svc.<zone>: NODATA; invalid shapes and too-long names: NXDOMAIN", () => {
    for (const name of ["cluster.local", "svc.cluster.local", "pod.cluster.local", "testns.svc.cluster.local"])
      expectNegative(ask(p, name, DnsType.A), Rcode.NOERROR)
    expectNegative(ask(p, "nons.svc.cluster.local", DnsType.A), Rcode.NXDOMAIN)
    expectNegative(ask(p, "foo.cluster.local", DnsType.A), Rcode.NXDOMAIN)
    expectNegative(ask(p, "google.com.cluster.local", DnsType.A), Rcode.NXDOMAIN)
    expectNegative(ask(p, "a.b.c.svc1.testns.svc.cluster.local", DnsType.A), Rcode.NXDOMAIN)
    // dns.md §2.5: my-svc.my-ns.default.svc... is endpoint "my-svc" of service "my-ns" -> NXDOMAIN.
    expectNegative(ask(p, "svc1.testns.testns.svc.cluster.local", DnsType.A), Rcode.NXDOMAIN)
  })

  it("SOA: at the apex an SOA answer; elsewhere NODATA", () => {
    expect(rrs(ask(p, "cluster.local", DnsType.SOA).answers)).toEqual([SOA5])
    expectNegative(ask(p, "svc1.testns.svc.cluster.local", DnsType.SOA), Rcode.NOERROR)
  })

  it("TXT: dns-version 1.1.0 TTL 28800; other names NODATA when they exist, NXDOMAIN otherwise", () => {
    expect(rrs(ask(p, "dns-version.cluster.local", DnsType.TXT).answers)).toEqual([
      "dns-version.cluster.local 28800 TXT 1.1.0",
    ])
    expectNegative(ask(p, "svc1.testns.svc.cluster.local", DnsType.TXT), Rcode.NOERROR)
    expectNegative(ask(p, "svc0.svc-nons.svc.cluster.local", DnsType.TXT), Rcode.NXDOMAIN)
  })

  it("other qtypes (HTTPS, MX) on an existing name: NODATA via the fake A lookup; on a missing one NXDOMAIN", () => {
    expectNegative(ask(p, "svc1.testns.svc.cluster.local", DnsType.HTTPS), Rcode.NOERROR)
    expectNegative(ask(p, "svc1.testns.svc.cluster.local", DnsType.MX), Rcode.NOERROR)
    expectNegative(ask(p, "svc0.testns.svc.cluster.local", DnsType.HTTPS), Rcode.NXDOMAIN)
  })

  it("ExternalName: CNAME then the target resolved through the chain; NODATA when that fails", () => {
    const query = dnsQuery(9, "external.testns.svc.cluster.local", DnsType.A)
    const result = p.serve(query)
    expect(result.kind).toBe("upstream")
    if (result.kind !== "upstream") return
    expect(rrs([result.cname])).toEqual(["external.testns.svc.cluster.local 5 CNAME ext.interwebs.test"])
    const done = p.completeExternalName(query, result.cname, [
      { name: "ext.interwebs.test", ttl: 300, type: DnsType.A, address: "203.0.113.7" },
    ])
    expect(rrs(done.answers)).toEqual([
      "external.testns.svc.cluster.local 5 CNAME ext.interwebs.test",
      "ext.interwebs.test 300 A 203.0.113.7",
    ])
    expectNegative(p.completeExternalName(query, result.cname, null), Rcode.NOERROR)
    expect(rrs(ask(p, "external.testns.svc.cluster.local", DnsType.CNAME).answers)).toEqual([
      "external.testns.svc.cluster.local 5 CNAME ext.interwebs.test",
    ])
    // handler_test.go: subdomains of an external service do not resolve to it.
    expectNegative(ask(p, "endpoint.external.testns.svc.cluster.local", DnsType.CNAME), Rcode.NXDOMAIN)
    // An IP literal is not a CNAME: NXDOMAIN.
    expectNegative(ask(p, "extip.testns.svc.cluster.local", DnsType.A), Rcode.NXDOMAIN)
  })

  it("PTR: a ClusterIP -> the service name; a ready endpoint IP -> hostname.service; others NXDOMAIN", () => {
    expect(rrs(ask(p, "1.0.0.10.in-addr.arpa", DnsType.PTR).answers)).toEqual([
      "1.0.0.10.in-addr.arpa 5 PTR svc1.testns.svc.cluster.local",
    ])
    expect(rrs(ask(p, "4.0.0.172.in-addr.arpa", DnsType.PTR).answers)).toEqual([
      "4.0.0.172.in-addr.arpa 5 PTR dup-name.hdls1.testns.svc.cluster.local",
    ])
    expect(rrs(ask(p, "2.0.0.172.in-addr.arpa", DnsType.PTR).answers)).toEqual([
      "2.0.0.172.in-addr.arpa 5 PTR 172-0-0-2.hdls1.testns.svc.cluster.local",
    ])
    const six = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.8.7.6.5.ip6.arpa"
    expect(rrs(ask(p, six, DnsType.PTR).answers)).toEqual([`${six} 5 PTR 5678-abcd--1.hdls1.testns.svc.cluster.local`])
    const unknown = ask(p, "9.9.9.9.in-addr.arpa", DnsType.PTR)
    expect(unknown.rcode).toBe(Rcode.NXDOMAIN)
    expect(rrs(unknown.authorities)[0]).toMatch(/^in-addr\.arpa 5 SOA ns\.dns\.in-addr\.arpa/)
  })

  it("answers follow the store: a service created after a query is found by name and by PTR", () => {
    const store = fixtureStore()
    const k = new KubernetesPlugin(store, { ...COREDNS_KUBERNETES_DEFAULTS, zones: ["cluster.local", "in-addr.arpa"] })
    expect(ask(k, "7.0.0.10.in-addr.arpa", DnsType.PTR).rcode).toBe(Rcode.NXDOMAIN)
    expect(ask(k, "late.testns.svc.cluster.local", DnsType.A).rcode).toBe(Rcode.NXDOMAIN)
    store.put("Service", service("late", { clusterIP: "10.0.0.7", clusterIPs: ["10.0.0.7"], ports: HTTP }))
    expect(rrs(ask(k, "7.0.0.10.in-addr.arpa", DnsType.PTR).answers)).toEqual([
      "7.0.0.10.in-addr.arpa 5 PTR late.testns.svc.cluster.local",
    ])
    expect(rrs(ask(k, "late.testns.svc.cluster.local", DnsType.A).answers)).toEqual([
      "late.testns.svc.cluster.local 5 A 10.0.0.7",
    ])
  })

  it("kubeadm Corefile: fallthrough in-addr.arpa ip6.arpa passes unknown PTRs on; ttl 30", () => {
    const k = new KubernetesPlugin(fixtureStore(), kubeadmKubernetesPlugin())
    expect(k.serve(dnsQuery(1, "9.9.9.9.in-addr.arpa", DnsType.PTR))).toEqual({ kind: "next" })
    const r = ask(k, "svc0.testns.svc.cluster.local", DnsType.A)
    expect(r.rcode).toBe(Rcode.NXDOMAIN)
    expect(r.authorities[0]).toMatchObject({ ttl: 30, minimum: 30 })
    expect(ask(k, "svc1.testns.svc.cluster.local", DnsType.A).answers[0].ttl).toBe(30)
    // SOA TTL is min(ttl, 300).
    const big = plugin({ ttlS: 3600 })
    expect(ask(big, "svc0.testns.svc.cluster.local", DnsType.A).authorities[0]).toMatchObject({
      ttl: 300,
      minimum: 3600,
    })
  })

  it("pods: disabled -> NXDOMAIN; insecure -> any IP in an existing namespace; verified -> only real pod IPs", () => {
    const name = "10-244-1-5.testns.pod.cluster.local"
    expectNegative(ask(p, name, DnsType.A), Rcode.NXDOMAIN)
    const insecure = plugin({ pods: "insecure" })
    expect(rrs(ask(insecure, name, DnsType.A).answers)).toEqual([`${name} 5 A 10.244.1.5`])
    expect(rrs(ask(insecure, "1-2-3-4.testns.pod.cluster.local", DnsType.A).answers)).toEqual([
      "1-2-3-4.testns.pod.cluster.local 5 A 1.2.3.4",
    ])
    expect(rrs(ask(insecure, "fd00--1.testns.pod.cluster.local", DnsType.AAAA).answers)).toEqual([
      "fd00--1.testns.pod.cluster.local 5 AAAA fd00::1",
    ])
    expectNegative(ask(insecure, "10-244-1-5.nons.pod.cluster.local", DnsType.A), Rcode.NXDOMAIN)
    expectNegative(ask(insecure, "not-an-ip.testns.pod.cluster.local", DnsType.A), Rcode.NXDOMAIN)
    const verified = plugin({ pods: "verified" })
    expect(ask(verified, name, DnsType.A).answers).toHaveLength(1)
    expectNegative(ask(verified, "1-2-3-4.testns.pod.cluster.local", DnsType.A), Rcode.NXDOMAIN)
  })

  it("ignore empty_service: a ClusterIP service without ready endpoints answers NXDOMAIN", () => {
    expectNegative(
      ask(plugin({ ignoreEmptyService: true }), "svcempty.testns.svc.cluster.local", DnsType.A),
      Rcode.NXDOMAIN,
    )
  })

  it("before the informers synced, name errors are SERVFAIL; AXFR REFUSED; out-of-zone names go to the next plugin", () => {
    const unsynced = plugin()
    unsynced.synced = false
    expect(ask(unsynced, "svc0.testns.svc.cluster.local", DnsType.A).rcode).toBe(Rcode.SERVFAIL)
    expect(ask(p, "cluster.local", DnsType.AXFR).rcode).toBe(Rcode.REFUSED)
    expect(p.serve(dnsQuery(1, "google.com", DnsType.A))).toEqual({ kind: "next" })
  })

  it("names compare case-insensitively and answers keep the query's case", () => {
    const r = ask(p, "SVC1.TestNS.svc.Cluster.Local", DnsType.A)
    expect(rrs(r.answers)).toEqual(["SVC1.TestNS.svc.Cluster.Local 5 A 10.0.0.1"])
    expect(ask(p, "SVC0.TestNS.svc.Cluster.Local", DnsType.A).authorities[0].name).toBe("Cluster.Local")
  })
})
