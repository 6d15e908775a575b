/**
 * The node's own resolver: the `nameserver` of the nodes' /etc/resolv.conf (kubelet --resolv-conf),
 * which pods with dnsPolicy Default, and hostNetwork pods with ClusterFirst, inherit
 * (../shared/reference/dns.md §2.1). It runs on a simulated external host one external link away
 * from the nodes (address `dns.nodeResolver`), so its queries cross the node's netfilter (SNAT for
 * pod-network pods) and its link like any external traffic.
 *
 * It answers as the upstream CoreDNS's `forward` and node-cache's `.` zone reach without packets
 * (apps/coredns.ts upstreamResolverAnswers): the scenario's external host names (A; NODATA for other
 * types), NXDOMAIN for anything else, with the root SOA in negative answers; so cluster names and
 * search-suffixed names fail there, as they do on a real node. Recursion time is not modelled: the
 * answer leaves as soon as the query arrives (the link gives the round trip, as upstreamRttNs does
 * for CoreDNS). UDP only: a TCP query (use-vc) finds no listener and is refused.
 */
import type { NetError } from "../net/errors.ts"
import type { NetNs } from "../net/netns.ts"
import type { UdpListener, UdpSocket } from "../net/udp.ts"
import type { Rng } from "../sim/rng.ts"
import { DnsFlag, dnsReply, Rcode } from "../wire/dns.ts"
import type { Ipv4 } from "../wire/ipv4.ts"
import type { Packet } from "../wire/packet.ts"
import { isDnsMessage, ROOT_SOA, sendDnsReply, upstreamResolverAnswers } from "./coredns.ts"
import type { ServerHost } from "./host.ts"
import type { ServerIdentity } from "./observer.ts"
import { Server } from "./server.ts"

/** Port 53. */
const DNS_PORT = 53

export class NodeResolverServer extends Server implements UdpListener {
  readonly counters = { received: 0, answered: 0, dropped: 0 }
  private readonly socket: UdpSocket | null

  constructor(
    apps: ServerHost,
    ns: NetNs,
    identity: ServerIdentity,
    rng: Rng,
    private readonly names: ReadonlyMap<string, Ipv4>,
    private readonly ttlS: number,
  ) {
    super(apps, ns, identity, { meanNs: 0, distribution: "fixed" }, rng)
    this.socket = apps.network.udpBind(ns, 0, DNS_PORT, this)
  }

  onUdpMessage(socket: UdpSocket, packet: Packet): void {
    if (!this.running) return
    const query = packet.appData
    if (!isDnsMessage(query) || query.questions.length === 0) {
      this.counters.dropped++
      return
    }
    this.counters.received++
    const question = query.questions[0]
    const name = question.name.endsWith(".") ? question.name.slice(0, -1) : question.name
    const answers = upstreamResolverAnswers(this.names, this.ttlS, name, question.type)
    const reply = dnsReply(
      query,
      answers.rcode,
      DnsFlag.RA,
      answers.records,
      answers.rcode === Rcode.NXDOMAIN || answers.records.length === 0 ? [ROOT_SOA] : [],
    )
    if (sendDnsReply(query, reply, socket, null, packet.srcAddr, packet.srcPort, packet.appTag, packet.flowId) !== 0)
      this.counters.answered++
  }

  onUdpError(_socket: UdpSocket, _error: NetError, _remoteAddr: Ipv4, _remotePort: number, _appTag: number): void {}

  onServe(_slot: number, _nowNs: number): void {}

  stop(): void {
    this.running = false
    this.socket?.close()
  }
}
