/**
 * Traffic generators that pods, nodes and external hosts run: request bookkeeping shared by every
 * protocol (arrivals, count and duration limits, timeouts) and the protocol clients built on it.
 *
 * Arrivals: Poisson (exponential gaps from the client's own named stream), a constant interval, or
 * a closed loop of N outstanding requests (a new one starts when one ends). A request that neither
 * completes nor fails within `timeoutNs` fails with reason "timeout"; a late reply is ignored.
 */
import type { ClientResolver, DnsFailure, ResolverListener } from "../dns/client-resolver.ts"
import type { NetError } from "../net/errors.ts"
import { NetError as E } from "../net/errors.ts"
import type { Pinger, PingListener } from "../net/icmp.ts"
import type { Network } from "../net/network.ts"
import type { NetNs } from "../net/netns.ts"
import type { UdpListener, UdpSocket } from "../net/udp.ts"
import type { Rng } from "../sim/rng.ts"
import { IntMap } from "../sim/int-map.ts"
import type { Ipv4 } from "../wire/ipv4.ts"
import type { Packet } from "../wire/packet.ts"
import type { ClientHost } from "./host.ts"
import { FailureReason, type RequestObserver, type ServerIdentity } from "./observer.ts"

export type ArrivalModel =
  | { readonly kind: "poisson"; readonly meanIntervalNs: number }
  | { readonly kind: "every"; readonly intervalNs: number }
  | { readonly kind: "closedLoop"; readonly concurrency: number }

export interface ClientConfig {
  /** Workload index: carried as the packets' flowId and reported to the observer. */
  readonly workload: number
  readonly arrival: ArrivalModel
  /** Requests this client issues at most (null = until stopNs). */
  readonly count: number | null
  readonly startNs: number
  /** No new request starts at or after this time. */
  readonly stopNs: number
  readonly timeoutNs: number
  readonly requestBytes: number
  readonly responseBytes: number
  readonly dstAddr: Ipv4
  readonly dstPort: number
  /** "new": a new socket/connection per request; "keepAlive": reuse. */
  readonly reuse: boolean
  /**
   * Resolves the target before each new connection (dns.mode packets); absent: `dstAddr`, the
   * static table's answer for the whole workload.
   */
  readonly resolver?: ClientResolver
  /** http:// workloads: Host and path of the requests (what a capture shows; not modelled otherwise). */
  readonly http?: { readonly host: string; readonly path: string }
}

/** The request failure reason of a failed lookup. */
export function dnsFailureReason(failure: DnsFailure): FailureReason {
  switch (failure) {
    case "dns-timeout":
      return FailureReason.DNS_TIMEOUT
    case "nxdomain":
      return FailureReason.NXDOMAIN
    case "dns-nodata":
      return FailureReason.DNS_NODATA
    case "dns-servfail":
      return FailureReason.DNS_SERVFAIL
    case "dns-refused":
      return FailureReason.DNS_REFUSED
    case "dns-fail":
      return FailureReason.DNS_FAIL
  }
}

export function netErrorReason(error: NetError): FailureReason {
  switch (error) {
    case E.REFUSED:
      return FailureReason.REFUSED
    case E.RESET:
      return FailureReason.RESET
    case E.TIMEOUT:
      return FailureReason.TIMEOUT
    case E.HOST_UNREACHABLE:
      return FailureReason.HOST_UNREACHABLE
    case E.NET_UNREACHABLE:
      return FailureReason.NO_ROUTE
    case E.PROTOCOL_UNREACHABLE:
      return FailureReason.PROTOCOL_UNREACHABLE
    case E.TTL_EXCEEDED:
      return FailureReason.TTL_EXCEEDED
    default:
      return FailureReason.RESET
  }
}

/** A request's TCP connection or UDP socket: both have their local end (Ping's has none). */
function localEnd(socket: object | null): { readonly localAddr: Ipv4; readonly localPort: number } | null {
  if (socket === null || !("localPort" in socket) || !("localAddr" in socket)) return null
  const s = socket as { readonly localAddr: Ipv4; readonly localPort: number }
  return s.localPort > 0 ? s : null
}

/**
 * One request in flight. Records are reused (Client's pool) once a request has completed or failed
 * and nothing refers to it any more, so an echo allocates none: fields are reset by `init`.
 */
export class Request {
  id = 0
  startNs = 0
  /** The timeout event's handle as (slot, generation) (Apps.scheduleTimeoutStaged); slot -1 = none. */
  timeoutSlot = -1
  timeoutGeneration = 0
  /** Set when the request completed (a reply arrived), before its resources are released. */
  completed = false
  /** Protocol-specific handle: a UDP socket, a TCP connection... */
  socket: object | null = null
  /** Where this request goes: the resolved address (the workload's fixed one without a resolver). */
  dstAddr: Ipv4 = 0

  /** A fresh request `id` started at the time staged in `startNs` by the caller. */
  init(id: number, dstAddr: Ipv4): void {
    this.id = id
    this.timeoutSlot = -1
    this.timeoutGeneration = 0
    this.completed = false
    this.socket = null
    this.dstAddr = dstAddr
  }
}

export abstract class Client implements ResolverListener {
  index = -1
  issued = 0
  /** No further request will start (count reached, or the stop time passed). */
  arrivalsDone = false
  /**
   * Requests in flight by id. An IntMap rather than a Map: a Map holding one request shrinks its
   * table on every delete (an allocation per echo). Ids grow by one per request, so "first issued"
   * is "smallest id" (findBySeq relies on that, not on an iteration order).
   */
  readonly inFlight = new IntMap<Request>()
  private requestIdNext = 1
  /**
   * Finished requests' records, reused by `issue` (see Request): requestPool[0 .. requestPoolLength).
   * A count, not push/pop: popping an array's last element drops its backing store, so the next
   * push would allocate a new one (once per echo for a client with one request in flight).
   */
  private readonly requestPool: Request[] = []
  private requestPoolLength = 0

  // Read per request: `declare`d and assigned in the constructor rather than parameter properties,
  // which are first defined as undefined, so V8 tracks them as any value (see sim/empty.ts).
  declare protected readonly apps: ClientHost
  declare readonly ns: NetNs
  declare readonly config: ClientConfig
  declare protected readonly rng: Rng

  constructor(apps: ClientHost, ns: NetNs, config: ClientConfig, rng: Rng) {
    this.apps = apps
    this.ns = ns
    this.config = config
    this.rng = rng
  }

  protected get network(): Network {
    return this.apps.network
  }

  protected get observer(): RequestObserver {
    return this.apps.observer
  }

  /** Arms the first arrival. */
  start(): void {
    const c = this.config
    if (c.arrival.kind === "closedLoop") {
      for (let i = 0; i < c.arrival.concurrency; i++) this.apps.scheduleArrival(this.index, c.startNs)
    } else {
      this.apps.scheduleArrival(this.index, c.startNs)
    }
  }

  /** An arrival event: issue a request and, for open-loop arrivals, arm the next one. */
  onArrival(nowNs: number): void {
    if (!this.mayIssue(nowNs)) {
      this.noMoreArrivals()
      return
    }
    this.issue(nowNs)
    const a = this.config.arrival
    if (a.kind === "closedLoop") return
    const gapNs = a.kind === "every" ? a.intervalNs : Math.max(1, this.rng.exponentialNs(a.meanIntervalNs))
    if (this.mayIssue(nowNs + gapNs)) {
      this.apps.scheduler.stagedTimeNs = nowNs + gapNs
      this.apps.scheduleArrivalStaged(this.index)
    } else this.noMoreArrivals()
  }

  /** True once no request will start and none is in flight. */
  get finished(): boolean {
    return this.arrivalsDone && this.inFlight.size === 0
  }

  private noMoreArrivals(): void {
    if (this.arrivalsDone) return
    this.arrivalsDone = true
    if (this.finished) this.apps.clientFinished(this.index)
  }

  onTimeout(requestId: number, nowNs: number): void {
    const request = this.inFlight.get(requestId)
    if (request === undefined) return
    request.timeoutSlot = -1
    this.fail(request, FailureReason.TIMEOUT, nowNs)
  }

  private mayIssue(nowNs: number): boolean {
    const c = this.config
    return nowNs < c.stopNs && (c.count === null || this.issued < c.count)
  }

  private issue(nowNs: number): void {
    const request = this.requestPoolLength > 0 ? this.requestPool[--this.requestPoolLength] : new Request()
    request.init(this.requestIdNext++, this.config.dstAddr)
    request.startNs = nowNs
    this.issued++
    this.inFlight.set(request.id, request)
    const scheduler = this.apps.scheduler
    scheduler.stagedTimeNs = nowNs + this.config.timeoutNs
    request.timeoutSlot = this.apps.scheduleTimeoutStaged(this.index, request.id)
    request.timeoutGeneration = scheduler.lastGeneration
    this.observer.onRequestSent(this.config.workload, nowNs)
    const resolver = this.config.resolver
    if (resolver !== undefined && this.needsLookup()) {
      // The request's clock runs from here: its latency includes the lookup.
      const address = resolver.lookup(this, request.id, nowNs)
      if (address < 0) return
      request.dstAddr = address
    }
    this.send(request, nowNs)
  }

  onResolved(token: number, address: Ipv4, failure: DnsFailure | null, nowNs: number): void {
    // A request that timed out meanwhile is gone: its lookup's answer is dropped.
    const request = this.inFlight.get(token)
    if (request === undefined) return
    if (failure !== null) {
      this.fail(request, dnsFailureReason(failure), nowNs)
      return
    }
    request.dstAddr = address
    this.send(request, nowNs)
  }

  /** A new request opens a new connection (so resolves first); false when it reuses one. */
  protected needsLookup(): boolean {
    return true
  }

  protected complete(request: Request, server: ServerIdentity | null, nowNs: number): void {
    if (!this.inFlight.has(request.id)) return
    request.completed = true
    if (!this.finish(request)) return
    this.observer.onRequestCompleted(this.config.workload, nowNs - request.startNs, server, nowNs)
    // Only when records are kept: the call would box startNs (a time above 2^30 ns) per request.
    if (this.observer.recordsRequests === true)
      this.observer.onRequestDone?.(
        this.config.workload,
        this.index,
        request.startNs,
        request.dstAddr,
        server,
        -1,
        nowNs,
        0,
        -1,
      )
    this.recycle(request)
    this.next(nowNs)
  }

  protected fail(request: Request, reason: FailureReason, nowNs: number): void {
    // The socket's local end, read before finish() releases it (records only).
    const local = this.observer.onRequestDone === undefined ? null : localEnd(request.socket)
    if (!this.finish(request)) return
    this.observer.onRequestFailed(this.config.workload, reason, nowNs)
    this.observer.onRequestDone?.(
      this.config.workload,
      this.index,
      request.startNs,
      request.dstAddr,
      null,
      reason,
      nowNs,
      local?.localAddr ?? 0,
      local?.localPort ?? -1,
    )
    this.recycle(request)
    this.next(nowNs)
  }

  /**
   * The requests still in flight (issued, neither completed nor failed), in issue order: at the
   * end of a run, for the per-request records. `localPort` -1 when the request has no socket.
   */
  forEachInFlight(fn: (request: Request, localAddr: Ipv4, localPort: number) => void): void {
    const ids = this.inFlight.keyList().sort((a, b) => a - b)
    for (const id of ids) {
      const request = this.inFlight.get(id) as Request
      const local = localEnd(request.socket)
      fn(request, local?.localAddr ?? 0, local?.localPort ?? -1)
    }
  }

  private finish(request: Request): boolean {
    if (!this.inFlight.delete(request.id)) return false
    if (request.timeoutSlot >= 0) this.apps.cancelSlot(request.timeoutSlot, request.timeoutGeneration)
    request.timeoutSlot = -1
    this.release(request)
    return true
  }

  /** Returns a finished request's record to the pool (nothing refers to it any more). */
  private recycle(request: Request): void {
    this.requestPool[this.requestPoolLength++] = request
  }

  /** Closed loop: the next request starts as soon as one ends. Reports when the client is done. */
  private next(nowNs: number): void {
    if (this.config.arrival.kind === "closedLoop") {
      if (this.mayIssue(nowNs)) this.apps.scheduleArrival(this.index, nowNs)
      else this.arrivalsDone = true
    }
    if (this.finished) this.apps.clientFinished(this.index)
  }

  /** Sends the request's first packet(s). */
  protected abstract send(request: Request, nowNs: number): void
  /** Frees protocol resources of a finished request (close a per-request socket...). */
  protected abstract release(request: Request): void
}

/**
 * UDP echo client: sends `requestBytes` and expects the datagram back. With `reuse`, one socket
 * (one source port, so one conntrack entry and, through kube-proxy, one endpoint while the entry
 * lives, as a real long-lived UDP client); otherwise a new socket and ephemeral port per request.
 */
export class UdpEchoClient extends Client implements UdpListener {
  private shared: UdpSocket | null = null

  protected send(request: Request, nowNs: number): void {
    let socket = this.shared
    if (socket === null) {
      socket = this.network.udpBind(this.ns, 0, 0, this)
      if (socket === null) {
        this.fail(request, FailureReason.NO_ROUTE, nowNs)
        return
      }
      if (this.config.reuse) this.shared = socket
    }
    request.socket = socket
    socket.sendTo(
      request.dstAddr,
      this.config.dstPort,
      this.config.requestBytes,
      request.id,
      null,
      this.config.workload,
    )
  }

  protected override needsLookup(): boolean {
    return this.shared === null
  }

  protected release(request: Request): void {
    const socket = request.socket as UdpSocket | null
    if (socket !== null && socket !== this.shared) socket.close()
    request.socket = null
  }

  onUdpMessage(_socket: UdpSocket, packet: Packet): void {
    const request = this.inFlight.get(packet.appTag)
    if (request === undefined) return
    this.complete(request, packet.appData as ServerIdentity | null, this.apps.nowNs)
  }

  onUdpError(_socket: UdpSocket, error: NetError, _remoteAddr: Ipv4, _remotePort: number, appTag: number): void {
    const request = this.inFlight.get(appTag)
    if (request === undefined) return
    this.fail(request, netErrorReason(error), this.apps.nowNs)
  }
}

/** ICMP echo (ping). The responder is identified by the reply's source address. */
export class PingClient extends Client implements PingListener {
  private pinger: Pinger | null = null

  protected send(request: Request, _nowNs: number): void {
    if (this.pinger === null) this.pinger = this.network.createPinger(this.ns, this)
    this.pinger.send(request.dstAddr, request.id & 0xffff, this.config.requestBytes, undefined, request.id)
  }

  protected release(_request: Request): void {}

  onEchoReply(_pinger: Pinger, seq: number, _rttNs: number, packet: Packet): void {
    const request = this.findBySeq(seq)
    if (request === undefined) return
    this.complete(request, this.apps.identityOf(packet.srcAddr), this.apps.nowNs)
  }

  onPingError(_pinger: Pinger, seq: number, error: NetError, _remoteAddr: Ipv4): void {
    const request = this.findBySeq(seq)
    if (request === undefined) return
    this.fail(request, netErrorReason(error), this.apps.nowNs)
  }

  private findBySeq(seq: number): Request | undefined {
    // The earliest request in flight with this sequence number (ids wrap modulo 2^16 in the seq).
    const id = this.inFlight.minKeyWhere((request) => (request.id & 0xffff) === seq)
    return id === undefined ? undefined : this.inFlight.get(id)
  }
}
