/**
 * TCP: connections as fixed-shape objects in a slot table, segments as pooled packets, one timer
 * event kind ("net/tcp-timer", a = connection slot, b = slot generation) with lazy re-arming (a timer
 * that fires before its deadline re-schedules itself, so restarting the RTO on every ACK costs no
 * event).
 *
 * Modelled (Linux behaviour, pinned by test/net/tcp.test.ts):
 * - three-way handshake; SYN retransmission at 1 s, 2 s, 4 s ... (TCP_TIMEOUT_INIT, doubling),
 *   tcp_syn_retries = 6 retransmissions => connect() fails with ETIMEDOUT after 127 s;
 *   SYN-ACK retransmission (tcp_synack_retries = 5);
 * - RST to a segment for no socket (tcp_v4_send_reset); RST in SYN_SENT => ECONNREFUSED, on a
 *   synchronized connection => ECONNRESET; ICMP errors in SYN_SENT abort connect() with the errno of
 *   icmp_err_convert (port unreachable => ECONNREFUSED), later they are soft errors reported on
 *   timeout (tcp_v4_err);
 * - MSS = outgoing interface MTU - 40 (no TCP options on data segments; SYN carries 20 bytes of
 *   options); the peer's advertised MSS is not carried (Packet has no option field);
 * - application messages: a message of N bytes is cut into MSS segments, a segment never spans two
 *   messages, the last carries PSH and the message's appTag/appData; the receiver's onMessage fires
 *   when the whole message has arrived in order;
 * - every in-order or duplicate data segment is ACKed at once (Linux's quickack mode);
 * - retransmission timeout: RFC 6298 estimator with Linux's floor, RTO = SRTT + max(4 RTTVAR,
 *   TCP_RTO_MIN 200 ms), at most TCP_RTO_MAX 120 s, Karn's rule, exponential backoff, go-back-N
 *   from the oldest unacknowledged byte; tcp_retries2 = 15 consecutive timeouts => ETIMEDOUT;
 * - window: cwnd starts at IW10 (TCP_INIT_CWND) and grows by the bytes acknowledged (slow start) up
 *   to tcpWindowBytesMax (65535 bytes); an RTO sets it to one MSS (RFC 5681 loss window);
 * - FIN close on both sides, TIME_WAIT 60 s (TCP_TIMEWAIT_LEN) for the active closer (its 4-tuple
 *   stays in use), FIN_WAIT_2 timeout 60 s (tcp_fin_timeout);
 * - ephemeral ports: per namespace a random even start in ip_local_port_range (from the namespace's
 *   "ports" stream), then a scan in steps of 2 (connect() prefers even ports, __inet_hash_connect),
 *   odd ports when the even ones are exhausted; a port is free for a destination when no connection
 *   (TIME_WAIT included) has the same 4-tuple and no listener holds it.
 * Not modelled: congestion avoidance, fast retransmit/recovery, SACK, timestamps, window scaling,
 * receive-window flow control (the receiving application consumes at once), delayed ACKs, Nagle,
 * out-of-order queueing (out-of-order segments are discarded and re-sent by go-back-N), listen
 * backlog and SYN cookies, simultaneous open, keepalive, urgent data, PMTU discovery.
 */
import { AssertionError, assert } from "../sim/assert.ts"
import type { EventHandler } from "../sim/scheduler.ts"
import type { Ipv4 } from "../wire/ipv4.ts"
import type { Packet } from "../wire/packet.ts"
import { IPV4_HEADER_BYTES, Protocol, TCP_HEADER_BYTES, TcpFlag } from "../wire/protocol.ts"
import { NetError } from "./errors.ts"
import type { NetIo, SocketNs } from "./io.ts"

/** The namespace's TCP tables (NetNs implements it). */
export interface TcpNs extends SocketNs {
  readonly tcpListeners: Map<number, TcpListenSocket>
  /** (localPort << 16 | remotePort) -> chain of connections (TcpConnection.nextInBucket). */
  readonly tcpConnections: Map<number, TcpConnection>
  /** Cursor of the ephemeral port search (TcpEngine.allocatePort). */
  tcpPortCursor: number
}

export const TcpState = {
  CLOSED: 0,
  SYN_SENT: 1,
  SYN_RECEIVED: 2,
  ESTABLISHED: 3,
  FIN_WAIT_1: 4,
  FIN_WAIT_2: 5,
  CLOSE_WAIT: 6,
  CLOSING: 7,
  LAST_ACK: 8,
  TIME_WAIT: 9,
} as const
export type TcpState = (typeof TcpState)[keyof typeof TcpState]
export const TCP_STATE_NAMES = [
  "CLOSED",
  "SYN_SENT",
  "SYN_RECEIVED",
  "ESTABLISHED",
  "FIN_WAIT_1",
  "FIN_WAIT_2",
  "CLOSE_WAIT",
  "CLOSING",
  "LAST_ACK",
  "TIME_WAIT",
] as const

/** What the owner of a connection is told. Called synchronously from the packet path. */
export interface TcpConnectionListener {
  /** Handshake complete (client: SYN-ACK received; server: final ACK received, after onAccept). */
  onConnected(conn: TcpConnection): void
  /** A whole message arrived in order. */
  onMessage(conn: TcpConnection, bytes: number, appTag: number, appData: object | null): void
  /** The peer closed its side (FIN received, read() returns 0). */
  onPeerClosed(conn: TcpConnection): void
  /**
   * The connection is over for the application: NONE after an orderly close (both FINs exchanged),
   * or REFUSED / RESET / TIMEOUT / HOST_UNREACHABLE / NET_UNREACHABLE. Not called after abort().
   */
  onClosed(conn: TcpConnection, error: NetError): void
}

/** bind(2) of a connecting socket: local address (0 = from the route) and port (0 = ephemeral). */
export interface TcpBind {
  readonly localAddr: Ipv4
  readonly localPort: number
}

export interface TcpServerListener {
  /** A connection completed the handshake on `server`; returns the listener for the connection. */
  onAccept(server: TcpListenSocket, conn: TcpConnection): TcpConnectionListener
}

export class TcpListenSocket {
  closed = false
  acceptedCount = 0
  constructor(
    readonly ns: TcpNs,
    /** 0 = INADDR_ANY. */
    readonly localAddr: Ipv4,
    readonly localPort: number,
    public listener: TcpServerListener,
  ) {}

  close(): void {
    if (this.closed) return
    this.closed = true
    if (this.ns.tcpListeners.get(this.localPort) === this) this.ns.tcpListeners.delete(this.localPort)
  }
}

const TIMER_NONE = -1

export class TcpConnection {
  state: TcpState = TcpState.CLOSED
  listener: TcpConnectionListener | null
  /** Demux chain of the namespace's (localPort, remotePort) bucket. */
  nextInBucket: TcpConnection | null = null
  /** Error the connection ended with (NetError.NONE while open or after an orderly close). */
  error: NetError = NetError.NONE
  /** Last soft error (ICMP on a synchronized connection), reported instead of ETIMEDOUT. */
  softError: NetError = NetError.NONE

  iss = 0
  irs = 0
  // Sequence numbers relative to iss / irs (the SYN is 0, data starts at 1); no wrap-around.
  sndUna = 0
  sndNxt = 0
  sndMax = 0
  /** End of the data queued by the application. */
  sndBufEnd = 1
  /** Relative sequence of our FIN once close() was called, else -1. */
  finSeq = -1
  rcvNxt = 0
  finReceived = false
  /** Bytes of the message being received. */
  rcvMessageBytes = 0

  // Send queue of messages: end sequence, tag, data; from msgHead on.
  readonly msgEnd: number[] = []
  readonly msgTag: number[] = []
  readonly msgData: (object | null)[] = []
  msgHead = 0

  mss: number
  cwndBytes: number
  srttNs = -1
  rttvarNs = 0
  rtoNs: number
  /** Consecutive timeouts of the current (SYN, SYN-ACK or data) retransmission. */
  retries = 0
  /** Relative sequence whose ACK completes the timed segment (-1 none), and its send time. */
  rttSeq = -1
  rttSentNs = 0

  timerDeadlineNs = TIMER_NONE
  timerScheduledNs = TIMER_NONE
  /** Slot in the engine's connection table (-1 when released). */
  slot = -1

  constructor(
    readonly engine: TcpEngine,
    readonly ns: TcpNs,
    public localAddr: Ipv4,
    public localPort: number,
    readonly remoteAddr: Ipv4,
    readonly remotePort: number,
    listener: TcpConnectionListener | null,
    readonly server: TcpListenSocket | null,
    readonly flowId: number,
    mss: number,
    cwndSegments: number,
    rtoNs: number,
  ) {
    this.listener = listener
    this.mss = mss
    this.cwndBytes = mss * cwndSegments
    this.rtoNs = rtoNs
  }

  /** Queues a message of `bytes` (>= 1) bytes; the peer's onMessage gets appTag/appData. */
  send(bytes: number, appTag = 0, appData: object | null = null): void {
    if (!(Number.isInteger(bytes) && bytes >= 1)) throw new AssertionError(`TCP message of ${bytes} bytes`)
    if (this.finSeq >= 0 || this.state === TcpState.CLOSED || this.state === TcpState.TIME_WAIT) return
    this.sndBufEnd += bytes
    this.msgEnd.push(this.sndBufEnd)
    this.msgTag.push(appTag)
    this.msgData.push(appData)
    this.engine.trySend(this)
  }

  /** close(2): FIN after the queued data. */
  close(): void {
    this.engine.close(this)
  }

  /** Abortive close (SO_LINGER 0): RST to the peer, no callback. */
  abort(): void {
    this.engine.abort(this)
  }

  get stateName(): string {
    return TCP_STATE_NAMES[this.state]
  }
}

export class TcpEngine implements EventHandler {
  private readonly connections: (TcpConnection | null)[] = []
  private readonly generations: number[] = []
  private readonly slotFree: number[] = []
  private readonly kindTimer: number
  /** Connections open (not released), for tests and statistics. */
  openCount = 0

  constructor(private readonly network: NetIo) {
    this.kindTimer = network.scheduler.registerKind("net/tcp-timer", this)
  }

  // ---------------------------------------------------------------- API

  listen(ns: TcpNs, localAddr: Ipv4, port: number, listener: TcpServerListener): TcpListenSocket {
    if (ns.portsPending !== null) ns.portsPending.settle()
    assert(port > 0 && port < 65536 && !ns.tcpListeners.has(port), `${ns.name}: TCP port ${port} in use`)
    const socket = new TcpListenSocket(ns, localAddr, port, listener)
    ns.tcpListeners.set(port, socket)
    return socket
  }

  /**
   * connect(2). Failures (refused, timeout, unreachable, no ephemeral port) arrive via onClosed.
   * `bind` is bind(2) before connect(2): a local address of `ns` (0 = chosen by the route) and a
   * port (0 = ephemeral). Binding an address `ns` does not own or a 4-tuple already in use is a
   * programmer error (EADDRNOTAVAIL / EADDRINUSE), as for udpBind.
   */
  connect(
    ns: TcpNs,
    dstAddr: Ipv4,
    dstPort: number,
    listener: TcpConnectionListener,
    flowId = 0,
    bind: TcpBind | null = null,
  ): TcpConnection {
    if (ns.portsPending !== null) ns.portsPending.settle()
    const net = this.network
    const params = net.params
    const bindAddr = bind === null ? 0 : bind.localAddr
    const bindPort = bind === null ? 0 : bind.localPort
    assert(
      bindAddr === 0 || ns.isLocalAddress(bindAddr),
      `${ns.name}: cannot bind a TCP socket to an address it does not own`,
    )
    assert(bindPort >= 0 && bindPort < 65536, `bad TCP port ${bindPort}`)
    const localAddr = bindAddr !== 0 ? bindAddr : net.sourceAddressFor(ns, dstAddr)
    const mtu = net.pathMtuFor(ns, dstAddr)
    const conn = new TcpConnection(
      this,
      ns,
      localAddr,
      0,
      dstAddr,
      dstPort,
      listener,
      null,
      flowId,
      Math.max(mtu, 576) - 40,
      params.tcpInitialWindowSegments,
      params.tcpSynRtoNs,
    )
    this.allocateSlot(conn)
    if (bindPort !== 0)
      assert(
        !ns.tcpListeners.has(bindPort) && this.find(ns, localAddr, bindPort, dstAddr, dstPort) === null,
        `${ns.name}: TCP port ${bindPort} in use`,
      )
    const port = bindPort !== 0 ? bindPort : this.allocatePort(ns, localAddr, dstAddr, dstPort)
    if (port < 0) {
      // EADDRNOTAVAIL: reported asynchronously, like every other connect failure here.
      conn.error = NetError.PORT_EXHAUSTED
      this.arm(conn, net.scheduler.nowNs)
      return conn
    }
    conn.localPort = port
    conn.iss = ns.isnRng.uint32()
    conn.state = TcpState.SYN_SENT
    this.insert(conn)
    conn.sndNxt = 1
    conn.sndMax = 1
    conn.rttSeq = 1
    conn.rttSentNs = net.scheduler.nowNs
    this.sendSegment(conn, TcpFlag.SYN, 0, 0, 0, null)
    this.arm(conn, net.scheduler.nowNs + conn.rtoNs)
    return conn
  }

  // ---------------------------------------------------------------- demux

  private find(
    ns: TcpNs,
    localAddr: Ipv4,
    localPort: number,
    remoteAddr: Ipv4,
    remotePort: number,
  ): TcpConnection | null {
    let conn = ns.tcpConnections.get(localPort * 65536 + remotePort) ?? null
    while (conn !== null) {
      if (conn.remoteAddr === remoteAddr && conn.localAddr === localAddr) return conn
      conn = conn.nextInBucket
    }
    return null
  }

  private insert(conn: TcpConnection): void {
    const key = conn.localPort * 65536 + conn.remotePort
    const map = conn.ns.tcpConnections
    conn.nextInBucket = map.get(key) ?? null
    map.set(key, conn)
  }

  private unlink(conn: TcpConnection): void {
    const key = conn.localPort * 65536 + conn.remotePort
    const map = conn.ns.tcpConnections
    let prev: TcpConnection | null = null
    let c = map.get(key) ?? null
    while (c !== null && c !== conn) {
      prev = c
      c = c.nextInBucket
    }
    if (c === null) return
    if (prev === null) {
      if (conn.nextInBucket === null) map.delete(key)
      else map.set(key, conn.nextInBucket)
    } else prev.nextInBucket = conn.nextInBucket
    conn.nextInBucket = null
  }

  private allocateSlot(conn: TcpConnection): void {
    let slot = this.slotFree.pop()
    if (slot === undefined) {
      slot = this.connections.length
      this.connections.push(null)
      this.generations.push(0)
    }
    this.connections[slot] = conn
    conn.slot = slot
    this.openCount++
  }

  private release(conn: TcpConnection): void {
    if (conn.slot < 0) return
    this.unlink(conn)
    this.connections[conn.slot] = null
    this.generations[conn.slot] = (this.generations[conn.slot] + 1) | 0
    this.slotFree.push(conn.slot)
    conn.slot = -1
    conn.timerDeadlineNs = TIMER_NONE
    conn.timerScheduledNs = TIMER_NONE
    this.openCount--
  }

  private allocatePort(ns: TcpNs, localAddr: Ipv4, remoteAddr: Ipv4, remotePort: number): number {
    const params = this.network.params
    const min = params.ephemeralPortMin
    const count = params.ephemeralPortMax - min + 1
    if (ns.tcpPortCursor < 0) ns.tcpPortCursor = ns.portRng.intBelow(count) & ~1
    const start = ns.tcpPortCursor
    for (let parity = 0; parity < 2; parity++) {
      for (let i = 0; i < count; i += 2) {
        const offset = (start + parity + i) % count
        const port = min + offset
        if (ns.tcpListeners.has(port)) continue
        if (this.find(ns, localAddr, port, remoteAddr, remotePort) !== null) continue
        ns.tcpPortCursor = ((offset + 2) % count) & ~1
        return port
      }
    }
    return -1
  }

  // ---------------------------------------------------------------- input

  /** A segment delivered to `ns`. Returns false when no socket took it (a RST was sent). */
  receive(ns: TcpNs, p: Packet, nowNs: number): boolean {
    const conn = this.find(ns, p.dstAddr, p.dstPort, p.srcAddr, p.srcPort)
    if (conn !== null) {
      this.segment(conn, p, nowNs)
      return true
    }
    const flags = p.tcpFlags
    if ((flags & TcpFlag.RST) !== 0) return false
    const server = ns.tcpListeners.get(p.dstPort)
    if (
      server !== undefined &&
      (server.localAddr === 0 || server.localAddr === p.dstAddr) &&
      (flags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN
    ) {
      const net = this.network
      const params = net.params
      const mtu = net.pathMtuFor(ns, p.srcAddr)
      const c = new TcpConnection(
        this,
        ns,
        p.dstAddr,
        p.dstPort,
        p.srcAddr,
        p.srcPort,
        null,
        server,
        p.flowId,
        Math.max(mtu, 576) - 40,
        params.tcpInitialWindowSegments,
        params.tcpSynRtoNs,
      )
      this.allocateSlot(c)
      c.state = TcpState.SYN_RECEIVED
      c.iss = ns.isnRng.uint32()
      c.irs = p.tcpSeq
      c.rcvNxt = 1
      c.sndNxt = 1
      c.sndMax = 1
      c.rttSeq = 1
      c.rttSentNs = nowNs
      this.insert(c)
      this.sendSegment(c, TcpFlag.SYN | TcpFlag.ACK, 0, 0, 0, null)
      this.arm(c, nowNs + c.rtoNs)
      return true
    }
    this.network.tcpReset(ns, p, nowNs)
    return false
  }

  private segment(conn: TcpConnection, p: Packet, nowNs: number): void {
    const flags = p.tcpFlags
    switch (conn.state) {
      case TcpState.SYN_SENT: {
        if ((flags & TcpFlag.ACK) !== 0 && ((p.tcpAck - conn.iss - 1) | 0) !== 0) {
          if ((flags & TcpFlag.RST) === 0) this.network.tcpReset(conn.ns, p, nowNs)
          return
        }
        if ((flags & TcpFlag.RST) !== 0) {
          if ((flags & TcpFlag.ACK) !== 0) this.fail(conn, NetError.REFUSED)
          return
        }
        if ((flags & (TcpFlag.SYN | TcpFlag.ACK)) !== (TcpFlag.SYN | TcpFlag.ACK)) return
        conn.irs = p.tcpSeq
        conn.rcvNxt = 1
        conn.sndUna = 1
        this.established(conn, nowNs)
        this.sendSegment(conn, TcpFlag.ACK, conn.sndNxt, 0, 0, null)
        if (conn.listener !== null) conn.listener.onConnected(conn)
        if (conn.slot >= 0) this.trySend(conn)
        return
      }
      case TcpState.SYN_RECEIVED: {
        if ((flags & TcpFlag.RST) !== 0) return this.release(conn)
        if ((flags & TcpFlag.SYN) !== 0) {
          if ((flags & TcpFlag.ACK) === 0) this.sendSegment(conn, TcpFlag.SYN | TcpFlag.ACK, 0, 0, 0, null)
          return
        }
        if ((flags & TcpFlag.ACK) === 0 || ((p.tcpAck - conn.iss - 1) | 0) !== 0) return
        conn.sndUna = 1
        this.established(conn, nowNs)
        const server = conn.server as TcpListenSocket
        server.acceptedCount++
        conn.listener = server.listener.onAccept(server, conn)
        conn.listener.onConnected(conn)
        if (conn.slot < 0) return
        break
      }
      case TcpState.TIME_WAIT:
        if ((flags & TcpFlag.RST) !== 0) return this.release(conn)
        if ((flags & TcpFlag.FIN) !== 0) {
          // A retransmitted FIN: ACK it again and restart the 2*MSL timer (RFC 793).
          this.sendSegment(conn, TcpFlag.ACK, conn.sndNxt, 0, 0, null)
          this.arm(conn, nowNs + this.network.params.tcpTimeWaitNs)
        }
        return
      case TcpState.CLOSED:
        return
    }
    this.synchronized(conn, p, nowNs)
  }

  private established(conn: TcpConnection, nowNs: number): void {
    conn.state = TcpState.ESTABLISHED
    if (conn.rttSeq >= 0 && conn.retries === 0) this.sampleRtt(conn, nowNs - conn.rttSentNs)
    else if (conn.srttNs < 0) conn.rtoNs = 3 * this.network.params.tcpSynRtoNs // RFC 6298 5.7
    conn.rttSeq = -1
    conn.retries = 0
    this.disarm(conn)
  }

  /** Segment processing for ESTABLISHED and the closing states. */
  private synchronized(conn: TcpConnection, p: Packet, nowNs: number): void {
    const flags = p.tcpFlags
    const seqRel = conn.rcvNxt + ((p.tcpSeq - conn.irs - conn.rcvNxt) | 0)
    if ((flags & TcpFlag.RST) !== 0) {
      // RFC 5961: only an exactly in-window RST resets; others would get a challenge ACK.
      if (seqRel === conn.rcvNxt) this.fail(conn, NetError.RESET)
      return
    }
    if ((flags & TcpFlag.SYN) !== 0) {
      this.sendSegment(conn, TcpFlag.ACK, conn.sndNxt, 0, 0, null)
      return
    }
    if ((flags & TcpFlag.ACK) !== 0) {
      const ackRel = conn.sndUna + ((p.tcpAck - conn.iss - conn.sndUna) | 0)
      if (ackRel > conn.sndUna && ackRel <= conn.sndMax) {
        this.acknowledged(conn, ackRel, nowNs)
        if (conn.slot < 0) return
      }
    }
    let ack = false
    let messageBytes = 0
    let messageTag = 0
    let messageData: object | null = null
    let message = false
    const len = p.payloadBytes
    const receiving =
      conn.state === TcpState.ESTABLISHED || conn.state === TcpState.FIN_WAIT_1 || conn.state === TcpState.FIN_WAIT_2
    if (len > 0) {
      ack = true
      if (seqRel === conn.rcvNxt && receiving) {
        conn.rcvNxt += len
        conn.rcvMessageBytes += len
        if ((flags & TcpFlag.PSH) !== 0) {
          message = true
          messageBytes = conn.rcvMessageBytes
          messageTag = p.appTag
          messageData = p.appData
          conn.rcvMessageBytes = 0
        }
      }
    }
    let peerClosed = false
    if ((flags & TcpFlag.FIN) !== 0) {
      ack = true
      if (!conn.finReceived && seqRel + len === conn.rcvNxt && receiving) {
        conn.rcvNxt += 1
        conn.finReceived = true
        peerClosed = true
        if (conn.state === TcpState.ESTABLISHED) conn.state = TcpState.CLOSE_WAIT
        else if (conn.state === TcpState.FIN_WAIT_1) conn.state = TcpState.CLOSING
        else if (conn.state === TcpState.FIN_WAIT_2) conn.state = TcpState.TIME_WAIT
      }
    }
    if (ack) this.sendSegment(conn, TcpFlag.ACK, conn.sndNxt, 0, 0, null)
    const listener = conn.listener
    if (message && listener !== null) listener.onMessage(conn, messageBytes, messageTag, messageData)
    if (peerClosed && listener !== null && conn.slot >= 0) listener.onPeerClosed(conn)
    if (conn.state === TcpState.TIME_WAIT && peerClosed) this.enterTimeWait(conn, nowNs)
    else if (conn.slot >= 0) this.trySend(conn)
  }

  private acknowledged(conn: TcpConnection, ackRel: number, nowNs: number): void {
    const params = this.network.params
    const acked = ackRel - conn.sndUna
    conn.sndUna = ackRel
    if (conn.sndNxt < ackRel) conn.sndNxt = ackRel
    if (conn.rttSeq >= 0 && ackRel >= conn.rttSeq) {
      this.sampleRtt(conn, nowNs - conn.rttSentNs)
      conn.rttSeq = -1
    } else if (conn.retries > 0 && conn.srttNs >= 0) this.updateRto(conn)
    conn.retries = 0
    conn.cwndBytes = Math.min(conn.cwndBytes + acked, params.tcpWindowBytesMax)
    while (conn.msgHead < conn.msgEnd.length && conn.msgEnd[conn.msgHead] <= ackRel) {
      conn.msgData[conn.msgHead] = null
      conn.msgHead++
    }
    if (conn.msgHead > 64 && conn.msgHead * 2 > conn.msgEnd.length) {
      conn.msgEnd.splice(0, conn.msgHead)
      conn.msgTag.splice(0, conn.msgHead)
      conn.msgData.splice(0, conn.msgHead)
      conn.msgHead = 0
    }
    if (conn.finSeq >= 0 && ackRel > conn.finSeq) {
      // Our FIN is acknowledged.
      if (conn.state === TcpState.FIN_WAIT_1) {
        conn.state = TcpState.FIN_WAIT_2
        this.arm(conn, nowNs + params.tcpFinWait2TimeoutNs)
        return
      }
      if (conn.state === TcpState.CLOSING) {
        conn.state = TcpState.TIME_WAIT
        this.enterTimeWait(conn, nowNs)
        return
      }
      if (conn.state === TcpState.LAST_ACK) {
        conn.state = TcpState.CLOSED
        this.release(conn)
        if (conn.listener !== null) conn.listener.onClosed(conn, NetError.NONE)
        return
      }
    }
    if (conn.sndUna === conn.sndMax) this.disarm(conn)
    else this.arm(conn, nowNs + conn.rtoNs)
  }

  private enterTimeWait(conn: TcpConnection, nowNs: number): void {
    this.arm(conn, nowNs + this.network.params.tcpTimeWaitNs)
    if (conn.listener !== null) conn.listener.onClosed(conn, NetError.NONE)
  }

  private sampleRtt(conn: TcpConnection, rttNs: number): void {
    if (conn.srttNs < 0) {
      conn.srttNs = rttNs
      conn.rttvarNs = Math.floor(rttNs / 2)
    } else {
      conn.rttvarNs = Math.floor((3 * conn.rttvarNs + Math.abs(conn.srttNs - rttNs)) / 4)
      conn.srttNs = Math.floor((7 * conn.srttNs + rttNs) / 8)
    }
    this.updateRto(conn)
  }

  private updateRto(conn: TcpConnection): void {
    const params = this.network.params
    const rto = conn.srttNs + Math.max(4 * conn.rttvarNs, params.tcpRtoMinNs)
    conn.rtoNs = Math.min(Math.max(rto, params.tcpRtoMinNs), params.tcpRtoMaxNs)
  }

  /** ICMP error (or local routing failure) about a segment of localAddr:localPort -> remote. */
  error(ns: TcpNs, localAddr: Ipv4, localPort: number, remoteAddr: Ipv4, remotePort: number, error: NetError): void {
    const conn = this.find(ns, localAddr, localPort, remoteAddr, remotePort)
    if (conn === null) return
    if (conn.state === TcpState.SYN_SENT) this.fail(conn, error)
    else conn.softError = error
  }

  // ---------------------------------------------------------------- output

  trySend(conn: TcpConnection): void {
    const s = conn.state
    if (!(
      s === TcpState.ESTABLISHED ||
      s === TcpState.CLOSE_WAIT ||
      s === TcpState.FIN_WAIT_1 ||
      s === TcpState.CLOSING ||
      s === TcpState.LAST_ACK
    ))
      return
    const nowNs = this.network.scheduler.nowNs
    const window = conn.cwndBytes
    let i = conn.msgHead
    while (conn.sndNxt < conn.sndBufEnd) {
      const inFlight = conn.sndNxt - conn.sndUna
      if (inFlight >= window) break
      while (conn.msgEnd[i] <= conn.sndNxt) i++
      const end = conn.msgEnd[i]
      const len = Math.min(conn.mss, end - conn.sndNxt, window - inFlight)
      const push = conn.sndNxt + len === end
      if (conn.rttSeq < 0 && conn.sndNxt === conn.sndMax) {
        conn.rttSeq = conn.sndNxt + len
        conn.rttSentNs = nowNs
      }
      this.sendSegment(
        conn,
        push ? TcpFlag.ACK | TcpFlag.PSH : TcpFlag.ACK,
        conn.sndNxt,
        len,
        push ? conn.msgTag[i] : 0,
        push ? conn.msgData[i] : null,
      )
      conn.sndNxt += len
      if (conn.sndNxt > conn.sndMax) conn.sndMax = conn.sndNxt
    }
    if (conn.finSeq >= 0 && conn.sndNxt === conn.finSeq) {
      this.sendSegment(conn, TcpFlag.FIN | TcpFlag.ACK, conn.finSeq, 0, 0, null)
      conn.sndNxt = conn.finSeq + 1
      if (conn.sndNxt > conn.sndMax) conn.sndMax = conn.sndNxt
    }
    if (conn.sndUna < conn.sndMax && conn.timerDeadlineNs === TIMER_NONE) this.arm(conn, nowNs + conn.rtoNs)
  }

  private sendSegment(
    conn: TcpConnection,
    flags: number,
    seqRel: number,
    len: number,
    appTag: number,
    appData: object | null,
  ): void {
    const net = this.network
    const h = net.allocatePacket()
    const p = net.packet(h)
    p.protocol = Protocol.TCP
    p.srcAddr = conn.localAddr
    p.dstAddr = conn.remoteAddr
    p.srcPort = conn.localPort
    p.dstPort = conn.remotePort
    p.ttl = net.params.defaultTtl
    p.tcpFlags = flags
    p.tcpSeq = (conn.iss + seqRel) >>> 0
    p.tcpAck = (flags & TcpFlag.ACK) !== 0 ? (conn.irs + conn.rcvNxt) >>> 0 : 0
    p.payloadBytes = len
    p.totalBytes =
      IPV4_HEADER_BYTES + TCP_HEADER_BYTES + len + ((flags & TcpFlag.SYN) !== 0 ? net.params.tcpSynOptionBytes : 0)
    p.appTag = appTag
    p.appData = appData
    p.flowId = conn.flowId
    net.sendFrom(conn.ns, h)
  }

  close(conn: TcpConnection): void {
    switch (conn.state) {
      case TcpState.SYN_SENT:
      case TcpState.SYN_RECEIVED:
        conn.state = TcpState.CLOSED
        this.release(conn)
        return
      case TcpState.ESTABLISHED:
        conn.finSeq = conn.sndBufEnd
        conn.state = TcpState.FIN_WAIT_1
        this.trySend(conn)
        return
      case TcpState.CLOSE_WAIT:
        conn.finSeq = conn.sndBufEnd
        conn.state = TcpState.LAST_ACK
        this.trySend(conn)
        return
    }
  }

  abort(conn: TcpConnection): void {
    if (conn.slot < 0) return
    const s = conn.state
    if (s !== TcpState.SYN_SENT && s !== TcpState.CLOSED && s !== TcpState.TIME_WAIT)
      this.sendSegment(conn, TcpFlag.RST | TcpFlag.ACK, conn.sndNxt, 0, 0, null)
    conn.state = TcpState.CLOSED
    this.release(conn)
  }

  private fail(conn: TcpConnection, error: NetError): void {
    conn.state = TcpState.CLOSED
    conn.error = error
    this.release(conn)
    if (conn.listener !== null) conn.listener.onClosed(conn, error)
  }

  // ---------------------------------------------------------------- timer

  private arm(conn: TcpConnection, deadlineNs: number): void {
    conn.timerDeadlineNs = deadlineNs
    if (conn.timerScheduledNs === TIMER_NONE || deadlineNs < conn.timerScheduledNs) {
      const slot = conn.slot
      this.generations[slot] = (this.generations[slot] + 1) | 0
      conn.timerScheduledNs = deadlineNs
      this.network.scheduler.schedule(deadlineNs, this.kindTimer, slot, this.generations[slot])
    }
  }

  private disarm(conn: TcpConnection): void {
    conn.timerDeadlineNs = TIMER_NONE
  }

  handleEvent(_kind: number, slot: number, generation: number, nowNs: number): void {
    const conn = this.connections[slot]
    if (conn === null || conn === undefined || this.generations[slot] !== generation) return
    conn.timerScheduledNs = TIMER_NONE
    const deadline = conn.timerDeadlineNs
    if (deadline === TIMER_NONE) return
    if (nowNs < deadline) {
      this.arm(conn, deadline)
      return
    }
    conn.timerDeadlineNs = TIMER_NONE
    this.timeout(conn, nowNs)
  }

  private timeout(conn: TcpConnection, nowNs: number): void {
    const params = this.network.params
    switch (conn.state) {
      case TcpState.CLOSED:
        // Deferred connect() failure (no ephemeral port).
        this.fail(conn, conn.error)
        return
      case TcpState.SYN_SENT:
        if (conn.retries >= params.tcpSynRetries)
          return this.fail(conn, conn.softError !== NetError.NONE ? conn.softError : NetError.TIMEOUT)
        conn.retries++
        conn.rtoNs = Math.min(conn.rtoNs * 2, params.tcpRtoMaxNs)
        this.sendSegment(conn, TcpFlag.SYN, 0, 0, 0, null)
        this.arm(conn, nowNs + conn.rtoNs)
        return
      case TcpState.SYN_RECEIVED:
        if (conn.retries >= params.tcpSynAckRetries) {
          conn.state = TcpState.CLOSED
          return this.release(conn)
        }
        conn.retries++
        conn.rtoNs = Math.min(conn.rtoNs * 2, params.tcpRtoMaxNs)
        this.sendSegment(conn, TcpFlag.SYN | TcpFlag.ACK, 0, 0, 0, null)
        this.arm(conn, nowNs + conn.rtoNs)
        return
      case TcpState.TIME_WAIT:
        conn.state = TcpState.CLOSED
        return this.release(conn)
      case TcpState.FIN_WAIT_2:
        conn.state = TcpState.CLOSED
        this.release(conn)
        if (conn.listener !== null) conn.listener.onClosed(conn, NetError.NONE)
        return
      default:
        if (conn.sndUna === conn.sndMax) return
        if (conn.retries >= params.tcpDataRetries)
          return this.fail(conn, conn.softError !== NetError.NONE ? conn.softError : NetError.TIMEOUT)
        conn.retries++
        conn.rtoNs = Math.min(conn.rtoNs * 2, params.tcpRtoMaxNs)
        conn.cwndBytes = conn.mss
        conn.rttSeq = -1
        conn.sndNxt = conn.sndUna
        this.trySend(conn)
        if (conn.timerDeadlineNs === TIMER_NONE) this.arm(conn, nowNs + conn.rtoNs)
    }
  }
}
