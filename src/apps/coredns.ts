/**
 * CoreDNS as a server in a pod: listens on UDP and TCP 53 (the Corefile's `.:53`), reads the DNS
 * message a packet carries (Packet.appData / the TCP message's appData, a wire/dns DnsMessage) and
 * answers with the plugin chain of kubeadm's Corefile in CoreDNS's fixed plugin order (plugin.cfg:
 * cache -> kubernetes -> forward; ../shared/reference/dns.md §1.4-1.6):
 *   - `cache`: dns/coredns/cache.ts (kubeadm >= v1.32: `cache 30` with success and denial disabled
 *     for the cluster domain, so cluster answers come from the kubernetes plugin every time);
 *   - `kubernetes`: dns/coredns/kubernetes.ts over the run's API store (`ttl 30`, `pods insecure`,
 *     reverse zones fall through);
 *   - `forward . /etc/resolv.conf { max_concurrent 1000 }`: names the kubernetes plugin passes on
 *     go to the upstream resolver. The upstream is not a simulated host: it answers after
 *     `upstreamRttNs` without packets, with the A record of a scenario `externalHosts` name and
 *     NXDOMAIN (with the root zone's SOA, as a recursive resolver relays it) otherwise. Queries
 *     beyond `maxConcurrent` in flight to the upstream get REFUSED (forward.go ErrLimitExceeded ->
 *     the server's errorFunc writes REFUSED; not cached).
 *
 * CPU: each query costs `1e9 / queriesPerSecondPerCpu` ns of CPU on one of `cpus` workers (the Go
 * runtime runs CoreDNS's goroutines on every CPU it is given); a query arriving while all workers
 * are busy waits in FIFO order, so beyond `cpus x queriesPerSecondPerCpu` queries per second the
 * queue and the latency grow as a saturated CoreDNS's do. A fractional CPU (a limit of 500m) keeps one
 * worker and stretches the per-query time (CFS quota as a fluid share; its 100 ms periods are
 * not modelled).
 *
 * Reply size: request.Scrub as CoreDNS's ScrubWriter applies it: miekg/dns Msg.Truncate to the
 * client's buffer (512 bytes over UDP without EDNS, the EDNS size otherwise, 65535 over TCP),
 * uncompressed when it fits, else compressed and records dropped from the end (answer, then
 * authority, then additional) until it fits, TC set when any was dropped. Over TCP the message
 * carries its 2-byte length prefix (RFC 1035 §4.2.2).
 *
 * Not modelled: the socket receive buffer (a saturated CoreDNS here queues without bound instead of
 * dropping datagrams when SO_RCVBUF is full), `loop`, `loadbalance` (answer order shuffling),
 * `errors`/`log`, health/ready/lameduck, forward's per-upstream timeouts, health checks and
 * connection pooling (the upstream never fails), `autopath`, DNS over TCP pipelining limits,
 * malformed queries (a datagram without a DNS message is dropped, counted in `dropped`).
 */
import type { NetError } from "../net/errors.ts"
import type { NetNs } from "../net/netns.ts"
import type { TcpConnection, TcpConnectionListener, TcpListenSocket, TcpServerListener } from "../net/tcp.ts"
import type { UdpListener, UdpSocket } from "../net/udp.ts"
import type { ApiStore } from "../k8s/store.ts"
import { DnsCache, kubeadmCache, type CacheConfig } from "../dns/coredns/cache.ts"
import { KubernetesPlugin, kubeadmKubernetesPlugin, type KubernetesPluginConfig } from "../dns/coredns/kubernetes.ts"
import type { Rng } from "../sim/rng.ts"
import { NS_PER_S } from "../sim/time.ts"
import {
  clientBufferBytes,
  compressedLengthBytes,
  DNS_OPT_RECORD_BYTES,
  DNS_UDP_MIN_MSG_BYTES,
  DnsFlag,
  DnsType,
  dnsReply,
  encodedLengthBytes,
  Rcode,
  type DnsMessage,
  type DnsRecord,
  type SoaRecord,
} from "../wire/dns.ts"
import { formatIpv4, type Ipv4 } from "../wire/ipv4.ts"
import type { Packet } from "../wire/packet.ts"
import type { ServerHost } from "./host.ts"
import type { ServerIdentity } from "./observer.ts"
import { Server } from "./server.ts"

export const DNS_PORT = 53
/** RFC 1035 §4.2.2: a DNS message over TCP is preceded by its 2-byte length. */
export const DNS_TCP_LENGTH_PREFIX_BYTES = 2

/**
 * CoreDNS max QPS for internal names, 1 replica on a 2-vCPU GCE n1-standard-2 with both vCPUs
 * pegged (kubernetes/perf-tests dns scaling results, dns.md §5 [SCALING]): 33,669 QPS / 2 CPUs.
 */
export const COREDNS_QUERIES_PER_SECOND_PER_CPU = 16_834

export interface CoreDnsParams {
  /** Queries answered per second per CPU (per-query CPU time = 1e9 / this). */
  readonly queriesPerSecondPerCpu: number
  /** CPUs the replica may use: the node's CPUs (kubeadm's Deployment sets no CPU limit), or its limit. */
  readonly cpus: number
  /** `kubernetes` plugin block. */
  readonly kubernetes: KubernetesPluginConfig
  /** `cache` plugin block. */
  readonly cache: CacheConfig
  /** forward's `max_concurrent` (kubeadm: 1000). */
  readonly maxConcurrent: number
  /** Round trip to the upstream resolver (default: twice the network's external one-way latency). */
  readonly upstreamRttNs: number
  /** TTL of the upstream's A records for external hosts (the external zone's choice; default 300 s). */
  readonly upstreamTtlS: number
}

export const UPSTREAM_TTL_S_DEFAULT = 300
export const FORWARD_MAX_CONCURRENT_KUBEADM = 1000

/** kubeadm's CoreDNS (dns.md §1.6) with the figures above. */
export function coreDnsParams(
  clusterDomain: string,
  cpus: number,
  upstreamRttNs: number,
  overrides: Partial<CoreDnsParams> = {},
): CoreDnsParams {
  return {
    queriesPerSecondPerCpu: COREDNS_QUERIES_PER_SECOND_PER_CPU,
    cpus,
    kubernetes: kubeadmKubernetesPlugin(clusterDomain),
    cache: kubeadmCache(clusterDomain),
    maxConcurrent: FORWARD_MAX_CONCURRENT_KUBEADM,
    upstreamRttNs,
    upstreamTtlS: UPSTREAM_TTL_S_DEFAULT,
    ...overrides,
  }
}

/** What the server's environment provides: the API (for the kubernetes plugin) and the upstream's names. */
export interface CoreDnsEnvironment {
  readonly store: ApiStore
  /** Names the upstream resolver answers (scenario externalHosts), lowercase, no trailing dot. */
  readonly upstreamNames: ReadonlyMap<string, Ipv4>
}

/** Counters of one server (dns.servers.<pod> in results, once the client side is wired). */
export interface CoreDnsCounters {
  received: number
  answered: number
  cacheHits: number
  cacheMisses: number
  forwarded: number
  refused: number
  dropped: number
  truncated: number
  /** Most queries waiting for a CPU at once. */
  queuePeak: number
}

/**
 * The root zone's SOA as a recursive resolver relays it with NXDOMAIN (`. 86400 IN SOA
 * a.root-servers.net. nstld.verisign-grs.com. ... 1800 900 604800 86400`, IANA root zone).
 */
export const ROOT_SOA: SoaRecord = {
  name: "",
  ttl: 86400,
  type: DnsType.SOA,
  mname: "a.root-servers.net",
  rname: "nstld.verisign-grs.com",
  serial: 2026120300,
  refresh: 1800,
  retry: 900,
  expire: 604800,
  minimum: 86400,
}

const PHASE_FREE = 0
const PHASE_QUEUED = 1
const PHASE_CPU = 2
const PHASE_UPSTREAM = 3

export function isDnsMessage(data: object | null): data is DnsMessage {
  return data !== null && Array.isArray((data as { questions?: unknown }).questions)
}

/**
 * request.Scrub: the reply as sent and its length. Uncompressed when it fits `bufferBytes` (and,
 * over UDP, 1480 bytes); else compressed, and when even that does not fit, Msg.Truncate keeps the
 * longest prefix of answer, authority, additional records that fits (the OPT record's 11 bytes
 * reserved) and sets TC when any record was dropped.
 */
export function scrubReply(
  reply: DnsMessage,
  bufferBytes: number,
  transport: "udp" | "tcp",
): { readonly reply: DnsMessage; readonly lengthBytes: number } {
  const size = Math.max(bufferBytes, DNS_UDP_MIN_MSG_BYTES)
  const plain = encodedLengthBytes(reply)
  if (plain <= size) {
    if (transport === "udp" && plain > 1480) return { reply, lengthBytes: compressedLengthBytes(reply) }
    return { reply, lengthBytes: plain }
  }
  const compressed = compressedLengthBytes(reply)
  if (compressed <= size) return { reply, lengthBytes: compressed }
  const budget = size - (reply.ednsUdpPayloadBytes !== undefined ? DNS_OPT_RECORD_BYTES : 0)
  const all = [...reply.answers, ...reply.authorities, ...reply.additionals]
  const { ednsUdpPayloadBytes: _opt, ...header } = reply
  const bare: DnsMessage = { ...header, answers: [], authorities: [], additionals: [] }
  let kept = 0
  // Compressed length grows with each record appended, so the longest fitting prefix is found by a scan.
  while (kept < all.length && compressedLengthBytes(prefix(bare, reply, kept + 1)) <= budget) kept++
  const cut = prefix(bare, reply, kept)
  const truncated: DnsMessage = {
    ...cut,
    flags: reply.flags | (kept < all.length ? DnsFlag.TC : 0),
    ...(reply.ednsUdpPayloadBytes !== undefined ? { ednsUdpPayloadBytes: reply.ednsUdpPayloadBytes } : {}),
  }
  return { reply: truncated, lengthBytes: compressedLengthBytes(truncated) }
}

/**
 * Sends `reply` to the client that asked `query` (request.Scrub, then one datagram back to its
 * address and port, or one length-prefixed message on its TCP connection). Returns 0 when nothing
 * was sent (the socket closed meanwhile), 1 when sent, 2 when sent truncated by Scrub.
 */
export function sendDnsReply(
  query: DnsMessage,
  reply: DnsMessage,
  socket: UdpSocket | null,
  conn: TcpConnection | null,
  addr: Ipv4,
  port: number,
  tag: number,
  flow: number,
): 0 | 1 | 2 {
  if (socket !== null) {
    const scrubbed = scrubReply(reply, clientBufferBytes(query, "udp"), "udp")
    if (socket.closed) return 0
    socket.sendTo(addr, port, scrubbed.lengthBytes, tag, scrubbed.reply, flow)
    return (scrubbed.reply.flags & DnsFlag.TC) !== 0 && (reply.flags & DnsFlag.TC) === 0 ? 2 : 1
  }
  if (conn === null) return 0
  const scrubbed = scrubReply(reply, clientBufferBytes(query, "tcp"), "tcp")
  conn.send(scrubbed.lengthBytes + DNS_TCP_LENGTH_PREFIX_BYTES, tag, scrubbed.reply)
  return 1
}

/**
 * The queries a DNS server holds, one slot each (parallel arrays, slots reused through a free
 * list): the query, and who asked it and how (UDP socket and peer, or TCP connection), so that
 * the reply goes back the way the query came. Servers keep their own per-slot state beside it.
 */
export class DnsRequests {
  readonly query: (DnsMessage | null)[] = []
  /** The UDP socket, or null when the query came over TCP (conn). */
  private readonly socket: (UdpSocket | null)[] = []
  private readonly conn: (TcpConnection | null)[] = []
  private readonly addr: number[] = []
  private readonly port: number[] = []
  private readonly tag: number[] = []
  private readonly flow: number[] = []
  private readonly free: number[] = []

  take(
    query: DnsMessage,
    socket: UdpSocket | null,
    conn: TcpConnection | null,
    addr: number,
    port: number,
    tag: number,
    flow: number,
  ): number {
    const slot = this.free.length > 0 ? (this.free.pop() as number) : this.query.length
    this.query[slot] = query
    this.socket[slot] = socket
    this.conn[slot] = conn
    this.addr[slot] = addr
    this.port[slot] = port
    this.tag[slot] = tag
    this.flow[slot] = flow
    return slot
  }

  tagOf(slot: number): number {
    return this.tag[slot]
  }

  /** sendDnsReply to the slot's client (0 nothing sent, 1 sent, 2 sent truncated). */
  send(slot: number, reply: DnsMessage): 0 | 1 | 2 {
    return sendDnsReply(
      this.query[slot] as DnsMessage,
      reply,
      this.socket[slot],
      this.conn[slot],
      this.addr[slot],
      this.port[slot],
      this.tag[slot],
      this.flow[slot],
    )
  }

  release(slot: number): void {
    this.query[slot] = null
    this.socket[slot] = null
    this.conn[slot] = null
    this.free.push(slot)
  }
}

function prefix(bare: DnsMessage, reply: DnsMessage, count: number): DnsMessage {
  const a = Math.min(count, reply.answers.length)
  const n = Math.min(count - a, reply.authorities.length)
  const x = count - a - n
  return {
    ...bare,
    answers: reply.answers.slice(0, a),
    authorities: reply.authorities.slice(0, n),
    additionals: reply.additionals.slice(0, x),
  }
}

/**
 * The upstream resolver outside the cluster (a node's /etc/resolv.conf nameserver): scenario
 * external hosts' A records; NODATA for other types; NXDOMAIN else.
 */
export function upstreamResolverAnswers(
  names: ReadonlyMap<string, Ipv4>,
  ttlS: number,
  name: string,
  qtype: number,
): { rcode: number; records: DnsRecord[] } {
  const address = names.get(name.toLowerCase())
  if (address === undefined) return { rcode: Rcode.NXDOMAIN, records: [] }
  if (qtype !== DnsType.A) return { rcode: Rcode.NOERROR, records: [] }
  return { rcode: Rcode.NOERROR, records: [{ name, ttl: ttlS, type: DnsType.A, address: formatIpv4(address) }] }
}

export class CoreDnsServer extends Server implements UdpListener, TcpServerListener, TcpConnectionListener {
  readonly counters: CoreDnsCounters = {
    received: 0,
    answered: 0,
    cacheHits: 0,
    cacheMisses: 0,
    forwarded: 0,
    refused: 0,
    dropped: 0,
    truncated: 0,
    queuePeak: 0,
  }
  readonly kubernetes: KubernetesPlugin
  readonly cache: DnsCache
  private readonly udpSocket: UdpSocket | null
  private readonly tcpListener: TcpListenSocket | null
  private readonly workers: number
  private readonly queryCpuNs: number
  private busyWorkers = 0
  private upstreamInFlight = 0
  /** The queries held, by slot (the server's own per-slot state is in the job* arrays). */
  private readonly requests = new DnsRequests()
  private readonly jobPhase: number[] = []
  /** ExternalName: the CNAME to put in front of the upstream's answers (null otherwise). */
  private readonly jobCname: (DnsRecord | null)[] = []
  // FIFO of slots waiting for a worker (ring over a growable array).
  private queue: number[] = []
  private queueHead = 0

  constructor(
    apps: ServerHost,
    ns: NetNs,
    identity: ServerIdentity,
    rng: Rng,
    readonly params: CoreDnsParams,
    private readonly env: CoreDnsEnvironment,
  ) {
    super(apps, ns, identity, { meanNs: 0, distribution: "fixed" }, rng)
    if (!(params.cpus > 0) || !(params.queriesPerSecondPerCpu > 0))
      throw new Error(`CoreDNS: cpus (${params.cpus}) and queriesPerSecondPerCpu must be > 0`)
    this.workers = Math.max(1, Math.floor(params.cpus))
    // Per-query time on one worker so that `workers` of them give cpus x queriesPerSecondPerCpu.
    this.queryCpuNs = Math.round((NS_PER_S * this.workers) / (params.cpus * params.queriesPerSecondPerCpu))
    this.kubernetes = new KubernetesPlugin(env.store, params.kubernetes)
    this.cache = new DnsCache(params.cache, rng)
    this.udpSocket = apps.network.udpBind(ns, 0, DNS_PORT, this)
    this.tcpListener = apps.network.tcp.listen(ns, 0, DNS_PORT, this)
  }

  /** CPU time of one query on one worker. */
  get queryTimeNs(): number {
    return this.queryCpuNs
  }

  /** Queries waiting for a worker now. */
  get queueLength(): number {
    return this.queue.length - this.queueHead
  }

  // --- transports

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

  onAccept(_server: TcpListenSocket, _conn: TcpConnection): TcpConnectionListener {
    return this
  }

  onConnected(_conn: TcpConnection): void {}

  onMessage(conn: TcpConnection, _bytes: number, appTag: number, appData: object | null): void {
    if (!this.running) return
    if (!isDnsMessage(appData) || appData.questions.length === 0) {
      this.counters.dropped++
      return
    }
    this.accept(appData, null, conn, conn.remoteAddr, conn.remotePort, appTag, 0)
  }

  onPeerClosed(conn: TcpConnection): void {
    conn.close()
  }

  onClosed(_conn: TcpConnection, _error: NetError): void {}

  // --- the query's life: wait for a worker, run the chain, maybe wait for the upstream

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
    this.jobCname[slot] = null
    if (this.busyWorkers < this.workers) this.startCpu(slot)
    else {
      this.jobPhase[slot] = PHASE_QUEUED
      this.queue.push(slot)
      const waiting = this.queue.length - this.queueHead
      if (waiting > this.counters.queuePeak) this.counters.queuePeak = waiting
    }
  }

  private startCpu(slot: number): void {
    this.busyWorkers++
    this.jobPhase[slot] = PHASE_CPU
    this.apps.scheduleServe(this.index, slot, this.apps.nowNs + this.queryCpuNs)
  }

  onServe(slot: number, nowNs: number): void {
    const phase = this.jobPhase[slot]
    if (phase === PHASE_CPU) {
      this.busyWorkers--
      this.runChain(slot, nowNs)
      this.startNextQueued()
    } else if (phase === PHASE_UPSTREAM) {
      this.upstreamInFlight--
      this.upstreamAnswered(slot, nowNs)
    }
  }

  private startNextQueued(): void {
    if (this.queueHead >= this.queue.length || this.busyWorkers >= this.workers) return
    const slot = this.queue[this.queueHead++]
    if (this.queueHead === this.queue.length) {
      this.queue = []
      this.queueHead = 0
    }
    this.startCpu(slot)
  }

  /** cache -> kubernetes -> forward, as plugin.cfg orders them. */
  private runChain(slot: number, nowNs: number): void {
    const query = this.requests.query[slot] as DnsMessage
    if (!this.running) return this.finish(slot)
    const cached = this.cache.get(nowNs, query)
    if (cached !== null) {
      this.counters.cacheHits++
      return this.reply(slot, cached)
    }
    if (this.cache.covers(query)) this.counters.cacheMisses++
    const result = this.kubernetes.serve(query)
    if (result.kind === "reply") return this.reply(slot, this.cache.put(nowNs, query, result.reply))
    if (result.kind === "upstream") this.jobCname[slot] = result.cname
    // forward (an ExternalName's target is resolved through the same upstream).
    if (this.upstreamInFlight >= this.params.maxConcurrent) {
      this.counters.refused++
      return this.reply(slot, dnsReply(query, Rcode.REFUSED, 0, []))
    }
    this.counters.forwarded++
    this.upstreamInFlight++
    this.jobPhase[slot] = PHASE_UPSTREAM
    this.apps.scheduleServe(this.index, slot, nowNs + this.params.upstreamRttNs)
  }

  private upstreamAnswered(slot: number, nowNs: number): void {
    const query = this.requests.query[slot] as DnsMessage
    if (!this.running) return this.finish(slot)
    const cname = this.jobCname[slot]
    const question = query.questions[0]
    const target = cname !== null && cname.type === DnsType.CNAME ? cname.target : question.name
    const answers = this.upstreamAnswers(target, question.type)
    let reply: DnsMessage
    if (cname !== null && cname.type === DnsType.CNAME)
      reply = this.kubernetes.completeExternalName(
        query,
        cname,
        answers.rcode === Rcode.NOERROR ? answers.records : null,
      )
    else
      reply = dnsReply(
        query,
        answers.rcode,
        DnsFlag.RA,
        answers.records,
        answers.rcode === Rcode.NXDOMAIN || answers.records.length === 0 ? [ROOT_SOA] : [],
      )
    this.reply(slot, this.cache.put(nowNs, query, reply))
  }

  private upstreamAnswers(name: string, qtype: number): { rcode: number; records: DnsRecord[] } {
    return upstreamResolverAnswers(this.env.upstreamNames, this.params.upstreamTtlS, name, qtype)
  }

  private reply(slot: number, reply: DnsMessage): void {
    const sent = this.requests.send(slot, reply)
    if (sent !== 0) this.counters.answered++
    if (sent === 2) this.counters.truncated++
    this.finish(slot)
  }

  private finish(slot: number): void {
    this.jobCname[slot] = null
    this.jobPhase[slot] = PHASE_FREE
    this.requests.release(slot)
  }

  stop(): void {
    this.running = false
    this.udpSocket?.close()
    this.tcpListener?.close()
  }
}
