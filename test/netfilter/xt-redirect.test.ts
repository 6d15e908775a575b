/**
 * `-j REDIRECT` (net/netfilter/xt_REDIRECT.c redirect_tg4 -> nf_nat_redirect_ipv4): a DNAT to the
 * primary address of the incoming interface (PREROUTING), to 127.0.0.1 for locally generated
 * packets (OUTPUT), dropped when the incoming interface has no IPv4 address; `--to-ports` sets the
 * port, otherwise the destination port is kept. Replies are translated back by conntrack like any
 * DNAT (the client sees the address it connected to).
 */
import { describe, expect, it } from "vitest"
import { NetfilterStack } from "../../src/netfilter/stack.ts"
import { NetError } from "../../src/net/errors.ts"
import type { TcpConnection, TcpConnectionListener, TcpListenSocket, TcpServerListener } from "../../src/net/tcp.ts"
import { Rng } from "../../src/sim/rng.ts"
import { DropReason } from "../../src/wire/drop-reason.ts"
import { formatIpv4, ipv4 } from "../../src/wire/ipv4.ts"
import { UdpLog, run, world } from "../net/helpers.ts"

const SERVICE_IP = ipv4("10.96.0.10")

class Side implements TcpConnectionListener, TcpServerListener {
  readonly accepted: { local: string; remote: string }[] = []
  readonly messages: number[] = []
  error: NetError | -1 = -1
  onAccept(_s: TcpListenSocket, conn: TcpConnection): TcpConnectionListener {
    this.accepted.push({ local: formatIpv4(conn.localAddr), remote: formatIpv4(conn.remoteAddr) })
    return this
  }
  onConnected(): void {}
  onMessage(conn: TcpConnection, bytes: number): void {
    this.messages.push(bytes)
    if (conn.server !== null) conn.send(bytes * 2)
  }
  onPeerClosed(conn: TcpConnection): void {
    conn.close()
  }
  onClosed(_conn: TcpConnection, error: NetError): void {
    this.error = error
  }
}

function setup(cni: "bridge" | "aws-vpc", rules: string[]) {
  const w = world(cni)
  const node = w.cluster.addNode("n1", "a")
  const pod = w.cluster.addPod(node, "p")
  const stack = new NetfilterStack(node.ns, { rng: Rng.stream(1, "node/n1/netfilter") })
  stack.restore(["*nat", ":PREROUTING ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ...rules, "COMMIT", ""].join("\n"))
  node.ns.filter = stack
  return { w, node, pod, stack }
}

describe("-j REDIRECT", () => {
  it("iptables-save prints it as given; unknown options are refused", () => {
    const { stack } = setup("bridge", [
      "-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 15001",
      "-A PREROUTING -d 10.96.0.11/32 -p udp -m udp --dport 53 -j REDIRECT --to-ports 15002-15003 --random",
    ])
    expect(stack.save()).toContain(
      "-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 15001\n",
    )
    expect(stack.save()).toContain("-j REDIRECT --to-ports 15002-15003 --random\n")
    expect(() =>
      stack.restore("*nat\n-A PREROUTING -p tcp -j REDIRECT --to-destination 1.2.3.4\nCOMMIT\n", { noflush: true }),
    ).toThrow(/to-destination/)
  })

  it("from a pod (PREROUTING on cni0): to the bridge's address and --to-ports; the client sees the service address", () => {
    const { w, node, pod, stack } = setup("bridge", [
      "-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 15001",
    ])
    const server = new Side()
    w.net.tcpListen(node.ns, 0, 15001, server)
    const client = new Side()
    const conn = w.net.tcpConnect(pod.ns, SERVICE_IP, 80, client)
    conn.send(100)
    run(w, 10_000_000)
    const bridge = node.ns.interfaceByName("cni0")
    expect(server.accepted).toEqual([{ local: formatIpv4(bridge?.address ?? 0), remote: formatIpv4(pod.ip) }])
    expect(server.messages).toEqual([100])
    expect(client.messages).toEqual([200])
    expect(conn.remoteAddr).toBe(SERVICE_IP)
    expect(stack.conntrack.count).toBe(1)
  })

  it("without --to-ports the destination port is kept", () => {
    const { w, node, pod } = setup("bridge", ["-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REDIRECT"])
    const server = new Side()
    w.net.tcpListen(node.ns, 0, 80, server)
    const conn = w.net.tcpConnect(pod.ns, SERVICE_IP, 80, new Side())
    conn.send(10)
    run(w, 10_000_000)
    expect(server.messages).toEqual([10])
  })

  it("UDP: the reply from a socket bound to 0.0.0.0 goes out from the redirect address and is translated back", () => {
    const { w, node, pod } = setup("bridge", [
      "-A PREROUTING -d 10.96.0.10/32 -p udp -m udp --dport 53 -j REDIRECT --to-ports 15053",
    ])
    const server = new UdpLog(w.scheduler)
    server.echo = true
    w.net.udpBind(node.ns, 0, 15053, server)
    const client = new UdpLog(w.scheduler)
    const sock = w.net.udpBind(pod.ns, 0, 0, client)
    if (sock === null) throw new Error("bind")
    sock.sendTo(SERVICE_IP, 53, 40, 1)
    run(w)
    expect(client.messages.map((m) => [formatIpv4(m.from), m.port, m.tag])).toEqual([["10.96.0.10", 53, 1001]])
  })

  it("locally generated (OUTPUT): to 127.0.0.1", () => {
    const { w, node } = setup("bridge", [
      "-A OUTPUT -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 15001",
    ])
    const server = new Side()
    w.net.tcpListen(node.ns, 0, 15001, server)
    const conn = w.net.tcpConnect(node.ns, SERVICE_IP, 80, new Side())
    conn.send(10)
    run(w, 10_000_000)
    expect(server.accepted.map((a) => a.local)).toEqual(["127.0.0.1"])
    expect(server.messages).toEqual([10])
  })

  it("an incoming interface without an IPv4 address (aws-vpc host-side veth): dropped", () => {
    const { w, node, pod } = setup("aws-vpc", [
      "-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 15001",
    ])
    const server = new Side()
    w.net.tcpListen(node.ns, 0, 15001, server)
    w.net.tcpConnect(pod.ns, SERVICE_IP, 80, new Side())
    run(w, 2_000_000_000)
    expect(server.accepted).toEqual([])
    expect(w.net.counters.droppedByReason[DropReason.NETFILTER_DROP]).toBeGreaterThanOrEqual(1)
  })

  it("-m physdev [!] --physdev-is-in: a pod's packet came in through a bridge port (cni0), so only the plain test matches", () => {
    for (const [invert, accepted] of [
      ["! ", 0],
      ["", 1],
    ] as const) {
      const { w, node, pod } = setup("bridge", [
        `-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -m physdev ${invert}--physdev-is-in -j REDIRECT --to-ports 15001`,
      ])
      const server = new Side()
      w.net.tcpListen(node.ns, 0, 15001, server)
      w.net.tcpConnect(pod.ns, SERVICE_IP, 80, new Side())
      run(w, 10_000_000)
      expect(server.accepted.length).toBe(accepted)
    }
  })
})
