/**
 * Goal: packets are never lost by the bookkeeping. Method: fast-check draws small clusters (layout,
 * nodes, pods, bandwidth, queue bound, loss) and traffic (UDP to open/closed ports, pings to pods and
 * to unrouted addresses) at random times; at a random stop time sent = delivered + dropped + in
 * flight, in flight equals the live packets of the table, and once the queue drains nothing is in
 * flight. Also: the same seed gives the same event trace fingerprint.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { EventHandler } from "../../src/sim/scheduler.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import type { Pinger } from "../../src/net/icmp.ts"
import type { TcpConnectionListener, TcpServerListener } from "../../src/net/tcp.ts"
import type { UdpSocket } from "../../src/net/udp.ts"
import { PingLog, SPEC, UdpLog, world } from "./helpers.ts"
import type { World } from "./helpers.ts"

interface Send {
  atNs: number
  from: number
  to: number
  kind: "udp" | "udp-closed" | "ping" | "ping-nowhere" | "tcp" | "tcp-closed"
  bytes: number
}

const scenarioArb = fc.record({
  cni: fc.constantFrom("bridge" as const, "aws-vpc" as const),
  nodes: fc.integer({ min: 1, max: 3 }),
  pods: fc.integer({ min: 1, max: 5 }),
  queue: fc.integer({ min: 1, max: 8 }),
  lossPpm: fc.constantFrom(0, 1000, 200_000),
  bandwidth: fc.constantFrom(1_000_000, 1_000_000_000, 10_000_000_000),
  seed: fc.nat(1000),
  sends: fc.array(
    fc.record({
      atNs: fc.integer({ min: 0, max: 2_000_000 }),
      from: fc.nat(20),
      to: fc.nat(20),
      kind: fc.constantFrom(
        "udp" as const,
        "udp-closed" as const,
        "ping" as const,
        "ping-nowhere" as const,
        "tcp" as const,
        "tcp-closed" as const,
      ),
      bytes: fc.integer({ min: 0, max: 1600 }),
    }),
    { maxLength: 40 },
  ),
  stopNs: fc.integer({ min: 0, max: 3_000_000 }),
})

/** Server: answers each message with as many bytes, then closes; client closes on peer close. */
const tcpClient: TcpConnectionListener = {
  onConnected() {},
  onMessage() {},
  onPeerClosed(conn) {
    conn.close()
  },
  onClosed() {},
}
const tcpServer: TcpServerListener = {
  onAccept(): TcpConnectionListener {
    return {
      onConnected() {},
      onMessage(conn, bytes, tag) {
        conn.send(bytes, tag)
        conn.close()
      },
      onPeerClosed() {},
      onClosed() {},
    }
  },
}

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never

function build(s: Scenario): { w: World; start: () => void } {
  const w = world(
    s.cni,
    { ...SPEC, queuePacketsMax: s.queue, lossPartsPerMillion: s.lossPpm, bandwidthBitsPerSecond: s.bandwidth },
    s.seed,
  )
  const nodes = Array.from({ length: s.nodes }, (_, i) => w.cluster.addNode(`n${i}`, i % 2 === 0 ? "a" : "b"))
  const pods = Array.from({ length: s.pods }, (_, i) => w.cluster.addPod(nodes[i % nodes.length], `p${i}`))
  const udp: UdpSocket[] = []
  const pingers: Pinger[] = []
  for (const pod of pods) {
    const log = new UdpLog(w.scheduler)
    log.echo = true
    const sock = w.net.udpBind(pod.ns, 0, 7, log)
    if (sock === null) throw new Error("bind")
    udp.push(sock)
    pingers.push(w.net.createPinger(pod.ns, new PingLog()))
  }
  for (const pod of pods) w.net.tcpListen(pod.ns, 0, 80, tcpServer)
  const sends: Send[] = s.sends
  const handler: EventHandler = {
    handleEvent(_kind, a) {
      const send = sends[a]
      const from = send.from % pods.length
      const to = pods[send.to % pods.length]
      switch (send.kind) {
        case "udp":
          udp[from].sendTo(to.ip, 7, send.bytes, a)
          break
        case "udp-closed":
          udp[from].sendTo(to.ip, 9, send.bytes, a)
          break
        case "ping":
          pingers[from].send(to.ip, a, send.bytes)
          break
        case "ping-nowhere":
          pingers[from].send(ipv4("198.51.100.7"), a)
          break
        case "tcp":
        case "tcp-closed": {
          const conn = w.net.tcpConnect(pods[from].ns, to.ip, send.kind === "tcp" ? 80 : 81, tcpClient)
          conn.send(send.bytes + 1, a)
          break
        }
      }
    },
  }
  const kind = w.scheduler.registerKind("test/send", handler)
  return { w, start: () => sends.forEach((send, i) => w.scheduler.schedule(send.atNs, kind, i, 0)) }
}

function check(w: World): void {
  const c = w.net.counters
  expect(c.sent).toBe(c.delivered + c.dropped + c.inFlight)
  expect(c.inFlight).toBe(w.net.livePacketCount)
  let byReason = 0
  for (const n of c.droppedByReason) byReason += n
  expect(byReason).toBe(c.dropped)
}

describe("conservation", () => {
  it("sent = delivered + dropped + in flight at any stop time; 0 in flight when drained", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const { w, start } = build(s)
        start()
        w.scheduler.run({ timeNsMax: s.stopNs, eventCountMax: 1_000_000 })
        check(w)
        w.scheduler.run({ timeNsMax: Number.MAX_SAFE_INTEGER, eventCountMax: 5_000_000 })
        check(w)
        expect(w.net.counters.inFlight).toBe(0)
        expect(w.scheduler.pendingCount).toBe(0)
        expect(w.net.tcp.openCount).toBe(0)
      }),
      { numRuns: 150 },
    )
  })

  it("same seed => same fingerprint; another seed differs when loss draws", () => {
    const s: Scenario = {
      cni: "bridge",
      nodes: 3,
      pods: 5,
      queue: 4,
      lossPpm: 200_000,
      bandwidth: 1_000_000_000,
      seed: 3,
      stopNs: 0,
      sends: Array.from({ length: 30 }, (_, i): Send => ({
        atNs: i * 1000,
        from: i,
        to: i * 7,
        kind: i % 3 === 0 ? "ping" : "udp",
        bytes: 100 + i,
      })),
    }
    const fingerprint = (seed: number): string => {
      const { w, start } = build({ ...s, seed })
      start()
      w.scheduler.run({ timeNsMax: Number.MAX_SAFE_INTEGER, eventCountMax: 1_000_000 })
      return `${w.scheduler.fingerprint()}/${w.net.counters.delivered}`
    }
    expect(fingerprint(3)).toBe(fingerprint(3))
    expect(fingerprint(4)).not.toBe(fingerprint(3))
  })
})
