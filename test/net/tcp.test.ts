/**
 * Goal: pin TCP to Linux's observable behaviour (handshake timing, RST => ECONNREFUSED, SYN backoff
 * 1 s, 2 s, 4 s ... with tcp_syn_retries = 6 => ETIMEDOUT at 127 s, TIME_WAIT 60 s, message
 * boundaries, retransmission under loss). Method: tiny clusters, exact expected times.
 */
import { describe, expect, it } from "vitest"
import { NS_PER_S } from "../../src/sim/time.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import type { Packet } from "../../src/wire/packet.ts"
import { Protocol, TcpFlag } from "../../src/wire/protocol.ts"
import { NetError } from "../../src/net/errors.ts"
import { TcpState } from "../../src/net/tcp.ts"
import type { NetObserver } from "../../src/net/network.ts"
import type { TcpConnection, TcpConnectionListener, TcpListenSocket, TcpServerListener } from "../../src/net/tcp.ts"
import { SPEC, run, serializationNs, world } from "./helpers.ts"
import type { World } from "./helpers.ts"

class Conn implements TcpConnectionListener {
  readonly log: string[] = []
  readonly messages: { bytes: number; tag: number; data: object | null; atNs: number }[] = []
  connectedNs = -1
  closedNs = -1
  error: NetError | -1 = -1
  /** Server behaviour: answer each message with `reply` bytes (tag + 1), then close if set. */
  reply = 0
  closeAfterReply = false
  closeOnPeerClose = true
  constructor(private readonly w: World) {}
  onConnected(conn: TcpConnection): void {
    this.connectedNs = this.w.scheduler.nowNs
    this.log.push(`connected ${conn.stateName}`)
  }
  onMessage(conn: TcpConnection, bytes: number, appTag: number, appData: object | null): void {
    this.messages.push({ bytes, tag: appTag, data: appData, atNs: this.w.scheduler.nowNs })
    if (this.reply > 0) {
      conn.send(this.reply, appTag + 1, appData)
      if (this.closeAfterReply) conn.close()
    }
  }
  onPeerClosed(conn: TcpConnection): void {
    this.log.push("peer-closed")
    if (this.closeOnPeerClose) conn.close()
  }
  onClosed(_conn: TcpConnection, error: NetError): void {
    this.closedNs = this.w.scheduler.nowNs
    this.error = error
    this.log.push(`closed ${error}`)
  }
}

class Server implements TcpServerListener {
  readonly conns: Conn[] = []
  reply = 0
  closeAfterReply = false
  constructor(private readonly w: World) {}
  onAccept(_server: TcpListenSocket, _conn: TcpConnection): TcpConnectionListener {
    const c = new Conn(this.w)
    c.reply = this.reply
    c.closeAfterReply = this.closeAfterReply
    this.conns.push(c)
    return c
  }
}

class SynTimes implements NetObserver {
  readonly synNs: number[] = []
  onSend(packet: Packet, _nsId: number, nowNs: number): void {
    if (packet.protocol === Protocol.TCP && packet.tcpFlags === TcpFlag.SYN) this.synNs.push(nowNs)
  }
  onTransmit(): void {}
  onDeliver(): void {}
  onDrop(): void {}
}

function twoPods(cni: "bridge" | "aws-vpc", sameNode: boolean, spec = SPEC, seed = 1) {
  const w = world(cni, spec, seed)
  const n1 = w.cluster.addNode("n1", "a")
  const n2 = sameNode ? n1 : w.cluster.addNode("n2", "a")
  const a = w.cluster.addPod(n1, "a")
  const b = w.cluster.addPod(n2, "b")
  return { w, a, b }
}

/** One-way delay pod -> pod across nodes for a packet of `bytes` on an idle path. */
const d = (bytes: number): number => 2 * SPEC.sameNodeLatencyNs + SPEC.crossNodeLatencyNs + serializationNs(bytes)

describe("tcp", () => {
  it("handshake, request and response across nodes: exact times (ACK leaves before data)", () => {
    const { w, a, b } = twoPods("aws-vpc", false)
    const server = new Server(w)
    server.reply = 1000
    w.net.tcpListen(b.ns, 0, 80, server)
    const client = new Conn(w)
    client.closeOnPeerClose = false
    const payload = { path: "/" }
    const conn = w.net.tcpConnect(a.ns, b.ip, 80, {
      ...client,
      onConnected: (c) => {
        client.onConnected(c)
        c.send(100, 42, payload)
      },
      onMessage: (c, bytes, tag, data) => client.onMessage(c, bytes, tag, data),
      onPeerClosed: (c) => client.onPeerClosed(c),
      onClosed: (c, e) => client.onClosed(c, e),
    })
    run(w)
    const t1 = 2 * d(60) // SYN, SYN-ACK (20 bytes of options)
    expect(client.connectedNs).toBe(t1)
    const requestNs =
      t1 + 2 * SPEC.sameNodeLatencyNs + SPEC.crossNodeLatencyNs + serializationNs(40) + serializationNs(140)
    expect(server.conns[0].messages).toEqual([{ bytes: 100, tag: 42, data: payload, atNs: requestNs }])
    const responseNs =
      requestNs + 2 * SPEC.sameNodeLatencyNs + SPEC.crossNodeLatencyNs + serializationNs(40) + serializationNs(1040)
    expect(client.messages).toEqual([{ bytes: 1000, tag: 43, data: payload, atNs: responseNs }])
    expect(conn.state).toBe(TcpState.ESTABLISHED)
    expect(conn.localPort).toBeGreaterThanOrEqual(32768)
    expect(conn.localPort % 2).toBe(0)
  })

  for (const cni of ["bridge", "aws-vpc"] as const) {
    for (const sameNode of [true, false]) {
      it(`${cni} ${sameNode ? "same" : "cross"} node: messages are segmented by MSS and reassembled with their tag`, () => {
        const { w, a, b } = twoPods(cni, sameNode)
        const server = new Server(w)
        server.reply = 100_000
        w.net.tcpListen(b.ns, 0, 8080, server)
        const client = new Conn(w)
        const conn = w.net.tcpConnect(a.ns, b.ip, 8080, client)
        const before = w.net.counters.sent
        run(w, 1)
        conn.send(10_000, 1)
        conn.send(1, 3)
        run(w)
        expect(server.conns[0].messages.map((m) => [m.bytes, m.tag])).toEqual([
          [10_000, 1],
          [1, 3],
        ])
        expect(client.messages.map((m) => [m.bytes, m.tag])).toEqual([
          [100_000, 2],
          [100_000, 4],
        ])
        expect(w.net.counters.sent - before).toBeGreaterThan(Math.ceil(200_000 / 1460))
        expect(w.net.counters.inFlight).toBe(0)
      })
    }
  }

  it("connect to a closed port: RST => ECONNREFUSED after one round trip", () => {
    const { w, a, b } = twoPods("bridge", false)
    const client = new Conn(w)
    w.net.tcpConnect(a.ns, b.ip, 81, client)
    run(w)
    expect(client.error).toBe(NetError.REFUSED)
    expect(client.closedNs).toBe(d(60) + d(40))
    expect(client.connectedNs).toBe(-1)
    expect(w.net.tcp.openCount).toBe(0)
  })

  it("SYN to a black hole: retransmits at 1, 3, 7, 15, 31, 63 s and fails with ETIMEDOUT at 127 s", () => {
    const { w, a } = twoPods("bridge", true)
    const syn = new SynTimes()
    w.net.observer = syn
    const client = new Conn(w)
    // 10.244.0.99 is in the node's pod CIDR but no pod has it: the bridge drops it (no neighbour).
    w.net.tcpConnect(a.ns, ipv4("10.244.0.99"), 80, client)
    run(w)
    expect(syn.synNs).toEqual([0, 1, 3, 7, 15, 31, 63].map((s) => s * NS_PER_S))
    expect(client.error).toBe(NetError.TIMEOUT)
    expect(client.closedNs).toBe(127 * NS_PER_S)
  })

  it("tcp_syn_retries is configurable", () => {
    const w = world("bridge", SPEC, 1, { tcpSynRetries: 2 })
    const a = w.cluster.addPod(w.cluster.addNode("n1", "a"), "a")
    const client = new Conn(w)
    w.net.tcpConnect(a.ns, ipv4("10.244.0.99"), 80, client)
    run(w)
    expect(client.closedNs).toBe(7 * NS_PER_S)
  })

  it("no route: connect fails with ENETUNREACH", () => {
    const w = world("bridge")
    const lonely = w.net.createNamespace("lonely")
    const client = new Conn(w)
    w.net.tcpConnect(lonely, ipv4("10.1.2.3"), 80, client)
    run(w)
    expect(client.error).toBe(NetError.NET_UNREACHABLE)
    expect(client.closedNs).toBe(0)
  })

  it("orderly close: the active closer holds TIME_WAIT for 60 s; its next connect uses another port", () => {
    const { w, a, b } = twoPods("bridge", false)
    const server = new Server(w)
    server.reply = 10
    w.net.tcpListen(b.ns, 0, 80, server)
    const ports: number[] = []
    const client = new Conn(w)
    client.closeOnPeerClose = false
    const c1 = w.net.tcpConnect(a.ns, b.ip, 80, client)
    ports.push(c1.localPort)
    run(w, 1)
    c1.send(10, 1)
    run(w, 10_000_000)
    expect(client.messages.length).toBe(1)
    c1.close()
    run(w, 20_000_000)
    // Client: FIN_WAIT_2 -> (server closes on peer-close) -> TIME_WAIT; server side fully closed.
    expect(c1.state).toBe(TcpState.TIME_WAIT)
    expect(client.error).toBe(NetError.NONE)
    expect(server.conns[0].log).toEqual(["connected ESTABLISHED", "peer-closed", "closed 0"])
    expect(w.net.tcp.openCount).toBe(1)
    const c2 = w.net.tcpConnect(a.ns, b.ip, 80, new Conn(w))
    ports.push(c2.localPort)
    expect(ports[1]).not.toBe(ports[0])
    expect(ports[1]).toBe(ports[0] + 2)
    // onClosed(NONE) fired when TIME_WAIT began; the 4-tuple is held exactly TCP_TIMEWAIT_LEN.
    run(w, client.closedNs + 60 * NS_PER_S - 1)
    expect(c1.state).toBe(TcpState.TIME_WAIT)
    run(w, client.closedNs + 60 * NS_PER_S)
    expect(c1.state).toBe(TcpState.CLOSED)
  })

  it("bind before connect: the SYN leaves from the bound address and port; the server sees them", () => {
    const { w, a, b } = twoPods("bridge", false)
    const server = new Server(w)
    const remotes: string[] = []
    w.net.tcpListen(b.ns, 0, 80, {
      onAccept: (s, c) => {
        remotes.push(`${c.remoteAddr}:${c.remotePort}`)
        return server.onAccept(s, c)
      },
    })
    // A secondary address on the pod (ip addr add), the kernel differential test's many-source client.
    const secondary = ipv4("10.244.0.77")
    w.net.addAddress(a.eth0, secondary, 32)
    w.net.attachToBridge(a.node.bridge as NonNullable<typeof a.node.bridge>, a.hostVeth, secondary)
    const client = new Conn(w)
    const conn = w.net.tcpConnect(a.ns, b.ip, 80, client, 0, { localAddr: secondary, localPort: 20_001 })
    expect(conn.localAddr).toBe(secondary)
    expect(conn.localPort).toBe(20_001)
    run(w)
    expect(client.connectedNs).toBeGreaterThan(0)
    expect(remotes).toEqual([`${secondary}:20001`])
    // Port only: the address still comes from the route.
    const other = w.net.tcpConnect(a.ns, b.ip, 80, new Conn(w), 0, { localAddr: 0, localPort: 20_002 })
    expect([other.localAddr, other.localPort]).toEqual([a.ip, 20_002])
    // An address the namespace does not own, or a 4-tuple in use, is refused (EADDRNOTAVAIL / EADDRINUSE).
    expect(() =>
      w.net.tcpConnect(a.ns, b.ip, 80, new Conn(w), 0, { localAddr: ipv4("10.9.9.9"), localPort: 0 }),
    ).toThrow(/does not own/)
    expect(() => w.net.tcpConnect(a.ns, b.ip, 80, new Conn(w), 0, { localAddr: 0, localPort: 20_002 })).toThrow(
      /in use/,
    )
  })

  it("abort sends RST: the peer sees ECONNRESET", () => {
    const { w, a, b } = twoPods("aws-vpc", false)
    const server = new Server(w)
    w.net.tcpListen(b.ns, 0, 80, server)
    const client = new Conn(w)
    const conn = w.net.tcpConnect(a.ns, b.ip, 80, client)
    run(w, 10_000_000)
    conn.abort()
    run(w)
    expect(server.conns[0].error).toBe(NetError.RESET)
    expect(client.error).toBe(-1)
    expect(w.net.tcp.openCount).toBe(0)
  })

  it("loss: every exchange completes by retransmission, deterministically per seed", () => {
    const exchange = (seed: number): string => {
      const { w, a, b } = twoPods("aws-vpc", false, { ...SPEC, lossPartsPerMillion: 100_000 }, seed)
      const server = new Server(w)
      server.reply = 5000
      w.net.tcpListen(b.ns, 0, 80, server)
      const clients: Conn[] = []
      for (let i = 0; i < 20; i++) {
        const client = new Conn(w)
        clients.push(client)
        const c = w.net.tcpConnect(a.ns, b.ip, 80, client)
        c.send(3000, i * 10)
      }
      run(w)
      expect(clients.map((c) => c.messages.map((m) => [m.bytes, m.tag]))).toEqual(
        clients.map((_, i) => [[5000, i * 10 + 1]]),
      )
      expect(w.net.counters.inFlight).toBe(0)
      return `${w.scheduler.fingerprint()}:${w.net.counters.droppedByReason[3]}`
    }
    const first = exchange(1)
    expect(exchange(1)).toBe(first)
    expect(exchange(2)).not.toBe(first)
  })
})
