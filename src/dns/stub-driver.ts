/**
 * dns.mode packets, client side: runs a stub resolver machine (stub/glibc.ts, musl.ts, go.ts) for
 * each getaddrinfo call of a client, from the client's network namespace. Each machine socket is a
 * real UDP socket (an ephemeral source port, so its own conntrack entry and kube-proxy backend
 * choice) or a TCP connection (use-vc, or after a truncated reply); queries go to the resolv.conf
 * nameservers on port 53 and replies come back through the same stack as any other traffic.
 *
 * Machine deadlines are scheduler events (one per lookup, re-armed when the deadline moves). A
 * lookup costs a few objects (the lookup, its sockets); nothing is allocated per packet here.
 *
 * Not modelled: ICMP port unreachable ending a glibc lookup at once (the error is ignored, the
 * machine waits for its timeout); /etc/hosts; AI_ADDRCONFIG; nscd or any client-side cache.
 */
import type { NetError } from "../net/errors.ts"
import type { Network } from "../net/network.ts"
import type { NetNs } from "../net/netns.ts"
import type { TcpConnection, TcpConnectionListener } from "../net/tcp.ts"
import type { UdpListener, UdpSocket } from "../net/udp.ts"
import type { EventHandler, Scheduler } from "../sim/scheduler.ts"
import { encodedLengthBytes, type DnsMessage } from "../wire/dns.ts"
import { parseIpv4, type Ipv4 } from "../wire/ipv4.ts"
import type { Packet } from "../wire/packet.ts"
import type { ClientResolver, DnsFailure, ResolverListener } from "./client-resolver.ts"
import type { StubConf } from "./stub/conf.ts"
import type { GlibcResolverState } from "./stub/glibc.ts"
import { createStubLookup } from "./stub/lookup.ts"
import type { StubAction, StubLookup, StubOutcome, StubRandom } from "./stub/types.ts"

const DNS_PORT = 53
/** RFC 1035 §4.2.2: a TCP message is preceded by its two-byte length. */
const TCP_LENGTH_PREFIX_BYTES = 2

/** What the driver reports (cluster/dns-runtime.ts turns it into the results' `dns` section). */
export interface DnsClientObserver {
  onLookupStarted(workload: number, nowNs: number): void
  onLookupEnded(workload: number, latencyNs: number, failure: DnsFailure | null): void
  /** A datagram or TCP message a stub resolver sent. */
  onQuerySent(workload: number, qtype: number): void
  /** A query still unanswered when its wait expired (counted once per expiry). */
  onQueryTimedOut(workload: number): void
  onReply(workload: number, rcode: number): void
}

/** The request failure of a stub outcome (or null with an IPv4 address to connect to). */
export function outcomeFailure(outcome: StubOutcome): DnsFailure | null {
  switch (outcome.status) {
    case "answered":
      return outcome.addresses.some((a) => parseIpv4(a) !== undefined) ? null : "dns-nodata"
    case "nxdomain":
      return "nxdomain"
    case "nodata":
      return "dns-nodata"
    case "fail":
      return "dns-fail"
    case "again":
      return outcome.reason === "servfail"
        ? "dns-servfail"
        : outcome.reason === "refused"
          ? "dns-refused"
          : "dns-timeout"
  }
}

function firstIpv4(outcome: StubOutcome): Ipv4 {
  for (const a of outcome.addresses) {
    const ip = parseIpv4(a)
    if (ip !== undefined) return ip
  }
  return -1
}

export class StubDriver implements EventHandler {
  private readonly kindTimer: number
  private readonly active: (ActiveLookup | null)[] = []
  private readonly freeSlots: number[] = []

  constructor(
    readonly scheduler: Scheduler,
    readonly network: Network,
    readonly observer: DnsClientObserver,
  ) {
    this.kindTimer = scheduler.registerKind("dns/stub-timer", this)
  }

  /** The resolver a client in `ns` uses for `name`: one lookup per call, through `conf`. */
  resolver(
    ns: NetNs,
    conf: StubConf,
    name: string,
    workload: number,
    random: StubRandom,
    glibcState: GlibcResolverState,
  ): ClientResolver {
    const literal = parseIpv4(name)
    // getaddrinfo answers a numeric host itself (AI_NUMERICHOST path): no query.
    if (literal !== undefined) return { lookup: () => literal }
    const nameservers = conf.nameservers.map((s) => parseIpv4(s) ?? -1)
    return {
      lookup: (listener: ResolverListener, token: number, nowNs: number): number => {
        const lookup = createStubLookup(conf, name, random, { glibcState })
        const slot = this.freeSlots.length > 0 ? (this.freeSlots.pop() as number) : this.active.length
        const a = new ActiveLookup(this, slot, ns, nameservers, lookup, listener, token, workload, nowNs)
        this.active[slot] = a
        this.observer.onLookupStarted(workload, nowNs)
        a.apply(lookup.start(nowNs))
        return -1
      },
    }
  }

  /** Lookups in progress (tests). */
  get inProgress(): number {
    return this.active.length - this.freeSlots.length
  }

  armTimer(a: ActiveLookup, deadlineNs: number): number {
    return this.scheduler.schedule(deadlineNs, this.kindTimer, a.slot, 0)
  }

  release(a: ActiveLookup): void {
    this.active[a.slot] = null
    this.freeSlots.push(a.slot)
  }

  handleEvent(_kind: number, a: number, _b: number, nowNs: number): void {
    this.active[a]?.onTimer(nowNs)
  }
}

/** One getaddrinfo call in flight. */
class ActiveLookup implements UdpListener, TcpConnectionListener {
  private readonly udp = new Map<number, UdpSocket>()
  private readonly tcp = new Map<number, TcpConnection>()
  /** TCP messages written before the handshake completed, sent on connect. */
  private readonly tcpPending = new Map<TcpConnection, DnsMessage[]>()
  /** Query ids sent and not yet answered (ids are unique within a lookup). */
  private readonly outstanding = new Set<number>()
  private timerHandle = -1
  private armedNs = -1
  private ended = false

  constructor(
    private readonly driver: StubDriver,
    readonly slot: number,
    private readonly ns: NetNs,
    private readonly nameservers: readonly Ipv4[],
    private readonly lookup: StubLookup,
    private readonly listener: ResolverListener,
    private readonly token: number,
    private readonly workload: number,
    private readonly startNs: number,
  ) {}

  apply(actions: readonly StubAction[]): void {
    // `actions` is the machine's reused array: consume it before anything calls the machine again.
    let outcome: StubOutcome | null = null
    for (const action of actions) {
      if (action.kind === "send") this.send(action.socket, action.transport, action.server, action.query)
      else if (action.kind === "close") this.closeSocket(action.socket)
      else outcome = action.outcome
    }
    if (outcome !== null) {
      this.finish(outcome)
      return
    }
    const deadlineNs = this.lookup.deadlineNs
    if (deadlineNs !== this.armedNs) {
      if (this.timerHandle >= 0) this.driver.scheduler.cancel(this.timerHandle)
      this.timerHandle = deadlineNs >= 0 ? this.driver.armTimer(this, deadlineNs) : -1
      this.armedNs = deadlineNs
    }
  }

  onTimer(nowNs: number): void {
    this.timerHandle = -1
    this.armedNs = -1
    if (this.ended) return
    for (let i = 0; i < this.outstanding.size; i++) this.driver.observer.onQueryTimedOut(this.workload)
    this.outstanding.clear()
    this.apply(this.lookup.onTimeout(nowNs))
  }

  private send(socket: number, transport: "udp" | "tcp", server: number, query: DnsMessage): void {
    const dst = this.nameservers[server] ?? -1
    this.driver.observer.onQuerySent(this.workload, query.questions[0]?.type ?? 0)
    this.outstanding.add(query.id)
    if (dst < 0) return // a non-IPv4 nameserver (::1): nothing answers in this IPv4 model
    if (transport === "udp") {
      let s = this.udp.get(socket)
      if (s === undefined) {
        const bound = this.driver.network.udpBind(this.ns, 0, 0, this)
        if (bound === null) return // no ephemeral port: the query is lost, the timeout decides
        s = bound
        this.udp.set(socket, s)
      }
      s.sendTo(dst, DNS_PORT, encodedLengthBytes(query), query.id, query, this.workload)
      return
    }
    let conn = this.tcp.get(socket)
    if (conn === undefined) {
      conn = this.driver.network.tcp.connect(this.ns, dst, DNS_PORT, this, this.workload)
      this.tcp.set(socket, conn)
      this.tcpPending.set(conn, [])
    }
    const pending = this.tcpPending.get(conn)
    if (pending !== undefined) pending.push(query)
    else conn.send(encodedLengthBytes(query) + TCP_LENGTH_PREFIX_BYTES, query.id, query)
  }

  private closeSocket(socket: number): void {
    const s = this.udp.get(socket)
    if (s !== undefined) {
      s.close()
      this.udp.delete(socket)
    }
    const conn = this.tcp.get(socket)
    if (conn !== undefined) {
      this.tcpPending.delete(conn)
      conn.close()
      this.tcp.delete(socket)
    }
  }

  private reply(socketNumber: number, from: Ipv4, reply: DnsMessage): void {
    if (this.ended) return
    const server = this.nameservers.indexOf(from)
    this.outstanding.delete(reply.id)
    this.driver.observer.onReply(this.workload, reply.rcode)
    this.apply(this.lookup.onReply(this.driver.scheduler.nowNs, socketNumber, server, reply))
  }

  private finish(outcome: StubOutcome): void {
    this.ended = true
    if (this.timerHandle >= 0) this.driver.scheduler.cancel(this.timerHandle)
    this.timerHandle = -1
    for (const socket of [...this.udp.keys(), ...this.tcp.keys()]) this.closeSocket(socket)
    this.driver.release(this)
    const nowNs = this.driver.scheduler.nowNs
    const failure = outcomeFailure(outcome)
    this.driver.observer.onLookupEnded(this.workload, nowNs - this.startNs, failure)
    this.listener.onResolved(this.token, failure === null ? firstIpv4(outcome) : -1, failure, nowNs)
  }

  // UdpListener
  onUdpMessage(socket: UdpSocket, packet: Packet): void {
    for (const [n, s] of this.udp) if (s === socket) return this.reply(n, packet.srcAddr, packet.appData as DnsMessage)
  }

  onUdpError(_socket: UdpSocket, _error: NetError, _remoteAddr: Ipv4, _remotePort: number, _appTag: number): void {}

  // TcpConnectionListener
  onConnected(conn: TcpConnection): void {
    const pending = this.tcpPending.get(conn)
    if (pending === undefined) return
    this.tcpPending.delete(conn)
    for (const q of pending) conn.send(encodedLengthBytes(q) + TCP_LENGTH_PREFIX_BYTES, q.id, q)
  }

  onMessage(conn: TcpConnection, _bytes: number, _appTag: number, appData: object | null): void {
    for (const [n, c] of this.tcp) if (c === conn) return this.reply(n, conn.remoteAddr, appData as DnsMessage)
  }

  onPeerClosed(conn: TcpConnection): void {
    conn.close()
  }

  onClosed(_conn: TcpConnection, _error: NetError): void {}
}
