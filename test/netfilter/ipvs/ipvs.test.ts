/**
 * The IPVS connection table and ip_vs_in/ip_vs_out decisions (ip_vs_core.c, ip_vs_conn.c,
 * ip_vs_proto_tcp.c set_tcp_state, ip_vs_ctl.c): TCP/UDP states and timeouts, counters as
 * `ipvsadm -Ln --stats` shows them, persistence templates, expire_nodest_conn, conn_reuse_mode and
 * graceful termination (weight 0, then deletion).
 */
import { describe, expect, it } from "vitest"
import {
  IpvsTcpState,
  IpvsVerdict,
  LINUX_IPVS_TIMEOUTS,
  Ipvs,
  type IpvsConntrackLink,
  type IpvsOptions,
  withIpvsTimeouts,
  IpvsTables,
} from "../../../src/netfilter/ipvs/ipvs.ts"
import {
  Scheduler,
  SchedState,
  SvcFlag,
  schedAddDest,
  schedDelDest,
  schedInit,
  schedUpdDest,
  schedule,
} from "../../../src/netfilter/ipvs/schedulers.ts"
import { ConntrackDropLink } from "../../../src/netfilter/ipvs/conntrack-link.ts"
import { Conntrack } from "../../../src/netfilter/conntrack.ts"
import { NS_PER_S } from "../../../src/sim/time.ts"
import { Protocol, TcpFlag } from "../../../src/wire/protocol.ts"
import { formatIpv4, ipv4 } from "../../../src/wire/ipv4.ts"

const VIP = ipv4("10.96.0.10")
const CLIENT = ipv4("10.244.9.9")
const EP = [ipv4("10.244.1.1"), ipv4("10.244.2.2"), ipv4("10.244.3.3")]
const { SYN, ACK, FIN, RST } = TcpFlag
const S = NS_PER_S

/** A VS VIP:80/TCP with real servers added in the order given (so the list is reversed). */
function setup(
  options: IpvsOptions = {},
  flags = 0,
  timeoutS = 10800,
  scheduler: Scheduler = Scheduler.RR,
  link?: IpvsConntrackLink,
) {
  const ipvs = new Ipvs(options, link)
  const svc = ipvs.addService({ protocol: Protocol.TCP, addr: VIP, port: 80, scheduler, flags, timeoutS })
  for (const ep of EP) ipvs.addDest(svc, ep, 8080, 1)
  return { ipvs, svc }
}

/** Client -> VIP packet; returns [verdict, real server address or ""]. */
function inTcp(
  ipvs: Ipvs,
  sport: number,
  flags: number,
  nowNs: number,
  ctConfirmed = false,
  client = CLIENT,
): [number, string] {
  const v = ipvs.packetIn(Protocol.TCP, client, sport, VIP, 80, flags, 60, ctConfirmed, nowNs)
  return [v, v === IpvsVerdict.XMIT ? formatIpv4(ipvs.connDaddr(ipvs.lastConn)) : ""]
}

/** Real server -> client reply for connection `cp`. */
function outTcp(ipvs: Ipvs, cp: number, sport: number, flags: number, nowNs: number, client = CLIENT): number {
  return ipvs.packetOut(Protocol.TCP, ipvs.connDaddr(cp), ipvs.connDport(cp), client, sport, flags, 100, nowNs)
}

function rs(ipvs: Ipvs, addr: string) {
  const row = ipvs.snapshot()[0].realServers.find((r) => formatIpv4(r.addr) === addr)
  if (row === undefined) throw new Error(`no RS ${addr}`)
  return row
}

describe("IPVS control plane (ip_vs_ctl.c)", () => {
  it("real servers are listed most recently added first (list_add_rcu)", () => {
    const { ipvs } = setup()
    expect(ipvs.snapshot()[0].realServers.map((r) => formatIpv4(r.addr))).toEqual([
      "10.244.3.3",
      "10.244.2.2",
      "10.244.1.1",
    ])
  })
  it("rejects duplicate services and dests", () => {
    const { ipvs, svc } = setup()
    expect(() => ipvs.addService({ protocol: Protocol.TCP, addr: VIP, port: 80, scheduler: Scheduler.RR })).toThrow(
      /exists/,
    )
    expect(() => ipvs.addDest(svc, EP[0], 8080, 1)).toThrow(/exists/)
  })
})

describe("TCP connection states and counters", () => {
  it("SYN -> SYN_RECV (inactive), ACK -> ESTABLISHED (active), close -> TIME_WAIT, then expiry", () => {
    const { ipvs } = setup()
    const [v, addr] = inTcp(ipvs, 40000, SYN, 0)
    expect(v).toBe(IpvsVerdict.XMIT)
    expect(addr).toBe("10.244.3.3") // rr from the head: the last added
    const cp = ipvs.lastConn
    expect(ipvs.connState(cp)).toBe(IpvsTcpState.SYN_RECV)
    expect(rs(ipvs, addr)).toMatchObject({ activeConns: 0, inactConns: 1, conns: 1 })
    expect(outTcp(ipvs, cp, 40000, SYN | ACK, 1000)).toBe(cp) // OUTPUT syn on SYN_RECV stays
    expect(ipvs.connState(cp)).toBe(IpvsTcpState.SYN_RECV)
    inTcp(ipvs, 40000, ACK, 2000)
    expect(ipvs.connState(cp)).toBe(IpvsTcpState.ESTABLISHED)
    expect(rs(ipvs, addr)).toMatchObject({ activeConns: 1, inactConns: 0 })
    // client closes: INPUT fin ES -> CLOSE_WAIT; server FIN: OUTPUT fin CW -> TIME_WAIT
    inTcp(ipvs, 40000, FIN | ACK, 3000)
    expect(ipvs.connState(cp)).toBe(IpvsTcpState.CLOSE_WAIT)
    expect(rs(ipvs, addr)).toMatchObject({ activeConns: 0, inactConns: 1 })
    outTcp(ipvs, cp, 40000, FIN | ACK, 4000)
    expect(ipvs.connState(cp)).toBe(IpvsTcpState.TIME_WAIT)
    inTcp(ipvs, 40000, ACK, 5000)
    // TIME_WAIT 120 s from the last packet
    ipvs.advance(5000 + 120 * S - 1)
    expect(ipvs.connectionCount).toBe(1)
    ipvs.advance(5000 + 120 * S)
    expect(ipvs.connectionCount).toBe(0)
    expect(rs(ipvs, addr)).toMatchObject({ activeConns: 0, inactConns: 0, conns: 1, inPkts: 4, outPkts: 2 })
    expect(ipvs.snapshot()[0]).toMatchObject({ conns: 1, inPkts: 4, outPkts: 2, inBytes: 240, outBytes: 200 })
  })

  it("a shorter state timeout moves the timer earlier (__ip_vs_conn_put_timer: mod_timer per packet)", () => {
    // The connection sits in ESTABLISHED long enough for its timer to be re-armed at the 900 s
    // deadline; the close then shortens it to TIME_WAIT's 120 s (and an RST to CLOSE's 10 s), and
    // the kernel's mod_timer moves the pending timer earlier: it expires then, not at 900 s.
    const { ipvs } = setup()
    const [, addr] = inTcp(ipvs, 40000, SYN, 0)
    const cp = ipvs.lastConn
    inTcp(ipvs, 40000, ACK, 1000)
    ipvs.advance(10 * S) // the new-connection timer (3 s) has fired and re-armed for ESTABLISHED
    inTcp(ipvs, 40000, FIN | ACK, 10 * S)
    outTcp(ipvs, cp, 40000, FIN | ACK, 10 * S)
    expect(ipvs.connState(cp)).toBe(IpvsTcpState.TIME_WAIT)
    expect(ipvs.verify()).toEqual([])
    ipvs.advance(130 * S - 1)
    expect(ipvs.connectionCount).toBe(1)
    ipvs.advance(130 * S)
    expect(ipvs.connectionCount).toBe(0)
    expect(rs(ipvs, addr)).toMatchObject({ activeConns: 0, inactConns: 0 })
    // RST on an established connection: CLOSE, 10 s
    inTcp(ipvs, 40001, SYN, 200 * S)
    const c2 = ipvs.lastConn
    inTcp(ipvs, 40001, ACK, 200 * S)
    ipvs.advance(300 * S)
    inTcp(ipvs, 40001, RST, 300 * S)
    expect(ipvs.connState(c2)).toBe(IpvsTcpState.CLOSE)
    expect(ipvs.verify()).toEqual([])
    ipvs.advance(310 * S - 1)
    expect(ipvs.connectionCount).toBe(1)
    ipvs.advance(310 * S)
    expect(ipvs.connectionCount).toBe(0)
    expect(ipvs.verify()).toEqual([])
  })

  it("timeouts: ESTABLISHED 900 s by default, ipvsadm --set (kube-proxy tcpTimeout) overrides it", () => {
    expect(LINUX_IPVS_TIMEOUTS.tcpNs[IpvsTcpState.ESTABLISHED]).toBe(900 * S)
    expect(LINUX_IPVS_TIMEOUTS.tcpNs[IpvsTcpState.SYN_RECV]).toBe(60 * S)
    expect(LINUX_IPVS_TIMEOUTS.tcpNs[IpvsTcpState.FIN_WAIT]).toBe(120 * S)
    expect(LINUX_IPVS_TIMEOUTS.tcpNs[IpvsTcpState.CLOSE]).toBe(10 * S)
    expect(LINUX_IPVS_TIMEOUTS.udpNs).toBe(300 * S)
    const t = withIpvsTimeouts(LINUX_IPVS_TIMEOUTS, 30, 5, 0)
    expect(t.tcpNs[IpvsTcpState.ESTABLISHED]).toBe(30 * S)
    expect(t.tcpNs[IpvsTcpState.FIN_WAIT]).toBe(5 * S)
    expect(t.tcpNs[IpvsTcpState.TIME_WAIT]).toBe(120 * S) // tcpfin does not touch TIME_WAIT
    expect(t.udpNs).toBe(300 * S) // 0 keeps the kernel value
    const { ipvs } = setup({ timeouts: t })
    inTcp(ipvs, 40000, SYN, 0)
    inTcp(ipvs, 40000, ACK, 0)
    ipvs.advance(30 * S - 1)
    expect(ipvs.connectionCount).toBe(1)
    ipvs.advance(30 * S)
    expect(ipvs.connectionCount).toBe(0)
  })

  it("a SYN that finds no connection schedules; a non-SYN without one is not IPVS's (NF_ACCEPT)", () => {
    const { ipvs } = setup()
    expect(inTcp(ipvs, 40001, ACK, 0)[0]).toBe(IpvsVerdict.ACCEPT)
    expect(inTcp(ipvs, 40001, SYN | RST, 0)[0]).toBe(IpvsVerdict.ACCEPT)
    expect(ipvs.packetIn(Protocol.TCP, CLIENT, 1, ipv4("10.96.0.99"), 80, SYN, 60, false, 0)).toBe(IpvsVerdict.ACCEPT)
  })

  it("a service without available dests: ip_vs_leave (ICMP port unreachable)", () => {
    const ipvs = new Ipvs()
    ipvs.addService({ protocol: Protocol.TCP, addr: VIP, port: 80, scheduler: Scheduler.RR })
    expect(inTcp(ipvs, 40000, SYN, 0)[0]).toBe(IpvsVerdict.LEAVE_UNREACHABLE)
  })

  it("rr state is per service: three clients' first connections spread A, B, C", () => {
    const { ipvs } = setup()
    const got = [1, 2, 3].map((i) => inTcp(ipvs, 40000 + i, SYN, 0)[1])
    expect(got).toEqual(["10.244.3.3", "10.244.2.2", "10.244.1.1"])
  })
})

describe("connection thresholds (IP_VS_DEST_F_OVERLOAD)", () => {
  it("an RS at its upper threshold is skipped until it falls below 3/4 of it", () => {
    const { ipvs, svc } = setup()
    ipvs.setDestThresholds(svc, EP[2], 8080, 2, 0) // 10.244.3.3, first in the list
    const got = [1, 2, 3, 4, 5, 6, 7].map((i) => inTcp(ipvs, 40000 + i, SYN, 0)[1].split(".")[2])
    // rr: 3 2 1 3 (now 2 conns: overloaded) 2 1 2 ...
    expect(got.join("")).toBe("3213212")
    // its SYN_RECV connections expire after 60 s: 0 * 4 < 2 * 3 clears the overload
    ipvs.advance(70 * S)
    expect(inTcp(ipvs, 41000, SYN, 70 * S)[1]).toBe("10.244.1.1")
    expect(inTcp(ipvs, 41001, SYN, 70 * S)[1]).toBe("10.244.3.3")
  })
})

describe("UDP", () => {
  it("connections stay inactive, expire 300 s after the last packet", () => {
    const ipvs = new Ipvs()
    const svc = ipvs.addService({ protocol: Protocol.UDP, addr: VIP, port: 53, scheduler: Scheduler.RR })
    ipvs.addDest(svc, EP[0], 53, 1)
    expect(ipvs.packetIn(Protocol.UDP, CLIENT, 5353, VIP, 53, 0, 40, false, 0)).toBe(IpvsVerdict.XMIT)
    const cp = ipvs.lastConn
    expect(ipvs.packetOut(Protocol.UDP, EP[0], 53, CLIENT, 5353, 0, 80, 10 * S)).toBe(cp)
    expect(ipvs.snapshot()[0].realServers[0]).toMatchObject({ activeConns: 0, inactConns: 1 })
    ipvs.advance(310 * S - 1)
    expect(ipvs.connectionCount).toBe(1)
    ipvs.advance(310 * S)
    expect(ipvs.connectionCount).toBe(0)
  })
})

describe("persistence (ClientIP affinity: FlagPersistent + timeout)", () => {
  it("a template pins the client to one RS across source ports until it expires", () => {
    const { ipvs } = setup({}, SvcFlag.PERSISTENT, 10800)
    const first = inTcp(ipvs, 40000, SYN, 0)[1]
    for (let p = 40001; p < 40005; p++) expect(inTcp(ipvs, p, SYN, S)[1]).toBe(first)
    const other = inTcp(ipvs, 40000, SYN, S, false, ipv4("10.244.8.8"))[1]
    expect(other).not.toBe(first) // rr moved on for a new client
    expect(rs(ipvs, first)).toMatchObject({ persistConns: 1, inactConns: 5 })
    const templates = ipvs.connections(S).filter((c) => c.template)
    expect(templates.map((c) => [formatIpv4(c.caddr), c.cport, formatIpv4(c.daddr)])).toEqual([
      ["10.244.9.9", 0, first],
      ["10.244.8.8", 0, other],
    ])
    // SYN_RECV connections expire at 61 s; the template (restarted at 1 s) at 1 s + 10800 s
    ipvs.advance(10801 * S - 1)
    expect(ipvs.connections(10801 * S - 1).filter((c) => c.template).length).toBe(2)
    ipvs.advance(10801 * S)
    expect(ipvs.connectionCount).toBe(0)
    expect(rs(ipvs, first)).toMatchObject({ persistConns: 0, inactConns: 0 })
    expect(inTcp(ipvs, 40009, SYN, 10802 * S)[1]).not.toBe(first) // rescheduled by rr
  })

  it("a template outlives its timeout while it controls live connections", () => {
    const { ipvs } = setup({}, SvcFlag.PERSISTENT, 10)
    const first = inTcp(ipvs, 40000, SYN, 0)[1]
    inTcp(ipvs, 40000, ACK, 0) // ESTABLISHED: 900 s
    ipvs.advance(100 * S)
    expect(ipvs.connections(100 * S).some((c) => c.template)).toBe(true)
    expect(inTcp(ipvs, 40001, SYN, 100 * S)[1]).toBe(first)
  })

  it("expire_quiescent_template: a weight-0 RS's template is dropped for new connections", () => {
    for (const eqt of [false, true]) {
      const { ipvs, svc } = setup({ expireQuiescentTemplate: eqt }, SvcFlag.PERSISTENT, 10800)
      const first = inTcp(ipvs, 40000, SYN, 0)[1]
      ipvs.editDest(svc, ipv4(first), 8080, 0)
      const next = inTcp(ipvs, 40001, SYN, S)[1]
      if (eqt) expect(next).not.toBe(first)
      else expect(next).toBe(first)
    }
  })

  it("persistence netmask groups clients of one /24", () => {
    const { ipvs } = setup()
    const ipvs2 = new Ipvs()
    const svc = ipvs2.addService({
      protocol: Protocol.TCP,
      addr: VIP,
      port: 80,
      scheduler: Scheduler.RR,
      flags: SvcFlag.PERSISTENT,
      timeoutS: 300,
      netmask: ipv4("255.255.255.0"),
    })
    for (const ep of EP) ipvs2.addDest(svc, ep, 8080, 1)
    const a = inTcp(ipvs2, 1000, SYN, 0, false, ipv4("192.168.5.1"))[1]
    expect(inTcp(ipvs2, 1000, SYN, 0, false, ipv4("192.168.5.200"))[1]).toBe(a)
    expect(inTcp(ipvs2, 1000, SYN, 0, false, ipv4("192.168.6.1"))[1]).not.toBe(a)
    void ipvs
  })
})

describe("graceful termination (kube-proxy: weight 0, delete when drained)", () => {
  it("weight 0 keeps existing connections, sends new ones elsewhere, counters drain to 0", () => {
    const { ipvs, svc } = setup()
    const [, a] = inTcp(ipvs, 40000, SYN, 0)
    const cp = ipvs.lastConn
    inTcp(ipvs, 40000, ACK, 0)
    ipvs.editDest(svc, ipv4(a), 8080, 0)
    // the established connection still goes to a
    expect(inTcp(ipvs, 40000, ACK, S)).toEqual([IpvsVerdict.XMIT, a])
    expect(ipvs.lastConn).toBe(cp)
    // new connections never pick a
    for (let p = 1; p <= 6; p++) expect(inTcp(ipvs, 41000 + p, SYN, S)[1]).not.toBe(a)
    expect(rs(ipvs, a)).toMatchObject({ weight: 0, activeConns: 1, inactConns: 0 })
    // RST closes it (CLOSE, 10 s): then ActiveConn + InActConn reaches 0 and kube-proxy may delete
    inTcp(ipvs, 40000, RST, 2 * S)
    expect(rs(ipvs, a)).toMatchObject({ activeConns: 0, inactConns: 1 })
    ipvs.advance(12 * S)
    expect(rs(ipvs, a)).toMatchObject({ activeConns: 0, inactConns: 0 })
    ipvs.deleteDest(svc, ipv4(a), 8080)
    expect(ipvs.snapshot()[0].realServers.length).toBe(2)
  })
})

describe("expire_nodest_conn (connections to a deleted RS)", () => {
  function established(options: IpvsOptions) {
    const dropped: string[] = []
    const link: IpvsConntrackLink = {
      dropConntrack: (p, ca, cp, va, vp) => dropped.push(`${p} ${formatIpv4(ca)}:${cp} ${formatIpv4(va)}:${vp}`),
    }
    const { ipvs, svc } = setup(options, 0, 0, Scheduler.RR, link)
    const [, a] = inTcp(ipvs, 40000, SYN, 0)
    inTcp(ipvs, 40000, ACK, 0)
    ipvs.deleteDest(svc, ipv4(a), 8080)
    return { ipvs, a, dropped }
  }

  it("0: packets are dropped silently and the connection lives on", () => {
    const { ipvs, a } = established({ expireNodestConn: false })
    expect(inTcp(ipvs, 40000, ACK, S)[0]).toBe(IpvsVerdict.DROP_NO_DEST)
    expect(ipvs.connectionCount).toBe(1)
    // the deleted RS keeps its counters while referenced (trash); re-adding revives it
    expect(ipvs.counts.active(ipvs.connDest(0))).toBe(1)
    void a
  })

  it("1 with conntrack: the next packet expires the connection; a confirmed flow's packet is dropped", () => {
    const { ipvs, dropped } = established({ expireNodestConn: true, conntrack: true, kernelExpireNodestFlush: false })
    expect(ipvs.connectionCount).toBe(1) // no background flush before 5.9: waits for a packet
    expect(inTcp(ipvs, 40000, ACK, S, true)[0]).toBe(IpvsVerdict.DROP_OLD_CONNTRACK)
    expect(ipvs.connectionCount).toBe(0)
    expect(dropped).toEqual(["6 10.244.9.9:40000 10.96.0.10:80"]) // ip_vs_conn_drop_conntrack
    // the client's next SYN (new port) is scheduled to a remaining RS
    expect(inTcp(ipvs, 40001, SYN, 2 * S)[0]).toBe(IpvsVerdict.XMIT)
  })

  it("1: a new flow's SYN on the old tuple is rescheduled in place", () => {
    const { ipvs, a } = established({ expireNodestConn: true, conntrack: true, kernelExpireNodestFlush: false })
    const [v, b] = inTcp(ipvs, 40000, SYN, S, false)
    expect(v).toBe(IpvsVerdict.XMIT)
    expect(b).not.toBe(a)
  })
})

describe("expire_nodest_conn flush (Linux >= 5.9)", () => {
  it("deleting an RS deletes its connections and conntrack entries at once; the next ACK is not IPVS's", () => {
    const dropped: number[] = []
    const link: IpvsConntrackLink = { dropConntrack: (_p, _ca, cport) => dropped.push(cport) }
    const { ipvs, svc } = setup({ expireNodestConn: true, conntrack: true }, 0, 0, Scheduler.RR, link)
    const [, a] = inTcp(ipvs, 40000, SYN, 0)
    inTcp(ipvs, 40000, ACK, 0)
    const [, b] = inTcp(ipvs, 40001, SYN, 0)
    ipvs.deleteDest(svc, ipv4(a), 8080)
    expect(dropped).toEqual([40000])
    expect(ipvs.connectionCount).toBe(1)
    // the node's own stack answers the orphaned flow (kube-ipvs0 holds the VIP): a reset
    expect(inTcp(ipvs, 40000, ACK, S, true)[0]).toBe(IpvsVerdict.ACCEPT)
    expect(inTcp(ipvs, 40001, ACK, S, true)).toEqual([IpvsVerdict.XMIT, b])
  })

  it("persistent: templates of the deleted RS go with their last connection", () => {
    const { ipvs, svc } = setup({ expireNodestConn: true }, SvcFlag.PERSISTENT, 10800)
    const [, a] = inTcp(ipvs, 40000, SYN, 0)
    inTcp(ipvs, 40001, SYN, 0)
    expect(ipvs.connectionCount).toBe(3)
    ipvs.deleteDest(svc, ipv4(a), 8080)
    expect(ipvs.connectionCount).toBe(0)
    expect(inTcp(ipvs, 40002, SYN, S)[1]).not.toBe(a)
  })
})

describe("conntrack=1: the conntrack entry dies with the IPVS connection", () => {
  it("ip_vs_conn_drop_conntrack removes the client -> VIP entry from src/netfilter/conntrack.ts", () => {
    const ct = new Conntrack()
    const id = ct.allocate(CLIENT, VIP, 40000, 80, Protocol.TCP, 0)
    ct.confirm(id, 0)
    const other = ct.allocate(CLIENT, VIP, 40001, 80, Protocol.TCP, 0)
    ct.confirm(other, 0)
    const link = new ConntrackDropLink(ct)
    const { ipvs } = setup({ conntrack: true }, 0, 0, Scheduler.RR, link)
    inTcp(ipvs, 40000, SYN, 0)
    expect(ipvs.connUsesConntrack(ipvs.lastConn)).toBe(true)
    ipvs.advance(60 * S) // SYN_RECV timeout
    expect(link.dropped).toBe(1)
    expect(ct.find(CLIENT, VIP, 40000, 80, Protocol.TCP)).toBe(-1)
    expect(ct.find(CLIENT, VIP, 40001, 80, Protocol.TCP)).toBeGreaterThanOrEqual(0)
  })

  it("conntrack=0: connections do not use conntrack and nothing is dropped", () => {
    const ct = new Conntrack()
    const id = ct.allocate(CLIENT, VIP, 40000, 80, Protocol.TCP, 0)
    ct.confirm(id, 0)
    const link = new ConntrackDropLink(ct)
    const { ipvs } = setup({}, 0, 0, Scheduler.RR, link)
    inTcp(ipvs, 40000, SYN, 0)
    ipvs.advance(60 * S)
    expect(link.dropped).toBe(0)
  })
})

describe("conn_reuse_mode (a SYN reusing a TIME_WAIT tuple)", () => {
  function timeWait(options: IpvsOptions) {
    const { ipvs } = setup(options)
    const [, a] = inTcp(ipvs, 40000, SYN, 0)
    const cp = ipvs.lastConn
    inTcp(ipvs, 40000, ACK, 0)
    inTcp(ipvs, 40000, FIN | ACK, 0)
    outTcp(ipvs, cp, 40000, FIN | ACK, 0)
    expect(ipvs.connState(cp)).toBe(IpvsTcpState.TIME_WAIT)
    return { ipvs, a }
  }

  it("1 (default): rescheduled to the next RS by rr", () => {
    const { ipvs, a } = timeWait({})
    const [v, b] = inTcp(ipvs, 40000, SYN, S)
    expect(v).toBe(IpvsVerdict.XMIT)
    expect(b).not.toBe(a)
  })

  it("0: the new connection keeps the old RS (the TIME_WAIT entry is reused)", () => {
    const { ipvs, a } = timeWait({ connReuseMode: 0 })
    expect(inTcp(ipvs, 40000, SYN, S)).toEqual([IpvsVerdict.XMIT, a])
  })

  it("1 + conntrack=1 before Linux 5.9: the SYN is dropped (client retransmits after 1 s)", () => {
    const { ipvs } = timeWait({ conntrack: true, kernelConnReuseFix: false })
    expect(inTcp(ipvs, 40000, SYN, S)[0]).toBe(IpvsVerdict.DROP_OLD_CONNTRACK)
    // the old entry is gone, so the retransmitted SYN one second later is scheduled
    expect(inTcp(ipvs, 40000, SYN, 2 * S)[0]).toBe(IpvsVerdict.XMIT)
  })

  it("1 + conntrack=1 on >= 5.9: rescheduled without a drop when the packet's conntrack is new", () => {
    const { ipvs, a } = timeWait({ conntrack: true })
    const [v, b] = inTcp(ipvs, 40000, SYN, S, false)
    expect(v).toBe(IpvsVerdict.XMIT)
    expect(b).not.toBe(a)
  })
})

describe("determinism and scale", () => {
  it("10k connections through one service: counters add up and all expire", () => {
    const { ipvs } = setup()
    for (let i = 0; i < 10000; i++) {
      ipvs.packetIn(Protocol.TCP, ipv4("10.200.0.0") + (i >> 8), 1024 + (i & 255), VIP, 80, SYN, 60, false, i)
    }
    const rows = ipvs.snapshot()[0].realServers
    expect(rows.map((r) => r.inactConns)).toEqual([3334, 3333, 3333])
    expect(ipvs.connectionCount).toBe(10000)
    // after the table grew, early connections are still found (both directions)
    expect(ipvs.packetIn(Protocol.TCP, ipv4("10.200.0.0"), 1024, VIP, 80, ACK, 60, true, 10000)).toBe(IpvsVerdict.XMIT)
    const first = ipvs.lastConn
    expect(ipvs.connState(first)).toBe(IpvsTcpState.ESTABLISHED)
    expect(outTcp(ipvs, first, 1024, ACK, 10000, ipv4("10.200.0.0"))).toBe(first)
    expect(ipvs.snapshot()[0].realServers.reduce((n, r) => n + r.activeConns, 0)).toBe(1)
    ipvs.advance(1000 * S)
    expect(ipvs.connectionCount).toBe(0)
    expect(ipvs.snapshot()[0].realServers.map((r) => r.activeConns + r.inactConns)).toEqual([0, 0, 0])
  })

  it("connections sharing buckets with expired ones are still found both ways (bucket summaries)", () => {
    // 3000 connections in 4096 buckets: many chains hold several. Every other one expires; the
    // survivors' chains lose entries (their summaries are recomputed) and must still be found.
    const { ipvs } = setup()
    const client = (i: number): number => ipv4("10.200.0.0") + (i >> 8)
    const sport = (i: number): number => 1024 + (i & 255)
    const conns: number[] = []
    for (let i = 0; i < 3000; i++) {
      expect(ipvs.packetIn(Protocol.TCP, client(i), sport(i), VIP, 80, SYN, 60, false, 0)).toBe(IpvsVerdict.XMIT)
      conns.push(ipvs.lastConn)
    }
    // Odd ones are refreshed into ESTABLISHED (900 s); even ones stay SYN_RECV (60 s) and expire.
    for (let i = 1; i < 3000; i += 2) ipvs.packetIn(Protocol.TCP, client(i), sport(i), VIP, 80, ACK, 60, true, S)
    ipvs.advance(100 * S)
    expect(ipvs.connectionCount).toBe(1500)
    expect(ipvs.verify()).toEqual([])
    const created = ipvs.connsCreated
    for (let i = 1; i < 3000; i += 2) {
      expect(ipvs.packetIn(Protocol.TCP, client(i), sport(i), VIP, 80, ACK, 60, true, 101 * S)).toBe(IpvsVerdict.XMIT)
      expect(ipvs.lastConn).toBe(conns[i])
      expect(outTcp(ipvs, conns[i], sport(i), ACK, 101 * S, client(i))).toBe(conns[i])
    }
    expect(ipvs.connsCreated).toBe(created)
    // The expired ones are gone: their ACK (not a SYN) is not scheduled, and no reply matches.
    for (let i = 0; i < 3000; i += 2)
      expect(ipvs.packetIn(Protocol.TCP, client(i), sport(i), VIP, 80, ACK, 60, true, 101 * S)).toBe(IpvsVerdict.ACCEPT)
  })
})

describe("shared control-plane tables (issue 10)", () => {
  /** One node builds a service with three dests and shares its tables; another adopts them. */
  function sharedPair(): { a: Ipvs; b: Ipvs; tables: IpvsTables } {
    const a = new Ipvs()
    const svc = a.addService({ protocol: Protocol.UDP, addr: VIP, port: 53, scheduler: Scheduler.RR })
    for (const ep of EP) a.addDest(svc, ep, 53, 1)
    const tables = a.shareTables() as IpvsTables
    const b = new Ipvs()
    b.adoptTables(tables)
    return { a, b, tables }
  }

  it("a node that schedules a packet keeps the shared tables and holds its counts, statistics and rr position itself", () => {
    const { a, b, tables } = sharedPair()
    expect(b.services).toBe(tables.services)
    expect(b.packetIn(Protocol.UDP, CLIENT, 5353, VIP, 53, 0, 40, false, 0)).toBe(IpvsVerdict.XMIT)
    expect(b.tablesShared).toBe(true)
    expect(b.services).toBe(tables.services)
    expect(b.serviceStats(0).conns).toBe(1)
    expect(b.counts.size).toBe(1) // one dest's slot: the one it scheduled to
    expect(b.servicesWithState).toBe(1)
    expect(a.serviceStats(0).conns).toBe(0)
    expect(a.counts.size).toBe(0)
    expect(a.hasTrafficState(0)).toBe(false)
    expect(a.snapshot()[0].realServers.map((rs) => rs.conns + rs.inactConns)).toEqual([0, 0, 0])
    // a's first pick is the one b made (same list, rr from the head): a's position was not moved.
    const picked = b.connDaddr(b.lastConn)
    expect(a.packetIn(Protocol.UDP, CLIENT, 5353, VIP, 53, 0, 40, false, 0)).toBe(IpvsVerdict.XMIT)
    expect(a.connDaddr(a.lastConn)).toBe(picked)
    // b's own position moved on: its next client gets the next dest
    expect(b.packetIn(Protocol.UDP, CLIENT, 5354, VIP, 53, 0, 40, false, 0)).toBe(IpvsVerdict.XMIT)
    expect(b.connDaddr(b.lastConn)).not.toBe(picked)
    // b can still publish its tables: they hold nothing of its connections
    expect(b.shareTables()).toBe(tables)
    expect(b.hasTrafficState(0)).toBe(true)
    expect(a.verify()).toEqual([])
    expect(b.verify()).toEqual([])
  })

  it("a netlink change on one node leaves the tables the other holds unchanged; a dest in the trash keeps a node's tables its own", () => {
    const { a, b, tables } = sharedPair()
    b.editDest(0, EP[0], 53, 0)
    b.deleteDest(0, EP[1], 53)
    expect(a.services).toBe(tables.services)
    expect(a.services[0].dests.length).toBe(3)
    expect(a.snapshot()[0].realServers.map((rs) => rs.weight)).toEqual([1, 1, 1])
    expect(b.snapshot()[0].realServers.length).toBe(2)
    b.packetIn(Protocol.UDP, CLIENT, 5353, VIP, 53, 0, 40, false, 0)
    expect(b.shareTables()).not.toBeNull()
    // the dest b's connection uses is deleted: it waits in b's trash (its tables depend on it now)
    b.deleteDest(0, b.connDaddr(b.lastConn), 53)
    expect(b.shareTables()).toBeNull()
    expect(a.verify()).toEqual([])
    expect(b.verify()).toEqual([])
  })
})

describe("per-node traffic state on shared tables (issue 10)", () => {
  const ADDRS = [ipv4("10.244.1.1"), ipv4("10.244.2.2"), ipv4("10.244.3.3"), ipv4("10.244.4.4")]

  /**
   * The same control-plane operations and packets on a node that holds its own tables from the
   * start (`solo`) and on a node that adopts another node's shared tables, schedules on them (its
   * own counts and positions) and then copies them at its next netlink change (`node`): every pick,
   * snapshot (ipvsadm --stats) and audit must be the same. The picks are also checked against a
   * scheduler state driven directly by the kernel's callbacks (schedulers.ts, pinned on worked
   * examples): init_service, add_dest, upd_dest, del_dest in the order ip_vs_ctl.c calls them.
   */
  function run(scheduler: Scheduler, flags: number, expireNodestConn: boolean): void {
    const builder = new Ipvs({ expireNodestConn })
    const solo = new Ipvs({ expireNodestConn })
    const ref = new SchedState(scheduler)
    schedInit(ref, [], solo.dests)
    for (const n of [builder, solo]) {
      const svc = n.addService({ protocol: Protocol.TCP, addr: VIP, port: 80, scheduler, flags })
      n.addService({ protocol: Protocol.TCP, addr: VIP, port: 81, scheduler }) // never scheduled to
      ADDRS.slice(0, 3).forEach((addr, i) => {
        n.addDest(svc, addr, 8080, i + 1)
        if (n === solo) schedAddDest(ref, solo.services[0].dests, solo.dests)
      })
    }
    const node = new Ipvs({ expireNodestConn })
    node.adoptTables(builder.shareTables() as IpvsTables)
    const persistent = (flags & SvcFlag.PERSISTENT) !== 0
    let port = 30000
    const traffic = (count: number, t: number): void => {
      for (let i = 0; i < count; i++) {
        const p = port++
        const saddr = CLIENT + (p % 7)
        if (!persistent) {
          const want = schedule(ref, solo.services[0].dests, solo.dests, solo.counts, flags, saddr, p, VIP)
          solo.packetIn(Protocol.TCP, saddr, p, VIP, 80, SYN, 60, false, t * S)
          expect(solo.lastConn < 0 ? -1 : solo.connDest(solo.lastConn)).toBe(want)
        } else solo.packetIn(Protocol.TCP, saddr, p, VIP, 80, SYN, 60, false, t * S)
        const v = node.packetIn(Protocol.TCP, saddr, p, VIP, 80, SYN, 60, false, t * S)
        expect(v === IpvsVerdict.XMIT ? formatIpv4(node.connDaddr(node.lastConn)) : "none").toBe(
          solo.lastConn < 0 ? "none" : formatIpv4(solo.connDaddr(solo.lastConn)),
        )
        if (i % 3 === 0)
          for (const n of [solo, node]) n.packetIn(Protocol.TCP, saddr, p, VIP, 80, ACK, 60, false, t * S)
      }
      expect(JSON.stringify(node.snapshot())).toBe(JSON.stringify(solo.snapshot()))
      expect(node.verify()).toEqual([])
      expect(solo.verify()).toEqual([])
    }
    const edit = (addr: number, weight: number): void => {
      for (const n of [solo, node]) n.editDest(0, addr, 8080, weight)
      schedUpdDest(ref, solo.services[0].dests, solo.dests)
    }
    const add = (addr: number, weight: number): void => {
      for (const n of [solo, node]) n.addDest(0, addr, 8080, weight)
      schedAddDest(ref, solo.services[0].dests, solo.dests)
    }
    const del = (addr: number): void => {
      const list = solo.services[0].dests
      const idx = list.findIndex((id) => solo.dests.addr[id] === addr)
      const removed = list[idx]
      for (const n of [solo, node]) n.deleteDest(0, addr, 8080)
      schedDelDest(ref, solo.services[0].dests, solo.dests, removed, idx > 0 ? list[idx - 1] : -1)
    }
    traffic(7, 1)
    expect(node.tablesShared).toBe(true)
    expect(node.servicesWithState).toBe(1)
    // A change of another service (no traffic state of it here): the node takes the builder's result.
    for (const n of [builder, solo]) n.addDest(1, ADDRS[3], 8080, 1)
    expect(node.hasTrafficState(1)).toBe(false)
    node.adoptTables(builder.shareTables() as IpvsTables)
    traffic(4, 1)
    expect(node.tablesShared).toBe(true)
    edit(ADDRS[1], 5)
    expect(node.tablesShared).toBe(false)
    traffic(9, 2)
    del(ADDRS[0])
    traffic(5, 3)
    add(ADDRS[3], 2)
    add(ADDRS[0], 1) // from the trash when still referenced (expire_nodest_conn 0)
    traffic(8, 4)
    edit(ADDRS[2], 0) // graceful termination
    traffic(6, 5)
    del(ADDRS[1])
    traffic(4, 6)
    for (const n of [solo, node]) n.advance(2000 * S)
    expect(JSON.stringify(node.snapshot())).toBe(JSON.stringify(solo.snapshot()))
    expect(node.verify()).toEqual([])
    expect(builder.snapshot()[0].realServers.every((rs) => rs.conns === 0)).toBe(true)
  }

  for (const [name, scheduler, flags] of [
    ["rr", Scheduler.RR, 0],
    ["wrr", Scheduler.WRR, 0],
    ["lc", Scheduler.LC, 0],
    ["wlc", Scheduler.WLC, 0],
    ["sh", Scheduler.SH, SvcFlag.SCHED2],
    ["dh", Scheduler.DH, 0],
    ["mh", Scheduler.MH, SvcFlag.SCHED2],
    ["rr persistent", Scheduler.RR, SvcFlag.PERSISTENT],
  ] as const)
    for (const expire of [true, false])
      it(`${name}, expire_nodest_conn ${expire ? 1 : 0}: picks, counts and statistics equal a node with tables of its own`, () =>
        run(scheduler, flags, expire))
})
