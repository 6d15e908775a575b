/**
 * node-local-dns's CoreDNS (the k8s-dns-node-cache image) on one node: a hostNetwork process bound to
 * the listen addresses of `-localip` on port 53 (UDP and TCP), serving the Corefile of the upstream
 * manifest (kubernetes/kubernetes cluster/addons/dns/nodelocaldns/nodelocaldns.yaml; dns.md §3.3):
 *
 *   cluster.local:53 { cache { success 9984 30; denial 9984 5 }
 *                      forward . <kube-dns-upstream VIP> { force_tcp } }
 *   in-addr.arpa:53, ip6.arpa:53 { cache 30; forward . <kube-dns-upstream VIP> { force_tcp } }
 *   .:53 { cache 30; forward . /etc/resolv.conf }
 *
 * Each server block has its own cache (CoreDNS instantiates plugins per block); the block is chosen
 * by the longest zone that contains the query name, as CoreDNS's dnsserver does. Cluster and reverse
 * zones go to the kube-dns-upstream ClusterIP over TCP as real packets from the node (kube-proxy
 * DNATs them to a CoreDNS pod, conntracked: only the client side is NOTRACKed), one query in flight
 * per connection and connections pooled (forward's proxy/connect.go; idle `expire` 10 s). The `.`
 * block's upstream is the node's resolver outside the cluster, answered like CoreDNS's own forward
 * (apps/coredns.ts upstreamResolverAnswers) after `upstreamRttNs` without packets.
 *
 * CPU: the same per-query worker model as the CoreDNS server (COREDNS_QUERIES_PER_SECOND_PER_CPU,
 * the node's CPUs: the manifest requests 25m and sets no CPU limit).
 *
 * forward's timing: each attempt waits `readTimeout` 2 s for the answer; a timed-out attempt's
 * connection is closed and ServeDNS tries again until its 5 s deadline (forward.go defaultTimeout),
 * then SERVFAIL.
 *
 * Not modelled: health checks and the retry loop after a connection error (refused/reset answer
 * SERVFAIL at once instead of retrying until the deadline), the TCP listener listens on the wildcard address (the simulated TCP
 * has one listener per port) and resets connections accepted on other addresses after the handshake
 * instead of answering the SYN with RST, max_concurrent, prefetch, serve_stale, health/metrics servers.
 */
import {
  DnsRequests,
  upstreamResolverAnswers,
  ROOT_SOA,
  DNS_PORT,
  DNS_TCP_LENGTH_PREFIX_BYTES,
  isDnsMessage,
} from "./coredns.ts"
import type { ServerHost } from "./host.ts"
import type { ServerIdentity } from "./observer.ts"
import { Server } from "./server.ts"
import type { NetError } from "../net/errors.ts"
import type { NetNs } from "../net/netns.ts"
import type { TcpConnection, TcpConnectionListener, TcpListenSocket, TcpServerListener } from "../net/tcp.ts"
import { TcpState } from "../net/tcp.ts"
import { udpBindConflicts, type UdpListener, type UdpSocket } from "../net/udp.ts"
import type { Rng } from "../sim/rng.ts"
import { NS_PER_S } from "../sim/time.ts"
import { DnsFlag, dnsReply, encodedLengthBytes, Rcode, type DnsMessage } from "../wire/dns.ts"
import type { Ipv4 } from "../wire/ipv4.ts"
import type { Packet } from "../wire/packet.ts"
import { cacheWithTtl, DnsCache, nodeLocalClusterCache } from "../dns/coredns/cache.ts"

/** forward's `expire` default: pooled connections idle this long are closed. */
export const FORWARD_EXPIRE_NS = 10 * NS_PER_S
/** forward's per-attempt read timeout (proxy/connect.go readTimeout, 2 s). */
export const FORWARD_READ_TIMEOUT_NS = 2 * NS_PER_S
/** forward.go defaultTimeout: ServeDNS keeps trying upstreams until this long after the query came. */
export const FORWARD_DEADLINE_NS = 5 * NS_PER_S

export interface NodeLocalDnsParams {
  /** `-localip`, in order (iptables mode: link-local, kube-dns VIP; IPVS mode: link-local only). */
  readonly localIps: readonly Ipv4[]
  /** kube-dns-upstream's ClusterIP (node-cache reads KUBE_DNS_UPSTREAM_SERVICE_HOST). */
  readonly upstreamServiceIp: Ipv4
  readonly clusterDomain: string
  readonly queriesPerSecondPerCpu: number
  readonly cpus: number
  /** Round trip to the node's resolver for the `.` block. */
  readonly upstreamRttNs: number
  readonly upstreamTtlS: number
  /** Names the node's resolver answers (scenario externalHosts), lowercase. */
  readonly upstreamNames: ReadonlyMap<string, Ipv4>
}

/** Counters of one node-local cache (dns.servers.<name> once results carry them). */
export interface NodeLocalDnsCounters {
  received: number
  answered: number
  cacheHits: number
  cacheMisses: number
  forwarded: number
  /** Queries sent to kube-dns-upstream over TCP. */
  forwardedTcp: number
  /** TCP connections opened to kube-dns-upstream. */
  upstreamConnections: number
  servfail: number
  /** Upstream attempts that got no answer within the read timeout (each retried until the deadline). */
  upstreamTimeouts: number
  dropped: number
}

const BLOCK_CLUSTER = 0
const BLOCK_REVERSE4 = 1
const BLOCK_REVERSE6 = 2
const BLOCK_ROOT = 3

/** onServe slot of the connection manager's ticker (job slots are >= 0). */
const SLOT_CONN_MANAGER = -1
/** onServe slot of job `slot`'s read deadline: -2 - slot (apart from its CPU and resolver events). */
const readDeadlineSlot = (slot: number): number => -2 - slot

const PHASE_FREE = 0
const PHASE_QUEUED = 1
const PHASE_CPU = 2
const PHASE_RESOLVER = 3
const PHASE_TCP = 4

export class NodeLocalDnsServer extends Server implements UdpListener, TcpServerListener {
  readonly counters: NodeLocalDnsCounters = {
    received: 0,
    answered: 0,
    cacheHits: 0,
    cacheMisses: 0,
    forwarded: 0,
    forwardedTcp: 0,
    upstreamConnections: 0,
    servfail: 0,
    upstreamTimeouts: 0,
    dropped: 0,
  }
  /** One cache per server block (cluster, in-addr.arpa, ip6.arpa, root). */
  readonly caches: readonly DnsCache[]
  private readonly udpSockets: UdpSocket[] = []
  private readonly tcpListener: TcpListenSocket | null
  private readonly workers: number
  private readonly queryCpuNs: number
  private busyWorkers = 0
  /** The queries held, by slot (this server's own per-slot state is in the job* arrays). */
  private readonly requests = new DnsRequests()
  private readonly jobPhase: number[] = []
  private readonly jobBlock: number[] = []
  /** The upstream connection of a query in PHASE_TCP, its attempt's read deadline and forward's deadline. */
  private readonly jobUpstream: (TcpConnection | null)[] = []
  private readonly jobReadDeadlineNs: number[] = []
  private readonly jobForwardDeadlineNs: number[] = []
  private queue: number[] = []
  private queueHead = 0
  /** Upstream TCP connections: idle ones (with when they became idle) and the busy one's slot. */
  private readonly idle: TcpConnection[] = []
  private readonly idleSinceNs: number[] = []
  private readonly busy = new Map<TcpConnection, number>()
  private readonly upstreamListener: TcpConnectionListener
  private readonly clientListener: TcpConnectionListener

  constructor(
    apps: ServerHost,
    ns: NetNs,
    identity: ServerIdentity,
    rng: Rng,
    readonly params: NodeLocalDnsParams,
  ) {
    super(apps, ns, identity, { meanNs: 0, distribution: "fixed" }, rng)
    this.workers = Math.max(1, Math.floor(params.cpus))
    this.queryCpuNs = Math.round((NS_PER_S * this.workers) / (params.cpus * params.queriesPerSecondPerCpu))
    const reverse = cacheWithTtl(30)
    this.caches = [
      new DnsCache(nodeLocalClusterCache(params.clusterDomain), rng),
      new DnsCache({ ...reverse, zones: ["in-addr.arpa"] }, rng),
      new DnsCache({ ...reverse, zones: ["ip6.arpa"] }, rng),
      new DnsCache(reverse, rng),
    ]
    // The `bind` of each block: one socket per listen address (node-cache's CoreDNS binds them).
    // A port another process of the node holds (a hostNetwork DNS server) fails to bind
    // (EADDRINUSE): nothing listens there, as images.ts does for pods. A deferred userspace proxier
    // of the node binds its ports first (they are read here).
    ns.portsPending?.settle()
    for (const ip of params.localIps) {
      if (udpBindConflicts(ns.udpSockets.get(DNS_PORT), ip, false)) continue
      const socket = apps.network.udpBind(ns, ip, DNS_PORT, this)
      if (socket !== null) this.udpSockets.push(socket)
    }
    this.tcpListener = ns.tcpListeners.has(DNS_PORT) ? null : apps.network.tcp.listen(ns, 0, DNS_PORT, this)
    const server = this
    this.clientListener = {
      onConnected() {},
      onMessage(conn, _bytes, appTag, appData) {
        server.onClientMessage(conn, appTag, appData)
      },
      onPeerClosed(conn) {
        conn.close()
      },
      onClosed() {},
    }
    this.upstreamListener = {
      onConnected(conn) {
        server.onUpstreamConnected(conn)
      },
      onMessage(conn, _bytes, _appTag, appData) {
        server.onUpstreamMessage(conn, appData)
      },
      onPeerClosed(conn) {
        server.onUpstreamGone(conn)
        conn.close()
      },
      onClosed(conn, error) {
        server.onUpstreamGone(conn, error)
      },
    }
  }

  /**
   * Once registered (the index names it in events): proxy/persistent.go connManager, whose ticker
   * closes expired pooled connections every defaultExpire.
   */
  startTimers(): void {
    this.apps.scheduleServe(this.index, SLOT_CONN_MANAGER, this.apps.nowNs + FORWARD_EXPIRE_NS)
  }

  get queryTimeNs(): number {
    return this.queryCpuNs
  }

  // --- client transports

  onUdpMessage(socket: UdpSocket, packet: Packet): void {
    if (!this.running) return
    const data = packet.appData
    if (!isDnsMessage(data) || data.questions.length === 0) {
      this.counters.dropped++
      return
    }
    this.accept(data, socket, null, packet.srcAddr, packet.srcPort, packet.appTag, packet.flowId)
  }

  onUdpError(_socket: UdpSocket, _error: NetError, _remoteAddr: Ipv4, _remotePort: number, _appTag: number): void {}

  onAccept(_server: TcpListenSocket, conn: TcpConnection): TcpConnectionListener {
    // Only the bound addresses listen (see the file comment).
    if (!this.params.localIps.includes(conn.localAddr)) conn.abort()
    return this.clientListener
  }

  private onClientMessage(conn: TcpConnection, appTag: number, appData: object | null): void {
    if (!this.running) return
    if (!isDnsMessage(appData) || appData.questions.length === 0) {
      this.counters.dropped++
      return
    }
    this.accept(appData, null, conn, conn.remoteAddr, conn.remotePort, appTag, 0)
  }

  // --- a query's life

  private accept(
    query: DnsMessage,
    socket: UdpSocket | null,
    conn: TcpConnection | null,
    addr: number,
    port: number,
    tag: number,
    flow: number,
  ): void {
    this.counters.received++
    const slot = this.requests.take(query, socket, conn, addr, port, tag, flow)
    this.jobBlock[slot] = this.blockOf(query.questions[0].name)
    if (this.busyWorkers < this.workers) this.startCpu(slot)
    else {
      this.jobPhase[slot] = PHASE_QUEUED
      this.queue.push(slot)
    }
  }

  /** The server block of the longest zone containing `name` (dnsserver's zone match). */
  private blockOf(name: string): number {
    const n = name.toLowerCase().replace(/\.$/, "")
    const inZone = (zone: string): boolean => n === zone || n.endsWith(`.${zone}`)
    if (inZone(this.params.clusterDomain.toLowerCase())) return BLOCK_CLUSTER
    if (inZone("in-addr.arpa")) return BLOCK_REVERSE4
    if (inZone("ip6.arpa")) return BLOCK_REVERSE6
    return BLOCK_ROOT
  }

  private startCpu(slot: number): void {
    this.busyWorkers++
    this.jobPhase[slot] = PHASE_CPU
    this.apps.scheduleServe(this.index, slot, this.apps.nowNs + this.queryCpuNs)
  }

  onServe(slot: number, nowNs: number): void {
    if (slot === SLOT_CONN_MANAGER) return this.cleanupExpired(nowNs)
    if (slot < SLOT_CONN_MANAGER) {
      // A read deadline; earlier attempts' (and earlier jobs') deadlines fire before the current one.
      const job = readDeadlineSlot(slot)
      if (this.jobPhase[job] === PHASE_TCP && nowNs >= this.jobReadDeadlineNs[job]) this.attemptTimedOut(job, nowNs)
      return
    }
    const phase = this.jobPhase[slot]
    if (phase === PHASE_CPU) {
      this.busyWorkers--
      this.runChain(slot, nowNs)
      if (this.queueHead < this.queue.length && this.busyWorkers < this.workers) {
        const next = this.queue[this.queueHead++]
        if (this.queueHead === this.queue.length) {
          this.queue = []
          this.queueHead = 0
        }
        this.startCpu(next)
      }
    } else if (phase === PHASE_RESOLVER) this.resolverAnswered(slot, nowNs)
  }

  /** cache -> forward. */
  private runChain(slot: number, nowNs: number): void {
    const query = this.requests.query[slot] as DnsMessage
    if (!this.running) return this.finish(slot)
    const cache = this.caches[this.jobBlock[slot]]
    const cached = cache.get(nowNs, query)
    if (cached !== null) {
      this.counters.cacheHits++
      return this.reply(slot, cached)
    }
    if (cache.covers(query)) this.counters.cacheMisses++
    this.counters.forwarded++
    if (this.jobBlock[slot] === BLOCK_ROOT) {
      this.jobPhase[slot] = PHASE_RESOLVER
      this.apps.scheduleServe(this.index, slot, nowNs + this.params.upstreamRttNs)
      return
    }
    this.counters.forwardedTcp++
    this.jobForwardDeadlineNs[slot] = nowNs + FORWARD_DEADLINE_NS
    this.forwardTcp(slot, nowNs)
  }

  private resolverAnswered(slot: number, nowNs: number): void {
    const query = this.requests.query[slot] as DnsMessage
    if (!this.running) return this.finish(slot)
    const q = query.questions[0]
    const answers = upstreamResolverAnswers(this.params.upstreamNames, this.params.upstreamTtlS, q.name, q.type)
    const reply = dnsReply(
      query,
      answers.rcode,
      DnsFlag.RA,
      answers.records,
      answers.rcode === Rcode.NXDOMAIN || answers.records.length === 0 ? [ROOT_SOA] : [],
    )
    this.reply(slot, this.caches[BLOCK_ROOT].put(nowNs, query, reply))
  }

  // --- forward . <kube-dns-upstream> { force_tcp }

  /** One attempt (proxy.Connect): a pooled or new connection, the query, a read deadline. */
  private forwardTcp(slot: number, nowNs: number): void {
    this.jobPhase[slot] = PHASE_TCP
    this.jobReadDeadlineNs[slot] = nowNs + FORWARD_READ_TIMEOUT_NS
    this.apps.scheduleServe(this.index, readDeadlineSlot(slot), nowNs + FORWARD_READ_TIMEOUT_NS)
    // The most recently idle connection first (the pool is a stack); expired ones are closed.
    while (this.idle.length > 0) {
      const conn = this.idle.pop() as TcpConnection
      const since = this.idleSinceNs.pop() as number
      if (conn.state !== TcpState.ESTABLISHED) continue
      if (nowNs - since >= FORWARD_EXPIRE_NS) {
        conn.close()
        continue
      }
      this.busy.set(conn, slot)
      this.jobUpstream[slot] = conn
      this.sendUpstream(conn, slot)
      return
    }
    this.counters.upstreamConnections++
    const conn = this.apps.network.tcp.connect(this.ns, this.params.upstreamServiceIp, DNS_PORT, this.upstreamListener)
    this.busy.set(conn, slot)
    this.jobUpstream[slot] = conn
  }

  /**
   * No answer within the read timeout: Connect fails and closes the connection; ServeDNS tries
   * again (one upstream: the same Service) while forward's deadline has not passed, then SERVFAIL.
   */
  private attemptTimedOut(slot: number, nowNs: number): void {
    this.counters.upstreamTimeouts++
    const conn = this.jobUpstream[slot]
    this.jobUpstream[slot] = null
    if (conn !== null) {
      this.busy.delete(conn)
      conn.close()
    }
    if (!this.running) return this.finish(slot)
    if (nowNs < this.jobForwardDeadlineNs[slot]) return this.forwardTcp(slot, nowNs)
    this.counters.servfail++
    this.reply(slot, dnsReply(this.requests.query[slot] as DnsMessage, Rcode.SERVFAIL, DnsFlag.RA, []))
  }

  /** persistent.go cleanup(false): close pooled connections unused for `expire`; tick again. */
  private cleanupExpired(nowNs: number): void {
    if (!this.running) return
    let kept = 0
    for (let i = 0; i < this.idle.length; i++) {
      if (nowNs - this.idleSinceNs[i] >= FORWARD_EXPIRE_NS) this.idle[i].close()
      else {
        this.idle[kept] = this.idle[i]
        this.idleSinceNs[kept++] = this.idleSinceNs[i]
      }
    }
    this.idle.length = kept
    this.idleSinceNs.length = kept
    this.apps.scheduleServe(this.index, SLOT_CONN_MANAGER, nowNs + FORWARD_EXPIRE_NS)
  }

  private sendUpstream(conn: TcpConnection, slot: number): void {
    const query = this.requests.query[slot] as DnsMessage
    conn.send(encodedLengthBytes(query) + DNS_TCP_LENGTH_PREFIX_BYTES, this.requests.tagOf(slot), query)
  }

  private onUpstreamConnected(conn: TcpConnection): void {
    const slot = this.busy.get(conn)
    if (slot !== undefined) this.sendUpstream(conn, slot)
  }

  private onUpstreamMessage(conn: TcpConnection, appData: object | null): void {
    const slot = this.busy.get(conn)
    if (slot === undefined || !isDnsMessage(appData)) return
    this.busy.delete(conn)
    this.jobUpstream[slot] = null
    this.idle.push(conn)
    this.idleSinceNs.push(this.apps.nowNs)
    if (!this.running) return this.finish(slot)
    const query = this.requests.query[slot] as DnsMessage
    this.reply(slot, this.caches[this.jobBlock[slot]].put(this.apps.nowNs, query, appData))
  }

  /** The upstream connection failed or was closed: its query (if any) gets SERVFAIL. */
  private onUpstreamGone(conn: TcpConnection, _error?: NetError): void {
    const at = this.idle.indexOf(conn)
    if (at >= 0) {
      this.idle.splice(at, 1)
      this.idleSinceNs.splice(at, 1)
    }
    const slot = this.busy.get(conn)
    if (slot === undefined) return
    this.busy.delete(conn)
    this.jobUpstream[slot] = null
    if (!this.running) return this.finish(slot)
    this.counters.servfail++
    this.reply(slot, dnsReply(this.requests.query[slot] as DnsMessage, Rcode.SERVFAIL, DnsFlag.RA, []))
  }

  private reply(slot: number, reply: DnsMessage): void {
    const query = this.requests.query[slot] as DnsMessage
    // Upstream's id is the client's (forward relays the client's message).
    const out = reply.id === query.id ? reply : { ...reply, id: query.id }
    const sent = this.requests.send(slot, out)
    if (sent !== 0) this.counters.answered++
    this.finish(slot)
  }

  private finish(slot: number): void {
    this.jobUpstream[slot] = null
    this.jobPhase[slot] = PHASE_FREE
    this.requests.release(slot)
  }

  /** The process exits: its sockets close (the kernel closes them; pooled connections too). */
  stop(): void {
    this.running = false
    for (const socket of this.udpSockets) socket.close()
    this.tcpListener?.close()
    for (const conn of this.idle) conn.close()
    for (const conn of this.busy.keys()) conn.close()
    this.idle.length = 0
    this.idleSinceNs.length = 0
    this.busy.clear()
  }
}
