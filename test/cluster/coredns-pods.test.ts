/**
 * Goal: CoreDNS pods of a scenario (image coredns, labelled k8s-app: kube-dns) serve the
 * kube-system/kube-dns Service the control plane creates (10.96.0.10, the 10th address of the
 * service CIDR): a query from a pod to the VIP crosses kube-proxy's DNAT to a CoreDNS pod and the
 * reply comes back from the VIP, answering the Service's ClusterIP; an external host's name is
 * answered through `forward`. Clients still resolve through the lookup table (not wired yet).
 */
import { describe, expect, it } from "vitest"
import { CoreDnsServer } from "../../src/apps/coredns.ts"
import { World } from "../../src/cluster/world.ts"
import type { UdpListener, UdpSocket } from "../../src/net/udp.ts"
import { NS_PER_S } from "../../src/sim/time.ts"
import { dnsQuery, DnsType, encodedLengthBytes, Rcode, type DnsMessage } from "../../src/wire/dns.ts"
import { formatIpv4, ipv4 } from "../../src/wire/ipv4.ts"
import type { Packet } from "../../src/wire/packet.ts"
import { specFromText } from "./helpers.ts"

const YAML = `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: coredns-pods }
seed: 1
duration: 10s
cluster:
  nodes: { count: 2 }
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
                    - { containerPort: 9153, name: metrics, protocol: TCP }
      - apiVersion: v1
        kind: Service
        metadata: { name: web }
        spec: { clusterIP: 10.96.0.80, selector: { app: web }, ports: [ { port: 80, targetPort: 8080 } ] }
      - apiVersion: v1
        kind: Pod
        metadata: { name: client }
        spec: { containers: [ { name: c, image: busybox } ] }
workloads:
  - { name: noop, from: pod/client, to: "http://web:80/", count: 1, start: 8s, timeout: 1s }
`

class Replies implements UdpListener {
  readonly got: { from: string; reply: DnsMessage }[] = []
  onUdpMessage(_socket: UdpSocket, packet: Packet): void {
    this.got.push({ from: formatIpv4(packet.srcAddr), reply: packet.appData as DnsMessage })
  }
  onUdpError(): void {}
}

describe("CoreDNS pods behind kube-dns", () => {
  it("a query to the kube-dns VIP reaches a CoreDNS pod through kube-proxy and is answered from the VIP", () => {
    const world = new World(specFromText(YAML), 1)
    world.scheduler.run({ timeNsMax: 5 * NS_PER_S, eventCountMax: 50_000_000 })
    const client = world.pods.get("default/client") ?? expect.fail("client pod")
    const servers = world.apps.servers.filter((s): s is CoreDnsServer => s instanceof CoreDnsServer)
    expect(servers).toHaveLength(2)
    const log = new Replies()
    const socket = world.network.udpBind(client.ns, 0, 0, log) ?? expect.fail("no port")
    const ask = (q: DnsMessage) => socket.sendTo(ipv4("10.96.0.10"), 53, encodedLengthBytes(q), q.id, q)
    ask(dnsQuery(1, "web.default.svc.cluster.local", DnsType.A))
    ask(dnsQuery(2, "api.example.test", DnsType.A))
    ask(dnsQuery(3, "nothing.default.svc.cluster.local", DnsType.A))
    world.scheduler.run({ timeNsMax: 6 * NS_PER_S, eventCountMax: 50_000_000 })
    expect(log.got.map((g) => g.from)).toEqual(["10.96.0.10", "10.96.0.10", "10.96.0.10"])
    const byId = new Map(log.got.map((g) => [g.reply.id, g.reply]))
    const web = byId.get(1) ?? expect.fail("no reply 1")
    expect(web.answers.map((r) => (r.type === DnsType.A ? r.address : ""))).toEqual(["10.96.0.80"])
    const api = byId.get(2) ?? expect.fail("no reply 2")
    expect(api.answers.map((r) => (r.type === DnsType.A ? r.address : ""))).toEqual(["198.51.100.7"])
    expect(byId.get(3)?.rcode).toBe(Rcode.NXDOMAIN)
    // One client socket = one conntrack entry: every query went to the same CoreDNS pod.
    expect(servers.map((s) => s.counters.received).sort()).toEqual([0, 3])
    expect(servers.reduce((n, s) => n + s.counters.forwarded, 0)).toBe(1)
  })
})
